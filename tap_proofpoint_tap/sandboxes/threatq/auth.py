"""``POST /api/token``: the password, client_credentials and refresh_token grants (§2).

Tokens expire after ``expires_in`` seconds (a float, so tests can wait a fraction of one);
a refresh rotates both tokens and revokes the old pair, as Laravel Passport does.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tap_proofpoint_tap.sandboxes.threatq.validate import Source

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True)
class Credentials:
    """What the instance accepts: a user (password grant) and an OAuth client.

    The password grant also needs ``client_id`` (the UI's ClientId); client_credentials
    needs ``client_id`` and ``client_secret``.
    """

    email: str = "analyst@sandbox.example"
    password: str = "sandbox-password"
    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"


class TokenError(Exception):
    """A refused grant: 400 with an OAuth 2 error body."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.body = {"error": error, "error_description": message, "message": message}


class Tokens:
    """Issued tokens: access token → (caller's source, expiry), refresh token → access token."""

    def __init__(
        self,
        credentials: Credentials,
        expires_in: float = 3600.0,
        seed: int = 7,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials
        self.expires_in = expires_in
        self._clock = clock
        self._rng = random.Random(f"threatq-sandbox-tokens:{seed}")
        self._lock = threading.Lock()
        self._access: dict[str, tuple[Source, float]] = {}
        self._refresh: dict[str, tuple[Source, str]] = {}

    def grant(self, params: dict[str, Any], basic: tuple[str, str] | None) -> dict[str, Any]:
        """The token body for ``params`` (query and body merged); raises ``TokenError``."""
        grant_type = params.get("grant_type")
        creds = self.credentials
        client_id, secret = basic or (params.get("client_id"), params.get("client_secret"))
        if grant_type == "password":
            if client_id != creds.client_id:
                raise TokenError("invalid_client", "Client authentication failed")
            email = str(params.get("email") or params.get("username") or "")
            password = params.get("password")
            if email.casefold() != creds.email.casefold() or password != creds.password:
                raise TokenError("invalid_grant", "The user credentials were incorrect.")
            return self._issue(Source(creds.email, source_type="users"))
        if grant_type == "client_credentials":
            if client_id != creds.client_id or secret != creds.client_secret:
                raise TokenError("invalid_client", "Client authentication failed")
            return self._issue(Source(creds.client_id, source_type="oauth_clients"))
        if grant_type == "refresh_token":
            with self._lock:
                found = self._refresh.pop(str(params.get("refresh_token")), None)
                if found is None:
                    raise TokenError("invalid_request", "The refresh token is invalid.")
                self._access.pop(found[1], None)
            return self._issue(found[0])
        raise TokenError(
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        )

    def _issue(self, source: Source) -> dict[str, Any]:
        with self._lock:
            access = f"tqa-{self._rng.getrandbits(128):032x}"
            refresh = f"tqr-{self._rng.getrandbits(128):032x}"
            self._access[access] = (source, self._clock() + self.expires_in)
            self._refresh[refresh] = (source, access)
        expires = int(self.expires_in) if float(self.expires_in).is_integer() else self.expires_in
        return {
            "token_type": "Bearer",
            "expires_in": expires,
            "access_token": access,
            "refresh_token": refresh,
        }

    def identity(self, authorization: str | None) -> Source | None:
        """The caller behind ``Authorization: Bearer …``; None if missing, unknown or expired."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        with self._lock:
            found = self._access.get(token.strip())
            if found is None or self._clock() >= found[1]:
                return None
            return found[0]

    def expire_all(self) -> None:
        """Expire every access token now (refresh tokens stay valid)."""
        with self._lock:
            self._access = {t: (s, 0.0) for t, (s, _) in self._access.items()}
