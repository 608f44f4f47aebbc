"""The build database: the only file runs write; readers never open it."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from imtetl.settings import Settings

#: The build connection's DuckDB memory limit, unless IMTETL_DUCKDB_MEMORY says otherwise.
DEFAULT_MEMORY_LIMIT = "1536MB"


def connect_build_db(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the build database with the staging and audit schemas."""
    settings.build_dir.mkdir(parents=True, exist_ok=True)
    # DuckDB would otherwise cache up to 80% of RAM: a bounded buffer pool that spills to
    # disk keeps a national-scale build's memory flat (IMTETL_DUCKDB_MEMORY, e.g. "4GB").
    conn = duckdb.connect(
        str(settings.build_db),
        config={
            "memory_limit": os.environ.get("IMTETL_DUCKDB_MEMORY", DEFAULT_MEMORY_LIMIT),
            "temp_directory": str(settings.build_dir / "spill"),
        },
    )
    conn.execute((settings.sql / "staging" / "00_staging.sql").read_text(encoding="utf-8"))
    return conn


def ddl_path(settings: Settings) -> Path:
    return settings.sql / "staging" / "00_staging.sql"
