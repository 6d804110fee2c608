"""Small HTTP servers on 127.0.0.1 that misbehave on purpose: redirects, trickles, huge or
broken bodies. Each records what it received, so a test can show what never reached it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Respond = Callable[[BaseHTTPRequestHandler], None]


@contextmanager
def hostile(respond: Respond) -> Iterator[tuple[str, list[Received]]]:
    """A server answering every request with ``respond``; yields its URL and what it got."""
    received: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_one(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            received.append(Received(self.command, self.path, dict(self.headers), body))
            try:
                respond(self)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up: as intended
                self.close_connection = True

        do_GET = do_POST = do_PUT = handle_one

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests look at what was received, not at a log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
        server.server_close()


def redirect(status: int, location: str) -> Respond:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return respond


def body(status: int, content: bytes, content_type: str = "application/json") -> Respond:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    return respond


def endless(status: int, chunk: bytes, total: int, content_type: str = "text/html") -> Respond:
    """``total`` bytes of ``chunk`` repeated, made as they are sent (no memory of its own)."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(total))
        handler.end_headers()
        sent = 0
        while sent < total:
            piece = chunk[: total - sent]
            handler.wfile.write(piece)
            sent += len(piece)

    return respond


def trickle(status: int, content: bytes, *, every: float, headers_too: bool = False) -> Respond:
    """``content`` a byte at a time, one every ``every`` seconds; with ``headers_too`` the
    status line and headers trickle as well."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        head = (
            f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(content)}\r\n\r\n"
        ).encode()
        if not headers_too:
            handler.wfile.write(head)
            handler.wfile.flush()
            head = b""
        for byte in head + content:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(every)

    return respond
