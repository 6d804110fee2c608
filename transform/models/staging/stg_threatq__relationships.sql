-- The links between ThreatQ entities (incident → email, incident → indicator, ...).
with latest as ({{ latest_reads(source('threatq', 'threatq_relationships'), order_by='id') }})
select id as relationship_id, source_type, source_id, target_type, target_id
from latest
