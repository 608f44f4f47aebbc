"""Servers the test suite starts itself where their binaries exist.

PostgreSQL: when ``IMTETL_TEST_POSTGRES_URL`` is not set and Debian's PostgreSQL binaries are
installed (``apt-get install postgresql``), the suite starts a throwaway server on 127.0.0.1
with pytest-postgresql's executor (initdb into a temporary directory, a free port, trust
authentication on 127.0.0.1 only, fsync off) and points ``IMTETL_TEST_POSTGRES_URL`` at it for
every test (tests/conftest.py, before xdist starts its workers, so that they share it).
PostgreSQL refuses to run as root: as root (CI), pg_ctl runs as Debian's ``postgres`` user."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import tempfile
from pathlib import Path

POSTGRES_ENV = "IMTETL_TEST_POSTGRES_URL"
#: What the skips of the PostgreSQL tests say.
POSTGRES_HINT = (
    f"no PostgreSQL: `apt-get install postgresql` (the suite then starts one itself), or set "
    f"{POSTGRES_ENV} to a role that may create databases"
)


def pg_ctl() -> str | None:
    """Debian's newest pg_ctl, if PostgreSQL is installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    return found[-1] if found else shutil.which("pg_ctl")


def _version(path: str) -> float:
    try:
        return float(Path(path).parents[1].name)
    except ValueError:
        return 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Postgres:
    """A throwaway PostgreSQL server; :meth:`stop` removes it with its data."""

    def __init__(self, executable: str) -> None:
        from pytest_postgresql.executors import PostgreSQLExecutor

        self.base = Path(tempfile.mkdtemp(prefix="imtetl-pg-"))
        if os.geteuid() == 0:  # PostgreSQL refuses root: run pg_ctl as `postgres`
            user = pwd.getpwnam("postgres")
            os.chown(self.base, user.pw_uid, user.pw_gid)
            wrapper = Path(tempfile.mkdtemp(prefix="imtetl-pgctl-")) / "pg_ctl"
            wrapper.write_text(f'#!/bin/sh\nexec runuser -u postgres -- "{executable}" "$@"\n')
            wrapper.chmod(0o755)
            self._wrapper_dir = wrapper.parent
            executable = str(wrapper)
        else:
            self._wrapper_dir = None
        self.port = _free_port()
        self.executor = PostgreSQLExecutor(
            executable=executable,
            host="127.0.0.1",
            port=self.port,
            datadir=str(self.base / "data"),
            unixsocketdir=str(self.base),
            logfile=str(self.base / "postgresql.log"),
            startparams="-w",
            dbname="postgres",
            user="postgres",
            postgres_options=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=200",
            timeout=120,
        )
        self.executor.start()
        # a password, so that the tests that check it is never echoed have one to look for
        # (authentication is trust on 127.0.0.1: initdb, run as `postgres`, cannot read a
        # password file that root wrote)
        import secrets

        import psycopg

        password = secrets.token_hex(12)
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f"ALTER ROLE postgres PASSWORD '{password}'")
        self.url = f"postgresql://postgres:{password}@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            self.executor.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
            if self._wrapper_dir is not None:
                shutil.rmtree(self._wrapper_dir, ignore_errors=True)


def start_postgres() -> Postgres | None:
    """A server for this test session, or None (the tests that need one skip, saying why)."""
    if os.environ.get(POSTGRES_ENV):
        return None
    executable = pg_ctl()
    if executable is None:
        return None
    server = Postgres(executable)
    os.environ[POSTGRES_ENV] = server.url
    return server


#: What the skips of tests that need an extra say: the README's first command installs them all.
EXTRAS_HINT = (
    "an extra is not installed: UV_COMPILE_BYTECODE=1 .venv/bin/uv pip install "
    "--python .venv/bin/python -e '.[all]' (the README's first command)"
)
