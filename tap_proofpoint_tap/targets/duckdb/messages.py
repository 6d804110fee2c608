"""DuckDB's errors as one line, shared by the loader and the report (stdlib only, so the report
can explain a bad file before it imports anything heavy)."""

from __future__ import annotations

import re
from pathlib import Path

_HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")
_UNSEEN = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")  # would break or hide in a line


def first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def lock_holder(error: Exception) -> str | None:
    """'python3 (PID 1234)' from DuckDB's lock error, or None when it names no holder."""
    holder = _HOLDER.search(str(error))
    return f"{Path(holder[1]).name} (PID {holder[2]})" if holder else None


def shown(name: str) -> str:
    """A stream or property name as a message shows it: as is, or quoted with its escapes when
    it holds a line break or another character that would not show (the message stays one
    line)."""
    return name if name.isprintable() and name.strip() == name and name else repr(name)


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters as escapes (``\\n``)."""
    return _UNSEEN.sub(lambda found: repr(found[0])[1:-1], text)
