"""The SQL layer is a dbt project: sources generated from the contract, every model an asset
of its schema's group, every test a check, descriptions in the warehouse, the marts' unit
tests. (A mart added with SQL and YAML only: tests/test_onboarding_school.py.)"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from imtetl import contract
from imtetl.load import dbt
from imtetl.load.build_db import connect_build_db
from imtetl.settings import Settings
from tests.conftest import ROOT, Project

SQL = ROOT / "sql"


@pytest.fixture(scope="module")
def manifest() -> dict:
    dbt.prepare(SQL)
    return dbt.manifest_json(SQL)


def _models(manifest: dict) -> dict[str, dict]:
    return {
        uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"
    }


def test_the_staging_sources_are_generated_from_the_contract() -> None:
    text = (SQL / dbt.SOURCES_FILE).read_text(encoding="utf-8")
    assert text == dbt.sources_yaml(), "run `imtetl dbt-prepare` after changing the contract"
    [source] = yaml.safe_load(text)["sources"]
    for dataset in contract.CONTRACT:
        [table] = [t for t in source["tables"] if t["name"] == dataset.name]
        names = [c["name"] for c in table["columns"]]
        assert names[-len(dataset.staging_order) :] == [c.staging for c in dataset.staging_order]
        assert table["meta"]["dagster"]["asset_key"] == ["staging", dataset.name]
    # and staging's DDL is generated from the same records: the same columns and types
    with duckdb.connect() as conn:
        conn.execute(contract.staging_ddl())
        for table in source["tables"]:
            built = conn.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = "
                "'staging' AND table_name = ? ORDER BY column_index",
                [table["name"]],
            ).fetchall()
            declared = [(c["name"], c["data_type"]) for c in table["columns"]]
            assert [name for name, _ in built] == [name for name, _ in declared]
            for (_, built_type), (_, declared_type) in zip(built, declared, strict=True):
                assert built_type.split("(")[0] == declared_type.split("(")[0]


def test_models_use_ref_and_source_only(manifest: dict) -> None:
    for node in _models(manifest).values():
        code = node["raw_code"]
        for schema in ("staging.", "core.", "marts.", "bi."):
            for line in code.splitlines():
                if line.lstrip().startswith("--") or "'" in line:
                    continue
                assert f"FROM {schema}" not in line and f"JOIN {schema}" not in line, (
                    node["name"],
                    line,
                )
        assert node["description"], f"{node['name']} has no description"
        assert node["config"]["schema"] in ("core", "marts", "bi")


def test_every_model_is_an_asset_of_its_schema_group_with_lineage(manifest: dict) -> None:
    from imtetl.definitions import defs

    graph = defs.resolve_asset_graph()
    for node in _models(manifest).values():
        key = dg.AssetKey([node["schema"], node.get("alias") or node["name"]])
        asset = graph.get(key)
        assert asset.group_name == node["schema"], key
        assert asset.description, key
    fact = graph.get(dg.AssetKey(["core", "fact_enrolment"]))
    assert dg.AssetKey(["staging", "enrolment"]) in fact.parent_keys
    mart = dg.AssetKey(["marts", "national_comparison"])
    assert dg.AssetKey(["national", "enrolment_statistics"]) in graph.get(mart).parent_keys
    view = graph.get(dg.AssetKey(["bi", "foreign_intake"]))
    assert dg.AssetKey(["marts", "foreign_intake"]) in view.parent_keys
    publish = graph.get(dg.AssetKey(["published_warehouse"]))
    assert {dg.AssetKey(["bi", "foreign_intake"]), mart} <= publish.parent_keys


def test_dbt_tests_are_checks_and_errors_block(manifest: dict) -> None:
    from imtetl.definitions import defs

    specs = {
        (spec.asset_key.to_user_string(), spec.name): spec
        for assets in defs.assets
        if isinstance(assets, dg.AssetsDefinition)
        for spec in assets.check_specs
    }
    tests = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test" and node["config"].get("enabled", True)
    ]
    on_models = [t for t in tests if t.get("attached_node", "").startswith("model.")]
    assert len(on_models) > 20
    dbt_checks = {k: s for k, s in specs.items() if k[0].split("/")[0] in ("core", "marts", "bi")}
    assert len(dbt_checks) == len(on_models)
    for test in on_models:
        attached = manifest["nodes"][test["attached_node"]]
        key = f"{attached['schema']}/{attached.get('alias') or attached['name']}"
        spec = dbt_checks[(key, test["name"])]
        assert spec.blocking == (test["config"]["severity"].lower() == "error"), test["name"]


def test_unit_tests_of_the_marts_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The marts' metric definitions as dbt unit tests (given rows in, expected rows out),
    run on an empty build database: dbt builds the models with --empty, then the tests."""
    monkeypatch.setenv("IMTETL_WAREHOUSE", str(tmp_path / "imt.duckdb"))
    settings = Settings.from_env()
    connect_build_db(settings).close()
    empty = dbt.invoke(settings, ["run", "--empty"])
    assert empty.success, empty.exception
    units = dbt.invoke(settings, ["test", "--select", "test_type:unit"])
    failed = [(r.node.name, r.message) for r in units.results if r.status != "pass"]
    assert units.success and not failed, failed
    assert len(units.results) >= 8  # every mart's metrics (see sql/models/*/_unit_tests.yml)


# (A mart added with SQL and YAML only, an asset and a table of the published warehouse after
# a build: tests/test_onboarding_school.py, in the build that onboards new schools.)


def test_the_published_warehouse_carries_every_description(built: Project) -> None:
    """persist_docs: every model and column description of the YAML is a COMMENT ON in the
    published warehouse (tables and bi views), so BI tools and `imtetl docs` show them."""
    manifest = dbt.manifest_json(SQL)
    with duckdb.connect(str(built.warehouse), read_only=True) as conn:
        comments = {
            (s, t, c): comment
            for s, t, c, comment in conn.execute(
                "SELECT schema_name, table_name, column_name, comment FROM duckdb_columns() "
                "WHERE schema_name IN ('core', 'marts', 'bi')"
            ).fetchall()
        }
        relations = {
            (s, t): comment
            for s, t, comment in conn.execute(
                "SELECT schema_name, table_name, comment FROM duckdb_tables() UNION ALL "
                "SELECT schema_name, view_name, comment FROM duckdb_views() WHERE NOT internal"
            ).fetchall()
        }
    for node in _models(manifest).values():
        name = (node["schema"], node.get("alias") or node["name"])
        assert relations[name] == node["description"].strip(), name
        built_columns = {c for s, t, c in comments if (s, t) == name}
        assert built_columns == set(node["columns"]), name  # every column described
        for column, spec in node["columns"].items():
            assert comments[(*name, column)] == spec["description"].strip(), (name, column)
    site = built.warehouse.parent / "dbt_docs" / "index.html"
    assert site.stat().st_size > 100_000  # dbt docs generate --static, published


def test_a_failing_grain_test_blocks_the_publish(
    built: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fact that breaks its grain (a row doubled in staging, as a bug upstream would) fails
    the blocking check `grain`: the publish does not run and readers keep the previous
    warehouse, whole."""
    from imtetl.definitions import defs
    from imtetl.publish.integrity import bi_views, check_file
    from tests.faults import copy_built, fingerprint

    project = copy_built(built, tmp_path)
    build_db = project.warehouse.parent / ".build" / "build.duckdb"
    with duckdb.connect(str(build_db)) as conn:
        conn.execute(
            "INSERT INTO staging.enrolment (SELECT * FROM staging.enrolment "
            "WHERE school_code = 'ALBI' AND academic_year = 2022 LIMIT 1)"
        )
        conn.execute(
            "INSERT INTO build_state.changed_partitions VALUES ('enrolment', 'ALBI', 2022)"
        )
    before = fingerprint(project.warehouse)
    for name, value in project.env().items():
        monkeypatch.setenv(name, value)
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("publish_warehouse").execute_in_process(
            instance=instance, raise_on_error=False
        )
    assert not result.success
    grain = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == dg.AssetKey(["core", "fact_enrolment"]) and e.check_name == "grain"
    ]
    assert len(grain) == 1 and not grain[0].passed
    assert grain[0].severity == dg.AssetCheckSeverity.ERROR
    published = {m.asset_key for m in result.get_asset_materialization_events() if m.asset_key}
    assert (
        dg.AssetKey(["published_warehouse"])
        not in {e.asset_key for e in result.get_asset_materialization_events()}
        and published is not None
    )
    assert fingerprint(project.warehouse) == before
    assert check_file(project.warehouse, views=bi_views(SQL)) == []


def test_a_model_missing_from_the_build_is_never_published(built: Project, tmp_path: Path) -> None:
    """The release is checked against the dbt project, not against what the build holds: a
    mart or a bi view gone from the build database fails the publish, and readers keep the
    previous warehouse with it."""
    from imtetl.publish.integrity import IntegrityError
    from imtetl.publish.release import publish_release
    from tests.faults import copy_built, fingerprint

    project = copy_built(built, tmp_path)
    before = fingerprint(project.warehouse)
    build_db = project.warehouse.parent / ".build" / "build.duckdb"
    for relation, drop in (
        ("bi.mobility_flows", "DROP VIEW bi.mobility_flows"),
        ("marts.recruitment_routes", "DROP TABLE marts.recruitment_routes"),
    ):
        with duckdb.connect(str(build_db)) as conn:
            conn.execute(drop)
            with pytest.raises(IntegrityError, match=relation.split(".")[1]):
                publish_release(conn, project.warehouse, sql_dir=SQL)
        assert fingerprint(project.warehouse) == before
