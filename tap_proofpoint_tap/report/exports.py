"""The report's lists as CSV files beside report.html, every row and every column read.

A subject, sender or URL is written by the attacker: a cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return would run as a formula in a spreadsheet, so such a text
cell is written with a leading apostrophe (OWASP's advice for CSV injection). Numbers are
written as numbers.
"""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from tap_proofpoint_tap.report.table import Row

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe(value: Any) -> Any:
    """``value`` as a spreadsheet reads it without running it."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(path: Path, rows: list[Row], columns: list[str]) -> None:
    """``rows`` to ``path`` with a header of ``columns`` (written even when there is no row)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([safe(row.get(column)) for column in columns])
