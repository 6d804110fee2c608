-- ThreatQ incidents: one per permitted click, with the click's id as its own.
with latest as ({{ latest_reads(source('threatq', 'threatq_incidents'), order_by='id') }})
select
    id as incident_id,
    id as click_id,
    title,
    {{ utc('started_at') }} as started_at,
    lower(recipient) as recipient,
    url,
    lower(nullif(sender, '')) as sender,
    lower(classification) as classification,
    threat_status,
    {{ utc('threat_time') }} as threat_time,
    threat_id,
    campaign_id,
    guid,
    source
from latest
