"""Reruns on a copy of the session's whole build, one project going on through them: a rerun
on unchanged inputs (one school) that changes nothing and replaces exactly what it loads,
then a partition rebuild on new data for one school-year (the facts updated in place equal
a whole rebuild, the checks pass, the release is the build, a new release with the first
one still readable). Two CLI builds in all."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import dagster as dg
import duckdb
import pytest
from dagster._core.instance.ref import InstanceRef

from imtetl.publish.releases import ReleaseNotFound, history, resolve
from imtetl.settings import Settings
from tests.conftest import CONTRACT_CHECKER, ROOT, Project, contract_checker_missing

MARTS = (
    "international_masters_pricing",
    "foreign_intake",
    "recruitment_routes",
    "mobility_flows",
)


def _count(path) -> int:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute("SELECT count(*) FROM core.fact_enrolment").fetchone()[0]


def _query(project: Project, sql: str):
    with duckdb.connect(str(project.warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def _marts_fingerprint(project: Project) -> dict[str, tuple]:
    with duckdb.connect(str(project.warehouse), read_only=True) as conn:
        return {
            mart: conn.execute(
                f"SELECT count(*), md5(string_agg(t::VARCHAR, '\n' ORDER BY t::VARCHAR)) "
                f"FROM marts.{mart} t"
            ).fetchone()
            for mart in MARTS
        } | {
            "facts": conn.execute(
                "SELECT (SELECT count(*) FROM core.fact_enrolment), "
                "(SELECT count(*) FROM core.fact_tuition_fee), "
                "(SELECT count(*) FROM core.fact_mobility), "
                "(SELECT count(*) FROM audit.quarantine)"
            ).fetchone()
        }


def _facts_equal_a_whole_rebuild(project: Project) -> dict[str, int]:
    """Each incrementally updated fact holds exactly the rows of a whole rebuild: dbt's
    ``--full-refresh`` of the incremental models, on a copy of the build database."""
    from imtetl.load import dbt

    build_db = project.warehouse.parent / ".build" / "build.duckdb"
    whole = project.home.parent / "whole_rebuild" / "imt.duckdb"
    shutil.rmtree(whole.parent, ignore_errors=True)
    (whole.parent / ".build").mkdir(parents=True)
    shutil.copy(build_db, whole.parent / ".build" / "build.duckdb")
    # dbt in this process (what `imtetl dbt run --full-refresh` runs, without a new interpreter)
    settings = Settings(
        home=project.home, landing=project.landing, warehouse=whole, pipelines=project.pipelines,
        sql=ROOT / "sql", years=(2021, 2022, 2023, 2024, 2025),
    )  # fmt: skip
    result = dbt.invoke(
        settings, ["run", "--full-refresh", "--select", "config.materialized:incremental"]
    )
    assert result.success, result.exception
    facts = dbt.incremental_facts(dbt.manifest_json(ROOT / "sql")).values()
    counts = {}
    with duckdb.connect(str(build_db), read_only=True) as conn:
        conn.execute(f"ATTACH '{whole.parent / '.build' / 'build.duckdb'}' AS whole (READ_ONLY)")
        for fact in facts:
            mine, rebuilt = f"(FROM {fact.relation})", f"(FROM whole.{fact.relation})"
            differ = conn.execute(
                f"SELECT count(*) FROM ({mine} EXCEPT ALL {rebuilt} "
                f"UNION ALL ({rebuilt} EXCEPT ALL {mine}))"
            ).fetchone()[0]
            assert differ == 0, fact.relation
            counts[fact.relation.split(".")[1]] = conn.execute(
                f"SELECT count(*) FROM {fact.relation}"
            ).fetchone()[0]
        assert not conn.execute("SELECT * FROM build_state.changed_partitions").fetchall()
    assert set(counts) == {"fact_enrolment", "fact_tuition_fee", "fact_mobility", "fact_faculty"}
    return counts


def _fact_counts(project: Project) -> dict[str, int]:
    """Rows of each incrementally updated fact in the build database."""
    from imtetl.load import dbt

    build_db = project.warehouse.parent / ".build" / "build.duckdb"
    with duckdb.connect(str(build_db), read_only=True) as conn:
        return {
            fact.relation.split(".")[1]: conn.execute(
                f"SELECT count(*) FROM {fact.relation}"
            ).fetchone()[0]
            for fact in dbt.incremental_facts(dbt.manifest_json(ROOT / "sql")).values()
        }


def _albi_2023(project: Project) -> tuple[int, int]:
    """(enrolments of ALBI 2023 in the published facts, rows its current load loaded)."""
    with duckdb.connect(str(project.warehouse), read_only=True) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM core.fact_enrolment WHERE school_code = 'ALBI' "
            "AND academic_year = 2023), (SELECT sum(rows_loaded) FROM audit.loads WHERE "
            "is_current AND school_code = 'ALBI' AND dataset = 'enrolment' "
            "AND academic_year = 2023)"
        ).fetchone()


def _a_partition_rebuild_updates_the_facts_for_its_school_year_only(project: Project) -> None:
    """After a whole build: new data for one school-year, rebuilt incrementally."""
    before = _fact_counts(project)  # (the rebuild comparison is after the update, below)
    published, loaded = _albi_2023(project)
    assert published == loaded
    path = project.landing / "albi" / "EXPORT_ENROLMENT_2023.tsv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-40]), encoding="utf-8")  # 40 students left
    result = project.imtetl("build", "--school", "ALBI", "--year", "2023")
    assert result.returncode == 0, result.stderr
    after = _facts_equal_a_whole_rebuild(project)  # updated in place, same rows as a rebuild
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(project.dagster_home))) as inst:
        event = inst.get_latest_materialization_event(dg.AssetKey(["core", "fact_enrolment"]))
        metadata = event.asset_materialization.metadata
        assert metadata["rebuilt_whole"].value is False
        assert metadata["school_years_updated"].value == ["ALBI 2023"]
        event = inst.get_latest_materialization_event(dg.AssetKey(["published_warehouse"]))
        assert event.asset_materialization.metadata["incremental"].value is True
        for name in ("grain", "programme_in_dim_programme"):
            check = inst.get_latest_asset_check_evaluation_record(
                dg.AssetCheckKey(dg.AssetKey(["core", "fact_enrolment"]), name)
            )
            assert check.event.dagster_event.event_specific_data.passed, name
    build_db = project.warehouse.parent / ".build" / "build.duckdb"
    with duckdb.connect(str(build_db), read_only=True) as conn:  # the release = the build
        conn.execute(f"ATTACH '{project.warehouse}' AS published (READ_ONLY)")
        for table in ("fact_enrolment", "fact_mobility", "fact_tuition_fee", "dim_programme"):
            mine, theirs = f"(FROM core.{table})", f"(FROM published.core.{table})"
            assert not conn.execute(
                f"SELECT count(*) FROM ({mine} EXCEPT ALL {theirs} "
                f"UNION ALL ({theirs} EXCEPT ALL {mine}))"
            ).fetchone()[0], table
    published_after, loaded_after = _albi_2023(project)
    assert published_after == loaded_after < loaded
    assert after["fact_enrolment"] == before["fact_enrolment"] - (loaded - loaded_after)
    assert after["fact_mobility"] == before["fact_mobility"]


@pytest.mark.builds(2)
def test_reruns_change_nothing_then_a_partition_rebuild_updates_its_school_year(
    built_copy: Project,
) -> None:
    project = built_copy  # a whole build, copied: its one release
    [first] = history(project.warehouse)
    before = _count(project.warehouse)

    # reruns on unchanged inputs are idempotent
    fingerprint = _marts_fingerprint(project)
    by_school = _query(
        project, "SELECT school_code, count(*) FROM core.fact_enrolment GROUP BY 1 ORDER BY 1"
    )
    # one school's every partition: it replaces only that school
    result = project.imtetl("build", "--school", "TP")
    assert result.returncode == 0, result.stderr
    assert _marts_fingerprint(project) == fingerprint
    after = _query(
        project, "SELECT school_code, count(*) FROM core.fact_enrolment GROUP BY 1 ORDER BY 1"
    )
    assert by_school == after  # no duplicates, nothing lost
    loads = _query(
        project,
        "SELECT DISTINCT school_code FROM audit.loads WHERE run_id = (SELECT run_id FROM "
        "audit.loads ORDER BY started_at DESC LIMIT 1)",
    )
    assert loads == [("TP",)]
    # (one rerun suffices: a rerun of one year of every school, formerly here too, reloads
    # partitions the same way; whole rebuild reruns: tests/test_crash_safety.py in full)
    with duckdb.connect(str(project.warehouse), read_only=True) as conn:
        # the rerun replaced exactly its rows: one current load per file
        doubles = conn.execute(
            "SELECT count(*) FROM (SELECT source_file, school_code, dataset FROM audit.loads "
            "WHERE is_current GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()[0]
    assert doubles == 0

    # the same project goes on (its warehouse republished in place, so the next publish is
    # incremental): new data for ALBI 2023, rebuilt incrementally: facts, checks, release
    releases = history(project.warehouse)
    _a_partition_rebuild_updates_the_facts_for_its_school_year_only(project)
    _the_partition_rebuild_is_a_new_release_and_the_first_still_answers(
        project, first, releases, before
    )


def _the_partition_rebuild_is_a_new_release_and_the_first_still_answers(
    project: Project, first, releases: list, before: int
) -> None:
    """The session's build is the first release; the rerun published its own (``releases``,
    newest first), the partition rebuild one more; the first still answers with its own
    figures."""
    listed = project.imtetl("releases")
    assert listed.returncode == 0, listed.stderr
    now = history(project.warehouse)
    second = now[0]
    assert len(now) == len(releases) + 1 and releases[-1].release_id == first.release_id
    assert second.previous_release_id == releases[0].release_id
    assert second.changes["facts"]["core.fact_enrolment"]["school_years"] == ["ALBI 2023"]
    assert second.run_id and json.loads(json.dumps(second.fact_rows))["core.fact_enrolment"] == (
        _count(project.warehouse)
    )
    assert listed.stdout.startswith(f"{len(now)} releases of")
    assert "core.fact_enrolment updated for ALBI 2023" in listed.stdout
    old = project.imtetl(
        "query", "--release", first.release_id, "--csv", "SELECT count(*) FROM core.fact_enrolment"
    )
    assert old.returncode == 0, old.stderr
    assert int(old.stdout.split()[-1]) == before > _count(project.warehouse)
    check = project.imtetl("check")
    assert check.returncode == 0, check.stderr
    if not contract_checker_missing():
        contract = subprocess.run(
            [sys.executable, str(CONTRACT_CHECKER), str(project.warehouse)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert contract.returncode == 0, contract.stdout
    with pytest.raises(ReleaseNotFound, match="no release 'nope'"):
        resolve(project.warehouse, "nope")
