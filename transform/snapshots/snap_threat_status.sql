{#- The status history of every threat: each dbt build (or dbt snapshot) records a new row
    when a threat's latest status changes, so active → cleared / falsePositive flips are kept. -#}
{% snapshot snap_threat_status %}
{{ config(unique_key='threat_id', strategy='check',
          check_cols=['threat_status', 'classification']) }}
select threat_id, threat_status, classification, latest_threat_time
from {{ ref('dim_threats') }}
{% endsnapshot %}
