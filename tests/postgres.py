"""The PostgreSQL server of TEST_POSTGRES_URL (.ci/run starts one): the only test module that
imports a database driver, for the tests that load into PostgreSQL."""

from __future__ import annotations

import os

import psycopg

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def connect() -> psycopg.Connection:
    """An autocommit connection; ``psycopg.OperationalError`` when no server answers."""
    return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)


def postgres_env(schema: str) -> dict[str, str]:
    """target-postgres and dbt-postgres settings for ``schema`` on the TEST_POSTGRES_URL server."""
    info = psycopg.conninfo.conninfo_to_dict(POSTGRES_URL)
    server = {
        "HOST": info.get("host", "127.0.0.1"),
        "PORT": str(info.get("port", 5432)),
        "USER": info.get("user", "postgres"),
        "PASSWORD": info.get("password", ""),
    }
    return {
        **{f"TARGET_POSTGRES_{k}": v for k, v in server.items()},
        "TARGET_POSTGRES_DATABASE": info.get("dbname", "postgres"),
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
        **{f"DBT_POSTGRES_{k}": v for k, v in server.items()},
        "DBT_POSTGRES_DBNAME": info.get("dbname", "postgres"),
        "DBT_POSTGRES_SCHEMA": f"{schema}_analytics",
        "DBT_SOURCE_SCHEMA": schema,
    }
