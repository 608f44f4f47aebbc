"""Helpers of the fault-injection tests: a project copied from the session's built one with
the project's own Dagster instance configuration, fingerprints of published states, input
changes that give each build a new state, and a build killed at a chosen point.

Full or CI-sized: ``IMTETL_EXHAUSTIVE=1`` switches the suites to their full counts."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from tests.conftest import ROOT, Project, make_project

EXHAUSTIVE = os.environ.get("IMTETL_EXHAUSTIVE", "") not in ("", "0")
#: Schools whose enrolment exports are TSV files: dropping their last lines makes new inputs.
MUTABLE = ("ALBI", "ALES")
YEARS = (2021, 2022, 2023, 2024, 2025)


def copy_built(built: Project, base: Path) -> Project:
    """A writable copy of the session's built project (landing, build database, published
    warehouse) with a fresh Dagster instance configured as the project's dagster.yaml
    (pools, run monitoring), its relative paths made absolute."""
    landing = base / "landing"
    shutil.copytree(built.landing, landing)
    project = make_project(base, landing=landing)
    shutil.copytree(built.warehouse.parent, project.warehouse.parent, symlinks=True)
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    home = project.dagster_home
    for key in ("run_storage", "event_log_storage", "schedule_storage"):  # under this home
        relative = config[key]["config"]["base_dir"].removeprefix(".dagster/")
        config[key]["config"]["base_dir"] = str(home / relative)
    config["local_artifact_storage"]["config"]["base_dir"] = str(home)
    config["compute_logs"]["config"]["base_dir"] = str(home / "logs")
    (home / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return project


def instance_of(project: Project):
    from dagster import DagsterInstance

    return DagsterInstance.from_config(str(project.dagster_home))


def active_runs(project: Project) -> list:
    from dagster import DagsterRunStatus, RunsFilter

    statuses = [
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
        DagsterRunStatus.CANCELING,
        DagsterRunStatus.QUEUED,
    ]
    with instance_of(project) as instance:
        return [r.dagster_run for r in instance.get_run_records(RunsFilter(statuses=statuses))]


def _hash_select(conn: duckdb.DuckDBPyConnection, schema: str, table: str, where: str) -> str:
    """One row's hash, leaving out what differs from one run to the next (load ids and
    times), doubles rounded (parallel sums may differ in their last bit)."""
    columns = conn.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
        [schema, table],
    ).fetchall()
    varying = {"load_id", "run_id", "loaded_at", "started_at", "finished_at", "is_current",
               "last_received_at"}  # fmt: skip
    parts = [
        f'round("{name}", 9)' if kind == "DOUBLE" else f'"{name}"'
        for name, kind in columns
        if name not in varying
    ]
    return (
        f"SELECT count(*), coalesce(sum(hash(s)), 0)::HUGEINT FROM "
        f'(SELECT {", ".join(parts)} FROM {schema}."{table}" {where}) s'
    )


def fingerprint(path: Path) -> tuple:
    """What a published state holds, independent of the run that published it: each core
    and marts table's row count and a hash of its rows, and the current loads and
    quarantined rows (not audit.releases: each publish adds its own row there)."""
    with duckdb.connect(str(path), read_only=True) as conn:
        tables = conn.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE schema_name IN ('core', 'marts', 'audit') "
            "AND (schema_name, table_name) <> ('audit', 'releases') ORDER BY ALL"
        ).fetchall()
        out = []
        for schema, table in tables:
            where = "WHERE is_current" if (schema, table) == ("audit", "loads") else ""
            count, digest = conn.execute(_hash_select(conn, schema, table, where)).fetchone()
            out.append((f"{schema}.{table}", count, digest))
    return tuple(out)


def mutate(project: Project, school: str, year: int, drop: int) -> None:
    """New inputs for one school and year: its enrolment export loses its last lines."""
    path = project.landing / school.lower() / f"EXPORT_ENROLMENT_{year}.tsv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[: max(2, len(lines) - drop)]) + "\n", encoding="utf-8")


@dataclass
class KilledBuild:
    args: tuple[str, ...]
    plan: str
    returncode: int | None = None  # None: killed
    elapsed: float = 0.0
    killed_at: float | None = None
    last_step: str = "(none)"
    lines: list[tuple[float, str]] = field(default_factory=list)

    @property
    def killed(self) -> bool:
        return self.killed_at is not None


def run_killed(
    project: Project,
    args: tuple[str, ...],
    *,
    at: float | None = None,
    after: str | None = None,
    delay: float = 0.0,
    timeout: float = 300,
) -> KilledBuild:
    """Run ``imtetl *args`` and SIGKILL its process group either ``at`` seconds after the
    start, or ``delay`` seconds after a line containing ``after`` is printed (the progress
    logger prints each step as it ends)."""
    plan = f"at {at:.2f}s" if at is not None else f"{delay:.2f}s after {after!r}"
    result = KilledBuild(args, plan)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "imtetl.cli", *args],
        env=project.env(PYTHONUNBUFFERED="1"),
        cwd=project.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen = threading.Event()
    deadline = [started + at] if at is not None else [None]

    def read() -> None:
        for line in proc.stdout:
            now = time.perf_counter()
            result.lines.append((now - started, line.rstrip()))
            if "✓" in line or "✗" in line:
                result.last_step = line.strip()
            if after is not None and not seen.is_set() and after in line:
                deadline[0] = now + delay
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        while proc.poll() is None:
            now = time.perf_counter()
            if deadline[0] is not None and now >= deadline[0]:
                os.killpg(proc.pid, signal.SIGKILL)
                result.killed_at = now - started
                break
            if now - started > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                raise TimeoutError(f"imtetl {' '.join(args)} ran over {timeout}s")
            time.sleep(0.005)
        proc.wait()
    finally:
        reader.join(timeout=10)
    result.elapsed = time.perf_counter() - started
    if result.killed_at is None:
        result.returncode = proc.returncode
    return result


def leftovers(project: Project) -> list[str]:
    """Files a killed run may leave beside the published warehouse and in the build area."""
    folder = project.warehouse.parent
    found = [p.name for p in folder.glob(f".{project.warehouse.name}.*")]
    found += [p.name for p in folder.glob(f"{project.warehouse.name}.wal")]
    found += [p.name for p in (folder / ".build").glob("*.wal")]
    return sorted(found)
