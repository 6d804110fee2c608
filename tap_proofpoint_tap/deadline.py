"""A request's deadline: connecting, the headers and the whole body within ``request_timeout``.

requests' timeout bounds each read from the socket, not the request: a server that sends a
byte a second is never given up on. So the request is sent from a daemon thread and waited
for at most the timeout (a server trickling its headers leaves that thread behind, to end
with the process), and once the headers are in, a timer shuts the connection's socket down
when the time is up: the read blocked on it returns, and the caller sees :attr:`expired`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from types import TracebackType


class DeadlineExceeded(requests.exceptions.Timeout):
    """The request was not answered and read whole within its deadline."""


class Deadline:
    """One request's deadline; use it as a context manager around the request and its body."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._end = 0.0

    def __enter__(self) -> Deadline:
        self._end = time.monotonic() + self.seconds
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def error(self) -> DeadlineExceeded:
        return DeadlineExceeded(f"not served whole within request_timeout ({self.seconds:g} s)")

    def send(
        self, session: requests.Session, prepared: requests.PreparedRequest, **options: Any
    ) -> requests.Response:
        """``session.send(prepared, **options)`` with the body left to stream; raises
        :class:`DeadlineExceeded` when the headers are not in before the deadline."""
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                outcome["response"] = session.send(prepared, stream=True, **options)
            except BaseException as error:
                outcome["error"] = error
            with self._lock:
                done.set()
                if self.expired and "response" in outcome:
                    outcome["response"].close()  # nobody waits for it any more

        threading.Thread(target=run, name="proofpoint-request", daemon=True).start()
        finished = done.wait(max(0.0, self._end - time.monotonic()))
        with self._lock:
            if not finished and not done.is_set():
                self.expired = True
                raise self.error()
        if "error" in outcome:
            raise outcome["error"]
        response: requests.Response = outcome["response"]
        self._timer = threading.Timer(
            max(0.0, self._end - time.monotonic()), self._expire, (response,)
        )
        self._timer.daemon = True
        self._timer.start()
        return response

    def _expire(self, response: requests.Response) -> None:
        """Time is up while the body streams: end the read blocked on the socket."""
        self.expired = True
        connection = getattr(response.raw, "connection", None)
        sock = getattr(connection, "sock", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                # socket.socket's own shutdown, also for a TLS socket: it leaves the TLS
                # object alone, and the blocked read sees the connection end.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
