-- The indicators that MALICIOUS forensic evidence names: one row per evidence item and
-- indicator. The what{} keys differ per evidence type (attachment and file: md5, sha256; url:
-- url, ip, md5, sha256; dns: host, cnames[], ips[]; network: ip; dropper, behavior,
-- screenshot: url; cookie: domain), so indicators are read by key, whatever the type:
--   sha256 ← sha256; md5 ← md5; url ← url; ip ← ip, ips[]; domain ← host, cnames[], domain.
-- Hashes and domains are lower-cased; URLs and IPs kept as sent (trimmed). Name servers are left
-- out (often shared hosting). The report decides what the evidence is about: scope 'campaign'
-- (report_id a campaign id) or 'threat' (a threat id); without a scope, how the tap asked.
{% set keys = [('sha256', 'sha256', false), ('md5', 'md5', false), ('url', 'url', false),
               ('ip', 'ip', false), ('ip', 'ips', true), ('domain', 'host', false),
               ('domain', 'cnames', true), ('domain', 'domain', false)] %}
with evidence as (
    select
        evidence_id,
        evidence_type,
        case when scope in ('campaign', 'threat') then scope
             when queried_by = 'campaignId' then 'campaign'
             else 'threat' end as about,
        coalesce(report_id, queried_id) as about_id,
        report_name,
        generated_at,
        what
    from {{ ref('stg_tap__forensics') }}
    where is_malicious
),

named as (
    {% for kind, key, is_list in keys %}
    select evidence_id, evidence_type, about, about_id, report_name, generated_at,
           '{{ kind }}' as indicator_type,
           {% if is_list %}{{ json_array_texts(json_member('what', key)) }}{% else %}{{ json_text('what', key) }}{% endif %}
               as value
    from evidence
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

cleaned as (
    select named.*,
           case when indicator_type in ('url', 'ip') then trim(value) else lower(trim(value)) end
               as indicator
    from named
)

select distinct
    evidence_id,
    evidence_type,
    about,
    about_id,
    report_name,
    generated_at,
    indicator_type,
    indicator
from cleaned
where indicator is not null and indicator <> ''
