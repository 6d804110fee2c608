-- A campaign's actors, malware, families, techniques and brands (its details' {id, name}
-- lists): one row per (campaign, kind, name).
{% set lists = {'actors': 'actor', 'malware': 'malware', 'families': 'family',
                'techniques': 'technique', 'brands': 'brand'} %}
with tags as (
    {% for column, kind in lists.items() %}
    select campaign_id, '{{ kind }}' as tag_kind, tag ->> 'name' as tag_name
    from (select campaign_id, {{ json_elements(column) }} as tag
          from {{ ref('stg_tap__campaigns') }}) as {{ column }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select distinct
    campaign_id || '/' || tag_kind || '/' || tag_name as campaign_tag_key,
    campaign_id,
    tag_kind,
    tag_name
from tags
where tag_name is not null and tag_name <> ''
