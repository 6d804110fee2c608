-- The events of each attacker: one int_threat_events row per actor or malware it is attributed
-- to. A threat's names are its summary's and its campaigns' (int_threat_tags, kinds actor and
-- malware); a message also names actors for each of its threats (int_message_threat_actors).
with by_threat as (
    select tags.tag_kind as attacker_kind, tags.tag_name as attacker, events.*
    from {{ ref('int_threat_events') }} as events
    join {{ ref('int_threat_tags') }} as tags on tags.threat_id = events.threat_id
    where tags.tag_kind in ('actor', 'malware')
),

by_message as (
    select 'actor' as attacker_kind, actors.actor as attacker, events.*
    from {{ ref('int_threat_events') }} as events
    join {{ ref('int_message_threat_actors') }} as actors
        on actors.message_event_id = events.event_id and actors.threat_id = events.threat_id
    where events.event_kind = 'message'
)

select * from by_threat
union
select * from by_message
