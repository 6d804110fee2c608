-- The SOC work queue: permitted clicks on threats that are still active (the threat's latest
-- status), most urgent first. priority_score = the classification's weight, +2 when the click
-- came before the threat was known (nobody was warned), +1 for a repeat clicker.
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
)

select
    row_number() over (order by score desc, click_time desc, click_id) as priority_rank,
    cast(score as double precision) as priority_score,
    click_id,
    click_time,
    recipient,
    url,
    url_host,
    classification,
    threat_id,
    latest_threat_status as threat_status,
    is_retroactive,
    repeat_clicker as is_repeat_clicker,
    minutes_to_click,
    click_ip,
    delivery_key
from queued
