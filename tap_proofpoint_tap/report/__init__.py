"""``proofpoint-tap-report``: the click-exposure report, read from the dbt marts in DuckDB.

One self-contained HTML page (charts drawn by the browser from an embedded Vega bundle, so it
opens offline) and one PNG per chart (drawn by vl-convert, no browser needed).
"""
