{#- The two click streams share one shape, as do the two message streams: one staging macro
    each, called with the stream's source and its disposition. -#}

{% macro stage_clicks(stream, disposition) %}
with latest as ({{ latest_reads(source('tap_proofpoint', stream)) }})

select
    id as click_id,
    '{{ disposition }}' as disposition,
    "GUID" as guid,
    lower(recipient) as recipient,
    lower(nullif(sender, '')) as sender,
    "senderIP" as sender_ip,
    "clickIP" as click_ip,
    "userAgent" as user_agent,
    url,
    {{ url_host('url') }} as url_host,
    lower(classification) as classification,
    "threatID" as threat_id,
    "threatURL" as threat_url,
    "threatStatus" as threat_status,
    "campaignId" as campaign_id,
    "messageID" as message_id,
    {{ utc('"clickTime"') }} as click_time,
    {{ utc('"threatTime"') }} as threat_time,
    greatest({{ utc('"clickTime"') }}, {{ utc('"threatTime"') }}) as event_created_at,
    {{ utc('"queryEndTime"') }} as read_until
from latest
{% endmacro %}

{% macro stage_messages(stream, disposition) %}
with latest as ({{ latest_reads(source('tap_proofpoint', stream)) }}),

threat_times as (
    select id, max(cast(threat ->> 'threatTime' as timestamp with time zone)) as last_threat_time
    from (select id, {{ json_elements('"threatsInfoMap"') }} as threat from latest) as threats
    group by id
)

select
    latest.id as message_event_id,
    '{{ disposition }}' as disposition,
    "GUID" as guid,
    "QID" as qid,
    "messageID" as message_id,
    {{ utc('"messageTime"') }} as message_time,
    greatest({{ utc('"messageTime"') }}, threat_times.last_threat_time) as event_created_at,
    lower(nullif(sender, '')) as sender,
    "senderIP" as sender_ip,
    "headerFrom" as header_from,
    recipient as recipients,
    "toAddresses" as to_addresses,
    "ccAddresses" as cc_addresses,
    "fromAddress" as from_addresses,
    subject,
    "quarantineFolder" as quarantine_folder,
    "quarantineRule" as quarantine_rule,
    "policyRoutes" as policy_routes,
    "modulesRun" as modules_run,
    "spamScore" as spam_score,
    "phishScore" as phish_score,
    "malwareScore" as malware_score,
    "impostorScore" as impostor_score,
    "messageSize" as message_size,
    "completelyRewritten" as completely_rewritten,
    "threatsInfoMap" as threats_info_map,
    "messageParts" as message_parts,
    cluster,
    xmailer,
    {{ utc('"queryEndTime"') }} as read_until
from latest
left join threat_times on threat_times.id = latest.id
{% endmacro %}

{#- The two people rankings share one shape: one row per snapshot and e-mail address (lower
    case) of each person, its identity, the ranking's statistics (``measure``: attackIndex or
    clickCount) and the snapshot's envelope. A person listed twice in one snapshot (two
    identities with one address) keeps the higher measure. ``columns``: the table's columns
    and kinds (intel_source), for when the stream was never loaded. -#}
{% macro stage_people(stream, measure, extra_columns, columns) %}
with addresses as (
    select raw.*, lower(trim(address)) as user_email
    from (select people.*, {{ string_elements('emails') }} as address
          from {{ intel_source(stream, columns) }} as people) as raw
),

ranked as (
    select addresses.*,
           row_number() over (partition by "snapshotAt", user_email
                              order by "{{ measure }}" desc nulls last, guid) as copy_rank
    from addresses
    where user_email is not null and user_email <> ''
)

select
    cast({{ utc('"snapshotAt"') }} as varchar) || '/' || user_email as person_snapshot_key,
    {{ utc('"snapshotAt"') }} as snapshot_at,
    "window" as window_days,
    "interval" as snapshot_interval,
    user_email,
    guid,
    "customerUserId" as customer_user_id,
    name,
    department,
    location,
    title,
    coalesce(vip, false) as is_vip,
    families,
    {% for column, alias in extra_columns.items() %}{{ column }} as {{ alias }}{% if not loop.last %},
    {% endif %}{% endfor %}
from ranked
where copy_rank = 1
{% endmacro %}
