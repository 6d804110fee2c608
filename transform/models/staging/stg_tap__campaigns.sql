-- Campaign details: one row per campaign id, the latest fetch (fetchedAt). campaignMembers
-- (the member threats) and the {id, name} lists stay as loaded; the intermediate models unnest them.
{% set columns = {
    'id': 'text', 'name': 'text', 'description': 'text', 'startDate': 'timestamp',
    'notable': 'boolean', 'lastUpdatedAt': 'timestamp', 'actors': 'objects',
    'families': 'objects', 'malware': 'objects', 'techniques': 'objects', 'brands': 'objects',
    'campaignMembers': 'objects', 'fetchedAt': 'timestamp'} %}
with latest as ({{ latest_reads(intel_source('campaigns', columns), order_by='"fetchedAt" desc nulls last') }})

select
    id as campaign_id,
    name as campaign_name,
    description,
    {{ utc('"startDate"') }} as started_at,
    notable as is_notable,
    {{ utc('"lastUpdatedAt"') }} as last_updated_at,
    actors,
    families,
    malware,
    techniques,
    brands,
    "campaignMembers" as campaign_members,
    {{ utc('"fetchedAt"') }} as fetched_at
from latest
