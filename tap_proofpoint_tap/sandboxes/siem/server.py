"""The sandbox HTTP server: routes, auth, rate-limit pools, fault injection and a request log."""

from __future__ import annotations

import base64
import collections
import random
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO
from urllib.parse import parse_qs, urlsplit

from tap_proofpoint_tap.sandboxes.siem import intel_routes, rules, siem_routes
from tap_proofpoint_tap.sandboxes.siem.clock import Clock
from tap_proofpoint_tap.sandboxes.siem.faults import Fault, LoggedRequest
from tap_proofpoint_tap.sandboxes.siem.generator import Settings
from tap_proofpoint_tap.sandboxes.siem.intel import Intel
from tap_proofpoint_tap.sandboxes.siem.intel_routes import POOL_LIMITS, Route
from tap_proofpoint_tap.sandboxes.siem.pool import Statuses
from tap_proofpoint_tap.sandboxes.siem.siem_routes import ARRAY_KEYS, ENDPOINTS
from tap_proofpoint_tap.sandboxes.siem.store import EventStore
from tap_proofpoint_tap.sandboxes.siem.wire import handler_class, send

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

HOST = "127.0.0.1"
POOLS = (*siem_routes.POOLS, *POOL_LIMITS)
DAY = timedelta(hours=24)
__all__ = ["ARRAY_KEYS", "ENDPOINTS", "POOLS", "Fault", "LoggedRequest", "Sandbox"]


class Sandbox:
    """TAP's SIEM, Threat, Campaign, Forensics and People APIs on 127.0.0.1, in a background
    thread; use as a context manager.

    ``history``: how far before the clock's start generated events begin; with the clock's
    start, the anchor of the threats' identification times and statuses (``timeline``).
    ``current_lag``: an ``interval`` ending later than ``now - current_lag`` is "still current".
    ``rate_limit``: requests per rolling 24 hours of each SIEM pool (``shared`` and
    ``clicks_permitted``); ``pool_limits`` overrides any pool's (``POOLS``).
    """

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        clock: Clock | None = None,
        principal: str = "sandbox-principal",
        secret: str = "sandbox-secret",
        port: int = 0,
        history: timedelta = timedelta(days=1),
        rate_limit: int = 1800,
        pool_limits: Mapping[str, int] | None = None,
        current_lag: timedelta = timedelta(seconds=60),
        faults: list[Fault] | None = None,
        log_stream: TextIO | None = None,
    ) -> None:
        self.clock = clock or Clock()
        origin = self.clock.now() - history
        settings = settings or Settings()
        # The threats' identification times and status timelines hang on the traffic served
        # (timeline.py), unless the settings carry an anchor of their own.
        if settings.origin is None:
            settings = settings.anchored(origin, history)
        self.settings = settings
        statuses = Statuses()
        self.store = EventStore(self.settings, origin, statuses)
        self.intel = Intel(self.settings, self.store.origin, statuses)
        self.rate_limit = rate_limit
        unknown = set(pool_limits or ()) - set(POOLS)
        if unknown:
            raise ValueError(f"unknown pools {sorted(unknown)}; pools: {', '.join(POOLS)}")
        self.pool_limits: dict[str, int] = {**POOL_LIMITS, **(pool_limits or {})}
        self.current_lag = current_lag
        self.faults: list[Fault] = list(faults or [])
        self.requests: list[LoggedRequest] = []
        self._auth = "Basic " + base64.b64encode(f"{principal}:{secret}".encode()).decode()
        self._pools: dict[str, collections.deque[datetime]] = collections.defaultdict(
            collections.deque
        )
        self._lock = threading.Lock()
        self._rng = random.Random(self.settings.seed)
        self._log_stream = log_stream
        self._server = ThreadingHTTPServer((HOST, port), handler_class(self.handle))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> Sandbox:
        # A short poll interval: stop() (server.shutdown) waits for the loop's next poll, which
        # the default half second makes the longest part of a short test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests change and read --

    def inject(self, *faults: Fault) -> None:
        """Add faults; each applies to the matching requests it names, then stays inert."""
        with self._lock:
            self.faults.extend(faults)

    def siem_requests(self, path: str | None = None) -> list[LoggedRequest]:
        """The logged requests to the SIEM API, or only those to ``path`` (any API; a path
        ending in "/": every path under it)."""
        if path is None:
            return self.requests_under("/v2/siem/")
        if path.endswith("/"):
            return self.requests_under(path)
        return [r for r in self.requests if r.path == path]

    def requests_under(self, prefix: str) -> list[LoggedRequest]:
        """The logged requests whose path starts with ``prefix``."""
        return [r for r in self.requests if r.path.startswith(prefix)]

    def pool_requests(self, pool: str) -> list[LoggedRequest]:
        """Every request ``pool`` counted, or refused with 429."""
        if pool not in POOLS:
            raise ValueError(f"unknown pool {pool!r}; pools: {', '.join(POOLS)}")
        return [r for r in self.requests if r.pool == pool]

    def limit(self, pool: str) -> int:
        """Requests ``pool`` admits per rolling 24 hours."""
        return self.pool_limits.get(pool, self.rate_limit)

    def set_threat_status(self, threat_id: str, status: str) -> None:
        """Give a threat a new status in everything served from now on: its events (and the
        ``threatStatus`` filter), its summary, its campaign membership, its forensics."""
        self.intel.statuses.set(threat_id, status)

    def touch_campaign(self, campaign_id: str, when: datetime) -> None:
        """Update a campaign at ``when``: ``/v2/campaign/ids`` lists it in the window holding
        ``when`` with that ``lastUpdatedAt`` (once the clock has passed it)."""
        self.intel.touch(campaign_id, when)

    # -- ground truth: exactly what the APIs serve at the clock's now; nothing is logged --

    def summary(self, threat_id: str) -> dict[str, Any] | None:
        return self.intel.summary(threat_id, self.clock.now())

    def campaign(self, campaign_id: str) -> dict[str, Any] | None:
        return self.intel.campaign(campaign_id, self.clock.now())

    def campaign_ids(self, day_start: datetime, day_end: datetime) -> list[dict[str, str]] | None:
        """Every row of ``/v2/campaign/ids`` for the window, unpaged; None: its 404."""
        return self.intel.campaign_ids(day_start, day_end, self.clock.now())

    def forensics(
        self,
        threat_id: str | None = None,
        campaign_id: str | None = None,
        include_campaign: bool = False,
    ) -> dict[str, Any] | None:
        return self.intel.forensics(self.clock.now(), threat_id, campaign_id, include_campaign)

    def vap(self, window: int) -> dict[str, Any]:
        """``/v2/people/vap``'s body with every user on one page."""
        return self.intel.vap(window, self.clock.now())

    def top_clickers(self, window: int) -> dict[str, Any]:
        """``/v2/people/top-clickers``'s body with every user on one page."""
        return self.intel.top_clickers(window, self.clock.now())

    # -- the request pipeline (called from the handler's threads) --

    def handle(self, handler: BaseHTTPRequestHandler) -> None:  # noqa: PLR0911
        split = urlsplit(handler.path)
        path, params = split.path, parse_qs(split.query, keep_blank_values=True)
        now = self.clock.now()
        route = self._route(path, params)
        pool = route.pool if route else None
        logged = False

        def log(status: int, fault: str | None = None, counted: bool = True) -> None:
            nonlocal logged
            if logged:  # a stalled request is logged when it arrives (the client spent it)
                return
            logged = True
            entry = LoggedRequest(path, params, status, now, fault, pool if counted else None)
            with self._lock:
                self.requests.append(entry)
            if self._log_stream is not None:
                print(
                    f"{now.isoformat()} {status} {handler.path}{' ' + fault if fault else ''}",
                    file=self._log_stream,
                    flush=True,
                )

        if route is None:
            log(404)
            return send(handler, 404, b"Not Found")
        if handler.headers.get("Authorization") != self._auth:
            log(401, counted=False)
            return send(handler, 401, b"", {"WWW-Authenticate": 'Basic realm="TAP"'})
        if pool is not None and not self._admit(pool, now):
            log(429)
            return send(handler, 429, b"")
        fault = self._fault(path)
        if fault is not None and fault.kind in ("status", "reset", "delay"):
            if fault.kind == "status":
                log(fault.status, "status")
                return send(handler, fault.status, b"Internal Server Error")
            if fault.kind == "reset":
                log(0, "reset")
                handler.close_connection = True
                return None
            log(200, "delay")
            time.sleep(fault.seconds)
        try:
            length, pieces = route.answer(params, now)
        except rules.ApiError as error:
            log(error.status)
            return send(handler, error.status, error.body.encode())
        kind = fault.kind if fault else None
        log(200, kind)
        content_type = "text/plain" if kind == "text-plain" else "application/json"
        if kind in ("truncate", "cut"):
            body = b"".join(pieces)
            half = body[: len(body) // 2]
            length = len(body) if kind == "truncate" else len(half)
            send(handler, 200, half, {"Content-Type": content_type}, length=length)
            handler.close_connection = True
            return None
        return send(handler, 200, pieces, {"Content-Type": content_type}, length=length)

    def _route(self, path: str, params: dict[str, list[str]]) -> _Route | None:
        if path in ENDPOINTS:
            return _Route(siem_routes.pool_of(path), lambda p, now: self._siem(path, p, now))
        found = intel_routes.route(self.intel, path, params)
        return _Route(found.pool, _whole(found)) if found else None

    def _siem(
        self, path: str, params: dict[str, list[str]], now: datetime
    ) -> tuple[int, Iterable[bytes]]:
        with self._lock:
            rng = random.Random(self._rng.getrandbits(64))
        return siem_routes.answer(self.store, path, params, now, self.current_lag, rng)

    def _admit(self, pool: str, now: datetime) -> bool:
        """Count the request against its pool; False when the pool is spent (→ 429)."""
        with self._lock:
            used = self._pools[pool]
            while used and used[0] <= now - DAY:
                used.popleft()
            if len(used) >= self.limit(pool):
                return False
            used.append(now)
            return True

    def _fault(self, path: str) -> Fault | None:
        with self._lock:
            hits = [f for f in self.faults if f.take(path, ENDPOINTS)]
        return hits[0] if hits else None


class _Route(NamedTuple):
    """A path's pool (None: no quota) and its answer: the body's length and its pieces."""

    pool: str | None
    answer: Callable[[dict[str, list[str]], datetime], tuple[int, Iterable[bytes]]]


def _whole(found: Route) -> Callable[[dict[str, list[str]], datetime], tuple[int, Iterable[bytes]]]:
    def answer(params: dict[str, list[str]], now: datetime) -> tuple[int, Iterable[bytes]]:
        body = found.answer(params, now)
        return len(body), [body]

    return answer
