"""`imtetl serve`: remote BI clients query the bi views over Quack with a token (ADBC)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import duckdb
import pytest

from tests.conftest import Project

pytest.importorskip("duckdb_extension_quack", reason="the serve extra is not installed")
quack = pytest.importorskip("adbc_driver_quack.dbapi", reason="the serve extra is not installed")

TOKEN = "a-long-enough-serve-token-0123"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _query(url: str, token: str, sql: str):
    with quack.connect(url, db_kwargs={"adbc.quack.token": token}, autocommit=True) as conn:
        cursor = conn.cursor()
        cursor.execute(sql)
        return cursor.fetchall()


def _count(project: Project) -> int:
    with duckdb.connect(str(project.warehouse), read_only=True) as conn:
        return conn.execute("SELECT count(*) FROM bi.foreign_intake").fetchone()[0]


def test_serve_needs_a_token(project: Project) -> None:
    result = project.imtetl("serve", timeout=60)
    assert result.returncode == 2 and "IMTETL_SERVE_TOKEN is not set" in result.stderr


def test_remote_client_queries_bi_with_a_token_and_follows_publishes(
    built_copy: Project,
) -> None:
    project = built_copy  # a whole build, copied
    before = _count(project)
    port = _port()
    url = f"quack://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "imtetl.cli", "serve", "--port", str(port)],
        env=project.env(IMTETL_SERVE_TOKEN=TOKEN), cwd=project.home,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.time() + 60
        while True:
            try:
                rows = _query(url, TOKEN, "SELECT count(*) FROM bi.foreign_intake")
                break
            except Exception:
                if time.time() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.5)
        assert rows == [(before,)]
        masked = _query(url, TOKEN, "SELECT count(*) FROM bi.foreign_intake WHERE masked")
        assert masked[0][0] > 0
        with pytest.raises(Exception, match=r"(?i)auth"):
            _query(url, "not-the-token-at-all", "SELECT 1")
        # only bi is served, read-only
        tables = _query(url, TOKEN, "SELECT DISTINCT schema_name FROM duckdb_views() "
                        "WHERE NOT internal")  # fmt: skip
        assert tables == [("bi",)]
        with pytest.raises(Exception, match=r"(?i)read.only"):
            _query(url, TOKEN, "CREATE TABLE x AS SELECT 1")
        # a new publish: ALBI's 2025 enrolment export shrinks
        path = project.landing / "albi" / "EXPORT_ENROLMENT_2025.tsv"
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join(lines[:21]) + "\n", encoding="utf-8")
        assert project.imtetl("build").returncode == 0
        after = _count(project)
        assert after != before
        deadline = time.time() + 30
        while _query(url, TOKEN, "SELECT count(*) FROM bi.foreign_intake") != [(after,)]:
            assert time.time() < deadline, "the server did not follow the new publish"
            time.sleep(0.5)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            out, _ = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            out, _ = server.communicate()
    assert TOKEN not in out  # the token is never echoed
