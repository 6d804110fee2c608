"""The report's tables as HTML: every value escaped, no URL made clickable, the top rows shown
and the whole list a link away (its CSV file beside report.html)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True)
class Listing:
    """A list the report shows in part and exports whole: its columns (as read) and rows."""

    columns: list[str]
    rows: list[Row]


SHOWN = 20


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str = "text"  # text, url, int, float, time, bool
    missing: str = "—"  # what an empty value means here
    # (another column, text): an empty value in a row where that column holds one reads
    # the text instead (a delivered message without a subject is not a missing delivery)
    blank_when: tuple[str, str] | None = None


@dataclass(frozen=True)
class Table:
    """One table: its element id, the CSV it exports (every row, every column read), what it
    answers, and the columns shown."""

    element_id: str
    csv: str
    caption: str
    columns: tuple[Column, ...]
    listing: Listing
    empty: str
    shown: int = SHOWN


def cell(row: Row, column: Column) -> str:
    """One value as escaped text: a malicious URL or subject must reach the analyst as text."""
    value = row.get(column.key)
    if value is None or value == "":
        if column.blank_when and row.get(column.blank_when[0]) not in (None, ""):
            return escape(column.blank_when[1])
        return escape(column.missing)
    if column.kind == "bool":
        return "yes" if value else "no"
    if column.kind == "float":
        return f"{value:.1f}"
    if column.kind == "time":
        return escape(str(value).replace("T", " ").removesuffix("Z"))
    return escape(str(value))


def html(table: Table) -> str:
    """The table's first ``shown`` rows, with a caption that says how many there are in all and
    links the CSV holding them."""
    head = "".join(f'<th scope="col">{escape(c.header)}</th>' for c in table.columns)
    body = "\n".join(
        "<tr>"
        + "".join(f'<td class="{c.kind}">{cell(row, c)}</td>' for c in table.columns)
        + "</tr>"
        for row in table.listing.rows[: table.shown]
    )
    total = len(table.listing.rows)
    if not total:
        caption = f"{escape(table.caption)}: {escape(table.empty)}"
    else:
        shown = min(total, table.shown)
        which = f"all {total}" if shown == total else f"the first {shown} of {total}"
        caption = (
            f'{escape(table.caption)}: {which} (every row: <a class="csv" '
            f'href="{escape(table.csv)}">{escape(table.csv)}</a>)'
        )
    return (
        f'<table id="{escape(table.element_id)}">\n<caption>{caption}</caption>\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"
    )
