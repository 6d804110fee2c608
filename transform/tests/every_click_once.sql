-- fct_clicks holds each click id of both click tables exactly once, none more, none less.
with loaded as (
    select distinct id from {{ source('tap_proofpoint', 'clicks_permitted') }}
    union
    select distinct id from {{ source('tap_proofpoint', 'clicks_blocked') }}
)
select coalesce(loaded.id, clicks.click_id) as click_id
from loaded
full outer join {{ ref('fct_clicks') }} as clicks on clicks.click_id = loaded.id
where loaded.id is null or clicks.click_id is null
