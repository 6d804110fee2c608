{# Minutes from one timestamp to a later one, as a double (negative when it is earlier). #}
{% macro minutes_between(earlier, later) -%}
  cast(extract(epoch from ({{ later }} - {{ earlier }})) / 60.0 as double precision)
{%- endmacro %}

{# The UTC date of a timestamp with time zone, whatever the session's time zone. #}
{% macro utc_date(column) -%}
  cast({{ column }} at time zone 'UTC' as date)
{%- endmacro %}

{#- One row per id of a raw table: its latest read. The latest read is the one from the window
    that ends last (queryEndTime, which every loader keeps): a look-back re-read comes from a
    later window than the first read as long as window_minutes is longer than lookback_minutes
    (with equal windows, or a re-run of the same windows, either copy may be kept). Tables without it (the ThreatQ entities, whose ids are derived from their
    content) keep any copy. -#}
{% macro latest_reads(relation, order_by='"queryEndTime" desc nulls last') %}
  select *
  from (
    select raw.*, row_number() over (partition by id order by {{ order_by }}) as read_rank
    from {{ relation }} as raw
  ) as ranked
  where read_rank = 1
{% endmacro %}

{#- The reach of a set of int_threat_events rows (grouped by the caller): messages as distinct
    GUIDs, recipients as distinct addresses (targeted: of the messages, delivered or blocked),
    clicks as distinct click ids, first and last event_time (when a message or click reached
    the person). recipients_clicked_delivered: the clickers who were also delivered a message
    of the group, the funnel's third stage (the caller flags each row's recipient_delivered
    over the group). -#}
{% macro reach_counts() %}
        count(distinct guid) filter (where event_kind = 'message' and disposition = 'delivered')
            as messages_delivered,
        count(distinct guid) filter (where event_kind = 'message' and disposition = 'blocked')
            as messages_blocked,
        count(distinct recipient) filter (where event_kind = 'message') as recipients_targeted,
        count(distinct recipient) filter (where event_kind = 'message' and disposition = 'delivered')
            as recipients_delivered,
        count(distinct recipient) filter (where event_kind = 'click') as recipients_clicked,
        count(distinct recipient) filter (where event_kind = 'click' and recipient_delivered)
            as recipients_clicked_delivered,
        count(distinct event_id) filter (where event_kind = 'click' and disposition = 'permitted')
            as clicks_permitted,
        count(distinct event_id) filter (where event_kind = 'click' and disposition = 'blocked')
            as clicks_blocked,
        min(event_time) as first_seen_at,
        max(event_time) as last_seen_at
{% endmacro %}
