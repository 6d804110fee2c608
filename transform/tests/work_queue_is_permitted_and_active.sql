-- Every row of the work queue is a permitted click on a threat whose latest status is active.
select exposure.click_id
from {{ ref('mart_click_exposure') }} as exposure
join {{ ref('fct_clicks') }} as clicks on clicks.click_id = exposure.click_id
join {{ ref('dim_threats') }} as threats on threats.threat_id = clicks.threat_id
where clicks.disposition <> 'permitted' or threats.threat_status <> 'active'
