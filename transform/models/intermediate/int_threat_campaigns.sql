-- Which threats belong to which campaign: the members each campaign's details list, and the
-- campaign id the SIEM events carry with a threat (a message's threatsInfoMap[].campaignID, a
-- click's campaignId). One row per (campaign, threat); a threat may be in several.
with listed as (
    select campaign_id, member ->> 'id' as threat_id
    from (select campaign_id, {{ json_elements('campaign_members') }} as member
          from {{ ref('stg_tap__campaigns') }}) as members
),

carried as (
    select campaign_id, threat_id from {{ ref('int_message_threats') }}
    union all
    select campaign_id, threat_id from {{ ref('int_clicks') }}
),

pairs as (
    select campaign_id, threat_id, true as is_listed, false as is_carried from listed
    union all
    select campaign_id, threat_id, false, true from carried
)

select
    campaign_id || '/' || threat_id as campaign_threat_key,
    campaign_id,
    threat_id,
    bool_or(is_listed) as is_listed_member,
    bool_or(is_carried) as is_carried_by_events
from pairs
where campaign_id is not null and campaign_id <> '' and threat_id is not null and threat_id <> ''
group by campaign_id, threat_id
