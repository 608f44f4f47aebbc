"""The contract's core and marts tables, each built from its SQL file under sql/."""

import dagster as dg

from imtetl.defs.assets.staging import TRANSIENT_RETRY
from imtetl.defs.resources import WarehouseResource
from imtetl.load import MODEL_FILES, run_model
from imtetl.validate.core_checks import checks_for, run_core_check, unpublished_scope
from imtetl.validate.gx_runner import save_result

#: Upstream assets of each model, for the lineage graph.
DEPS: dict[str, list[str]] = {
    "core/dim_school": ["staging/schools"],
    "core/dim_country": ["staging/countries"],
    "core/regulated_tuition": ["staging/regulated_tuition"],
    "core/dim_programme": ["staging/enrolment", "staging/tuition"],
    "core/fact_enrolment": ["staging/enrolment", "core/dim_programme"],
    # fact_enrolment too: its check compares enrolled programmes with their fees
    "core/fact_tuition_fee": ["staging/tuition", "core/dim_programme", "core/fact_enrolment"],
    "core/fact_mobility": ["staging/mobility", "core/dim_school", "core/dim_country"],
    "marts/international_masters_pricing": [
        "core/fact_tuition_fee", "core/fact_enrolment", "core/dim_programme",
    ],
    "marts/foreign_intake": ["core/fact_enrolment", "core/dim_country", "core/dim_programme"],
    "marts/recruitment_routes": ["core/fact_enrolment"],
    "marts/mobility_flows": ["core/fact_mobility"],
    "marts/national_comparison": [
        "national/institutions", "national/enrolment_statistics",
        "core/fact_enrolment", "core/dim_programme", "core/dim_school",
    ],
}  # fmt: skip


def _model_asset(schema: str, table: str) -> dg.AssetsDefinition:
    name = f"{schema}/{table}"

    checks = checks_for(table) if schema == "core" else []
    key = dg.AssetKey([schema, table])

    @dg.asset(
        key=key,
        deps=[dg.AssetKey(dep.split("/")) for dep in DEPS[name]],
        group_name=schema,
        kinds={"duckdb", "sql"},
        owners=["team:data-engineering"],
        pool="warehouse",
        retry_policy=TRANSIENT_RETRY,
        description=f"{schema}.{table}, built by sql/{schema}/{table}.sql (see its comments).",
        check_specs=[
            dg.AssetCheckSpec(c.name, asset=key, description=c.description, blocking=c.blocking)
            for c in checks
        ],
    )
    def model(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        settings = warehouse.settings()
        results = []
        with warehouse.build_db() as conn:
            built: dict = {}
            rows = run_model(conn, settings.sql, schema, table, built)
            preview = conn.execute(f"SELECT * FROM {schema}.{table} LIMIT 5").pl()
            for check in checks:
                scope = unpublished_scope(conn, check)
                outcome = run_core_check(conn, check, scope)
                save_result(outcome, settings.validations_dir, check.name)
                results.append(
                    dg.AssetCheckResult(
                        check_name=check.name,
                        passed=outcome.success,
                        severity=dg.AssetCheckSeverity.ERROR
                        if check.blocking
                        else dg.AssetCheckSeverity.WARN,
                        metadata={
                            "rows_checked": outcome.rows_checked,
                            "school_years_checked": "all"
                            if scope is None
                            else ", ".join(f"{s} {y or 'all'}" for s, y in scope),
                            "failing_expectations": dg.MetadataValue.json(outcome.summary()),
                            "failing_rows": dg.MetadataValue.json(
                                [list(r) for o in outcome.failed for r in o.rows[:10]]
                            ),
                        },
                    )
                )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                **({"rebuilt_whole": built["rebuilt"]} if "rebuilt" in built else {}),
                **(
                    {"school_years_updated": dg.MetadataValue.json(built["school_years_updated"])}
                    if built.get("school_years_updated")
                    else {}
                ),
                "preview": dg.MetadataValue.md(preview.to_pandas().to_markdown(index=False)),
            },
            check_results=results,
        )

    return model


model_assets = [_model_asset(schema, table) for schema, table in MODEL_FILES]
