"""The SIEM stream base: windows → requests → records → one bookmark per window.

Each window is requested once (plus bounded retries), its whole body is read and parsed, its
records are emitted, and only then does the bookmark move to the window's end and a STATE
message go out. A run stopped at any point therefore resumes without losing an event.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import requests
from requests.auth import HTTPBasicAuth
from singer_sdk import RESTStream
from singer_sdk.exceptions import RetriableAPIError

from tap_proofpoint_tap import windows
from tap_proofpoint_tap.errors import (
    AuthError,
    BudgetReached,
    ThrottledError,
    UnavailableError,
    WindowRefused,
)

SCHEMA_DIR = Path(__file__).parent / "schemas"
RETRIABLE = (
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class SiemStream(RESTStream):
    """One SIEM endpoint read in ``interval`` windows; subclasses name the endpoint only."""

    records_key: ClassVar[str]
    """The array of the endpoint's envelope, e.g. ``clicksPermitted``."""
    pool: ClassVar[str] = "shared"
    """Proofpoint's rate-limit pool: ``clicks/permitted`` has its own, the rest share one."""
    normalise: ClassVar[Callable[[dict, list[str]], dict]]
    sends_threat_type: ClassVar[bool] = False

    primary_keys: ClassVar[list[str]] = ["id"]
    replication_key = "queryEndTime"
    is_sorted = True
    extra_retry_statuses: ClassVar[list[int]] = []  # a 429 lasts up to 24 h: never retry it
    STATE_MSG_FREQUENCY = sys.maxsize  # STATE goes out per window, never mid-window

    @property
    def url_base(self) -> str:
        return self.config["api_url"].rstrip("/")

    @property
    def authenticator(self) -> HTTPBasicAuth:
        return HTTPBasicAuth(self.config["principal"], self.config["secret"])

    @property
    def timeout(self) -> int:
        return int(self.config.get("request_timeout", 300))

    def get_new_paginator(self) -> None:
        """Windows are planned up front (see :meth:`get_records`), not paginated."""
        return None

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        """The events of one response (the window loop calls :meth:`_events` inside retries)."""
        yield from self._events(response)

    def get_records(self, context: dict | None) -> Iterable[dict]:
        plan = windows.plan_windows(
            now=datetime.now(timezone.utc),
            bookmark=self._bookmark(),
            start_date=_optional_time(self.config.get("start_date")),
            end_date=_optional_time(self.config.get("end_date")),
            window_minutes=int(self.config.get("window_minutes", 60)),
            lookback_minutes=int(self.config.get("lookback_minutes", 30)),
        )
        if plan.lost:
            self.logger.warning(
                "%s: Proofpoint serves only the last 7 days; events created from %s to %s can "
                "no longer be fetched. Starting at %s.", self.name, windows.fmt(plan.lost.start),
                windows.fmt(plan.lost.end), windows.fmt(plan.lost.end))
        events = done = 0
        for window in plan.windows:
            try:
                records = self._read_window(window, context)
            except BudgetReached:
                self.logger.warning(
                    "%s: max_requests_per_run (%d) reached for the %s pool; stopping after %d "
                    "of %d windows with the bookmark at %s: the next run continues from there.",
                    self.name, self.config["max_requests_per_run"], self.pool, done,
                    len(plan.windows), self._bookmark_text())
                break
            yield from records
            events += len(records)
            done += 1
            self._finish_window(window, len(records))
        self.logger.info(
            "%s: done: %d windows, %d events, bookmark %s (%s pool: %d requests this run)",
            self.name, done, events, self._bookmark_text(), self.pool,
            self._tap.request_counts[self.pool])

    # -- one window --

    def _read_window(self, window: windows.Window, context: dict | None) -> list[dict]:
        """Request one window and return its records, retrying what can be retried."""
        prepared = self.build_prepared_request(
            method="GET",
            url=self.get_url(context),
            params=self._params(window),
            headers=self.http_headers,
        )
        fetch = self.request_decorator(self._fetch)
        try:
            events = fetch(prepared)
        except RETRIABLE as error:
            raise UnavailableError(
                f"{self.name}: Proofpoint did not serve {window.interval} after "
                f"{self.backoff_max_tries()} tries ({_describe(error)}); state is kept at "
                f"{self._bookmark_text()}, run again later."
            ) from None
        query_end = windows.fmt(window.end)
        records, seen = [], set()
        for event in events:
            problems: list[str] = []
            record = type(self).normalise(event, problems)
            if problems:
                self.logger.warning("%s: event %s kept with nulls: %s", self.name,
                                    record.get("id"), "; ".join(problems))
            if record["id"] in seen:
                continue
            seen.add(record["id"])
            record["queryEndTime"] = query_end
            records.append(record)
        return records

    def _fetch(self, prepared: requests.PreparedRequest) -> list[dict]:
        """One attempt: send, check the status, read and parse the whole body.

        Retries are attempts too: each counts against the pool's rate limit and budget.
        """
        budget = self.config.get("max_requests_per_run")
        if budget and self._tap.request_counts[self.pool] >= budget:
            raise BudgetReached
        self._tap.request_counts[self.pool] += 1
        response = self.requests_session.send(prepared, timeout=self.timeout)
        self.validate_response(response)
        return self._events(response)

    def _events(self, response: requests.Response) -> list[dict]:
        # Parse whatever the Content-Type says: JSON bodies sometimes come as text/plain.
        try:
            body = json.loads(response.content)
        except ValueError:
            raise RetriableAPIError(f"unreadable body ({len(response.content)} bytes)",
                                    response) from None
        events = body.get(self.records_key) if isinstance(body, dict) else None
        if not isinstance(events, list):
            raise RetriableAPIError(f"body without a {self.records_key} array", response)
        objects = [e for e in events if isinstance(e, dict)]
        if len(objects) < len(events):
            self.logger.warning("%s: %s: %d entries of %s are not objects and cannot be "
                                "records: %s", self.name, _interval(response),
                                len(events) - len(objects), self.records_key,
                                json.dumps([e for e in events if not isinstance(e, dict)])[:200])
        return objects

    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        if status in (401, 403):
            raise AuthError(
                f"Proofpoint refused the credentials ({status}): check the 'principal' and "
                "'secret' settings (TAP_PROOFPOINT_TAP_PRINCIPAL / TAP_PROOFPOINT_TAP_SECRET).")
        if status == 429:
            raise ThrottledError(
                f"{self.name}: Proofpoint throttled the account (429). It allows 1,800 requests "
                f"per rolling 24 hours per pool ({self.pool} pool here) and keeps refusing for "
                f"up to 24 hours; state is kept at {self._bookmark_text()}, run again later.")
        if 400 <= status < 500:
            interval = _interval(response)
            raise WindowRefused(
                f"{self.name}: Proofpoint refused {interval} ({status}): "
                f"{response.text.strip() or 'no reason given'}")
        if status >= 500:
            raise RetriableAPIError(f"{status} {response.reason}", response)

    # -- state --

    def _bookmark(self) -> datetime | None:
        """The bookmark from --state (checked to be a time by the tap's ``load_state``)."""
        value = self.stream_state.get("replication_key_value")
        return windows.parse(str(value)) if value is not None else None

    def _bookmark_text(self) -> str:
        return str(self.stream_state.get("replication_key_value", "none yet"))

    def _finish_window(self, window: windows.Window, count: int) -> None:
        """The window is read and emitted: move the bookmark to its end and say so."""
        end = windows.fmt(window.end)
        state = self.stream_state
        if end > state.get("replication_key_value", ""):
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = end
        self.state_manager.is_flushed = False
        self._write_state_message()
        self.logger.info("%s: window %s: %d events; bookmark %s", self.name, window.interval,
                         count, self._bookmark_text())

    def _increment_stream_state(self, latest_record: dict, *, context: Any = None) -> None:
        """Records never move the bookmark: only a whole window does (:meth:`_finish_window`).

        The SDK would otherwise set the bookmark to a window's end as soon as its first record
        passes, and a STATE written then (e.g. on SIGTERM) would skip the rest of the window.
        """

    # -- requests --

    def _params(self, window: windows.Window) -> dict[str, Any]:
        params: dict[str, Any] = {
            "format": "json",
            "interval": window.interval,
            "threatStatus": list(self.config.get("threat_status") or ["active", "cleared"]),
        }
        if self.sends_threat_type and self.config.get("threat_type"):
            params["threatType"] = list(self.config["threat_type"])
        return params


def _optional_time(value: Any) -> datetime | None:
    return windows.parse(str(value)) if value else None


def _interval(response: requests.Response) -> str:
    query = parse_qs(urlsplit(response.url).query)
    return "interval " + query.get("interval", ["?"])[0]


def _describe(error: Exception) -> str:
    """What went wrong on the last try, in words (never the request, which holds the auth)."""
    if isinstance(error, RetriableAPIError):
        return str(error)
    if isinstance(error, requests.exceptions.Timeout):
        return "no answer within request_timeout"
    if isinstance(error, requests.exceptions.ConnectionError):
        return "cannot connect or the connection dropped: check api_url and the network"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "the body was cut off"
    return type(error).__name__
