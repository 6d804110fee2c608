-- Every row of the work queue is a click the permitted table holds (checked against the raw
-- table, not the models the queue is built from), on a threat whose latest status is active.
select exposure.click_id
from {{ ref('mart_click_exposure') }} as exposure
left join {{ source('tap_proofpoint', 'clicks_permitted') }} as raw on raw.id = exposure.click_id
left join {{ ref('dim_threats') }} as threats on threats.threat_id = exposure.threat_id
where raw.id is null or threats.threat_status is distinct from 'active'
