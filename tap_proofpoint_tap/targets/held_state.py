"""What the project's loaders share: a STATE goes out only once every row before it is committed.

A Singer tap sends a STATE after the records it covers; Meltano stores the last STATE a target
writes as the bookmark. A target that echoed each STATE on arrival would let the bookmark run
ahead of rows still waiting in a batch, and a run killed then would skip them for good. So the
target holds the latest STATE while rows are pending and writes it right after the load that
commits them (at once when nothing is pending).

Three private methods of the SDK's ``Target`` are overridden and one is called, because the SDK
has no public hook for them; tests/test_sdk_private_loaders.py fails if the SDK renames them or
stops calling them.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from singer_sdk import Target
from singer_sdk.exceptions import ConfigValidationError
from typing_extensions import override

from tap_proofpoint_tap.errors import TapError
from tap_proofpoint_tap.inputs import bad_config
from tap_proofpoint_tap.settings import environment_errors

if TYPE_CHECKING:
    from types import FrameType

    import click


class HeldStateTarget(Target):
    """A Target whose subclasses say what is pending and how to commit it."""

    destination = "the destination"  # named in the signal message

    @override
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Set before the SDK's __init__ installs the signal handler that reads them.
        self._held: dict[str, Any] | None = None  # the latest STATE received
        self._written_state: dict[str, Any] | None = None
        self._flushing = False  # a commit is under way: no STATE, no drain from a signal
        self._failed = False  # a commit failed: no STATE from here on
        self._terminating = False  # a signal is being handled: a repeat is ignored
        try:
            super().__init__(*args, **kwargs)
        except ValueError:  # a setting from the environment the SDK cannot read as its type
            prefix = self.name.upper().replace("-", "_") + "_"
            errors = environment_errors(self.config_jsonschema, prefix, os.environ)
            if not errors:
                raise
            raise ConfigValidationError("Config validation failed", errors=errors) from None
        self.max_parallelism = 1  # one commit at a time: sinks are drained one after the other

    def pending(self) -> bool:
        """Whether rows wait to be committed."""
        raise NotImplementedError

    def commit(self) -> None:
        """Load every pending row; raise if any cannot be loaded."""
        raise NotImplementedError

    def on_state(self) -> None:
        """Called when a STATE arrives: every row before it has arrived too."""

    def on_failure(self) -> None:
        """Called once when a commit fails, before the error ends the run."""

    def discard(self) -> None:
        """Remove the loader's own scratch files (a commit's data): after each commit, and
        before a signal ends the process mid-commit."""

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
        # A commit restarts the SDK's max-record-age clock, as its own drain does (no public
        # API); else the SDK would drain again soon after.
        self._reset_max_record_age()
        if self._held:
            self._write_state_message(self._held)

    @override
    def _process_state_message(self, message_dict: dict[str, Any]) -> None:
        """The SDK's STATE callback (no public hook): hold the STATE, write it at once only
        when nothing before it is uncommitted."""
        super()._process_state_message(message_dict)
        self._held = message_dict["value"]
        self.on_state()
        if not self.pending():
            self._write_state_message(self._held)

    @override
    def _write_state_message(self, state: dict[str, Any]) -> None:
        """Every STATE the SDK writes (its drain too) goes through here: none during or after a
        failed commit, none while something before it is pending, none twice in a row.
        Recorded after it is written: a signal between the two repeats it rather than losing
        it."""
        if state != self._written_state and not (self._flushing or self._failed or self.pending()):
            super()._write_state_message(state)
            self._written_state = state

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT (the SDK installs this method as the handler; no public hook).

        Replaces the SDK's handler, which drains even when the signal lands inside a commit:
        that would start a second commit within the first and could send the STATE while
        the interrupted batch is half loaded. Here, mid-commit, the run stops at once without
        a STATE (the next run loads the rest); between commits, what is pending is committed,
        its STATE sent, and the run ends with 0.

        A repeated signal while one is handled (Meltano forwards the signal the OS already
        gave the process group; a second Ctrl-C) is ignored, as singer-sdk 0.55 does: the
        drain under way finishes and its STATE still follows its commit. Re-entering it
        would stop that commit half way (exit 1) or start another inside it.
        """
        if self._terminating:
            self.logger.debug("Signal %d ignored: already stopping", signum)
            return
        self._terminating = True
        if self._flushing:
            self.logger.error(
                "Stopped by signal %d during a load into %s: the STATE of the "
                "last whole load is kept; run again to load the rest.",
                signum,
                self.destination,
            )
            self.discard()
            os._exit(1)
        try:
            self.drain_all(is_endofpipe=True)
        except Exception as error:
            self.logger.error("Stopped by signal %d: %s", signum, error)
            os._exit(1)
        sys.stdout.flush()
        os._exit(0)

    @classmethod
    @override
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """Check each --config file first, so a broken one gets a line, not a traceback."""
        error = bad_config(value)
        if error is not None:
            cls.logger.error("%s", error)
            ctx.exit(1)
        return super().cb_config(ctx, param, value)

    @classmethod
    @override
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run the CLI; a :class:`TapError` ends it with its one-line message and exit 1."""
        try:
            super().invoke(*args, **kwargs)
        except TapError as error:
            cls.logger.error("%s", error, exc_info=cls.logger.isEnabledFor(logging.DEBUG))
            sys.exit(1)
