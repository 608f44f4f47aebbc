"""The build database: the only file runs write; readers never open it."""

from __future__ import annotations

from pathlib import Path

import duckdb

from imtetl.settings import Settings


def connect_build_db(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the build database with the staging and audit schemas."""
    settings.build_dir.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(settings.build_db))
    conn.execute((settings.sql / "staging" / "00_staging.sql").read_text(encoding="utf-8"))
    return conn


def ddl_path(settings: Settings) -> Path:
    return settings.sql / "staging" / "00_staging.sql"
