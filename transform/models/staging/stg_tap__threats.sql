-- Threat summaries: one row per threat id, the latest fetch (fetchedAt). The lists (actors,
-- families, malware, techniques, brands: {id, name} objects) stay as loaded; int_threat_tags
-- unnests them.
{% set columns = {
    'id': 'text', 'name': 'text', 'type': 'text', 'category': 'text', 'status': 'text',
    'detectionType': 'text', 'severityScore': 'bigint', 'attackSpread': 'bigint',
    'notable': 'boolean', 'verticallyTargeted': 'boolean', 'geoTargeted': 'boolean',
    'identifiedAt': 'timestamp', 'actors': 'objects', 'families': 'objects',
    'malware': 'objects', 'techniques': 'objects', 'brands': 'objects',
    'fetchedAt': 'timestamp'} %}
with latest as ({{ latest_reads(intel_source('threats', columns), order_by='"fetchedAt" desc nulls last') }})

select
    id as threat_id,
    name as threat,
    lower(type) as threat_type,
    lower(category) as category,
    status as threat_status,
    "detectionType" as detection_type,
    "severityScore" as severity_score,
    "attackSpread" as attack_spread,
    notable as is_notable,
    "verticallyTargeted" as is_vertically_targeted,
    "geoTargeted" as is_geo_targeted,
    {{ utc('"identifiedAt"') }} as identified_at,
    actors,
    families,
    malware,
    techniques,
    brands,
    {{ utc('"fetchedAt"') }} as fetched_at
from latest
