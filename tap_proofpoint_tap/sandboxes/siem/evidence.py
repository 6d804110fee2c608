"""The Forensics API's reports: evidence of the 13 published types, the same for an id on
every call, in both published shapes where clients saw two (``blacklisted`` boolean or 0/1,
a network ``port`` integer or string)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from tap_proofpoint_tap.sandboxes.siem.intel_vocabulary import (
    BEHAVIORS,
    DROPPED,
    IDS_RULES,
    PLATFORMS,
    PROCESSES,
    REGISTRY_KEYS,
)
from tap_proofpoint_tap.sandboxes.siem.pool import random_hex, random_ip
from tap_proofpoint_tap.sandboxes.siem.vocabulary import BAD_DOMAINS

if TYPE_CHECKING:
    from collections.abc import Callable

TYPES = (
    "attachment",
    "url",
    "dns",
    "network",
    "file",
    "process",
    "registry",
    "mutex",
    "dropper",
    "cookie",
    "ids",
    "behavior",
    "screenshot",
)
_MALICIOUS_SHARE = 0.7
_NOTE_SHARE = 0.5  # items whose note repeats the display (the others' is "")
_TRUE_SHARE = 0.5  # blacklisted items
_INTEGER_SHAPE_SHARE = 0.5  # items with blacklisted as 0/1, network ports as strings
_CNAME_SHARE = 0.3
_SANDBOX_ENGINES = ("iee", "cuckoo")

Evidence = tuple[dict[str, Any], str, str]  # what, display, engine


def threat_report(seed: int, threat: dict[str, Any], status: str) -> dict[str, Any]:
    """The THREAT report of a pooled threat: its own indicator first, then what the sandboxes
    saw it do."""
    rng = random.Random(f"{seed}|forensics|{threat['threatID']}")
    items = [_item(rng, _primary(threat), threat)]
    items += [_item(rng, rng.choice(TYPES), threat) for _ in range(rng.randrange(3, 10))]
    return {
        "scope": "THREAT",
        "id": threat["threatID"],
        "name": threat["threat"],
        "threatStatus": status,
        "forensics": items,
    }


def campaign_report(
    seed: int, campaign_id: str, name: str, members: list[dict[str, Any]]
) -> dict[str, Any]:
    """The CAMPAIGN report: the indicators of a few members and the campaign's own."""
    rng = random.Random(f"{seed}|forensics|campaign|{campaign_id}")
    items = [_item(rng, _primary(m), m) for m in members[:3]]
    items += [_item(rng, rng.choice(TYPES), None) for _ in range(rng.randrange(2, 7))]
    return {"scope": "CAMPAIGN", "id": campaign_id, "name": name, "forensics": items}


def _primary(threat: dict[str, Any]) -> str:
    return {"url": "url", "attachment": "attachment"}.get(threat["type"], "behavior")


def _item(rng: random.Random, kind: str, threat: dict[str, Any] | None) -> dict[str, Any]:
    what, display, engine = _WHAT[kind](rng, threat)
    platform = rng.choice(PLATFORMS[:2] if engine in _SANDBOX_ENGINES else PLATFORMS[2:])
    return {
        "type": kind,
        "display": display,
        "engine": engine,
        "malicious": rng.random() < _MALICIOUS_SHARE,
        "note": display if rng.random() < _NOTE_SHARE else "",
        "time": rng.randrange(1, 180) if engine in _SANDBOX_ENGINES else 0,
        "what": what,
        "platforms": [dict(platform)],
    }


def _flag(rng: random.Random) -> bool | int:
    """``blacklisted``: a boolean in some published reports, 0 or 1 in others."""
    value = rng.random() < _TRUE_SHARE
    return int(value) if rng.random() < _INTEGER_SHAPE_SHARE else value


def _url_of(rng: random.Random, threat: dict[str, Any] | None) -> str:
    if threat is not None:
        return str(threat["url"])
    return f"https://{rng.choice(BAD_DOMAINS)}/{random_hex(rng, 8)}"


def _domain(rng: random.Random, threat: dict[str, Any] | None) -> str:
    return _url_of(rng, threat).split("/")[2]


def _attachment(rng: random.Random, threat: dict[str, Any] | None) -> Evidence:
    sha256 = threat["threatID"] if threat and threat["type"] == "attachment" else random_hex(rng)
    what = {
        "sha256": sha256,
        "md5": random_hex(rng, 32),
        "blacklisted": _flag(rng),
        "offset": rng.randrange(0, 4096),
        "rule": "Av",
        "size": rng.randrange(10_000, 900_000),
    }
    return what, f"Attachment with SHA-256: {sha256}", rng.choice(("av", "static"))


def _url(rng: random.Random, threat: dict[str, Any] | None) -> Evidence:
    url = _url_of(rng, threat)
    what = {"url": url, "blacklisted": _flag(rng), "ip": random_ip(rng), "httpStatus": 200}
    return what, f"URL {url}", rng.choice(("static", "iee"))


def _dns(rng: random.Random, threat: dict[str, Any] | None) -> Evidence:
    host, ip = _domain(rng, threat), random_ip(rng)
    what = {
        "host": host,
        "cnames": [f"cdn.{host}"] if rng.random() < _CNAME_SHARE else [],
        "ips": [ip],
        "nameservers": [f"ns1.{host}"],
        "nameserversList": [f"ns1.{host}", f"ns2.{host}"],
    }
    return what, f"DNS query for {host} resolved to {ip}", rng.choice(_SANDBOX_ENGINES)


def _network(rng: random.Random, threat: dict[str, Any] | None) -> Evidence:
    ip, port = random_ip(rng), rng.choice((80, 443, 8080, 4444, 53))
    what = {
        "action": rng.choice(("connect", "listen")),
        "ip": ip,
        "port": str(port) if rng.random() < _INTEGER_SHAPE_SHARE else port,  # both published shapes
        "type": rng.choice(("tcp", "udp")),
    }
    return what, f"Network {what['action']} {ip}:{port}", rng.choice(_SANDBOX_ENGINES)


def _file(rng: random.Random, threat: dict[str, Any] | None) -> Evidence:
    path = rng.choice(DROPPED).format(h=random_hex(rng, 8))
    what = {
        "action": rng.choice(("create", "modify", "delete")),
        "path": path,
        "md5": random_hex(rng, 32),
        "sha256": random_hex(rng),
        "size": rng.randrange(1_000, 500_000),
    }
    return what, f"File {what['action']}: {path}", rng.choice(_SANDBOX_ENGINES)


def _process(rng: random.Random, threat: dict[str, Any] | None) -> Evidence:
    path = rng.choice(PROCESSES)
    return {"action": "create", "path": path}, f"Process launched: {path}", "iee"


def _registry(rng: random.Random, threat: dict[str, Any] | None) -> Evidence:
    key, name = rng.choice(REGISTRY_KEYS), random_hex(rng, 6)
    what = {"action": "set", "key": key, "name": name, "value": f"C:\\ProgramData\\{name}.exe"}
    return what, f"Registry key set: {key}\\{name}", rng.choice(_SANDBOX_ENGINES)


def _mutex(rng: random.Random, threat: dict[str, Any] | None) -> Evidence:
    name = f"Global\\{random_hex(rng, 12)}"
    what = {"name": name, "path": rng.choice(PROCESSES)}
    return what, f"Mutex created: {name}", "iee"


def _dropper(rng: random.Random, threat: dict[str, Any] | None) -> Evidence:
    path = rng.choice(DROPPED).format(h=random_hex(rng, 8))
    what = {"path": path, "rule": "dropper_payload", "url": _url_of(rng, threat)}
    return what, f"Dropped payload {path}", rng.choice(_SANDBOX_ENGINES)


def _cookie(rng: random.Random, threat: dict[str, Any] | None) -> Evidence:
    domain = _domain(rng, threat)
    what = {"action": "set", "domain": domain, "key": "session", "value": random_hex(rng, 16)}
    return what, f"Cookie set by {domain}", "iee"


def _ids(rng: random.Random, threat: dict[str, Any] | None) -> Evidence:
    name = rng.choice(IDS_RULES)
    what = {"name": name, "signatureId": rng.randrange(2_000_000, 2_100_000)}
    return what, f"IDS alert: {name}", "iee"


def _behavior(rng: random.Random, threat: dict[str, Any] | None) -> Evidence:
    rule = rng.choice(BEHAVIORS)
    return {"rule": rule, "url": _url_of(rng, threat)}, f"Behavior: {rule}", "iee"


def _screenshot(rng: random.Random, threat: dict[str, Any] | None) -> Evidence:
    url = _url_of(rng, threat)
    return {"url": url}, "Screenshot", "static"


_WHAT: dict[str, Callable[[random.Random, dict[str, Any] | None], Evidence]] = {
    "attachment": _attachment,
    "url": _url,
    "dns": _dns,
    "network": _network,
    "file": _file,
    "process": _process,
    "registry": _registry,
    "mutex": _mutex,
    "dropper": _dropper,
    "cookie": _cookie,
    "ids": _ids,
    "behavior": _behavior,
    "screenshot": _screenshot,
}
