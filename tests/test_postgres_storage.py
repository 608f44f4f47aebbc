"""The production instance (deploy/dagster.postgres.yaml): Dagster's runs and event logs in
PostgreSQL, run retries on. Needs a PostgreSQL server: IMTETL_TEST_POSTGRES_URL (a role
that may create databases; .ci/postgres.sh starts Debian's server on 127.0.0.1 and prints
it). The test works in a database of its own, dropped afterwards.

``IMTETL_EXHAUSTIVE=1`` adds a whole retry cycle: `dagster dev` (webserver and daemon) on
that instance, a failing run launched through GraphQL, and the daemon's retries of it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import ROOT, Project
from tests.faults import EXHAUSTIVE, copy_built
from tests.servers import EXTRAS_HINT, POSTGRES_HINT

URL = os.environ.get("IMTETL_TEST_POSTGRES_URL", "")
pytestmark = pytest.mark.skipif(
    not URL,
    reason=POSTGRES_HINT,
)


@pytest.fixture
def pg_env() -> Iterator[dict[str, str]]:
    """DAGSTER_PG_* variables of a fresh database on the test server."""
    psycopg2 = pytest.importorskip("psycopg2", reason=EXTRAS_HINT)
    pytest.importorskip("dagster_postgres", reason=EXTRAS_HINT)
    url = urlsplit(URL)
    db = f"imtetl_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(URL)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {db}")
    try:
        yield {
            "DAGSTER_PG_HOST": url.hostname or "127.0.0.1",
            "DAGSTER_PG_PORT": str(url.port or 5432),
            "DAGSTER_PG_DB": db,
            "DAGSTER_PG_USERNAME": unquote(url.username or ""),
            "DAGSTER_PG_PASSWORD": unquote(url.password or ""),
        }
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        admin.close()


def _pg_project(built: Project, base: Path) -> Project:
    project = copy_built(built, base)
    variant = ROOT / "deploy" / "dagster.postgres.yaml"
    shutil.copyfile(variant, project.dagster_home / "dagster.yaml")
    return project


def _query(env: dict[str, str], sql: str, params: tuple = ()) -> list[tuple]:
    import psycopg2

    with psycopg2.connect(
        host=env["DAGSTER_PG_HOST"], port=env["DAGSTER_PG_PORT"], dbname=env["DAGSTER_PG_DB"],
        user=env["DAGSTER_PG_USERNAME"], password=env["DAGSTER_PG_PASSWORD"],
    ) as conn, conn.cursor() as cursor:  # fmt: skip
        cursor.execute(sql, params)
        return cursor.fetchall()


@pytest.mark.builds(1)
def test_build_runs_and_events_land_in_postgres_with_retries_on(
    built: Project, tmp_path: Path, pg_env: dict[str, str], monkeypatch
) -> None:
    import dagster as dg

    from imtetl.defs.assets.publish import report
    from imtetl.defs.resources import WarehouseResource

    project = _pg_project(built, tmp_path)
    result = project.imtetl("build", "--school", "MSE", "--year", "2024", **pg_env)
    assert result.returncode == 0, result.stderr[-3000:]

    # the run and its events are rows of PostgreSQL tables (RUN_SUCCESS is stored as
    # PIPELINE_SUCCESS)
    ((run_id, status, job),) = _query(pg_env, "SELECT run_id, status, pipeline_name FROM runs")
    assert (status, job) == ("SUCCESS", "build_warehouse")
    events = dict(
        _query(
            pg_env,
            "SELECT dagster_event_type, count(*) FROM event_logs WHERE run_id = %s GROUP BY 1",
            (run_id,),
        )
    )
    assert events["PIPELINE_SUCCESS"] == 1 and events["STEP_SUCCESS"] >= 10, events
    assert events["ASSET_MATERIALIZATION"] >= 15 and events["ASSET_CHECK_EVALUATION"] >= 5
    partitions = _query(
        pg_env,
        "SELECT DISTINCT partition FROM event_logs WHERE run_id = %s "
        "AND dagster_event_type = 'ASSET_MATERIALIZATION' AND partition IS NOT NULL",
        (run_id,),
    )
    assert partitions == [("MSE|2024",)]
    assert not list(project.dagster_home.glob("**/*.db"))  # no SQLite storage beside it

    for name, value in pg_env.items():
        monkeypatch.setenv(name, value)
    with dg.DagsterInstance.from_config(str(project.dagster_home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        run = instance.get_run_by_id(run_id)
        assert run.tags["dagster/max_retries"] == "0"  # CLI runs are not retried
        # the cross-run event query the retry daemon reads failures with (not on SQLite)
        finished = instance.event_log_storage.get_logs_for_all_runs_by_log_id(
            after_cursor=-1, dagster_event_type={dg.DagsterEventType.RUN_SUCCESS}
        )
        assert [e.run_id for e in finished.values()] == [run_id]
        # a run of the code location that fails is marked for the daemon to retry
        failed = dg.materialize(
            [report],
            instance=instance,
            resources={"warehouse": WarehouseResource(warehouse=str(tmp_path / "none.duckdb"))},
            raise_on_error=False,
        )
        assert not failed.success
        tags = instance.get_run_by_id(failed.run_id).tags
        assert tags.get("dagster/will_retry") == "true", tags


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(not EXHAUSTIVE, reason="the daemon's retry cycle: IMTETL_EXHAUSTIVE=1")
def test_daemon_retries_a_failed_run(
    built: Project, tmp_path: Path, pg_env: dict[str, str]
) -> None:
    from dagster_graphql import DagsterGraphQLClient

    project = _pg_project(built, tmp_path)
    port = _free_port()
    # the report of a warehouse that is not there fails at once, every time
    env = project.env(IMTETL_WAREHOUSE=str(tmp_path / "none" / "imt.duckdb"), **pg_env)
    log = open(tmp_path / "dagster_dev.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-m", "imtetl.definitions",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=project.home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=30)
        deadline = time.time() + 180
        while True:
            try:
                client._execute("{ version }")
                break
            except Exception:
                if time.time() > deadline or server.poll() is not None:
                    log_text = (tmp_path / "dagster_dev.log").read_text()[-3000:]
                    raise AssertionError(log_text) from None
                time.sleep(1)
        launched = client._execute(
            """
            mutation ($params: ExecutionParams!) {
              launchRun(executionParams: $params) {
                __typename
                ... on LaunchRunSuccess { run { runId } }
                ... on PythonError { message }
              }
            }""",
            {
                "params": {
                    "selector": {
                        "repositoryLocationName": "imtetl.definitions",
                        "repositoryName": "__repository__",
                        "jobName": "build_warehouse",
                        "assetSelection": [{"path": ["report"]}],
                    },
                    "executionMetadata": {"tags": [{"key": "dagster/max_retries", "value": "1"}]},
                }
            },
        )["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        first = launched["run"]["runId"]
        deadline, group = time.time() + 240, []
        while time.time() < deadline:
            group = _query(
                pg_env,
                "SELECT run_id, status, run_body::json->'tags'->>'dagster/retry_number' "
                "FROM runs WHERE run_id = %s "
                "OR run_body::json->'tags'->>'dagster/root_run_id' = %s ORDER BY create_timestamp",
                (first, first),
            )
            if len(group) == 2 and all(s in ("FAILURE", "SUCCESS") for _, s, _ in group):
                break
            time.sleep(2)
        assert [(s, n) for _, s, n in group] == [("FAILURE", None), ("FAILURE", "1")], (
            group, (tmp_path / "dagster_dev.log").read_text()[-3000:],
        )  # fmt: skip
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
        log.close()
