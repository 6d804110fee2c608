"""The sandbox HTTP server: auth, rate-limit pools, fault injection and a request log."""

from __future__ import annotations

import base64
import collections
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import parse_qs, urlsplit

from tap_proofpoint_tap.sandboxes.siem import rules
from tap_proofpoint_tap.sandboxes.siem.clock import Clock
from tap_proofpoint_tap.sandboxes.siem.generator import Settings
from tap_proofpoint_tap.sandboxes.siem.store import EventStore

if TYPE_CHECKING:
    from collections.abc import Iterable

HOST = "127.0.0.1"
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
FAULT_KINDS = ("status", "delay", "truncate", "cut", "text-plain", "reset")


@dataclass
class Fault:
    """A fault for matching requests: the ``count`` requests after the first ``skip``.

    Kinds: ``status`` (answer ``status``, e.g. 500), ``delay`` (stall ``seconds`` before
    answering), ``truncate`` (announce the whole body, send half, drop the connection),
    ``cut`` (a complete response whose JSON stops half way), ``text-plain`` (a correct body
    labelled ``text/plain``), ``reset`` (close the connection without an answer).
    ``path``: only requests to this path count (default: all SIEM paths).
    """

    kind: str
    count: int = 1
    skip: int = 0
    path: str | None = None
    status: int = 500
    seconds: float = 0.0
    seen: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(FAULT_KINDS)}")

    def take(self, path: str) -> bool:
        """Count a request to ``path``; True when this fault applies to it."""
        if self.path is not None and self.path != path:
            return False
        self.seen += 1
        return self.skip < self.seen <= self.skip + self.count


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the sandbox saw it."""

    path: str
    params: dict[str, list[str]]
    status: int
    at: datetime
    fault: str | None = None


class Sandbox:
    """The SIEM API on 127.0.0.1, in a background thread; use as a context manager.

    ``history``: how far before the clock's start generated events begin.
    ``current_lag``: an ``interval`` ending later than ``now - current_lag`` is "still current".
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
        current_lag: timedelta = timedelta(seconds=60),
        faults: list[Fault] | None = None,
        log_stream: TextIO | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.clock = clock or Clock()
        self.store = EventStore(self.settings, self.clock.now() - history)
        self.rate_limit = rate_limit
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
        self._server = ThreadingHTTPServer((HOST, port), _handler(self))
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

    def inject(self, *faults: Fault) -> None:
        """Add faults; each applies to the matching requests it names, then stays inert."""
        with self._lock:
            self.faults.extend(faults)

    def siem_requests(self, path: str | None = None) -> list[LoggedRequest]:
        """The logged requests, optionally only those to ``path``."""
        return [r for r in self.requests if path is None or r.path == path]

    # -- the request pipeline (called from the handler's threads) --

    def handle(self, handler: BaseHTTPRequestHandler) -> None:  # noqa: PLR0911
        split = urlsplit(handler.path)
        path, params = split.path, parse_qs(split.query, keep_blank_values=True)
        now = self.clock.now()

        logged = False

        def log(status: int, fault: str | None = None) -> None:
            nonlocal logged
            if logged:  # a stalled request is logged when it arrives (the client spent it)
                return
            logged = True
            entry = LoggedRequest(path, params, status, now, fault)
            with self._lock:
                self.requests.append(entry)
            if self._log_stream is not None:
                print(
                    f"{now.isoformat()} {status} {handler.path}{' ' + fault if fault else ''}",
                    file=self._log_stream,
                    flush=True,
                )

        if path not in ENDPOINTS:
            log(404)
            return _send(handler, 404, b"Not Found")
        if handler.headers.get("Authorization") != self._auth:
            log(401)
            return _send(handler, 401, b"", {"WWW-Authenticate": 'Basic realm="TAP"'})
        if not self._admit(path, now):
            log(429)
            return _send(handler, 429, b"")
        fault = self._fault(path)
        if fault is not None and fault.kind in ("status", "reset", "delay"):
            if fault.kind == "status":
                log(fault.status, "status")
                return _send(handler, fault.status, b"Internal Server Error")
            if fault.kind == "reset":
                log(0, "reset")
                handler.close_connection = True
                return None
            log(200, "delay")
            time.sleep(fault.seconds)
        try:
            rules.check_format(params)
            window = rules.resolve_window(params, now, self.current_lag)
            statuses = rules.threat_statuses(params)
            types = rules.threat_types(params)
        except rules.ApiError as error:
            log(error.status)
            return _send(handler, error.status, error.body.encode())
        arrays = {}
        for stream in ENDPOINTS[path]:
            by_type = types if stream.startswith("messages") else None
            arrays[ARRAY_KEYS[stream]] = self.store.select(stream, window, now, statuses, by_type)
        with self._lock:
            rng = random.Random(self._rng.getrandbits(64))
        length, pieces = self.store.body(arrays, rules.format_time(window.end), rng)
        kind = fault.kind if fault else None
        log(200, kind)
        content_type = "text/plain" if kind == "text-plain" else "application/json"
        if kind in ("truncate", "cut"):
            body = b"".join(pieces)
            half = body[: len(body) // 2]
            length = len(body) if kind == "truncate" else len(half)
            _send(handler, 200, half, {"Content-Type": content_type}, length=length)
            handler.close_connection = True
            return None
        return _send(handler, 200, pieces, {"Content-Type": content_type}, length=length)

    def _admit(self, path: str, now: datetime) -> bool:
        """Count the request against its pool; False when the pool is spent (→ 429)."""
        pool = "clicks_permitted" if path == "/v2/siem/clicks/permitted" else "shared"
        with self._lock:
            used = self._pools[pool]
            while used and used[0] <= now - timedelta(hours=24):
                used.popleft()
            if len(used) >= self.rate_limit:
                return False
            used.append(now)
            return True

    def _fault(self, path: str) -> Fault | None:
        with self._lock:
            hits = [f for f in self.faults if f.take(path)]
        return hits[0] if hits else None


def _send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes | Iterable[bytes],
    headers: dict[str, Any] | None = None,
    length: int | None = None,
) -> None:
    """Answer with ``body`` or its pieces; ``length`` (default: the body's) may overstate it."""
    if isinstance(body, bytes):
        pieces: Iterable[bytes] = [body]
        size = len(body) if length is None else length
    elif length is None:
        raise TypeError("a body sent in pieces needs its length")
    else:
        pieces, size = body, length
    handler.send_response(status)
    for key, value in {"Content-Type": "text/plain", **(headers or {})}.items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(size))
    handler.end_headers()
    for piece in pieces:
        handler.wfile.write(piece)


def _handler(sandbox: Sandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "tap-proofpoint-tap-sandbox"

        def do_GET(self) -> None:
            try:
                sandbox.handle(self)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the sandbox keeps its own request log."""

    return Handler
