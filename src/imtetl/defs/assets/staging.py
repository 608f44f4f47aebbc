"""Staging assets: each school's export read, validated, normalised and loaded into the
build database, with its bad rows quarantined. Partitioned by school."""

import dagster as dg

from imtetl.defs.partitions import school_partitions
from imtetl.defs.resources import WarehouseResource
from imtetl.load import stage_school_dataset
from imtetl.load.reference import write_countries, write_schools
from imtetl.pipeline_config import DATASETS

FILES_LOADED = "source_files_loaded"


def _staging_asset(dataset: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(["staging", dataset]),
        deps=[dg.AssetKey(["landing", dataset])],
        group_name="staging",
        partitions_def=school_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"polars", "duckdb"},
        owners=["team:data-engineering"],
        pool="warehouse",
        description=(
            f"The {dataset} export of one school read in its own format, its columns mapped "
            "by pipelines/<school>.yaml, values normalised to the contract's codes and student "
            "ids pseudonymised; rows that cannot be normalised go to audit.quarantine."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                FILES_LOADED,
                asset=dg.AssetKey(["staging", dataset]),
                description="Every export file of the school could be read as a whole.",
            )
        ],
    )
    def staging_asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        settings = warehouse.settings()
        pipelines = warehouse.pipelines()
        key = warehouse.pseudonym_key()
        reports = []
        with warehouse.build_db() as conn:
            for school in context.partition_keys:
                report = stage_school_dataset(
                    conn,
                    pipelines[school],
                    dataset,
                    settings.landing,
                    key,
                    run_id=context.run_id,
                    years=settings.years,
                    pipelines=pipelines,
                )
                reports.append(report)
                context.log.info(
                    f"{school} {dataset}: read {report.rows_read}, loaded {report.rows_loaded}, "
                    f"quarantined {report.rows_quarantined}"
                    + "".join(f"\n  FAILED {u.error}" for u in report.failures)
                )
        failures = [f"{u.error}" for r in reports for u in r.failures]
        metadata = {
            "dagster/row_count": sum(r.rows_loaded for r in reports),
            "rows_read": sum(r.rows_read for r in reports),
            "rows_quarantined": sum(r.rows_quarantined for r in reports),
            "files": sum(len(r.units) for r in reports),
            "files_failed": len(failures),
            "quarantine_reasons": {
                reason: count for r in reports for reason, count in r.reasons.items()
            },
        }
        previews = [r.preview for r in reports if r.preview is not None]
        if previews:
            metadata["preview"] = dg.MetadataValue.md(
                previews[0].head(5).to_pandas().to_markdown(index=False)
            )
        return dg.MaterializeResult(
            metadata=metadata,
            check_results=[
                dg.AssetCheckResult(
                    check_name=FILES_LOADED,
                    passed=not failures,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata={"failures": dg.MetadataValue.json(failures[:50])},
                    description="; ".join(failures)[:2000] if failures else "all files loaded",
                )
            ],
        )

    return staging_asset


staging_assets = [_staging_asset(dataset) for dataset in DATASETS]


@dg.asset(
    key=dg.AssetKey(["staging", "schools"]),
    group_name="staging",
    kinds={"yaml", "duckdb"},
    owners=["team:data-engineering"],
    pool="warehouse",
    description="The schools as declared in pipelines/*.yaml (code, name, city, UAI, Erasmus).",
)
def staging_schools(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.build_db() as conn:
        count = write_schools(conn, warehouse.pipelines())
    return dg.MaterializeResult(metadata={"dagster/row_count": count})


@dg.asset(
    key=dg.AssetKey(["staging", "countries"]),
    group_name="staging",
    kinds={"python", "duckdb"},
    owners=["team:data-engineering"],
    pool="warehouse",
    description="ISO 3166 countries with French and English names, EU/EEA membership and UN "
    "M49 region, from pycountry, Babel (CLDR) and country_converter.",
)
def staging_countries(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.build_db() as conn:
        count = write_countries(conn)
    return dg.MaterializeResult(metadata={"dagster/row_count": count})
