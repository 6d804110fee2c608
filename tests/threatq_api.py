"""A logged-in client of the ThreatQ stand-in on loopback, and its clock: what the stand-in's
test modules share (their fixtures ``sb`` and ``api`` are in tests/conftest.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import requests

from tap_proofpoint_tap.sandboxes.threatq import Credentials, ThreatQSandbox

CREDS = Credentials()
EMAIL = "corporate_email"


class Ticker:
    """A store clock one second further at every reading, so touched_at bumps are visible."""

    def __init__(self) -> None:
        self.at = datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at


def password_token(sb: ThreatQSandbox) -> dict:
    r = requests.post(
        sb.url + "/api/token",
        params={"grant_type": "password", "client_id": CREDS.client_id},
        json={"email": CREDS.email, "password": CREDS.password},
        timeout=5,
    )
    assert r.status_code == 200, r.text
    return r.json()


def session(sb: ThreatQSandbox) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = "Bearer " + password_token(sb)["access_token"]
    return s


class Api:
    """A logged-in client: ``api.post("/indicators/consume", [...])`` → the response."""

    def __init__(self, sb: ThreatQSandbox) -> None:
        self.sb, self.s = sb, session(sb)

    def __getattr__(self, verb: str):
        def call(path: str, body=None, **params):
            return self.s.request(
                verb.upper(), self.sb.url + "/api" + path, json=body, params=params, timeout=5
            )

        return call


def url_item(value: str, **extra) -> dict:
    return {"value": value, "type": {"name": "URL"}, "status": {"name": "Active"}, **extra}
