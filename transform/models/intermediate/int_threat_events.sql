-- Every SIEM event with the threat it names and the person it concerns: one row per message
-- event × threat × recipient (event_kind 'message', disposition delivered or blocked) and per
-- click (event_kind 'click', disposition permitted or blocked). What the campaign, attacker
-- and indicator marts count. event_time is when it reached the person (the message's time or
-- the click's): what "first seen" and "last seen" mean; event_created_at (the later of that
-- and the threat time) places it in a day of the period.
select
    'message' as event_kind,
    threats.disposition,
    threats.message_event_id as event_id,
    threats.guid,
    recipients.recipient,
    threats.threat_id,
    threats.campaign_id as carried_campaign_id,
    threats.message_time,
    threats.message_time as event_time,
    threats.event_created_at
from {{ ref('int_message_threats') }} as threats
left join {{ ref('int_message_recipients') }} as recipients
    on recipients.message_event_id = threats.message_event_id
where threats.threat_id is not null

union all

select
    'click',
    disposition,
    click_id,
    guid,
    recipient,
    threat_id,
    campaign_id,
    cast(null as timestamp with time zone),
    click_time,
    event_created_at
from {{ ref('int_clicks') }}
where threat_id is not null
