-- Who is attacking us, with what: one row per (attacker_kind, attacker). attacker_kind
-- 'actor' or 'malware'; an event is the attacker's when the threat it names lists the name
-- (the threat's summary, or any campaign the threat belongs to: int_threat_tags), or when a
-- message names the actor for that threat (threatsInfoMap[].actors). Only attackers with at
-- least one of our events. users_targeted: distinct recipients of their messages (delivered or
-- blocked); messages are distinct GUIDs; campaigns those of their threats (int_threat_campaigns).
-- attacker_rank per kind: users_targeted, then clicks_permitted (both highest first), then name.
with attributed as (
    select * from {{ ref('int_attacker_events') }}
),

counts as (
    select
        attributed.attacker_kind,
        attributed.attacker,
        count(distinct members.campaign_id) as campaigns,
        count(distinct attributed.threat_id) as threats,
        count(distinct attributed.recipient) filter (where attributed.event_kind = 'message')
            as users_targeted,
        count(distinct attributed.guid)
            filter (where attributed.event_kind = 'message' and attributed.disposition = 'delivered')
            as messages_delivered,
        count(distinct attributed.guid)
            filter (where attributed.event_kind = 'message' and attributed.disposition = 'blocked')
            as messages_blocked,
        count(distinct attributed.recipient) filter (where attributed.event_kind = 'click')
            as users_clicked,
        count(distinct attributed.event_id)
            filter (where attributed.event_kind = 'click' and attributed.disposition = 'permitted')
            as clicks_permitted,
        count(distinct attributed.event_id)
            filter (where attributed.event_kind = 'click' and attributed.disposition = 'blocked')
            as clicks_blocked,
        min(attributed.event_time) as first_seen_at,
        max(attributed.event_time) as last_seen_at
    from attributed
    left join {{ ref('int_threat_campaigns') }} as members on members.threat_id = attributed.threat_id
    group by attributed.attacker_kind, attributed.attacker
)

select
    attacker_kind || '/' || attacker as attacker_key,
    attacker_kind,
    attacker,
    campaigns,
    threats,
    users_targeted,
    messages_delivered,
    messages_blocked,
    users_clicked,
    clicks_permitted,
    clicks_blocked,
    first_seen_at,
    last_seen_at,
    row_number() over (partition by attacker_kind
                       order by users_targeted desc, clicks_permitted desc,
                                {{ sortable('attacker') }}) as attacker_rank
from counts
