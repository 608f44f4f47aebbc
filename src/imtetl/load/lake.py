"""The DuckLake backend: the warehouse as a DuckLake, its catalog in PostgreSQL.

With ``IMTETL_CATALOG`` set (see imtetl.settings) every writer opens the lake through
:func:`connect`: an in-memory DuckDB session (bounded memory, spilling to the local build
folder) that attaches the lake as ``lake`` and makes it the current database, so the code that
writes the DuckDB file (staging, audit, dbt's models) runs unchanged.

- **Extensions** come from their PyPI wheels (``duckdb-extension-ducklake``,
  ``duckdb-extension-postgres``; the ``ducklake`` extra): :func:`ensure_extensions` installs
  them into DuckDB's extension folder from the wheel files, never from the network, so that a
  plain ``LOAD ducklake`` works afterwards in any DuckDB session of the machine (dbt's,
  ``../shared/tools/check_warehouse.py``'s).
- **The secret** stays out of every SQL text, log line and error: the ATTACH string holds the
  catalog's parameters without the password, which libpq reads from ``PGPASSWORD``
  (:meth:`Catalog.export_password`). Errors name the catalog by :meth:`Catalog.label`, and any
  message is scrubbed of the password before it is raised (:func:`catalog_errors`).
- **Transient failures** (the server restarting, a dropped connection) are retried with
  backoff when attaching (:func:`connect`) and around each partition's commit
  (:func:`retry_commit`); DuckLake settles clashes between writers of different tables itself
  (``ducklake_max_retry_count``), and a logical conflict is retried here as a whole
  transaction.
- **Locks** (:func:`advisory_lock`) are PostgreSQL advisory locks in the catalog's database,
  held by a session: a writer killed with ``kill -9`` loses its session, so its locks go
  with it. Staging steps hold the build lock shared (they write concurrently, each school-year
  in its own short transaction, one commit at a time under the commit lock); the models and
  the publish hold it exclusive, so the snapshot they check and publish is one no staging
  commit is halfway into.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qsl, unquote, urlparse

import duckdb

from imtetl.settings import Settings

ALIAS = "lake"
#: The lake's tables that writers replace partition by partition, and their partition keys:
#: DuckLake writes each key's rows to files of their own.
PARTITIONS = {
    "audit.loads": ("dataset", "school_code"),
    "audit.quarantine": ("dataset", "school_code"),
}
#: Attempts of a transient failure (attach, a partition's commit) before it fails the step.
ATTEMPTS = 5
#: DuckLake's own retries of a commit that races another (no logical conflict).
DUCKLAKE_RETRIES = 30
_EXTENSIONS = (("ducklake", "ducklake"), ("postgres", "postgres_scanner"))
_TRANSIENT = re.compile(
    r"could not connect|connection (?:refused|reset|closed|timed out|to server)|"
    r"server closed the connection|terminating connection|no connection to the server|"
    r"SSL SYSCALL|could not receive data|could not send data|"
    r"the database system is (?:starting up|shutting down|in recovery)|"
    r"Transaction conflict|Failed to commit DuckLake transaction",
    re.IGNORECASE,
)
_T = TypeVar("_T")


class LakeError(RuntimeError):
    """A DuckLake failure, its message naming the catalog (never its password)."""


@dataclass(frozen=True)
class Catalog:
    """The catalog's connection parameters (libpq keywords), the password kept apart."""

    params: dict[str, str] = field(default_factory=dict)
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, text: str) -> Catalog:
        """``postgresql://user:password@host:port/dbname?opt=v``, or libpq's
        ``dbname=… host=… password=…``, with or without a ``ducklake:postgres:`` prefix."""
        text = text.strip()
        for prefix in ("ducklake:", "postgres:"):
            if text.startswith(prefix) and not text.startswith("postgres://"):
                text = text[len(prefix) :]
        params: dict[str, str] = {}
        if "://" in text:
            url = urlparse(text)
            if url.scheme not in ("postgresql", "postgres"):
                raise LakeError(
                    f"IMTETL_CATALOG must be a PostgreSQL connection string, not {url.scheme}://…"
                )
            if url.hostname:
                params["host"] = unquote(url.hostname)
            if url.port:
                params["port"] = str(url.port)
            if url.username:
                params["user"] = unquote(url.username)
            if url.path.strip("/"):
                params["dbname"] = unquote(url.path.strip("/"))
            params.update(parse_qsl(url.query))
            password = unquote(url.password) if url.password else None
        else:
            for match in re.finditer(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", text):
                value = match.group(2)
                if value.startswith("'"):
                    value = re.sub(r"\\(.)", r"\1", value[1:-1])
                params[match.group(1)] = value
            password = params.pop("password", None)
        if "dbname" not in params:
            raise LakeError("IMTETL_CATALOG names no database (dbname): the catalog's database")
        password = params.pop("password", password)
        return cls(params, password)

    def libpq(self) -> str:
        """The parameters as a libpq string, without the password."""
        return " ".join(f"{k}={_libpq_value(v)}" for k, v in self.params.items())

    def label(self) -> str:
        """How messages name the catalog: ``postgresql://user@host:port/dbname``."""
        user = f"{self.params['user']}@" if "user" in self.params else ""
        host = self.params.get("host", "localhost")
        port = f":{self.params['port']}" if "port" in self.params else ""
        return f"postgresql://{user}{host}{port}/{self.params['dbname']}"

    def export_password(self) -> None:
        """Hand the password to libpq (DuckDB's postgres extension, psycopg2) through the
        environment, so that no SQL text or log line holds it."""
        if self.password is not None:
            os.environ["PGPASSWORD"] = self.password

    def scrub(self, text: str) -> str:
        """``text`` without the password (errors may echo a connection string)."""
        if self.password:
            text = text.replace(self.password, "***")
        return re.sub(r"(password\s*=\s*)\S+", r"\1***", text, flags=re.IGNORECASE)

    def psycopg_kwargs(self) -> dict[str, str]:
        return {**self.params, **({"password": self.password} if self.password else {})}


def _libpq_value(value: str) -> str:
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def catalog_of(settings: Settings) -> Catalog:
    if not settings.catalog:
        raise LakeError("IMTETL_CATALOG is not set: the warehouse is the DuckDB file")
    return Catalog.parse(settings.catalog)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def is_transient(exc: BaseException) -> bool:
    return bool(_TRANSIENT.search(str(exc)))


@contextmanager
def catalog_errors(catalog: Catalog, doing: str, *, transient: bool = False) -> Iterator[None]:
    """Re-raise a DuckDB or PostgreSQL failure as a :class:`LakeError` that names the
    catalog and what was being done, scrubbed of the password. ``transient``: only failures
    of the connection (others pass through as they are)."""
    try:
        yield
    except LakeError:
        raise
    except Exception as exc:
        if not isinstance(exc, duckdb.Error | OSError | ImportError) and not type(
            exc
        ).__module__.startswith("psycopg2"):
            raise
        if transient and not is_transient(exc):
            raise
        lost = " (the connection to PostgreSQL was lost)" if is_transient(exc) else ""
        raise LakeError(
            f"DuckLake catalog {catalog.label()}: {doing} failed{lost}: "
            f"{catalog.scrub(f'{type(exc).__name__}: {exc}')}"
        ) from None


def wheel_extension(name: str, extra: str) -> Path:
    """The file of DuckDB extension ``name`` in its PyPI wheel (``duckdb-extension-<name>``,
    installed by the project's ``extra``); LakeError saying what to install otherwise."""
    try:
        package = import_module(f"duckdb_extension_{name}")
    except ImportError as exc:
        raise LakeError(
            f"the DuckDB extension {name} is not installed: pip install '.[{extra}]'"
        ) from exc
    found = sorted(Path(package.__file__).parent.rglob(f"{name}.duckdb_extension"))
    if not found:
        raise LakeError(f"duckdb-extension-{name} ships no {name}.duckdb_extension")
    return found[-1]


def extension_files() -> dict[str, Path]:
    """The ducklake and postgres extension files of their PyPI wheels."""
    return {name: wheel_extension(name, "ducklake") for name, _ in _EXTENSIONS}


_INSTALLED: set[str] = set()


def ensure_extensions(conn: duckdb.DuckDBPyConnection | None = None) -> None:
    """Install ducklake and postgres from their wheels into DuckDB's extension folder
    (once per machine and version; never from the network) and load them."""
    own = conn is None
    conn = conn or duckdb.connect()
    try:
        installed = {
            name
            for (name,) in conn.execute(
                "SELECT extension_name FROM duckdb_extensions() WHERE installed"
            ).fetchall()
        }
        files = None
        for name, loaded_as in _EXTENSIONS:
            if loaded_as not in installed and name not in _INSTALLED:
                files = files or extension_files()
                conn.execute(f"INSTALL {_quote(str(files[name]))}")
            _INSTALLED.add(name)
            conn.execute(f"LOAD {name}")
    finally:
        if own:
            conn.close()


def attach_sql(
    settings: Settings,
    catalog: Catalog,
    *,
    alias: str = ALIAS,
    read_only: bool = False,
    snapshot: int | None = None,
    data_path: str | None = None,
) -> str:
    """The ATTACH statement of the lake (no password in it)."""
    options = [f"DATA_PATH {_quote(data_path or settings.data_path)}"]
    if read_only:
        options.append("READ_ONLY")
    if snapshot is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
    target = _quote(f"ducklake:postgres:{catalog.libpq()}")
    return f"ATTACH {target} AS {alias} ({', '.join(options)})"


def _s3_secret(conn: duckdb.DuckDBPyConnection, data_path: str) -> None:
    """httpfs and an S3 secret from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    AWS_REGION, AWS_ENDPOINT_URL) for an ``s3://`` data path."""
    if not data_path.startswith("s3://"):
        return
    try:
        conn.execute("LOAD httpfs")
    except duckdb.Error:
        package = import_module("duckdb_extension_httpfs")
        (path,) = sorted(Path(package.__file__).parent.rglob("httpfs.duckdb_extension"))[-1:]
        conn.execute(f"LOAD {_quote(str(path))}")
    fields = {
        "KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID"),
        "SECRET": os.environ.get("AWS_SECRET_ACCESS_KEY"),
        "REGION": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    }
    if endpoint := os.environ.get("AWS_ENDPOINT_URL"):
        url = urlparse(endpoint)
        fields["ENDPOINT"] = url.netloc or url.path
        fields["USE_SSL"] = "true" if url.scheme != "http" else "false"
        fields["URL_STYLE"] = "path"
    body = ", ".join(f"{k} {_quote(v)}" for k, v in fields.items() if v)
    conn.execute(f"CREATE OR REPLACE SECRET imtetl_s3 (TYPE s3{', ' + body if body else ''})")


def connect(
    settings: Settings,
    *,
    read_only: bool = False,
    snapshot: int | None = None,
    alias: str = ALIAS,
    memory_limit: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB session with the lake attached as ``alias`` and current
    (``USE``): writers see ``staging.*``, ``audit.*`` and the models as in the build database.
    ``snapshot``: attach that snapshot (read-only), as readers of a release do. A lost
    catalog is retried :data:`ATTEMPTS` times, then fails naming it."""
    catalog = catalog_of(settings)
    catalog.export_password()
    config: dict[str, str] = {}
    if not read_only:
        settings.build_dir.mkdir(parents=True, exist_ok=True)
        config["temp_directory"] = str(settings.build_dir / "spill")
    if memory_limit or not read_only:
        config["memory_limit"] = memory_limit or settings.duckdb_memory
    if not settings.data_path.startswith("s3://") and not read_only:
        Path(settings.data_path).mkdir(parents=True, exist_ok=True)
    sql = attach_sql(settings, catalog, alias=alias, read_only=read_only, snapshot=snapshot)

    def attach() -> duckdb.DuckDBPyConnection:
        conn = duckdb.connect(config=config)
        try:
            ensure_extensions(conn)
            _s3_secret(conn, settings.data_path)
            conn.execute(sql)
            conn.execute(f"USE {alias}")
            conn.execute(f"SET ducklake_max_retry_count = {DUCKLAKE_RETRIES}")
        except BaseException:
            conn.close()
            raise
        return conn

    try:
        with catalog_errors(catalog, "attaching the lake"):
            return retry(attach, what="attach")
    except LakeError as exc:
        if "creating a new DuckLake is explicitly disabled" in str(exc):
            raise LakeError(
                f"DuckLake catalog {catalog.label()} holds no lake yet: run `imtetl build`"
            ) from None
        raise


def retry(
    action: Callable[[], _T],
    *,
    what: str,
    attempts: int = ATTEMPTS,
    on_retry: Callable[[int, BaseException], None] | None = None,
) -> _T:
    """``action()``, retried with exponential backoff (and jitter) while it fails with a
    transient error; the last failure is raised as it is."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except (duckdb.Error, OSError) as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            if on_retry is not None:
                on_retry(attempt, exc)
            time.sleep(min(5.0, 0.2 * 2 ** (attempt - 1)) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def rollback(conn: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction, if any: a COMMIT that failed (a conflict) has already
    rolled it back, and the error to raise is that one, not ROLLBACK's."""
    with suppress(duckdb.TransactionException):
        conn.execute("ROLLBACK")


def current_snapshot(conn: duckdb.DuckDBPyConnection, alias: str = ALIAS) -> int:
    return conn.execute(f"SELECT id FROM {alias}.current_snapshot()").fetchone()[0]


def lake_ddl(text: str) -> str:
    """The build database's DDL for a DuckLake: DuckLake has no PRIMARY KEY or UNIQUE
    constraints (imtetl never relied on them: each write deletes what it replaces first), and
    the tables writers replace by partition are partitioned so (PARTITIONS)."""
    text = re.sub(r"\s+PRIMARY KEY", "", text)
    parts = [
        f"ALTER TABLE {table} SET PARTITIONED BY ({', '.join(keys)});"
        for table, keys in PARTITIONS.items()
    ]
    return text.rstrip() + "\n\n-- DuckLake: files per partition\n" + "\n".join(parts) + "\n"


def staging_partitioning(dataset_tables: list[str]) -> str:
    return "\n".join(
        f"ALTER TABLE {table} SET PARTITIONED BY (school_code, academic_year);"
        for table in dataset_tables
    )


# ---------------------------------------------------------------------------------------
# Advisory locks in the catalog's database

BUILD_LOCK = "imtetl:build"
COMMIT_LOCK = "imtetl:commit"


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def advisory_lock(settings: Settings, name: str, *, shared: bool = False) -> Iterator[None]:
    """Hold PostgreSQL advisory lock ``name`` (shared or exclusive) in the catalog's
    database for the block: waits for it, and is released when the block ends or the
    process dies (the lock belongs to its session)."""
    import psycopg2

    catalog = catalog_of(settings)

    def open_session():
        try:
            return psycopg2.connect(
                **catalog.psycopg_kwargs(), application_name=f"imtetl {name}", connect_timeout=10
            )
        except psycopg2.OperationalError as exc:
            raise duckdb.IOException(f"could not connect to server: {exc}") from None

    with catalog_errors(catalog, f"taking the lock {name}"):
        session = retry(open_session, what="lock")
    try:
        session.autocommit = True
        function = "pg_advisory_lock_shared" if shared else "pg_advisory_lock"
        with catalog_errors(catalog, f"taking the lock {name}"), session.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s)", [lock_key(name)])
        yield
    finally:
        session.close()
