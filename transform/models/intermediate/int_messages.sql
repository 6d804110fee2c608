-- Both message streams in one relation, told apart by disposition (delivered or blocked).
select * from {{ ref('stg_tap__messages_delivered') }}
union all
select * from {{ ref('stg_tap__messages_blocked') }}
