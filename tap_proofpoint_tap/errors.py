"""Errors a user can cause or meet, each a one-line message that says what to do."""

from __future__ import annotations

from singer_sdk.exceptions import FatalAPIError


class TapError(FatalAPIError):
    """Stops the run with a one-line message (no traceback unless debug logging is on)."""


class AuthError(TapError):
    """Proofpoint refused the credentials (401/403)."""


class ThrottledError(TapError):
    """Proofpoint answered 429: the pool's 1,800 requests per rolling 24 hours are spent."""


class Redirected(TapError):
    """The API's address answered with a redirect, which the tap does not follow."""


class WindowRefused(TapError):
    """Proofpoint answered 400 to a window."""


class UnavailableError(TapError):
    """Retries ran out on 5xx, timeouts, dropped connections or unreadable bodies."""


class ReaderGone(TapError):
    """The program reading the Singer output closed its end of the pipe."""


class StateError(TapError):
    """The state passed with --state cannot be used."""


class InputError(TapError):
    """A --config, --state or --catalog file, or the catalog in it, cannot be used."""


class BudgetReached(Exception):
    """The run has spent ``max_requests_per_run`` requests of a pool: stop its streams cleanly."""


class LoadError(TapError):
    """A loader cannot write (a locked file, a value its column cannot hold): nothing of the
    batch is committed and its STATE is not sent."""
