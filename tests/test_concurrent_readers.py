"""Concurrent readers: three reader processes query the published warehouse in a loop while
builds publish one state after another. No reader ever fails, every answer is one published
state (never a mix of two), and a reader holding one connection open all along never makes a
build fail.

CI runs one build; ``IMTETL_EXHAUSTIVE=1`` runs ten."""

from __future__ import annotations

import ast
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb

from tests.conftest import Project
from tests.faults import EXHAUSTIVE, MUTABLE, YEARS, copy_built, mutate

BUILDS = 10 if EXHAUSTIVE else 1
SEED = 20260908

#: One statement over facts, marts, audit and a bi view: one snapshot of one file.
TOTALS = """SELECT (SELECT count(*) FROM core.fact_enrolment),
                   (SELECT sum(new_entrants) FROM marts.foreign_intake),
                   (SELECT sum(rows_read) FROM audit.loads WHERE is_current),
                   (SELECT count(*) FROM audit.quarantine),
                   (SELECT sum(enrolled) FROM bi.international_masters_pricing)"""

READER = textwrap.dedent(
    """
    import os, sys, time, duckdb
    path, stop, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    totals = sys.argv[4]
    states, errors, queries = {}, [], 0
    held = duckdb.connect(path, read_only=True) if mode == "held" else None
    while not os.path.exists(stop):
        try:
            if held is not None:          # one connection for the whole run
                rows = [held.execute(totals).fetchone()]
            else:
                with duckdb.connect(path, read_only=True) as conn:
                    rows = [conn.execute(totals).fetchone()]
                    if mode == "twice":   # a second query on the same connection
                        rows.append(conn.execute(totals).fetchone())
                        if rows[0] != rows[1]:
                            errors.append(f"one connection saw two states: {rows}")
            for row in rows:
                states[row] = states.get(row, 0) + 1
            queries += len(rows)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.05)
    print(repr({"mode": mode, "queries": queries, "errors": errors, "states": states}))
    """
)


def _totals(path: Path) -> tuple:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(TOTALS).fetchone()


def test_readers_through_builds_see_only_whole_published_states(
    built: Project, tmp_path: Path
) -> None:
    project = copy_built(built, tmp_path)
    rng = random.Random(SEED)
    published = [_totals(project.warehouse)]
    stop = tmp_path / "stop-readers"
    command = [sys.executable, "-c", READER, str(project.warehouse), str(stop)]
    readers = [
        subprocess.Popen(
            [*command, mode, TOTALS], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for mode in ("fresh", "twice", "held")
    ]
    builds = []
    try:
        time.sleep(1.0)
        for _ in range(BUILDS):
            school, year = rng.choice(MUTABLE), rng.choice(YEARS)
            mutate(project, school, year, rng.randint(1, 4))
            result = project.imtetl("build", "--school", school, "--year", str(year))
            builds.append(result.returncode)
            assert result.returncode == 0, result.stderr[-3000:]
            published.append(_totals(project.warehouse))
            time.sleep(0.5)  # readers see this state before the next build
    finally:
        stop.touch()
        outputs = [reader.communicate(timeout=60) for reader in readers]
    assert len(set(published)) == BUILDS + 1  # each build published a new state
    summary = []
    for (out, err), reader in zip(outputs, readers, strict=True):
        assert reader.returncode == 0, err
        report = ast.literal_eval(out.strip().splitlines()[-1])
        mode, states = report["mode"], report["states"]
        assert report["errors"] == [], report["errors"][:5]
        assert report["queries"] > 0
        torn = [s for s in states if s not in published]
        assert torn == [], (mode, torn, published)
        if mode == "held":  # the state it opened, whatever was published since
            assert set(states) == {published[0]}, states
        else:
            assert len(states) >= 2, (mode, states)  # it followed the publishes
        summary.append(f"{mode}: {report['queries']} queries, {len(states)} states, 0 errors")
    print(f"\n{BUILDS} builds, all succeeded; " + "; ".join(summary))
