"""What an answer of the SIEM API means for the tap: its status as the tap's one-line error, a
body read whole within a bound, the start of an error body, a failed try in words."""

from __future__ import annotations

import base64
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import requests
import urllib3
from singer_sdk.exceptions import RetriableAPIError

from tap_proofpoint_tap.deadline import DeadlineExceeded
from tap_proofpoint_tap.errors import AuthError, Redirected, ThrottledError, WindowRefused
from tap_proofpoint_tap.wording import shown

if TYPE_CHECKING:
    from collections.abc import Callable

RETRIABLE = (
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.HTTPError,  # raised while the body streams: cut, reset, read timeout
    ConnectionResetError,
)
MAX_WHOLE = 64 << 20
"""The most read whole (a body the streaming parser refused): memory is bounded, whatever
the server sends."""
ERROR_BYTES = 1 << 16
"""The most of an error body read, to quote its start."""


def check_status(
    response: requests.Response,
    label: str,
    pool: str,
    bookmarks: Callable[[], str],
    secrets: tuple[str, ...] = (),
) -> None:
    """Raise the tap's error for an answer that is not a 2xx: one line that says what to do
    (a 5xx is retriable, the rest end the run)."""
    status = response.status_code
    if status in {HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN}:
        raise AuthError(
            f"Proofpoint refused the credentials ({status}): check the 'principal' and "
            "'secret' settings (TAP_PROOFPOINT_TAP_PRINCIPAL / TAP_PROOFPOINT_TAP_SECRET)."
        )
    if HTTPStatus.MULTIPLE_CHOICES <= status < HTTPStatus.BAD_REQUEST:
        location = shown(response.headers.get("Location", "") or "nowhere", 200, secrets)
        raise Redirected(
            f"{label}: {response.url.split('?')[0]} redirected the request ({status}) to "
            f"{location}; the tap follows no redirect, so that the credentials go to "
            "api_url's host only: set api_url to the TAP API's own address."
        )
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        raise ThrottledError(
            f"{label}: Proofpoint throttled the account (429). It allows 1,800 requests "
            f"per rolling 24 hours per pool ({pool} pool here) and keeps "
            f"refusing for up to 24 hours; state is kept at {bookmarks()}, run again "
            "later."
        )
    if HTTPStatus.BAD_REQUEST <= status < HTTPStatus.INTERNAL_SERVER_ERROR:
        raise WindowRefused(
            f"{label}: Proofpoint refused {_interval(response)} ({status}): "
            f"{shown(_head(response), 300, secrets) or 'no reason given'}"
        )
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        reason = shown(response.reason or "", 100, secrets)  # a server may echo anything
        raise RetriableAPIError(f"{status} {reason}".strip(), response)


def describe(error: Exception) -> str:
    """What went wrong on the last try, in words (never the request, which holds the auth)."""
    if isinstance(error, RetriableAPIError):
        return str(error)
    if isinstance(error, DeadlineExceeded):
        return str(error)
    if isinstance(error, (requests.exceptions.Timeout, urllib3.exceptions.ReadTimeoutError)):
        return "no answer within request_timeout"
    if isinstance(error, requests.exceptions.ConnectionError):
        return "cannot connect or the connection dropped: check api_url and the network"
    if isinstance(
        error, (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError)
    ):
        return "the body was cut off"
    return type(error).__name__


def read_bounded(response: requests.Response, limit: int) -> bytearray:
    """The body whole, if it is at most ``limit`` bytes; reading a larger one stops there."""
    body = bytearray()
    for chunk in response.iter_content(1 << 16):
        body += chunk
        if len(body) > limit:
            body.clear()  # freed now, not when the error is
            raise RetriableAPIError(
                f"a body the streaming parser cannot read, larger than the {limit >> 20} MiB "
                "read whole (lower window_minutes for smaller windows)",
                response,
            )
    return body  # not copied: the whole read holds the body once, and its text


def _head(response: requests.Response) -> str:
    """The start of an error body (however long the server makes it), as text."""
    data = response.raw.read(ERROR_BYTES, decode_content=True) or b""
    try:
        return data.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return data.decode("utf-8", errors="replace")


def _interval(response: requests.Response) -> str:
    query = parse_qs(urlsplit(response.url).query)
    return "interval " + query.get("interval", ["?"])[0]


def secrets_of(auth: object) -> tuple[str, ...]:
    """What of Basic auth credentials a server could echo back: the secret as it is and
    URL-encoded, and the header's value (principal and secret, base64)."""
    principal, secret = getattr(auth, "username", ""), getattr(auth, "password", "")
    if not secret:
        return ()
    token = base64.b64encode(f"{principal}:{secret}".encode()).decode()
    return (token, secret, quote(secret, safe=""), quote_plus(secret))
