"""Staging assets: each school's export read, validated, normalised and loaded into the
build database, with its bad rows quarantined. Partitioned by school × academic year."""

import dagster as dg
import polars as pl

from imtetl.defs.assets.landing import landing_key
from imtetl.defs.partitions import school_and_year, school_codes, school_year_partitions
from imtetl.defs.resources import WRITE_POOL, WarehouseResource
from imtetl.load import LoadReport
from imtetl.load.reference import (
    school_identifiers,
    write_countries,
    write_regulated_tuition,
    write_schools,
)
from imtetl.load.staging import stage_partitions
from imtetl.pipeline_config import DATASETS
from imtetl.validate.gate import regulated_tuition
from imtetl.validate.gx_runner import save_result

#: Transient failures (a lock held a little too long, an API timing out) are retried.
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)

FILES_LOADED = "source_files_loaded"
SUITE = "expectation_suite"
FEES = "fees_match_regulation"
DELIVERIES = "deliveries_received"


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
    specs.append(
        dg.AssetCheckSpec(
            DELIVERIES,
            asset=key,
            description="Every academic year a school's YAML says it delivers (years) has an "
            "export. A missing delivery is a warning (audit.deliveries), never a failure.",
        )
    )
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
    held = {r.label: r.gate.held_back for r in reports if r.gate and r.gate.held_back}
    suites = [r.gate.suite for r in reports if r.gate and r.gate.suite]
    caught = {
        r.label: r.gate.quarantine.height for r in reports if r.gate and r.gate.quarantine.height
    }
    return dg.AssetCheckResult(
        check_name=SUITE,
        passed=not held,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(f"{s} held back: {'; '.join(v)}" for s, v in held.items())[:2000]
        or "every school's rows meet the suite",
        metadata={
            "schools_held_back": dg.MetadataValue.json(held),
            "failing_expectations": dg.MetadataValue.json(suites[0].summary() if suites else {}),
            "rows_quarantined_by_suite": dg.MetadataValue.json(caught),
            "partitions_validated": len(suites),
        },
    )


def _deliveries_check(reports: list[LoadReport]) -> dg.AssetCheckResult:
    missing = sorted(r.label for r in reports if r.missing_delivery)
    return dg.AssetCheckResult(
        check_name=DELIVERIES,
        passed=not missing,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"missing delivery: no export for {', '.join(missing)}, a year the school covers"
            if missing
            else "every covered year has an export"
        )[:2000],
        metadata={"missing": dg.MetadataValue.json(missing)},
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
            "partitions_compared": sum(1 for r in reports if r.gate and r.gate.fees),
        },
    )  # fmt: skip


def _range_label(partitions: list[tuple[str, int]]) -> str:
    first, last = partitions[0], partitions[-1]
    label = f"{first[0]}-{first[1]}"
    return label if first == last else f"{label}_to_{last[0]}-{last[1]}"


def _partition_metadata(report: LoadReport) -> dict:
    return {
        "dagster/row_count": report.rows_loaded,
        "rows_read": report.rows_read,
        "rows_quarantined": report.rows_quarantined,
        "files": len(report.units),
        "files_failed": len(report.failures),
    }


def _staging_asset(dataset: str) -> dg.AssetsDefinition:
    key = dg.AssetKey(["staging", dataset])

    @dg.asset(
        key=key,
        deps=[landing_key(school) for school in school_codes()],
        group_name="staging",
        partitions_def=school_year_partitions,
        output_required=False,
        kinds={"polars", "duckdb", "great_expectations"},
        owners=["team:data-engineering"],
        tags={"imtetl/dataset": dataset},
        pool=WRITE_POOL,
        retry_policy=TRANSIENT_RETRY,
        description=(
            f"The {dataset} exports of one school and academic year, read in the school's own "
            "format, columns mapped by pipelines/<school>.yaml, values normalised to the "
            "contract's codes, person ids pseudonymised, then gated by the Great Expectations "
            f"suite staging_{dataset}. Rows that cannot be loaded go to audit.quarantine with "
            "their reason. A rerun replaces exactly that school-year's rows."
        ),
        check_specs=_check_specs(dataset),
    )
    def staging_asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        settings = warehouse.settings()
        pipelines = warehouse.pipelines()
        pseudonym_key = warehouse.pseudonym_key()
        regulated = (
            regulated_tuition(settings.reference / "regulated_tuition.csv")
            if dataset == "tuition"
            else None
        )
        partitions = [school_and_year(p) for p in context.partition_keys]
        with warehouse.build_db(shared=True) as conn:
            reports = stage_partitions(
                conn,
                dataset,
                [(pipelines[school], year) for school, year in partitions],
                settings.landing,
                pseudonym_key,
                run_id=context.run_id,
                years=settings.years,
                pipelines=pipelines,
                regulated=regulated,
                commit_each=warehouse.commit_each(),
            )
        # partitions that loaded without any failure
        done = {
            p: r for p, r in zip(context.partition_keys, reports, strict=True) if not r.failures
        }
        # One log entry for the run's partitions: each entry is an event the instance stores.
        context.log.info(
            f"{dataset}: {len(reports)} partition(s)\n"
            + "\n".join(
                f"{school} {year}: read {report.rows_read}, loaded {report.rows_loaded}, "
                f"quarantined {report.rows_quarantined}"
                + "".join(f"\n  FAILED {u.error}" for u in report.failures)
                for (school, year), report in zip(partitions, reports, strict=True)
            )
        )
        for report in reports:
            if report.missing_delivery:
                context.log.warning(
                    f"missing delivery: {report.school} sent no {dataset} export for "
                    f"{report.year}, a year its YAML says it covers (audit.deliveries)"
                )
        gates = [r.gate for r in reports if r.gate is not None]
        label = _range_label(partitions)
        if gates and gates[0].suite is not None:
            save_result(gates[0].suite, settings.validations_dir, label)
        if gates and gates[0].fees is not None:
            save_result(gates[0].fees, settings.validations_dir, label)
        failures = [f"{u.error}" for r in reports for u in r.failures]
        check_results = [
            _suite_check(reports),
            _deliveries_check(reports),
            *([_fees_check(reports)] if dataset == "tuition" else []),
            dg.AssetCheckResult(
                check_name=FILES_LOADED,
                passed=not failures,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"failures": dg.MetadataValue.json(failures[:50])},
                description="; ".join(failures)[:2000] if failures else "all files loaded",
            ),
        ]
        if len(done) == len(context.partition_keys):
            # Every partition loaded: one result for the run (and downstream assets follow).
            metadata = {
                "dagster/row_count": sum(r.rows_loaded for r in reports),
                "rows_read": sum(r.rows_read for r in reports),
                "rows_quarantined": sum(r.rows_quarantined for r in reports),
                "files": sum(len(r.units) for r in reports),
                "quarantine_reasons": {
                    reason: count for r in reports for reason, count in r.reasons.items()
                },
            }
            previews = [r.preview for r in reports if r.preview is not None]
            if previews:
                metadata["preview"] = dg.MetadataValue.md(
                    previews[0].head(5).to_pandas().to_markdown(index=False)
                )
            yield dg.MaterializeResult(metadata=metadata, check_results=check_results)
            return
        # Some partitions failed: only the others are recorded as materialized, so the UI
        # shows exactly which school-years are behind (their previous rows stay published).
        for partition, report in done.items():
            yield dg.AssetMaterialization(
                asset_key=key, partition=partition, metadata=_partition_metadata(report)
            )
        yield from check_results

    return staging_asset


staging_assets = [_staging_asset(dataset) for dataset in DATASETS]


@dg.asset(
    key=dg.AssetKey(["staging", "schools"]),
    group_name="staging",
    kinds={"yaml", "duckdb"},
    owners=["team:data-engineering"],
    pool=WRITE_POOL,
    description="The schools as declared in pipelines/*.yaml (code, name, city), with their "
    "UAI and Erasmus codes and the sources of each from reference/imt_school_identifiers.csv.",
)
def staging_schools(warehouse: WarehouseResource) -> dg.MaterializeResult:
    identifiers = school_identifiers(warehouse.settings().reference / "imt_school_identifiers.csv")
    with warehouse.build_db() as conn:
        count = write_schools(conn, warehouse.pipelines(), identifiers)
    return dg.MaterializeResult(metadata={"dagster/row_count": count})


@dg.asset(
    key=dg.AssetKey(["staging", "countries"]),
    group_name="staging",
    kinds={"python", "duckdb"},
    owners=["team:data-engineering"],
    pool=WRITE_POOL,
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
    pool=WRITE_POOL,
    description="Regulated IMT tuition fees with their legal sources "
    "(reference/regulated_tuition.csv, compiled from the arrêtés).",
)
def staging_regulated_tuition(warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    frame = regulated_tuition(settings.reference / "regulated_tuition.csv")
    with warehouse.build_db() as conn:
        count = write_regulated_tuition(conn, frame)
    return dg.MaterializeResult(metadata={"dagster/row_count": count})
