-- Attributes on the indicators (classification, threat status, campaign ...).
with latest as ({{ latest_reads(source('threatq', 'threatq_indicator_attributes'), order_by='id') }})
select
    id as attribute_id,
    indicator_id,
    name as attribute_name,
    value as attribute_value,
    source
from latest
where indicator_id is not null  -- a campaign's attributes have none
