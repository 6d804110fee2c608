-- Both click streams in one relation, told apart by disposition (permitted or blocked).
select * from {{ ref('stg_tap__clicks_permitted') }}
union all
select * from {{ ref('stg_tap__clicks_blocked') }}
