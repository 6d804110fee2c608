"""The tap's catalog with some streams selected: what the benchmarks read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tap_proofpoint_tap.tap import TapProofpointTap

if TYPE_CHECKING:
    from collections.abc import Callable


def selecting(config: dict[str, Any], selected: Callable[[str], bool]) -> dict[str, Any]:
    """The catalog ``--discover`` prints for ``config``, each stream selected when
    ``selected(its name)``."""
    catalog = TapProofpointTap(config=config, validate_config=False).catalog_dict
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = selected(entry["tap_stream_id"])
    return catalog
