-- One row per threat: what it is, its latest status, and its funnel over the data loaded:
-- recipients targeted → delivered → blocked → clicked → permitted.
with sightings as (
    -- every event that names the threat; its latest status is the one the most recent read
    -- returned (the latest window, then the latest threat time)
    select threat_id, threat, threat_type, classification, campaign_id, threat_status,
           threat_time, event_created_at, read_until
    from {{ ref('int_message_threats') }}
    union all
    select threat_id, url, 'url', classification, campaign_id, threat_status,
           threat_time, event_created_at, read_until
    from {{ ref('int_clicks') }}
),

named as (
    select * from sightings where threat_id is not null
),

latest as (
    select *
    from (
        select named.*,
               row_number() over (partition by threat_id
                                  order by read_until desc, threat_time desc, event_created_at desc,
                                           threat_status) as recency
        from named
    ) as ranked
    where recency = 1
),

first_seen as (
    select threat_id, min(event_created_at) as first_seen_at, max(threat_time) as latest_threat_time
    from named
    group by threat_id
),

messages as (
    select
        threats.threat_id,
        count(distinct recipients.recipient) as recipients_targeted,
        count(distinct recipients.recipient) filter (where recipients.disposition = 'delivered')
            as recipients_delivered,
        count(distinct recipients.recipient) filter (where recipients.disposition = 'blocked')
            as recipients_blocked
    from {{ ref('int_message_threats') }} as threats
    join {{ ref('int_message_recipients') }} as recipients
        on recipients.message_event_id = threats.message_event_id
    group by threats.threat_id
),

clicks as (
    select
        threat_id,
        count(*) as clicks,
        count(distinct recipient) as recipients_clicked,
        count(distinct recipient) filter (where disposition = 'permitted') as recipients_permitted,
        min(click_time) as first_click_at,
        percentile_cont(0.5) within group (order by minutes_to_click) as median_minutes_to_click
    from {{ ref('fct_clicks') }}
    group by threat_id
)

select
    latest.threat_id,
    latest.threat,
    latest.threat_type,
    latest.classification,
    latest.campaign_id,
    latest.threat_status,
    first_seen.first_seen_at,
    first_seen.latest_threat_time,
    coalesce(messages.recipients_targeted, 0) as recipients_targeted,
    coalesce(messages.recipients_delivered, 0) as recipients_delivered,
    coalesce(messages.recipients_blocked, 0) as recipients_blocked,
    coalesce(clicks.recipients_clicked, 0) as recipients_clicked,
    coalesce(clicks.recipients_permitted, 0) as recipients_permitted,
    coalesce(clicks.clicks, 0) as clicks,
    clicks.first_click_at,
    clicks.median_minutes_to_click,
    row_number() over (order by coalesce(messages.recipients_targeted, 0) desc,
                                coalesce(clicks.clicks, 0) desc, latest.threat_id) as funnel_rank
from latest
join first_seen on first_seen.threat_id = latest.threat_id
left join messages on messages.threat_id = latest.threat_id
left join clicks on clicks.threat_id = latest.threat_id
