-- Which campaigns reached us, and how far each got: one row per campaign at least one of our
-- SIEM events reached (an event names a threat the campaign lists as a member, or carries the
-- campaign's id: int_threat_campaigns). Messages are distinct GUIDs; recipients distinct
-- lower-cased addresses of the messages (targeted = delivered or blocked) and of the clicks;
-- first/last seen the earliest/latest time a message or click reached a person (event_time). The names come from the campaign's
-- details ('' when it has none, or was not loaded).
with reached as (
    select members.campaign_id, events.*,
           bool_or(events.event_kind = 'message' and events.disposition = 'delivered')
               over (partition by members.campaign_id, events.recipient) as recipient_delivered
    from {{ ref('int_threat_events') }} as events
    join {{ ref('int_threat_campaigns') }} as members on members.threat_id = events.threat_id
),

counts as (
    select
        campaign_id,
        count(distinct threat_id) as threats_seen,
        {{ reach_counts() }}
    from reached
    group by campaign_id
),

tags as (
    select
        campaign_id,
        {{ names_list("case when tag_kind = 'actor' then tag_name end", sortable("tag_name")) }} as actors,
        {{ names_list("case when tag_kind = 'malware' then tag_name end", sortable("tag_name")) }} as malware,
        {{ names_list("case when tag_kind = 'family' then tag_name end", sortable("tag_name")) }} as families,
        {{ names_list("case when tag_kind = 'technique' then tag_name end", sortable("tag_name")) }} as techniques,
        {{ names_list("case when tag_kind = 'brand' then tag_name end", sortable("tag_name")) }} as brands
    from {{ ref('int_campaign_tags') }}
    group by campaign_id
)

select
    counts.campaign_id,
    campaigns.campaign_name,
    campaigns.started_at,
    coalesce(campaigns.is_notable, false) as is_notable,
    coalesce(tags.actors, '') as actors,
    coalesce(tags.malware, '') as malware,
    coalesce(tags.families, '') as families,
    coalesce(tags.techniques, '') as techniques,
    coalesce(tags.brands, '') as brands,
    counts.threats_seen,
    counts.messages_delivered,
    counts.messages_blocked,
    counts.recipients_targeted,
    counts.recipients_delivered,
    counts.recipients_clicked,
    counts.recipients_clicked_delivered,
    counts.clicks_permitted,
    counts.clicks_blocked,
    counts.first_seen_at,
    counts.last_seen_at,
    row_number() over (order by counts.recipients_targeted desc,
                                counts.clicks_permitted + counts.clicks_blocked desc,
                                {{ sortable('counts.campaign_id') }}) as reach_rank
from counts
left join {{ ref('stg_tap__campaigns') }} as campaigns on campaigns.campaign_id = counts.campaign_id
left join tags on tags.campaign_id = counts.campaign_id
