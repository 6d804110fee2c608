-- clicks_blocked: one row per click id, its latest read.
{{ stage_clicks('clicks_blocked', 'blocked') }}
