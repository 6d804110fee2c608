"""The three numbers at the top of the report and in the CLI's output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tap_proofpoint_tap.report.queries import execute
from tap_proofpoint_tap.targets.duckdb.columns import quote

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class Headline:
    """What a SOC lead asks first: how many open exposures, how fast people click, how many
    clicks came before Proofpoint knew the threat. All three count permitted clicks (the link
    opened), so the cards share one denominator."""

    active_permitted_clicks: int
    median_minutes_to_click: float | None
    retroactive_clicks: int
    clicks: int

    @property
    def retroactive_share(self) -> float | None:
        return self.retroactive_clicks / self.clicks if self.clicks else None

    def median_text(self) -> str:
        if self.median_minutes_to_click is None:
            return "n/a (no permitted click matched a delivery)"
        return f"{self.median_minutes_to_click:.1f}"

    def retroactive_text(self) -> str:
        share = self.retroactive_share
        text = f"{self.retroactive_clicks} of {self.clicks}"
        return text if share is None else f"{text} ({share:.1%})"

    def lines(self) -> list[str]:
        """The numbers as the CLI prints them, one per line."""
        return [
            f"Permitted clicks on active threats: {self.active_permitted_clicks}",
            f"Median minutes from delivery to a permitted click: {self.median_text()}",
            "Retroactive permitted clicks (clicked before the threat was known): "
            f"{self.retroactive_text()}",
        ]


def headline(con: duckdb.DuckDBPyConnection, schema: str) -> Headline:
    """The headline numbers from ``mart_click_exposure`` and the permitted clicks of
    ``fct_clicks`` in ``schema``."""
    s = quote(schema)
    (active,) = _one(con, f"SELECT count(*) FROM {s}.mart_click_exposure")
    median, retroactive, clicks = _one(
        con,
        f"""
        SELECT median(minutes_to_click),
               count(*) FILTER (WHERE is_retroactive),
               count(*)
        FROM {s}.fct_clicks WHERE disposition = 'permitted'""",
    )
    return Headline(
        active_permitted_clicks=int(active),
        median_minutes_to_click=None if median is None else float(median),
        retroactive_clicks=int(retroactive),
        clicks=int(clicks),
    )


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    """The one row an aggregate query returns."""
    row = execute(con, sql).fetchone()
    if row is None:  # an aggregate without GROUP BY always has its row
        raise AssertionError(sql)
    return row
