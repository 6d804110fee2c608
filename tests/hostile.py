"""Hostile servers on 127.0.0.1 for the tap's and target-threatq's tests: a front that relays
(to the ThreatQ stand-in, say) and answers chosen requests as a broken or malicious server would (redirects,
trickled or huge bodies, pages that are not JSON, a host that goes away), and records every
request it gets, body included (a second one, with no upstream, is where a leaked credential
would land).
"""

from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    method: str
    path: str  # with the query
    headers: dict[str, str]
    body: bytes


Action = Callable[[BaseHTTPRequestHandler, "Hostile"], None]


@dataclass
class Rule:
    """``action`` answers the requests matching ``method`` and ``path`` (None: any; the path
    without query) after the first ``skip`` of them, ``times`` times (None: every one)."""

    action: Action
    path: str | None = None
    method: str | None = None
    skip: int = 0
    times: int | None = None
    seen: int = field(default=0, init=False)

    def take(self, method: str, path: str) -> bool:
        if (self.method or method) != method or (self.path or path) != path:
            return False
        self.seen += 1
        return self.seen > self.skip and (self.times is None or self.seen <= self.skip + self.times)


class Hostile:
    """A server on 127.0.0.1 (TLS with ``tls``) that answers by its rules, else relays to
    ``upstream`` (else 404). Use as a context manager."""

    def __init__(self, upstream: str | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.upstream = upstream
        self.rules: list[Rule] = []
        self.received: list[Received] = []
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._stopping = threading.Lock()
        self._server = _Quiet((HOST, 0), _handler(self))
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://{HOST}:{self._server.server_address[1]}"

    def on(self, action: Action, **match: object) -> Hostile:
        self.rules.append(Rule(action, **match))  # type: ignore[arg-type]
        return self

    def __enter__(self) -> Hostile:
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop answering and listening: from now on connections are refused."""
        with self._stopping:
            if not self.stopped.is_set():
                self.stopped.set()
                self._server.shutdown()
                self._server.server_close()

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        request = Received(handler.command, handler.path, dict(handler.headers.items()), body)
        with self._lock:
            self.received.append(request)
            path = urlsplit(handler.path).path
            rule = next((r for r in self.rules if r.take(handler.command, path)), None)
        if rule is not None:
            rule.action(handler, self)
        elif self.upstream is not None:
            _relay(handler, self.upstream, request)
        else:
            answer(404, b'{"errors": ["Not Found"]}')(handler, self)


class _Quiet(ThreadingHTTPServer):
    """Clients that hang up mid-request are what these servers are for: no report of them."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        return


def _handler(server: Hostile) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def _serve(self) -> None:
            try:
                server.serve(self)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: ``received`` is the log."""

    return Handler


def _relay(handler: BaseHTTPRequestHandler, upstream: str, request: Received) -> None:
    """The request to ``upstream`` as it came; its answer back as it went."""
    conn = http.client.HTTPConnection(urlsplit(upstream).netloc, timeout=30)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "connection")}
    conn.request(request.method, request.path, body=request.body, headers=headers)
    reply = conn.getresponse()
    payload = reply.read()
    conn.close()
    keep = ("Content-Type", "WWW-Authenticate")
    answer(reply.status, payload, headers={k: reply.headers[k] for k in keep if reply.headers[k]})(
        handler, None
    )


# -- actions --


def answer(
    status: int,
    body: bytes = b"",
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
    missing: int = 0,
) -> Action:
    """An answer at once; with ``missing``, that many bytes short of its Content-Length, and
    the connection closed."""

    def act(handler: BaseHTTPRequestHandler, _server: Hostile | None) -> None:
        handler.send_response(status)
        if content_type and "Content-Type" not in (headers or {}):
            handler.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body) + missing))
        handler.end_headers()
        handler.wfile.write(body)
        handler.close_connection = handler.close_connection or bool(missing)

    return act


def only_when(predicate: Callable[[str], bool], action: Action) -> Action:
    """``action`` for the requests whose path and query ``predicate`` accepts; the others are
    relayed upstream as they came."""

    def act(handler: BaseHTTPRequestHandler, server: Hostile) -> None:
        if predicate(handler.path):
            action(handler, server)
        else:
            request = Received(handler.command, handler.path, dict(handler.headers.items()), b"")
            _relay(handler, server.upstream, request)

    return act


def redirect(status: int, location: str) -> Action:
    return answer(status, b"", headers={"Location": location})


def trickle(every: float, body: bytes = b'{"data": []}' * 100, headers_too: bool = False) -> Action:
    """A 200 whose body (and, with ``headers_too``, status line and headers) comes one byte
    every ``every`` seconds, until the client goes or the server stops."""

    def act(handler: BaseHTTPRequestHandler, server: Hostile | None) -> None:
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        slow = head + body if headers_too else body
        if not headers_too:
            handler.wfile.write(head)
        handler.wfile.flush()
        for i in range(len(slow)):
            if server is not None and server.stopped.wait(every):
                break
            handler.wfile.write(slow[i : i + 1])
            handler.wfile.flush()
        handler.close_connection = True

    return act


def flood(size: int, status: int = 200, headers: dict[str, str] | None = None) -> Action:
    """An answer of ``size`` bytes of markup, sent as fast as the client reads."""
    block = b"<p>x</p>\n" * (64 * 1024)

    def act(handler: BaseHTTPRequestHandler, _server: Hostile | None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "text/html")
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(size))
        handler.end_headers()
        sent = 0
        while sent < size:
            part = block[: size - sent]
            handler.wfile.write(part)
            sent += len(part)
        handler.close_connection = True

    return act


def down() -> Action:
    """The host goes away: this connection is dropped and no new one is accepted."""

    def act(handler: BaseHTTPRequestHandler, server: Hostile | None) -> None:
        handler.close_connection = True
        if server is not None:
            server.stop()  # from a handler's thread: serve_forever runs in another

    return act
