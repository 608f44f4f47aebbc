"""The build database: the only file runs write; readers never open it."""

from __future__ import annotations

import fcntl
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from imtetl import contract
from imtetl.settings import Settings


def connect_build_db(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the build database with the staging and audit schemas: the
    DuckDB file ``.build/build.duckdb``, or on the DuckLake backend (IMTETL_CATALOG) a
    session with the lake attached and current (imtetl.load.lake.connect). Either way the
    connection's current database holds ``staging``, ``audit``, ``build_state`` and the
    models, so what writes them does not know which backend it writes."""
    if settings.backend == "ducklake":
        return _connect_lake(settings)
    settings.build_dir.mkdir(parents=True, exist_ok=True)
    # DuckDB would otherwise cache up to 80% of RAM: a bounded buffer pool that spills to
    # disk keeps a national-scale build's memory flat (IMTETL_DUCKDB_MEMORY, e.g. "4GB").
    conn = duckdb.connect(
        str(settings.build_db),
        config={
            "memory_limit": settings.duckdb_memory,
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


def _connect_lake(settings: Settings) -> duckdb.DuckDBPyConnection:
    from imtetl.load import lake

    conn = lake.connect(settings)
    text = lake_staging_ddl(settings.sql)
    applied = (settings.catalog, settings.data_path, hash(text))
    if applied not in _APPLIED:
        catalog = lake.catalog_of(settings)

        digest = hashlib.sha256(text.encode()).hexdigest()

        def apply() -> None:
            # Every catalog change (even a repeated COMMENT ON) is a snapshot that concurrent
            # writers' commits conflict with: the DDL runs only when its digest is new.
            tables = {
                f"{schema}.{name}"
                for schema, name in conn.execute(
                    "SELECT schema_name, table_name FROM duckdb_tables() "
                    "WHERE database_name = current_database()"
                ).fetchall()
            }
            if (
                _DDL_TABLE in tables
                and conn.execute(
                    f"SELECT count(*) FROM {_DDL_TABLE} WHERE digest = ?", [digest]
                ).fetchone()[0]
            ):
                return
            conn.execute("BEGIN TRANSACTION")
            try:
                # an existing lake keeps its partitioning (setting it again is a change too)
                conn.execute(_without_partitioning(text) if tables else text)
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {_DDL_TABLE} (digest VARCHAR, applied TIMESTAMP)"
                )
                conn.execute(f"DELETE FROM {_DDL_TABLE}")
                conn.execute(f"INSERT INTO {_DDL_TABLE} VALUES (?, now())", [digest])
                conn.execute("COMMIT")
            except BaseException:
                lake.rollback(conn)
                raise

        try:
            with lake.catalog_errors(catalog, "creating the lake's staging and audit tables"):
                lake.retry(apply, what="ddl")
        except BaseException:
            conn.close()
            raise
        _APPLIED.add(applied)
    return conn


#: The digest of the DDL a lake was last given.
_DDL_TABLE = "build_state.ddl"


def lake_staging_ddl(sql_dir: Path) -> str:
    """:func:`staging_ddl` for a DuckLake (imtetl.load.lake.lake_ddl), each dataset's
    staging table partitioned by school and year."""
    from imtetl.load import lake

    tables = [f"staging.{name}" for name in contract.CONTRACT.names]
    return lake.lake_ddl(staging_ddl(sql_dir)) + lake.staging_partitioning(tables) + "\n"


def _without_partitioning(text: str) -> str:
    """The DDL without its SET PARTITIONED BY: an existing lake keeps its partitioning
    (setting it again would be a catalog change every writer's commit conflicts with)."""
    return "\n".join(line for line in text.splitlines() if "SET PARTITIONED BY" not in line)


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
