"""A small client of ThreatQ's REST API: tokens, retries, envelopes and the calls the loader needs.

Every call goes through :meth:`ThreatQClient.call`, which keeps a Bearer token (renewed before it
expires and once on a 401), retries what may pass on a second try (503 maintenance mode, 5xx,
timeouts, dropped connections) with bounded backoff, and turns everything else into a one-line
error that names what to change. A call whose effect is unknown after a failure (a 500 after
the server may have written, a timeout) is only retried blindly when the caller says it is
``idempotent``; otherwise :class:`OutcomeUnknown` lets the loader re-read before it writes
again. No message ever carries the password, the client secret or a token.
"""

from __future__ import annotations

import collections
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from typing_extensions import override

from tap_proofpoint_tap.errors import TapError

if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping

WAITS = (1, 2, 4, 8, 16, 32)  # seconds between tries: 7 tries over about a minute
PAGE = 500


class ThreatQError(TapError):
    """Stops the run with a one-line message."""


class ThreatQRefused(ThreatQError):
    """ThreatQ answered 4xx, or a 2xx whose body carries errors."""


class OutcomeUnknown(Exception):
    """A write failed in a way that may or may not have been applied (``timeout``: it may
    still be running on the server)."""

    @override
    def __init__(self, failure: str, *, timeout: bool) -> None:
        super().__init__(failure)
        self.timeout = timeout


class ThreatQClient:
    """One ThreatQ instance, as the settings name it; counts its requests by kind."""

    def __init__(self, config: Mapping[str, Any], logger: logging.Logger) -> None:
        self.base = config["api_url"].rstrip("/")
        self.config = config
        self.logger = logger
        self.timeout = float(config.get("request_timeout", 120))
        self.session = requests.Session()
        self.session.verify = config.get("ca_bundle") or bool(config.get("verify_ssl", True))
        self.requests: collections.Counter[str] = collections.Counter()
        self._token: str | None = None
        self._expires = 0.0

    # -- the calls --

    def lookup(self, path: str, kind: str = "lookup", **filters: Any) -> list[dict[str, Any]]:
        """Every row of a list endpoint, page by page (until ``total``, or a short page)."""
        rows: list[dict[str, Any]] = []
        while True:
            body = self.call(
                "GET", path, params={**filters, "limit": PAGE, "offset": len(rows)}, kind=kind
            )
            data = body.get("data") or []
            rows += data
            total = body.get("total")
            if len(data) < PAGE or (isinstance(total, int) and len(rows) >= total):
                return rows

    def highest_id(self, collection: str) -> int:
        """The newest object's id: objects above it are created after this call."""
        body = self.call(
            "GET", f"/api/{collection}", params={"sort": "-id", "limit": 1}, kind="lookup"
        )
        data = body.get("data") or []
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
        return self.lookup(f"/api/{collection}/{object_id}/attributes", kind="read")

    # -- transport --

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        kind: str,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """One API call, with the token, the retries and the checks described above."""
        waits = iter(WAITS)
        renewed = False
        while True:
            if kind != "token" and (self._token is None or time.monotonic() >= self._expires):
                self.authenticate()
            self.requests[kind] += 1
            headers = {"Accept": "application/json"}
            if kind != "token":
                headers["Authorization"] = f"Bearer {self._token}"
            try:
                response = self.session.request(
                    method,
                    self.base + path,
                    params=params,
                    json=body,
                    headers=headers,
                    timeout=self.timeout,
                )
            except requests.exceptions.SSLError:
                raise ThreatQError(
                    f"The TLS certificate of {urlsplit(self.base).netloc} was refused: set "
                    "ca_bundle to the CA file that signed it (or verify_ssl: false for a test "
                    "instance)."
                ) from None
            except (
                requests.exceptions.ConnectionError,
                requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as error:
                unsent = isinstance(error, requests.exceptions.ConnectTimeout)
                failure, unknown = _describe(error), not unsent
                timed_out = isinstance(error, requests.exceptions.ReadTimeout)
            else:
                status = response.status_code
                if status == HTTPStatus.UNAUTHORIZED and kind != "token" and not renewed:
                    renewed = True
                    self.authenticate()
                    continue
                answer = _answer(response, method, path, kind)
                if isinstance(answer, dict):
                    return answer
                failure, unknown = answer, status != HTTPStatus.SERVICE_UNAVAILABLE
                timed_out = False
            if unknown and not idempotent:
                raise OutcomeUnknown(failure, timeout=timed_out)
            wait = next(waits, None)
            if wait is None:
                raise ThreatQError(
                    f"ThreatQ did not answer {method} {path} after {len(WAITS) + 1} tries "
                    f"({failure}); what was loaded stays, run again later."
                )
            self.logger.warning(
                "ThreatQ: %s %s failed (%s); trying again in %d s", method, path, failure, wait
            )
            time.sleep(wait)

    def authenticate(self) -> None:
        """A new token by the configured grant: password when ``email`` is set, else
        client credentials."""
        config = self.config
        body: dict[str, Any] | None = None
        if config.get("email"):
            params = {"grant_type": "password", "client_id": config["client_id"]}
            body = {"email": config["email"], "password": config["password"]}
            names = "'client_id', 'email' and 'password'"
        else:
            params = {"grant_type": "client_credentials"}
            names = "'client_id' and 'client_secret'"
            self.session.auth = (config["client_id"], config["client_secret"])
        try:
            payload = self.call("POST", "/api/token", params=params, body=body, kind="token")
        except ThreatQRefused:
            payload = {}
        finally:
            self.session.auth = None
        token = payload.get("access_token")
        if not token:
            raise ThreatQError(
                f"ThreatQ refused the credentials: check the {names} settings (TARGET_THREATQ_...)."
            )
        lifetime = float(payload.get("expires_in") or 1800)
        self._token = str(token)
        self._expires = time.monotonic() + lifetime - min(60.0, lifetime / 10)


def _answer(response: requests.Response, method: str, path: str, kind: str) -> dict[str, Any] | str:
    """The JSON body of a success; what failed when another try may pass (5xx, a body that is
    not JSON); an error for a refusal."""
    status = response.status_code
    if status < HTTPStatus.BAD_REQUEST:
        payload = _json(response)
        if payload is None:
            return f"HTTP {status} with a body that is not JSON"
        _check_errors(payload, method, path)
        return payload
    if status == HTTPStatus.UNAUTHORIZED and kind != "token":
        raise ThreatQError(
            "ThreatQ refused a fresh token (401): check that the API user or OAuth "
            "client may use the API (its role)."
        )
    if status < HTTPStatus.INTERNAL_SERVER_ERROR:
        raise ThreatQRefused(f"ThreatQ refused {method} {path} ({status}): {_reason(response)}")
    return f"HTTP {status}"


def _json(response: requests.Response) -> dict[str, Any] | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else {"data": payload}


def _check_errors(payload: dict[str, Any], method: str, path: str) -> None:
    """A 2xx that carries ``errors`` is a refusal (ThreatQ's SDK treats it so)."""
    if payload.get("errors"):
        raise ThreatQRefused(
            f"ThreatQ answered {method} {path} with errors: {_flatten(payload['errors'])}"
        )


def _reason(response: requests.Response) -> str:
    payload = _json(response)
    if payload is None:
        return response.text.strip()[:300] or "no reason given"
    data = payload.get("data")
    found = payload.get("errors") or (data.get("errors") if isinstance(data, dict) else None)
    return _flatten(found or payload.get("message") or payload.get("error") or payload)[:300]


def _flatten(errors: Any) -> str:
    """``{"value": ["…"]}`` / ``["…", ["…"]]`` → one line."""
    if isinstance(errors, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in errors.items())
    if isinstance(errors, list):
        return "; ".join(_flatten(e) for e in errors)
    return str(errors)


def _describe(error: Exception) -> str:
    if isinstance(error, requests.exceptions.Timeout):
        return "no answer within request_timeout"
    if isinstance(
        error, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)
    ):
        return "the answer was cut off"
    return "cannot connect or the connection dropped: check api_url and the network"
