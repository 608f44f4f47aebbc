"""Releases for time travel: ``audit.releases`` and the last releases kept as files.

Every publish is a release. Its row in ``audit.releases`` (id, when, what changed, row
counts, where the backend keeps it) is written into the release itself before it is checked
and renamed over the published file, so each release carries the whole history up to
itself; the build database keeps the same history (``audit.releases`` there, written once
the release is out) and takes back any row a killed run published without recording it.

The DuckDB-file backend (``backend = 'duckdb_file'``) keeps the last ``IMTETL_KEEP_RELEASES``
releases as read-only files, ``<warehouse folder>/releases/<release_id>.duckdb``. A release
file is a hard link of the release just checked (the published file and it share one inode,
which no one ever writes: each publish renames a new file over the published path), else a
reflink, else a copy; it is made under a temporary name and renamed, so a release file is
always whole. It is made before the release is renamed over the published path: a run killed
in between leaves a whole file that no ``audit.releases`` lists, which the next publish
deletes. A DuckLake backend records its snapshot in ``location`` and its own ``backend``.

Release ids are ``<UTC yyyymmddThhmmssZ>-<6 hex>``: they sort in publish order (an id is
never below the previous one, even if the clock goes back), say when the figures were
published (the board's March figures are a ``202603…`` release), are unique across copies of
a warehouse (a test copy and production never share an id for different contents), and are
safe file names.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

BACKEND = "duckdb_file"
RELEASES_TABLE = "audit.releases"
_ID_TIME = "%Y%m%dT%H%M%SZ"
_TMP_SUFFIX = ".publishing"
#: Linux's FICLONE ioctl: a copy-on-write clone of a whole file (btrfs, XFS, bcachefs…).
_FICLONE = 0x40049409
#: Tables named in a release's summary before "and N more".
_SUMMARY_TABLES = 6


class ReleaseNotFound(LookupError):
    """No such release, or it is no longer kept as a file: the message says which exist."""


def releases_dir(warehouse: Path) -> Path:
    """Where the last releases of ``warehouse`` are kept (beside it: one filesystem)."""
    return warehouse.parent / "releases"


def release_file(warehouse: Path, release_id: str) -> Path:
    return releases_dir(warehouse) / f"{release_id}.duckdb"


def quote(text: str | None) -> str:
    """A SQL string literal (NULL for None)."""
    return "NULL" if text is None else "'" + text.replace("'", "''") + "'"


def fsync(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_release_id(now: datetime, previous: str | None, salt: str) -> str:
    """An id that sorts after ``previous``: the UTC time (one second later than the
    previous id's when the clock has not moved past it) and 6 hex digits of ``salt``."""
    stamp = now.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    if previous:
        before = datetime.strptime(previous.split("-", 1)[0], _ID_TIME)
        stamp = max(stamp, before + timedelta(seconds=1))
    digest = hashlib.sha256(f"{previous}|{salt}".encode()).hexdigest()[:6]
    return f"{stamp.strftime(_ID_TIME)}-{digest}"


def _has_releases(conn: duckdb.DuckDBPyConnection, database: str) -> bool:
    return bool(
        conn.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? "
            "AND schema_name = 'audit' AND table_name = 'releases'",
            [database],
        ).fetchone()[0]
    )


def adopt_history(build: duckdb.DuckDBPyConnection, warehouse: Path) -> int:
    """Rows of the published file's ``audit.releases`` that the build database lacks (a run
    killed after its rename, a build database rebuilt from scratch), added to it. Returns
    how many; an unreadable published file adds none."""
    if not warehouse.exists():
        return 0
    alias = "imtetl_published_history"
    try:
        build.execute(f"ATTACH {quote(str(warehouse))} AS {alias} (READ_ONLY)")
    except duckdb.Error:
        return 0
    try:
        if not _has_releases(build, alias):
            return 0
        mine = {
            name
            for (name,) in build.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = "
                "current_database() AND schema_name = 'audit' AND table_name = 'releases'"
            ).fetchall()
        }
        theirs = [
            name
            for (name,) in build.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = ? "
                "AND schema_name = 'audit' AND table_name = 'releases' ORDER BY column_index",
                [alias],
            ).fetchall()
            if name in mine
        ]
        names = ", ".join(f'"{n}"' for n in theirs)
        before = build.execute(f"SELECT count(*) FROM {RELEASES_TABLE}").fetchone()[0]
        build.execute(
            f"INSERT INTO {RELEASES_TABLE} ({names}) SELECT {names} FROM {alias}.audit.releases "
            f"WHERE release_id NOT IN (SELECT release_id FROM {RELEASES_TABLE})"
        )
        return build.execute(f"SELECT count(*) FROM {RELEASES_TABLE}").fetchone()[0] - before
    except duckdb.Error:
        return 0
    finally:
        build.execute(f"DETACH {alias}")


@dataclass
class ReleaseRow:
    release_id: str
    published_at: datetime
    backend: str
    location: str
    previous_release_id: str | None
    publish_mode: str
    summary: str
    changes: dict
    fact_rows: dict[str, int]
    table_rows: dict[str, int]
    run_id: str | None = None

    def values(self) -> list:
        return [
            self.release_id, self.published_at, self.backend, self.location,
            self.previous_release_id, self.publish_mode, self.summary,
            json.dumps(self.changes, sort_keys=True), json.dumps(self.fact_rows, sort_keys=True),
            json.dumps(self.table_rows, sort_keys=True), self.run_id,
        ]  # fmt: skip


COLUMNS = (
    "release_id", "published_at", "backend", "location", "previous_release_id", "publish_mode",
    "summary", "changes", "fact_rows", "table_rows", "run_id",
)  # fmt: skip


def _previous(build: duckdb.DuckDBPyConnection) -> tuple[str | None, dict[str, int]]:
    row = build.execute(
        f"SELECT release_id, table_rows FROM {RELEASES_TABLE} ORDER BY release_id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None, {}
    return row[0], json.loads(row[1]) if row[1] else {}


def describe(
    build: duckdb.DuckDBPyConnection,
    warehouse: Path,
    counts: dict[str, int],
    *,
    incremental: bool,
    run_id: str | None = None,
    now: datetime | None = None,
) -> ReleaseRow:
    """The row of the release being made from ``build`` with these row counts: what changed
    since the previous release (``build_state.publish_pending``: the school-years updated or
    the facts rebuilt whole; and the tables whose row counts changed)."""
    now = now or datetime.now(UTC)
    previous, before = _previous(build)
    facts: dict[str, dict] = {}
    for table, school, year, whole in build.execute(
        "SELECT DISTINCT table_name, school_code, academic_year, whole "
        "FROM build_state.publish_pending ORDER BY ALL"
    ).fetchall():
        fact = facts.setdefault(table, {"rebuilt_whole": False, "school_years": []})
        if whole:
            fact["rebuilt_whole"] = True
        else:
            label = f"{school} {year if year is not None else 'all'}"
            if label not in fact["school_years"]:
                fact["school_years"].append(label)
    for fact in facts.values():
        if fact["rebuilt_whole"]:
            fact["school_years"] = []
    rows = {name: n for name, n in sorted(counts.items()) if name != RELEASES_TABLE}
    changed = {
        name: [before[name], n] for name, n in rows.items() if name in before and before[name] != n
    }
    added = sorted(set(rows) - set(before)) if previous else []
    removed = sorted(set(before) - set(rows)) if previous else []
    changes = {
        "facts": facts,
        "rows_changed": changed,
        "tables_added": added,
        "tables_removed": removed,
    }
    release_id = new_release_id(now, previous, f"{now.isoformat()}|{os.getpid()}|{rows}")
    return ReleaseRow(
        release_id=release_id,
        published_at=now.astimezone(UTC).replace(tzinfo=None),
        backend=BACKEND,
        location=str(release_file(warehouse.resolve(), release_id)),
        previous_release_id=previous,
        publish_mode="incremental" if incremental else "full",
        summary=_summary(previous, changes, rows),
        changes=changes,
        fact_rows={name: n for name, n in rows.items() if name.startswith("core.fact_")},
        table_rows=rows,
        run_id=run_id,
    )


def _summary(previous: str | None, changes: dict, rows: dict[str, int]) -> str:
    parts = []
    if previous is None:
        parts.append(f"first release: {len(rows)} tables")
    for table, fact in changes["facts"].items():
        if fact["rebuilt_whole"]:
            parts.append(f"{table} rebuilt whole")
        elif fact["school_years"]:
            parts.append(f"{table} updated for {', '.join(fact['school_years'])}")
    if changes["tables_added"]:
        parts.append(f"new tables {', '.join(changes['tables_added'])}")
    if changes["tables_removed"]:
        parts.append(f"tables gone {', '.join(changes['tables_removed'])}")
    changed = list(changes["rows_changed"].items())
    if changed:
        shown = [f"{t} {a:,} → {b:,}" for t, (a, b) in changed[:_SUMMARY_TABLES]]
        more = (
            f" and {len(changed) - _SUMMARY_TABLES} more" if len(changed) > _SUMMARY_TABLES else ""
        )
        parts.append("rows: " + ", ".join(shown) + more)
    if previous is not None and not parts:
        parts.append("no change since the previous release")
    return "; ".join(parts)


def insert(conn: duckdb.DuckDBPyConnection, table: str, row: ReleaseRow) -> None:
    names = ", ".join(COLUMNS)
    marks = ", ".join("?" for _ in COLUMNS)
    conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", row.values())


def _reflink(source: Path, target: Path) -> None:
    with open(source, "rb") as src, open(target, "wb") as dst:
        fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())


def keep_file(source: Path, target: Path) -> str:
    """``target`` made a read-only copy of ``source`` (a whole, checked release): a hard
    link where the filesystem allows, else a reflink, else a copy, under a temporary name
    renamed into place (so ``target`` is never half-written). Returns how it was made."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}{_TMP_SUFFIX}")
    tmp.unlink(missing_ok=True)
    os.chmod(source, 0o444)  # releases are read-only once written (a link shares the mode)
    try:
        try:
            os.link(source, tmp)
            how = "hardlink"
        except OSError:
            try:
                _reflink(source, tmp)
                how = "reflink"
            except OSError:
                tmp.unlink(missing_ok=True)
                shutil.copyfile(source, tmp)
                how = "copy"
            os.chmod(tmp, 0o444)
            fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync(target.parent)
    return how


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(warehouse: Path) -> list[Path]:
    """Temporary release files (``.<id>.duckdb.<pid>.publishing``) of processes gone."""
    folder = releases_dir(warehouse)
    stale = []
    for path in sorted(folder.glob(f".*{_TMP_SUFFIX}")) if folder.is_dir() else []:
        pid = path.name.removesuffix(_TMP_SUFFIX).rsplit(".", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and pid_alive(int(pid)):
            continue
        path.unlink(missing_ok=True)
        stale.append(path)
    return stale


def kept_ids(warehouse: Path) -> list[str]:
    """The ids of the release files kept beside ``warehouse``, oldest first."""
    folder = releases_dir(warehouse)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.duckdb") if not p.name.startswith("."))


def prune(warehouse: Path, listed: set[str], keep: int) -> list[Path]:
    """Delete the release files beyond the newest ``keep`` of those ``listed`` in
    ``audit.releases``, and any file no release lists (left by a run killed before its
    rename). A reader holding a deleted file open keeps reading it."""
    removed = []
    ids = kept_ids(warehouse)
    wanted = set(sorted((i for i in ids if i in listed), reverse=True)[:keep])
    for release_id in ids:
        if release_id not in wanted:
            path = release_file(warehouse, release_id)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


# ---------------------------------------------------------------------------------------
# Reading releases back (the CLI)


def history(warehouse: Path) -> list[ReleaseRow]:
    """``audit.releases`` of the published ``warehouse`` (read-only), newest first."""
    if not warehouse.exists():
        raise ReleaseNotFound(f"no warehouse at {warehouse}: run `imtetl build`")
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return read_history(conn, str(warehouse))


def read_history(conn: duckdb.DuckDBPyConnection, label: str) -> list[ReleaseRow]:
    """``audit.releases`` of the connection's current database, newest first."""
    if not _has_releases(conn, conn.execute("SELECT current_database()").fetchone()[0]):
        raise ReleaseNotFound(
            f"{label} has no audit.releases (published before releases were "
            "recorded): the next `imtetl build` starts the history"
        )
    names = [
        n
        for (n,) in conn.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = "
            "current_database() AND schema_name = 'audit' AND table_name = 'releases'"
        ).fetchall()
    ]
    present = [c for c in COLUMNS if c in names]
    rows = conn.execute(
        f"SELECT {', '.join(present)} FROM {RELEASES_TABLE} ORDER BY release_id DESC"
    ).fetchall()
    out = []
    for row in rows:
        values = dict(zip(present, row, strict=True))
        for name in ("changes", "fact_rows", "table_rows"):
            values[name] = json.loads(values[name]) if values.get(name) else {}
        out.append(ReleaseRow(**{c: values.get(c) for c in COLUMNS}))
    return out


def resolve(warehouse: Path, wanted: str) -> tuple[ReleaseRow, Path]:
    """The release ``wanted`` (an id, a unique prefix of one, or ``latest``) and the file
    holding it: its kept file, or the published file for the latest release when it is not
    kept. Raises :class:`ReleaseNotFound` naming the release and those that exist."""
    rows = history(warehouse)
    kept = set(kept_ids(warehouse))
    if not rows:
        raise ReleaseNotFound(f"{warehouse} lists no release yet")
    if wanted == "latest":
        matches = [rows[0]]
    else:
        matches = [r for r in rows if r.release_id == wanted] or [
            r for r in rows if r.release_id.startswith(wanted)
        ]
    listing = ", ".join(
        f"{r.release_id}{'' if r.release_id in kept else ' (file deleted)'}" for r in rows
    )
    if not matches:
        raise ReleaseNotFound(f"no release {wanted!r} in {warehouse}; releases: {listing}")
    if len(matches) > 1:
        ids = ", ".join(r.release_id for r in matches)
        raise ReleaseNotFound(f"release {wanted!r} is ambiguous: {ids} start with it")
    row = matches[0]
    if row.release_id in kept:
        return row, release_file(warehouse, row.release_id)
    if row is rows[0]:
        return row, warehouse  # the published file is the latest release
    kept_list = ", ".join(r.release_id for r in rows if r.release_id in kept) or "none"
    raise ReleaseNotFound(
        f"release {row.release_id} is listed in audit.releases but its file is no longer "
        f"kept (the last IMTETL_KEEP_RELEASES are); kept: {kept_list}"
    )


def connect_release(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to a release file that can reach no other file."""
    return duckdb.connect(
        str(path),
        read_only=True,
        config={"enable_external_access": False, "lock_configuration": True},
    )
