"""Atomic publish of the warehouse.

Runs never write the published file. A release is built beside it under a temporary name
(tables copied from the build database, comments and views included), checkpointed, fsynced,
then renamed over the published path. On POSIX a rename is atomic: a reader that opened the
old file keeps reading the old state until it reconnects, a new reader gets the new one, and
nobody ever waits on a lock — DuckDB read-only readers and this writer never share a file.
A run killed before the rename leaves the published file untouched.

Before the rename the release is checked as readers will open it (read-only, see
``imtetl.publish.integrity``): a release that is not whole is never published. DuckDB replays
any ``<file>.wal`` found beside a database it opens, even a WAL left by another database that
once had that name, so a stale ``imt.duckdb.wal`` would change what readers see; nothing
here ever writes the published file, so such a WAL is removed (and the release itself must
leave no WAL behind). Releases left half-written by a killed run are removed by the next run.

Each release records itself in its own ``audit.releases`` (with the whole history before it)
and, once checked, is kept as a read-only file for time travel, ``releases/<release_id>.duckdb``
beside the published file (a hard link of the checked release, made before the rename; see
``imtetl.publish.releases``); the last ``keep`` are kept, older ones deleted after the rename.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from imtetl.publish import releases as history
from imtetl.publish.integrity import IntegrityError, bi_views, check_file, model_tables
from imtetl.publish.releases import quote as _quote
from imtetl.settings import Settings
from imtetl.validate.evaluate import school_years_filter

PUBLISHED_SCHEMAS = ("core", "marts", "audit")
#: The views of the build database a release recreates (over its own copies of the tables).
VIEW_SCHEMAS = ("bi",)
_TMP_SUFFIX = ".publishing"


@dataclass
class Release:
    path: Path
    tables: dict[str, int]
    bytes: int
    seconds: float
    #: started from a copy of the previous release, facts updated by school-year
    incremental: bool = False
    #: its id in audit.releases
    release_id: str | None = None
    #: the file it is kept as (None: none kept), how it was made (hardlink, reflink, copy)
    #: and what that took
    kept: Path | None = None
    kept_by: str | None = None
    keep_seconds: float = 0.0
    #: release files deleted after it (beyond the last ``keep``)
    pruned: list[Path] | None = None


def clean_stale_releases(warehouse: Path) -> list[Path]:
    """Remove half-written releases (and their WAL) left by killed runs: those whose
    process is gone, or this process's own."""
    stale = []
    for path in sorted(warehouse.parent.glob(f".{warehouse.name}.*{_TMP_SUFFIX}*")):
        pid = path.name[len(warehouse.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and history.pid_alive(int(pid)):
            continue  # another live process's release
        path.unlink(missing_ok=True)
        stale.append(path)
    return stale + history.clean_stale(warehouse)


def stale_wal(warehouse: Path) -> Path | None:
    """A WAL beside the published file: never written by a publish, so always stale."""
    wal = warehouse.with_name(warehouse.name + ".wal")
    return wal if wal.exists() else None


def remove_stale_wal(warehouse: Path) -> Path | None:
    """Remove a stale WAL beside the published file (see the module's docstring)."""
    wal = stale_wal(warehouse)
    if wal is not None:
        wal.unlink(missing_ok=True)
    return wal


def recover(warehouse: Path) -> list[Path]:
    """What a killed run may have left beside the published file, removed: half-written
    releases and a stale WAL. Call it holding the build lock."""
    removed = clean_stale_releases(warehouse)
    if (wal := remove_stale_wal(warehouse)) is not None:
        removed.append(wal)
    return removed


def publish_release(
    build: duckdb.DuckDBPyConnection,
    warehouse: Path,
    *,
    views_sql: list[Path] | None = None,
    sql_dir: Path | None = None,
    keep: int | None = None,
    run_id: str | None = None,
) -> Release:
    """Copy core, marts and audit from the open build database into a new release, recreate
    the build database's bi views in it (their SQL names no database, so they read the
    release's tables) with their comments, and rename it over ``warehouse``. ``views_sql``
    files, if any, are run inside the release after that. The release must hold every model
    of the dbt project under ``sql_dir`` (default: the settings' sql/) before it is renamed.

    When the published file is the one the last publish wrote, the release starts as a copy
    of it (a file copy, at disk speed) and the incremental facts (build_state.models) get
    only the school-years that changed since (build_state.publish_pending); the other tables
    are copied whole. Else every table is copied into a new file.

    The release adds its row to ``audit.releases`` (written into the release, then into the
    build database once it is out) and is kept as ``releases/<release_id>.duckdb``; the last
    ``keep`` (default: the settings', IMTETL_KEEP_RELEASES) release files are kept. ``run_id``:
    the pipeline run publishing it, recorded in its row."""
    started = time.perf_counter()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_releases(warehouse)
    if keep is None:
        keep = Settings.from_env().keep_releases
    history.adopt_history(build, warehouse)
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
    views = build.execute(
        "SELECT schema_name, view_name, sql, comment FROM duckdb_views() "
        "WHERE database_name = $db AND NOT internal AND list_contains($schemas, schema_name) "
        "ORDER BY schema_name, view_name",
        {"db": source, "schemas": list(VIEW_SCHEMAS)},
    ).fetchall()
    view_columns = build.execute(
        "SELECT c.schema_name, c.table_name, c.column_name, c.comment FROM duckdb_columns() c "
        "JOIN duckdb_views() v ON v.database_name = c.database_name "
        "AND v.schema_name = c.schema_name AND v.view_name = c.table_name "
        "WHERE c.database_name = $db AND list_contains($schemas, c.schema_name) "
        "AND c.comment IS NOT NULL ORDER BY ALL",
        {"db": source, "schemas": list(VIEW_SCHEMAS)},
    ).fetchall()
    deltas = _deltas(build, warehouse)
    counts: dict[str, int] = {}
    if deltas is not None:
        shutil.copyfile(warehouse, tmp)
    build.execute(f"ATTACH {_quote(str(tmp))} AS release")
    try:
        published = {
            (schema, table)
            for schema, table in build.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() "
                "WHERE database_name = 'release'"
            ).fetchall()
        }
        for schema in PUBLISHED_SCHEMAS:
            build.execute(f"CREATE SCHEMA IF NOT EXISTS release.{schema}")
        for schema, table in published - {(s, t) for s, t, _ in tables}:
            build.execute(f'DROP TABLE release.{schema}."{table}"')  # gone from the build
        copied = set()
        for schema, table, comment in tables:
            name = f"{schema}.{table}"
            target = f'release.{schema}."{table}"'
            scope = None if deltas is None else deltas.get(name)
            if scope is not None and (schema, table) in published:
                if scope:  # only the school-years that changed
                    where, params = school_years_filter(scope)
                    build.execute(f"DELETE FROM {target} WHERE {where}", params)
                    build.execute(
                        f'INSERT INTO {target} SELECT * FROM {source}.{schema}."{table}" '
                        f"WHERE {where}",
                        params,
                    )
            else:
                build.execute(
                    f'CREATE OR REPLACE TABLE {target} AS FROM {source}.{schema}."{table}"'
                )
                copied.add((schema, table))
                if comment:
                    build.execute(f"COMMENT ON TABLE {target} IS {_quote(comment)}")
            counts[name] = build.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
        row = history.describe(
            build, warehouse, counts, incremental=deltas is not None, run_id=run_id
        )
        history.insert(build, f"release.{history.RELEASES_TABLE}", row)
        counts[history.RELEASES_TABLE] = build.execute(
            f"SELECT count(*) FROM release.{history.RELEASES_TABLE}"
        ).fetchone()[0]
        for schema, table, column, comment in columns:
            if (schema, table) in copied:
                build.execute(
                    f'COMMENT ON COLUMN release.{schema}."{table}"."{column}" IS {_quote(comment)}'
                )
        build.execute("USE release")
        try:
            _recreate_views(build, views, view_columns)
            for path in views_sql or []:
                build.execute(path.read_text(encoding="utf-8"))
        finally:
            build.execute(f"USE {source}")
        build.execute("CHECKPOINT release")
    except BaseException:
        build.execute("DETACH release")
        tmp.unlink(missing_ok=True)
        raise
    build.execute("DETACH release")
    try:
        if tmp.with_name(tmp.name + ".wal").exists():
            raise IntegrityError(f"the release {tmp} left a WAL after its checkpoint")
        # every model of the dbt project (``sql_dir``, default the settings'), not merely
        # what the build holds: a table or view missing from the build fails the publish
        project = sql_dir or Settings.from_env().sql
        if problems := check_file(tmp, views=bi_views(project), tables=model_tables(project)):
            raise IntegrityError(
                "the new release is not whole, the published warehouse is left as it was: "
                + "; ".join(problems)
            )
        history.fsync(tmp)
        kept, kept_by, keep_started = None, None, time.perf_counter()
        if keep > 0:  # whole and checked: kept before it is published (never half-written)
            kept = history.release_file(warehouse, row.release_id)
            kept_by = history.keep_file(tmp, kept)
        keep_seconds = time.perf_counter() - keep_started
    except BaseException:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
        raise
    remove_stale_wal(warehouse)
    os.replace(tmp, warehouse)
    history.fsync(warehouse.parent)
    _remember(build, warehouse, row)
    listed = {r for (r,) in build.execute("SELECT release_id FROM audit.releases").fetchall()}
    pruned = history.prune(warehouse, listed, keep)
    return Release(
        warehouse,
        counts,
        warehouse.stat().st_size,
        round(time.perf_counter() - started, 3),
        incremental=deltas is not None,
        release_id=row.release_id,
        kept=kept,
        kept_by=kept_by,
        keep_seconds=round(keep_seconds, 6),
        pruned=pruned,
    )


def _recreate_views(
    release: duckdb.DuckDBPyConnection, views: list[tuple], columns: list[tuple]
) -> None:
    """Create ``views`` (schema, name, sql, comment) in the current database (the release),
    dropping its views of those schemas that the build no longer has; a view over another
    view waits for it."""
    wanted = {(schema, name) for schema, name, _, _ in views}
    for schema in VIEW_SCHEMAS:
        release.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for schema, name in release.execute(
        "SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = "
        "current_database() AND NOT internal AND list_contains($schemas, schema_name)",
        {"schemas": list(VIEW_SCHEMAS)},
    ).fetchall():
        if (schema, name) not in wanted:
            release.execute(f'DROP VIEW {schema}."{name}"')
    pending = list(views)
    while pending:
        failed, error = [], None
        for view in pending:
            schema, name, sql, comment = view
            try:
                release.execute(sql.replace("CREATE VIEW", "CREATE OR REPLACE VIEW", 1))
            except duckdb.CatalogException as exc:  # it reads a view not created yet
                failed.append(view)
                error = exc
                continue
            if comment:
                release.execute(f'COMMENT ON VIEW {schema}."{name}" IS {_quote(comment)}')
        if len(failed) == len(pending):
            raise IntegrityError(f"the bi views cannot be recreated in the release: {error}")
        pending = failed
    for schema, name, column, comment in columns:
        release.execute(f'COMMENT ON COLUMN {schema}."{name}"."{column}" IS {_quote(comment)}')


def _identity(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _deltas(build: duckdb.DuckDBPyConnection, warehouse: Path) -> dict[str, list] | None:
    """What each core fact needs since the last publish: ``[]`` nothing, school-years to
    replace, or absent (copy whole). None: the published file is not the last one written
    here (new, replaced by hand, or the last publish was not recorded), so copy everything."""
    if not warehouse.exists():
        return None
    known = build.execute(
        "SELECT inode, size, mtime_ns FROM build_state.publication WHERE path = ?",
        [str(warehouse.resolve())],
    ).fetchone()
    if known is None or tuple(known) != _identity(warehouse):
        return None
    incremental = [
        row[0] for row in build.execute("SELECT table_name FROM build_state.models").fetchall()
    ]
    deltas: dict[str, list] = {table: [] for table in incremental}
    for table, school, year, whole in build.execute(
        "SELECT DISTINCT table_name, school_code, academic_year, whole "
        "FROM build_state.publish_pending ORDER BY ALL"
    ).fetchall():
        if table not in deltas:
            continue
        if whole:
            deltas[table] = None  # type: ignore[assignment]
        elif deltas[table] is not None:
            deltas[table].append((school, year))
    return {table: scope for table, scope in deltas.items() if scope is not None}


def _remember(build: duckdb.DuckDBPyConnection, warehouse: Path, row: history.ReleaseRow) -> None:
    """The release is out: what was pending is published, this file is the one to start the
    next release from, and the release joins the build database's history."""
    inode, size, mtime = _identity(warehouse)
    build.execute("BEGIN TRANSACTION")
    try:
        build.execute("DELETE FROM build_state.publish_pending")
        build.execute("DELETE FROM build_state.publication")
        build.execute(
            "INSERT INTO build_state.publication VALUES (?, ?, ?, ?, now())",
            [str(warehouse.resolve()), inode, size, mtime],
        )
        history.insert(build, history.RELEASES_TABLE, row)
        build.execute("COMMIT")
    except BaseException:
        build.execute("ROLLBACK")
        raise
