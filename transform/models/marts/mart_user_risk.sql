-- Most-attacked people: a PROXY computed from the events loaded here, not Proofpoint's VAP list
-- or Attack Index (those come from the People API and weigh more than these events show).
-- attack_index_proxy = the classification weights (seeds/classification_weights.csv) of the
-- distinct threats a person received (each threat once, with its classification from
-- dim_threats), plus 2 for each permitted click. Everyone in dim_users is ranked, so a person
-- who clicked without a loaded message still scores their clicks.
with received as (
    select distinct recipients.recipient, threats.threat_id
    from {{ ref('int_message_recipients') }} as recipients
    join {{ ref('int_message_threats') }} as threats
        on threats.message_event_id = recipients.message_event_id
    where threats.threat_id is not null
),

mix as (
    select
        received.recipient,
        count(*) as threats_received,
        count(*) filter (where threats.classification = 'malware') as malware_threats,
        count(*) filter (where threats.classification = 'phish') as phish_threats,
        count(*) filter (where threats.classification = 'spam') as spam_threats,
        count(*) filter (where threats.classification = 'impostor') as impostor_threats,
        count(*) filter (where threats.classification not in ('malware', 'phish', 'spam', 'impostor')
                         or threats.classification is null) as other_threats,
        sum(coalesce(weights.weight, 1)) as weight
    from received
    join {{ ref('dim_threats') }} as threats on threats.threat_id = received.threat_id
    left join {{ ref('classification_weights') }} as weights
        on weights.classification = threats.classification
    group by received.recipient
),

scored as (
    select
        users.user_email,
        coalesce(mix.weight, 0) + 2 * users.clicks_permitted as score,
        coalesce(mix.threats_received, 0) as threats_received,
        coalesce(mix.malware_threats, 0) as malware_threats,
        coalesce(mix.phish_threats, 0) as phish_threats,
        coalesce(mix.spam_threats, 0) as spam_threats,
        coalesce(mix.impostor_threats, 0) as impostor_threats,
        coalesce(mix.other_threats, 0) as other_threats,
        users.clicks_permitted
    from {{ ref('dim_users') }} as users
    left join mix on mix.recipient = users.user_email
)

select
    user_email,
    cast(score as double precision) as attack_index_proxy,
    row_number() over (order by score desc, user_email) as risk_rank,
    threats_received,
    malware_threats,
    phish_threats,
    spam_threats,
    impostor_threats,
    other_threats,
    clicks_permitted
from scored
