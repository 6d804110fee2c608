"""One GET of TAP's Threat, Campaign, Forensics or People APIs: quota, deadline, retries.

Each try is counted against the run's :class:`~tap_proofpoint_tap.budget.RequestBudget`
(``max_requests_per_run``) and, for a pool with a daily share, logged in the state and the
STATE written *before* it is sent (:mod:`quota`). A 404 is an answer ("no such id", or a
campaign-ids day without campaigns); a 429 stops only that pool (:class:`PoolStopped`); 5xx,
timeouts, cut or unreadable bodies are tried again with the SIEM reader's waits.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_proofpoint_tap.answers import (
    MAX_WHOLE,
    RETRIABLE,
    check_status,
    describe,
    read_bounded,
    secrets_of,
)
from tap_proofpoint_tap.deadline import Deadline
from tap_proofpoint_tap.errors import BudgetReached, TapError, UnavailableError
from tap_proofpoint_tap.quota import POOLS
from tap_proofpoint_tap.wording import counted, shown

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from tap_proofpoint_tap.budget import RequestBudget
    from tap_proofpoint_tap.quota import QuotaLog
    from tap_proofpoint_tap.reader import Transport


class PoolStopped(Exception):
    """The pool may not be asked now (429, its daily share spent, or the run's budget): its
    streams stop and their work waits in the state."""

    def __init__(self, pool: str, reason: str) -> None:
        super().__init__(reason)
        self.pool = pool
        self.reason = reason


class IntelRefused(TapError):
    """Proofpoint refused a request with a 4xx other than 401, 403, 404 and 429."""


class IntelUnreadable(TapError):
    """An answer read whole that is not a JSON object (asking again gets the same)."""


SMALL = 50
"""A pool this small (Proofpoint's 24-hour limit) is tried at most :data:`SMALL_POOL_TRIES`
times per request and run: a failing answer must not spend the day's share."""
SMALL_POOL_TRIES = 2


@dataclass
class IntelApi:
    """GETs of one stream, through the tap's transport."""

    transport: Transport
    budget: RequestBudget
    quotas: QuotaLog | None
    """The state's request log of the stream's pools (None: it spends no daily share)."""
    save: Callable[[], None]
    """Write a STATE now (a request is logged in it before it goes out)."""
    label: str

    def get(self, path: str, params: Mapping[str, Any], pool: str) -> Any:
        """The answer's JSON, or None for a 404. Raises :class:`PoolStopped`, or a
        :class:`~tap_proofpoint_tap.errors.TapError` with the one line to say."""
        transport = self.transport
        prepared = transport.session.prepare_request(
            requests.Request(
                "GET",
                f"{transport.base_url}{path}",
                params=dict(params),
                headers=dict(transport.headers),
                auth=transport.auth,
            )
        )
        waits = transport.waits()
        small = pool in POOLS and POOLS[pool].limit <= SMALL
        tries = SMALL_POOL_TRIES if small else transport.tries
        for attempt in itertools.count(1):
            self._admit(pool)
            try:
                return self._try(prepared, path, pool)
            except RETRIABLE as error:
                transport.session.close()
                if attempt >= tries:
                    raise UnavailableError(
                        f"{self.label}: Proofpoint did not answer {path} after "
                        f"{counted(tries, 'try', 'tries')} ({describe(error)}); what is left "
                        "waits in the state for the next run."
                    ) from None
                transport.retry(self.label, path, attempt, tries, error, next(waits))
        raise AssertionError("unreachable")  # pragma: no cover

    def _admit(self, pool: str) -> None:
        """Count the try, or say why the pool may not be asked."""
        now = datetime.now(timezone.utc)
        quotas = self.quotas
        if quotas is not None and pool in quotas.shares:
            refusal = quotas.refusal(pool, now)
            if refusal:
                raise PoolStopped(pool, refusal)
        try:
            self.budget.spend(pool, ())  # one endpoint: nothing to compare with
        except BudgetReached:
            raise PoolStopped(pool, f"max_requests_per_run ({self.budget.limit}) reached") from None
        if quotas is not None and pool in quotas.shares:
            quotas.spend(pool, now)
            self.save()

    def _try(self, prepared: requests.PreparedRequest, path: str, pool: str) -> Any:
        transport = self.transport
        with Deadline(transport.timeout) as deadline:
            response = deadline.send(
                transport.session, prepared, timeout=transport.timeout, allow_redirects=False
            )
            try:
                if not self._answered(response, path, pool):
                    return None
                return _json(read_bounded(response, MAX_WHOLE), response, self.label)
            except Exception:
                if deadline.expired:
                    raise deadline.error() from None
                raise
            finally:
                response.close()

    def _answered(self, response: requests.Response, path: str, pool: str) -> bool:
        """Whether the answer has a body to read: False for a 404; raises for the rest."""
        status = response.status_code
        if status == HTTPStatus.NOT_FOUND:
            return False
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            if self.quotas is not None and pool in self.quotas.shares:
                self.quotas.throttled(pool, datetime.now(timezone.utc))
                self.save()
            raise PoolStopped(pool, "Proofpoint answered 429 (its 24-hour limit is spent)")
        secrets = secrets_of(self.transport.auth)
        if HTTPStatus.BAD_REQUEST <= status < HTTPStatus.INTERNAL_SERVER_ERROR and status not in {
            HTTPStatus.UNAUTHORIZED,
            HTTPStatus.FORBIDDEN,
        }:
            head = response.raw.read(1 << 16, decode_content=True) or b""
            raise IntelRefused(
                f"{self.label}: Proofpoint refused {path} ({status}): "
                f"{shown(head.decode('utf-8', 'replace'), 300, secrets) or 'no reason given'}"
            )
        check_status(response, self.label, pool, lambda: "kept", secrets)
        return True


def _json(body: bytearray, response: requests.Response, label: str) -> Any:
    """The body as JSON: an object; a body that is not JSON (cut off?) is tried again, one
    that is JSON but no object is refused at once (asking again gets the same)."""
    path = response.url.split("?")[0]
    try:
        value = json.loads(body)
    except ValueError:
        raise RetriableAPIError("the body is not JSON (cut off?)", response) from None
    except RecursionError:
        raise IntelUnreadable(
            f"{label}: Proofpoint's answer to {path} is nested deeper than the tap reads."
        ) from None
    if not isinstance(value, dict):
        raise IntelUnreadable(
            f"{label}: Proofpoint's answer to {path} is JSON but not an object "
            f"({type(value).__name__}), not the documented shape."
        )
    return value
