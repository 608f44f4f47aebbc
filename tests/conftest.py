"""Shared fixtures: a small sample landing zone and a warehouse built from it by the real
CLI (real Dagster run, real DuckDB files), once per test session: with pytest-xdist the
workers share them (the first to need them builds them, under a file lock, in a folder of
the session's base temporary directory that every worker sees).

Scheduling: with ``--dist loadfile`` a file is a unit of work. Files that run whole builds
are marked ``builds(n)`` (n: their whole builds or comparable subprocess runs); the collection
is ordered by that weight, heaviest first (and ``--no-loadscope-reorder`` keeps the order), so
that the long files start at once instead of at the end of the run."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from imtetl.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
#: The contract's checker, beside the project (a clone elsewhere has none: the tests that run it
#: on their warehouse then say so in a warning, and keep every other assertion)
CONTRACT_CHECKER = SHARED / "tools" / "check_warehouse.py"
TEST_KEY = "test-pseudonym-key-0123456789abcdef"
SMALL_SCALE = 0.15
#: Where the tests' projects look for the ministry's portal: a closed port on 127.0.0.1, so a
#: build never reaches the real portal (the national tests serve exports themselves).
NO_PORTAL = "http://127.0.0.1:9"

# Property-based tests: a small seeded run by default (CI), the full one with
# IMTETL_EXHAUSTIVE=1 (see the README). No example database: runs are reproducible.
settings.register_profile(
    "ci",
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "exhaustive",
    max_examples=400,
    deadline=None,
    database=None,
    derandomize=not os.environ.get("IMTETL_FUZZ_SEED"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(
    "exhaustive" if os.environ.get("IMTETL_EXHAUSTIVE", "") not in ("", "0") else "ci"
)


def pytest_configure(config: pytest.Config) -> None:
    # PostgreSQL for the DuckLake, Celery and Dagster-storage tests: started once, by the
    # controller (xdist's workers inherit IMTETL_TEST_POSTGRES_URL), where Debian's binaries
    # exist and no server is given (tests/servers.py)
    if not hasattr(config, "workerinput"):
        from tests.servers import start_postgres

        config._imtetl_postgres = start_postgres()
    config.addinivalue_line(
        "markers",
        "builds(n): the test runs n whole builds or comparable subprocess runs (its file is "
        "scheduled by the sum, heaviest first)",
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    server = getattr(config, "_imtetl_postgres", None)
    if server is not None:
        server.stop()


def contract_checker_missing() -> bool:
    """True (with a warning naming the path) when ../shared's contract checker is absent."""
    if CONTRACT_CHECKER.exists():
        return False
    import warnings

    warnings.warn(f"no contract checker at {CONTRACT_CHECKER}: its check did not run", stacklevel=2)
    return True


def _weight(item: pytest.Item) -> int:
    return sum(mark.args[0] if mark.args else 1 for mark in item.iter_markers("builds"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files in decreasing order of their builds (a stable sort: ties keep their order, and
    so does every file's own order of tests). Every worker sorts alike, as xdist requires."""
    weights: dict[str, int] = {}
    for item in items:
        weights[item.nodeid.split("::")[0]] = weights.get(item.nodeid.split("::")[0], 0) + (
            _weight(item)
        )
    items.sort(key=lambda item: -weights[item.nodeid.split("::")[0]])


def pytest_terminal_summary(terminalreporter) -> None:
    """The fuzz suites' counts of cases and outcomes, for the record."""
    from tests.mutations import EXHAUSTIVE, SEED, TALLY

    if TALLY:
        mode = "exhaustive" if EXHAUSTIVE else "CI subset"
        terminalreporter.write_sep("-", f"fuzz cases ({mode}, seed {SEED})")
        for name, count in sorted(TALLY.items()):
            terminalreporter.write_line(f"{name}: {count}")


@dataclass
class Project:
    """An isolated project home: its own landing zone, warehouse and Dagster instance."""

    home: Path
    landing: Path
    warehouse: Path
    pipelines: Path
    dagster_home: Path
    build_output: str = ""  # stdout and stderr of the fixture's `imtetl build`

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IMTETL_", "DAGSTER_"))}
        env.update(
            IMTETL_HOME=str(self.home),
            IMTETL_LANDING=str(self.landing),
            IMTETL_WAREHOUSE=str(self.warehouse),
            IMTETL_PIPELINES=str(self.pipelines),
            IMTETL_PSEUDONYM_KEY=TEST_KEY,
            DAGSTER_HOME=str(self.dagster_home),
            IMTETL_ODS_BASE_URL=NO_PORTAL,
            PYTHONWARNINGS="ignore",
        )
        env.update(extra)
        return env

    def keep_schools(self, *codes: str) -> None:
        """Only these schools are onboarded (the others' YAML files removed): for whole builds
        whose behaviour is per school, so that they build no more schools than it takes."""
        for config in self.pipelines.glob("*.yaml"):
            if config.stem.upper() not in codes:
                config.unlink()

    def imtetl(self, *args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "imtetl.cli", *args],
            env=self.env(**env),
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _existing_project(base: Path, landing: Path | None = None) -> Project:
    """The Project that ``make_project(base, landing)`` made, without making it again."""
    home = base / "home"
    return Project(
        home=home,
        landing=landing or home / "data" / "landing",
        warehouse=home / "warehouse" / "imt.duckdb",
        pipelines=home / "pipelines",
        dagster_home=base / "dagster_home",
    )


def make_project(base: Path, landing: Path | None = None) -> Project:
    """A project home under ``base`` sharing the repo's sql/ and a copy of pipelines/."""
    home = base / "home"
    home.mkdir(parents=True)
    (home / "sql").symlink_to(ROOT / "sql")
    shutil.copytree(ROOT / "pipelines", home / "pipelines")
    dagster_home = base / "dagster_home"
    dagster_home.mkdir()
    # the project's event log (Dagster's SQLite one without a disk flush per event: a build
    # stores ~600 events, the dbt checks among them), under this home
    (dagster_home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        "event_log_storage:\n  module: imtetl.defs.event_storage\n"
        f"  class: SqliteEventLogStorage\n  config:\n    base_dir: {dagster_home / 'runs'}\n"
    )
    return _existing_project(base, landing)


def _session_shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this test session that all its xdist workers share (each worker's base
    temporary directory is a child of the session's)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    shared = base / "shared"
    shared.mkdir(exist_ok=True)
    return shared


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _once(tmp_path_factory: pytest.TempPathFactory, name: str, make) -> Path:
    """``make(folder)`` run once per session, whichever worker asks first; the others wait
    for it and reuse its folder. A failed ``make`` leaves nothing: the next one tries again
    (and fails the same way, with its own message)."""
    shared = _session_shared(tmp_path_factory)
    folder, done = shared / name, shared / f"{name}.done"
    with _locked(shared / f"{name}.lock"):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            try:
                make(folder)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            done.touch()
    return folder


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample exports of all eight schools at a small scale (read-only for tests)."""
    from imtetl.sample import write_sample

    return _once(tmp_path_factory, "landing", lambda out: write_sample(out, scale=SMALL_SCALE))


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, small_landing: Path) -> Project:
    """A warehouse built from the small sample by `imtetl build`, once per session (shared
    by the xdist workers: read-only for tests; those that change it copy it, built_copy)."""

    def build(base: Path) -> None:
        project = make_project(base, landing=small_landing)
        result = project.imtetl("build")
        assert result.returncode == 0, result.stdout + result.stderr
        (base / "build_output.json").write_text(json.dumps(result.stdout + result.stderr))

    base = _once(tmp_path_factory, "built", build)
    project = _existing_project(base, landing=small_landing)
    project.build_output = json.loads((base / "build_output.json").read_text())
    return project


@pytest.fixture
def project(tmp_path: Path, small_landing: Path) -> Project:
    """A fresh project with its own writable copy of the small sample."""
    landing = tmp_path / "landing"
    shutil.copytree(small_landing, landing)
    return make_project(tmp_path, landing=landing)


def compiled_model(model: str, work: Path) -> str:
    """A model's SELECT as dbt compiles it (refs and sources as the warehouse names them),
    for tests that run one model's SQL on tables they make. ``work``: a scratch folder."""
    from imtetl.load import dbt

    settings = Settings(
        home=work, landing=work, warehouse=work / "imt.duckdb", pipelines=ROOT / "pipelines",
        sql=ROOT / "sql", years=(2021,),
    )  # fmt: skip
    compiled = dbt.invoke(settings, ["compile", "--select", model])
    assert compiled.success, compiled.exception
    return compiled.results[0].node.compiled_code


@pytest.fixture
def built_copy(built: Project, tmp_path: Path) -> Project:
    """A writable copy of the session's built project (landing, build database, published
    warehouse, a fresh Dagster instance): for tests that start from a whole build."""
    from tests.faults import copy_built

    return copy_built(built, tmp_path)
