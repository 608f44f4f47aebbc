"""Operating the pipeline from Dagster: sensor, schedules, partitions, idempotent reruns,
failure isolation, and a real webserver driven through its GraphQL API."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.instance.ref import InstanceRef

from imtetl.defs.resources import WarehouseResource
from imtetl.defs.schedules import http_polls, nightly_build
from imtetl.defs.sensors import landing_sensor
from tests.conftest import ROOT, TEST_KEY, Project

MARTS = (
    "international_masters_pricing",
    "foreign_intake",
    "recruitment_routes",
    "mobility_flows",
)


def _sensor_context(project: Project, instance, cursor: str | None = None):
    return dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={
            "warehouse": WarehouseResource(
                landing=str(project.landing), warehouse=str(project.warehouse)
            )
        },
    )


def test_sensor_requests_exactly_the_changed_partition_once(
    built_copy: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = built_copy  # a whole build, copied
    monkeypatch.setenv("IMTETL_PIPELINES", str(project.pipelines))
    with dg.instance_for_test() as instance:
        first = landing_sensor(_sensor_context(project, instance))
        assert not first.run_requests  # everything in the landing zone is loaded already
        # touching a file changes nothing: the sensor compares contents, not times
        path = project.landing / "albi" / "EXPORT_ENROLMENT_2024.tsv"
        os.utime(path, (time.time() + 60, time.time() + 60))
        again = landing_sensor(_sensor_context(project, instance, first.cursor))
        assert not again.run_requests
        # a new version of ALBI's 2024 enrolment export arrives
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
        changed = landing_sensor(_sensor_context(project, instance, again.cursor))
        assert [r.partition_key for r in changed.run_requests] == ["ALBI|2024"]
        assert changed.run_requests[0].run_key.startswith("landing:ALBI|2024:")
        assert [e.asset_key for e in changed.asset_events] == [dg.AssetKey(["landing", "ALBI"])]
        repeat = landing_sensor(_sensor_context(project, instance, changed.cursor))
        assert not repeat.run_requests
        # the Évry campus file feeds two schools: both of its partitions are requested
        evry = project.landing / "evry" / "evry_frais_2023.csv"
        evry.write_text(evry.read_text(encoding="utf-8") + "\n", encoding="utf-8")
        shared = landing_sensor(_sensor_context(project, instance, repeat.cursor))
        assert sorted(r.partition_key for r in shared.run_requests) == ["IMTBS|2023", "TSP|2023"]


def test_schedules_request_whole_graph_and_the_api_school() -> None:
    request = nightly_build(dg.build_schedule_context())
    assert request.tags["dagster/asset_partition_range_start"] == "ALBI|2021"
    assert request.tags["dagster/asset_partition_range_end"] == "TSP|2025"
    (poll,) = http_polls
    assert poll.name == "poll_imtne_api" and poll.cron_schedule == "0 6 * * *"
    request = poll(dg.build_schedule_context())
    assert request.tags["dagster/asset_partition_range_start"] == "IMTNE|2021"
    assert request.tags["dagster/asset_partition_range_end"] == "IMTNE|2025"


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


def test_reruns_are_idempotent(built_copy: Project) -> None:
    project = built_copy  # a whole build, copied
    first = _marts_fingerprint(project)
    result = project.imtetl("build", "--school", "TP", "--year", "2023")
    assert result.returncode == 0, result.stderr
    assert _marts_fingerprint(project) == first
    # one year of every school: a rerun of every school's partition (a whole rebuild rerun
    # adds nothing to it but minutes; the crash-safety test reruns whole builds)
    result = project.imtetl("build", "--year", "2022")
    assert result.returncode == 0, result.stderr
    assert _marts_fingerprint(project) == first
    with duckdb.connect(str(project.warehouse), read_only=True) as conn:
        # the TP 2023 rerun replaced exactly its rows: one current load per file
        doubles = conn.execute(
            "SELECT count(*) FROM (SELECT source_file, school_code, dataset FROM audit.loads "
            "WHERE is_current GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()[0]
    assert doubles == 0
    # the same project goes on: one school-year's export changes, and its partition rebuild
    # updates the facts, checks and release for that school-year only (same rows as a rebuild)
    _a_partition_rebuild_updates_the_facts_for_its_school_year_only(project)


def _facts_equal_a_whole_rebuild(project: Project) -> dict[str, int]:
    """Each incrementally updated fact holds exactly the rows of a whole rebuild: dbt's
    ``--full-refresh`` of the incremental models, on a copy of the build database."""
    from imtetl.load import dbt

    build_db = project.warehouse.parent / ".build" / "build.duckdb"
    whole = project.home.parent / "whole_rebuild" / "imt.duckdb"
    shutil.rmtree(whole.parent, ignore_errors=True)
    (whole.parent / ".build").mkdir(parents=True)
    shutil.copy(build_db, whole.parent / ".build" / "build.duckdb")
    result = project.imtetl(
        "dbt", "run", "--full-refresh", "--select", "config.materialized:incremental",
        IMTETL_WAREHOUSE=str(whole),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
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


def test_a_permanently_failing_partition_leaves_the_others_materialized(
    project: Project,
) -> None:
    (project.landing / "imta" / "inscriptions_2023-2024.csv").write_bytes(b"\xff\xfe\x00garbage")
    result = project.imtetl("build")
    assert result.returncode == 1
    assert "FAILED IMTA enrolment" in result.stderr and "published" in result.stderr
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(project.dagster_home))) as inst:
        done = inst.get_materialized_partitions(dg.AssetKey(["staging", "enrolment"]))
        assert len(done) == 39 and "IMTA|2023" not in done
        assert len(inst.get_materialized_partitions(dg.AssetKey(["staging", "tuition"]))) == 40
        assert inst.get_latest_materialization_event(dg.AssetKey(["published_warehouse"]))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_webserver_runs_a_partition_through_graphql(project: Project) -> None:
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

    port = _free_port()
    env = project.env()
    log = open(project.home / "dagster_dev.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-m", "imtetl.definitions",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=project.home, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=30)
        deadline = time.time() + 120
        while True:
            try:
                client._execute("{ version }")
                break
            except Exception:  # not up yet
                if time.time() > deadline or server.poll() is not None:
                    raise AssertionError(Path(log.name).read_text()[-3000:]) from None
                time.sleep(1)
        run_id = client.submit_job_execution(
            "build_warehouse",
            tags={
                "dagster/partition": "MSE|2024",
                "dagster/partition/school": "MSE",
                "dagster/partition/year": "2024",
            },
        )
        deadline = time.time() + 300
        status = None
        while time.time() < deadline:
            try:
                status = client.get_run_status(run_id)
            except DagsterGraphQLClientError:
                status = None
            if status and status.value in ("SUCCESS", "FAILURE", "CANCELED"):
                break
            time.sleep(2)
        assert status is not None and status.value == "SUCCESS", Path(log.name).read_text()[-3000:]
        data = client._execute(
            """
            query ($path: [String!]!) {
              assetOrError(assetKey: {path: $path}) {
                ... on Asset {
                  assetMaterializations(partitions: ["MSE|2024"]) {
                    partition runId
                    metadataEntries { label }
                  }
                }
              }
              assetCheckExecutions(
                assetKey: {path: $path}, checkName: "expectation_suite", limit: 1
              ) { runId status evaluation { success } }
            }
            """,
            {"path": ["staging", "enrolment"]},
        )
        materializations = data["assetOrError"]["assetMaterializations"]
        assert [m["partition"] for m in materializations] == ["MSE|2024"]
        assert materializations[0]["runId"] == run_id
        labels = {e["label"] for e in materializations[0]["metadataEntries"]}
        assert {"dagster/row_count", "rows_quarantined", "preview"} <= labels
        (check,) = data["assetCheckExecutions"]
        assert check["runId"] == run_id and check["status"] == "SUCCEEDED"
        assert check["evaluation"]["success"] is True
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
        log.close()


def test_dagster_home_key_is_not_in_metadata(built: Project) -> None:
    """The pseudonym key never reaches Dagster's event log."""
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(built.dagster_home))) as inst:
        (run,) = inst.get_runs(limit=1)
        text = "\n".join(str(record) for record in inst.all_logs(run.run_id))
    assert TEST_KEY not in text
