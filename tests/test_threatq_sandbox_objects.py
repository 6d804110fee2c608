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


# -- §5 creates: the single path and the bulk path --


@pytest.mark.fast
@pytest.mark.parametrize("collection", list(NEW))
def test_single_create_answers_a_dict_and_bulk_a_list(api, sb, collection):
    item = NEW[collection]
    one = api.post(f"/{collection}", item)
    assert one.status_code == 201
    data = one.json()["data"]
    assert isinstance(data, dict) and data[key(collection)] == item[key(collection)]
    assert data["existing"] == "N" and data["id"] > 0
    listed = api.post(f"/{collection}", [item]).json()
    assert listed["total"] == 1 and isinstance(listed["data"], list)
    consumed = api.post(f"/{collection}/consume", [item])
    assert consumed.status_code == 201
    row = consumed.json()["data"][0]
    assert row[key(collection)] == item[key(collection)] and "attributes" not in row
    assert api.get(f"/{collection}/{row['id']}").json()["data"]["id"] == row["id"]
    assert api.post(f"/{collection}/consume/new", [item]).status_code == 404
    stored = 3 if collection == "events" else 1
    assert sb.store.count(collection) == stored


@pytest.mark.fast
def test_object_codes_on_the_value_named_objects(api):
    for collection in ("campaign", "malware", "ttp"):
        data = api.post(f"/{collection}", NEW[collection]).json()["data"]
        assert data["object_code"] == CODES[collection]
        assert data["object_id"] == objects(api)[collection]["id"]
        assert data["object_name"] == objects(api)[collection]["display_name"]
    campaign = api.get("/campaign/1").json()["data"]
    assert campaign["description"] == "An invoice lure." and campaign["value"] == "TA505 invoices"
    adversary = api.post("/adversaries", {"name": "TA505"}).json()["data"]
    assert "object_code" not in adversary and "value" not in adversary


@pytest.mark.fast
def test_events_have_a_type_a_title_a_hash_and_happened_at(api):
    made = api.post("/events", event("Invoice due", description="delivered")).json()["data"]
    assert made["type"]["name"] == "Spearphish"
    assert made["type_id"] == api.get("/event/types", name="Spearphish").json()["data"][0]["id"]
    assert made["happened_at"] == HAPPENED and made["description"] == "delivered"
    assert len(made["hash"]) == 32
    later = api.post("/events", event("Invoice due", happened_at="2026-03-05 10:00:00"))
    assert later.json()["data"]["hash"] != made["hash"]
    by_id = api.post("/events", {**event("x"), "type": None, "type_id": made["type_id"]})
    assert by_id.json()["data"]["type"]["name"] == "Spearphish"
    as_string = api.post("/events", {**event("y"), "type": "spearphish"})
    assert as_string.json()["data"]["type_id"] == made["type_id"]


@pytest.mark.fast
@pytest.mark.parametrize(
    ("item", "errors"),
    [
        (
            {"type": "Spearphish", "happened_at": HAPPENED},
            {"title": ["The title field is required."]},
        ),
        ({"title": "t", "happened_at": HAPPENED}, {"type_id": ["The type id field is required."]}),
        (
            {"title": "t", "type": "Bogus", "happened_at": HAPPENED},
            {"type": ["The selected type is invalid."]},
        ),
        (
            {"title": "t", "type": "Spearphish"},
            {"happened_at": ["The happened at field is required."]},
        ),
        (
            {"title": "t", "type": "Spearphish", "happened_at": "2026-03-04T10:00:00Z"},
            {"happened_at": ["The happened_at does not match the format Y-m-d H:i:s."]},
        ),
    ],
)
def test_event_validation(api, sb, item, errors):
    for path, body in (("/events", item), ("/events/consume", [item])):
        r = api.post(path, body)
        assert r.status_code == 400 and r.json() == {"data": {"errors": errors}}
    assert sb.store.count("events") == 0


@pytest.mark.fast
def test_other_new_objects_validation(api, sb):
    assert api.post("/adversaries", {"value": "by value"}).json() == {
        "data": {"errors": {"name": ["The name field is required."]}}
    }
    r = api.post("/adversaries/consume", [{"name": "ok"}, {"value": "by value"}])
    assert r.status_code == 400 and r.json()["data"]["errors"] == {
        "name": ["The name field is required. (item 1)"]
    }
    for collection in ("campaign", "malware", "ttp"):
        r = api.post(f"/{collection}/consume", [{"name": "by name"}])
        assert r.json()["data"]["errors"] == {"value": ["The value field is required."]}
        assert api.post(f"/{collection}", {"value": "v", "type": "X"}).status_code == 400
        assert api.post(f"/{collection}/consume", {"value": "v"}).status_code == 400
    assert sum(sb.store.count(c) for c in NEW) == 0


# -- §5 and §9 dedup --


@pytest.mark.fast
@pytest.mark.parametrize("duplicate_reposts", [False, True])
def test_dedup_value_objects_and_adversaries_but_never_events(duplicate_reposts):
    with ThreatQSandbox(duplicate_reposts=duplicate_reposts) as s:
        api = Api(s)

        def ids(collection: str, items: list[dict]) -> list[int]:
            return [i["id"] for i in api.post(f"/{collection}/consume", items).json()["data"]]

        for collection in ("campaign", "malware", "ttp"):
            value = NEW[collection]["value"]
            assert ids(collection, [{"value": value}, {"value": value.upper()}]) == [1, 1]
            again = api.post(f"/{collection}", {"value": value.lower()}).json()["data"]
            assert (again["id"], again["existing"], again["value"]) == (1, "Y", value)
            assert s.store.keys(collection) == [value]
        assert ids("adversaries", [{"name": "TA505"}, {"name": " ta505 "}]) == [1, 1]
        assert api.post("/adversaries", {"name": "TA505"}).json()["data"]["existing"] == "Y"
        assert s.store.keys("adversaries") == ["TA505"]
        assert ids("events", [event("same"), event("same")]) == [1, 2]
        assert api.post("/events", event("same")).json()["data"]["id"] == 3
        assert api.post("/events", [event("same")]).json()["data"][0]["existing"] == "N"
        assert s.store.keys("events") == ["same"] * 4


@pytest.mark.fast
def test_events_are_found_by_title(api):
    api.post("/events/consume", [event("Invoice [message g-1]"), event("Other [message g-2]")])
    api.post("/events/consume", [event("Invoice [message g-1]")])
    found = api.get("/events", title="invoice [message g-1]").json()
    assert found["total"] == 2 and [e["id"] for e in found["data"]] == [1, 3]
    assert found["data"][0]["type"]["name"] == "Spearphish"
    assert api.get("/events", title="%[message g-2]").json()["data"][0]["id"] == 2
    assert api.get("/events", title="Invoice").json()["total"] == 0
    newest = api.get("/events", title="Invoice [message g-1]", sort="-id", limit=1).json()
    assert [e["id"] for e in newest["data"]] == [3]
    assert api.get("/adversaries", name="ta505").json()["total"] == 0
    api.post("/adversaries", {"name": "TA505"})
    assert api.get("/adversaries", name="ta505").json()["data"][0]["name"] == "TA505"
    api.post("/malware/consume", [{"value": "Dridex"}])
    assert api.get("/malware", value="DRIDEX").json()["total"] == 1


@pytest.mark.fast
def test_adversary_name_taken_switch():
    with ThreatQSandbox(adversary_name_taken=True) as s:
        api = Api(s)
        assert api.post("/adversaries", {"name": "TA505"}).status_code == 201
        for body in ({"name": "ta505"}, [{"name": "TA542"}, {"name": "TA505"}]):
            r = api.post("/adversaries", body)
            assert r.status_code == 400 and r.json() == {
                "data": {"errors": {"name": ["The name has already been taken."]}}
            }
        twice = api.post("/adversaries", [{"name": "TA1"}, {"name": "ta1"}])
        assert twice.status_code == 400
        merged = api.post("/adversaries/consume", [{"name": "TA505"}, {"name": "TA542"}])
        assert [a["id"] for a in merged.json()["data"]] == [1, 2]
        assert s.store.keys("adversaries") == ["TA505", "TA542"]
        assert api.post("/malware", {"value": "Dridex"}).status_code == 201
        assert api.post("/malware", {"value": "Dridex"}).status_code == 201


@pytest.mark.fast
def test_adversary_description_sub_resource(api, sb):
    api.post("/adversaries/consume", [{"name": "TA505", "description": [{"value": "first"}]}])
    assert api.get("/adversaries/1/description").json()["data"]["value"] == "first"
    r = api.post("/adversaries/1/description", {"value": "Financially motivated."})
    assert r.status_code == 201 and r.json()["data"]["adversary_id"] == 1
    assert api.get("/adversaries/1").json()["data"]["description"] == "Financially motivated."
    assert sb.store.objects("adversaries")[0]["description"] == "Financially motivated."
    assert api.post("/adversaries/1/description", {}).status_code == 400
    assert api.post("/adversaries/9/description", {"value": "x"}).status_code == 404
    api.post("/malware", {"value": "Dridex"})
    assert api.post("/malware/1/description", {"value": "x"}).status_code == 404


def test_cli_help_names_the_new_switches():
    help_text = subprocess.run(
        [sys.executable, "-m", "tap_proofpoint_tap.sandboxes.threatq.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in (
        "--without-event-type",
        "--without-object",
        "--without-indicator-type",
        "--without-status",
        "--adversary-name-taken",
    ):
        assert option in help_text
