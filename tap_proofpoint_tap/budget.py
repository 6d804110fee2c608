"""Requests spent per rate-limit pool in one run, against ``max_requests_per_run``.

The tap makes one :class:`RequestBudget` per run and hands it to every reader; it also counts
what the same windows would have cost with each stream at its own endpoint, for the run's
closing line.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

from tap_proofpoint_tap.errors import BudgetReached

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


class RequestBudget:
    """Counts each request (retries included) against its pool; refuses past the limit."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.spent: collections.Counter[str] = collections.Counter()
        self.one_by_one: collections.Counter[str] = collections.Counter()

    def spend(self, pool: str, own_pools: Iterable[str]) -> None:
        """One request to ``pool``, standing for one request to each of ``own_pools``.

        Raises :class:`BudgetReached` when the pool has spent its limit this run.
        """
        if self.limit and self.spent[pool] >= self.limit:
            raise BudgetReached
        self.spent[pool] += 1
        self.one_by_one.update(own_pools)

    def line(self) -> str:
        """The run's cost, e.g. ``shared 168 (SIEM: 672 with each stream at its own ...)``."""
        return requests_line(self.spent, self.one_by_one)


def requests_line(spent: Mapping[str, int], one_by_one: Mapping[str, int]) -> str:
    """``shared 168, threat_summary 40 (SIEM: 672 with each stream at its own endpoint:
    clicks_permitted 168, shared 504)``; ``one_by_one`` counts the SIEM pools only."""

    def pools(counts: Mapping[str, int]) -> str:
        return ", ".join(f"{pool} {count}" for pool, count in sorted(counts.items()) if count)

    line = pools(spent) or "none"
    siem = sum(spent.get(pool, 0) for pool in one_by_one)
    if sum(one_by_one.values()) > siem:
        line += (
            f" (SIEM: {sum(one_by_one.values())} with each stream at its own endpoint: "
            f"{pools(one_by_one)})"
        )
    return line
