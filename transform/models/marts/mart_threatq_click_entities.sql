-- What the threatq mapper made of each permitted click: its incident and the Corporate Email,
-- URL indicator and sender indicator the incident is linked to.
with links as (
    select source_id as incident_id,
           max(case when target_type = 'corporate_email' then target_id end) as corporate_email_id,
           max(case when indicators.indicator_type = 'URL' then target_id end) as url_indicator_id,
           max(case when indicators.indicator_type = 'Email Address' then target_id end) as sender_indicator_id
    from {{ ref('stg_threatq__relationships') }} as relationships
    left join {{ ref('stg_threatq__indicators') }} as indicators
        on relationships.target_type = 'indicator' and indicators.indicator_id = relationships.target_id
    where relationships.source_type = 'incident'
    group by source_id
)

select
    incidents.click_id,
    incidents.incident_id,
    incidents.title,
    incidents.started_at,
    links.corporate_email_id,
    emails.address as corporate_email,
    links.url_indicator_id,
    urls.indicator_value as url_indicator,
    links.sender_indicator_id,
    senders.indicator_value as sender_indicator
from {{ ref('stg_threatq__incidents') }} as incidents
left join links on links.incident_id = incidents.incident_id
left join {{ ref('stg_threatq__corporate_emails') }} as emails
    on emails.corporate_email_id = links.corporate_email_id
left join {{ ref('stg_threatq__indicators') }} as urls on urls.indicator_id = links.url_indicator_id
left join {{ ref('stg_threatq__indicators') }} as senders
    on senders.indicator_id = links.sender_indicator_id
