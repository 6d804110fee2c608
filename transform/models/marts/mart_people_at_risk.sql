-- Proofpoint's Very Attacked People against our clickers, from the LATEST snapshot of
-- very_attacked_people and the latest of top_clickers (each ranking is a rolling window that
-- ends when it was taken: older snapshots stay in staging). One row per person (lower-cased
-- e-mail) who is very attacked in that snapshot, clicked in our data (fct_clicks, any time
-- loaded), or is in the latest top clickers.
--   clicking = at least one click (permitted or blocked) in our data, or listed among the top
--   clickers with proofpoint_clicks > 0 (Proofpoint saw the clicks over the snapshot's window);
--   segment: 'very attacked and clicking' → action 'protect now',
--            'very attacked, not yet clicking' → 'train',
--            'clicking, not very attacked' → 'watch'.
--   risk_rank: segment in that order, then attack_index (highest first, none last), our clicks,
--   Proofpoint's clicks (most first), e-mail.
with latest_vap as (
    select *
    from {{ ref('stg_tap__very_attacked_people') }}
    where snapshot_at = (select max(snapshot_at) from {{ ref('stg_tap__very_attacked_people') }})
),

latest_clickers as (
    select *
    from {{ ref('stg_tap__top_clickers') }}
    where snapshot_at = (select max(snapshot_at) from {{ ref('stg_tap__top_clickers') }})
),

vap_snapshot as (
    select max(snapshot_at) as snapshot_at, max(window_days) as window_days,
           max(vap_threshold) as vap_threshold
    from latest_vap
),

clickers_snapshot as (
    select max(snapshot_at) as snapshot_at, max(window_days) as window_days from latest_clickers
),

vap_families as (
    select user_email,
           {{ names_list("family ->> 'name'", "cast(family ->> 'score' as double precision) desc, " ~ sortable("family ->> 'name'")) }}
               as attack_families
    from (select user_email, {{ json_elements('families') }} as family from latest_vap) as families
    group by user_email
),

ours as (
    select recipient as user_email,
           count(*) filter (where disposition = 'permitted') as clicks_permitted,
           count(*) filter (where disposition = 'blocked') as clicks_blocked,
           max(click_time) as last_click_at
    from {{ ref('fct_clicks') }}
    where recipient is not null and recipient <> ''
    group by recipient
),

people as (
    select user_email from latest_vap
    union
    select user_email from ours
    union
    select user_email from latest_clickers
),

facts as (
    select
        people.user_email,
        coalesce(latest_vap.name, latest_clickers.name) as name,
        coalesce(latest_vap.department, latest_clickers.department) as department,
        coalesce(latest_vap.title, latest_clickers.title) as title,
        coalesce(latest_vap.is_vip, false) or coalesce(latest_clickers.is_vip, false) as is_vip,
        latest_vap.user_email is not null as is_very_attacked,
        latest_vap.attack_index,
        coalesce(vap_families.attack_families, '') as attack_families,
        latest_clickers.user_email is not null as is_top_clicker,
        latest_clickers.click_count as proofpoint_clicks,  -- null: not a top clicker
        coalesce(ours.clicks_permitted, 0) as clicks_permitted,
        coalesce(ours.clicks_blocked, 0) as clicks_blocked,
        ours.last_click_at
    from people
    left join latest_vap on latest_vap.user_email = people.user_email
    left join latest_clickers on latest_clickers.user_email = people.user_email
    left join vap_families on vap_families.user_email = people.user_email
    left join ours on ours.user_email = people.user_email
),

segmented as (
    select
        facts.*,
        clicks_permitted + clicks_blocked > 0 or coalesce(proofpoint_clicks, 0) > 0 as is_clicking,
        case
            when is_very_attacked and (clicks_permitted + clicks_blocked > 0 or coalesce(proofpoint_clicks, 0) > 0)
                then 1
            when is_very_attacked then 2
            when clicks_permitted + clicks_blocked > 0 or coalesce(proofpoint_clicks, 0) > 0 then 3
        end as segment_order
    from facts
)

select
    segmented.user_email,
    segmented.name,
    segmented.department,
    segmented.title,
    segmented.is_vip,
    segmented.is_very_attacked,
    segmented.attack_index,
    segmented.attack_families,
    vap_snapshot.vap_threshold,
    segmented.is_top_clicker,
    segmented.proofpoint_clicks,
    segmented.clicks_permitted,
    segmented.clicks_blocked,
    segmented.last_click_at,
    segmented.is_clicking,
    case segment_order when 1 then 'very attacked and clicking'
                       when 2 then 'very attacked, not yet clicking'
                       else 'clicking, not very attacked' end as segment,
    case segment_order when 1 then 'protect now' when 2 then 'train' else 'watch' end as action,
    vap_snapshot.snapshot_at,
    vap_snapshot.window_days,
    clickers_snapshot.snapshot_at as top_clickers_snapshot_at,
    clickers_snapshot.window_days as top_clickers_window_days,
    row_number() over (order by segment_order,
                                segmented.attack_index desc nulls last,
                                segmented.clicks_permitted + segmented.clicks_blocked desc,
                                coalesce(segmented.proofpoint_clicks, 0) desc,
                                {{ sortable('segmented.user_email') }}) as risk_rank
from segmented
cross join vap_snapshot
cross join clickers_snapshot
where segment_order is not null
