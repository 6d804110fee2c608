-- Is the pipeline complete? One row per stream and API window the tap read (the window's end,
-- queryEndTime): the rows loaded from it, the events it returned first, the look-back's
-- re-reads (rows of events an earlier window returned, or the same window again; kept when the
-- loader appends, an upserting loader keeps one row per event), and how long after
-- Proofpoint created them its new events were read (minutes from creation to the window's end).
{% set streams = {'clicks_permitted': ['stg_tap__clicks_permitted', 'click_id'],
                  'clicks_blocked': ['stg_tap__clicks_blocked', 'click_id'],
                  'messages_delivered': ['stg_tap__messages_delivered', 'message_event_id'],
                  'messages_blocked': ['stg_tap__messages_blocked', 'message_event_id']} %}
with reads as (
    {% for stream, (model, key) in streams.items() %}
    select '{{ stream }}' as stream, raw.id, {{ utc('raw."queryEndTime"') }} as window_end,
           staged.event_created_at
    from {{ source('tap_proofpoint', stream) }} as raw
    join {{ ref(model) }} as staged on staged.{{ key }} = raw.id
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

first_reads as (
    select stream, id, min(window_end) as first_window_end
    from reads
    group by stream, id
),

marked as (
    select reads.*,
           reads.window_end = first_reads.first_window_end as is_first_window,
           case when reads.window_end = first_reads.first_window_end
                then {{ minutes_between('reads.event_created_at', 'reads.window_end') }} end
               as minutes_to_read
    from reads
    join first_reads on first_reads.stream = reads.stream and first_reads.id = reads.id
)

select
    stream,
    window_end,
    {{ utc_date('window_end') }} as read_date,
    count(*) as rows_loaded,
    count(distinct id) filter (where is_first_window) as new_events,
    count(*) - count(distinct id) filter (where is_first_window) as re_reads,
    percentile_cont(0.5) within group (order by minutes_to_read) as median_minutes_to_read,
    percentile_cont(0.9) within group (order by minutes_to_read) as p90_minutes_to_read,
    count(distinct id) filter (where minutes_to_read > 30) as new_events_read_over_30_minutes_after_creation
from marked
group by stream, window_end
