"""Releases and time travel: audit.releases in every release, the last N kept as read-only
files beside the published warehouse, `imtetl releases` and `imtetl query --release`.

Unit tests publish small build databases made here (the integrity gate, which wants every
model of the dbt project, is replaced by a stub); the release of a real partition build is
checked in tests/test_reruns.py."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from imtetl import cli
from imtetl.load.build_db import connect_build_db
from imtetl.publish import release as release_module
from imtetl.publish.integrity import IntegrityError
from imtetl.publish.release import publish_release
from imtetl.publish.releases import (
    history,
    kept_ids,
    new_release_id,
    release_file,
    releases_dir,
    resolve,
)
from imtetl.settings import Settings
from tests.conftest import ROOT

SQL = ROOT / "sql"


@pytest.fixture
def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A build database with one incremental fact (10 ALBI 2023 rows) and a mart, and where
    its warehouse is published; the integrity gate passes unless a test says otherwise."""
    settings = Settings(
        home=tmp_path, landing=tmp_path / "landing", warehouse=tmp_path / "wh" / "imt.duckdb",
        pipelines=ROOT / "pipelines", sql=SQL, years=(2023,),
    )  # fmt: skip
    monkeypatch.setattr(release_module, "check_file", lambda *a, **k: [])
    build = connect_build_db(settings)
    build.execute((SQL / "audit" / "comments.sql").read_text(encoding="utf-8"))
    build.execute("CREATE SCHEMA core; CREATE SCHEMA marts")
    build.execute(
        "CREATE TABLE core.fact_enrolment AS SELECT 'ALBI' AS school_code, 2023 AS "
        "academic_year, 'l1' AS load_id, i AS student FROM range(10) t(i)"
    )
    build.execute(
        "CREATE TABLE marts.foreign_intake AS SELECT school_code, academic_year, count(*) AS n "
        "FROM core.fact_enrolment GROUP BY ALL"
    )
    build.execute("INSERT INTO build_state.models VALUES ('core.fact_enrolment', 'x', now())")
    yield build, settings.warehouse
    build.close()


def _rerun_partition(build: duckdb.DuckDBPyConnection, drop: int) -> None:
    """What a partition rerun leaves in the build: ALBI 2023 loses rows, pending publish."""
    build.execute(
        "DELETE FROM core.fact_enrolment WHERE student >= "
        f"(SELECT count(*) FROM core.fact_enrolment) - {drop}"
    )
    build.execute(
        "CREATE OR REPLACE TABLE marts.foreign_intake AS SELECT school_code, academic_year, "
        "count(*) AS n FROM core.fact_enrolment GROUP BY ALL"
    )
    build.execute(
        "INSERT INTO build_state.publish_pending "
        "VALUES ('core.fact_enrolment', 'ALBI', 2023, false)"
    )


def _count(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute("SELECT count(*) FROM core.fact_enrolment").fetchone()[0]


def test_a_publish_adds_a_release_row_and_a_read_only_file(small) -> None:
    build, warehouse = small
    first = publish_release(build, warehouse, sql_dir=SQL, keep=5, run_id="run-1")
    assert (
        first.kept
        == release_file(warehouse, first.release_id)
        == (warehouse.parent / "releases" / f"{first.release_id}.duckdb")
    )
    assert first.kept_by == "hardlink"  # one inode with the published file: no copy
    assert first.kept.stat().st_ino == warehouse.stat().st_ino
    assert stat.S_IMODE(first.kept.stat().st_mode) == 0o444
    [row] = history(warehouse)
    assert row.release_id == first.release_id and row.previous_release_id is None
    assert row.backend == "duckdb_file" and row.location == str(first.kept.resolve())
    assert row.publish_mode == "full" and row.run_id == "run-1"
    assert row.fact_rows == {"core.fact_enrolment": 10}
    assert row.table_rows["marts.foreign_intake"] == 1
    assert row.summary.startswith("first release")
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        undocumented = conn.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'audit' AND "
            "table_name = 'releases' AND (comment IS NULL OR comment = '')"
        ).fetchall()
        table_comment = conn.execute(
            "SELECT comment FROM duckdb_tables() WHERE table_name = 'releases'"
        ).fetchone()[0]
    assert undocumented == [] and "one row per publish" in table_comment

    second = publish_release(build, warehouse, sql_dir=SQL, keep=5)
    assert second.incremental and second.release_id > first.release_id
    rows = history(warehouse)
    assert [r.release_id for r in rows] == [second.release_id, first.release_id]
    assert rows[0].previous_release_id == first.release_id
    assert rows[0].summary == "no change since the previous release"
    assert kept_ids(warehouse) == [first.release_id, second.release_id]
    # the first release's own file still lists only itself: each carries history up to itself
    assert [r.release_id for r in history(first.kept)] == [first.release_id]
    # the build database keeps the same history
    assert build.execute("SELECT count(*) FROM audit.releases").fetchone()[0] == 2


def test_n_release_files_are_kept_and_every_release_is_listed(small) -> None:
    build, warehouse = small
    ids = [publish_release(build, warehouse, sql_dir=SQL, keep=3).release_id for _ in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert kept_ids(warehouse) == ids[-3:]
    rows = history(warehouse)
    assert [r.release_id for r in rows] == ids[::-1]
    assert [r.previous_release_id for r in rows] == [*ids[::-1][1:], None]
    assert sorted(p.name for p in releases_dir(warehouse).iterdir()) == [
        f"{i}.duckdb" for i in ids[-3:]
    ]
    publish_release(build, warehouse, sql_dir=SQL, keep=0)  # keep none
    assert kept_ids(warehouse) == [] and len(history(warehouse)) == 6


def test_an_earlier_release_answers_with_its_own_figures(small) -> None:
    build, warehouse = small
    march = publish_release(build, warehouse, sql_dir=SQL, keep=5)
    _rerun_partition(build, drop=3)
    june = publish_release(build, warehouse, sql_dir=SQL, keep=5)
    assert june.incremental
    assert _count(warehouse) == 7 and _count(march.kept) == 10 and _count(june.kept) == 7
    row = history(warehouse)[0]
    assert row.changes["facts"] == {
        "core.fact_enrolment": {"rebuilt_whole": False, "school_years": ["ALBI 2023"]}
    }
    assert row.changes["rows_changed"]["core.fact_enrolment"] == [10, 7]
    assert "core.fact_enrolment updated for ALBI 2023" in row.summary
    assert "core.fact_enrolment 10 → 7" in row.summary
    assert resolve(warehouse, march.release_id[:16])[1] == march.kept  # a unique prefix
    assert resolve(warehouse, "latest")[1] == june.kept


def test_a_release_failing_its_integrity_gate_adds_no_release(small, monkeypatch) -> None:
    build, warehouse = small
    first = publish_release(build, warehouse, sql_dir=SQL, keep=5)
    before = sorted(p.name for p in warehouse.parent.rglob("*"))
    monkeypatch.setattr(release_module, "check_file", lambda *a, **k: ["half-written"])
    _rerun_partition(build, drop=2)
    with pytest.raises(IntegrityError, match="half-written"):
        publish_release(build, warehouse, sql_dir=SQL, keep=5)
    assert sorted(p.name for p in warehouse.parent.rglob("*")) == before
    assert [r.release_id for r in history(warehouse)] == [first.release_id]
    assert build.execute("SELECT release_id FROM audit.releases").fetchall() == [
        (first.release_id,)
    ]
    assert _count(warehouse) == 10


def test_what_a_killed_publish_leaves_is_never_listed_and_is_cleaned(small) -> None:
    build, warehouse = small
    first = publish_release(build, warehouse, sql_dir=SQL, keep=5)
    folder = releases_dir(warehouse)
    # killed after keeping its file, before its rename: a whole file no release lists
    orphan = folder / "29991231T235959Z-abcdef.duckdb"
    orphan.write_bytes(first.kept.read_bytes())
    # killed while copying its file (no hard links): a temporary name, never an id
    half = folder / f".{orphan.name}.999999999.publishing"
    half.write_bytes(b"half")
    assert [r.release_id for r in history(warehouse)] == [first.release_id]
    # killed after the rename, before the build database recorded it: the build forgets
    build.execute("DELETE FROM audit.releases")
    second = publish_release(build, warehouse, sql_dir=SQL, keep=5)
    assert not orphan.exists() and not half.exists()
    assert kept_ids(warehouse) == [first.release_id, second.release_id]
    rows = history(warehouse)
    assert [r.release_id for r in rows] == [second.release_id, first.release_id]
    assert rows[0].previous_release_id == first.release_id  # taken back from the published file


def test_without_hard_links_a_release_is_copied(small, monkeypatch) -> None:
    build, warehouse = small

    def no_link(*args):
        raise OSError("hard links not supported")

    monkeypatch.setattr(os, "link", no_link)
    done = publish_release(build, warehouse, sql_dir=SQL, keep=5)
    assert done.kept_by in ("reflink", "copy")
    assert done.kept.stat().st_ino != warehouse.stat().st_ino
    assert stat.S_IMODE(done.kept.stat().st_mode) == 0o444
    assert _count(done.kept) == 10


def test_release_ids_sort_in_publish_order_even_if_the_clock_goes_back() -> None:
    first = new_release_id(datetime(2026, 3, 12, 7, 15, 2, tzinfo=UTC), None, "a")
    assert first.startswith("20260312T071502Z-") and len(first) == len("20260312T071502Z-") + 6
    same_second = new_release_id(datetime(2026, 3, 12, 7, 15, 2, tzinfo=UTC), first, "b")
    earlier = new_release_id(datetime(2026, 3, 1, tzinfo=UTC), same_second, "c")
    assert first < same_second < earlier
    assert same_second.startswith("20260312T071503Z-")


def test_the_releases_and_query_commands(small, monkeypatch, capsys) -> None:
    build, warehouse = small
    monkeypatch.setenv("IMTETL_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("IMTETL_HOME", str(warehouse.parent))
    ids = [publish_release(build, warehouse, sql_dir=SQL, keep=2).release_id]
    _rerun_partition(build, drop=4)
    ids += [publish_release(build, warehouse, sql_dir=SQL, keep=2).release_id for _ in range(2)]
    capsys.readouterr()

    assert cli.main(["releases"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"3 releases of {warehouse}, newest first; 2 kept as files")
    lines = out.splitlines()
    assert lines[1].startswith(ids[2]) and f"kept: {release_file(warehouse, ids[2])}" in lines[1]
    assert "core.fact_enrolment updated for ALBI 2023" in out
    assert "facts: fact_enrolment 6" in out and "facts: fact_enrolment 10" in out
    assert next(line for line in lines if line.startswith(ids[0])).count("file deleted") == 1

    assert cli.main(["releases", "--show", ids[1]]) == 0
    shown = capsys.readouterr()
    assert shown.out.strip() == str(release_file(warehouse, ids[1]))
    assert f"ATTACH '{release_file(warehouse, ids[1])}' AS r (READ_ONLY)" in shown.err

    assert cli.main(["releases", "--show", "20200101T000000Z-000000"]) == 2
    err = capsys.readouterr().err
    assert "no release '20200101T000000Z-000000'" in err and all(i in err for i in ids)
    assert cli.main(["releases", "--show", ids[0]]) == 2
    err = capsys.readouterr().err
    assert f"release {ids[0]} is listed" in err and "no longer kept" in err
    assert f"kept: {ids[2]}, {ids[1]}" in err

    sql = "SELECT count(*) AS n FROM core.fact_enrolment"
    assert cli.main(["query", "--release", ids[1], "--csv", sql]) == 0
    assert capsys.readouterr().out.split() == ["n", "6"]
    assert cli.main(["query", "--release", ids[0], sql]) == 2
    assert f"release {ids[0]}" in capsys.readouterr().err
    # read-only, and no other file can be reached from the query
    assert cli.main(["query", "--release", ids[1], "DELETE FROM core.fact_enrolment"]) == 1
    assert "read-only" in capsys.readouterr().err
    assert cli.main(["query", "--release", ids[1], "ATTACH '/tmp/x.duckdb' AS x"]) == 1
    capsys.readouterr()
    assert _count(release_file(warehouse, ids[1])) == 6
