-- clicks_permitted: one row per click id, its latest read.
{{ stage_clicks('clicks_permitted', 'permitted') }}
