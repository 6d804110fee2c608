{#- The few places where DuckDB (target-duckdb-proofpoint) and PostgreSQL (target-postgres)
    differ. Both loaders keep the names as sent (camelCase): staging quotes them, which DuckDB
    matches without regard to case (so target-duckdb's lower-cased tables work too). -#}

{# A time column as a UTC timestamp with time zone: target-postgres stores naive UTC times. #}
{% macro utc(column) %}{{ return(adapter.dispatch('utc')(column)) }}{% endmacro %}
{% macro default__utc(column) %}cast({{ column }} as timestamp with time zone){% endmacro %}
{% macro postgres__utc(column) %}({{ column }} at time zone 'UTC'){% endmacro %}

{# The elements of an array of strings: VARCHAR[] from target-duckdb-proofpoint (JSON in the
   tables PyPI's target-duckdb made), text[] on PostgreSQL. #}
{% macro string_elements(column) %}{{ return(adapter.dispatch('string_elements')(column)) }}{% endmacro %}
{% macro default__string_elements(column) %}unnest(cast({{ column }} as varchar[])){% endmacro %}
{% macro postgres__string_elements(column) %}unnest({{ column }}){% endmacro %}

{# The elements of an array of objects: JSON on DuckDB, jsonb[] on PostgreSQL. #}
{% macro json_elements(column) %}{{ return(adapter.dispatch('json_elements')(column)) }}{% endmacro %}
{% macro default__json_elements(column) %}unnest(cast({{ column }} as json[])){% endmacro %}
{% macro postgres__json_elements(column) %}unnest({{ column }}){% endmacro %}

{# The host of a URL, lower-cased, without credentials or port. #}
{% macro url_host(column) %}{{ return(adapter.dispatch('url_host')(column)) }}{% endmacro %}
{% macro default__url_host(column) -%}
  lower(nullif(regexp_extract({{ column }}, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)', 1), ''))
{%- endmacro %}
{% macro postgres__url_host(column) -%}
  lower(substring({{ column }} from '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)'))
{%- endmacro %}
