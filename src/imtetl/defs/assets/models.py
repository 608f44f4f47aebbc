"""The contract's core and marts tables, each built from its SQL file under sql/."""

import dagster as dg

from imtetl.defs.resources import WarehouseResource
from imtetl.load import MODEL_FILES, run_model

#: Upstream assets of each model, for the lineage graph.
DEPS: dict[str, list[str]] = {
    "core/dim_school": ["staging/schools"],
    "core/dim_country": ["staging/countries"],
    "core/dim_programme": ["staging/enrolment", "staging/tuition"],
    "core/fact_enrolment": ["staging/enrolment", "core/dim_programme"],
    "core/fact_tuition_fee": ["staging/tuition", "core/dim_programme"],
    "core/fact_mobility": ["staging/mobility", "core/dim_school", "core/dim_country"],
    "marts/international_masters_pricing": [
        "core/fact_tuition_fee", "core/fact_enrolment", "core/dim_programme",
    ],
    "marts/foreign_intake": ["core/fact_enrolment", "core/dim_country", "core/dim_programme"],
    "marts/recruitment_routes": ["core/fact_enrolment"],
    "marts/mobility_flows": ["core/fact_mobility"],
}  # fmt: skip


def _model_asset(schema: str, table: str) -> dg.AssetsDefinition:
    name = f"{schema}/{table}"

    @dg.asset(
        key=dg.AssetKey([schema, table]),
        deps=[dg.AssetKey(dep.split("/")) for dep in DEPS[name]],
        group_name=schema,
        kinds={"duckdb", "sql"},
        owners=["team:data-engineering"],
        pool="warehouse",
        description=f"{schema}.{table}, built by sql/{schema}/{table}.sql (see its comments).",
    )
    def model(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        settings = warehouse.settings()
        with warehouse.build_db() as conn:
            rows = run_model(conn, settings.sql, schema, table)
            preview = conn.execute(f"SELECT * FROM {schema}.{table} LIMIT 5").pl()
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "preview": dg.MetadataValue.md(preview.to_pandas().to_markdown(index=False)),
            }
        )

    return model


model_assets = [_model_asset(schema, table) for schema, table in MODEL_FILES]
