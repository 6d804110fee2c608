"""The tap's settings checked as a whole: one message per mistake, naming what to change."""

from __future__ import annotations

import difflib
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tap_proofpoint_tap import windows

if TYPE_CHECKING:
    from collections.abc import Mapping

THREAT_STATUSES = ("active", "cleared", "falsePositive")
THREAT_TYPES = ("url", "attachment", "messageText")
BOUNDS = {
    "window_minutes": (1, 60),
    "lookback_minutes": (0, 1440),
    "request_timeout": (1, 3600),
    "max_requests_per_run": (1, 1800),
    "threat_refresh_hours": (1, 720),
    "forensics_threat_requests_per_day": (0, 50),
    "people_interval_hours": (1, 720),
}
PEOPLE_WINDOWS = (14, 30, 90)


def settings_errors(config: Mapping[str, Any], now: datetime) -> list[str]:
    """One message per mistake in the settings, each naming the setting and what to change."""
    errors = [
        f"{name} is empty: set it in the config or as TAP_PROOFPOINT_TAP_{name.upper()}."
        for name in ("principal", "secret")
        if not str(config.get(name) or "").strip()
    ]
    api_url = str(config.get("api_url", ""))
    if not api_url.lower().startswith(("http://", "https://")):
        errors.append(f"api_url must start with https:// (got {api_url[:60]!r}).")
    elif problem := _url_problem(api_url):
        errors.append(
            f"api_url {api_url[:80]!r} {problem}: give the API's base URL, such as "
            "https://tap-api-v2.proofpoint.com."
        )
    errors.extend(
        f"{name}: unknown value {value!r}; use {', '.join(allowed)}."
        for name, allowed in (("threat_status", THREAT_STATUSES), ("threat_type", THREAT_TYPES))
        for value in config.get(name) or []
        if value not in allowed
    )
    for name, (low, high) in BOUNDS.items():
        value = config.get(name)
        if value is not None and not low <= value <= high:
            errors.append(f"{name} must be between {low} and {high} (got {value}).")
    window = config.get("people_window_days")
    if window is not None and window not in PEOPLE_WINDOWS:
        errors.append(
            f"people_window_days must be 14, 30 or 90, as Proofpoint allows (got {window})."
        )
    return errors + _date_errors(config, now)


def _url_problem(url: str) -> str | None:
    """What makes an http(s) URL unusable as the API's base, or None."""
    if any(c.isspace() for c in url):
        return "holds white space"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not one
    except ValueError as error:
        return f"is not a URL ({error})"
    if not parts.hostname:
        return "names no host"
    if parts.query or parts.fragment:
        return "has a query or fragment, which the tap would drop"
    return None


_REQUIRED = re.compile(r"'(\w+)' is a required property")


def schema_error(message: str, secret: str | None) -> str:
    """The SDK's schema message, the secret masked, a missing setting told where to go."""
    if secret:
        message = message.replace(secret, "<secret>")
    missing = _REQUIRED.fullmatch(message)
    if missing:
        name = missing[1]
        message += f": set it in the config or as TAP_PROOFPOINT_TAP_{name.upper()}."
    return message


def unknown_settings(config: Mapping[str, Any], known: frozenset[str]) -> list[str]:
    """A line per config key that is no setting (a typo reads as the default, silently)."""
    lines = []
    for key in sorted(config.keys() - known):
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"settings: {', '.join(sorted(known))}."
        lines.append(f"{key!r} is not a setting of this tap and is ignored: {hint}")
    return lines


def _date_errors(config: Mapping[str, Any], now: datetime) -> list[str]:
    errors = []
    times = {}
    for name in ("start_date", "end_date"):
        if config.get(name):
            try:
                times[name] = windows.parse(str(config[name]))
            except ValueError:
                errors.append(f"{name} {config[name]!r} is not an ISO 8601 date-time.")
    if "start_date" in times and times["start_date"] > now:
        errors.append(f"start_date {config['start_date']} is in the future.")
    if {"start_date", "end_date"} <= times.keys() and (
        times["end_date"] - times["start_date"] < timedelta(minutes=1)
    ):
        errors.append("end_date must be at least a minute after start_date.")
    return errors


def environment_errors(
    schema: Mapping[str, Any], prefix: str, environ: Mapping[str, str]
) -> list[str]:
    """A line per ``<PREFIX><SETTING>`` variable the SDK cannot read as its setting's type
    (it stops on the first with a bare ``ValueError`` that names neither)."""
    errors = []
    for name, prop in schema.get("properties", {}).items():
        variable = prefix + name.upper().replace("-", "_")
        types = prop.get("type", ())
        if variable in environ and "integer" in (types if isinstance(types, list) else [types]):
            try:
                int(environ[variable])
            except ValueError:
                errors.append(
                    f"{variable} must be a whole number for {name} "
                    f"(got {environ[variable][:40]!r})."
                )
    return errors
