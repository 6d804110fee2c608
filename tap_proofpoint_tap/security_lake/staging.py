"""Nothing half-written: the export is written into a hidden folder inside the output folder,
and only when every source is complete is each one moved into place (a rename, on the same
file system), replacing that source's earlier export whole. A failure at any point before
leaves the output folder as it was."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tap_proofpoint_tap.security_lake.layout import LakeError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import PurePosixPath

STAGE_PREFIX = ".security-lake-staging-"
REPLACED = "replaced"


class StagingError(LakeError):
    """The output folder cannot be written."""


@contextmanager
def staged(output: Path) -> Iterator[Path]:
    """A new folder inside ``output`` (made if missing) to write the export into; it is
    removed when the block ends, and so are the folders made for ``output`` if it is left
    empty (the export failed)."""
    if output.exists() and not output.is_dir():
        raise StagingError(f"{output} is a file, not a folder: pass another --output")
    made = _missing_from(output)
    try:
        output.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=STAGE_PREFIX, dir=output))
    except OSError as exc:
        _remove_empty(output, made)
        raise StagingError(
            f"cannot write to {output}: {exc.strerror or exc}: pass another --output"
        ) from None
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        _remove_empty(output, made)


def publish(stage: Path, output: Path, folder: PurePosixPath) -> None:
    """Move ``stage/folder`` to ``output/folder``, replacing what was there."""
    new, final = stage / folder, output / folder
    new.mkdir(parents=True, exist_ok=True)  # a source without events: an empty folder
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        old = stage / REPLACED / folder
        old.parent.mkdir(parents=True, exist_ok=True)
        final.rename(old)
    new.rename(final)


def _missing_from(path: Path) -> Path | None:
    """The outermost folder of ``path`` that does not exist yet (None: it exists)."""
    missing = None
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing = folder
    return missing


def _remove_empty(output: Path, made: Path | None) -> None:
    """Remove ``output`` and its parents up to ``made`` (the folders this export made) while
    they are empty."""
    if made is None:
        return
    for folder in (output, *output.parents):
        try:
            folder.rmdir()
        except OSError:
            return
        if folder == made:
            return
