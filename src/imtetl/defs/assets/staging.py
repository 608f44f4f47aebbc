"""Staging assets: each school's export read, validated, normalised and loaded into the
build database, with its bad rows quarantined. Partitioned by school."""

import dagster as dg
import polars as pl

from imtetl.defs.partitions import school_partitions
from imtetl.defs.resources import WarehouseResource
from imtetl.load import LoadReport, stage_school_dataset
from imtetl.load.reference import write_countries, write_regulated_tuition, write_schools
from imtetl.pipeline_config import DATASETS
from imtetl.validate.gate import regulated_tuition
from imtetl.validate.gx_runner import save_result

FILES_LOADED = "source_files_loaded"
SUITE = "expectation_suite"
FEES = "fees_match_regulation"


def _check_specs(dataset: str) -> list[dg.AssetCheckSpec]:
    key = dg.AssetKey(["staging", dataset])
    specs = [
        dg.AssetCheckSpec(
            FILES_LOADED,
            asset=key,
            description="Every export file of the school could be read as a whole.",
        ),
        dg.AssetCheckSpec(
            SUITE,
            asset=key,
            description=f"The Great Expectations suite staging_{dataset} (validate/suites.py) "
            "on each school's normalised rows. Rows failing a row-level expectation are "
            "quarantined; a school whose dataset breaks the suite is held back — its previous "
            "rows stay, so it does not reach the marts while the other schools do.",
        ),
    ]
    if dataset == "tuition":
        specs.append(
            dg.AssetCheckSpec(
                FEES,
                asset=key,
                description="Fees reported by the schools against the regulated fees "
                "(reference/regulated_tuition.csv, with their legal sources). Warning only.",
            )
        )
    return specs


def _suite_check(reports: list[LoadReport]) -> dg.AssetCheckResult:
    held = {r.school: r.gate.held_back for r in reports if r.gate and r.gate.held_back}
    summary = {r.school: r.gate.suite.summary() for r in reports if r.gate and r.gate.suite}
    caught = {
        r.school: r.gate.quarantine.height for r in reports if r.gate and r.gate.quarantine.height
    }
    return dg.AssetCheckResult(
        check_name=SUITE,
        passed=not held,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(f"{s} held back: {'; '.join(v)}" for s, v in held.items())[:2000]
        or "every school's rows meet the suite",
        metadata={
            "schools_held_back": dg.MetadataValue.json(held),
            "failing_expectations": dg.MetadataValue.json(
                {school: failing for school, failing in summary.items() if failing}
            ),
            "rows_quarantined_by_suite": dg.MetadataValue.json(caught),
            "schools_validated": len(summary),
        },
    )


def _fees_check(reports: list[LoadReport]) -> dg.AssetCheckResult:
    deviations = [
        r.gate.fee_deviations
        for r in reports
        if r.gate is not None and r.gate.fee_deviations is not None
    ]
    rows = [d for d in deviations if d.height]
    table = pl.concat(rows) if rows else None
    return dg.AssetCheckResult(
        check_name=FEES,
        passed=table is None,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{table.height} fees depart from the regulated fee" if table is not None
            else "every regulated fee matches"
        ),
        metadata={
            "deviations": dg.MetadataValue.md(
                table.head(20).to_pandas().to_markdown(index=False) if table is not None else "none"
            ),
            "fees_compared": sum(r.gate.fees.outcomes[0].unexpected_count >= 0
                                 for r in reports if r.gate and r.gate.fees),
        },
    )  # fmt: skip


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
        check_specs=_check_specs(dataset),
    )
    def staging_asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        settings = warehouse.settings()
        pipelines = warehouse.pipelines()
        key = warehouse.pseudonym_key()
        regulated = (
            regulated_tuition(settings.reference / "regulated_tuition.csv")
            if dataset == "tuition"
            else None
        )
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
                    regulated=regulated,
                )
                reports.append(report)
                if report.gate is not None and report.gate.suite is not None:
                    save_result(report.gate.suite, settings.validations_dir, school)
                if report.gate is not None and report.gate.fees is not None:
                    save_result(report.gate.fees, settings.validations_dir, school)
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
                _suite_check(reports),
                *([_fees_check(reports)] if dataset == "tuition" else []),
                dg.AssetCheckResult(
                    check_name=FILES_LOADED,
                    passed=not failures,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata={"failures": dg.MetadataValue.json(failures[:50])},
                    description="; ".join(failures)[:2000] if failures else "all files loaded",
                ),
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


@dg.asset(
    key=dg.AssetKey(["staging", "regulated_tuition"]),
    group_name="staging",
    kinds={"csv", "duckdb"},
    owners=["team:data-engineering"],
    pool="warehouse",
    description="Regulated IMT tuition fees with their legal sources "
    "(reference/regulated_tuition.csv, compiled from the arrêtés).",
)
def staging_regulated_tuition(warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    frame = regulated_tuition(settings.reference / "regulated_tuition.csv")
    with warehouse.build_db() as conn:
        count = write_regulated_tuition(conn, frame)
    return dg.MaterializeResult(metadata={"dagster/row_count": count})
