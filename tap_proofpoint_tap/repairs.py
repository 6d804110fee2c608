"""What the normaliser repaired in one window's events, told in one warning per window.

A repair (a value that could not keep its type, invalid Unicode, a click sent with several
recipients) leaves the value as sent in the record's ``unknownFields``; the log says what
happened and to how many events, once per window, with the first event's id to look at.
One line per event would drown the log (and cost a quarter of the tap's time on a window
where a tenth of the clicks carry several recipients, measured in benchmarks/).
"""

from __future__ import annotations

import collections

SHOWN = 5
"""Kinds of repair named in a window's line; the rest are counted."""


class Repairs:
    """The repairs of the current window, by kind (the normaliser's own words)."""

    def __init__(self) -> None:
        self.events = 0
        self.kinds: collections.Counter[str] = collections.Counter()
        self.first: dict[str, str] = {}

    def add(self, problems: list[str], event_id: str) -> None:
        self.events += 1
        for problem in dict.fromkeys(problems):
            self.kinds[problem] += 1
            self.first.setdefault(problem, event_id)

    def clear(self) -> None:
        self.events = 0
        self.kinds.clear()
        self.first.clear()

    def line(self) -> str | None:
        """What the window's repairs were, or None when there were none."""
        if not self.events:
            return None
        named = [
            f"{kind} ({count:,} event{'' if count == 1 else 's'}, first {self.first[kind]})"
            for kind, count in self.kinds.most_common(SHOWN)
        ]
        more = len(self.kinds) - SHOWN
        if more > 0:
            named.append(f"and {more} more kind{'' if more == 1 else 's'} of repair")
        events = f"{self.events:,} event{'' if self.events == 1 else 's'}"
        return f"{events} kept with repairs (each value as sent is in unknownFields): " + "; ".join(
            named
        )
