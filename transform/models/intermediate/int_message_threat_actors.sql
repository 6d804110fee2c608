-- The actors a message event names for one of its threats (threatsInfoMap[].actors): one row
-- per (message event, threat, actor name).
select distinct
    message_event_id,
    threat_id,
    actor ->> 'name' as actor
from (select message_event_id, threat_id, {{ json_array_elements('actors') }} as actor
      from {{ ref('int_message_threats') }}) as actors
where actor ->> 'name' is not null and actor ->> 'name' <> ''
