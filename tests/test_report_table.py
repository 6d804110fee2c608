"""The report's work-queue table on its own: pure, so it runs on every Python, DuckDB or not."""

from __future__ import annotations

import pytest

from tap_proofpoint_tap.report.table import work_queue_table

pytestmark = pytest.mark.fast


def test_work_queue_escapes_what_the_marts_hold():
    url = 'https://x.example/?q=<script>alert("x")</script>&a=1'
    table = work_queue_table([{"priority_rank": 1, "url": url, "recipient": "<b>@x"}], total=1)
    assert "<script>" not in table and "<b>" not in table
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;a=1" in table
    assert "<a " not in table  # a malicious URL is never made clickable
