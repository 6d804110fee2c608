"""Where Security Lake wants a custom source's objects: pure functions, no I/O.

AWS's user guide ("Collecting data from custom sources in Security Lake"): one OCSF event class
per custom source; objects under the source's prefix, partitioned as
``ext/<custom-source-name>/region=<region>/accountId=<accountID>/eventDay=<YYYYMMDD>/``;
``eventDay`` the record's time in UTC; ``accountId`` an AWS account ID, or ``external`` /
``external_<id>`` for records of accounts outside AWS; Parquet, records sorted by time, files
of five minutes to one event day. The source name and version follow the
CreateCustomLogSource API (``sourceName``: word characters, ``-``, ``:``, ``.``, at most 64;
``sourceVersion``: letters, digits, ``-``, ``.``, ``_``, at most 32).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import PurePosixPath

from tap_proofpoint_tap.mappers.ocsf.vocabulary import Class

CLASSES: dict[str, Class] = {kind.name_in_ocsf: kind for kind in Class}
"""The classes by OCSF name (``email_activity``): the ``--class`` choices."""
PREFIX = "proofpoint-tap"
EXT = "ext"  # Security Lake's prefix for custom sources in its bucket
EVENT_DAY = "%Y%m%d"
EVENT_DAY_SQL = "strftime(epoch_ms({time}), '%Y%m%d')"
"""SQL for the eventDay of an epoch-milliseconds column (``epoch_ms`` is UTC in any TimeZone)."""
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_ACCOUNT = re.compile(r"\d{12}|external|external_[A-Za-z0-9._-]{1,64}")
_SOURCE = re.compile(r"[\w\-:.]{1,64}", re.ASCII)
_VERSION = re.compile(r"[A-Za-z0-9\-._]{1,32}")


class LakeError(Exception):
    """A problem the user fixes (a setting, a path, a table): one line, exit 1."""


class LayoutError(LakeError):
    """A setting Security Lake would not take."""


@dataclass(frozen=True)
class Target:
    """Where the export goes: the partition values and how sources are named."""

    region: str
    account_id: str
    prefix: str = PREFIX
    version: str | None = None

    def __post_init__(self) -> None:
        check_region(self.region)
        check_account(self.account_id)
        if self.version is not None and not _VERSION.fullmatch(self.version):
            raise LayoutError(
                f"--source-version {self.version!r} is not a Security Lake source version "
                "(1 to 32 letters, digits, '-', '.' or '_', e.g. 1.0)"
            )
        for kind in Class:
            source_name(self.prefix, kind)

    def source(self, kind: Class) -> PurePosixPath:
        """The source's folder under the output: ``ext/<name>`` (``/<version>`` when set)."""
        folder = PurePosixPath(EXT, source_name(self.prefix, kind))
        return folder / self.version if self.version else folder

    def partition(self, day: str) -> PurePosixPath:
        """``region=<region>/accountId=<account>/eventDay=<day>``, under the source's folder."""
        return PurePosixPath(f"region={self.region}", f"accountId={self.account_id}") / (
            f"eventDay={day}"
        )

    def file(self, kind: Class, day: str) -> PurePosixPath:
        """The one object of ``kind``'s source for ``day``, relative to the output folder:
        named by source and day, so an export run again writes the same names (and an upload
        of it replaces the objects it uploaded before rather than adding copies)."""
        name = source_name(self.prefix, kind)
        return self.source(kind) / self.partition(day) / f"{name}-{day}.parquet"


def check_region(region: str) -> str:
    if not _REGION.fullmatch(region):
        raise LayoutError(
            f"--region {region!r} is not an AWS Region code (e.g. us-east-1, eu-west-2): the "
            "Region of the Security Lake bucket the files go to"
        )
    return region


def check_account(account: str) -> str:
    if not _ACCOUNT.fullmatch(account):
        raise LayoutError(
            f"--account-id {account!r} is neither a 12-digit AWS account ID (e.g. "
            "123456789012) nor external / external_<id>, which Security Lake recommends for "
            "records of accounts outside AWS"
        )
    return account


def source_name(prefix: str, kind: Class) -> str:
    """The custom source's name: ``<prefix>-email-activity`` and so on."""
    name = f"{prefix}-{kind.name_in_ocsf.replace('_', '-')}"
    if not _SOURCE.fullmatch(name):
        raise LayoutError(
            f"--source-prefix {prefix!r} makes the source name {name!r}, which Security Lake "
            "refuses: a name is 1 to 64 ASCII letters, digits, '_', '-', ':' or '.'"
        )
    return name


def event_class(kind: Class) -> str:
    """The class as CreateCustomLogSource's ``eventClasses`` spells it (``EMAIL_ACTIVITY``)."""
    return kind.name_in_ocsf.upper()


def event_day(time_ms: int) -> str:
    """The eventDay of an OCSF ``time`` (epoch milliseconds): its UTC date as ``YYYYMMDD``."""
    return (_EPOCH + timedelta(milliseconds=time_ms)).strftime(EVENT_DAY)
