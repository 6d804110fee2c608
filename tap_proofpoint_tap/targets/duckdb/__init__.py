"""target-duckdb-proofpoint: the project's DuckDB loader."""
