-- ThreatQ indicators: the clicked URLs and the senders' addresses.
with latest as ({{ latest_reads(source('threatq', 'threatq_indicators'), order_by='id') }})
select
    id as indicator_id,
    type as indicator_type,
    value as indicator_value,
    status as indicator_status,
    {{ utc('published_at') }} as published_at,
    source
from latest
