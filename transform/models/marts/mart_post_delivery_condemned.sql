-- Delivered messages whose threat Proofpoint condemned only after delivery (the threat time
-- the message event carries is later than the message time) and that are still active (the
-- threat's latest status): the candidates to pull from mailboxes (TRAP), and whether the
-- recipient clicked that threat in that message. One row per delivery and threat.
with clicked as (
    select delivery_key, threat_id,
           count(*) filter (where disposition = 'permitted') as clicks_permitted,
           count(*) as clicks,
           min(click_time) as first_click_at
    from {{ ref('fct_clicks') }}
    where delivery_key is not null
    group by delivery_key, threat_id
)

select
    deliveries.delivery_key || '/' || threats.threat_id as delivery_threat_key,
    deliveries.delivery_key,
    deliveries.message_event_id,
    deliveries.guid,
    deliveries.recipient,
    deliveries.subject,
    deliveries.sender,
    deliveries.message_time,
    threats.threat_id,
    threats.threat,
    threats.threat_type,
    threats.classification,
    threats.threat_time,
    {{ minutes_between('deliveries.message_time', 'threats.threat_time') }} as minutes_to_condemn,
    coalesce(clicked.clicks, 0) > 0 as was_clicked,
    coalesce(clicked.clicks_permitted, 0) as clicks_permitted,
    clicked.first_click_at
from {{ ref('fct_message_deliveries') }} as deliveries
join {{ ref('int_message_threats') }} as threats
    on threats.message_event_id = deliveries.message_event_id
join {{ ref('dim_threats') }} as status on status.threat_id = threats.threat_id
left join clicked
    on clicked.delivery_key = deliveries.delivery_key and clicked.threat_id = threats.threat_id
where deliveries.disposition = 'delivered'
  and threats.threat_time > deliveries.message_time
  and status.threat_status = 'active'
