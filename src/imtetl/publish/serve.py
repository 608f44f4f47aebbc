"""`imtetl serve`: the published warehouse's ``bi`` views for remote BI clients, over DuckDB's
client-server protocol (the Quack extension, beta), token required.

Only the masked ``bi`` schema is served. Each published state is snapshotted into a small
read-only DuckDB file (tables in ``main``, served as views in ``bi``: tables in non-main
schemas fail through a client's ATTACH, duckdb-quack#144), and the server runs on a
read-only connection to it, so no client can change what others read. When a new warehouse is
published, a new snapshot is taken and the server switches to it.

The extensions come from PyPI (``duckdb-extension-quack``, ``duckdb-extension-httpfs``:
``pip install '.[serve]'``), so nothing is downloaded at run time.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import duckdb

log = logging.getLogger("imtetl.serve")
TOKEN_ENV = "IMTETL_SERVE_TOKEN"


class ServeError(RuntimeError):
    pass


def extension_paths() -> list[Path]:
    """quack and httpfs (both sides of Quack need httpfs) from their PyPI wheels."""
    from imtetl.load.lake import LakeError, wheel_extension

    try:
        return [wheel_extension(name, "serve") for name in ("httpfs", "quack")]
    except LakeError as exc:
        raise ServeError(str(exc)) from exc


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def snapshot_bi(warehouse: Path, folder: Path, *, lake_snapshot: tuple | None = None) -> Path:
    """Copy the warehouse's bi views into a new file: data in main, views in bi.
    ``lake_snapshot``: (settings, snapshot) of a DuckLake release to copy them from instead."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bi-{time.time_ns()}.duckdb"
    with duckdb.connect(str(path)) as conn:
        if lake_snapshot is None:
            conn.execute(f"ATTACH {_quote(str(warehouse))} AS wh (READ_ONLY)")
        else:
            from imtetl.load import lake

            settings, snapshot = lake_snapshot
            catalog = lake.catalog_of(settings)
            catalog.export_password()
            with lake.catalog_errors(catalog, "attaching the published release"):
                lake.ensure_extensions(conn)
                conn.execute(
                    lake.attach_sql(
                        settings, catalog, alias="wh", read_only=True, snapshot=snapshot
                    )
                )
        views = conn.execute(
            "SELECT view_name, comment FROM duckdb_views() "
            "WHERE database_name = 'wh' AND schema_name = 'bi' ORDER BY 1"
        ).fetchall()
        if not views:
            raise ServeError(f"{warehouse} has no bi views: build the warehouse first")
        conn.execute("CREATE SCHEMA bi")
        for view, comment in views:
            conn.execute(f'CREATE TABLE main."bi__{view}" AS FROM wh.bi."{view}"')
            conn.execute(f'CREATE VIEW bi."{view}" AS FROM main."bi__{view}"')
            if comment:
                conn.execute(f'COMMENT ON VIEW bi."{view}" IS {_quote(comment)}')
        columns = conn.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() "
            "WHERE database_name = 'wh' AND schema_name = 'bi' AND comment IS NOT NULL"
        ).fetchall()
        for view, column, comment in columns:
            conn.execute(f'COMMENT ON COLUMN bi."{view}"."{column}" IS {_quote(comment)}')
        conn.execute("DETACH wh")
        conn.execute("CHECKPOINT")
    return path


def _state(warehouse: Path) -> tuple[int, int] | None:
    try:
        stat = warehouse.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns


class BiServer:
    """Serves the bi views of ``warehouse`` on host:port; follows each new publish."""

    def __init__(
        self,
        warehouse: Path,
        host: str,
        port: int,
        token: str,
        poll_s: float = 1.0,
        *,
        settings=None,
    ):
        """``settings`` of the DuckLake backend: serve its newest release instead of the file
        (followed as releases are published)."""
        self._lake = settings if settings is not None and settings.backend == "ducklake" else None
        if len(token) < 16:
            raise ServeError(f"{TOKEN_ENV} must be at least 16 characters long")
        self.warehouse, self.host, self.port, self.poll_s = warehouse, host, port, poll_s
        self._token = token
        self._extensions = extension_paths()
        self._folder = warehouse.parent / ".serve"
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._snapshot: Path | None = None
        self._state: tuple[int, int] | None = None
        self._stop = threading.Event()
        self.switches = 0

    @property
    def url(self) -> str:
        return f"quack://{self.host}:{self.port}"

    def _start_on(self, snapshot: Path) -> duckdb.DuckDBPyConnection:
        conn = duckdb.connect(str(snapshot), read_only=True)
        for path in self._extensions:
            conn.execute(f"LOAD {_quote(str(path))}")
        conn.execute(
            "CALL quack_serve(?, token = ?, disable_ssl = true, allow_other_hostname = ?)",
            [
                f"quack:{self.host}:{self.port}",
                self._token,
                self.host not in ("127.0.0.1", "localhost"),
            ],
        )
        return conn

    def refresh(self) -> bool:
        """Switch to the warehouse's current state if it changed; True when it did."""
        if self._lake is not None:
            from imtetl.publish.lake import latest

            state = latest(self._lake)
            if state is None or state == self._state:
                return False
            snapshot = snapshot_bi(
                self.warehouse, self._folder, lake_snapshot=(self._lake, state[1])
            )
        else:
            state = _state(self.warehouse)
            if state is None or state == self._state:
                return False
            snapshot = snapshot_bi(self.warehouse, self._folder)
        old_conn, old_snapshot = self._conn, self._snapshot
        if old_conn is not None:
            old_conn.execute("CALL quack_stop(?)", [f"quack:{self.host}:{self.port}"])
            old_conn.close()
        self._conn = self._start_on(snapshot)
        self._snapshot, self._state = snapshot, state
        if old_snapshot is not None:
            old_snapshot.unlink(missing_ok=True)
        self.switches += 1
        if self._lake is not None:
            log.info("serving release %s (snapshot %s) of the lake", *state)
        else:
            log.info("serving the warehouse published at %s", time.ctime(state[1] / 1e9))
        return True

    def serve_forever(self) -> None:
        for stale in self._folder.glob("bi-*.duckdb"):
            stale.unlink(missing_ok=True)
        if not self.refresh():
            raise ServeError(f"no warehouse at {self.warehouse}: run `imtetl build` first")
        while not self._stop.wait(self.poll_s):
            try:
                self.refresh()
            except Exception as exc:  # keep serving the last good state
                log.error("could not switch to the new warehouse: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._conn is not None:
            self._conn.close()
        if self._snapshot is not None:
            self._snapshot.unlink(missing_ok=True)


def token_from_env() -> str:
    token = os.environ.get(TOKEN_ENV)
    if not token:
        raise ServeError(f"{TOKEN_ENV} is not set: remote clients must present a token")
    return token
