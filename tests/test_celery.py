"""The Celery executor on real servers: Debian's redis-server on 127.0.0.1 as broker and result
backend, two Celery workers (`celery -A imtetl.celery_app worker`, one step at a time
each) sharing one Dagster instance (SQLite storage under a temporary DAGSTER_HOME), and the
``build_warehouse`` job of ``imtetl.definitions`` over every school and year of the sample,
launched as `dagster job execute` with ``IMTETL_EXECUTOR=celery``. The run must succeed with
every step executed by a worker, and the published warehouse must pass the contract check
(../shared/tools/check_warehouse.py). It takes about 70 s, so it runs with
``IMTETL_EXHAUSTIVE=1`` only.

The warehouse backend is a fixture (``warehouse_backend``): the DuckDB file, then a DuckLake
on the test's PostgreSQL (IMTETL_TEST_POSTGRES_URL), whose staging steps the two workers write
at once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import SHARED, Project
from tests.faults import EXHAUSTIVE
from tests.servers import EXTRAS_HINT, POSTGRES_HINT

REDIS_SERVER = shutil.which("redis-server") or (
    "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
)
CHECK = SHARED / "tools" / "check_warehouse.py"
WORKERS = ("w1", "w2")

pytestmark = [
    # ~70 s alone on the 2-core CI machine (the run itself ~55 s), more beside the suite
    pytest.mark.skipif(
        not EXHAUSTIVE, reason="the Celery build on two workers (~70 s): IMTETL_EXHAUSTIVE=1"
    ),
    pytest.mark.skipif(
        REDIS_SERVER is None,
        reason="no redis-server (Debian's package redis-server: apt-get install redis-server)",
    ),
    pytest.mark.timeout(900),
]


@dataclass
class Backend:
    """The warehouse backend of the run: its variables and what the contract check opens."""

    env: dict[str, str] = field(default_factory=dict)
    #: the argument of check_warehouse.py; None: the project's published DuckDB file
    target: str | None = None


@pytest.fixture(params=["duckdb_file", "ducklake"])
def warehouse_backend(request, tmp_path: Path) -> Iterator[Backend]:
    """The DuckDB file (no variables), or a DuckLake in a database of its own on the test's
    PostgreSQL (IMTETL_CATALOG, IMTETL_DATA_PATH; the contract check attaches it)."""
    if request.param == "duckdb_file":
        yield Backend()
        return
    url = os.environ.get("IMTETL_TEST_POSTGRES_URL", "")
    if not url:
        pytest.skip(POSTGRES_HINT)
    pytest.importorskip("duckdb_extension_ducklake", reason=EXTRAS_HINT)
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import psycopg2

    from imtetl.load.lake import Catalog

    database = f"imtetl_celery_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(url)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {database}")
    catalog = urlunsplit(urlsplit(url)._replace(path=f"/{database}"))
    parsed = Catalog.parse(catalog)
    try:
        yield Backend(
            env={
                "IMTETL_CATALOG": catalog,
                "IMTETL_DATA_PATH": str(tmp_path / "lake-data"),
                "PGPASSWORD": parsed.password or "",
            },
            target=f"ducklake:postgres:{parsed.libpq()}",
        )
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen, grace: float = 20) -> None:
    """Stop a process this test started, and its children (its own process group)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test only: 127.0.0.1, a free port, nothing persisted."""
    redis = pytest.importorskip("redis", reason=EXTRAS_HINT)
    port = _free_port()
    work = tmp_path / "redis"
    work.mkdir()
    log = (work / "redis.log").open("w")
    server = subprocess.Popen(
        [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(work), "--protected-mode", "yes"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.ping():
                    break
            except redis.exceptions.ConnectionError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start: {(work / 'redis.log').read_text()}")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(server)
        log.close()


@pytest.fixture
def cluster_env(project: Project, redis_url: str, warehouse_backend: Backend) -> dict[str, str]:
    """The environment of the run and of every worker: the project, the shared instance
    (DAGSTER_HOME), the Celery executor on the test's redis, the backend's variables."""
    pytest.importorskip("dagster_celery", reason=EXTRAS_HINT)
    return project.env(
        IMTETL_EXECUTOR="celery",
        IMTETL_CELERY_BROKER=redis_url,
        **warehouse_backend.env,
    )


@pytest.fixture
def workers(project: Project, cluster_env: dict[str, str], tmp_path: Path) -> Iterator[dict]:
    """Two Celery workers, each executing one step at a time; their logs by name."""
    logs = {name: tmp_path / f"worker-{name}.log" for name in WORKERS}
    processes = []
    try:
        for name in WORKERS:
            command = [
                sys.executable, "-m", "celery", "-A", "imtetl.celery_app", "worker",
                "-Q", "dagster", "-n", f"{name}@%h", "--concurrency", "1",
                "--prefetch-multiplier", "1", "--without-gossip", "--without-mingle",
                "-l", "INFO", "-f", str(logs[name]),
            ]  # fmt: skip
            worker = subprocess.Popen(
                command, env=cluster_env, cwd=project.home, stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            processes.append(worker)
        deadline = time.monotonic() + 90
        for name, process in zip(WORKERS, processes, strict=True):
            while not (logs[name].exists() and " ready." in logs[name].read_text()):
                if process.poll() is not None or time.monotonic() > deadline:
                    text = logs[name].read_text() if logs[name].exists() else "(no log)"
                    pytest.fail(f"Celery worker {name} did not start:\n{text[-3000:]}")
                time.sleep(0.2)
        yield logs
    finally:
        for process in processes:
            _stop(process)


def test_build_warehouse_on_two_celery_workers(
    project: Project,
    cluster_env: dict[str, str],
    workers: dict,
    warehouse_backend: Backend,
    tmp_path: Path,
) -> None:
    import dagster as dg

    from imtetl.defs.partitions import school_year_partitions
    from imtetl.defs.schedules import range_tags

    keys = school_year_partitions.get_partition_keys()
    tags = {**range_tags(keys[0], keys[-1]), "imtetl/trigger": "test_celery"}
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "dagster", "job", "execute", "-m", "imtetl.definitions",
         "-j", "build_warehouse", "--tags", json.dumps(tags)],
        env=cluster_env, cwd=project.home, capture_output=True, text=True, timeout=780,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    (tmp_path / "run.log").write_text(run.stdout + run.stderr)

    with dg.DagsterInstance.from_config(str(project.dagster_home)) as instance:
        (record,) = instance.get_run_records(dg.RunsFilter(job_name="build_warehouse"))
        dagster_run = record.dagster_run
        events = [
            entry.dagster_event
            for entry in instance.all_logs(dagster_run.run_id)
            if entry.dagster_event is not None
        ]
    failures = [
        f"{e.step_key}: {e.step_failure_data.error.to_string()[-1500:]}"
        for e in events
        if e.event_type == dg.DagsterEventType.STEP_FAILURE
    ]
    assert dagster_run.status == dg.DagsterRunStatus.SUCCESS, (
        "\n".join(failures) or (run.stdout + run.stderr)[-4000:]
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]

    # every step was executed by one of the two workers (dagster-celery's engine event per
    # task names the worker that took it)
    ran_on: dict[str, str] = {}
    for event in events:
        if event.event_type != dg.DagsterEventType.ENGINE_EVENT or not event.step_key:
            continue
        metadata = event.engine_event_data.metadata or {}
        if "Celery worker" in metadata:
            ran_on[event.step_key] = str(metadata["Celery worker"].value)
    succeeded = {e.step_key for e in events if e.event_type == dg.DagsterEventType.STEP_SUCCESS}
    assert succeeded and succeeded <= set(ran_on), succeeded - set(ran_on)
    per_worker = Counter(hostname.split("@")[0] for hostname in ran_on.values())
    assert set(per_worker) == set(WORKERS), per_worker
    assert {e.step_key for e in events if e.event_type == dg.DagsterEventType.STEP_START} == set(
        ran_on
    )
    print(
        f"celery build: {elapsed:.1f}s, {len(ran_on)} steps: "
        + ", ".join(f"{name} ran {per_worker[name]}" for name in WORKERS)
    )

    # the published warehouse meets the contract
    if not CHECK.exists():
        pytest.skip(f"no contract check at {CHECK} (../shared/tools)")
    target = warehouse_backend.target or str(project.warehouse)
    checked = subprocess.run(
        [sys.executable, str(CHECK), target],
        env=cluster_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "contract holds" in checked.stdout, checked.stdout
