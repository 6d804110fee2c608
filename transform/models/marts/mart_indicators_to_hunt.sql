-- Indicators to hunt: the MALICIOUS forensic evidence (int_forensic_indicators), one row per
-- (indicator_type, indicator, campaign_id, threat_id). Evidence of a campaign report has the
-- campaign's id and no threat; evidence of a threat report has the threat's id and each
-- campaign the threat belongs to (int_threat_campaigns; none: campaign_id null). Where it was
-- seen in our mail: the messages naming the threat, or, for campaign evidence, any of the
-- campaign's threats — messages_delivered (distinct GUIDs), recipients (distinct, of the
-- delivered ones), clicks (ours, permitted and blocked), last_seen_in_mail_at (the latest
-- message_time, delivered or blocked), seen_in_mail (any message, delivered or blocked).
with located as (
    select
        indicators.*,
        case when indicators.about = 'campaign' then indicators.about_id else members.campaign_id end
            as campaign_id,
        case when indicators.about = 'threat' then indicators.about_id end as threat_id
    from {{ ref('int_forensic_indicators') }} as indicators
    left join {{ ref('int_threat_campaigns') }} as members
        on indicators.about = 'threat' and members.threat_id = indicators.about_id
),

grouped as (
    select
        indicator_type,
        indicator,
        campaign_id,
        threat_id,
        count(distinct evidence_id) as evidence_items,
        max(case when about = 'threat' then report_name end) as report_name,
        max(generated_at) as generated_at
    from located
    group by indicator_type, indicator, campaign_id, threat_id
),

evidence_types as (
    select indicator_type, indicator, campaign_id, threat_id,
           {{ names_list('evidence_type', sortable('evidence_type')) }} as evidence_types
    from (select distinct indicator_type, indicator, campaign_id, threat_id, evidence_type
          from located) as distinct_types
    group by indicator_type, indicator, campaign_id, threat_id
),

{% set mail_counts %}
        count(distinct guid) filter (where event_kind = 'message' and disposition = 'delivered')
            as messages_delivered,
        count(distinct guid) filter (where event_kind = 'message' and disposition = 'blocked')
            as messages_blocked,
        count(distinct recipient) filter (where event_kind = 'message' and disposition = 'delivered')
            as recipients,
        count(distinct event_id) filter (where event_kind = 'click') as clicks,
        count(distinct event_id) filter (where event_kind = 'click' and disposition = 'permitted')
            as clicks_permitted,
        max(message_time) filter (where event_kind = 'message') as last_seen_in_mail_at
{% endset %}

by_threat as (
    select threat_id, {{ mail_counts }}
    from {{ ref('int_threat_events') }}
    group by threat_id
),

by_campaign as (
    select members.campaign_id, {{ mail_counts }}
    from {{ ref('int_threat_events') }} as events
    join {{ ref('int_threat_campaigns') }} as members on members.threat_id = events.threat_id
    group by members.campaign_id
),

seen as (
    select
        grouped.*,
        case when grouped.threat_id is null then by_campaign.messages_delivered
             else by_threat.messages_delivered end as messages_delivered,
        case when grouped.threat_id is null then by_campaign.messages_blocked
             else by_threat.messages_blocked end as messages_blocked,
        case when grouped.threat_id is null then by_campaign.recipients
             else by_threat.recipients end as recipients,
        case when grouped.threat_id is null then by_campaign.clicks
             else by_threat.clicks end as clicks,
        case when grouped.threat_id is null then by_campaign.clicks_permitted
             else by_threat.clicks_permitted end as clicks_permitted,
        case when grouped.threat_id is null then by_campaign.last_seen_in_mail_at
             else by_threat.last_seen_in_mail_at end as last_seen_in_mail_at
    from grouped
    left join by_threat on by_threat.threat_id = grouped.threat_id
    left join by_campaign on by_campaign.campaign_id = grouped.campaign_id
)

select
    seen.indicator_type || '|' || seen.indicator || '|' || coalesce(seen.campaign_id, '')
        || '|' || coalesce(seen.threat_id, '') as indicator_key,
    seen.indicator_type,
    seen.indicator,
    types.evidence_types,
    seen.evidence_items,
    case when seen.threat_id is null then 'campaign' else 'threat' end as scope,
    seen.campaign_id,
    campaigns.campaign_name,
    seen.threat_id,
    coalesce(summaries.threat, threats.threat, seen.report_name) as threat,
    coalesce(seen.messages_delivered, 0) as messages_delivered,
    coalesce(seen.messages_blocked, 0) as messages_blocked,
    coalesce(seen.recipients, 0) as recipients,
    coalesce(seen.clicks, 0) as clicks,
    coalesce(seen.clicks_permitted, 0) as clicks_permitted,
    seen.last_seen_in_mail_at,
    seen.last_seen_in_mail_at is not null as seen_in_mail,
    seen.generated_at as evidence_generated_at,
    row_number() over (order by coalesce(seen.clicks, 0) desc, coalesce(seen.recipients, 0) desc,
                                coalesce(seen.messages_delivered, 0) desc,
                                {{ sortable('seen.indicator_type') }}, {{ sortable('seen.indicator') }},
                                {{ sortable("coalesce(seen.campaign_id, '')") }},
                                {{ sortable("coalesce(seen.threat_id, '')") }})
        as hunt_rank
from seen
left join {{ ref('stg_tap__campaigns') }} as campaigns on campaigns.campaign_id = seen.campaign_id
left join {{ ref('stg_tap__threats') }} as summaries on summaries.threat_id = seen.threat_id
left join {{ ref('dim_threats') }} as threats on threats.threat_id = seen.threat_id
join evidence_types as types
    on types.indicator_type = seen.indicator_type and types.indicator = seen.indicator
    and types.campaign_id is not distinct from seen.campaign_id
    and types.threat_id is not distinct from seen.threat_id
