"""Readers through publishes, all through the same builds (one copy of the session's build):
reader processes query the published warehouse in a loop, `imtetl serve` serves its bi views
to a remote client, while a whole build and then partition builds publish one state after
another. No reader ever fails, every answer is one published state (never a mix of two), a
connection held open keeps its state and never makes a build fail, and the server follows
each publish.

CI runs the whole build and one partition build; ``IMTETL_EXHAUSTIVE=1`` runs ten partition
builds. The readers pause between their queries (50 to 150 ms): each still queries hundreds
of times through a build, and the builds they watch are not slowed down by readers taking a
core of the machine's two."""

from __future__ import annotations

import ast
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import Project
from tests.faults import EXHAUSTIVE, MUTABLE, YEARS, mutate
from tests.servers import EXTRAS_HINT

BUILDS = 10 if EXHAUSTIVE else 1
SEED = 20260908
SERVE_TOKEN = "a-long-enough-serve-token-0123"

#: One statement over facts, marts, audit and a bi view: one snapshot of one file.
TOTALS = """SELECT (SELECT count(*) FROM core.fact_enrolment),
                   (SELECT sum(new_entrants) FROM marts.foreign_intake),
                   (SELECT sum(rows_read) FROM audit.loads WHERE is_current),
                   (SELECT count(*) FROM audit.quarantine),
                   (SELECT sum(enrolled) FROM bi.international_masters_pricing)"""
#: What the consistent reader compares (facts and a mart, in one statement).
PAIR = (
    "SELECT (SELECT count(*) FROM core.fact_enrolment), "
    "(SELECT sum(new_entrants) FROM marts.foreign_intake)"
)

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
        time.sleep(0.15)
    print(repr({"mode": mode, "queries": queries, "errors": errors, "states": states}))
    """
)

#: A reader holding one connection across the whole build while opening a new one each time
#: (formerly tests/test_bi.py's): the new ones see the old or the new state, the held one
#: always its own.
CONSISTENT_READER = textwrap.dedent(
    """
    import os, sys, time, duckdb
    path, stop, pair = sys.argv[1], sys.argv[2], sys.argv[3]
    held = duckdb.connect(path, read_only=True)   # kept open across the whole build
    held_state = held.execute(pair).fetchone()
    states, errors = set(), 0
    while not os.path.exists(stop):
        try:
            with duckdb.connect(path, read_only=True) as conn:   # a new reader each time
                states.add(conn.execute(pair).fetchone())
            again = held.execute(pair).fetchone()
            assert again == held_state, (again, held_state)
        except Exception as exc:
            errors += 1
            print("ERROR", repr(exc), flush=True)
        time.sleep(0.1)
    print("STATES", sorted(states), "ERRORS", errors, flush=True)
    """
)

#: A reader holding the warehouse open for the whole build, querying it in a tight loop
#: (formerly tests/test_operations.py's): it never blocks the build nor fails.
HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    path, stop = sys.argv[1], sys.argv[2]
    import os
    conn = duckdb.connect(path, read_only=True)   # held open for the whole build
    queries = errors = 0
    while not os.path.exists(stop):
        try:
            total = conn.execute("SELECT count(*) FROM core.fact_enrolment").fetchone()[0]
            marts = conn.execute("SELECT sum(new_entrants) FROM marts.foreign_intake").fetchone()[0]
            assert total > 0 and marts > 0
            queries += 1
        except Exception as exc:
            errors += 1
            print("ERROR", exc, flush=True)
        time.sleep(0.05)
    print(f"queries={queries} errors={errors}", flush=True)
    """
)


def _totals(path: Path, sql: str = TOTALS) -> tuple:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(sql).fetchone()


def _bi_count(project: Project) -> int:
    with duckdb.connect(str(project.warehouse), read_only=True) as conn:
        return conn.execute("SELECT count(*) FROM bi.foreign_intake").fetchone()[0]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _quack():
    """The serve extra's client, or None where the extra is not installed."""
    try:
        import duckdb_extension_quack  # noqa: F401
        from adbc_driver_quack import dbapi
    except ImportError:
        return None
    return dbapi


def _serve_query(quack, url: str, token: str, sql: str):
    with quack.connect(url, db_kwargs={"adbc.quack.token": token}, autocommit=True) as conn:
        cursor = conn.cursor()
        cursor.execute(sql)
        return cursor.fetchall()


def _check_the_server_before_the_build(quack, url: str, server, before: int) -> None:
    """The server (formerly tests/test_serve.py's test): bi only, read-only, a token."""
    deadline = time.time() + 60
    while True:
        try:
            rows = _serve_query(quack, url, SERVE_TOKEN, "SELECT count(*) FROM bi.foreign_intake")
            break
        except Exception:
            if time.time() > deadline or server.poll() is not None:
                raise
            time.sleep(0.5)
    assert rows == [(before,)]
    masked = _serve_query(
        quack, url, SERVE_TOKEN, "SELECT count(*) FROM bi.foreign_intake WHERE masked"
    )
    assert masked[0][0] > 0
    with pytest.raises(Exception, match=r"(?i)auth"):
        _serve_query(quack, url, "not-the-token-at-all", "SELECT 1")
    # only bi is served, read-only
    tables = _serve_query(quack, url, SERVE_TOKEN, "SELECT DISTINCT schema_name FROM "
                          "duckdb_views() WHERE NOT internal")  # fmt: skip
    assert tables == [("bi",)]
    with pytest.raises(Exception, match=r"(?i)read.only"):
        _serve_query(quack, url, SERVE_TOKEN, "CREATE TABLE x AS SELECT 1")


@pytest.mark.builds(2)
def test_readers_and_the_server_through_builds_see_only_whole_published_states(
    built_copy: Project, tmp_path: Path
) -> None:
    project = built_copy  # a whole build, copied
    rng = random.Random(SEED)
    published = [_totals(project.warehouse)]
    old_pair = _totals(project.warehouse, PAIR)
    bi_before = _bi_count(project)
    stop, stop_whole = tmp_path / "stop-readers", tmp_path / "stop-after-the-whole-build"
    command = [sys.executable, "-c", READER, str(project.warehouse), str(stop)]
    readers = [
        subprocess.Popen(
            [*command, mode, TOTALS], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for mode in ("fresh", "twice", "held")
    ]
    consistent = subprocess.Popen(
        [sys.executable, "-c", CONSISTENT_READER, str(project.warehouse), str(stop_whole), PAIR],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(project.warehouse), str(stop_whole)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    quack = _quack()
    server = None
    if quack is not None:
        url = f"quack://127.0.0.1:{_port()}"
        server = subprocess.Popen(
            [sys.executable, "-m", "imtetl.cli", "serve", "--port", url.rsplit(":", 1)[1]],
            env=project.env(IMTETL_SERVE_TOKEN=SERVE_TOKEN), cwd=project.home,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
    consistent_out = holder_out = server_out = ""
    try:
        if server is not None:
            _check_the_server_before_the_build(quack, url, server, bi_before)
        time.sleep(1.0)
        # a whole build on new inputs: ALBI's 2025 enrolment export shrinks to 10 rows
        path = project.landing / "albi" / "EXPORT_ENROLMENT_2025.tsv"
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join(lines[:11]) + "\n", encoding="utf-8")
        result = project.imtetl("build")
        # (a writer blocked by a reader's lock gives up, and the build fails with it)
        assert result.returncode == 0, result.stderr[-3000:]
        published.append(_totals(project.warehouse))
        new_pair = _totals(project.warehouse, PAIR)
        albi_2025 = _totals(
            project.warehouse,
            "SELECT count(*) FROM core.fact_enrolment WHERE school_code = 'ALBI' "
            "AND academic_year = 2025",
        )[0]
        stop_whole.touch()
        consistent_out, _ = consistent.communicate(timeout=60)
        holder_out, _ = holder.communicate(timeout=60)
        if server is not None:  # the server follows the new publish
            bi_after = _bi_count(project)
            assert bi_after != bi_before
            deadline = time.time() + 30
            query = "SELECT count(*) FROM bi.foreign_intake"
            while _serve_query(quack, url, SERVE_TOKEN, query) != [(bi_after,)]:
                assert time.time() < deadline, "the server did not follow the new publish"
                time.sleep(0.5)
        time.sleep(0.5)  # readers see this state before the next build
        # partition builds, one after another
        for _ in range(BUILDS):
            school, year = rng.choice(MUTABLE), rng.choice(YEARS)
            mutate(project, school, year, rng.randint(1, 4))
            result = project.imtetl("build", "--school", school, "--year", str(year))
            assert result.returncode == 0, result.stderr[-3000:]
            published.append(_totals(project.warehouse))
            time.sleep(0.5)  # readers see this state before the next build
    finally:
        stop.touch()
        stop_whole.touch()
        outputs = [reader.communicate(timeout=60) for reader in readers]
        if not consistent_out:
            consistent_out, _ = consistent.communicate(timeout=60)
        if not holder_out:
            holder_out, _ = holder.communicate(timeout=60)
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server_out, _ = server.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server_out, _ = server.communicate()

    # every build published a new state
    assert len(set(published)) == BUILDS + 2
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

    # the consistent reader, through the whole build: the old or the new state, never a mix
    assert "ERRORS 0" in consistent_out, consistent_out
    states = ast.literal_eval(consistent_out.split("STATES", 1)[1].split("ERRORS")[0].strip())
    assert set(states) <= {old_pair, new_pair} and old_pair in states, (states, old_pair, new_pair)

    # the holder, through the whole build: never an error, and it kept querying
    assert "errors=0" in holder_out, holder_out
    assert int(holder_out.split("queries=")[1].split()[0]) > 10
    assert 0 < albi_2025 <= 10  # a new connection, after the whole build, saw the new state

    print(f"\n1 whole and {BUILDS} partition builds, all succeeded; " + "; ".join(summary))
    if server is None:
        pytest.skip(f"readers checked; `imtetl serve` not: {EXTRAS_HINT}")
    assert SERVE_TOKEN not in server_out  # the token is never echoed
