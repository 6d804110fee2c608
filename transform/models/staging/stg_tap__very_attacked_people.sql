-- Very Attacked People: every snapshot kept (each is a rolling window ending when it was
-- taken), one row per snapshot and lower-cased e-mail address.
{% set columns = {
    'snapshotAt': 'timestamp', 'window': 'bigint', 'interval': 'text', 'guid': 'text',
    'customerUserId': 'text', 'emails': 'strings', 'name': 'text', 'department': 'text',
    'location': 'text', 'title': 'text', 'vip': 'boolean', 'families': 'objects',
    'attackIndex': 'bigint', 'totalVapUsers': 'bigint', 'averageAttackIndex': 'double',
    'vapAttackIndexThreshold': 'double'} %}
{{ stage_people('very_attacked_people', 'attackIndex', {
    '"attackIndex"': 'attack_index',
    '"totalVapUsers"': 'total_vap_users',
    '"averageAttackIndex"': 'average_attack_index',
    '"vapAttackIndexThreshold"': 'vap_threshold'}, columns) }}
