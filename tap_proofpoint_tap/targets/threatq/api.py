"""A small client of ThreatQ's REST API: tokens, retries, envelopes and the calls the loader needs.

Every call goes through :meth:`ThreatQClient.call`, which keeps a Bearer token (renewed before it
expires and once on a 401), retries what may pass on a second try (503 maintenance mode, 5xx,
timeouts, dropped connections) with bounded backoff, and turns everything else into a one-line
error that names what to change. A call whose effect is unknown after a failure (a 500 after
the server may have written, a timeout) is only retried blindly when the caller says it is
``idempotent``; otherwise :class:`OutcomeUnknown` lets the loader re-read before it writes
again. Each exchange is bounded (:mod:`.transport`: no redirect followed, so no credential
leaves ``api_url``'s host; a deadline; a body cap), and what the server sent is read without
trusting its shape (:mod:`.answers`). No message ever carries the password, the client secret
or a token.
"""

from __future__ import annotations

import collections
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

import requests

from tap_proofpoint_tap.targets.threatq import answers
from tap_proofpoint_tap.targets.threatq.errors import OutcomeUnknown, ThreatQError, ThreatQRefused
from tap_proofpoint_tap.targets.threatq.transport import Reply, Session, TooLarge, exchange

if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping, Sequence

WAITS = (1, 2, 4, 8, 16, 32)  # seconds between tries: 7 tries over about a minute
PAGE = 500
BODY_CAP = 32 * 1024 * 1024  # bytes of one answer: a page of 500 rows is far below
RETRIED = (  # failures another try may mend
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class _Failure(NamedTuple):
    """A try that failed in a way another try may mend; ``unknown``: the server may have
    applied it; ``timed_out``: and may still be applying it."""

    text: str
    unknown: bool
    timed_out: bool


class ThreatQClient:
    """One ThreatQ instance, as the settings name it; counts its requests by kind."""

    def __init__(
        self,
        config: Mapping[str, Any],
        logger: logging.Logger,
        waits: Sequence[float] | None = None,
    ) -> None:
        self.base = config["api_url"].rstrip("/")
        self.config = config
        self.logger = logger
        self.timeout = float(config.get("request_timeout", 120))  # for a whole answer
        self.waits = WAITS if waits is None else waits  # between tries
        self.session = Session()
        # http is for a test instance on 127.0.0.1: no proxy from the environment, which would
        # get the password in clear (through https, a proxy only tunnels).
        self.session.trust_env = urlsplit(self.base).scheme != "http"
        self.verify: bool | str = config.get("ca_bundle") or bool(config.get("verify_ssl", True))
        self.requests: collections.Counter[str] = collections.Counter()
        self._token: str | None = None
        self._expires = 0.0

    # -- the calls --

    def lookup(
        self,
        path: str,
        kind: str = "lookup",
        *,
        fields: Mapping[str, type] | None = None,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """Every row of a list endpoint, page by page (until ``total``, or a short page); each
        row an object with ``fields`` of their types (by default an integer ``id``)."""
        rows: list[dict[str, Any]] = []
        while True:
            body = self.call(
                "GET", path, params={**filters, "limit": PAGE, "offset": len(rows)}, kind=kind
            )
            data = _rows(body, path, {"id": int} if fields is None else fields)
            rows += data
            total = body.get("total")
            if len(data) < PAGE or (isinstance(total, int) and len(rows) >= total):
                return rows

    def highest_id(self, collection: str, kind: str = "lookup", **filters: Any) -> int:
        """The newest object's id (of those ``filters`` match; 0: none): objects above it are
        created after this call."""
        path = f"/api/{collection}"
        params = {**filters, "sort": "-id", "limit": 1}
        data = _rows(self.call("GET", path, params=params, kind=kind), path, {"id": int})
        return int(data[0]["id"]) if data else 0

    def consume(
        self, collection: str, items: list[dict[str, Any]], *, idempotent: bool
    ) -> list[Any]:
        """``POST /api/{collection}/consume``: the items created or found, in the order sent."""
        body = self.call(
            "POST", f"/api/{collection}/consume", body=items, kind="write", idempotent=idempotent
        )
        data = body.get("data")
        if not isinstance(data, list) or len(data) != len(items):
            raise ThreatQError(
                f"ThreatQ answered {len(data) if isinstance(data, list) else 'no'} items to "
                f"{len(items)} sent to /api/{collection}/consume; nothing more is loaded, run "
                "again (what was loaded stays, and a rerun adds nothing twice)."
            )
        return data

    def related(self, collection: str, object_id: int, other: str) -> list[dict[str, Any]]:
        """The objects of ``other`` linked to one object."""
        return self.lookup(f"/api/{collection}/{object_id}/{other}", kind="read")

    def attributes(self, collection: str, object_id: int) -> list[dict[str, Any]]:
        return self.lookup(
            f"/api/{collection}/{object_id}/attributes", kind="read", fields={"name": str}
        )

    # -- transport --

    @property
    def secrets(self) -> tuple[str, ...]:
        """What no message may show, should a server echo it."""
        found = (self.config.get("password"), self.config.get("client_secret"), self._token)
        return tuple(str(s) for s in found if s)

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        kind: str,
        idempotent: bool = True,
        auth: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """One API call, with the token, the retries and the checks described above."""
        waits = iter(self.waits)
        renewed = False
        while True:
            if kind != "token" and (self._token is None or time.monotonic() >= self._expires):
                self.authenticate()
            self.requests[kind] += 1
            outcome = self._send(method, path, params, body, kind, auth)
            if isinstance(outcome, Reply):
                if outcome.status == HTTPStatus.UNAUTHORIZED and kind != "token" and not renewed:
                    renewed = True
                    self.authenticate()
                    continue
                answer = answers.payload(outcome, method, path, kind, self.secrets)
                if isinstance(answer, dict):
                    return answer
                unknown = outcome.status != HTTPStatus.SERVICE_UNAVAILABLE
                outcome = _Failure(answer, unknown=unknown, timed_out=False)
            if outcome.unknown and not idempotent:
                raise OutcomeUnknown(outcome.text, timeout=outcome.timed_out)
            wait = next(waits, None)
            if wait is None:
                raise ThreatQError(
                    f"ThreatQ did not answer {method} {path} after {len(self.waits) + 1} tries "
                    f"({outcome.text}); what was loaded stays, run again later."
                )
            self.logger.warning(
                "ThreatQ: %s %s failed (%s); trying again in %g s", method, path, outcome.text, wait
            )
            time.sleep(wait)

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        body: Any,
        kind: str,
        auth: tuple[str, str] | None,
    ) -> Reply | _Failure:
        """One bounded exchange: the reply, or what failed when another try may pass; an
        error for what no retry mends (a redirect, a refused certificate, a huge body)."""
        headers = {"Accept": "application/json"}
        if kind != "token":
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            reply = exchange(
                self.session,
                method,
                self.base + path,
                params=params,
                json=body,
                headers=headers,
                auth=auth,
                timeout=self.timeout,
                cap=BODY_CAP,
                verify=self.verify,
            )
        except requests.exceptions.SSLError:
            raise ThreatQError(
                f"The TLS certificate of {urlsplit(self.base).netloc} was refused: set "
                "ca_bundle to the CA file that signed it (or verify_ssl: false for a test "
                "instance)."
            ) from None
        except RETRIED as error:
            unsent = isinstance(error, requests.exceptions.ConnectTimeout)
            timed_out = isinstance(error, requests.exceptions.Timeout) and not unsent
            return _Failure(answers.describe(error), unknown=not unsent, timed_out=timed_out)
        except (requests.exceptions.RequestException, TooLarge) as error:
            raise ThreatQError(
                f"ThreatQ's answer to {method} {path} cannot be read "
                f"({answers.one_line(str(error), self.secrets)[:200]}): check that api_url "
                "is your ThreatQ host; what was loaded stays."
            ) from None
        if HTTPStatus.MULTIPLE_CHOICES <= reply.status < HTTPStatus.BAD_REQUEST:
            location = reply.headers.get("Location")
            raise ThreatQError(
                answers.redirect(method, path, self.base, reply.status, location, self.secrets)
            )
        return reply

    def authenticate(self) -> None:
        """A new token by the configured grant: password when ``email`` is set, else
        client credentials."""
        config = self.config
        body: dict[str, Any] | None = None
        auth = None
        if config.get("email"):
            params = {"grant_type": "password", "client_id": config["client_id"]}
            body = {"email": config["email"], "password": config["password"]}
            names = "'client_id', 'email' and 'password'"
        else:
            params = {"grant_type": "client_credentials"}
            names = "'client_id' and 'client_secret'"
            auth = (config["client_id"], config["client_secret"])
        try:
            payload = self.call(
                "POST", "/api/token", params=params, body=body, kind="token", auth=auth
            )
        except ThreatQRefused:
            payload = {}
        token = payload.get("access_token")
        if not token or not isinstance(token, str):
            raise ThreatQError(
                f"ThreatQ refused the credentials: check the {names} settings (TARGET_THREATQ_...)."
            )
        lifetime = payload.get("expires_in")
        # At most a day: a lifetime no float holds (or a year) would never renew the token.
        lifetime = (
            float(min(lifetime, DAY))
            if isinstance(lifetime, (int, float)) and lifetime > 0
            else 1800
        )
        self._token = token
        self._expires = time.monotonic() + lifetime - min(60.0, lifetime / 10)


DAY = 86_400.0


def _rows(body: dict[str, Any], path: str, fields: Mapping[str, type]) -> list[dict[str, Any]]:
    """The ``data`` list of an answer, each row an object with ``fields`` of their types."""
    found = answers.rows(body.get("data"), fields)
    if isinstance(found, str):
        raise ThreatQError(
            f"ThreatQ's answer to GET {path}: its data {found}; check that api_url is your "
            "ThreatQ host; what was loaded stays."
        )
    return found
