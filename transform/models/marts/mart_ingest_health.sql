-- Is the pipeline complete? Per stream and UTC day of the tap's windows (queryEndTime): the rows
-- loaded, the distinct events, the copies of events read again (the look-back's re-reads, kept
-- when the loader appends; an upserting loader keeps one), and how long after Proofpoint
-- created each event the window that first read it ended.
{% set streams = {'clicks_permitted': ['stg_tap__clicks_permitted', 'click_id'],
                  'clicks_blocked': ['stg_tap__clicks_blocked', 'click_id'],
                  'messages_delivered': ['stg_tap__messages_delivered', 'message_event_id'],
                  'messages_blocked': ['stg_tap__messages_blocked', 'message_event_id']} %}
with reads as (
    {% for stream, (model, key) in streams.items() %}
    select '{{ stream }}' as stream, raw.id, {{ utc('raw."queryEndTime"') }} as read_until,
           staged.event_created_at
    from {{ source('tap_proofpoint', stream) }} as raw
    join {{ ref(model) }} as staged on staged.{{ key }} = raw.id
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

first_reads as (
    select stream, id, min(read_until) as first_read_until, min(event_created_at) as event_created_at,
           count(*) as copies
    from reads
    group by stream, id
)

select
    stream,
    {{ utc_date('first_read_until') }} as read_date,
    sum(copies) as rows_loaded,
    count(*) as events,
    sum(copies) - count(*) as re_reads,
    percentile_cont(0.5) within group (order by {{ minutes_between('event_created_at', 'first_read_until') }})
        as median_minutes_to_read,
    percentile_cont(0.9) within group (order by {{ minutes_between('event_created_at', 'first_read_until') }})
        as p90_minutes_to_read,
    count(*) filter (where {{ minutes_between('event_created_at', 'first_read_until') }} > 30)
        as read_over_30_minutes_late,
    max(first_read_until) as last_read_until
from first_reads
group by 1, 2
