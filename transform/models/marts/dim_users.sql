-- One row per person (recipient address): what reached them, what they clicked.
with received as (
    select recipients.recipient,
           count(distinct recipients.message_event_id) filter (where recipients.disposition = 'delivered')
               as messages_delivered,
           count(distinct recipients.message_event_id) filter (where recipients.disposition = 'blocked')
               as messages_blocked,
           count(distinct threats.threat_id) as threats_received,
           min(recipients.message_time) as first_message_at
    from {{ ref('int_message_recipients') }} as recipients
    left join {{ ref('int_message_threats') }} as threats
        on threats.message_event_id = recipients.message_event_id
    group by recipients.recipient
),

clicked as (
    select recipient,
           count(*) as clicks,
           count(*) filter (where disposition = 'permitted') as clicks_permitted,
           count(*) filter (where disposition = 'blocked') as clicks_blocked,
           count(distinct threat_id) as threats_clicked,
           count(distinct guid) as messages_clicked,
           min(click_time) as first_click_at,
           max(click_time) as last_click_at
    from {{ ref('fct_clicks') }}
    group by recipient
),

people as (
    select recipient from received
    union
    select recipient from clicked
)

select
    people.recipient as user_email,
    coalesce(received.messages_delivered, 0) as messages_delivered,
    coalesce(received.messages_blocked, 0) as messages_blocked,
    coalesce(received.threats_received, 0) as threats_received,
    coalesce(clicked.clicks, 0) as clicks,
    coalesce(clicked.clicks_permitted, 0) as clicks_permitted,
    coalesce(clicked.clicks_blocked, 0) as clicks_blocked,
    coalesce(clicked.threats_clicked, 0) as threats_clicked,
    -- clicked more than one threat, or more than one message
    coalesce(clicked.threats_clicked > 1 or clicked.messages_clicked > 1, false) as is_repeat_clicker,
    case when received.first_message_at is null then clicked.first_click_at
         when clicked.first_click_at is null then received.first_message_at
         else least(received.first_message_at, clicked.first_click_at) end as first_seen_at,
    clicked.last_click_at
from people
left join received on received.recipient = people.recipient
left join clicked on clicked.recipient = people.recipient
where people.recipient is not null
