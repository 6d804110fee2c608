"""The report's work-queue table on its own: pure, so it runs on every Python, DuckDB or not."""

from __future__ import annotations

import pytest

from tap_proofpoint_tap.report.table import Column, Listing, Table, html

pytestmark = pytest.mark.fast


def test_work_queue_escapes_what_the_marts_hold():
    url = 'https://x.example/?q=<script>alert("x")</script>&a=1'
    rows = [{"priority_rank": 1, "url": url, "recipient": "<b>@x"}]
    columns = (
        Column("priority_rank", "#", "int"),
        Column("url", "URL", "url"),
        Column("recipient", "Recipient"),
    )
    table = html(Table("work-queue", "q.csv", "Queue", columns, Listing(list(rows[0]), rows), "-"))
    assert "<script>" not in table and "<b>" not in table
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;a=1" in table
    assert table.count("<a ") == 1 and 'href="q.csv"' in table  # only the CSV is a link
