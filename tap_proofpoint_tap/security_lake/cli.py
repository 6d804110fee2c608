"""``proofpoint-tap-security-lake``: the OCSF tables of the DuckDB file as AWS Security Lake
custom-source Parquet files, in the bucket's layout on the local disk (offline: nothing is
uploaded). Every mistake a user can make is one line on stderr and exit 1."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from typing_extensions import override

from tap_proofpoint_tap.security_lake.layout import (
    CLASSES,
    PREFIX,
    LakeError,
    Target,
    event_class,
    source_name,
)

PROG = "proofpoint-tap-security-lake"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line and exit 1 like every other mistake."""

    @override
    def error(self, message: str) -> NoReturn:
        self.exit(1, f"{PROG}: {message} (see --help)\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Export mapper-proofpoint-ocsf's events from the DuckDB file into AWS "
        "Security Lake's custom-source layout: one source per OCSF class, Parquet files under "
        "ext/<source>/region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/, one per day, "
        "each event once (the row loaded last). Offline: upload the folders yourself.",
    )
    p.add_argument(
        "--database",
        type=Path,
        default=Path("output/sandbox.duckdb"),
        help="DuckDB file target-duckdb-proofpoint loads the OCSF streams into, opened "
        "read-only (default output/sandbox.duckdb, what make demo writes)",
    )
    p.add_argument(
        "--schema", default="proofpoint", help="schema of the OCSF tables (default proofpoint)"
    )
    p.add_argument(
        "--output",
        type=Path,
        default=Path("output/security-lake"),
        help="folder to write ext/<source>/... into, as the Security Lake bucket lays it out; "
        "each exported source's folder is replaced whole (default output/security-lake)",
    )
    p.add_argument(
        "--region", required=True, help="AWS Region of the Security Lake bucket (us-east-1)"
    )
    p.add_argument(
        "--account-id",
        required=True,
        help="the accountId partition: a 12-digit AWS account ID, or external / "
        "external_<id> for records of accounts outside AWS, as Security Lake recommends",
    )
    p.add_argument(
        "--class",
        dest="classes",
        action="append",
        choices=sorted(CLASSES),
        help="an OCSF class to export (repeat for more; default: every OCSF table the file has)",
    )
    p.add_argument(
        "--source-prefix",
        default=PREFIX,
        help=f"custom source names are <prefix>-email-activity etc. (default {PREFIX})",
    )
    p.add_argument(
        "--source-version",
        help="add the custom source's version to its folder (ext/<source>/<version>/...), as "
        "in the location Security Lake gives a source created with --source-version",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        target = Target(args.region, args.account_id, args.source_prefix, args.source_version)
        try:  # DuckDB only now: a mistake in the arguments is told at once
            from tap_proofpoint_tap.security_lake import export  # noqa: PLC0415
        except ImportError as exc:
            raise LakeError(
                f"needs DuckDB ({exc.name} is not installed): install tap-proofpoint-tap[duckdb] "
                "(Python 3.11 or later)"
            ) from None
        written = export.run(args.database, args.schema, args.output, target, args.classes)
    except LakeError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    for done in written:
        days = f", eventDay {done.days[0]} to {done.days[-1]}" if done.days else ""
        dropped = done.rows - done.events
        print(
            f"{args.output / target.source(done.kind)}: {done.events} events "
            f"({event_class(done.kind)}; {dropped} duplicate rows left out) in "
            f"{len(done.days)} file{'' if len(done.days) == 1 else 's'}{days}"
        )
    names = ", ".join(source_name(target.prefix, w.kind) for w in written)
    print(
        f"Register each source in Security Lake (one OCSF class each: {names}), then upload "
        "each folder to the location Security Lake gives it (README, Exporting to AWS "
        "Security Lake)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
