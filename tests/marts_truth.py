"""The marts on the Threat, Campaign, Forensics and People APIs' streams, expected from the
sandbox's ground truth: the SIEM events it served (``pipeline_truth``) and what its intel APIs
answer (``sandbox.intel``), computed in Python from the README's definitions, never from the
models. ``intel_truth`` asks the sandbox while it runs (the fixture saves the answers on the
Warehouse as JSON); ``check_intel_marts`` compares every new mart with them.

What was fetched, and when (which threats, campaigns and forensic ids, the people snapshots'
times) is read from the raw tables the loader wrote: the tap decides it at run time (its
forensics budget, its snapshot cadence). What each of those answers holds comes from the
sandbox, not the tables.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pytest

from tap_proofpoint_tap.sandboxes.siem.generator import parse_ms
from tests.helpers import expected_clicks, recipient_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from tap_proofpoint_tap.sandboxes.siem import Sandbox

    Query = Callable[[str], list[tuple]]

SEGMENTS = (
    ("very attacked and clicking", "protect now"),
    ("very attacked, not yet clicking", "train"),
    ("clicking, not very attacked", "watch"),
)
LISTS = {"actors": "actor", "malware": "malware", "families": "family", "techniques": "technique"}
# what{} key → indicator type (README: mart_indicators_to_hunt); lists marked True
INDICATOR_KEYS = (
    ("sha256", "sha256", False),
    ("md5", "md5", False),
    ("url", "url", False),
    ("ip", "ip", False),
    ("ips", "ip", True),
    ("host", "domain", False),
    ("cnames", "domain", True),
    ("domain", "domain", False),
)


# -- what the sandbox's intel APIs served for what the pipeline fetched --


def intel_truth(sandbox: Sandbox, query: Query) -> dict[str, Any]:
    """The sandbox's answers for the threats, campaigns, forensic queries and latest people
    snapshots the raw tables (schema ``proofpoint``) say were fetched. JSON-serialisable."""
    intel = sandbox.intel
    # Statuses follow each threat's timeline: the truth is the answer at the time the
    # sandbox last answered the pipeline's request (what the staging models keep).
    asked = last_answers(sandbox)
    threats = {
        i: intel.summary(i, asked[f"/v2/threat/summary/{i}"])
        for (i,) in query("select distinct id from proofpoint.threats")
    }
    campaigns = {
        i: intel.campaign(i, asked[f"/v2/campaign/{i}"])
        for (i,) in query("select distinct id from proofpoint.campaigns")
    }
    forensics = []
    for by, ident in query('select distinct "queriedBy", "queriedId" from proofpoint.forensics'):
        key = {"threat_id": ident} if by == "threatId" else {"campaign_id": ident}
        answer = intel.forensics(asked[f"/v2/forensics?{by}={ident}"], **key)
        forensics.append({"queriedBy": by, "queriedId": ident, "answer": answer})
    people = {}
    for table, ask in (("very_attacked_people", intel.vap), ("top_clickers", intel.top_clickers)):
        latest = query(
            f'select "snapshotAt", "window" from proofpoint.{table} '
            'order by "snapshotAt" desc limit 1'
        )
        if latest:
            (taken, window), *_ = latest
            taken = _utc(taken)
            people[table] = {
                "snapshotAt": taken.isoformat(),
                "window": window,
                "answer": ask(window, taken),
            }
    return {
        "threats": {k: v for k, v in threats.items() if v is not None},
        "campaigns": {k: v for k, v in campaigns.items() if v is not None},
        "forensics": [f for f in forensics if f["answer"] is not None],
        "people": people,
    }


def last_answers(sandbox: Sandbox) -> dict[str, datetime]:
    """When the sandbox last answered (200) each intel request: by path, and for forensics by
    ``/v2/forensics?threatId=…`` or ``?campaignId=…``."""
    out: dict[str, datetime] = {}
    for request in sandbox.requests_under("/v2/"):
        if request.status != 200 or request.path.startswith("/v2/siem/"):
            continue
        key = request.path
        if request.path.startswith("/v2/forensics"):
            by = "threatId" if "threatId" in request.params else "campaignId"
            key = f"/v2/forensics?{by}={request.params[by][0]}"
        out[key] = max(out.get(key, request.at), request.at)
    return out


def _utc(when: datetime) -> datetime:
    """A timestamp as an aware UTC time (target-postgres stores naive UTC)."""
    return (
        when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
    )


# -- the SIEM events, as the marts see them --


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and value != "" else None


def threat_events(truth: dict[str, list[dict]]) -> list[dict]:
    """One row per message event, threat and recipient, and per click (int_threat_events)."""
    return list(_threat_events(truth))


def _threat_events(truth: dict[str, list[dict]]) -> Iterator[dict]:
    for stream in ("messages_delivered", "messages_blocked"):
        for m in truth[stream]:
            infos = m["threatsInfoMap"]
            created = max([parse_ms(m["messageTime"])] + [parse_ms(i["threatTime"]) for i in infos])
            for info in infos:
                for recipient in m["recipient"] or [None]:
                    yield {
                        "kind": "message",
                        "disposition": stream.removeprefix("messages_"),
                        "event_id": m["id"],
                        "guid": m["GUID"],
                        "recipient": _lower(recipient),
                        "threat_id": info["threatID"],
                        "campaign_id": info.get("campaignID"),
                        "actors": [a["name"] for a in info.get("actors") or [] if a.get("name")],
                        "message_time": parse_ms(m["messageTime"]),
                        "time": parse_ms(m["messageTime"]),
                        "created": created,
                    }
    for stream in ("clicks_permitted", "clicks_blocked"):
        for c in truth[stream]:
            yield {
                "kind": "click",
                "disposition": stream.removeprefix("clicks_"),
                "event_id": c["id"],
                "guid": c["GUID"],
                "recipient": recipient_of(c) or None,
                "threat_id": c["threatID"],
                "campaign_id": c.get("campaignId"),
                "actors": [],
                "message_time": None,
                "time": parse_ms(c["clickTime"]),
                "created": max(parse_ms(c["clickTime"]), parse_ms(c["threatTime"])),
            }


def memberships(events: list[dict], intel: dict) -> dict[str, set[str]]:
    """Threat id → its campaigns: the members campaign details list and the campaign id events
    carry with the threat."""
    out: dict[str, set[str]] = defaultdict(set)
    for cid, campaign in intel["campaigns"].items():
        for member in campaign.get("campaignMembers") or []:
            if member.get("id"):
                out[member["id"]].add(cid)
    for e in events:
        if e["campaign_id"]:
            out[e["threat_id"]].add(e["campaign_id"])
    return out


def _names(source: dict | None, key: str) -> set[str]:
    return {x["name"] for x in (source or {}).get(key) or [] if x.get("name")}


def reach(rows: Iterable[dict]) -> dict[str, Any]:
    """The counts the campaign marts give a set of event rows."""
    rows = list(rows)

    def distinct(field: str, kind: str, disposition: str | None = None) -> int:
        return len(
            {
                r[field]
                for r in rows
                if r["kind"] == kind and disposition in (None, r["disposition"]) and r[field]
            }
        )

    return {
        "messages_delivered": distinct("guid", "message", "delivered"),
        "messages_blocked": distinct("guid", "message", "blocked"),
        "recipients_targeted": distinct("recipient", "message"),
        "recipients_delivered": distinct("recipient", "message", "delivered"),
        "recipients_clicked": distinct("recipient", "click"),
        "recipients_clicked_delivered": len(
            {r["recipient"] for r in rows if r["kind"] == "click" and r["recipient"]}
            & {
                r["recipient"]
                for r in rows
                if r["kind"] == "message" and r["disposition"] == "delivered" and r["recipient"]
            }
        ),
        "clicks_permitted": distinct("event_id", "click", "permitted"),
        "clicks_blocked": distinct("event_id", "click", "blocked"),
        "first_seen_at": min(r["time"] for r in rows),
        "last_seen_at": max(r["time"] for r in rows),
    }


# -- the marts, expected --


def expected_campaigns(truth: dict, intel: dict) -> tuple[dict[str, dict], dict[tuple, dict]]:
    """mart_campaigns_reached by campaign id, mart_campaign_threats by (campaign, threat)."""
    events = threat_events(truth)
    members = memberships(events, intel)
    by_campaign: dict[str, list[dict]] = defaultdict(list)
    for e in events:
        for cid in members.get(e["threat_id"], ()):
            by_campaign[cid].append(e)
    campaigns, threats = {}, {}
    for cid, rows in by_campaign.items():
        details = intel["campaigns"].get(cid)
        campaigns[cid] = {
            "campaign_name": (details or {}).get("name"),
            **{key: ", ".join(sorted(_names(details, key))) for key in LISTS},
            "threats_seen": len({r["threat_id"] for r in rows}),
            **reach(rows),
        }
        for tid in {r["threat_id"] for r in rows}:
            threats[cid, tid] = reach(r for r in rows if r["threat_id"] == tid)
    ranked = sorted(
        campaigns,
        key=lambda c: (
            -campaigns[c]["recipients_targeted"],
            -(campaigns[c]["clicks_permitted"] + campaigns[c]["clicks_blocked"]),
            c,
        ),
    )
    for rank, cid in enumerate(ranked, 1):
        campaigns[cid]["reach_rank"] = rank
    return campaigns, threats


def attacker_events(truth: dict, intel: dict) -> list[tuple[str, str, dict]]:
    """(kind, attacker, event row) for every attribution: the threat's summary's and its
    campaigns' actors and malware, and the actors a message names for the threat."""
    events = threat_events(truth)
    members = memberships(events, intel)
    out = []
    for e in events:
        sources = [intel["threats"].get(e["threat_id"])]
        sources += [intel["campaigns"].get(c) for c in members.get(e["threat_id"], ())]
        actors = set().union(*(_names(s, "actors") for s in sources)) | set(e["actors"])
        malware = set().union(*(_names(s, "malware") for s in sources))
        out += [("actor", name, e) for name in actors]
        out += [("malware", name, e) for name in malware]
    return out


def _attacker_counts(rows: list[dict]) -> dict[str, int]:
    messages = [r for r in rows if r["kind"] == "message"]
    clicks = [r for r in rows if r["kind"] == "click"]
    return {
        "users_targeted": len({r["recipient"] for r in messages if r["recipient"]}),
        "messages_delivered": len({r["guid"] for r in messages if r["disposition"] == "delivered"}),
        "messages_blocked": len({r["guid"] for r in messages if r["disposition"] == "blocked"}),
        "clicks_permitted": len({r["event_id"] for r in clicks if r["disposition"] == "permitted"}),
        "clicks_blocked": len({r["event_id"] for r in clicks if r["disposition"] == "blocked"}),
    }


def expected_attackers(truth: dict, intel: dict) -> tuple[dict[tuple, dict], dict[tuple, dict]]:
    """mart_attackers by (kind, attacker), mart_attackers_daily by (kind, attacker, date)."""
    members = memberships(threat_events(truth), intel)
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    daily: dict[tuple, list[dict]] = defaultdict(list)
    for kind, name, e in attacker_events(truth, intel):
        grouped[kind, name].append(e)
        daily[kind, name, e["created"].astimezone(timezone.utc).date()].append(e)
    attackers = {}
    for key, rows in grouped.items():
        threats = {r["threat_id"] for r in rows}
        attackers[key] = {
            "campaigns": len(set().union(*(members.get(t, set()) for t in threats))),
            "threats": len(threats),
            **_attacker_counts(rows),
            "first_seen_at": min(r["time"] for r in rows),
            "last_seen_at": max(r["time"] for r in rows),
        }
    for kind in ("actor", "malware"):
        ranked = sorted(
            (k for k in attackers if k[0] == kind),
            key=lambda k: (
                -attackers[k]["users_targeted"],
                -attackers[k]["clicks_permitted"],
                k[1],
            ),
        )
        for rank, key in enumerate(ranked, 1):
            attackers[key]["attacker_rank"] = rank
    days = {}
    for key, rows in daily.items():
        counts = _attacker_counts(rows)
        days[key] = {
            k: counts[k] for k in ("users_targeted", "messages_delivered", "clicks_permitted")
        }
    return attackers, days


def _ranking(snapshot: dict | None, measure: str) -> dict[str, dict]:
    """A people snapshot's users by lower-cased address (the higher measure when listed twice)."""
    out: dict[str, dict] = {}
    if not snapshot:
        return out
    stats_key = "threatStatistics" if measure == "attackIndex" else "clickStatistics"
    for user in snapshot["answer"]["users"]:
        identity, stats = user["identity"], user[stats_key]
        for email in identity.get("emails") or []:
            address = email.strip().lower()
            row = {**identity, **stats}
            kept = out.get(address)
            if kept is None or (row[measure], kept["guid"]) > (kept[measure], row["guid"]):
                out[address] = row
    return out


def expected_people(truth: dict, intel: dict) -> dict[str, dict]:
    """mart_people_at_risk by user_email."""
    vap_snapshot = intel["people"].get("very_attacked_people")
    clickers_snapshot = intel["people"].get("top_clickers")
    vap = _ranking(vap_snapshot, "attackIndex")
    clickers = _ranking(clickers_snapshot, "clickCount")
    ours: dict[str, dict] = defaultdict(lambda: {"permitted": 0, "blocked": 0, "last": None})
    for stream in ("clicks_permitted", "clicks_blocked"):
        for c in truth[stream]:
            user = ours[recipient_of(c)]
            user[stream.removeprefix("clicks_")] += 1
            when = parse_ms(c["clickTime"])
            user["last"] = when if user["last"] is None else max(user["last"], when)
    ours.pop("", None)
    threshold = vap_snapshot["answer"]["vapAttackIndexThreshold"] if vap_snapshot else None
    rows = {}
    for email in set(vap) | set(ours) | set(clickers):
        v, t = vap.get(email), clickers.get(email)
        mine = ours.get(email, {"permitted": 0, "blocked": 0, "last": None})
        proofpoint_clicks = t["clickCount"] if t else None  # None: not a top clicker
        clicking = mine["permitted"] + mine["blocked"] > 0 or (proofpoint_clicks or 0) > 0
        if v is None and not clicking:
            continue
        segment = 0 if v and clicking else 1 if v else 2
        families = sorted(v["families"], key=lambda f: (-f["score"], f["name"])) if v else []
        rows[email] = {
            **{
                field: (v or {}).get(field) or (t or {}).get(field)
                for field in ("name", "department", "title")
            },
            "is_vip": bool((v or {}).get("vip")) or bool((t or {}).get("vip")),
            "is_very_attacked": v is not None,
            "attack_index": v["attackIndex"] if v else None,
            "attack_families": ", ".join(f["name"] for f in families),
            "vap_threshold": threshold,
            "is_top_clicker": t is not None,
            "proofpoint_clicks": proofpoint_clicks,
            "clicks_permitted": mine["permitted"],
            "clicks_blocked": mine["blocked"],
            "last_click_at": mine["last"],
            "segment": SEGMENTS[segment][0],
            "action": SEGMENTS[segment][1],
            "window_days": vap_snapshot["window"] if vap_snapshot else None,
            "_order": segment,
        }
    ranked = sorted(
        rows,
        key=lambda e: (
            rows[e]["_order"],
            rows[e]["attack_index"] is None,
            -(rows[e]["attack_index"] or 0),
            -(rows[e]["clicks_permitted"] + rows[e]["clicks_blocked"]),
            -(rows[e]["proofpoint_clicks"] or 0),
            e,
        ),
    )
    for rank, email in enumerate(ranked, 1):
        rows[email]["risk_rank"] = rank
        del rows[email]["_order"]
    return rows


def evidence_indicators(what: Any) -> set[tuple[str, str]]:
    """(indicator_type, indicator) of one evidence item's what{}."""
    found: set[tuple[str, str]] = set()
    if not isinstance(what, dict):
        return found
    for key, kind, is_list in INDICATOR_KEYS:
        value = what.get(key)
        values = (value if isinstance(value, list) else []) if is_list else [value]
        for v in values:
            if v is None or isinstance(v, (dict, list)):
                continue
            text = str(v).strip() if not isinstance(v, bool) else str(v).lower()
            text = text if kind in ("url", "ip") else text.lower()
            if text:
                found.add((kind, text))
    return found


def expected_indicators(truth: dict, intel: dict) -> dict[tuple, dict]:
    """mart_indicators_to_hunt by (indicator_type, indicator, campaign_id, threat_id)."""
    events = threat_events(truth)
    members = memberships(events, intel)
    items: dict[tuple, set[tuple[str, str]]] = defaultdict(set)  # row key → {(item id, type)}
    for fetched in intel["forensics"]:
        for report in fetched["answer"]["reports"]:
            scope = str(report.get("scope") or "").lower()
            about = (
                scope
                if scope in ("campaign", "threat")
                else ("campaign" if fetched["queriedBy"] == "campaignId" else "threat")
            )
            about_id = report.get("id") or fetched["queriedId"]
            for item in report.get("forensics") or []:
                if item.get("malicious") is not True:
                    continue
                # what the tap's evidence id is derived from: the item and its report
                identity = json.dumps(
                    [scope, report.get("id"), report.get("name"), item], sort_keys=True
                )
                places = (
                    [(about_id, None)]
                    if about == "campaign"
                    else [(c, about_id) for c in sorted(members.get(about_id, ()))]
                    or [(None, about_id)]
                )
                for kind, value in evidence_indicators(item.get("what")):
                    for campaign_id, threat_id in places:
                        items[kind, value, campaign_id, threat_id].add(
                            (identity, str(item.get("type")).lower())
                        )

    def mail(rows: list[dict]) -> dict[str, Any]:
        messages = [r for r in rows if r["kind"] == "message"]
        delivered = [r for r in messages if r["disposition"] == "delivered"]
        last = max((r["message_time"] for r in messages), default=None)
        return {
            "messages_delivered": len({r["guid"] for r in delivered}),
            "recipients": len({r["recipient"] for r in delivered if r["recipient"]}),
            "clicks": len({r["event_id"] for r in rows if r["kind"] == "click"}),
            "last_seen_in_mail_at": last,
            "seen_in_mail": last is not None,
        }

    by_threat: dict[str, list[dict]] = defaultdict(list)
    by_campaign: dict[str, list[dict]] = defaultdict(list)
    for e in events:
        by_threat[e["threat_id"]].append(e)
        for c in members.get(e["threat_id"], ()):
            by_campaign[c].append(e)
    rows = {}
    for (kind, value, campaign_id, threat_id), found in items.items():
        summary = intel["threats"].get(threat_id) if threat_id else None
        rows[kind, value, campaign_id, threat_id] = {
            "evidence_types": ", ".join(sorted({t for _, t in found})),
            "evidence_items": len({i for i, _ in found}),
            "campaign_name": (intel["campaigns"].get(campaign_id) or {}).get("name"),
            "threat": summary["name"] if summary else None,
            **mail(by_campaign[campaign_id] if threat_id is None else by_threat[threat_id]),
        }
    ranked = sorted(
        rows,
        key=lambda k: (
            -rows[k]["clicks"],
            -rows[k]["recipients"],
            -rows[k]["messages_delivered"],
            k[0],
            k[1],
            k[2] or "",
            k[3] or "",
        ),
    )
    for rank, key in enumerate(ranked, 1):
        rows[key]["hunt_rank"] = rank
    return rows


def expected_queue_details(truth: dict, intel: dict) -> dict[str, dict]:
    """The work queue's new columns for every permitted click: threat_time, the delivered
    message's sender (the click's own without one), subject and time, the campaign and its name."""
    messages = {m["id"]: m for m in truth["messages_delivered"]}
    members = memberships(threat_events(truth), intel)
    out = {}
    deliveries = expected_clicks(truth)
    for c in truth["clicks_permitted"]:
        key = deliveries[c["id"]]["delivery_key"]
        m = messages[key.split("/", 1)[0]] if key else None
        campaign = c.get("campaignId") or min(members.get(c["threatID"], ()), default=None)
        out[c["id"]] = {
            "threat_time": parse_ms(c["threatTime"]),
            "sender": _lower(m["sender"] if m else None) or _lower(c.get("sender")),
            "subject": m["subject"] if m else None,
            "message_time": parse_ms(m["messageTime"]) if m else None,
            "campaign_id": campaign,
            "campaign_name": (intel["campaigns"].get(campaign) or {}).get("name"),
        }
    return out


# -- the check, on DuckDB and on PostgreSQL --


def _rows(query: Query, sql: str, columns: list[str], key: int | slice) -> dict:
    out = {}
    for row in query(f"select {', '.join(columns)} from {sql}"):
        record = dict(zip(columns, row, strict=True))
        k = row[key] if isinstance(key, int) else tuple(row[key])
        assert k not in out, f"{sql}: {k} twice"
        out[k] = {c: _plain(v) for c, v in record.items()}
    return out


def _plain(value: Any) -> Any:
    """Database values as the oracle's: aware UTC times, floats for decimals."""
    if isinstance(value, datetime):
        return _utc(value)
    if type(value).__name__ == "Decimal":
        return float(value)
    return value


def _same(got: dict, want: dict, what: str) -> None:
    """``got`` (rows by key) holds the keys of ``want`` and, in each row, its values (floats
    to rounding)."""
    assert got.keys() == want.keys(), (
        f"{what}: missing {sorted(map(str, want.keys() - got.keys()))[:5]}, "
        f"extra {sorted(map(str, got.keys() - want.keys()))[:5]}"
    )
    for key, expected in want.items():
        floats = {c for c, v in expected.items() if isinstance(v, float)}
        for column in floats:
            assert got[key][column] == pytest.approx(expected[column]), (what, key, column)
        actual = {c: got[key][c] for c in expected if c not in floats}
        assert actual == {c: v for c, v in expected.items() if c not in floats}, (what, key)


def check_intel_marts(query: Query, truth: dict, intel: dict) -> dict[str, int]:
    """Every new mart equals the oracle; the data holds the cases the marts are about.
    Returns the rows per mart."""
    campaigns, campaign_threats = expected_campaigns(truth, intel)
    assert any(c["clicks_permitted"] + c["clicks_blocked"] for c in campaigns.values()), (
        "no campaign with clicks: the sandbox data does not exercise the campaign funnel"
    )
    columns = list(next(iter(campaigns.values())).keys())
    got = _rows(query, "analytics.mart_campaigns_reached", ["campaign_id", *columns], 0)
    _same(got, campaigns, "mart_campaigns_reached")
    columns = list(next(iter(campaign_threats.values())).keys())
    got = _rows(
        query,
        "analytics.mart_campaign_threats",
        ["campaign_id", "threat_id", *columns],
        slice(0, 2),
    )
    _same(got, campaign_threats, "mart_campaign_threats")

    attackers, days = expected_attackers(truth, intel)
    assert {k for k, _ in attackers} == {"actor", "malware"}, "the data should hold both kinds"
    columns = list(next(iter(attackers.values())).keys())
    got = _rows(
        query, "analytics.mart_attackers", ["attacker_kind", "attacker", *columns], slice(0, 2)
    )
    _same(got, attackers, "mart_attackers")
    columns = list(next(iter(days.values())).keys())
    got = _rows(
        query,
        "analytics.mart_attackers_daily",
        ["attacker_kind", "attacker", "activity_date", *columns],
        slice(0, 3),
    )
    _same(got, days, "mart_attackers_daily")

    people = expected_people(truth, intel)
    assert {p["segment"] for p in people.values()} == {s for s, _ in SEGMENTS}, (
        "every segment should be non-empty in the sandbox data"
    )
    columns = list(next(iter(people.values())).keys())
    got = _rows(query, "analytics.mart_people_at_risk", ["user_email", *columns], 0)
    _same(got, people, "mart_people_at_risk")
    snapshots = query(
        "select distinct snapshot_at, top_clickers_snapshot_at from analytics.mart_people_at_risk"
    )
    assert [tuple(map(_plain, s)) for s in snapshots] == [
        tuple(
            datetime.fromisoformat(intel["people"][t]["snapshotAt"])
            for t in ("very_attacked_people", "top_clickers")
        )
    ]

    indicators = expected_indicators(truth, intel)
    kinds = {k[0] for k in indicators}
    assert {"sha256", "md5", "domain", "ip", "url"} <= kinds, f"indicator types: {kinds}"
    assert any(r["seen_in_mail"] for r in indicators.values())
    assert any(k[3] is None for k in indicators) and any(k[3] for k in indicators), (
        "the data should hold campaign and threat evidence"
    )
    columns = list(next(iter(indicators.values())).keys())
    got = _rows(
        query,
        "analytics.mart_indicators_to_hunt",
        ["indicator_type", "indicator", "campaign_id", "threat_id", *columns],
        slice(0, 4),
    )
    _same(got, indicators, "mart_indicators_to_hunt")

    details = expected_queue_details(truth, intel)
    columns = list(next(iter(details.values())).keys())
    got = _rows(query, "analytics.mart_click_exposure", ["click_id", *columns], 0)
    assert got, "the work queue is empty"
    _same(got, {k: details[k] for k in got}, "mart_click_exposure")
    assert any(r["subject"] for r in got.values()) and any(r["campaign_name"] for r in got.values())
    # the queue's rows and ranks are those of before: permitted clicks on active threats, ranked
    # 1..n without gaps
    (queued,) = query(
        "select count(*) from analytics.fct_clicks c join analytics.dim_threats t "
        "on t.threat_id = c.threat_id where c.disposition = 'permitted' "
        "and t.threat_status = 'active'"
    )
    ranks = sorted(r for (r,) in query("select priority_rank from analytics.mart_click_exposure"))
    assert ranks == list(range(1, queued[0] + 1))
    return {
        "mart_campaigns_reached": len(campaigns),
        "mart_campaign_threats": len(campaign_threats),
        "mart_attackers": len(attackers),
        "mart_attackers_daily": len(days),
        "mart_people_at_risk": len(people),
        "mart_indicators_to_hunt": len(indicators),
    }
