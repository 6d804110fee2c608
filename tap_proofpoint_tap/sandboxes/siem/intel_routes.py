"""The Threat, Campaign, Forensics and People APIs' requests: which pool each counts in, its
parameters' rules (400s), and its answer. Texts of 400s are guesses: the docs give none."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from tap_proofpoint_tap.sandboxes.siem.people import WINDOWS
from tap_proofpoint_tap.sandboxes.siem.rules import ApiError, parse_interval

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime

    from tap_proofpoint_tap.sandboxes.siem.intel import Intel

    Params = Mapping[str, Sequence[str]]

SUMMARY = "/v2/threat/summary/"
CAMPAIGN = "/v2/campaign/"
CAMPAIGN_IDS = "/v2/campaign/ids"
FORENSICS = "/v2/forensics"
VAP = "/v2/people/vap"
TOP_CLICKERS = "/v2/people/top-clickers"
# Requests per rolling 24 hours (shared/siem-api.md and tap-apis.md §0); threat summaries and
# campaign details count in no pool.
POOL_LIMITS = {
    "campaign_ids": 50,
    "vap": 50,
    "top_clickers": 50,
    "forensics_threat": 50,
    "forensics_campaign": 1800,
}
NOT_FOUND = "The campaign ID or threat ID does not exist"  # the docs' reason phrase
MAX_CAMPAIGN_INTERVAL = timedelta(days=1)


@dataclass(frozen=True)
class Route:
    """A known path: the pool its requests count in (None: no quota) and its answer, a JSON
    body or an ``ApiError``."""

    pool: str | None
    answer: Callable[[Params, datetime], bytes]


def route(intel: Intel, path: str, params: Params) -> Route | None:
    """The route of ``path``, or None (404). A forensics request counts in the campaign pool
    when it names a campaign and no threat, otherwise in the threat pool."""
    if path.startswith(SUMMARY) and _segment(path[len(SUMMARY) :]):
        threat_id = unquote(path[len(SUMMARY) :])
        return Route(None, lambda _p, now: _found(intel.summary(threat_id, now)))
    if path.startswith(CAMPAIGN) and path != CAMPAIGN_IDS and _segment(path[len(CAMPAIGN) :]):
        campaign_id = unquote(path[len(CAMPAIGN) :])
        return Route(None, lambda _p, now: _found(intel.campaign(campaign_id, now)))
    if path == FORENSICS:
        by_campaign = "campaignId" in params and "threatId" not in params
        pool = "forensics_campaign" if by_campaign else "forensics_threat"
        return Route(pool, lambda p, now: _forensics(intel, p, now))
    answers: dict[str, tuple[str, Callable[[Params, datetime], bytes]]] = {
        CAMPAIGN_IDS: ("campaign_ids", lambda p, now: _campaign_ids(intel, p, now)),
        VAP: ("vap", lambda p, now: _people(intel.vap, p, now, 1000, None)),
        TOP_CLICKERS: (
            "top_clickers",
            lambda p, now: _people(intel.top_clickers, p, now, 100, 200),
        ),
    }
    found = answers.get(path)
    return Route(*found) if found else None


def _campaign_ids(intel: Intel, params: Params, now: datetime) -> bytes:
    value = _one(params, "interval")
    if value is None:
        raise ApiError(400, "The interval parameter is required")
    window = parse_interval(value)
    if window.end < window.start:
        raise ApiError(400, "")
    if window.end - window.start > MAX_CAMPAIGN_INTERVAL:
        raise ApiError(400, "The requested interval is too wide: at most 1 day")
    size = _positive(params, "size", 100, 200)
    page = _positive(params, "page", 1)
    rows = intel.campaign_ids(window.start, window.end, now)
    if rows is None:
        raise ApiError(404, "")  # an empty window: 404 with no body, as OpenCTI saw
    return _json({"campaigns": rows[(page - 1) * size : page * size]})


def _forensics(intel: Intel, params: Params, now: datetime) -> bytes:
    threat_id, campaign_id = _one(params, "threatId"), _one(params, "campaignId")
    if (threat_id is None) == (campaign_id is None):
        raise ApiError(400, "Exactly one of threatId or campaignId is required")
    flag = _one(params, "includeCampaignForensics")
    if flag is not None and campaign_id is not None:
        raise ApiError(400, "includeCampaignForensics applies to threatId requests only")
    if flag is not None and flag.lower() not in ("true", "false"):
        raise ApiError(400, f"Invalid includeCampaignForensics value: {flag}")
    include = flag is not None and flag.lower() == "true"
    return _found(intel.forensics(now, threat_id, campaign_id, include))


def _people(
    ranking: Callable[[int, datetime], dict[str, Any]],
    params: Params,
    now: datetime,
    default_size: int,
    max_size: int | None,
) -> bytes:
    value = _one(params, "window")
    if value not in {str(w) for w in WINDOWS}:
        raise ApiError(400, f"The window parameter must be one of 14, 30 or 90, not {value}")
    size = _positive(params, "size", default_size, max_size)
    page = _positive(params, "page", 1)
    body = ranking(int(value), now)
    body["users"] = body["users"][(page - 1) * size : page * size]
    return _json(body)


def _segment(rest: str) -> bool:
    """One non-empty path segment: an id."""
    return bool(rest) and "/" not in rest


def _one(params: Params, name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _positive(params: Params, name: str, default: int, maximum: int | None = None) -> int:
    value = _one(params, name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise ApiError(400, f"Invalid {name} value: {value}")
    if maximum is not None and int(value) > maximum:
        raise ApiError(400, f"The {name} parameter is at most {maximum}")
    return int(value)


def _found(body: dict[str, Any] | None) -> bytes:
    if body is None:
        raise ApiError(404, NOT_FOUND)
    return _json(body)


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
