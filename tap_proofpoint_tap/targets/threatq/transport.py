"""One HTTP exchange with ThreatQ, bounded whatever the server does.

- **No redirect is followed.** requests re-sends a POST body (the password, the client secret,
  the entities) to whatever host a 307/308 names; a 3xx comes back as it is, for the caller to
  refuse with one line, its body unread. (Even told not to follow, requests reads a 3xx's
  whole body and parses its Location; :class:`Session` sees no redirect at all.)
- **A deadline for the whole exchange**: connect, TLS, headers and the whole body within
  ``timeout`` seconds. requests' timeout bounds each read, so a server that sends a byte a
  second is never given up on; here the exchange runs in a worker thread, and at the deadline
  the caller stops waiting and shuts the response's socket for reading, which ends the worker's
  read. (A server that trickles its headers keeps its worker thread until it stops or a read
  times out; the caller has moved on.)
- **At most ``cap`` bytes of body** (decoded) are read.
- **TLS as the settings say**: ``verify`` goes with each request, because requests lets
  ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` win over a session's ``verify``, not over a
  request's.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

CHUNK = 64 * 1024
THREE_HUNDREDS = range(300, 400)  # answers whose body is not read


@dataclass(frozen=True)
class Reply:
    """What the server answered: status, headers (case-insensitive) and the body read."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Session(requests.Session):
    """A session that sees no redirect: every 3xx is an answer like any other."""

    @override
    def get_redirect_target(self, resp: requests.Response) -> None:
        return None


class Deadline(requests.exceptions.Timeout):
    """No whole answer within the deadline (the request may have been received)."""


class TooLarge(Exception):
    """The body is longer than the cap: reading stopped there."""


class _Exchange:
    """The worker's side: the response once it has headers, then the reply or the error."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.response: requests.Response | None = None
        self.reply: Reply | None = None
        self.error: BaseException | None = None
        self.abandoned = False

    def run(self, send: Callable[[], requests.Response], cap: int) -> None:
        try:
            response = send()
            with self.lock:
                self.response = response
                abandoned = self.abandoned
            try:
                if not abandoned:
                    redirect = response.status_code in THREE_HUNDREDS
                    body = b"" if redirect else _read(response, cap)
                    self.reply = Reply(response.status_code, response.headers, body)
            finally:
                response.close()
        except BaseException as error:  # handed to the caller's thread
            self.error = error
        finally:
            self.done.set()

    def abandon(self) -> None:
        """Stop the worker's read (the caller no longer waits for it)."""
        with self.lock:
            self.abandoned = True
            if self.response is not None and not self.done.is_set():
                # The connection may have just gone back to the pool: nothing left to stop.
                # Both ways: after a shutdown for reading only, Linux still takes in what a
                # fast server sends, and the worker would go on reading it.
                sock = getattr(getattr(self.response.raw, "connection", None), "sock", None)
                if isinstance(sock, socket.socket):
                    with contextlib.suppress(OSError):
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def exchange(
    session: Session,
    method: str,
    url: str,
    *,
    timeout: float,
    cap: int,
    verify: bool | str,
    **options: Any,
) -> Reply:
    """``session.request(method, url, **options)`` within ``timeout`` seconds in all, reading at
    most ``cap`` bytes of body, following no redirect."""
    work = _Exchange()

    def send() -> requests.Response:
        return session.request(
            method,
            url,
            timeout=timeout,
            verify=verify,
            stream=True,
            **options,
        )

    threading.Thread(target=work.run, args=(send, cap), daemon=True, name="threatq").start()
    if not work.done.wait(timeout):
        work.abandon()
        raise Deadline(f"no whole answer within {timeout:g} s")
    if work.error is not None:
        error, work.error = work.error, None  # no cycle through the traceback: freed at once
        raise error
    assert work.reply is not None, "a worker that ends without error has a reply"
    return work.reply


def _read(response: requests.Response, cap: int) -> bytes:
    """The body, decoded, up to ``cap`` bytes."""
    body = bytearray()
    for chunk in response.iter_content(CHUNK):
        body += chunk
        if len(body) > cap:
            body.clear()  # freed now, not when the error that stops the read is
            raise TooLarge(f"more than {cap // (1024 * 1024)} MiB")
    return bytes(body)
