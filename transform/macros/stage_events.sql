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
