"""Crash safety: `imtetl build` killed with SIGKILL at seeded random points never leaves
readers anything but one complete published state, and the next build recovers by itself.

CI runs a few seeded trials; ``IMTETL_EXHAUSTIVE=1`` runs the full suite (24 trials, a
quarter of them whole builds). ``IMTETL_FAULT_SEED`` picks another seed."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from imtetl.publish.integrity import IntegrityError, bi_views, check_file
from imtetl.publish.release import publish_release
from tests.conftest import ROOT, Project
from tests.faults import (
    EXHAUSTIVE,
    MUTABLE,
    YEARS,
    active_runs,
    copy_built,
    fingerprint,
    instance_of,
    leftovers,
    mutate,
    run_killed,
)

SEED = int(os.environ.get("IMTETL_FAULT_SEED", "20260907"))
TRIALS = 24 if EXHAUSTIVE else 2
VIEWS = bi_views(ROOT / "sql")
#: Lines the build prints as it goes (each step when it ends): anchors for kill points.
MARKERS = (
    "Building the warehouse",  # the run starts
    "staging/countries",
    "staging/enrolment",
    "staging/tuition",
    "core.fact_enrolment",  # dbt's line for the fact, inside the sql_models step
    "✓ sql_models",  # dbt's step (every model and test) ends: the publish step follows
    "published_warehouse",  # published; data docs and report follow
)


def _plan(rng: random.Random, trial: int, expected: float) -> dict:
    """Where to kill: half the trials (drawn) at a uniform random time over the expected
    duration of the build, the others a short random delay after a random step ends. The CI
    subset kills once in the publish window and once at a random time."""
    if not EXHAUSTIVE and trial == 0:
        return {"after": MARKERS[5], "delay": rng.uniform(0.0, 0.6)}
    if not EXHAUSTIVE or rng.random() < 0.5:
        return {"at": rng.uniform(0.3, 0.95 * expected)}
    return {"after": rng.choice(MARKERS), "delay": rng.uniform(0.0, 0.6)}


@pytest.mark.builds(4)
def test_killed_builds_leave_one_whole_published_state_and_recover(
    built: Project, tmp_path: Path
) -> None:
    project = copy_built(built, tmp_path)
    rng = random.Random(SEED)
    states = [fingerprint(project.warehouse)]
    expected = {"partition": 13.0, "full": 25.0}
    outcomes: list[str] = []
    recovered_runs = 0
    for trial in range(TRIALS):
        full = EXHAUSTIVE and trial % 4 == 3
        school, year = rng.choice(MUTABLE), rng.choice(YEARS)
        mutate(project, school, year, rng.randint(1, 3))
        args = ("build",) if full else ("build", "--school", school, "--year", str(year))
        kind = "full" if full else "partition"
        killed = run_killed(project, args, **_plan(rng, trial, expected[kind]))
        label = f"trial {trial} ({kind} {' '.join(args[1:])}, kill {killed.plan})"
        if not killed.killed:
            assert killed.returncode == 0, (label, killed.lines[-20:])

        # What readers open now: whole, and one complete published state.
        problems = check_file(project.warehouse, views=VIEWS)
        assert problems == [], (label, problems)
        after_kill = fingerprint(project.warehouse)
        left = leftovers(project)
        abandoned = [run.run_id for run in active_runs(project)]

        # The next build needs no manual clean-up.
        started = time.perf_counter()
        rerun = project.imtetl(*args)
        expected[kind] = time.perf_counter() - started
        assert rerun.returncode == 0, (label, rerun.stderr[-3000:])
        state = fingerprint(project.warehouse)
        assert after_kill in (states[-1], state), label
        assert check_file(project.warehouse, views=VIEWS) == []
        assert leftovers(project) == [], (label, leftovers(project))
        assert active_runs(project) == [], label
        with instance_of(project) as instance:
            for run_id in abandoned:
                run = instance.get_run_by_id(run_id)
                assert run.status.value == "FAILURE", (label, run.status)
                assert f"Run {run_id[:8]} was left running" in rerun.stderr
        recovered_runs += len(abandoned)
        published = "new" if after_kill == state and after_kill != states[-1] else "previous"
        ended = f"killed at {killed.killed_at:.2f}s" if killed.killed else "finished"
        outcomes.append(
            f"{label}: {ended}"
            f" after {killed.last_step!r}; readers saw the {published} state; "
            f"left {left or 'nothing'}, {len(abandoned)} abandoned run(s); rerun ok"
        )
        states.append(state)
    print("\n".join(["", f"seed {SEED}, {TRIALS} trials:", *outcomes]))
    assert recovered_runs >= 1  # at least one kill left a run STARTED, and it was recovered
    assert len(set(states)) > 1


#: A read-write session on the published file that dies before its checkpoint: it leaves
#: a WAL beside the file (the warehouse is never opened read-write by imtetl itself).
ROGUE_WRITER = textwrap.dedent(
    """
    import os, signal, sys, duckdb
    conn = duckdb.connect(sys.argv[1])
    conn.execute("SET checkpoint_threshold = '1GB'")
    conn.execute("DELETE FROM core.fact_enrolment WHERE school_code = 'TP'")
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def _enrolled(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute("SELECT count(*) FROM core.fact_enrolment").fetchone()[0]


def test_a_stale_wal_beside_the_warehouse_never_reaches_readers(
    built: Project, tmp_path: Path
) -> None:
    project = copy_built(built, tmp_path)
    before, rows = fingerprint(project.warehouse), _enrolled(project.warehouse)
    scratch = tmp_path / "scratch.duckdb"
    shutil.copyfile(project.warehouse, scratch)
    subprocess.run([sys.executable, "-c", ROGUE_WRITER, str(scratch)], check=False)
    wal = project.warehouse.with_name(project.warehouse.name + ".wal")
    shutil.move(scratch.with_name(scratch.name + ".wal"), wal)
    # DuckDB replays a WAL found beside the file it opens, even read-only: the hazard
    assert _enrolled(project.warehouse) < rows
    check = project.imtetl("check")
    assert check.returncode == 1 and "stale WAL" in check.stderr, check.stderr

    # a publish (the real one, from the build database) removes it before its rename
    with duckdb.connect(str(project.warehouse.parent / ".build" / "build.duckdb")) as conn:
        publish_release(conn, project.warehouse)
    assert not wal.exists()
    assert fingerprint(project.warehouse) == before and _enrolled(project.warehouse) == rows
    assert check_file(project.warehouse, views=VIEWS) == []


def test_a_release_that_is_not_whole_is_never_published(built: Project, tmp_path: Path) -> None:
    project = copy_built(built, tmp_path)
    before = fingerprint(project.warehouse)
    with duckdb.connect(str(project.warehouse.parent / ".build" / "build.duckdb")) as conn:
        # half a partition: some of a load's rows gone from its fact table
        conn.execute(
            "DELETE FROM core.fact_enrolment WHERE school_code = 'MSE' AND academic_year = 2023 "
            "AND student_key IN (SELECT student_key FROM core.fact_enrolment "
            "WHERE school_code = 'MSE' AND academic_year = 2023 LIMIT 5)"
        )
        with pytest.raises(IntegrityError, match=r"MSE enrolment .*half-written partition"):
            publish_release(conn, project.warehouse)
    assert fingerprint(project.warehouse) == before
    assert leftovers(project) == []


@pytest.mark.builds(1)
def test_a_build_killed_by_sigterm_ends_its_run(built: Project, tmp_path: Path) -> None:
    """SIGTERM (a service manager stopping it) is an interrupt: the run ends failed at once."""
    project = copy_built(built, tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "imtetl.cli", "build", "--school", "TP", "--year", "2022"],
        env=project.env(PYTHONUNBUFFERED="1"), cwd=project.home, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    for line in proc.stdout:
        if "staging/countries" in line:
            proc.send_signal(signal.SIGTERM)
            break
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert active_runs(project) == []
    assert check_file(project.warehouse, views=VIEWS) == []


def test_pseudonym_key_file_is_never_left_empty(tmp_path: Path, monkeypatch) -> None:
    from imtetl.transform.pseudonym import KEY_ENV, MissingKeyError, load_key

    monkeypatch.delenv(KEY_ENV, raising=False)
    key_file = tmp_path / ".imtetl" / "pseudonym_key"
    with pytest.warns(UserWarning):
        key = load_key(key_file, sample=True)
    assert len(key) == 64 and key_file.read_bytes().strip() == key
    assert sorted(p.name for p in key_file.parent.iterdir()) == ["pseudonym_key"]
    assert load_key(key_file, sample=True) == key  # the same key next time
    key_file.write_text("")  # as a run killed half-way through writing it once could
    with pytest.raises(MissingKeyError, match="empty or too short"):
        load_key(key_file, sample=True)
