-- A threat's actors, malware, families, techniques and brands: its summary's {id, name} lists
-- and those of every campaign it belongs to (int_threat_campaigns). One row per (threat, kind,
-- name), with where the name came from.
{% set lists = {'actors': 'actor', 'malware': 'malware', 'families': 'family',
                'techniques': 'technique', 'brands': 'brand'} %}
with from_summaries as (
    {% for column, kind in lists.items() %}
    select threat_id, '{{ kind }}' as tag_kind, tag ->> 'name' as tag_name
    from (select threat_id, {{ json_elements(column) }} as tag
          from {{ ref('stg_tap__threats') }}) as {{ column }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

from_campaigns as (
    select members.threat_id, tags.tag_kind, tags.tag_name
    from {{ ref('int_threat_campaigns') }} as members
    join {{ ref('int_campaign_tags') }} as tags on tags.campaign_id = members.campaign_id
),

tags as (
    select threat_id, tag_kind, tag_name, true as from_summary, false as from_campaign
    from from_summaries
    union all
    select threat_id, tag_kind, tag_name, false, true from from_campaigns
)

select
    threat_id || '/' || tag_kind || '/' || tag_name as threat_tag_key,
    threat_id,
    tag_kind,
    tag_name,
    bool_or(from_summary) as from_summary,
    bool_or(from_campaign) as from_campaign
from tags
where tag_name is not null and tag_name <> ''
group by threat_id, tag_kind, tag_name
