-- The drill-down of mart_campaigns_reached: one row per (campaign, member threat) that our SIEM
-- events name, with the same counts for that threat alone (campaign → its threats → messages
-- → recipients → clicks: fct_message_deliveries and fct_clicks by threat_id).
with reached as (
    select members.campaign_id, events.*,
           bool_or(events.event_kind = 'message' and events.disposition = 'delivered')
               over (partition by members.campaign_id, events.threat_id, events.recipient) as recipient_delivered
    from {{ ref('int_threat_events') }} as events
    join {{ ref('int_threat_campaigns') }} as members on members.threat_id = events.threat_id
),

counts as (
    select
        campaign_id,
        threat_id,
        {{ reach_counts() }}
    from reached
    group by campaign_id, threat_id
)

select
    counts.campaign_id || '/' || counts.threat_id as campaign_threat_key,
    counts.campaign_id,
    campaigns.campaign_name,
    counts.threat_id,
    coalesce(summaries.threat, threats.threat) as threat,
    coalesce(summaries.threat_type, threats.threat_type) as threat_type,
    threats.classification,
    threats.threat_status,
    counts.messages_delivered,
    counts.messages_blocked,
    counts.recipients_targeted,
    counts.recipients_delivered,
    counts.recipients_clicked,
    counts.recipients_clicked_delivered,
    counts.clicks_permitted,
    counts.clicks_blocked,
    counts.first_seen_at,
    counts.last_seen_at,
    row_number() over (partition by counts.campaign_id
                       order by counts.recipients_targeted desc,
                                counts.clicks_permitted + counts.clicks_blocked desc,
                                {{ sortable('counts.threat_id') }}) as threat_rank
from counts
left join {{ ref('stg_tap__campaigns') }} as campaigns on campaigns.campaign_id = counts.campaign_id
left join {{ ref('stg_tap__threats') }} as summaries on summaries.threat_id = counts.threat_id
left join {{ ref('dim_threats') }} as threats on threats.threat_id = counts.threat_id
