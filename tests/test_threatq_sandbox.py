"""The ThreatQ stand-in against a real HTTP client on loopback: every rule of its contract
(shared/threatq-api.md §12), each default and each pessimistic switch."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
import requests

from tap_proofpoint_tap.sandboxes.threatq import Credentials, Fault, Maintenance, ThreatQSandbox
from tap_proofpoint_tap.sandboxes.threatq.cli import parse_fault, parse_maintenance
from tests.threatq_api import CREDS, EMAIL, Api, password_token, url_item


def type_id(api: Api, name: str) -> int:
    return api.get("/indicator/types", name=name).json()["data"][0]["id"]


# -- §2 auth --


@pytest.mark.fast
def test_every_password_grant_variant_and_client_credentials(sb):
    url = sb.url + "/api/token"
    answers = [
        requests.post(
            url,
            params={"grant_type": "password", "client_id": CREDS.client_id},
            json={"email": CREDS.email, "password": CREDS.password},
        ),
        requests.post(
            url,
            data={
                "grant_type": "password",
                "email": CREDS.email,
                "password": CREDS.password,
                "client_id": CREDS.client_id,
            },
        ),
        requests.post(
            url,
            json={
                "grant_type": "password",
                "email": CREDS.email,
                "password": CREDS.password,
                "client_id": CREDS.client_id,
            },
        ),
        requests.post(
            url,
            params={"grant_type": "client_credentials"},
            auth=(CREDS.client_id, CREDS.client_secret),
        ),
        requests.post(
            url,
            params={
                "grant_type": "client_credentials",
                "client_id": CREDS.client_id,
                "client_secret": CREDS.client_secret,
            },
        ),
    ]
    for r in answers:
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
        assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
        got = requests.get(
            sb.url + "/api/objects", headers={"Authorization": "Bearer " + body["access_token"]}
        )
        assert got.status_code == 200
    assert len({r.json()["access_token"] for r in answers}) == len(answers)


@pytest.mark.fast
def test_refresh_rotates_the_pair_and_revokes_the_old_one(sb):
    first = password_token(sb)
    r = requests.post(
        sb.url + "/api/token",
        params={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers={"Authorization": "Bearer " + first["access_token"]},
    )
    assert r.status_code == 200
    second = r.json()
    assert second["access_token"] != first["access_token"]
    assert (
        requests.get(
            sb.url + "/api/objects", headers={"Authorization": "Bearer " + second["access_token"]}
        ).status_code
        == 200
    )
    assert (
        requests.get(
            sb.url + "/api/objects", headers={"Authorization": "Bearer " + first["access_token"]}
        ).status_code
        == 401
    )
    again = requests.post(
        sb.url + "/api/token",
        params={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"


@pytest.mark.fast
@pytest.mark.parametrize(
    ("params", "body", "auth", "error"),
    [
        (
            {"grant_type": "password", "client_id": CREDS.client_id},
            {"email": CREDS.email, "password": "wrong"},
            None,
            "invalid_grant",
        ),
        (
            {"grant_type": "password", "client_id": "other"},
            {"email": CREDS.email, "password": CREDS.password},
            None,
            "invalid_client",
        ),
        ({"grant_type": "client_credentials"}, None, (CREDS.client_id, "wrong"), "invalid_client"),
        ({"grant_type": "implicit"}, None, None, "unsupported_grant_type"),
    ],
)
def test_bad_credentials_are_400(sb, params, body, auth, error):
    r = requests.post(sb.url + "/api/token", params=params, json=body, auth=auth)
    assert r.status_code == 400
    assert r.json()["error"] == error and r.json()["message"]


class FakeClock:
    """Monotonic seconds that move only when a test says so (the stand-in's ``clock``)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.fast
def test_missing_unknown_and_expired_tokens_are_401():
    clock = FakeClock()
    with ThreatQSandbox(token_expiry=0.3, clock=clock) as sb:
        token = password_token(sb)
        assert token["expires_in"] == 0.3
        good = {"Authorization": "Bearer " + token["access_token"]}
        assert requests.get(sb.url + "/api/indicators", headers=good).status_code == 200
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}):
            r = requests.get(sb.url + "/api/indicators", headers=headers)
            assert r.status_code == 401 and r.json() == {"errors": ["Unauthenticated."]}
        clock.now += 0.29
        assert requests.get(sb.url + "/api/indicators", headers=good).status_code == 200
        clock.now += 0.01
        assert requests.get(sb.url + "/api/indicators", headers=good).status_code == 401
        fresh = {"Authorization": "Bearer " + password_token(sb)["access_token"]}
        assert requests.post(sb.url + "/_debug/expire-tokens").status_code == 204
        assert requests.get(sb.url + "/api/objects", headers=fresh).status_code == 401


@pytest.mark.fast
def test_custom_credentials():
    creds = Credentials("ops@acme.example", "pw", "cid", "sec")
    with ThreatQSandbox(credentials=creds) as sb:
        ok = requests.post(sb.url + "/api/token?grant_type=client_credentials", auth=("cid", "sec"))
        bad = requests.post(
            sb.url + "/api/token?grant_type=client_credentials",
            auth=(CREDS.client_id, CREDS.client_secret),
        )
        assert (ok.status_code, bad.status_code) == (200, 400)


# -- §3 lookups --


@pytest.mark.fast
def test_lookups_resolve_by_name_with_shuffled_seeded_ids(api):
    names = {t["name"] for t in api.get("/indicator/types").json()["data"]}
    assert {"URL", "Email Address", "FQDN", "IP Address", "MD5", "SHA-256", "Filename"} <= names
    url = api.get("/indicator/types", name="url").json()
    assert url["total"] == 1 and url["data"][0]["name"] == "URL"
    assert url["data"][0]["class"] == "network"
    assert api.get(f"/indicator/types/{url['data'][0]['id']}").json()["data"]["name"] == "URL"
    statuses = api.get("/indicator/statuses").json()["data"]
    assert {s["name"] for s in statuses} == {
        "Active",
        "Review",
        "Whitelisted",
        "Expired",
        "Indirect",
    }
    assert all(s["id"] > 5 for s in statuses)
    assert api.get("/indicator/statuses", name="Active").json()["total"] == 1
    events = api.get("/event/types").json()["data"]
    assert "Spearphish" in {t["name"] for t in events}
    made = api.post("/event/types", {"name": "Phishing Click"})
    assert made.status_code == 201
    assert (
        api.get("/event/types", name="phishing click").json()["data"][0]["id"]
        == made.json()["data"]["id"]
    )

    def ids(seed: int) -> dict:
        with ThreatQSandbox(seed=seed) as other:
            a = Api(other)
            return {
                t["name"]: t["id"]
                for t in a.get("/indicator/types").json()["data"]
                + a.get("/indicator/statuses").json()["data"]
            }

    assert ids(7) == ids(7) != ids(8)
    assert ids(7) == {
        t["name"]: t["id"] for t in api.get("/indicator/types").json()["data"] + statuses
    }


def corporate(api: Api) -> list[dict]:
    return [o for o in api.get("/objects").json()["data"] if o["display_name"] == "Corporate Email"]


@pytest.mark.fast
def test_objects_lists_corporate_email_custom_or_absent(api):
    entries = corporate(api)
    assert [(o["name"], o["collection"]) for o in entries] == [(EMAIL, EMAIL)]
    assert entries[0]["display_name_plural"] == "Corporate Emails"
    collections = {o["collection"] for o in api.get("/objects").json()["data"]}
    assert {"indicators", "events", "adversaries", "incident", "campaign"} <= collections
    with ThreatQSandbox(corporate_email_code="pp_mail", corporate_email_collection="pp_mails") as s:
        other = Api(s)
        assert [(o["name"], o["collection"]) for o in corporate(other)] == [("pp_mail", "pp_mails")]
        assert other.post("/pp_mails/consume", [{"value": "a@b.c"}]).status_code == 201
    with ThreatQSandbox(corporate_email=False) as s:
        other = Api(s)
        assert corporate(other) == []
        assert other.post(f"/{EMAIL}/consume", [{"value": "a@b.c"}]).status_code == 404


# -- §1 envelopes, §4 creates --


@pytest.mark.fast
def test_envelopes_paging_sort_filters_and_with(api):
    made = api.post("/indicators", [url_item(f"https://x.example/{i}") for i in range(5)])
    assert made.status_code == 201 and made.json()["total"] == 5
    page = api.get("/indicators", limit=2, offset=1, sort="-id").json()
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    assert [i["id"] for i in page["data"]] == [4, 3]
    assert api.get("/indicators", value="HTTPS://X.EXAMPLE/3").json()["data"][0]["id"] == 4
    assert api.get("/indicators", value="%example/1").json()["total"] == 1
    assert api.get("/indicators", value="nothing").json()["total"] == 0
    one = api.get("/indicators/1").json()
    assert set(one) == {"data"} and "attributes" not in one["data"]
    rich = api.get("/indicators/1", **{"with": "attributes,sources"}).json()["data"]
    assert rich["attributes"] == [] and rich["sources"][0]["name"] == CREDS.email
    assert api.get("/indicators/999").status_code == 404
    assert api.get("/nonsense").status_code == 404


@pytest.mark.fast
def test_single_creates(api):
    one = api.post(
        "/indicators",
        url_item(
            "https://one.example/",
            sources=[{"name": "Proofpoint TAP"}],
            attributes=[{"name": "Threat", "value": "phish"}],
        ),
    )
    assert one.status_code == 201
    body = one.json()
    assert body["total"] == 1 and isinstance(body["data"], list)
    item = body["data"][0]
    assert item["existing"] == "N" and item["type"]["name"] == "URL"
    assert (
        item["sources"][0]["name"] == "Proofpoint TAP" and item["attributes"][0]["value"] == "phish"
    )
    adversary = api.post("/adversaries", {"name": "TA505"}).json()
    assert isinstance(adversary["data"], dict) and adversary["data"]["name"] == "TA505"
    event = api.post(
        "/events", {"title": "Click", "type": "Spearphish", "happened_at": "2026-03-04 10:00:00"}
    ).json()["data"]
    assert event["type"]["name"] == "Spearphish" and event["happened_at"] == "2026-03-04 10:00:00"


@pytest.mark.fast
def test_bulk_consume_with_attributes_sources_and_links(api, sb):
    emails = api.post(
        f"/{EMAIL}/consume",
        [
            {
                "value": "alice@acme.example",
                "sources": [{"name": "Proofpoint TAP"}],
                "attributes": [{"name": "Department", "value": "Finance"}],
            },
            {"value": "bob@acme.example"},
        ],
    )
    assert emails.status_code == 201
    alice, bob = (e["id"] for e in emails.json()["data"])
    indicators = api.post(
        "/indicators/consume",
        [
            url_item(
                "https://bad.example/a",
                sources=[{"name": "Proofpoint TAP"}],
                attributes=[
                    {
                        "name": "Threat Status",
                        "value": "active",
                        "sources": [{"name": "Proofpoint TAP"}],
                    }
                ],
                published_at="2026-03-04 10:00:00",
                **{EMAIL: [{"id": alice}, {"value": "x"}]},
            ),
            {
                "value": "evil@bad.example",
                "type_id": type_id(api, "Email Address"),
                "status_id": api.get("/indicator/statuses", name="Review").json()["data"][0]["id"],
            },
        ],
    ).json()["data"]
    assert [i["type_id"] for i in indicators] == [
        type_id(api, "URL"),
        type_id(api, "Email Address"),
    ]
    assert all(set(i) >= {"id", "value", "type_id", "existing"} for i in indicators)
    url, sender = (i["id"] for i in indicators)
    incidents = api.post(
        "/incident/consume",
        [
            {
                "value": "alice clicked https://bad.example/a",
                "started_at": "2026-03-04 10:00:00",
                "ended_at": "2026-03-04 10:05:00",
                "description": "click",
                "indicators": [{"id": url}, {"id": sender}],
                EMAIL: [{"id": alice}],
            }
        ],
    )
    assert incidents.status_code == 201
    incident = incidents.json()["data"][0]
    assert incident["started_at"] == "2026-03-04 10:00:00"
    assert incident["ended_at"] == "2026-03-04 10:05:00"
    dump = requests.get(sb.url + "/_debug/dump").json()
    assert dump["counts"][EMAIL] == 2 and dump["counts"]["indicators"] == 2
    assert dump["counts"]["incident"] == 1 and dump["counts"]["pivots"] == 4
    stored = dump["objects"]["indicators"][0]
    assert stored["published_at"] == "2026-03-04 10:00:00"
    assert [s["name"] for s in stored["sources"]] == ["Proofpoint TAP"]
    assert stored["attributes"][0]["sources"][0]["name"] == "Proofpoint TAP"
    assert dump["objects"][EMAIL][1]["sources"][0]["name"] == CREDS.email
    linked = api.get(f"/incident/{incident['id']}/indicators").json()["data"]
    assert sorted(i["id"] for i in linked) == [url, sender]
    assert api.get(f"/{EMAIL}/{bob}/incident").json()["total"] == 0
    assert api.get(f"/{EMAIL}/{alice}/incident").json()["data"][0]["id"] == incident["id"]


@pytest.mark.fast
def test_consume_new_and_lean_consume(api):
    r = api.post(
        "/indicators/consume/new",
        [{"type": "MD5", "status": "Active", "value": "d41d8cd98f00b204e9800998ecf8427e"}],
    )
    assert r.status_code == 201 and r.json()["data"][0]["id"] == 1
    assert api.post("/incident/consume/new", [{"value": "x"}]).status_code == 404
    with ThreatQSandbox(lean_consume=True) as s:
        item = Api(s).post("/indicators/consume", [url_item("https://a.example/")]).json()
        assert item == {"data": [{"id": 1, "value": "https://a.example/"}]}


@pytest.mark.fast
@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"type": "URL"}, "value"),
        ({"value": "  ", "type": "URL"}, "value"),
        ({"value": "x"}, "type_id"),
        ({"value": "x", "type": "Nonsense"}, "type"),
        ({"value": "x", "type_id": 1}, "type_id"),
        ({"value": "x", "type": "URL", "status": "Bogus"}, "status"),
        ({"value": "x", "type": "URL", "published_at": "2026-03-04T10:00:00Z"}, "published_at"),
        ({"value": "x", "type": "URL", "published_at": "2026-13-04 10:00:00"}, "published_at"),
        ({"value": "x", "type": "URL", "attributes": [{"name": "A"}]}, "attributes.0.value"),
        ({"value": "x", "type": "URL", "sources": [{"tlp_id": 1}]}, "sources.0.name"),
    ],
)
def test_validation_errors_are_400_and_store_nothing(api, sb, item, field):
    r = api.post("/indicators/consume", [url_item("https://fine.example/"), item])
    assert r.status_code == 400
    errors = r.json()["data"]["errors"]
    assert list(errors) == [field] and "(item 1)" in errors[field][0]
    assert sb.store.dump()["counts"]["indicators"] == 0


@pytest.mark.fast
def test_other_validation(api):
    assert api.post("/incident", {"description": "no value"}).json() == {
        "data": {"errors": {"value": ["The value field is required."]}}
    }
    assert api.post("/adversaries", {"value": "named by name"}).status_code == 400
    assert api.post("/incident", {"value": "x", "started_at": "2026-03-04"}).status_code == 400
    assert api.post("/incident", {"value": "x", "status_id": 3}).status_code == 400
    assert api.post("/events", {"title": "t"}).json()["data"]["errors"] == {
        "type_id": ["The type id field is required."]
    }
    assert api.post("/indicators/consume", {"value": "x"}).status_code == 400
    with ThreatQSandbox(max_items=3) as s:
        other = Api(s)
        assert (
            other.post("/incident/consume", [{"value": str(i)} for i in range(3)]).status_code
            == 201
        )
        r = other.post("/incident/consume", [{"value": str(i)} for i in range(4)])
        assert r.status_code == 413 and "at most 3" in r.json()["errors"][0]


@pytest.mark.fast
def test_unknown_related_ids_are_per_item_errors(api, sb):
    api.post("/incident/consume", [{"value": "i1"}])
    r = api.post(
        "/indicators/consume",
        [
            url_item("https://a.example/", incident=[{"id": 1}]),
            url_item("https://b.example/", incident=[{"id": 1}, {"id": 99}]),
            url_item("https://c.example/", incident=[{"name": "no id"}]),
        ],
    )
    assert r.status_code == 201
    a, b, c = r.json()["data"]
    assert "id" in a and "error" not in a
    assert "id" not in b and "incident/99" in b["error"] and b["value"] == "https://b.example/"
    assert "id" in c
    assert sb.store.dump()["counts"] == {**sb.store.dump()["counts"], "indicators": 2, "pivots": 1}


# -- §4.5, §5 dedup --


@pytest.mark.fast
def test_indicators_are_unique_on_type_and_value_in_any_case(api, sb):
    first = api.post(
        "/indicators",
        url_item(
            "https://Bad.example/X",
            sources=[{"name": "A"}],
            attributes=[{"name": "k", "value": "v"}],
        ),
    )
    item = first.json()["data"][0]
    again = api.post(
        "/indicators/consume",
        [
            url_item(
                "HTTPS://BAD.EXAMPLE/x",
                sources=[{"name": "B"}],
                attributes=[{"name": "k", "value": "V"}, {"name": "k", "value": "w"}],
            )
        ],
    )
    second = again.json()["data"][0]
    assert (second["id"], second["existing"]) == (item["id"], "Y")
    assert second["value"] == "https://Bad.example/X"
    assert second["touched_at"] > item["touched_at"]
    other_type = api.post("/indicators", {"value": "https://bad.example/x", "type": "String"})
    assert other_type.json()["data"][0]["id"] != item["id"]
    assert other_type.json()["data"][0]["status"]["name"] == "Review"
    no_status = api.post("/indicators/consume", [{"value": "https://bad.example/x", "type": "URL"}])
    assert no_status.json()["data"][0]["status_id"] == item["status_id"]
    stored = sb.store.dump()["objects"]["indicators"][0]
    assert [s["name"] for s in stored["sources"]] == ["A", "B", CREDS.email]
    assert [(a["value"], [s["name"] for s in a["sources"]]) for a in stored["attributes"]] == [
        ("v", ["A", "B"]),
        ("w", ["B"]),
    ]


@pytest.mark.fast
def test_url_normalising_switch():
    with ThreatQSandbox(normalize_urls=True) as s:
        api = Api(s)
        a = api.post("/indicators/consume", [url_item("HTTPS://Bad.Example:443/#frag")]).json()
        b = api.post("/indicators/consume", [url_item("https://bad.example")]).json()
        assert a["data"][0]["value"] == "https://bad.example"
        assert b["data"][0]["id"] == a["data"][0]["id"] and b["data"][0]["existing"] == "Y"
        kept = api.post("/indicators/consume", [{"value": "HTTPS://X.example/", "type": "FQDN"}])
        assert kept.json()["data"][0]["value"] == "HTTPS://X.example/"


@pytest.mark.fast
def test_dedup_of_other_objects(api):
    def ids(collection: str, items: list[dict]) -> list[int]:
        return [i["id"] for i in api.post(f"/{collection}/consume", items).json()["data"]]

    assert ids(EMAIL, [{"value": "a@acme.example"}, {"value": "A@ACME.example"}]) == [1, 1]
    assert ids("adversaries", [{"name": "TA505"}, {"name": "ta505"}]) == [1, 1]
    assert ids("incident", [{"value": "click 1"}, {"value": "Click 1"}]) == [1, 1]
    event = {"title": "same", "type": {"name": "Spearphish"}, "happened_at": "2026-03-04 10:00:00"}
    assert ids("events", [event, event]) == [1, 2]
    assert api.post("/adversaries", {"name": "TA505"}).json()["data"]["id"] == 1
    with ThreatQSandbox(incident_dedup=False) as s:
        other = Api(s)
        made = other.post("/incident/consume", [{"value": "click 1"}, {"value": "click 1"}])
        assert [i["id"] for i in made.json()["data"]] == [1, 2]


@pytest.mark.fast
def test_put_and_delete_objects(api):
    made = api.post("/indicators", url_item("https://a.example/")).json()["data"][0]
    r = api.put(f"/indicators/{made['id']}", {"status": {"name": "Whitelisted"}})
    assert r.status_code == 200 and r.json()["data"]["status"]["name"] == "Whitelisted"
    assert api.put(f"/indicators/{made['id']}", {"status": "Nope"}).status_code == 400
    assert api.delete(f"/indicators/{made['id']}").status_code == 204
    assert api.get(f"/indicators/{made['id']}").status_code == 404


# -- §6 context --


@pytest.mark.fast
def test_attribute_rows_post_get_put_delete(api):
    iid = api.post("/indicators", url_item("https://a.example/")).json()["data"][0]["id"]
    path = f"/indicators/{iid}/attributes"
    one = api.post(path, {"name": "Category", "value": "Phishing", "sources": [{"name": "TAP"}]})
    assert one.status_code == 201
    row = one.json()["data"][0]
    assert row["attribute"]["name"] == "Category" and row["indicator_id"] == iid
    same = api.post(path, {"name": "Category", "value": "Phishing"}).json()["data"][0]
    assert same["id"] == row["id"]
    assert [s["name"] for s in same["sources"]] == ["TAP", CREDS.email]
    second = api.post(path, [{"name": "Category", "value": "Malware"}]).json()["data"][0]
    assert second["attribute_id"] == row["attribute_id"] and second["id"] != row["id"]
    assert api.get(path).json()["total"] == 2
    edited = api.put(f"{path}/{second['id']}", {"value": "Spam"})
    assert edited.status_code == 200 and edited.json()["data"]["value"] == "Spam"
    assert api.delete(f"{path}/{row['id']}").status_code == 204
    assert [a["value"] for a in api.get(path).json()["data"]] == ["Spam"]
    assert api.delete(f"{path}/{row['id']}").status_code == 404


@pytest.mark.fast
def test_duplicate_reposts_switch_duplicates_attributes_and_links():
    with ThreatQSandbox(duplicate_reposts=True) as s:
        api = Api(s)
        api.post("/incident/consume", [{"value": "i"}])
        item = url_item(
            "https://a.example/", attributes=[{"name": "k", "value": "v"}], incident=[{"id": 1}]
        )
        api.post("/indicators/consume", [item])
        api.post("/indicators/consume", [item])
        api.post("/indicators/1/attributes", {"name": "k", "value": "v"})
        api.post("/indicators/1/incident", {"id": 1})
        counts = s.store.dump()["counts"]
        assert (counts["indicators"], counts["attributes"], counts["pivots"]) == (1, 3, 3)
        assert len({p["id"] for p in api.get("/incident/1/indicators").json()["data"]}) == 1
        assert api.get("/incident/1/indicators").json()["total"] == 3


@pytest.mark.fast
def test_sources_existing_flag_and_tags(api):
    iid = api.post("/indicators", url_item("https://a.example/")).json()["data"][0]["id"]
    first = api.post(f"/indicators/{iid}/sources", {"name": "Proofpoint TAP"})
    assert first.status_code == 201 and first.json()["data"]["existing"] == 0
    again = api.post(f"/indicators/{iid}/sources", {"name": "proofpoint tap"}).json()["data"]
    assert again["existing"] == 1 and again["id"] == first.json()["data"]["id"]
    assert len(api.get(f"/indicators/{iid}/sources").json()["data"]) == 2
    assert api.delete(f"/indicators/{iid}/sources/{again['id']}").status_code == 204
    assert api.post(f"/indicators/{iid}/tags", [{"name": "tap"}, {"name": "TAP"}]).json() == {
        "data": [{"name": "tap"}]
    }
    assert api.post(f"/indicators/{iid}/tags", {"name": "click"}).json()["data"][-1] == {
        "name": "click"
    }


# -- §7 links --


@pytest.mark.fast
def test_links_single_pivot_both_ends_and_delete(api, sb):
    api.post("/incident/consume", [{"value": "i1"}, {"value": "i2"}])
    api.post("/indicators/consume", [url_item("https://a.example/")])
    made = api.post("/incident/1/indicators", {"id": 1})
    assert made.status_code == 201
    pivot = made.json()["data"][0]["pivot"]
    assert made.json()["data"][0]["value"] == "https://a.example/"
    back = api.post("/indicators/1/incident", [{"id": 1}, {"id": 2}]).json()["data"]
    assert back[0]["pivot"]["id"] == pivot["id"] and back[1]["pivot"]["id"] != pivot["id"]
    from_indicator = api.get("/indicators/1/incident").json()["data"]
    assert [(o["id"], o["pivot"]["src_type"]) for o in from_indicator] == [
        (1, "incident"),
        (2, "indicator"),
    ]
    assert api.get("/incident/1/indicators").json()["data"][0]["pivot"]["id"] == pivot["id"]
    assert api.post("/incident/1/indicators", {"id": 42}).status_code == 400
    assert api.delete("/indicators/1/incident", [pivot["id"]]).status_code == 204
    assert api.get("/incident/1/indicators").json()["total"] == 0
    assert sb.store.dump()["counts"]["pivots"] == 1


@pytest.mark.fast
def test_relationship_limit_drops_links_and_flags_the_object():
    with ThreatQSandbox(relationship_limit=2) as s:
        api = Api(s)
        api.post("/incident/consume", [{"value": f"i{n}"} for n in range(3)])
        r = api.post(
            "/indicators/consume",
            [url_item("https://hot.example/", incident=[{"id": 1}, {"id": 2}, {"id": 3}])],
        )
        assert "error" not in r.json()["data"][0]
        dump = s.store.dump()
        assert dump["counts"]["pivots"] == 2
        assert dump["objects"]["indicators"][0]["relationship_limit_reached"] is True
        assert api.post("/indicators/1/incident", {"id": 3}).json()["data"] == []


# -- §12.9 faults --


@pytest.mark.fast
def test_maintenance_stretch_of_requests_covers_the_token_route():
    with ThreatQSandbox(maintenance=[Maintenance(requests=2, skip=1)]) as s:
        token = password_token(s)["access_token"]
        down = [
            requests.post(
                s.url + "/api/token",
                params={"grant_type": "client_credentials"},
                auth=(CREDS.client_id, CREDS.client_secret),
            ),
            requests.get(s.url + "/api/objects", headers={"Authorization": "Bearer x"}),
        ]
        assert [r.status_code for r in down] == [503, 503]
        assert "Be right back" in down[0].text and down[0].headers["Content-Type"].startswith(
            "text/html"
        )
        assert (
            requests.get(
                s.url + "/api/objects", headers={"Authorization": "Bearer " + token}
            ).status_code
            == 200
        )
        assert [r.fault for r in s.requests] == [None, "maintenance", "maintenance", None]


@pytest.mark.fast
def test_maintenance_for_a_time_span():
    clock = FakeClock()
    with ThreatQSandbox(clock=clock) as s:
        s.inject(Maintenance(seconds=30))
        url = s.url + "/api/token"
        assert requests.post(url).status_code == 503
        clock.now += 29.9
        assert requests.post(url).status_code == 503
        clock.now += 0.1
        assert requests.post(url).status_code == 400


def consume_statuses(fault: Fault, calls: int = 12) -> tuple[list[int], int]:
    with ThreatQSandbox(faults=[fault]) as s:
        api = Api(s)
        codes = [
            api.post("/incident/consume", [{"value": f"i{n}"}]).status_code for n in range(calls)
        ]
        assert api.get("/objects").status_code == 200
        return codes, s.store.dump()["counts"]["incident"]


@pytest.mark.fast
def test_5xx_on_a_seeded_share_of_consume_calls():
    codes, stored = consume_statuses(Fault("status", status=502, percent=50, seed=3))
    assert codes == consume_statuses(Fault("status", status=502, percent=50, seed=3))[0]
    assert set(codes) == {201, 502} and stored == codes.count(201)
    assert codes != consume_statuses(Fault("status", status=502, percent=50, seed=4))[0]


@pytest.mark.fast
def test_5xx_on_chosen_calls_before_or_after_applying():
    codes, stored = consume_statuses(Fault("status", status=500, count=2, skip=1), calls=4)
    assert (codes, stored) == ([201, 500, 500, 201], 2)
    codes, stored = consume_statuses(Fault("status", status=502, after=True), calls=2)
    assert (codes, stored) == ([502, 201], 2)
    with ThreatQSandbox(faults=[Fault("status", status=500, route="token")]) as s:
        r = requests.post(s.url + "/api/token")
        assert r.status_code == 500 and r.json() == {"errors": ["Injected fault (stand-in)."]}
        assert requests.post(s.url + "/api/token").status_code == 400


@pytest.mark.fast
def test_errors_inside_a_2xx_body():
    with ThreatQSandbox(
        faults=[
            Fault("errors", message="boom"),
            Fault("errors", after=True, skip=1, message="half"),
        ]
    ) as s:
        api = Api(s)
        lost = api.post("/incident/consume", [{"value": "a"}])
        assert lost.status_code == 201 and lost.json() == {"data": [], "errors": ["boom"]}
        kept = api.post("/incident/consume", [{"value": "b"}])
        assert kept.status_code == 201 and kept.json()["errors"] == ["half"]
        assert kept.json()["data"][0]["value"] == "b"
        assert s.store.dump()["counts"]["incident"] == 1


@pytest.mark.fast
def test_per_item_errors_by_index_and_by_value():
    faults = [
        Fault("item-error", item=1, message="index"),
        Fault(
            "item-error",
            value="https://bad.example/",
            count=None,
            route="write",
            message="Value is whitelisted",
        ),
    ]
    with ThreatQSandbox(faults=faults) as s:
        api = Api(s)
        data = api.post(
            "/indicators/consume", [url_item(f"https://{n}.example/") for n in range(3)]
        ).json()["data"]
        assert [("id" in d, d.get("error")) for d in data] == [
            (True, None),
            (False, "index"),
            (True, None),
        ]
        for path in ("/indicators/consume", "/indicators"):
            r = api.post(path, [url_item("https://ok.example/"), url_item("HTTPS://bad.example/")])
            assert r.status_code == 201
            assert r.json()["data"][1] == {
                "value": "HTTPS://bad.example/",
                "error": "Value is whitelisted",
                "type_id": type_id(api, "URL"),
            }
        assert s.store.dump()["counts"]["indicators"] == 3
        assert s.faults[1].fired == 2


def test_slow_answers():
    with ThreatQSandbox(faults=[Fault("delay", route="read", count=2, seconds=0.3)]) as s:
        api = Api(s)
        with pytest.raises(requests.exceptions.ReadTimeout):
            api.s.get(s.url + "/api/objects", timeout=0.1)
        started = time.monotonic()
        assert api.get("/objects").status_code == 200
        assert time.monotonic() - started >= 0.3
        started = time.monotonic()
        api.get("/objects")
        assert time.monotonic() - started < 0.3


# -- §12.10 introspection --


@pytest.mark.fast
def test_dump_route_and_request_log(api, sb):
    api.post(
        "/indicators/consume", [url_item("https://a.example/"), url_item("https://b.example/")]
    )
    dump = requests.get(sb.url + "/_debug/dump")
    assert dump.status_code == 200 and dump.json() == sb.store.dump()
    assert set(dump.json()) == {"objects", "pivots", "counts"}
    log = requests.get(sb.url + "/_debug/requests").json()["data"]
    consume = [e for e in log if e["path"] == "/api/indicators/consume"]
    assert consume[0]["items"] == 2 and consume[0]["status"] == 201
    assert set(consume[0]) == {"method", "path", "params", "status", "fault", "items", "at"}
    assert [r.method for r in sb.requests_to("/api/token")] == ["POST"]
    assert len(sb.requests_to(method="GET")) == 2


# -- the console script --


@pytest.mark.fast
def test_cli_parsers():
    f = parse_fault("502:20%@write", 9)
    assert (f.kind, f.status, f.percent, f.route, f.seed) == ("status", 502, 20.0, "write", 9)
    f = parse_fault("500+:2:3", 0)
    assert (f.after, f.count, f.skip, f.route) == (True, 2, 3, "consume")
    assert parse_fault("errors:*", 0).count is None
    assert parse_maintenance("30s:4") == Maintenance(seconds=30.0, skip=4)
    with pytest.raises(ValueError):
        parse_fault("bogus", 0)


def test_cli_serves_on_a_free_port():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tap_proofpoint_tap.sandboxes.threatq.cli",
            "--port",
            "0",
            "--seed",
            "3",
            "--no-corporate-email",
            "--log-requests",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        r = requests.post(
            url + "/api/token",
            params={"grant_type": "client_credentials"},
            auth=(CREDS.client_id, CREDS.client_secret),
            timeout=5,
        )
        assert r.status_code == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=5)
    assert "POST /api/token" in err
    help_text = subprocess.run(
        [sys.executable, "-m", "tap_proofpoint_tap.sandboxes.threatq.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in (
        "--port",
        "--seed",
        "--email",
        "--password",
        "--client-id",
        "--client-secret",
        "--token-expiry",
        "--corporate-email-code",
        "--no-corporate-email",
        "--duplicate-reposts",
        "--maintenance",
        "--fault",
        "--delay",
        "--log-requests",
    ):
        assert option in help_text
