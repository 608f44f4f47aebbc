"""The Dagster definitions themselves: the graph, and real in-process materializations."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from imtetl.definitions import defs
from imtetl.defs.resources import WarehouseResource
from tests.conftest import Project

EXPECTED_KEYS = {
    *(f"landing/{s}" for s in ("ALBI", "ALES", "IMTA", "IMTBS", "IMTNE", "MSE", "TP", "TSP")),
    "staging/enrolment", "staging/tuition", "staging/mobility", "staging/faculty",
    "staging/schools", "staging/countries", "staging/regulated_tuition",
    "core/dim_school", "core/dim_country", "core/dim_programme", "core/regulated_tuition",
    "core/fact_enrolment", "core/fact_tuition_fee", "core/fact_mobility", "core/fact_faculty",
    "marts/international_masters_pricing", "marts/foreign_intake",
    "marts/recruitment_routes", "marts/mobility_flows", "marts/national_comparison",
    "marts/international_faculty", "marts/staff_mobility",
    *(f"bi/{v}" for v in (
        "foreign_intake", "foreign_intake_by_region", "international_masters_pricing",
        "mobility_by_scheme", "mobility_flows", "national_comparison", "recruitment_routes",
        "international_faculty", "staff_mobility_by_scheme",
    )),
    "national/institutions", "national/enrolment_statistics",
    "published_warehouse", "data_docs", "dbt_docs", "report",
}  # fmt: skip


def test_graph_snapshot_and_lineage() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == EXPECTED_KEYS
    # every mart is downstream of a landing export
    for mart in ("international_masters_pricing", "foreign_intake"):
        upstream = graph.upstream_key_iterator(dg.AssetKey(["marts", mart]))
        assert dg.AssetKey(["staging", "enrolment"]) in set(upstream)
    staging = graph.get(dg.AssetKey(["staging", "enrolment"]))
    partitions = staging.partitions_def
    assert isinstance(partitions, dg.MultiPartitionsDefinition)  # a school × year grid
    assert [d.name for d in partitions.partitions_defs] == ["school", "year"]
    assert len(partitions.get_partition_keys()) == 8 * 5
    assert "MSE|2024" in partitions.get_partition_keys()
    assert dg.AssetKey(["landing", "MSE"]) in set(
        graph.upstream_key_iterator(dg.AssetKey(["marts", "foreign_intake"]))
    )
    landing = graph.get(dg.AssetKey(["landing", "IMTA"]))
    assert landing.freshness_policy is not None  # freshness_hours in pipelines/imta.yaml
    assert defs.resolve_job_def("build_warehouse") is not None


def test_asset_checks_are_declared() -> None:
    graph = defs.resolve_asset_graph()
    checks = {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    for dataset in ("enrolment", "tuition", "mobility"):
        assert (f"staging/{dataset}", "expectation_suite") in checks
        assert (f"staging/{dataset}", "source_files_loaded") in checks
    assert ("staging/tuition", "fees_match_regulation") in checks
    # the dbt tests of the facts, as checks of their assets
    for fact in ("fact_enrolment", "fact_tuition_fee"):
        assert (f"core/{fact}", "grain") in checks
        assert (f"core/{fact}", "programme_in_dim_programme") in checks
    assert ("core/fact_tuition_fee", "enrolled_programmes_have_fees") in checks
    assert ("core/fact_mobility", "stays_end_after_start") in checks
    specs = {
        (spec.asset_key.to_user_string(), spec.name): spec
        for assets in defs.assets
        if isinstance(assets, dg.AssetsDefinition)
        for spec in assets.check_specs
    }
    assert specs[("core/fact_enrolment", "grain")].blocking
    assert specs[("core/fact_enrolment", "programme_in_dim_programme")].blocking
    assert not specs[("core/fact_tuition_fee", "enrolled_programmes_have_fees")].blocking


@pytest.mark.builds(2)
def test_materialize_one_school_in_process(project: Project, monkeypatch) -> None:
    monkeypatch.setenv("IMTETL_PSEUDONYM_KEY", "a-test-key-of-sixteen-chars")
    monkeypatch.setenv("IMTETL_PIPELINES", str(project.pipelines))
    resource = WarehouseResource(landing=str(project.landing), warehouse=str(project.warehouse))
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    staging = [a for a in assets if a.partitions_def and a.key.path[0] == "staging"]
    with dg.instance_for_test() as instance:
        # the automation condition sensor's first tick on an empty project: nothing to do
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.total_requested == 0
        result = dg.materialize(
            staging,
            partition_key="MSE|2024",
            resources={"warehouse": resource},
            instance=instance,
        )
        assert result.success
        materializations = result.asset_materializations_for_node("staging__enrolment")
        assert [m.partition for m in materializations] == ["MSE|2024"]
        metadata = materializations[0].metadata
        assert metadata["dagster/row_count"].value > 100
        assert metadata["rows_quarantined"].value == 3  # the seeded bad rows of 2024
        assert "preview" in metadata
        checks = result.get_asset_check_evaluations()
        assert checks and all(c.passed for c in checks)
        # Declarative automation (defs/automation.py): the new staging partition requests every
        # unpartitioned asset downstream (the models, the publish and its documents) but
        # not the dimensions that new staging rows leave as they were.
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        requested = {
            key for key in defs.resolve_asset_graph().get_all_asset_keys()
            if tick.get_num_requested(key)
        }  # fmt: skip
        rest = [
            a for a in assets if not a.partitions_def and a.node_def.name != "national_reference"
        ]
        graph = defs.resolve_asset_graph()
        downstream = dg.AssetSelection.assets(*(a.key for a in staging)).downstream()
        expected = downstream.resolve(graph) - {a.key for a in staging}
        assert dg.AssetKey(["published_warehouse"]) in expected
        assert requested == expected, requested ^ expected
        # what the automation condition sensor would run, and then run
        result = dg.materialize(rest, resources={"warehouse": resource}, instance=instance)
        assert result.success
        again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert again.total_requested == 0  # handled: no second publish
    with duckdb.connect(str(project.warehouse), read_only=True) as conn:
        schools = conn.execute("SELECT DISTINCT school_code FROM core.fact_enrolment").fetchall()
    assert schools == [("MSE",)]
    with duckdb.connect(str(project.warehouse), read_only=True) as conn:
        years = conn.execute("SELECT DISTINCT academic_year FROM core.fact_enrolment").fetchall()
    assert years == [(2024,)]


def test_executor_is_chosen_from_the_environment() -> None:
    """definitions.py takes its executor from imtetl.defs.executors (IMTETL_EXECUTOR; by
    default in one process with the DuckDB file)."""
    from imtetl.defs.executors import executor_name

    job = defs.resolve_job_def("build_warehouse")
    assert job.executor_def.name == executor_name()
