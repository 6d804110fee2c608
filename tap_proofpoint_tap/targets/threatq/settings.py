"""target-threatq's settings: their schema, and the checks made before anything connects (one
message per mistake, and no message that shows a secret)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from singer_sdk import typing as th

if TYPE_CHECKING:
    from collections.abc import Mapping

SECRETS = ("password", "client_secret")

SETTINGS = th.PropertiesList(
    th.Property(
        "api_url",
        th.StringType,
        required=True,
        description="The ThreatQ host, e.g. https://threatq.example.com (https; "
        "http only for 127.0.0.1).",
    ),
    th.Property(
        "client_id",
        th.StringType,
        required=True,
        description="OAuth client id (My Account → API credentials, or /assets/js/config.js).",
    ),
    th.Property(
        "email",
        th.StringType,
        description="API user's e-mail, for the password grant (with password).",
    ),
    th.Property(
        "password",
        th.StringType,
        secret=True,
        description="API user's password, for the password grant.",
    ),
    th.Property(
        "client_secret",
        th.StringType,
        secret=True,
        description="OAuth client secret, for the client-credentials grant "
        "(instead of email and password).",
    ),
    th.Property(
        "verify_ssl",
        th.BooleanType,
        default=True,
        description="Check the TLS certificate of api_url (false wins over "
        "REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE).",
    ),
    th.Property(
        "ca_bundle",
        th.StringType,
        description="CA file (PEM) that signed the instance's certificate (wins over "
        "REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE).",
    ),
    th.Property(
        "corporate_email_object",
        th.StringType,
        description="Code of the Corporate Email custom object (default: the "
        'object named "Corporate Email" in GET /api/objects).',
    ),
    th.Property(
        "batch_size",
        th.IntegerType,
        default=500,
        description="Clicks and messages per load and items per consume call, 1-500.",
    ),
    th.Property(
        "request_timeout",
        th.IntegerType,
        default=120,
        description="Seconds ThreatQ has for one whole answer (connection, headers and "
        "body) before the try is given up and retried.",
    ),
    th.Property(
        "cache_hours",
        th.NumberType,
        default=24,
        description="Hours a loaded row is remembered: the same row read again within them "
        "is not sent to ThreatQ (0: no cache).",
    ),
    th.Property(
        "cache_dir",
        th.StringType,
        description="Folder of the local cache, one file per api_url (default: "
        "$XDG_CACHE_HOME/target-threatq, else ~/.cache/target-threatq).",
    ),
).to_dict()
OWN = tuple(SETTINGS["properties"])
"""target-threatq's own settings (the SDK adds its standard ones to the dict above)."""


def settings_errors(config: Mapping[str, Any]) -> list[str]:
    """One message per mistake in the settings, each naming the setting and what to change."""
    errors = []
    url = _split(config.get("api_url"))
    if url is None:
        errors.append(
            f"api_url {str(config.get('api_url'))[:60]!r} is not a URL: give "
            "https://<your ThreatQ host>[:port]."
        )
    elif url.scheme != "https" and not (url.scheme == "http" and _loopback(url.hostname)):
        errors.append(
            f"api_url must be https://<your ThreatQ host> (got "
            f"{str(config.get('api_url'))[:60]!r}); http is allowed for 127.0.0.1 "
            "only."
        )
    elif url.path.strip("/") or url.query or url.fragment:
        errors.append(
            f"api_url is the host only, without a path (got "
            f"{str(config.get('api_url'))[:60]!r}): the target adds /api/... itself."
        )
    if not str(config.get("client_id") or "").strip():
        errors.append("client_id is empty: set the OAuth client id (TARGET_THREATQ_CLIENT_ID).")
    password = bool(config.get("email")) or bool(config.get("password"))
    if password and not (config.get("email") and config.get("password")):
        errors.append(
            "email and password go together (the password grant): set both, or "
            "neither and client_secret."
        )
    if password and config.get("client_secret"):
        errors.append("set either email + password or client_secret, not both.")
    if not password and not config.get("client_secret"):
        errors.append(
            "no credentials: set email + password (password grant) or client_secret "
            "(client credentials)."
        )
    limits = {"batch_size": (1, 500), "request_timeout": (1, 3600), "cache_hours": (0, 720)}
    for name, (low, high) in limits.items():
        value = config.get(name)
        if value is not None and not low <= value <= high:
            errors.append(f"{name} must be between {low} and {high} (got {value}).")
    bundle = config.get("ca_bundle")
    if bundle and not Path(bundle).is_file():
        errors.append(f"ca_bundle {bundle!r} is not a file: give the path of a PEM CA file.")
    return errors


def _split(value: Any) -> SplitResult | None:
    """``api_url`` split, or None when it is not a URL (a bracket left open, a port that is not
    a number from 1 to 65535)."""
    try:
        url = urlsplit(str(value or ""))
        return url if url.port != 0 else None
    except ValueError:
        return None


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def masked(message: str, config: Mapping[str, Any]) -> str:
    for name in SECRETS:
        secret = str(config.get(name) or "")
        if secret:
            message = message.replace(secret, "<secret>")
    return message
