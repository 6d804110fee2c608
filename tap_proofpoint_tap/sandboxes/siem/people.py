"""The People API's rankings: Very Attacked People and top clickers, drawn from the mailboxes
the SIEM events are sent to. A person is the same identity in every answer; a ranking is a
snapshot of the day (the clock's date), its ``interval`` ending at the clock's now."""

from __future__ import annotations

import functools
import random
from datetime import datetime, timedelta, timezone
from typing import Any

from tap_proofpoint_tap.sandboxes.siem.intel_vocabulary import (
    CLICK_FAMILIES,
    DEPARTMENTS,
    LOCATIONS,
    TITLES,
    VAP_FAMILIES,
)
from tap_proofpoint_tap.sandboxes.siem.vocabulary import CORP_DOMAINS, FIRST, LAST

WINDOWS = (14, 30, 90)
ROSTER = 150  # the seed's people the rankings draw on
_VAPS = {14: 20, 30: 35, 90: 60}  # about how many VAPs each window has
_CLICKERS = {14: 12, 30: 25, 90: 40}
_KNOWN_SHARE = 0.6  # people whose directory facts TAP knows
_VIP_SHARE = 0.05


def vap(seed: int, window: int, now: datetime) -> dict[str, Any]:
    """Every VAP of ``window`` days by attackIndex, highest first, with the envelope."""
    rng = random.Random(f"{seed}|vap|{window}|{now.date().isoformat()}")
    threshold = round(rng.uniform(800, 1200), 4)
    average = round(threshold * rng.uniform(0.4, 0.7), 4)
    users = []
    for identity in rng.sample(_roster(seed), _VAPS[window] + rng.randrange(-3, 4)):
        index = rng.randrange(int(threshold) + 1, 4000)
        names = rng.sample(VAP_FAMILIES, rng.randrange(1, 4))
        scores = _split(rng, index, len(names))
        users.append(
            {
                "identity": _copy(identity),
                "threatStatistics": {
                    "attackIndex": index,
                    "families": [
                        {"name": n, "score": s} for n, s in zip(names, scores, strict=True)
                    ],
                },
            }
        )
    users.sort(key=lambda u: (-u["threatStatistics"]["attackIndex"], u["identity"]["guid"]))
    return {
        "users": users,
        "totalVapUsers": len(users),
        "interval": _interval(now, window),
        "averageAttackIndex": average,
        "vapAttackIndexThreshold": threshold,
    }


def top_clickers(seed: int, window: int, now: datetime) -> dict[str, Any]:
    """Every top clicker of ``window`` days by clickCount, highest first, with the envelope."""
    rng = random.Random(f"{seed}|clickers|{window}|{now.date().isoformat()}")
    users = []
    for identity in rng.sample(_roster(seed), _CLICKERS[window] + rng.randrange(-2, 3)):
        count = rng.randrange(1, 25)
        names = rng.sample(CLICK_FAMILIES, min(count, rng.randrange(1, 3)))
        clicks = _split(rng, count, len(names))
        users.append(
            {
                "identity": _copy(identity),
                "clickStatistics": {
                    "clickCount": count,
                    "families": [
                        {"name": n, "clicks": c} for n, c in zip(names, clicks, strict=True)
                    ],
                },
            }
        )
    users.sort(key=lambda u: (-u["clickStatistics"]["clickCount"], u["identity"]["guid"]))
    return {"users": users, "totalTopClickers": len(users), "interval": _interval(now, window)}


@functools.lru_cache(maxsize=16)
def _roster(seed: int) -> tuple[dict[str, Any], ...]:
    """The seed's people (shared: answers copy them)."""
    mailboxes = [f"{f}.{last}@{d}" for f in FIRST for last in LAST for d in CORP_DOMAINS]
    return tuple(
        _identity(seed, m) for m in random.Random(f"{seed}|people").sample(mailboxes, ROSTER)
    )


def _identity(seed: int, email: str) -> dict[str, Any]:
    rng = random.Random(f"{seed}|person|{email}")
    bits = [rng.getrandbits(n * 4) for n in (10, 4, 4, 4, 12)]
    guid = "-".join(f"{b:0{n}x}" for b, n in zip(bits, (10, 4, 4, 4, 12), strict=True))
    known = rng.random() < _KNOWN_SHARE
    first, last = email.split("@", maxsplit=1)[0].split(".")
    return {
        "guid": guid,
        "customerUserId": f"E{rng.randrange(10000, 100000)}" if known else None,
        "emails": [email],
        "name": f"{first.title()} {last.title()}" if known else None,
        "department": rng.choice(DEPARTMENTS) if known else None,
        "location": rng.choice(LOCATIONS) if known else None,
        "title": rng.choice(TITLES) if known else None,
        "vip": rng.random() < _VIP_SHARE,
    }


def _copy(identity: dict[str, Any]) -> dict[str, Any]:
    return {**identity, "emails": list(identity["emails"])}


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """``total`` cut into ``parts`` positive integers (``parts`` <= ``total``)."""
    cuts = sorted(rng.sample(range(1, total), parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]


def _interval(now: datetime, window: int) -> str:
    end = now.astimezone(timezone.utc).replace(microsecond=0)
    start = end - timedelta(days=window)
    return f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}"
