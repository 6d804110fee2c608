"""DuckDB's errors as one line, shared by the loader and the report (stdlib only, so the report
can explain a bad file before it imports anything heavy)."""

from __future__ import annotations

import re
from pathlib import Path

_HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


def first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def lock_holder(error: Exception) -> str | None:
    """'python3 (PID 1234)' from DuckDB's lock error, or None when it names no holder."""
    holder = _HOLDER.search(str(error))
    return f"{Path(holder[1]).name} (PID {holder[2]})" if holder else None
