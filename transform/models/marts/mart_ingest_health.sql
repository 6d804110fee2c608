-- Is the pipeline complete? One row per stream and API window the tap read (the window's end,
-- queryEndTime):
--   rows_loaded   the rows loaded from the window;
--   new_events    the events it returned first;
--   re_reads      rows of events an earlier window returned (the look-back), or this window
--                 again (a re-run);
--   late_events   new events created before the previous window's end: the read of that time
--                 missed them, a later read (the look-back) caught them: late indexing;
--   minutes_to_read  from an event's creation to the end of the window that first returned it
--                 (at most the window's length when nothing is late).
-- Re-reads and late events need every read kept (load_method append-only): an upserting loader
-- keeps only each event's latest read, so there re_reads is 0 and the look-back's copy decides.
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

windows as (
    select stream, window_end,
           lag(window_end) over (partition by stream order by window_end) as previous_window_end
    from (select distinct stream, window_end from reads) as distinct_windows
),

marked as (
    select reads.*,
           windows.previous_window_end,
           reads.window_end = first_reads.first_window_end as is_first_window,
           case when reads.window_end = first_reads.first_window_end
                then {{ minutes_between('reads.event_created_at', 'reads.window_end') }} end
               as minutes_to_read
    from reads
    join first_reads on first_reads.stream = reads.stream and first_reads.id = reads.id
    join windows on windows.stream = reads.stream and windows.window_end = reads.window_end
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
    count(distinct id) filter (where is_first_window and event_created_at < previous_window_end)
        as late_events,
    max(previous_window_end) as previous_window_end
from marked
group by stream, window_end
