"""The ThreatQ stand-in's events, campaigns, adversaries, malware and TTPs (issue 26) against a
real HTTP client on loopback: their paths, dedup rules, links, attributes, the switches that
take a type away, faults on their paths, and the store's ground-truth accessors."""

from __future__ import annotations

import itertools
import subprocess
import sys
from types import SimpleNamespace

import pytest

from tap_proofpoint_tap.sandboxes.threatq import Fault, Maintenance, ThreatQSandbox
from tests.threatq_api import EMAIL, Api, url_item

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


# -- §7 links between every pair --


def item(collection: str, n: int) -> dict:
    """The n-th distinct object of ``collection``."""
    base = dict(ALL[collection])
    base[key(collection)] = f"{base[key(collection)]} {n}"
    return base


PAIRS = list(itertools.combinations_with_replacement(sorted(ALL), 2))


@pytest.mark.fast
@pytest.mark.parametrize("duplicate_reposts", [False, True])
def test_every_pair_links_once_whichever_end_and_path(duplicate_reposts):
    with ThreatQSandbox(duplicate_reposts=duplicate_reposts) as s:
        api = Api(s)
        for collection in ALL:
            made = api.post(f"/{collection}/consume", [item(collection, 1), item(collection, 2)])
            assert [o["id"] for o in made.json()["data"]] == [1, 2]
        for a, b in PAIRS:
            other = 2 if a == b else 1
            first = api.post(f"/{a}/1/{b}", {"id": other})
            assert first.status_code == 201, (a, b, first.text)
            pivot = first.json()["data"][0]["pivot"]
            back = api.post(f"/{b}/{other}/{a}", [{"id": 1}]).json()["data"][0]["pivot"]
            assert (back["id"] == pivot["id"]) is not duplicate_reposts, (a, b)
            # a relationship key in consume names the same pair a third time
            again = api.post(f"/{a}/consume", [{**item(a, 1), b: [{"id": other}]}])
            assert "error" not in again.json()["data"][0], (a, b)
            from_b = api.get(f"/{b}/{other}/{a}").json()["data"]
            assert pivot["id"] in {o["pivot"]["id"] for o in from_b}
            # one pivot; with duplicate_reposts one per call, but an event is never merged:
            # the consume above made a new event, linked anew
            expected = 1 if not duplicate_reposts else 2 if a == "events" else 3
            links = s.store.links(a, b)  # within one collection: (src, dest)
            found = links.count((1, other)) + (links.count((other, 1)) if a == b else 0)
            assert found == expected, (a, b, links)
        counts = s.store.link_counts()
        assert set(counts) == {tuple(sorted(p)) for p in PAIRS}


@pytest.mark.fast
def test_link_rendering_and_unlink_on_new_objects(api, sb):
    api.post("/campaign/consume", [NEW["campaign"]])
    api.post("/adversaries/consume", [NEW["adversaries"]])
    api.post("/events/consume", [event("e1")])
    made = api.post("/campaign/1/adversaries", {"id": 1}).json()["data"][0]
    assert made["name"] == "TA505"
    assert made["pivot"]["src_type"] == "campaign" and made["pivot"]["dest_type"] == "adversary"
    from_adversary = api.get("/adversaries/1/campaign").json()["data"][0]
    assert from_adversary["object_code"] == "campaign"
    assert from_adversary["pivot"]["id"] == made["pivot"]["id"]
    api.post("/events/1/campaign", {"id": 1})
    assert api.get("/campaign/1/events").json()["data"][0]["type"]["name"] == "Spearphish"
    assert api.post("/campaign/1/malware", {"id": 1}).status_code == 400
    assert api.delete("/adversaries/1/campaign", [made["pivot"]["id"]]).status_code == 204
    assert sb.store.links("campaign", "adversaries") == []
    assert sb.store.links("campaign", "events") == [(1, 1)]
    assert api.delete("/campaign/1").status_code == 204
    assert sb.store.link_counts() == {} and sb.store.count("campaign") == 0


@pytest.mark.fast
def test_relationship_limit_on_a_campaign():
    with ThreatQSandbox(relationship_limit=2) as s:
        api = Api(s)
        api.post("/malware/consume", [{"value": f"m{n}"} for n in range(3)])
        api.post("/campaign/consume", [{"value": "C", "malware": [{"id": n} for n in (1, 2, 3)]}])
        assert s.store.links("campaign", "malware") == [(1, 1), (1, 2)]
        assert s.store.dump()["objects"]["campaign"][0]["relationship_limit_reached"] is True


# -- §6 attributes (and sources, tags) on the new objects --


@pytest.mark.fast
@pytest.mark.parametrize("collection", list(NEW))
def test_attributes_sources_and_tags_on_new_objects(collection):
    for duplicate_reposts in (False, True):
        with ThreatQSandbox(duplicate_reposts=duplicate_reposts) as s:
            api = Api(s)
            attrs = [{"name": "Campaign ID", "value": "c-1"}, {"name": "Brand", "value": "Acme"}]
            made = api.post(
                f"/{collection}/consume",
                [{**NEW[collection], "attributes": attrs, "sources": [{"name": "Proofpoint TAP"}]}],
            ).json()["data"][0]
            oid = made["id"]
            path = f"/{collection}/{oid}/attributes"
            posted = api.post(path, {"name": "brand", "value": "ACME"})
            assert posted.status_code == 201
            row = posted.json()["data"][0]
            assert row[f"{CODES[collection]}_id"] == oid
            api.post(path, [{"name": "Brand", "value": "Other", "sources": [{"name": "Analyst"}]}])
            rows = api.get(path).json()["data"]
            expected = [("Campaign ID", "c-1"), ("Brand", "Acme"), ("Brand", "Other")]
            if duplicate_reposts:
                expected.insert(2, ("brand", "ACME"))
            assert [(r["name"], r["value"]) for r in rows] == expected
            assert rows[0]["sources"][0]["name"] == "Proofpoint TAP"
            assert s.store.attribute_rows(collection)[NEW[collection][key(collection)]] == expected
            last = rows[-1]["id"]
            assert api.put(f"{path}/{last}", {"value": "Changed"}).json()["data"]["value"] == (
                "Changed"
            )
            assert api.delete(f"{path}/{last}").status_code == 204
            assert len(api.get(path).json()["data"]) == len(expected) - 1
            source = api.post(f"/{collection}/{oid}/sources", {"name": "Proofpoint TAP"})
            assert source.json()["data"]["existing"] == 1
            tags = api.post(f"/{collection}/{oid}/tags", [{"name": "phish"}, "PHISH"]).json()
            assert tags["data"] == [{"name": "phish"}]
            rich = api.get(f"/{collection}/{oid}", **{"with": "attributes,sources,tags"}).json()
            assert {x["name"] for x in rich["data"]["sources"]} == {"Proofpoint TAP"}


@pytest.mark.fast
def test_a_re_consumed_object_merges_attributes_but_an_event_is_new(api, sb):
    attrs = [{"name": "Severity", "value": "high"}]
    for _ in range(2):
        api.post("/malware/consume", [{"value": "Dridex", "attributes": attrs}])
        api.post("/events/consume", [event("same", attributes=attrs)])
    assert sb.store.attribute_rows("malware") == {"Dridex": [("Severity", "high")]}
    assert sb.store.attribute_rows("events") == {"same": [("Severity", "high")] * 2}
    assert sb.store.count("events") == 2


# -- §12.9 faults and the request log on the new paths --


@pytest.mark.fast
def test_status_faults_on_new_consume_paths():
    faults = [
        Fault("status", status=502, route="/api/events/consume"),
        Fault("status", status=500, after=True, route="/api/campaign/consume"),
    ]
    with ThreatQSandbox(faults=faults) as s:
        api = Api(s)
        lost = api.post("/events/consume", [event("e")])
        assert lost.status_code == 502 and "Bad Gateway" in lost.text
        assert s.store.count("events") == 0
        assert api.post("/events/consume", [event("e")]).status_code == 201
        kept = api.post("/campaign/consume", [NEW["campaign"]])
        assert kept.status_code == 500 and s.store.count("campaign") == 1
        assert api.post("/campaign/consume", [NEW["campaign"]]).json()["data"][0]["id"] == 1
        logged = [(r.path, r.status, r.fault, r.items) for r in s.requests if r.method == "POST"]
        assert logged[1:] == [
            ("/api/events/consume", 502, "status", 1),
            ("/api/events/consume", 201, None, 1),
            ("/api/campaign/consume", 500, "status-after", 1),
            ("/api/campaign/consume", 201, None, 1),
        ]


@pytest.mark.fast
def test_errors_in_2xx_and_per_item_errors_by_title_and_name():
    faults = [
        Fault("errors", route="/api/adversaries/consume", message="boom"),
        Fault("item-error", route="write", count=None, value="Invoice due", message="no"),
        Fault("item-error", route="write", count=None, value="ta505", message="taken"),
    ]
    with ThreatQSandbox(faults=faults) as s:
        api = Api(s)
        r = api.post("/adversaries/consume", [{"name": "TA542"}])
        assert r.status_code == 201 and r.json() == {"data": [], "errors": ["boom"]}
        data = api.post("/adversaries/consume", [{"name": "TA542"}, {"name": "TA505"}]).json()
        assert data["data"][1] == {"name": "TA505", "error": "taken"}
        single = api.post("/adversaries", {"name": "TA505"}).json()["data"]
        assert single == {"name": "TA505", "error": "taken"}
        events = api.post("/events/consume", [event("INVOICE DUE"), event("fine")]).json()
        assert events["data"][0] == {
            "title": "INVOICE DUE",
            "error": "no",
            "type_id": api.get("/event/types", name="Spearphish").json()["data"][0]["id"],
        }
        assert s.store.keys("events") == ["fine"] and s.store.keys("adversaries") == ["TA542"]


@pytest.mark.fast
def test_unknown_related_ids_on_new_objects_are_per_item_errors(api, sb):
    api.post("/campaign/consume", [NEW["campaign"]])
    data = api.post(
        "/adversaries/consume",
        [{"name": "A", "campaign": [{"id": 1}]}, {"name": "B", "campaign": [{"id": 7}]}],
    ).json()["data"]
    assert "error" not in data[0] and "campaign/7" in data[1]["error"]
    assert sb.store.keys("adversaries") == ["A"]
    assert sb.store.links("adversaries", "campaign") == [(1, 1)]


@pytest.mark.fast
def test_maintenance_and_401_on_new_paths():
    with ThreatQSandbox(maintenance=[Maintenance(requests=1, skip=1)]) as s:
        api = Api(s)
        r = api.post("/ttp/consume", [NEW["ttp"]])
        assert r.status_code == 503 and s.store.count("ttp") == 0
        assert api.post("/ttp/consume", [NEW["ttp"]]).status_code == 201
        s.tokens.expire_all()
        for path in ("/ttp", "/malware/consume", "/events", "/adversaries/1/description"):
            assert api.post(path, []).status_code == 401
        assert s.requests[-1].status == 401


@pytest.mark.fast
def test_lean_consume_on_new_objects():
    with ThreatQSandbox(lean_consume=True) as s:
        api = Api(s)
        for collection, one in NEW.items():
            data = api.post(f"/{collection}/consume", [one]).json()["data"]
            assert data == [{"id": 1, key(collection): one[key(collection)]}]
            assert api.post(f"/{collection}", one).json()["data"]["existing"] in ("N", "Y")
