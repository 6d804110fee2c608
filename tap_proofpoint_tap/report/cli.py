"""``proofpoint-tap-report``: read the dbt marts, write the report, print its headline.

Defaults come from environment variables too, so the same command runs as a Meltano utility
(whose settings become PROOFPOINT_REPORT_* variables).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from tap_proofpoint_tap.report.headline import headline
from tap_proofpoint_tap.report.queries import ReportError, connect, read_marts

PROG = "proofpoint-tap-report"


def parser() -> argparse.ArgumentParser:
    env = os.environ.get
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Write the click-exposure report (report.html, one self-contained page "
        "that opens offline, and a PNG per chart) from the dbt marts in a DuckDB file.",
    )
    p.add_argument(
        "--database",
        type=Path,
        default=Path(env("PROOFPOINT_REPORT_DATABASE") or "output/sandbox.duckdb"),
        help="DuckDB file holding the marts, opened read-only "
        "(env PROOFPOINT_REPORT_DATABASE; default output/sandbox.duckdb)",
    )
    p.add_argument(
        "--schema",
        default=env("PROOFPOINT_REPORT_SCHEMA") or "analytics",
        help="schema of the marts (env PROOFPOINT_REPORT_SCHEMA; default analytics)",
    )
    p.add_argument(
        "--output",
        type=Path,
        default=Path(env("PROOFPOINT_REPORT_OUTPUT") or "output"),
        help="directory to write report.html and the PNGs to "
        "(env PROOFPOINT_REPORT_OUTPUT; default output)",
    )
    return p


def shown(path: Path) -> str:
    """``path`` as the page names it: relative to the working folder when it lies inside it
    (Meltano passes $MELTANO_PROJECT_ROOT/output/...), else as given, so a report shared
    with others does not carry the author's folders."""
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        with connect(args.database, args.schema) as con:
            numbers = headline(con, args.schema)
            marts = read_marts(con, args.schema)
        # altair and vl-convert load only now (~1 s), so a user error is reported at once
        from tap_proofpoint_tap.report.render import write_report  # noqa: PLC0415

        try:
            report = write_report(
                marts,
                numbers,
                args.output,
                source=f"{shown(args.database)} (schema {args.schema})",
                generated=datetime.now(timezone.utc),
            )
        except OSError as exc:
            raise ReportError(
                f"cannot write the report to {args.output}: {exc.strerror or exc}: "
                "pass another --output (or PROOFPOINT_REPORT_OUTPUT)"
            ) from None
    except ReportError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    print(f"Report: {report.html}")
    for line in numbers.lines():
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
