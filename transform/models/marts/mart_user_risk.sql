-- Most-attacked people: a PROXY computed from the events loaded here, not Proofpoint's VAP list
-- or Attack Index (those come from the People API and weigh more than these events show).
-- attack_index_proxy = the classification weights (seeds/classification_weights.csv) of the
-- distinct threats a person received, plus 2 for each permitted click.
with received as (
    select distinct recipients.recipient, threats.threat_id, threats.classification
    from {{ ref('int_message_recipients') }} as recipients
    join {{ ref('int_message_threats') }} as threats
        on threats.message_event_id = recipients.message_event_id
    where threats.threat_id is not null
),

scored as (
    select
        received.recipient,
        count(*) as threats_received,
        count(*) filter (where received.classification = 'malware') as malware_threats,
        count(*) filter (where received.classification = 'phish') as phish_threats,
        count(*) filter (where received.classification = 'spam') as spam_threats,
        count(*) filter (where received.classification = 'impostor') as impostor_threats,
        count(*) filter (where received.classification not in ('malware', 'phish', 'spam', 'impostor')
                         or received.classification is null) as other_threats,
        sum(coalesce(weights.weight, 1)) as weight
    from received
    left join {{ ref('classification_weights') }} as weights
        on weights.classification = received.classification
    group by received.recipient
)

select
    scored.recipient as user_email,
    cast(scored.weight + 2 * coalesce(users.clicks_permitted, 0) as double precision) as attack_index_proxy,
    row_number() over (order by scored.weight + 2 * coalesce(users.clicks_permitted, 0) desc,
                                scored.recipient) as risk_rank,
    scored.threats_received,
    scored.malware_threats,
    scored.phish_threats,
    scored.spam_threats,
    scored.impostor_threats,
    scored.other_threats,
    coalesce(users.clicks_permitted, 0) as clicks_permitted
from scored
left join {{ ref('dim_users') }} as users on users.user_email = scored.recipient
