-- No click time after now (plus five minutes of clock skew): a time-zone slip would show here.
select click_id, click_time
from {{ ref('fct_clicks') }}
where click_time > current_timestamp + interval '5 minutes'
