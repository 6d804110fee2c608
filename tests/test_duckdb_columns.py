"""target-duckdb-proofpoint's column rule, without a database: the fast tier, which runs on
Python 3.10 too, where DuckDB is not installed (the module it tests imports no DuckDB)."""

from __future__ import annotations

import pytest

from tap_proofpoint_tap.targets.duckdb.columns import TIMESTAMP, column_type, plan, widened

pytestmark = pytest.mark.fast


@pytest.mark.parametrize(
    ("prop", "kind"),
    [
        ({"type": "string"}, "VARCHAR"),
        ({"type": ["string", "null"], "format": "date-time"}, TIMESTAMP),
        ({"type": "string", "format": "date"}, "DATE"),
        ({"type": ["integer", "null"]}, "BIGINT"),
        ({"type": "number"}, "DOUBLE"),
        ({"type": "boolean"}, "BOOLEAN"),
        ({"type": "array", "items": {"type": "string"}}, "VARCHAR[]"),
        ({"type": "array", "items": {"type": "integer"}}, "BIGINT[]"),
        ({"type": "array", "items": {"type": "object"}}, "JSON"),
        ({"type": "object"}, "JSON"),
        ({}, "JSON"),
        ({"type": ["string", "integer"]}, "JSON"),
        ({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}, TIMESTAMP),
    ],
)
def test_each_json_type_has_one_column_type(prop, kind):
    assert column_type(prop) == kind


def test_a_changed_type_widens_and_never_narrows():
    assert widened("BIGINT", "DOUBLE") == widened("DOUBLE", "BIGINT") == "DOUBLE"
    assert widened("VARCHAR", "BIGINT") == "VARCHAR"  # text holds what it held
    assert widened("BIGINT", "VARCHAR") == "VARCHAR"
    assert widened("VARCHAR[]", "BIGINT[]") == widened("BIGINT", "JSON") == "JSON"
    assert widened("TIMESTAMP", TIMESTAMP) == "TIMESTAMP"  # PyPI target-duckdb's columns stay
    add, retype = plan(
        {"id": "VARCHAR", "n": "BIGINT", "gone": "VARCHAR"},
        {"ID": "VARCHAR", "n": "DOUBLE", "new": "BOOLEAN"},
    )
    assert add == {"new": "BOOLEAN"} and retype == {"n": "DOUBLE"}
