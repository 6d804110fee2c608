"""What one run hands from the SIEM streams to the streams that follow them: the threats the
records mention (settled into the state with each window's STATE, :mod:`work`), which of those
streams are selected, and their failures, said when the run ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tap_proofpoint_tap.work import Mention, Wanted, Work

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime


@dataclass
class Intel:
    """What the SIEM streams hand the streams that follow them: the threats their records
    mention (``mentioned``, settled into the state at each window's end), and the failures of
    those streams, said when the run ends (the other streams go on first)."""

    bookmarks: Callable[[], dict[str, Any]]
    wanted_now: Callable[[], Wanted]
    mentioned: dict[str, Mention] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    noting: bool = False
    """Whether the SIEM records' threats are noted: a stream that follows them is selected."""
    dropped: int = 0
    """Threats in no campaign not queued for forensics this run: the queue was full."""
    _wanted: Wanted | None = None

    def wanted(self) -> Wanted:
        if self._wanted is None:
            self._wanted = self.wanted_now()
            self.noting = self._wanted.any
        return self._wanted

    def work(self) -> Work:
        return Work(self.bookmarks(), self.wanted())

    def settle(self, now: datetime) -> None:
        """The window's mentions into the state (before its STATE goes out)."""
        if self.mentioned:
            work = self.work()
            work.settle(self.mentioned, now)
            self.dropped += work.dropped
            self.mentioned.clear()
