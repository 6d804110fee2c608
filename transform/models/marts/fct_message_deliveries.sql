-- One row per message and recipient, delivered or blocked, with its threats and the clicks it led to.
with ranked as (
    select
        threats.message_event_id,
        threats.threat_id,
        threats.classification,
        row_number() over (partition by threats.message_event_id
                           order by coalesce(weights.weight, 0) desc, threats.classification) as severity_rank
    from {{ ref('int_message_threats') }} as threats
    left join {{ ref('classification_weights') }} as weights
        on weights.classification = threats.classification
),

threats as (
    select
        message_event_id,
        count(distinct threat_id) as threats,
        max(case when severity_rank = 1 then classification end) as worst_classification
    from ranked
    group by message_event_id
),

clicks as (
    select
        delivery_key,
        count(*) filter (where disposition = 'permitted') as clicks_permitted,
        count(*) filter (where disposition = 'blocked') as clicks_blocked,
        min(click_time) as first_click_at
    from {{ ref('fct_clicks') }}
    where delivery_key is not null
    group by delivery_key
)

select
    recipients.delivery_key,
    recipients.message_event_id,
    recipients.disposition,
    recipients.guid,
    recipients.recipient,
    recipients.message_time,
    recipients.event_created_at,
    recipients.sender,
    recipients.sender_ip,
    recipients.subject,
    recipients.quarantine_folder,
    recipients.quarantine_rule,
    coalesce(threats.threats, 0) as threats,
    threats.worst_classification,
    coalesce(clicks.clicks_permitted, 0) as clicks_permitted,
    coalesce(clicks.clicks_blocked, 0) as clicks_blocked,
    clicks.first_click_at
from {{ ref('int_message_recipients') }} as recipients
left join threats on threats.message_event_id = recipients.message_event_id
left join clicks on clicks.delivery_key = recipients.delivery_key
