-- Events per UTC day (of the click or message time), stream and classification, each event
-- counted once. A message with threats of two classifications counts under both.
with events as (
    select click_id as event_id, 'clicks_' || disposition as stream, disposition,
           classification, click_time as event_time
    from {{ ref('int_clicks') }}
    union all
    select distinct message_event_id, 'messages_' || disposition, disposition,
           classification, message_time
    from {{ ref('int_message_threats') }}
)

select
    {{ utc_date('event_time') }} as activity_date,
    stream,
    disposition,
    classification,
    count(distinct event_id) as events
from events
group by 1, 2, 3, 4
