"""Schedules: the nightly build of the whole graph, a poll of each school whose exports
come from an HTTP API (IMT Nord Europe), at the hour set in its YAML, and the monthly refresh
of the ministry's national open data."""

import dagster as dg

from imtetl.defs.jobs import build_warehouse, refresh_national
from imtetl.defs.partitions import PIPELINES, SETTINGS, partition_key, school_year_partitions

#: Dagster's documented run tags for a single-run backfill of a partition range (what the UI
#: sets when it launches one run for a range; ``RunRequest.partition_key_range`` reads them).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags that make one run load every partition from ``first`` to ``last``."""
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


@dg.schedule(
    job=build_warehouse,
    cron_schedule="0 2 * * *",
    execution_timezone="Europe/Paris",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every night at 02:00 (Paris): every school and year in one run, then publish. "
    "What the landing sensor cannot see: a changed pipelines/*.yaml mapping, a new version of "
    "the code or of the reference data reach the warehouse by the next morning even when no "
    "export changed.",
)
def nightly_build(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    keys = school_year_partitions.get_partition_keys()
    return dg.RunRequest(tags={**range_tags(keys[0], keys[-1]), "imtetl/trigger": "nightly"})


monthly_national_refresh = dg.ScheduleDefinition(
    name="monthly_national_refresh",
    job=refresh_national,
    cron_schedule="0 6 1 * *",
    execution_timezone="Europe/Paris",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="On the 1st of each month at 06:00 (Paris): fetch the ministry's register of "
    "institutions and enrolment statistics, rebuild marts.national_comparison, publish.",
    tags={"imtetl/trigger": "monthly_national_refresh"},
)


def _poll_schedule(school: str, cron: str) -> dg.ScheduleDefinition:
    years = SETTINGS.years

    @dg.schedule(
        name=f"poll_{school.lower()}_api",
        job=build_warehouse,
        cron_schedule=cron,
        execution_timezone="Europe/Paris",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Fetches {school}'s API pages for every year, then loads and publishes.",
    )
    def poll(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        first, last = partition_key(school, years[0]), partition_key(school, years[-1])
        return dg.RunRequest(tags={**range_tags(str(first), str(last)), "imtetl/trigger": "poll"})

    return poll


http_polls = [
    _poll_schedule(code, next(s.http.poll_cron for s in p.datasets.values() if s.http))
    for code, p in PIPELINES.items()
    if any(s.http for s in p.datasets.values())
]
