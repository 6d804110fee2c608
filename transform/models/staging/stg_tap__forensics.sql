-- Forensic evidence: one row per evidence id (derived from the item's content and its report),
-- the latest fetch. scope and report_id say what the report is about (a threat or a campaign);
-- queried_by / queried_id how the tap asked (threatId or campaignId).
{% set columns = {
    'id': 'text', 'queriedBy': 'text', 'queriedId': 'text', 'scope': 'text',
    'reportId': 'text', 'reportName': 'text', 'threatStatus': 'text', 'generated': 'timestamp',
    'type': 'text', 'display': 'text', 'engine': 'text', 'malicious': 'boolean',
    'note': 'text', 'what': 'object', 'platforms': 'objects', 'fetchedAt': 'timestamp'} %}
with latest as ({{ latest_reads(intel_source('forensics', columns), order_by='"fetchedAt" desc nulls last') }})

select
    id as evidence_id,
    "queriedBy" as queried_by,
    "queriedId" as queried_id,
    lower(scope) as scope,
    "reportId" as report_id,
    "reportName" as report_name,
    "threatStatus" as report_threat_status,
    {{ utc('"generated"') }} as generated_at,
    lower(type) as evidence_type,
    display,
    engine,
    coalesce(malicious, false) as is_malicious,
    note,
    what,
    platforms,
    {{ utc('"fetchedAt"') }} as fetched_at
from latest
