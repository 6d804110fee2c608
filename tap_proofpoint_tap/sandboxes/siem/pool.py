"""The seed's threats and campaigns: the facts that events, summaries and campaigns agree on.

Events draw their threats from ``THREATS`` pooled threats, so URLs are clicked repeatedly as in
a tenant. ``WIDER_THREATS`` more exist only as members of ``WIDER_CAMPAIGNS`` campaigns that no
event mentions: Proofpoint's wider view, which only campaign discovery finds. Each threat has
one final status (reached on its timeline: ``timeline``), one type and at most one campaign,
whatever event mentions it.
"""

from __future__ import annotations

import functools
import random
import threading
import uuid
from typing import Any

from tap_proofpoint_tap.sandboxes.siem.vocabulary import BAD_DOMAINS, FIRST, PATHS

THREATS = 400
WIDER_THREATS = 60
CAMPAIGNS = 25
WIDER_CAMPAIGNS = 5
THREAT_STATUSES = ("active", "cleared", "falsePositive")
STATUS_WEIGHTS = (80, 15, 5)
THREAT_TYPES = ("url", "attachment", "messageText")
TYPE_WEIGHTS = (8, 2, 1)

_CAMPAIGN_SHARE = 0.7  # threats of the tenant's events that belong to a campaign
_NO_SENDER_SHARE = 0.05  # threats whose sender is ""


def random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def random_hex(rng: random.Random, n: int = 64) -> str:
    return f"{rng.getrandbits(n * 4):0{n}x}"


def random_ip(rng: random.Random) -> str:
    return (
        f"{rng.choice((198, 203, 185, 45))}.{rng.randrange(256)}.{rng.randrange(256)}."
        f"{rng.randrange(1, 255)}"
    )


def campaign_id(seed: int, k: int) -> str:
    """The id of the seed's ``k``-th campaign (``CAMPAIGNS`` first, then the wider ones)."""
    return random_uuid(random.Random(f"{seed}|campaign|{k}"))


@functools.lru_cache(maxsize=4096)
def pooled_threat(seed: int, n: int) -> dict[str, Any]:
    """The ``n``-th threat of ``seed``: a condemned URL with its facts (shared: never mutate).

    ``status`` is the one it ends with (``timeline``); ``Statuses`` holds the changes a test
    made since.
    """
    pool = random.Random(f"{seed}|threat|{n}")
    domain = pool.choice(BAD_DOMAINS)
    url = f"https://{domain}/{pool.choice(PATHS)}{random_hex(pool, 10)}"
    in_campaign = pool.random() < _CAMPAIGN_SHARE or n >= THREATS
    if in_campaign:
        pool.getrandbits(128)  # the draw of a former per-threat campaign id: later facts stay
    sender = "" if pool.random() < _NO_SENDER_SHARE else f"{pool.choice(FIRST)}@{domain}"
    facts = random.Random(f"{seed}|threat|{n}|facts")
    status = facts.choices(THREAT_STATUSES, STATUS_WEIGHTS)[0]
    kind = facts.choices(THREAT_TYPES, TYPE_WEIGHTS)[0]
    k = facts.randrange(CAMPAIGNS) if n < THREATS else CAMPAIGNS + n % WIDER_CAMPAIGNS
    threat_id = random_hex(pool)
    return {
        "n": n,
        "url": url,
        "threatID": threat_id,
        "threat": url if kind == "url" else threat_id,
        "type": kind,
        "status": status,
        "classification": pool.choices(("phish", "malware", "spam"), (6, 3, 1))[0],
        "campaignId": campaign_id(seed, k) if in_campaign else None,
        "campaign": k if in_campaign else None,
        "sender": sender,
        "senderIP": random_ip(pool),
    }


class Statuses:
    """Threat statuses a test changed (``Sandbox.set_threat_status``): they replace the pool's
    in everything served from then on, events and the Threat, Campaign and Forensics APIs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed: dict[str, str] = {}

    def set(self, threat_id: str, status: str) -> None:
        if status not in THREAT_STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {', '.join(THREAT_STATUSES)}")
        with self._lock:
            self._changed[threat_id] = status

    def changed(self) -> dict[str, str]:
        """A copy of the changes (a handful: tests make them one by one)."""
        with self._lock:
            return dict(self._changed)

    def of(self, threat: dict[str, Any], scheduled: str) -> str:
        """A pooled threat's status: a test's change, else ``scheduled`` (its timeline's)."""
        with self._lock:
            return str(self._changed.get(threat["threatID"], scheduled))
