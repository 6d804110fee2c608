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

{# The elements of a JSON value that holds an array (an object's member, such as a message
   threat's "actors" or a forensic "what"'s "ips"): nothing when it is null or not an array. #}
{% macro json_array_elements(value) %}{{ return(adapter.dispatch('json_array_elements')(value)) }}{% endmacro %}
{% macro default__json_array_elements(value) -%}
  unnest(cast(case when json_type(cast({{ value }} as json)) = 'ARRAY' then cast({{ value }} as json) end as json[]))
{%- endmacro %}
{% macro postgres__json_array_elements(value) -%}
  jsonb_array_elements(case when jsonb_typeof(cast({{ value }} as jsonb)) = 'array' then cast({{ value }} as jsonb) end)
{%- endmacro %}

{# The same, each element as text (strings without their quotes). #}
{% macro json_array_texts(value) %}{{ return(adapter.dispatch('json_array_texts')(value)) }}{% endmacro %}
{% macro default__json_array_texts(value) -%}
  unnest(cast(case when json_type(cast({{ value }} as json)) = 'ARRAY' then cast({{ value }} as json) end as varchar[]))
{%- endmacro %}
{% macro postgres__json_array_texts(value) -%}
  jsonb_array_elements_text(case when jsonb_typeof(cast({{ value }} as jsonb)) = 'array' then cast({{ value }} as jsonb) end)
{%- endmacro %}

{# A member of a JSON object column as text: JSON on DuckDB (text in PyPI's target-duckdb's
   tables), jsonb on PostgreSQL. #}
{% macro json_text(column, key) %}{{ return(adapter.dispatch('json_text')(column, key)) }}{% endmacro %}
{% macro default__json_text(column, key) %}(cast({{ column }} as json) ->> '{{ key }}'){% endmacro %}
{% macro postgres__json_text(column, key) %}(cast({{ column }} as jsonb) ->> '{{ key }}'){% endmacro %}

{# A JSON object column's member as JSON (for json_array_elements / json_array_texts). #}
{% macro json_member(column, key) %}{{ return(adapter.dispatch('json_member')(column, key)) }}{% endmacro %}
{% macro default__json_member(column, key) %}(cast({{ column }} as json) -> '{{ key }}'){% endmacro %}
{% macro postgres__json_member(column, key) %}(cast({{ column }} as jsonb) -> '{{ key }}'){% endmacro %}

{# Names joined with ', ' in the order given (string_agg's order clause, both adapters), '' for none. #}
{% macro names_list(name, order_by) -%}
  coalesce(string_agg({{ name }}, ', ' order by {{ order_by }}), '')
{%- endmacro %}

{# A text to order by, in byte order on both databases (PostgreSQL's default collation follows
   the server's locale; DuckDB compares bytes): ranks and sorted name lists come out the same. #}
{% macro sortable(expr) %}{{ return(adapter.dispatch('sortable')(expr)) }}{% endmacro %}
{% macro default__sortable(expr) %}{{ expr }}{% endmacro %}
{% macro postgres__sortable(expr) %}({{ expr }}) collate "C"{% endmacro %}

{#- An intel stream's table, or an empty relation of its columns when the loader never made it:
    forensics and the people rankings are not selected by default (they spend 50-a-day pools),
    and the marts still build without them. ``columns``: name → kind (text, bigint, double,
    boolean, timestamp, object, objects = an array of objects, strings = an array of strings),
    typed as each loader makes them. -#}
{% macro intel_source(table, columns) %}
  {%- set relation = source('tap_proofpoint_intel', table) -%}
  {%- if execute and load_relation(relation) is none -%}
    {%- set types = intel_types() -%}
    (select {% for name, kind in columns.items() -%}
       cast(null as {{ types[kind] }}) as "{{ name }}"{% if not loop.last %}, {% endif %}
     {%- endfor %} where 1 = 0)
  {%- else -%}
    {{ relation }}
  {%- endif -%}
{% endmacro %}

{% macro intel_types() %}{{ return(adapter.dispatch('intel_types')()) }}{% endmacro %}
{% macro default__intel_types() %}
  {{ return({'text': 'varchar', 'bigint': 'bigint', 'double': 'double', 'boolean': 'boolean',
             'timestamp': 'timestamp with time zone', 'object': 'json', 'objects': 'json',
             'strings': 'varchar[]'}) }}
{% endmacro %}
{% macro postgres__intel_types() %}
  {{ return({'text': 'text', 'bigint': 'bigint', 'double': 'double precision',
             'boolean': 'boolean', 'timestamp': 'timestamp', 'object': 'jsonb',
             'objects': 'jsonb[]', 'strings': 'text[]'}) }}
{% endmacro %}
