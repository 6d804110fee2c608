"""T1, the SOC work queue, as an HTML table: every value escaped, no URL made clickable."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tap_proofpoint_tap.report.queries import Row

# (column, header, how to show a value)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("priority_rank", "#", "int"),
    ("priority_score", "Score", "float"),
    ("click_time", "Click time (UTC)", "time"),
    ("recipient", "Recipient", "text"),
    ("url", "URL (not a link)", "url"),
    ("classification", "Classification", "text"),
    ("threat_status", "Status", "text"),
    ("is_retroactive", "Retroactive", "bool"),
    ("is_repeat_clicker", "Repeat clicker", "bool"),
    ("minutes_to_click", "Minutes to click", "float"),
    ("click_ip", "Click IP", "text"),
)


def cell(value: Any, kind: str) -> str:
    """One value as escaped text: a malicious URL must reach the analyst as text, not markup."""
    if value is None:
        return "—"
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "float":
        return f"{value:.1f}"
    if kind == "time":
        return escape(str(value).replace("T", " ").removesuffix("Z"))
    return escape(str(value))


def work_queue_table(rows: list[Row], total: int) -> str:
    """The top rows of ``mart_click_exposure``, of ``total`` permitted clicks on active threats."""
    head = "".join(f'<th scope="col">{escape(header)}</th>' for _, header, _ in COLUMNS)
    body = "\n".join(
        "<tr>"
        + "".join(
            f'<td class="{kind}">{cell(row.get(column), kind)}</td>' for column, _, kind in COLUMNS
        )
        + "</tr>"
        for row in rows
    )
    if rows:
        caption = (
            f"Work queue: the top {len(rows)} of {total} permitted clicks on threats "
            "still active, by priority (mart_click_exposure)"
        )
    else:
        caption = "Work queue: no permitted click on a threat still active (mart_click_exposure)"
    return (
        f'<table id="work-queue">\n<caption>{escape(caption)}</caption>\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"
    )
