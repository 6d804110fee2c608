"""The ThreatQ stand-in's HTTP server: token auth, fault injection, request log, debug routes."""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import parse_qs, urlsplit

from tap_proofpoint_tap.sandboxes.threatq.auth import Credentials, TokenError, Tokens
from tap_proofpoint_tap.sandboxes.threatq.envelope import Reply
from tap_proofpoint_tap.sandboxes.threatq.faults import Fault, Maintenance
from tap_proofpoint_tap.sandboxes.threatq.lookups import Lookups
from tap_proofpoint_tap.sandboxes.threatq.records import Policy
from tap_proofpoint_tap.sandboxes.threatq.routes import Api
from tap_proofpoint_tap.sandboxes.threatq.store import Store

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

HOST = "127.0.0.1"
PROXY_PAGE = (
    "<html><head><title>{0}</title></head><body><center><h1>{0}</h1></center>"
    "<hr><center>nginx</center></body></html>"
)
REASONS = {502: "502 Bad Gateway", 503: "503 Service Unavailable", 504: "504 Gateway Time-out"}
MAINTENANCE_PAGE = "<!DOCTYPE html><html><body><h1>Be right back.</h1></body></html>"


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the stand-in saw it; ``items``: the length of an array body."""

    method: str
    path: str
    params: dict[str, str]
    status: int
    fault: str | None
    items: int | None
    at: datetime


def _decode(raw: bytes, content_type: str) -> Any:
    """A form body as a dict, anything else as JSON (ValueError when it is not)."""
    if not raw:
        return None
    if content_type.startswith("application/x-www-form-urlencoded"):
        return {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
    return json.loads(raw)


def _names(body: Any) -> list[str]:
    """Each item's value, name or title, casefolded: what value-matched faults look at."""
    entries = body if isinstance(body, list) else [body]
    return [
        str(next((e[k] for k in ("value", "name", "title") if k in e), "")).casefold()
        if isinstance(e, dict)
        else ""
        for e in entries
    ]


def _basic(header: str | None) -> tuple[str, str] | None:
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


class ThreatQSandbox:
    """ThreatQ's REST API on 127.0.0.1 in a background thread; use as a context manager.

    ``port`` 0 picks a free port. ``corporate_email*`` and ``without_*`` shape the instance's
    lookup tables and object types (``Lookups``). The switches (``duplicate_reposts``,
    ``normalize_urls``, ``incident_dedup``, ``relationship_limit``, ``adversary_name_taken``)
    are ``Policy``'s;
    ``max_items`` and ``lean_consume`` are ``Api``'s. ``now`` is the store's clock (for
    ``touched_at``); ``clock`` (monotonic seconds) times token lifetimes and maintenance
    stretches given in seconds, so that a test can move it on instead of waiting.
    """

    def __init__(
        self,
        *,
        seed: int = 7,
        port: int = 0,
        credentials: Credentials | None = None,
        token_expiry: float = 3600.0,
        corporate_email: bool = True,
        corporate_email_code: str = "corporate_email",
        corporate_email_collection: str | None = None,
        without_indicator_types: Iterable[str] = (),
        without_statuses: Iterable[str] = (),
        without_event_types: Iterable[str] = (),
        without_objects: Iterable[str] = (),
        duplicate_reposts: bool = False,
        normalize_urls: bool = False,
        incident_dedup: bool = True,
        relationship_limit: int = 10_000,
        adversary_name_taken: bool = False,
        max_items: int = 500,
        lean_consume: bool = False,
        faults: list[Fault] | None = None,
        maintenance: list[Maintenance] | None = None,
        now: Callable[[], datetime] | None = None,
        clock: Callable[[], float] = time.monotonic,
        log_stream: TextIO | None = None,
    ) -> None:
        self.lookups = Lookups(
            seed,
            corporate_email=corporate_email,
            corporate_email_code=corporate_email_code,
            corporate_email_collection=corporate_email_collection,
            without_indicator_types=without_indicator_types,
            without_statuses=without_statuses,
            without_event_types=without_event_types,
            without_objects=without_objects,
        )
        policy = Policy(
            duplicate_reposts,
            normalize_urls,
            incident_dedup,
            relationship_limit,
            adversary_name_taken,
        )
        self.store = Store(self.lookups, policy, now)
        self.tokens = Tokens(credentials or Credentials(), token_expiry, seed, clock=clock)
        self._clock = clock
        self.api = Api(self.lookups, self.store, max_items=max_items, lean_consume=lean_consume)
        self.faults: list[Fault] = list(faults or [])
        self.maintenance: list[Maintenance] = list(maintenance or [])
        self.requests: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._log_stream = log_stream
        self._server = ThreadingHTTPServer((HOST, port), _handler(self))
        self._server.daemon_threads = True

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> ThreatQSandbox:
        """Serve in a daemon thread; a short poll interval keeps ``stop`` quick."""
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ThreatQSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(self, *faults: Fault | Maintenance) -> None:
        """Add faults or maintenance stretches; each acts on the requests it names, then idles."""
        with self._lock:
            for fault in faults:
                if isinstance(fault, Maintenance):
                    self.maintenance.append(fault)
                else:
                    self.faults.append(fault)

    def requests_to(
        self,
        path: str | None = None,
        method: str | None = None,
    ) -> list[LoggedRequest]:
        """The logged requests, optionally only those to ``path`` and/or with ``method``."""
        return [
            r
            for r in self.requests
            if (path is None or r.path == path) and (method is None or r.method == method)
        ]

    # -- the request pipeline (called from the handler's threads) --

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:  # noqa: PLR0911
        split = urlsplit(handler.path)
        path = split.path
        params = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        faults: list[str] = []
        items: int | None = None

        def answer(reply: Reply, html: str | None = None) -> None:
            entry = LoggedRequest(
                method,
                path,
                params,
                reply.status,
                "+".join(faults) or None,
                items,
                datetime.now(timezone.utc),
            )
            with self._lock:
                self.requests.append(entry)
            if self._log_stream is not None:
                print(
                    f"{entry.at.isoformat()} {method} {handler.path} {reply.status}"
                    f"{' items=' + str(items) if items is not None else ''}"
                    f"{' fault=' + entry.fault if entry.fault else ''}",
                    file=self._log_stream,
                    flush=True,
                )
            _send(handler, reply, html)

        try:
            body = _decode(raw, handler.headers.get("Content-Type") or "")
        except (ValueError, UnicodeDecodeError):
            return answer(Reply(400, {"errors": ["The request body is not valid JSON."]}))
        items = len(body) if isinstance(body, list) else None
        if path.startswith("/_debug/"):
            return answer(self._debug(method, path))
        with self._lock:
            down = [m.take(self._clock()) for m in self.maintenance]
            values = _names(body)
            hits = [f for f in self.faults if f.take(method, path, values)]
        if any(down):
            faults.append("maintenance")
            return answer(Reply(503), MAINTENANCE_PAGE)
        for fault in hits:
            faults.append(fault.kind + ("-after" if fault.after else ""))
            if fault.kind == "delay":
                time.sleep(fault.seconds)
        before = [f for f in hits if not f.after]
        after = [f for f in hits if f.after]
        early = next((f for f in before if f.kind in ("status", "errors")), None)
        if early is not None:
            empty = Reply(201 if method == "POST" else 200, {"data": []})
            return answer(*self._fault_reply(early, empty))
        if path == "/api/token":
            merged = {**params, **(body if isinstance(body, dict) else {})}
            try:
                token = self.tokens.grant(merged, _basic(handler.headers.get("Authorization")))
            except TokenError as error:
                return answer(Reply(400, error.body))
            return answer(Reply(200, token))
        if not path.startswith("/api/"):
            return answer(Reply(404, {"errors": ["Not Found"]}))
        caller = self.tokens.identity(handler.headers.get("Authorization"))
        if caller is None:
            return answer(Reply(401, {"errors": ["Unauthenticated."]}))
        rejections = {
            i: f.message for f in hits if f.kind == "item-error" for i in f.rejects(values)
        }
        reply = self.api.dispatch(method, path, params, body, caller, rejections)
        late = next((f for f in after if f.kind in ("status", "errors")), None)
        if late is not None:
            return answer(*self._fault_reply(late, reply))
        return answer(reply)

    @staticmethod
    def _fault_reply(fault: Fault, reply: Reply) -> tuple[Reply, str | None]:
        """A ``status`` fault's answer, or ``reply`` with the ``errors`` fault's message added."""
        if fault.kind == "status":
            if fault.status in REASONS:
                return Reply(fault.status), PROXY_PAGE.format(REASONS[fault.status])
            return Reply(fault.status, {"errors": [fault.message]}), None
        body = reply.body if isinstance(reply.body, dict) else {"data": []}
        return Reply(reply.status, {**body, "errors": [fault.message]}), None

    def _debug(self, method: str, path: str) -> Reply:
        """Stand-in only, no auth: ``GET /_debug/dump``, ``GET /_debug/requests`` and
        ``POST /_debug/expire-tokens``."""
        if method == "GET" and path == "/_debug/dump":
            return Reply(200, self.store.dump())
        if method == "GET" and path == "/_debug/requests":
            with self._lock:
                log = [{**asdict(r), "at": r.at.isoformat()} for r in self.requests]
            return Reply(200, {"data": log})
        if method == "POST" and path == "/_debug/expire-tokens":
            self.tokens.expire_all()
            return Reply(204)
        return Reply(404, {"errors": ["Not Found"]})


def _send(handler: BaseHTTPRequestHandler, reply: Reply, html: str | None) -> None:
    if html is not None:
        payload, content_type = html.encode(), "text/html; charset=UTF-8"
    elif reply.body is None:
        payload, content_type = b"", "application/json"
    else:
        payload, content_type = json.dumps(reply.body).encode(), "application/json"
    handler.send_response(reply.status)
    handler.send_header("Content-Type", content_type)
    if reply.status == HTTPStatus.UNAUTHORIZED:
        handler.send_header("WWW-Authenticate", "Bearer")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


def _handler(sandbox: ThreatQSandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "threatq-sandbox"
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def _serve(self) -> None:
            try:
                sandbox.handle(self, self.command)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the stand-in keeps its own request log."""

    return Handler
