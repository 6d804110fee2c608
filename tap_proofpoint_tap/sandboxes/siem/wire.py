"""The sandbox's HTTP plumbing: a handler class that hands each GET to the sandbox, and answers
sent whole or in pieces (with a length that may overstate them, for the truncate fault)."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


def send(
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


def handler_class(
    handle: Callable[[BaseHTTPRequestHandler], None],
) -> type[BaseHTTPRequestHandler]:
    """A handler class whose GETs ``handle`` answers; a client gone mid-answer is no error."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "tap-proofpoint-tap-sandbox"
        # The headers and the body go out in separate writes: with Nagle's algorithm the body
        # of a small answer waits for the client's delayed ACK, 40 ms a request.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            try:
                handle(self)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the sandbox keeps its own request log."""

    return Handler
