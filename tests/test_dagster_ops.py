"""Operating the pipeline from Dagster: sensor, schedules, partitions, failure isolation, and
a real webserver driven through its GraphQL API. (Idempotent reruns and partition rebuilds:
tests/test_reruns.py.)"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from imtetl.defs.resources import WarehouseResource
from imtetl.defs.schedules import http_polls, nightly_build
from imtetl.defs.sensors import landing_sensor
from tests.conftest import TEST_KEY, Project

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.builds(2)
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
