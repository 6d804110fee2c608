-- One row per message event and recipient: the grain of a delivery (or a block). A message
-- sent to several people shares one GUID across their events, so a click finds its delivery
-- by GUID and recipient together.
with recipients as (
    select messages.*, {{ string_elements('recipients') }} as recipient_as_sent
    from {{ ref('int_messages') }} as messages
)

select
    message_event_id || '/' || lower(recipient_as_sent) as delivery_key,
    message_event_id,
    disposition,
    guid,
    lower(recipient_as_sent) as recipient,
    message_time,
    event_created_at,
    sender,
    sender_ip,
    subject,
    quarantine_folder,
    quarantine_rule,
    read_until
from recipients
