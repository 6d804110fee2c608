"""The ThreatQ stand-in's events, campaigns, adversaries, malware and TTPs (issue 26) against a
real HTTP client on loopback: their paths, dedup rules, links, attributes, the switches that
take a type away, faults on their paths, and the store's ground-truth accessors."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest

from tap_proofpoint_tap.sandboxes.threatq import ThreatQSandbox
from tests.test_threatq_sandbox import EMAIL, Api, Ticker, url_item

HAPPENED = "2026-03-04 10:00:00"
# collection → the field that names an object, and one item of it
NEW = {
    "events": {"title": "Invoice due", "type": {"name": "Spearphish"}, "happened_at": HAPPENED},
    "campaign": {"value": "TA505 invoices", "description": "An invoice lure."},
    "adversaries": {"name": "TA505"},
    "malware": {"value": "Dridex"},
    "ttp": {"value": "T1566.001 Spearphishing Attachment"},
}
OLD = {
    "indicators": url_item("https://bad.example/"),
    "incident": {"value": "click 1"},
    EMAIL: {"value": "alice@acme.example"},
}
ALL = {**NEW, **OLD}
CODES = {
    "events": "event",
    "campaign": "campaign",
    "adversaries": "adversary",
    "malware": "malware",
    "ttp": "ttp",
}


@pytest.fixture
def sb():
    with ThreatQSandbox(now=Ticker()) as sandbox:
        yield sandbox


@pytest.fixture
def api(sb):
    return Api(sb)


def key(collection: str) -> str:
    return {"events": "title", "adversaries": "name"}.get(collection, "value")


def event(title: str, **extra) -> dict:
    return {"title": title, "type": {"name": "Spearphish"}, "happened_at": HAPPENED, **extra}


def objects(api: Api) -> dict[str, dict]:
    return {o["collection"]: o for o in api.get("/objects").json()["data"]}


# -- §3 discovery --


@pytest.mark.fast
def test_objects_lists_the_new_codes_and_event_types(api):
    found = objects(api)
    for collection, code in CODES.items():
        assert found[collection]["name"] == code
    assert found["malware"]["display_name"] == "Malware"
    assert found["ttp"]["display_name_plural"] == "TTPs"
    spearphish = api.get("/event/types", name="spearphish").json()["data"]
    assert [t["name"] for t in spearphish] == ["Spearphish"]
    assert {"id": spearphish[0]["id"], "name": "Spearphish"} in found["events"]["types"]
    assert api.get(f"/event/types/{spearphish[0]['id']}").json()["data"]["name"] == "Spearphish"


# -- the switches that take a type away --


@pytest.mark.fast
def test_an_instance_without_an_event_type():
    with ThreatQSandbox(without_event_types=["spearphish"]) as s:
        api = Api(s)
        assert api.get("/event/types", name="Spearphish").json()["total"] == 0
        types = objects(api)["events"]["types"]
        assert "Spearphish" not in {t["name"] for t in types} and "Malware" in {
            t["name"] for t in types
        }
        r = api.post("/events/consume", [event("a")])
        assert r.status_code == 400 and r.json()["data"]["errors"] == {
            "type": ["The selected type is invalid."]
        }
        assert s.store.count("events") == 0
        made = api.post("/event/types", {"name": "Spearphish"}).json()["data"]
        assert api.post("/events", event("b")).json()["data"]["type_id"] == made["id"]


@pytest.mark.fast
def test_the_remaining_types_keep_their_ids():
    def table(**switches) -> dict:
        with ThreatQSandbox(**switches) as s:
            api = Api(s)
            return {
                t["name"]: t["id"]
                for path in ("/event/types", "/indicator/types", "/indicator/statuses")
                for t in api.get(path).json()["data"]
            } | {o["name"]: o["id"] for o in api.get("/objects").json()["data"]}

    full = table()
    less = table(
        without_event_types=["Spearphish"],
        without_indicator_types=["Email Subject"],
        without_statuses=["Active"],
        without_objects=["ttp"],
    )
    assert set(full) - set(less) == {"Spearphish", "Email Subject", "Active", "ttp"}
    assert all(full[name] == i for name, i in less.items())


@pytest.mark.fast
@pytest.mark.parametrize("missing", ["ttp", "malware", "campaign", "adversaries", "adversary"])
def test_an_instance_without_an_object_type(missing):
    with ThreatQSandbox(without_objects=[missing]) as s:
        api = Api(s)
        gone = "adversaries" if missing.startswith("adversar") else missing
        assert gone not in objects(api)
        assert set(NEW) - {gone} <= set(objects(api))
        assert api.post(f"/{gone}/consume", [NEW[gone]]).status_code == 404
        assert api.post(f"/{gone}", NEW[gone]).status_code == 404
        assert api.get(f"/{gone}").status_code == 404
        # not a relationship key either: an incident naming it links nothing
        r = api.post("/incident/consume", [{"value": "i", gone: [{"id": 1}]}])
        assert r.status_code == 201 and "error" not in r.json()["data"][0]
        assert api.post("/incident/1/" + gone, {"id": 1}).status_code == 404
        assert gone not in s.store.counts() and s.store.counts()["pivots"] == 0


@pytest.mark.fast
def test_an_instance_without_an_indicator_type_or_status():
    with ThreatQSandbox(
        without_indicator_types=["Email Subject"], without_statuses=["Review"]
    ) as s:
        api = Api(s)
        assert api.get("/indicator/types", name="Email Subject").json()["total"] == 0
        subject = {"value": "Invoice", "type": "Email Subject", "status": "Active"}
        assert api.post("/indicators/consume", [subject]).json()["data"]["errors"] == {
            "type": ["The selected type is invalid."]
        }
        assert api.get("/indicator/statuses", name="Review").json()["total"] == 0
        # Review is the status of an indicator sent without one: gone, so such a post is a 400
        bare = {"value": "https://a.example/", "type": "URL"}
        assert api.post("/indicators/consume", [bare]).json()["data"]["errors"] == {
            "status": ["The selected status is invalid."]
        }
        assert api.post("/indicators/consume", [url_item("https://a.example/")]).status_code == 201


@pytest.mark.fast
def test_naming_a_type_the_instance_never_had_is_an_error():
    for switch in ("without_event_types", "without_indicator_types", "without_statuses"):
        with pytest.raises(ValueError, match="Nonsense"):
            ThreatQSandbox(**{switch: ["Nonsense"]})
    with pytest.raises(ValueError, match="ttps"):
        ThreatQSandbox(without_objects=["ttps"])


def test_cli_switches_without_types():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tap_proofpoint_tap.sandboxes.threatq.cli",
            "--without-event-type",
            "Spearphish",
            "--without-object",
            "ttp",
            "--without-object",
            "malware",
            "--without-indicator-type",
            "Email Subject",
            "--without-status",
            "Expired",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().split(" listening on ")[1].split()[0]
        api = Api(SimpleNamespace(url=url))
        assert {"ttp", "malware"}.isdisjoint(objects(api)) and "campaign" in objects(api)
        assert api.get("/event/types", name="Spearphish").json()["total"] == 0
        assert api.get("/indicator/types", name="Email Subject").json()["total"] == 0
        assert api.get("/indicator/statuses", name="Expired").json()["total"] == 0
    finally:
        proc.terminate()
        proc.communicate(timeout=5)
    bad = subprocess.run(
        [sys.executable, "-m", "tap_proofpoint_tap.sandboxes.threatq.cli", "--without-object", "x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode != 0 and "no object type named x" in bad.stderr


# -- ground truth --


@pytest.mark.fast
def test_store_accessors(api, sb):
    api.post(
        "/events/consume", [event("same"), event("same", attributes=[{"name": "k", "value": "v"}])]
    )
    api.post("/campaign/consume", [{"value": "C1", "events": [{"id": 1}, {"id": 2}]}])
    api.post("/malware/1/campaign", {"id": 1})
    assert sb.store.count("events") == 2 and sb.store.count("ttp") == 0
    assert sb.store.keys("events") == ["same", "same"]
    assert sb.store.attribute_rows("events") == {"same": [("k", "v")]}
    assert sb.store.attribute_rows("campaign") == {"C1": []}
    assert [o["title"] for o in sb.store.objects("events")] == ["same", "same"]
    assert sb.store.objects("events")[1]["attributes"][0]["value"] == "v"
    assert sb.store.links("campaign", "events") == [(1, 1), (1, 2)]
    assert sb.store.links("events", "campaign") == [(1, 1), (2, 1)]
    assert sb.store.links("malware", "campaign") == []
    assert sb.store.link_counts() == {("campaign", "events"): 2}
    counts = sb.store.counts()
    assert counts["events"] == 2 and counts["campaign"] == 1 and counts["pivots"] == 2
    assert counts["attributes"] == 1 and counts == sb.store.dump()["counts"]
    with pytest.raises(KeyError):
        sb.store.count("ttps")
