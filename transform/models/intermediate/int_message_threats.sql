-- One row per message event and threat of its threatsInfoMap.
with threats as (
    select message_event_id, disposition, guid, message_time, event_created_at, read_until,
           {{ json_elements('threats_info_map') }} as threat
    from {{ ref('int_messages') }} as messages
)

select
    message_event_id,
    disposition,
    guid,
    message_time,
    event_created_at,
    read_until,
    threat ->> 'threatID' as threat_id,
    threat ->> 'threat' as threat,
    lower(threat ->> 'threatType') as threat_type,
    lower(threat ->> 'classification') as classification,
    threat ->> 'threatStatus' as threat_status,
    cast(threat ->> 'threatTime' as timestamp with time zone) as threat_time,
    threat ->> 'campaignID' as campaign_id,
    threat -> 'actors' as actors  -- the message's actors of this threat ({id, name} objects)
from threats
