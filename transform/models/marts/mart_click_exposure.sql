-- The SOC work queue: permitted clicks on threats that are still active (the threat's latest
-- status), most urgent first. priority_score = the classification's weight, +2 when the click
-- came before the threat was known (nobody was warned), +1 for a repeat clicker. Each click
-- also carries what an analyst opens first: the threat's time, the delivered message's sender
-- (the click's own when the delivery was not loaded), subject and time (fct_clicks.delivery_key
-- → fct_message_deliveries), and its campaign (the click's campaignId, else the first campaign
-- listing the threat as a member) with the name from campaigns when they were loaded.
with queued as (
    select
        clicks.*,
        threats.threat_status as latest_threat_status,
        coalesce(users.is_repeat_clicker, false) as repeat_clicker,
        coalesce(weights.weight, 1)
            + case when clicks.is_retroactive then 2 else 0 end
            + case when users.is_repeat_clicker then 1 else 0 end as score
    from {{ ref('fct_clicks') }} as clicks
    join {{ ref('dim_threats') }} as threats on threats.threat_id = clicks.threat_id
    left join {{ ref('dim_users') }} as users on users.user_email = clicks.recipient
    left join {{ ref('classification_weights') }} as weights
        on weights.classification = clicks.classification
    where clicks.disposition = 'permitted'
      and threats.threat_status = 'active'
),

threat_campaigns as (
    select threat_id, min({{ sortable('campaign_id') }}) as campaign_id
    from {{ ref('int_threat_campaigns') }}
    group by threat_id
)

select
    row_number() over (order by queued.score desc, queued.click_time desc, queued.click_id)
        as priority_rank,
    cast(queued.score as double precision) as priority_score,
    queued.click_id,
    queued.click_time,
    queued.recipient,
    queued.url,
    queued.url_host,
    queued.classification,
    queued.threat_id,
    queued.latest_threat_status as threat_status,
    queued.is_retroactive,
    queued.repeat_clicker as is_repeat_clicker,
    queued.minutes_to_click,
    queued.click_ip,
    queued.delivery_key,
    queued.threat_time,
    coalesce(deliveries.sender, queued.sender) as sender,
    deliveries.subject,
    queued.delivered_at as message_time,
    coalesce(queued.campaign_id, threat_campaigns.campaign_id) as campaign_id,
    campaigns.campaign_name
from queued
left join {{ ref('fct_message_deliveries') }} as deliveries
    on deliveries.delivery_key = queued.delivery_key
left join threat_campaigns on threat_campaigns.threat_id = queued.threat_id
left join {{ ref('stg_tap__campaigns') }} as campaigns
    on campaigns.campaign_id = coalesce(queued.campaign_id, threat_campaigns.campaign_id)
