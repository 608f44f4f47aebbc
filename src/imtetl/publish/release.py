"""Atomic publish of the warehouse.

Runs never write the published file. A release is built beside it under a temporary name
(tables copied from the build database, comments and views included), checkpointed, fsynced,
then renamed over the published path. On POSIX a rename is atomic: a reader that opened the
old file keeps reading the old state until it reconnects, a new reader gets the new one, and
nobody ever waits on a lock — DuckDB read-only readers and this writer never share a file.
A run killed before the rename leaves the published file untouched.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

PUBLISHED_SCHEMAS = ("core", "marts", "audit")
_TMP_SUFFIX = ".publishing"


@dataclass
class Release:
    path: Path
    tables: dict[str, int]
    bytes: int
    seconds: float


def _quote(text: str | None) -> str:
    return "NULL" if text is None else "'" + text.replace("'", "''") + "'"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def clean_stale_releases(warehouse: Path) -> list[Path]:
    """Remove half-written releases left by a killed run."""
    stale = sorted(warehouse.parent.glob(f".{warehouse.name}.*{_TMP_SUFFIX}*"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def publish_release(
    build: duckdb.DuckDBPyConnection,
    warehouse: Path,
    *,
    views_sql: list[Path] | None = None,
) -> Release:
    """Copy core, marts and audit from the open build database into a new release and
    rename it over ``warehouse``. ``views_sql`` files are run inside the release (BI views)."""
    started = time.perf_counter()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_releases(warehouse)
    tmp = warehouse.parent / f".{warehouse.name}.{os.getpid()}.{time.time_ns()}{_TMP_SUFFIX}"
    source = build.execute("SELECT current_database()").fetchone()[0]
    tables = build.execute(
        "SELECT schema_name, table_name, comment FROM duckdb_tables() "
        "WHERE database_name = $db AND schema_name IN ('core', 'marts', 'audit') "
        "ORDER BY schema_name, table_name",
        {"db": source},
    ).fetchall()
    columns = build.execute(
        "SELECT schema_name, table_name, column_name, comment FROM duckdb_columns() "
        "WHERE database_name = $db AND schema_name IN ('core', 'marts', 'audit') "
        "AND comment IS NOT NULL ORDER BY schema_name, table_name, column_index",
        {"db": source},
    ).fetchall()
    counts: dict[str, int] = {}
    build.execute(f"ATTACH {_quote(str(tmp))} AS release")
    try:
        for schema in PUBLISHED_SCHEMAS:
            build.execute(f"CREATE SCHEMA release.{schema}")
        for schema, table, comment in tables:
            build.execute(
                f'CREATE TABLE release.{schema}."{table}" AS FROM {source}.{schema}."{table}"'
            )
            if comment:
                build.execute(f'COMMENT ON TABLE release.{schema}."{table}" IS {_quote(comment)}')
            counts[f"{schema}.{table}"] = build.execute(
                f'SELECT count(*) FROM release.{schema}."{table}"'
            ).fetchone()[0]
        for schema, table, column, comment in columns:
            build.execute(
                f'COMMENT ON COLUMN release.{schema}."{table}"."{column}" IS {_quote(comment)}'
            )
        if views_sql:
            build.execute("USE release")
            try:
                for path in views_sql:
                    build.execute(path.read_text(encoding="utf-8"))
            finally:
                build.execute(f"USE {source}")
        build.execute("CHECKPOINT release")
    except BaseException:
        build.execute("DETACH release")
        tmp.unlink(missing_ok=True)
        raise
    build.execute("DETACH release")
    _fsync(tmp)
    os.replace(tmp, warehouse)
    _fsync(warehouse.parent)
    return Release(
        warehouse, counts, warehouse.stat().st_size, round(time.perf_counter() - started, 3)
    )
