"""The SIEM API's paths: the streams each serves, the pool each counts in, and the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tap_proofpoint_tap.sandboxes.siem import rules

if TYPE_CHECKING:
    import random
    from collections.abc import Iterator, Mapping, Sequence
    from datetime import datetime, timedelta

    from tap_proofpoint_tap.sandboxes.siem.store import EventStore

ENDPOINTS: dict[str, tuple[str, ...]] = {
    "/v2/siem/clicks/permitted": ("clicks_permitted",),
    "/v2/siem/clicks/blocked": ("clicks_blocked",),
    "/v2/siem/messages/delivered": ("messages_delivered",),
    "/v2/siem/messages/blocked": ("messages_blocked",),
    "/v2/siem/all": (
        "clicks_blocked",
        "clicks_permitted",
        "messages_blocked",
        "messages_delivered",
    ),
    "/v2/siem/issues": ("clicks_permitted", "messages_delivered"),
}
ARRAY_KEYS = {
    "clicks_permitted": "clicksPermitted",
    "clicks_blocked": "clicksBlocked",
    "messages_delivered": "messagesDelivered",
    "messages_blocked": "messagesBlocked",
}
POOLS = ("shared", "clicks_permitted")  # 1,800 each (Sandbox.rate_limit)


def pool_of(path: str) -> str:
    """``clicks/permitted`` has its own pool; the other SIEM paths share one (a guess for
    ``/all`` and ``/issues``: shared/siem-api.md)."""
    return "clicks_permitted" if path == "/v2/siem/clicks/permitted" else "shared"


def answer(
    store: EventStore,
    path: str,
    params: Mapping[str, Sequence[str]],
    now: datetime,
    current_lag: timedelta,
    rng: random.Random,
) -> tuple[int, Iterator[bytes]]:
    """The body's length and pieces for a request to ``path``, or ``rules.ApiError``."""
    rules.check_format(params)
    window = rules.resolve_window(params, now, current_lag)
    statuses = rules.threat_statuses(params)
    types = rules.threat_types(params)
    arrays = {}
    for stream in ENDPOINTS[path]:
        by_type = types if stream.startswith("messages") else None
        arrays[ARRAY_KEYS[stream]] = store.select(stream, window, now, statuses, by_type)
    return store.body(arrays, rules.format_time(window.end), rng)
