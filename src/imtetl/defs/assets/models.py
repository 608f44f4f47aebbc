"""The SQL layer as Dagster assets: every model of the dbt project under sql/ is an asset
(groups core, marts and bi, keyed by schema and table), every dbt test an asset check, loaded
with dagster-dbt from the manifest prepared once per deploy (imtetl.load.dbt.prepare).

dbt runs in this process (dbtRunner, with that manifest: no parse, no subprocess); its
structured events are turned into Dagster events by dagster-dbt's own translation
(DbtCoreCliEventMessage), as `DbtCliResource.cli(...).stream()` would from a subprocess.
A failing error-severity test is a failing blocking check: nothing downstream of it runs,
the publish included, and readers keep the previous warehouse."""

from collections.abc import Iterator, Mapping
from contextlib import closing
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtProject, dbt_assets
from dagster_dbt.asset_utils import get_subset_selection_for_context
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

from imtetl.defs.assets.staging import TRANSIENT_RETRY
from imtetl.defs.automation import ON_NEW_STAGING
from imtetl.defs.resources import WRITE_POOL, WarehouseResource
from imtetl.load import dbt
from imtetl.load.build_db import connect_build_db
from imtetl.settings import Settings

#: Unit tests of the marts run in the test suite (`imtetl dbt test --select test_type:unit`),
#: not in every build: they check the SQL, not the data.
EXCLUDE = "test_type:unit"


class Translator(DagsterDbtTranslator):
    """Models keyed [schema, table] as the warehouse names them (core/fact_enrolment,
    bi/foreign_intake), grouped by schema; sources keyed by their meta.dagster.asset_key (the
    staging and national assets that load them)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return dg.AssetKey(list(dbt.relation_of(dbt_resource_props)))
        return super().get_asset_key(dbt_resource_props)

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        """Every model is rebuilt once new staging partitions (or the national data) land."""
        return ON_NEW_STAGING

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "model":
            return dbt_resource_props["schema"]
        return super().get_group_name(dbt_resource_props)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return ["team:data-engineering"]


TRANSLATOR = Translator()
SQL_DIR = Settings.from_env().sql
MANIFEST_PATH = dbt.prepare(SQL_DIR)
PROJECT = DbtProject(project_dir=SQL_DIR, profiles_dir=SQL_DIR)


@dbt_assets(
    manifest=MANIFEST_PATH,
    project=PROJECT,
    dagster_dbt_translator=TRANSLATOR,
    exclude=EXCLUDE,
    name="sql_models",
    pool=WRITE_POOL,
    retry_policy=TRANSIENT_RETRY,
)
def sql_models(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator:
    settings = warehouse.settings()
    manifest = dbt.manifest_json(settings.sql)
    args, indirect = get_subset_selection_for_context(
        context, manifest, None, EXCLUDE, None, TRANSLATOR, None
    )
    if indirect:
        args += ["--indirect-selection", indirect]
    facts = dbt.incremental_facts(manifest)
    selected = _selected_unique_ids(context, manifest)
    events: list = []
    failures: list[str] = []
    passed = 0
    with warehouse.build_lock():
        with closing(connect_build_db(settings)) as conn:
            plan = dbt.plan_incremental(conn, facts, selected)
        invocation = None
        for item in dbt.stream(settings, ["build", *args]):
            if isinstance(item, dbt.Invocation):
                invocation = item
                continue
            name = item["info"]["name"]
            if name in dbt.RESULT_EVENTS and "node_info" in item["data"]:
                status = item["data"]["node_info"].get("node_status")
                if name != "LogTestResult":
                    context.log.info(item["info"]["msg"])  # each model as it is built
                    if status == "error":
                        failures.append(item["info"]["msg"])
                elif status not in ("pass", "success"):
                    context.log.warning(item["info"]["msg"])  # a test that did not pass
                else:
                    passed += 1
            elif item["info"]["level"] == "error":
                context.log.error(item["info"]["msg"])
            message = DbtCoreCliEventMessage(raw_event=item, event_history_metadata={})
            events.extend(
                message.to_default_asset_events(
                    manifest, TRANSLATOR, context, settings.build_dir / "dbt", PROJECT
                )
            )
        assert invocation is not None
        if invocation.exception is not None:
            raise dg.Failure(f"dbt could not run: {invocation.exception}")
        built = {r.node.unique_id for r in invocation.results if r.status == "success"}
        with closing(connect_build_db(settings)) as conn:
            for unique_id, fact in facts.items():
                if unique_id in built:
                    dbt.record_built(conn, fact, plan)
            extra = _model_metadata(conn, manifest, built, plan)
    context.log.info(
        f"dbt build: {invocation.seconds:.2f} s, the first model after "
        f"{invocation.startup_seconds or 0:.2f} s; {passed} tests passed"
    )
    for event in events:
        if isinstance(event, dg.Output):
            unique_id = event.metadata.get("unique_id")
            more = extra.get(unique_id.value if unique_id else None, {})
            yield dg.Output(
                value=event.value,
                output_name=event.output_name,
                metadata={
                    **event.metadata,
                    **more,
                    "dbt_seconds": invocation.seconds,
                    "dbt_startup_seconds": invocation.startup_seconds or 0.0,
                },
            )
        else:
            yield event
    if failures:
        raise dg.Failure(
            "dbt could not build every model: " + "; ".join(failures),
            metadata={"dbt_seconds": invocation.seconds},
        )


def _selected_unique_ids(context: dg.AssetExecutionContext, manifest: dict) -> set[str]:
    selected = context.selected_asset_keys
    return {
        unique_id
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and TRANSLATOR.get_asset_key(node) in selected
    }


def _model_metadata(conn, manifest: dict, built: set[str], plan: dbt.Plan) -> dict[str, dict]:
    """Row counts, a preview and (incremental facts) how each built table was updated."""
    extra: dict[str, dict] = {}
    for unique_id in built:
        node = manifest["nodes"].get(unique_id)
        if node is None or node["resource_type"] != "model":
            continue
        schema, table = dbt.relation_of(node)
        relation = f'{schema}."{table}"'
        meta: dict[str, Any] = {}
        if node["config"].get("materialized") != "view":
            meta["dagster/row_count"] = conn.execute(f"SELECT count(*) FROM {relation}").fetchone()[
                0
            ]
            preview = conn.execute(f"SELECT * FROM {relation} LIMIT 5").pl()
            meta["preview"] = dg.MetadataValue.md(preview.to_pandas().to_markdown(index=False))
        described = plan.describe(unique_id)
        if described:
            meta["rebuilt_whole"] = described["rebuilt_whole"]
            if described["school_years_updated"]:
                meta["school_years_updated"] = dg.MetadataValue.json(
                    described["school_years_updated"]
                )
        extra[unique_id] = meta
    return extra


model_assets = [sql_models]
