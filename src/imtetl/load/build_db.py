"""The build database: the only file runs write; readers never open it."""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from imtetl import contract
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
    text = staging_ddl(settings.sql)
    # The DDL is idempotent, but ~40 statements: a process applies it once per database file
    # and DDL text (a build opens the database once per step), unless its last table is gone.
    applied = (str(settings.build_db), hash(text))
    last = re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)\.(\w+)", text)[-1]
    if (
        applied not in _APPLIED
        or not conn.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = ?",
            list(last),
        ).fetchone()[0]
    ):
        conn.execute(text)
        _APPLIED.add(applied)
    return conn


_APPLIED: set[tuple] = set()


def ddl_path(settings: Settings) -> Path:
    return settings.sql / "staging" / "00_staging.sql"


def staging_ddl(sql_dir: Path) -> str:
    """The build database's DDL: ``sql/staging/00_staging.sql`` (schemas, reference, audit
    and bookkeeping tables), then the three canonical staging tables and their comments,
    generated from the contract (imtetl.contract.staging_ddl). Idempotent."""
    text = (sql_dir / "staging" / "00_staging.sql").read_text(encoding="utf-8")
    return text.rstrip() + "\n\n-- Generated from imtetl.contract\n" + contract.staging_ddl()


@contextmanager
def build_lock(settings: Settings) -> Iterator[None]:
    """Hold the build database's lock (``.build/build.lock``, the kernel's: a killed holder
    releases it with its process). DuckDB admits one writing process per file, so every
    writer (a Dagster step, the CLI, ``imtetl dbt``) waits here instead of failing on DuckDB's
    lock."""
    settings.build_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.build_dir / "build.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
