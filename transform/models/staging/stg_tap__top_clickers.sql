-- Top clickers: every snapshot kept (each is a rolling window ending when it was taken), one
-- row per snapshot and lower-cased e-mail address.
{% set columns = {
    'snapshotAt': 'timestamp', 'window': 'bigint', 'interval': 'text', 'guid': 'text',
    'customerUserId': 'text', 'emails': 'strings', 'name': 'text', 'department': 'text',
    'location': 'text', 'title': 'text', 'vip': 'boolean', 'families': 'objects',
    'clickCount': 'bigint', 'totalTopClickers': 'bigint'} %}
{{ stage_people('top_clickers', 'clickCount', {
    '"clickCount"': 'click_count',
    '"totalTopClickers"': 'total_top_clickers'}, columns) }}
