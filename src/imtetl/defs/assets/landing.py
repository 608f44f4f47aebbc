"""The school exports in the landing zone, one asset per school: the start of every lineage
line. A school whose exports are files is an external asset: the landing sensor records a
materialization when they change (by content). A school with an HTTP API is a real asset —
the landing step — that fetches its pages into the landing zone before staging reads them
(load/landing.py). Each school's freshness policy (``freshness_hours`` in its YAML) turns the
asset stale in the UI when its exports are overdue."""

from datetime import timedelta

import dagster as dg

from imtetl.defs.partitions import PIPELINES, SETTINGS, school_and_year, school_year_partitions
from imtetl.defs.resources import WRITE_POOL, WarehouseResource
from imtetl.load.landing import fetch_landing

PAGES_FETCHED = "pages_fetched"
#: Run tags of a run over a range of partitions (the CLI, schedules, backfills).
_RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def landing_key(school: str) -> dg.AssetKey:
    return dg.AssetKey(["landing", school])


def _has_api(pipeline) -> bool:
    return any(source.http is not None for source in pipeline.datasets.values())


def _describe(pipeline) -> dict:
    school = pipeline.school
    kinds = {pipeline.format_for(d).kind.replace("json_pages", "json") for d in pipeline.datasets}
    where = ", ".join(f"{d}: {s.files}" for d, s in pipeline.datasets.items())
    return {
        "description": f"The exports of {school.name} in the landing zone ({where}).",
        "group_name": "landing",
        "kinds": kinds,
        "owners": ["team:data-engineering"],
        "freshness_policy": dg.FreshnessPolicy.time_window(
            fail_window=timedelta(hours=pipeline.freshness_hours)
        )
        if pipeline.freshness_hours
        else None,
        "metadata": {"pipeline": f"pipelines/{school.code.lower()}.yaml"},
    }


def _spec(pipeline) -> dg.AssetSpec:
    return dg.AssetSpec(key=landing_key(pipeline.school.code), **_describe(pipeline))


def run_years(tags: dict[str, str], school: str) -> tuple[int, ...]:
    """The years of ``school`` a run loads, from its partition tags; every year when the run
    names no partition (the asset materialized on its own)."""
    if _RANGE[0] in tags and _RANGE[1] in tags:
        keys = school_year_partitions.get_partition_keys_in_range(
            dg.PartitionKeyRange(tags[_RANGE[0]], tags[_RANGE[1]])
        )
    elif "dagster/partition" in tags:
        keys = [tags["dagster/partition"]]
    else:
        return SETTINGS.years
    return tuple(sorted({y for s, y in map(school_and_year, keys) if s == school}))


def _fetch_asset(pipeline) -> dg.AssetsDefinition:
    code = pipeline.school.code
    described = _describe(pipeline)
    described["description"] += (
        " Materializing it fetches the school's API pages for the run's years into the landing "
        "zone (when its base URL is set); a failed fetch keeps the pages already there."
    )

    @dg.asset(
        key=landing_key(code),
        pool=WRITE_POOL,
        check_specs=[
            dg.AssetCheckSpec(
                PAGES_FETCHED,
                asset=landing_key(code),
                description="The school's API answered with every page of the run's years.",
            )
        ],
        **described,
    )
    def fetch(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        years = run_years(context.run.tags, code)
        if not years:
            # The run loads none of this school's years: nothing to fetch. Still a result —
            # an asset that yields none would make Dagster skip every school's staging.
            yield dg.MaterializeResult(
                metadata={"fetched": dg.MetadataValue.json([]), "years": []},
                check_results=[
                    dg.AssetCheckResult(
                        check_name=PAGES_FETCHED,
                        passed=True,
                        description=f"no year of {code} in this run: nothing to fetch",
                    )
                ],
            )
            return
        settings = warehouse.settings()
        # Never raises: a failed fetch must not stop the other schools' staging (the pages
        # already in the landing zone load instead).
        with warehouse.build_db() as conn:
            fetched, failures = fetch_landing(
                conn, warehouse.pipelines()[code], settings.landing, years, run_id=context.run_id
            )
        errors = [f.error or "" for f in failures]
        for error in errors:
            context.log.error(f"FAILED {error}")
        yield dg.MaterializeResult(
            metadata={"fetched": dg.MetadataValue.json(fetched), "years": list(years)},
            check_results=[
                dg.AssetCheckResult(
                    check_name=PAGES_FETCHED,
                    passed=not failures,
                    severity=dg.AssetCheckSeverity.ERROR,
                    description="; ".join(errors)[:2000]
                    or f"{len(fetched)} folder(s) of pages fetched",
                )
            ],
        )

    return fetch


landing_specs = [_spec(p) for p in PIPELINES.values() if not _has_api(p)]
landing_fetches = [_fetch_asset(p) for p in PIPELINES.values() if _has_api(p)]
LANDING_FETCH_KEYS = [landing_key(c) for c, p in PIPELINES.items() if _has_api(p)]
