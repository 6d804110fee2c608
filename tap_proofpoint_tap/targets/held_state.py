"""What the project's loaders share: a STATE goes out only once every row before it is committed.

A Singer tap sends a STATE after the records it covers; Meltano stores the last STATE a target
writes as the bookmark. A target that echoed each STATE on arrival would let the bookmark run
ahead of rows still waiting in a batch, and a run killed then would skip them for good. So the
target holds the latest STATE while rows are pending and writes it right after the load that
commits them (at once when nothing is pending).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from singer_sdk import Target

from tap_proofpoint_tap.errors import TapError


class HeldStateTarget(Target):
    """A Target whose subclasses say what is pending and how to commit it."""

    destination = "the destination"  # named in the signal message

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_parallelism = 1  # one commit at a time: sinks are drained one after the other
        self._written_state: dict | None = None
        self._flushing = False  # a commit is under way: no STATE, no drain from a signal
        self._failed = False  # a commit failed: no STATE from here on

    def pending(self) -> bool:
        """Whether rows wait to be committed."""
        raise NotImplementedError

    def commit(self) -> None:
        """Load every pending row; raise if any cannot be loaded."""
        raise NotImplementedError

    def on_failure(self) -> None:
        """Called once when a commit fails, before the error ends the run."""

    def flush(self) -> None:
        """Commit what is pending, then send the STATE held since (all before it is loaded)."""
        if self.pending() and not self._failed:
            self._flushing = True
            try:
                self.commit()
            except BaseException:
                self._failed = True
                self.on_failure()
                raise
            finally:
                self._flushing = False
        self._reset_max_record_age()
        if self._latest_state:
            self._write_state_message(self._latest_state)

    def _process_state_message(self, message_dict: dict) -> None:
        super()._process_state_message(message_dict)
        if not self.pending():  # nothing before it is uncommitted
            self._write_state_message(self._latest_state)

    def _write_state_message(self, state: dict) -> None:
        if state != self._written_state and not (self._flushing or self._failed):
            self._written_state = state
            super()._write_state_message(state)

    def _handle_termination(self, signum: int, frame: Any) -> None:
        """SIGTERM/SIGINT: finish nothing half way. Mid-commit, stop at once without a STATE
        (the next run loads the rest); between commits, commit what is pending and send its
        STATE."""
        if self._flushing:
            self.logger.error(
                "Stopped by signal %d during a load into %s: the STATE of the "
                "last whole load is kept; run again to load the rest.",
                signum,
                self.destination,
            )
            os._exit(1)
        try:
            self.drain_all(is_endofpipe=True)
        except Exception as error:
            self.logger.error("Stopped by signal %d: %s", signum, error)
            os._exit(1)
        sys.stdout.flush()
        os._exit(0)

    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run the CLI; a :class:`TapError` ends it with its one-line message and exit 1."""
        try:
            super().invoke(*args, **kwargs)
        except TapError as error:
            cls.logger.error("%s", error, exc_info=cls.logger.isEnabledFor(logging.DEBUG))
            sys.exit(1)
