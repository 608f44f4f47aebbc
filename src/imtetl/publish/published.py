"""The published warehouse as readers open it, whichever the backend.

- DuckDB file: the published file (or a kept release file), opened read-only.
- DuckLake: the lake attached read-only at the snapshot of the newest release (or of the
  release asked for), as ``warehouse``.

Either way the connection's current database is the published state: ``core``, ``marts``,
``bi`` and ``audit`` resolve without a database name. :func:`open_published` is what
``imtetl check``, ``docs``, ``query``, ``quarantine``, the report and the landing sensor read
through; ``audit.releases`` at the latest snapshot lists the releases (:func:`history`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from imtetl.publish import releases as file_releases
from imtetl.publish.releases import ReleaseNotFound, ReleaseRow
from imtetl.settings import Settings


@dataclass(frozen=True)
class Target:
    """What a reader opens: a file, or a lake snapshot."""

    label: str
    path: Path | None = None
    snapshot: int | None = None
    release: ReleaseRow | None = None


class NotPublished(LookupError):
    """Nothing is published yet (or the warehouse cannot be found)."""


def describe(settings: Settings) -> str:
    """How messages name the published warehouse."""
    if settings.backend == "ducklake":
        from imtetl.load.lake import catalog_of

        return f"the DuckLake {catalog_of(settings).label()} (data {settings.data_path})"
    return str(settings.warehouse)


def history(settings: Settings) -> list[ReleaseRow]:
    """``audit.releases``, newest first (the lake's latest snapshot, or the published file)."""
    if settings.backend != "ducklake":
        return file_releases.history(settings.warehouse)
    from imtetl.load import lake

    conn = lake.connect(settings, read_only=True)
    try:
        return file_releases.read_history(conn, describe(settings))
    finally:
        conn.close()


def resolve(settings: Settings, wanted: str | None = None) -> Target:
    """The release ``wanted`` (an id, a unique prefix, ``latest``; None: what readers see
    now) as something to open. Raises :class:`ReleaseNotFound` / :class:`NotPublished`."""
    if settings.backend != "ducklake":
        if wanted is None:
            if not settings.warehouse.exists():
                raise NotPublished(f"no warehouse at {settings.warehouse}: run `imtetl build`")
            return Target(str(settings.warehouse), path=settings.warehouse)
        row, path = file_releases.resolve(settings.warehouse, wanted)
        return Target(f"release {row.release_id}", path=path, release=row)
    from imtetl.load import lake
    from imtetl.publish.lake import release_snapshots

    conn = lake.connect(settings, read_only=True)
    try:
        snapshots = release_snapshots(conn, lake.ALIAS)
        rows = file_releases.read_history(conn, describe(settings)) if snapshots else []
    finally:
        conn.close()
    if not snapshots:
        raise NotPublished(f"{describe(settings)} has no release yet: run `imtetl build`")
    if wanted in (None, "latest"):
        release_id = max(snapshots)
    else:
        matches = [r for r in snapshots if r == wanted] or [
            r for r in snapshots if r.startswith(wanted)
        ]
        if not matches:
            raise ReleaseNotFound(
                f"no release {wanted!r} in {describe(settings)}; releases: "
                + ", ".join(sorted(snapshots, reverse=True))
            )
        if len(matches) > 1:
            raise ReleaseNotFound(
                f"release {wanted!r} is ambiguous: {', '.join(sorted(matches))} start with it"
            )
        release_id = matches[0]
    row = next((r for r in rows if r.release_id == release_id), None)
    snapshot = snapshots[release_id]
    return Target(f"release {release_id} (snapshot {snapshot})", snapshot=snapshot, release=row)


def connect(settings: Settings, target: Target) -> duckdb.DuckDBPyConnection:
    """A read-only connection to ``target`` whose current database is that state."""
    if target.path is not None:
        return file_releases.connect_release(target.path)
    from imtetl.publish.lake import connect_release

    return connect_release(settings, target.snapshot)


@contextmanager
def open_published(
    settings: Settings, release: str | None = None
) -> Iterator[tuple[duckdb.DuckDBPyConnection, Target]]:
    """Open what readers see now (or ``release``), read-only; closed on exit."""
    target = resolve(settings, release)
    conn = connect(settings, target)
    try:
        yield conn, target
    finally:
        conn.close()


def attach_statement(settings: Settings, target: Target, alias: str = "warehouse") -> str:
    """The ATTACH a DuckDB client runs to read ``target`` (no password in it: libpq reads
    PGPASSWORD or ~/.pgpass)."""
    if target.path is not None:
        return f"ATTACH '{target.path}' AS {alias} (READ_ONLY);"
    from imtetl.load import lake

    sql = lake.attach_sql(
        settings, lake.catalog_of(settings), alias=alias, read_only=True, snapshot=target.snapshot
    )
    return f"INSTALL ducklake; INSTALL postgres; {sql};"
