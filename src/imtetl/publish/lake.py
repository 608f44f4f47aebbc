"""Publishing on the DuckLake backend: a release is a snapshot of the lake.

Writers of the lake commit snapshot after snapshot: staging partitions, each model dbt builds.
Readers must never see one of those intermediate states, so a publish names one:

1. It runs holding the lake's build lock exclusively (imtetl.load.lake): no staging commit
   and no other build's models or publish can land while it checks.
2. The integrity gate (imtetl.publish.integrity) runs on the lake's current snapshot ``s``,
   attached read-only at that snapshot exactly as readers will attach it.
3. One transaction then adds the release's row to ``audit.releases`` (``backend`` =
   ``ducklake``, ``location`` = ``snapshot <s+1>``: the snapshot this commit creates), clears
   what was pending, and carries the commit message ``release <id>`` (the lake's own record of
   which snapshots are releases, :func:`release_snapshots`). That snapshot is the release: the
   checked state plus its own row, so each release lists the whole history up to itself.

Readers (:func:`published_snapshot`, ``imtetl query``, ``imtetl check``, BI tools) attach
the newest release's snapshot with ``SNAPSHOT_VERSION``; any earlier release stays readable
the same way for as long as its snapshot is not expired (DuckLake keeps every snapshot until
``ducklake_expire_snapshots`` is called: imtetl never calls it). A writer killed in the middle
of a commit leaves no snapshot (the catalog's transaction is PostgreSQL's), and two builds
publishing at once take the lock in turn: the later one is the newest release, and each is
whole.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import duckdb

from imtetl.load import lake
from imtetl.publish import releases as history
from imtetl.publish.integrity import IntegrityError, bi_views, check_integrity, model_tables
from imtetl.settings import Settings

BACKEND = "ducklake"
AUTHOR = "imtetl"
_MESSAGE = "release "
PUBLISHED_SCHEMAS = ("core", "marts", "audit")


@dataclass
class SnapshotRelease:
    release_id: str
    snapshot: int
    checked_snapshot: int
    tables: dict[str, int]
    seconds: float
    check_seconds: float


def _counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    tables = conn.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() AND list_contains($s, schema_name) "
        "ORDER BY ALL",
        {"s": list(PUBLISHED_SCHEMAS)},
    ).fetchall()
    return {
        f"{schema}.{table}": conn.execute(f'SELECT count(*) FROM {schema}."{table}"').fetchone()[0]
        for schema, table in tables
    }


def publish_snapshot(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    run_id: str | None = None,
) -> SnapshotRelease:
    """Check the lake's current state as readers will see it and publish it as a release
    (see the module's docstring). ``conn``: a session of the lake (imtetl.load.lake.connect)
    whose caller holds the build lock exclusively. Raises IntegrityError, publishing nothing,
    when the state is not whole."""
    started = time.perf_counter()
    catalog = lake.catalog_of(settings)
    with lake.catalog_errors(catalog, "publishing"):
        checked = lake.current_snapshot(conn)
        check_started = time.perf_counter()
        reader = lake.connect(settings, read_only=True, snapshot=checked, alias="warehouse")
        try:
            problems = check_integrity(
                reader, views=bi_views(settings.sql), tables=model_tables(settings.sql)
            )
        finally:
            reader.close()
        check_seconds = time.perf_counter() - check_started
        if problems:
            raise IntegrityError(
                f"snapshot {checked} of the lake is not whole, nothing is published (the "
                "published release stays the previous one): " + "; ".join(problems)
            )
        counts = _counts(conn)
        row = history.describe(conn, settings.warehouse, counts, incremental=True, run_id=run_id)
        row.backend = BACKEND
        row.publish_mode = "snapshot"
        snapshot = checked + 1
        row.location = f"snapshot {snapshot}"
        conn.execute("BEGIN TRANSACTION")
        try:
            history.insert(conn, history.RELEASES_TABLE, row)
            conn.execute("DELETE FROM build_state.publish_pending")
            conn.execute(
                f"CALL {lake.ALIAS}.set_commit_message(?, ?, extra_info => ?)",
                [
                    AUTHOR,
                    _MESSAGE + row.release_id,
                    json.dumps({"release_id": row.release_id, "checked_snapshot": checked}),
                ],
            )
            conn.execute("COMMIT")
        except BaseException:
            lake.rollback(conn)
            raise
        actual = release_snapshots(conn).get(row.release_id)
        if actual is not None and actual != snapshot:
            # a writer that ignores the build lock committed in between: record where it is
            conn.execute(
                "UPDATE audit.releases SET location = ? WHERE release_id = ?",
                [f"snapshot {actual}", row.release_id],
            )
            snapshot = actual
    counts[history.RELEASES_TABLE] = counts.get(history.RELEASES_TABLE, 0) + 1
    return SnapshotRelease(
        row.release_id,
        snapshot,
        checked,
        counts,
        round(time.perf_counter() - started, 3),
        round(check_seconds, 3),
    )


def release_snapshots(conn: duckdb.DuckDBPyConnection, alias: str | None = None) -> dict[str, int]:
    """release id -> its snapshot, from the lake's own snapshot list (commit messages)."""
    alias = alias or conn.execute("SELECT current_database()").fetchone()[0]
    rows = conn.execute(
        f"SELECT snapshot_id, commit_message FROM {alias}.snapshots() "
        "WHERE author = ? AND starts_with(commit_message, ?)",
        [AUTHOR, _MESSAGE],
    ).fetchall()
    return {message.removeprefix(_MESSAGE): snapshot for snapshot, message in rows}


def latest(settings: Settings) -> tuple[str, int] | None:
    """The newest release (id, snapshot), or None when the lake has none yet."""
    conn = lake.connect(settings, read_only=True)
    try:
        releases = release_snapshots(conn, lake.ALIAS)
    finally:
        conn.close()
    if not releases:
        return None
    release_id = max(releases)
    return release_id, releases[release_id]


def connect_release(settings: Settings, snapshot: int) -> duckdb.DuckDBPyConnection:
    """A read-only session of the lake at ``snapshot``, attached as ``warehouse`` (current)."""
    return lake.connect(settings, read_only=True, snapshot=snapshot, alias="warehouse")
