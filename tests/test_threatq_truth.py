"""The issue-26 oracle itself (tests/threatq_truth.py): small hand-written records with the
sets ThreatQ must hold written out by hand, and ``held`` reading the ThreatQ stand-in."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tap_proofpoint_tap.sandboxes.threatq import ThreatQSandbox
from tests.helpers import click, expected_entities
from tests.threatq_api import EMAIL, Api, url_item
from tests.threatq_truth import Truth, event_title, expected, happened_at, held

pytestmark = pytest.mark.fast

URL = "https://bad.example/x"
MD5, SHA, SHA2 = "cc" * 16, "dd" * 32, "ee" * 32


def em(address: str) -> tuple:
    return ("corporate_email", address)


def ind(kind: str, value: str) -> tuple:
    return ("indicator", kind, value)


def ev(guid: str) -> tuple:
    return ("event", guid)


def cp(value: str) -> tuple:
    return ("campaign", value)


def links(*pairs: tuple) -> set:
    return {frozenset(pair) for pair in pairs}


def star(centre: tuple, *ends: tuple) -> set:
    return links(*((centre, end) for end in ends))


def message(guid: str | None, **fields) -> dict:
    base = {"id": f"m-{guid}", "GUID": guid, "messageTime": "2026-03-04T10:15:30.250Z"}
    return base | fields


# -- messages --


def test_a_message_with_two_recipients_an_attached_part_and_threats():
    records = {
        "messages_delivered": [
            message(
                "g-1",
                subject="  Invoice 42  ",
                recipient=["Alice <Alice@Acme.example>", "bob@acme.example"],
                sender="Eve@Bad.example",
                fromAddress=["Eve <eve@bad.example>"],
                replyToAddress=["reply@bad.example"],
                senderIP=" 10.0.0.1 ",
                messageParts=[
                    {
                        "disposition": "inline",
                        "md5": "aa" * 16,
                        "sha256": "bb" * 32,
                        "filename": "text.html",
                        "contentType": "text/html",
                    },
                    {
                        "disposition": "attached",
                        "md5": MD5.upper(),
                        "sha256": SHA.upper(),
                        "filename": " Invoice.pdf ",
                        "contentType": "application/pdf",
                    },
                ],
                threatsInfoMap=[
                    {
                        "threatID": "t-url",
                        "campaignID": "c-1",
                        "classification": "phish",
                        "threat": URL,
                        "threatStatus": "active",
                        "threatType": "url",
                    },
                    {
                        "threatID": SHA,
                        "campaignID": None,
                        "classification": "malware",
                        "threat": SHA.upper(),
                        "threatStatus": "active",
                        "threatType": "attachment",
                    },
                    {
                        "threatID": "t-text",
                        "classification": "impostor",
                        "threat": "Pay now",
                        "threatStatus": "active",
                        "threatType": "messageText",
                    },
                ],
            )
        ],
        "clicks_blocked": [click(9, datetime(2026, 3, 4, tzinfo=timezone.utc))],
        "very_attacked_people": [{"guid": "x"}],
    }
    indicators = [
        ind("Email Address", "eve@bad.example"),
        ind("Email Address", "reply@bad.example"),
        ind("IP Address", "10.0.0.1"),
        ind("Email Subject", "invoice 42"),
        ind("MD5", MD5),
        ind("SHA-256", SHA),
        ind("Filename", "invoice.pdf"),
        ind("URL", URL),
    ]
    assert expected(records) == Truth(
        corporate_emails={"alice@acme.example", "bob@acme.example"},
        indicators={i[1:] for i in indicators},
        events={("g-1", "spearphish", "Invoice 42 [message g-1]", "2026-03-04 10:15:30")},
        attributes={
            (ind("MD5", MD5), "Content Type", "application/pdf"),
            (ind("SHA-256", SHA), "Content Type", "application/pdf"),
            (ind("Filename", "invoice.pdf"), "Content Type", "application/pdf"),
            (ind("URL", URL), "Classification", "phish"),
            (ind("URL", URL), "Threat Status", "active"),
            (ind("URL", URL), "Threat ID", "t-url"),
            (ind("URL", URL), "Campaign ID", "c-1"),  # campaign c-1 not read: no campaign
            (ind("SHA-256", SHA), "Classification", "malware"),
            (ind("SHA-256", SHA), "Threat Status", "active"),
            (ind("SHA-256", SHA), "Threat ID", SHA),
        },
        links=star(ev("g-1"), em("alice@acme.example"), em("bob@acme.example"), *indicators),
    )


def test_a_guid_read_twice_is_one_event_with_the_first_title_and_both_recipients():
    first = message(
        "g-2",
        messageTime="2026-03-04T11:00:00Z",
        subject="First",
        recipient=["a@acme.example"],
        sender="s@bad.example",
    )
    second = first | {
        "messageTime": "2026-03-04T11:00:05Z",
        "subject": "Second",
        "recipient": ["b@acme.example"],
    }
    # delivered before blocked, whatever the mapping's order
    got = expected({"messages_blocked": [second], "messages_delivered": [first]})
    assert got == Truth(
        corporate_emails={"a@acme.example", "b@acme.example"},
        indicators={
            ("Email Address", "s@bad.example"),
            ("Email Subject", "first"),
            ("Email Subject", "second"),
        },
        events={("g-2", "spearphish", "First [message g-2]", "2026-03-04 11:00:00")},
        links=star(
            ev("g-2"),
            em("a@acme.example"),
            em("b@acme.example"),
            ind("Email Address", "s@bad.example"),
            ind("Email Subject", "first"),
            ind("Email Subject", "second"),
        ),
    )
    assert expected({"messages_delivered": [first, second]}) == got
    # a record of the GUID without a time gives no event but its links to the event
    untimed = second | {"messageTime": None}
    assert expected({"messages_delivered": [untimed, first]}) == got


def test_titles_times_and_messages_without_an_event():
    long = "x" * 250
    records = {
        "messages_delivered": [
            message("g-3", subject=None, messageTime="2026-03-04T12:00:00.5+02:00"),
            message("g-4", subject=f" {long} ", messageTime="2026-03-04T12:00:00"),
            message("g-5", subject="No time", messageTime=None, senderIP="1.2.3.4"),
            message(None, subject="No GUID", senderIP="1.2.3.4"),
        ]
    }
    assert expected(records, event_type="Malware") == Truth(
        indicators={
            ("Email Subject", long),
            ("Email Subject", "no time"),
            ("Email Subject", "no guid"),
            ("IP Address", "1.2.3.4"),
        },
        events={
            ("g-3", "malware", "(no subject) [message g-3]", "2026-03-04 10:00:00"),
            ("g-4", "malware", "x" * 199 + "… [message g-4]", "2026-03-04 12:00:00"),
        },
        links=star(ev("g-4"), ind("Email Subject", long)),
    )
    assert len(event_title("y" * 200, "g")) == 200 + len(" [message g]")
    assert event_title("y" * 201, "g") == "y" * 199 + "… [message g]"


@pytest.mark.parametrize(
    ("sent", "held_as"),
    [
        ("2026-03-04T10:15:30.250Z", "2026-03-04 10:15:30"),
        ("2026-03-04T10:15:30.999999999Z", "2026-03-04 10:15:30"),
        ("2026-03-04T10:15:30.5Z", "2026-03-04 10:15:30"),
        ("2026-03-04T00:30:00-01:00", "2026-03-04 01:30:00"),
        ("2026-03-04T00:30:00+01:00", "2026-03-03 23:30:00"),
        ("2026-03-04 10:15:30", "2026-03-04 10:15:30"),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_happened_at(sent, held_as):
    assert happened_at(sent) == held_as


# -- campaigns, threats, clicks --


def test_a_campaign_with_actors_malware_techniques_members_and_what_links_to_it():
    campaign = {
        "id": "c-1",
        "name": " TA505 Invoices ",
        "startDate": "2026-03-01T00:00:00.000Z",
        "actors": [{"id": "a-1", "name": "TA505"}, None],
        "malware": [{"id": "m-1", "name": "Dridex"}],
        "techniques": [{"id": "x-1", "name": "T1566 Phishing"}],
        "brands": [{"name": "DocuSign"}, {"name": "Microsoft"}],
        "families": [{"name": "Banking"}],
        "campaignMembers": [
            {"id": "t-url", "threat": URL, "threatStatus": "active", "type": "url"},
            {
                "id": "t-att",
                "threat": SHA2.upper(),
                "threatStatus": "cleared",
                "type": "attachment",
            },
            {"id": "t-msg", "threat": "Pay now", "threatStatus": "active", "type": "messageText"},
        ],
    }
    mail = message(
        "g-5",
        subject="",
        threatsInfoMap=[
            {"threatType": "url", "threat": URL, "campaignID": "c-1", "threatID": "t-url"},
            {"threatType": "messageText", "threat": "Hi", "campaignID": "c-9"},
        ],
    )
    clicked = {
        "id": "click-1",
        "GUID": "g-5",
        "campaignId": "c-1",
        "url": URL,
        "sender": "s@bad.example",
        "recipient": ["alice@acme.example", "bob@acme.example"],
        "classification": "phish",
        "threatStatus": "active",
        "threatID": "t-url",
        "threatURL": "https://ti.example/t-url",
        "senderIP": "5.6.7.8",
    }
    unread = {"id": "click-2", "GUID": "g-9", "campaignId": "c-9", "url": URL, "recipient": None}
    records = {
        "campaigns": [campaign, {"id": "c-2", "name": None}],
        "messages_delivered": [mail],
        "clicks_permitted": [clicked, unread],
    }
    camp, url, sha = cp("ta505 invoices"), ind("URL", URL), ind("SHA-256", SHA2)
    sender, incident = ind("Email Address", "s@bad.example"), ("incident", "click-1")
    want = Truth(
        corporate_emails={"alice@acme.example"},
        indicators={("URL", URL), ("SHA-256", SHA2), ("Email Address", "s@bad.example")},
        incidents={"click-1", "click-2"},
        events={("g-5", "spearphish", "(no subject) [message g-5]", "2026-03-04 10:15:30")},
        campaigns={"ta505 invoices", "proofpoint campaign c-2"},
        adversaries={"ta505"},
        malware={"dridex"},
        ttps={"t1566 phishing"},
        attributes={
            (camp, "Campaign ID", "c-1"),
            (camp, "Start Date", "2026-03-01t00:00:00.000z"),
            (camp, "Brand", "docusign"),
            (camp, "Brand", "microsoft"),
            (camp, "Family", "banking"),
            (cp("proofpoint campaign c-2"), "Campaign ID", "c-2"),
            # the member's, the message threat's and the click's, merged
            (url, "Threat Status", "active"),
            (url, "Threat ID", "t-url"),
            (url, "Campaign ID", "c-1"),
            (url, "Classification", "phish"),
            (url, "Threat URL", "https://ti.example/t-url"),
            (url, "Campaign ID", "c-9"),  # click-2's, though campaign c-9 was not read
            (sha, "Threat Status", "cleared"),
            (sha, "Threat ID", "t-att"),
            (sha, "Campaign ID", "c-1"),
            (sender, "Sender IP", "5.6.7.8"),
            (sender, "Classification", "phish"),
        },
        links=star(camp, ("adversary", "ta505"), ("malware", "dridex"), ("ttp", "t1566 phishing"))
        | star(camp, url, sha, ev("g-5"), incident)
        | star(ev("g-5"), url, incident)
        | star(incident, em("alice@acme.example"), url, sender)
        | links((em("alice@acme.example"), url), (url, sender), (("incident", "click-2"), url)),
    )
    got = expected(records)
    assert got == want, got.diff(want, "got", "want")


def test_a_threat_summary():
    threats = [
        {
            "id": "t-url",
            "name": "https://bad.example/y",
            "type": "url",
            "category": "phish",
            "detectionType": "URL_DEFENSE",
            "severityScore": 7,
            "attackSpread": 120,
            "actors": [{"name": "TA542"}],
            "malware": [{"name": "Emotet"}],
            "techniques": [{"name": "T1204"}],
        },
        {
            "id": "t-att",
            "name": "FF" * 32,
            "type": "attachment",
            "category": "malware",
            "severityScore": 0,
            "attackSpread": None,
            "malware": [{"name": "emotet"}],
            "techniques": None,
        },
        {"id": "t-msg", "name": "Pay now", "type": "messageText", "actors": [{"name": "TA1"}]},
    ]
    url, sha = ind("URL", "https://bad.example/y"), ind("SHA-256", "ff" * 32)
    assert expected({"threats": threats}) == Truth(
        indicators={url[1:], sha[1:]},
        adversaries={"ta542", "ta1"},
        malware={"emotet"},
        ttps={"t1204"},
        attributes={
            (url, "Severity", "7"),
            (url, "Attack Spread", "120"),
            (url, "Threat Category", "phish"),
            (url, "Detection Type", "url_defense"),
            (sha, "Severity", "0"),
            (sha, "Threat Category", "malware"),
        },
        links=star(url, ("adversary", "ta542"), ("malware", "emotet"), ("ttp", "t1204"))
        | links((sha, ("malware", "emotet"))),
    )


def test_clicks_agree_with_the_helpers_reading():
    created = datetime(2026, 3, 4, 9, tzinfo=timezone.utc)
    clicks = [click(n, created) for n in range(3)]
    clicks[1]["recipient"] = ["user1@acme.example", "other@acme.example"]
    clicks[2] |= {"sender": "", "campaignId": "c-7"}
    got = expected({"clicks_permitted": clicks})
    want = expected_entities(clicks)

    def natural(key: tuple) -> str:  # address, value or click id
        return key[-1]

    assert got.corporate_emails == want["emails"]
    assert {value for _, value in got.indicators} == want["indicators"]
    assert got.incidents == want["incidents"]
    assert {frozenset(map(natural, link)) for link in got.links} == {
        frozenset(pair) for pair in want["links"]
    }
    assert {(natural(k), name, value) for k, name, value in got.attributes} == want["attributes"]


# -- forensics --

CAMPAIGN = {"id": "c-1", "name": "C1"}


def evidence(kind: str, what: dict, malicious: bool | None = True, **report) -> dict:
    return {"type": kind, "what": what, "malicious": malicious, **report}


def by_campaign(campaign_id: str) -> dict:
    return {"scope": "campaign", "reportId": campaign_id, "reportName": "C1"}


def by_threat(name: str) -> dict:
    return {"scope": "threat", "reportId": "t", "reportName": name}


FORENSICS = [
    evidence("url", {"url": "https://evil.example/a"}, **by_campaign("c-1")),
    evidence(
        "dns", {"host": "Evil.Example", "ips": ["1.1.1.1", None, "2.2.2.2"]}, **by_campaign("c-1")
    ),
    evidence("network", {"ip": "3.3.3.3"}, **by_threat(URL)),
    evidence("attachment", {"md5": "99" * 16, "sha256": "AB" * 32}, **by_threat("AB" * 32)),
    evidence("file", {"md5": "88" * 16}, malicious=False, **by_threat("ab" * 32)),
    evidence("url", {"url": "https://x.example/"}, **by_threat("not a threat value")),
    evidence("network", {"ip": "4.4.4.4"}, **by_campaign("c-9")),
    evidence("behavior", {"rule": "x"}, **by_threat("https://bad.example/z")),
    evidence("network", {"ip": "5.5.5.5"}, malicious=None, **by_campaign("c-1")),
    evidence("network", None, **by_campaign("c-1")),
]
MALICIOUS = Truth(
    indicators={
        ("URL", "https://evil.example/a"),
        ("FQDN", "evil.example"),
        ("IP Address", "1.1.1.1"),
        ("IP Address", "2.2.2.2"),
        ("IP Address", "3.3.3.3"),
        ("URL", URL),
        ("MD5", "99" * 16),
        ("SHA-256", "ab" * 32),
        ("URL", "https://x.example/"),
        ("IP Address", "4.4.4.4"),
        ("URL", "https://bad.example/z"),
    },
    campaigns={"c1"},
    attributes={(cp("c1"), "Campaign ID", "c-1")},
    links=star(
        cp("c1"),
        ind("URL", "https://evil.example/a"),
        ind("FQDN", "evil.example"),
        ind("IP Address", "1.1.1.1"),
        ind("IP Address", "2.2.2.2"),
    )
    | links(
        (ind("IP Address", "3.3.3.3"), ind("URL", URL)),
        (ind("MD5", "99" * 16), ind("SHA-256", "ab" * 32)),  # and not the SHA-256 with itself
    ),
)
ALL = Truth(
    **{
        **{f: getattr(MALICIOUS, f) for f in MALICIOUS.counts()},
        "indicators": MALICIOUS.indicators | {("MD5", "88" * 16), ("IP Address", "5.5.5.5")},
        "links": MALICIOUS.links
        | links(
            (ind("MD5", "88" * 16), ind("SHA-256", "ab" * 32)),
            (ind("IP Address", "5.5.5.5"), cp("c1")),
        ),
    }
)
NONE = Truth(campaigns={"c1"}, attributes={(cp("c1"), "Campaign ID", "c-1")})


@pytest.mark.parametrize(
    ("setting", "want"), [("malicious", MALICIOUS), ("all", ALL), ("none", NONE)]
)
def test_forensic_reports_by_campaign_and_by_threat(setting, want):
    records = {"campaigns": [CAMPAIGN], "forensics": FORENSICS}
    got = expected(records, forensics_indicators=setting)
    assert got == want, got.diff(want, "got", "want")
    if setting == "malicious":
        assert expected(records) == got
    with pytest.raises(ValueError, match="forensics_indicators"):
        expected(records, forensics_indicators="some")


# -- empty values and case --


def test_empty_values_give_no_entity_link_or_attribute():
    records = {
        "clicks_permitted": [
            {
                "id": "click-e",
                "url": "",
                "sender": "",
                "recipient": "  ",
                "classification": "",
                "threatStatus": None,
                "GUID": "",
                "campaignId": "",
            }
        ],
        "messages_delivered": [
            message(
                "",
                recipient=["", " "],
                sender="",
                fromAddress=[None, ""],
                replyToAddress=None,
                senderIP="",
                subject="  ",
                messageParts=[
                    {"disposition": "attached", "md5": "", "sha256": None, "filename": ""}
                ],
                threatsInfoMap=[{"threatType": "url", "threat": "", "classification": "phish"}],
            ),
            message("g-6", recipient=[" "], sender=" ", subject=None),
        ],
        "campaigns": [
            {
                "id": "c-3",
                "name": "",
                "startDate": None,
                "actors": [{"name": ""}],
                "brands": [{"name": " "}],
                "campaignMembers": [{"type": "url", "threat": " ", "id": "m"}],
            }
        ],
        "threats": [{"type": "url", "name": "", "severityScore": 3, "actors": [{"name": "TA9"}]}],
        "forensics": [evidence("dns", {"host": "", "ips": [""]}, **by_campaign("c-3"))],
    }
    assert expected(records) == Truth(
        incidents={"click-e"},
        events={("g-6", "spearphish", "(no subject) [message g-6]", "2026-03-04 10:15:30")},
        campaigns={"proofpoint campaign c-3"},
        adversaries={"ta9"},
        attributes={(cp("proofpoint campaign c-3"), "Campaign ID", "c-3")},
    )
    assert expected({}) == Truth() and Truth().counts()["links"] == 0


def test_values_case_folded_where_threatq_compares_without_case():
    created = datetime(2026, 3, 4, 9, tzinfo=timezone.utc)
    clicks = [click(1, created), click(2, created)]
    clicks[0] |= {"url": "https://Bad.example/X", "classification": "Phish"}
    clicks[1] |= {"url": "https://bad.example/x", "recipient": "User1@Acme.example"}
    records = {
        "clicks_permitted": clicks,
        "campaigns": [{"id": "c-1", "name": "TA505"}, {"id": "c-2", "name": "ta505"}],
        "threats": [{"type": "attachment", "name": "AB" * 32, "actors": [{"name": "TA505"}]}],
        "forensics": [evidence("attachment", {"sha256": "ab" * 32}, **by_campaign("c-2"))],
    }
    got = expected(records)
    url = ind("URL", "https://bad.example/x")
    assert got.corporate_emails == {"user1@acme.example"}
    assert got.indicators == {
        ("URL", "https://bad.example/x"),
        ("Email Address", "s@bad.example"),
        ("SHA-256", "ab" * 32),
    }
    assert got.campaigns == {"ta505"} and got.adversaries == {"ta505"}
    assert {(name, value) for key, name, value in got.attributes if key == url} == {
        ("Classification", "phish"),
        ("Threat Status", "active"),
        ("Threat ID", "t1"),
        ("Threat ID", "t2"),
        ("Threat URL", "https://threatinsight.example/t"),
    }
    assert {(n, v) for k, n, v in got.attributes if k == cp("ta505")} == {
        ("Campaign ID", "c-1"),
        ("Campaign ID", "c-2"),
    }
    assert links((ind("SHA-256", "ab" * 32), cp("ta505"))) <= got.links


# -- Truth's helpers --


def test_counts_and_diff():
    a = Truth(indicators={("URL", "a"), ("URL", "b")}, incidents={"c-1"})
    b = Truth(indicators={("URL", "b"), ("URL", "c")}, incidents=frozenset({"c-1"}))
    assert a.counts()["indicators"] == 2 and a.counts()["links"] == 0
    assert a != b and a.diff(a) == "no difference"
    assert a.diff(b, "held", "expected") == (
        "indicators (2 vs 2):\n"
        "  only in held (1): [('URL', 'a')]\n"
        "  only in expected (1): [('URL', 'c')]"
    )
    many = Truth(incidents={f"c-{n}" for n in range(8)})
    assert "… and 3 more" in many.diff(Truth())


# -- held: the stand-in read back --


def test_held_reads_the_stand_in(api, sb):
    def post(path: str, body) -> None:
        r = api.post(path, body)
        assert r.status_code == 201, r.text

    post(f"/{EMAIL}/consume", [{"value": "Alice@Acme.example"}])
    post(
        "/indicators/consume",
        [
            url_item(
                "https://Bad.example/X", attributes=[{"name": "Classification", "value": "Phish"}]
            ),
            {"value": SHA.upper(), "type": {"name": "SHA-256"}, "status": {"name": "Active"}},
        ],
    )
    post("/incident/consume", [{"value": "alice clicked a phish link [click click-1]"}])
    event = {"type": {"name": "Spearphish"}, "happened_at": "2026-03-04 10:15:30"}
    post("/events/consume", [{"title": "Invoice [message g-1]", **event}])
    post(
        "/campaign/consume",
        [{"value": "TA505 Invoices", "attributes": [{"name": "Campaign ID", "value": "c-1"}]}],
    )
    post("/adversaries/consume", [{"name": "TA505"}])
    post("/malware/consume", [{"value": "Dridex"}])
    post("/ttp/consume", [{"value": "T1566"}])
    for a, b, other in (
        ("incident", EMAIL, 1),
        ("incident", "indicators", 1),
        ("indicators", "indicators", 2),
        ("events", "incident", 1),
        ("events", "campaign", 1),
        ("campaign", "adversaries", 1),
        ("malware", "campaign", 1),
        ("campaign", "ttp", 1),
    ):
        post(f"/{a}/1/{b}", {"id": other})
    url, sha, camp = ind("URL", "https://bad.example/x"), ind("SHA-256", SHA), cp("ta505 invoices")
    incident = ("incident", "click-1")
    want = Truth(
        corporate_emails={"alice@acme.example"},
        indicators={url[1:], sha[1:]},
        incidents={"click-1"},
        events={("g-1", "spearphish", "Invoice [message g-1]", "2026-03-04 10:15:30")},
        campaigns={"ta505 invoices"},
        adversaries={"ta505"},
        malware={"dridex"},
        ttps={"t1566"},
        attributes={(url, "Classification", "phish"), (camp, "Campaign ID", "c-1")},
        links=star(incident, em("alice@acme.example"), url, ev("g-1"))
        | links((url, sha), (ev("g-1"), camp))
        | star(camp, ("adversary", "ta505"), ("malware", "dridex"), ("ttp", "t1566")),
    )
    got = held(sb.store)
    assert got == want, got.diff(want, "held", "want")

    # events are never deduplicated: a second one of the GUID is a duplicate the sets hide
    post("/events/consume", [{"title": "Invoice [message g-1]", **event}])
    with pytest.raises(AssertionError, match="2 events of GUID 'g-1'"):
        held(sb.store)
    assert held(sb.store, strict=False) == want


def test_held_names_duplicate_links_and_attribute_rows():
    with ThreatQSandbox(duplicate_reposts=True) as tq:
        api = Api(tq)
        api.post("/indicators/consume", [url_item("https://a.example/"), url_item(URL)])
        for _ in range(2):
            api.post("/indicators/1/indicators", {"id": 2})
            api.post("/indicators/1/attributes", {"name": "Classification", "value": "phish"})
        with pytest.raises(AssertionError) as raised:
            held(tq.store)
        assert "2 links between" in str(raised.value)
        assert "attribute ('classification', 'phish')" in str(raised.value)
        loose = held(tq.store, strict=False)
        assert loose.links == links((ind("URL", "https://a.example/"), ind("URL", URL)))
        assert loose.attributes == {(ind("URL", "https://a.example/"), "Classification", "phish")}
