"""Singer output for the tap and the mapper: msgspec encoding, flushed at STATE, not per line.

The SDK's msgspec writer flushes stdout after every message: one system call per record, most
of a fast tap's time when stdout is a pipe. This writer lets the buffer fill and flushes when a
STATE goes out (and at exit), so a reader never sees a STATE before the records it covers, and
a process killed mid-window has lost only lines that come after its last flushed STATE.
"""

from __future__ import annotations

import sys

from singer_sdk.contrib.msgspec import MsgSpecReader, MsgSpecWriter
from singer_sdk.singerlib import Message, StateMessage

__all__ = ["MsgSpecReader", "StateFlushingWriter"]


class StateFlushingWriter(MsgSpecWriter):
    """msgspec-encoded Singer lines; stdout is flushed after each STATE message only."""

    def write_message(self, message: Message) -> None:
        sys.stdout.buffer.write(self.format_message(message))
        if isinstance(message, StateMessage):
            sys.stdout.flush()
