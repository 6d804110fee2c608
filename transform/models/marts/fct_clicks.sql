-- Every click, permitted and blocked, with the delivery of the same message to the same person.
-- The join is on GUID *and* recipient: a message to several people has one GUID, and a join on
-- GUID alone would give a click every recipient's delivery.
with deliveries as (
    -- the first delivery of the message to the person (a redelivery keeps the first)
    select guid, recipient, message_time as delivered_at, delivery_key
    from (
        select guid, recipient, message_time, delivery_key,
               row_number() over (partition by guid, recipient
                                  order by message_time, delivery_key) as delivery_rank
        from {{ ref('int_message_recipients') }}
        where disposition = 'delivered'
    ) as ranked
    where delivery_rank = 1
)

select
    clicks.click_id,
    clicks.disposition,
    clicks.click_time,
    clicks.threat_time,
    clicks.event_created_at,
    clicks.recipient,
    clicks.sender,
    clicks.sender_ip,
    clicks.click_ip,
    clicks.user_agent,
    clicks.url,
    clicks.url_host,
    clicks.threat_id,
    clicks.threat_url,
    clicks.threat_status,
    clicks.classification,
    clicks.campaign_id,
    clicks.guid,
    clicks.message_id,
    deliveries.delivery_key,
    deliveries.delivered_at,
    {{ minutes_between('deliveries.delivered_at', 'clicks.click_time') }} as minutes_to_click,
    -- Clicked before Proofpoint knew the URL was bad: the event came only when it was condemned.
    coalesce(clicks.click_time < clicks.threat_time, false) as is_retroactive,
    clicks.read_until
from {{ ref('int_clicks') }} as clicks
left join deliveries
    on deliveries.guid = clicks.guid
    and deliveries.recipient = clicks.recipient
