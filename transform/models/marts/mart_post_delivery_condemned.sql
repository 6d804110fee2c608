-- Delivered messages whose threat Proofpoint condemned only after delivery and that are still
-- active: the candidates to pull from mailboxes (TRAP), and whether the recipient clicked.
-- One row per delivery and threat.
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
    deliveries.clicks_permitted + deliveries.clicks_blocked > 0 as was_clicked,
    deliveries.clicks_permitted,
    deliveries.first_click_at
from {{ ref('fct_message_deliveries') }} as deliveries
join {{ ref('int_message_threats') }} as threats
    on threats.message_event_id = deliveries.message_event_id
join {{ ref('dim_threats') }} as status on status.threat_id = threats.threat_id
where deliveries.disposition = 'delivered'
  and threats.threat_time > deliveries.message_time
  and status.threat_status = 'active'
