-- messages_blocked: one row per message event id (one per recipient), its latest read.
{{ stage_messages('messages_blocked', 'blocked') }}
