-- The Corporate Email objects the threatq mapper made: one per recipient address.
with latest as ({{ latest_reads(source('threatq', 'threatq_corporate_emails'), order_by='id') }})
select id as corporate_email_id, lower(address) as address, source
from latest
