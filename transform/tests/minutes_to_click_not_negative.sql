-- A click comes after its delivery. A warning, not an error: a delivery event can be missing or
-- a re-delivery can be the one loaded.
{{ config(severity='warn') }}
select click_id, delivered_at, click_time, minutes_to_click
from {{ ref('fct_clicks') }}
where delivered_at is not null and minutes_to_click < 0
