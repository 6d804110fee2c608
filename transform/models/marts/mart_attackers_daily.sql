-- mart_attackers over time: one row per (attacker_kind, attacker, activity_date), the UTC date
-- of the events' event_created_at, with the same counts for that day's events (a person
-- targeted on two days counts on each).
select
    attacker_kind || '/' || attacker || '/' || cast(activity_date as varchar) as attacker_day_key,
    attacker_kind,
    attacker,
    activity_date,
    count(distinct recipient) filter (where event_kind = 'message') as users_targeted,
    count(distinct guid) filter (where event_kind = 'message' and disposition = 'delivered')
        as messages_delivered,
    count(distinct guid) filter (where event_kind = 'message' and disposition = 'blocked')
        as messages_blocked,
    count(distinct event_id) filter (where event_kind = 'click' and disposition = 'permitted')
        as clicks_permitted,
    count(distinct event_id) filter (where event_kind = 'click' and disposition = 'blocked')
        as clicks_blocked
from (select *, {{ utc_date('event_created_at') }} as activity_date
      from {{ ref('int_attacker_events') }}) as events
group by attacker_kind, attacker, activity_date
