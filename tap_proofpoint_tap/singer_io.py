"""Singer output for the tap and the mapper: msgspec encoding, written in 64 KiB blocks.

The SDK's msgspec writer flushes stdout after every message, and many environments (Docker
images, CI) set PYTHONUNBUFFERED, which makes every write a system call: most of a fast tap's
time when stdout is a pipe. This writer gathers messages itself and writes them when 64 KiB
are pending, when a STATE goes out and at exit. A reader therefore never sees a STATE before
the records it covers, and a process killed mid-window loses only lines after its last STATE,
which the next run reads again.
"""

from __future__ import annotations

import atexit
import sys

from singer_sdk.contrib.msgspec import MsgSpecReader, MsgSpecWriter, serialize_jsonl
from singer_sdk.singerlib import Message, StateMessage

__all__ = ["MsgSpecReader", "StateFlushingWriter"]

BLOCK = 1 << 16


class StateFlushingWriter(MsgSpecWriter):
    """msgspec-encoded Singer lines, written in blocks and at every STATE message."""

    def __init__(self) -> None:
        super().__init__()
        self._pending = bytearray()
        atexit.register(self.flush)

    def write_message(self, message: Message | dict) -> None:
        """Write a message; a dict is written as it is (a mapper passing messages through)."""
        if isinstance(message, dict):
            self._pending += serialize_jsonl(message)
            state = message.get("type") == "STATE"
        else:
            self._pending += self.format_message(message)
            state = isinstance(message, StateMessage)
        if state or len(self._pending) >= BLOCK:
            self.flush()

    def flush(self) -> None:
        """Write what is pending, all of it (an unbuffered stdout may take it in parts)."""
        view = memoryview(self._pending)
        while view:
            written = sys.stdout.buffer.write(view)
            view = view[written if written is not None else len(view):]
        view.release()
        self._pending.clear()
        sys.stdout.flush()
