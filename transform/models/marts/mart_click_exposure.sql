-- The SOC work queue: permitted clicks on threats that are still active (the threat's latest
-- status), most urgent first. priority_score = the classification's weight, +2 when the click
-- came before the threat was known (nobody was warned), +1 for a repeat clicker.
select
    row_number() over (order by
        coalesce(weights.weight, 1) + case when clicks.is_retroactive then 2 else 0 end
            + case when users.is_repeat_clicker then 1 else 0 end desc,
        clicks.click_time desc, clicks.click_id) as priority_rank,
    cast(coalesce(weights.weight, 1) + case when clicks.is_retroactive then 2 else 0 end
         + case when users.is_repeat_clicker then 1 else 0 end as double precision) as priority_score,
    clicks.click_id,
    clicks.click_time,
    clicks.recipient,
    clicks.url,
    clicks.url_host,
    clicks.classification,
    clicks.threat_id,
    threats.threat_status,
    clicks.is_retroactive,
    coalesce(users.is_repeat_clicker, false) as is_repeat_clicker,
    clicks.minutes_to_click,
    clicks.click_ip,
    clicks.delivery_key
from {{ ref('fct_clicks') }} as clicks
join {{ ref('dim_threats') }} as threats on threats.threat_id = clicks.threat_id
left join {{ ref('dim_users') }} as users on users.user_email = clicks.recipient
left join {{ ref('classification_weights') }} as weights
    on weights.classification = clicks.classification
where clicks.disposition = 'permitted'
  and threats.threat_status = 'active'
