"""What ThreatQ (or whatever answers at ``api_url``) sent, read without trusting it: JSON of
any shape and depth, and any text turned into one short line that shows no secret."""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeGuard
from urllib.parse import urljoin, urlsplit

import requests

from tap_proofpoint_tap.targets.threatq.errors import ThreatQError, ThreatQRefused

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from tap_proofpoint_tap.targets.threatq.transport import Reply

LINE = 300  # characters of a server's text in a message
_TAG = re.compile(r"<[^>]*>")
_DEPTH = 8  # levels of an errors structure spelled out


def payload(
    reply: Reply, method: str, path: str, kind: str, secrets: tuple[str, ...]
) -> dict[str, Any] | str:
    """The JSON body of a success; what failed when another try may pass (5xx, a body that is
    not JSON); an error for a refusal."""
    status = reply.status
    if status < HTTPStatus.BAD_REQUEST:
        found = parse(reply.body)
        if found is None:
            kind_of = one_line(reply.headers.get("Content-Type") or "no type")[:60]
            return f"HTTP {status} with a body that is not JSON ({kind_of})"
        if found.get("errors"):  # a refusal, as ThreatQ's SDK treats it
            raise ThreatQRefused(
                f"ThreatQ answered {method} {path} with errors: "
                f"{one_line(flatten(found['errors']), secrets)}"
            )
        return found
    if status == HTTPStatus.UNAUTHORIZED and kind != "token":
        raise ThreatQError(
            "ThreatQ refused a fresh token (401): check that the API user or OAuth "
            "client may use the API (its role)."
        )
    if status < HTTPStatus.INTERNAL_SERVER_ERROR:
        raise ThreatQRefused(
            f"ThreatQ refused {method} {path} ({status}): {one_line(reason(reply.body), secrets)}"
        )
    return f"HTTP {status}"


def parse(body: bytes) -> dict[str, Any] | None:
    """The JSON object of a body (a list comes as ``{"data": list}``); None when the body is
    not JSON, or nested too deep for the parser."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return payload if isinstance(payload, dict) else {"data": payload}


def rows(data: Any, fields: Mapping[str, type]) -> list[dict[str, Any]] | str:
    """The ``data`` list of an answer if its rows are objects with ``fields`` of their types
    (a missing ``data``: no rows), else what is wrong with it."""
    if data is None:
        return []
    if not _objects(data):
        return "is not a list of objects"
    for row in data:
        for name, kind in fields.items():
            value = row.get(name)
            if not isinstance(value, kind) or isinstance(value, bool):
                return f"has a row without {'an integer' if kind is int else 'a text'} {name!r}"
    return data


def _objects(data: Any) -> TypeGuard[list[dict[str, Any]]]:
    return isinstance(data, list) and all(isinstance(row, dict) for row in data)


def describe(error: requests.exceptions.RequestException) -> str:
    """A failed exchange, for the line that says it will be tried again (or was, in vain)."""
    if isinstance(error, requests.exceptions.Timeout):
        return "no answer within request_timeout"
    if isinstance(
        error, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)
    ):
        return "the answer was cut off"
    return "cannot connect or the connection dropped: check api_url and the network"


def one_line(text: str, secrets: Iterable[str] = ()) -> str:
    """Server text as one printable line of at most ``LINE`` characters: markup and control
    characters dropped, whitespace runs made one space, each secret masked."""
    for secret in secrets:  # first: markup and whitespace rules could split or join one
        if secret:
            text = text.replace(secret, "\ue000")  # a private-use mark, outside any tag
    text = _TAG.sub(" ", text[: 8 * LINE])
    flat = " ".join("".join(c if c.isprintable() or c == "\ue000" else " " for c in text).split())
    flat = flat.replace("\ue000", "<secret>")
    return flat if len(flat) <= LINE else flat[: LINE - 1] + "…"


def reason(body: bytes) -> str:
    """Why the server refused, as it says it: its errors or message, else its text."""
    payload = parse(body)
    if payload is None:
        return body[: 8 * LINE].decode(errors="replace") or "no reason given"
    data = payload.get("data")
    found = payload.get("errors") or (data.get("errors") if isinstance(data, dict) else None)
    return flatten(found or payload.get("message") or payload.get("error") or payload)


def flatten(errors: Any, depth: int = 0) -> str:
    """``{"value": ["…"]}`` / ``["…", ["…"]]`` → one line (deeper levels shown as ``…``)."""
    if depth > _DEPTH:
        return "…"
    if isinstance(errors, dict):
        return "; ".join(f"{key}: {flatten(value, depth + 1)}" for key, value in errors.items())
    if isinstance(errors, list):
        return "; ".join(flatten(e, depth + 1) for e in errors)
    return str(errors)


def redirect(
    method: str, path: str, base: str, status: int, location: str | None, secrets: Iterable[str]
) -> str:
    """The message for a 3xx: where it pointed, and what to change."""
    if not location:
        return (
            f"ThreatQ answered {method} {path} with {status} and no Location: check that "
            "api_url is your ThreatQ host."
        )
    target = urljoin(base + path, location) if _origin(location) else location
    moved = _origin(target)
    if moved == _origin(base):
        fix = "check that api_url is your ThreatQ host, not a login page or proxy in front of it"
    elif moved and moved[1]:
        host = urlsplit(target).netloc
        shown = one_line(f"{moved[0]}://{host}", secrets)[:100]
        fix = f"set api_url to {shown} if that is your ThreatQ"
    else:
        fix = "check that api_url is your ThreatQ host"
    return (
        f"ThreatQ answered {method} {path} with {status}, redirected to "
        f"{one_line(target, secrets)[:150]}: target-threatq follows no redirect, so that no "
        f"credential leaves {base}; {fix}."
    )


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """Scheme, host and port (the default port spelled out); None when ``url`` is not a URL
    (a bracket left open, a port that is not a number)."""
    try:
        split = urlsplit(url)
        port = split.port
    except ValueError:
        return None
    default = {"https": 443, "http": 80}.get(split.scheme.lower())
    return split.scheme.lower(), (split.hostname or "").lower(), port or default
