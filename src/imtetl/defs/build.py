"""One `imtetl build` as Dagster runs: which jobs, in what order, and what their events say.

The CLI (imtetl.cli) is a thin client: it checks its arguments, hands :func:`run_build` a way
to execute a job (in this process, or with the job's executor) and renders the outcome.

- A full build first runs ``load_national``, the ministry's portal, in a run of its own: an
  unreachable portal fails that run only, fast, and the build uses what staging holds.
- The selected school-years are one ``build_warehouse`` run when they are one range of
  partition keys (all of them, one school, one school-year), which loads, rebuilds the models
  and publishes; separate partitions (one year of every school) are one ``load_schools`` run
  per range, then one ``publish_warehouse``.
- A school-year whose file fails is held back (its previous rows stay) and its staging step
  records only the other partitions as materialized, so Dagster skips the rest of that run.
  Dagster cannot mark some partitions of a single-run range as failed while letting the
  steps downstream run (dagster-io/dagster#17836), so the publish then comes in a second
  run, ``publish_warehouse``: what the automation condition sensor (defs/automation.py)
  would start on its next tick, done at once for the CLI, which has no daemon.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from imtetl.defs.assets.national import NATIONAL_KEYS, PORTAL_FAILURE
from imtetl.defs.partitions import school_year_partitions
from imtetl.defs.recovery import fail_abandoned_runs, process_tags
from imtetl.defs.schedules import range_tags
from imtetl.settings import Settings

#: execute(job_name, tags, run_config) -> the run's result (failures in it, never raised)
Execute = Callable[[str, dict, dict], dg.ExecuteInProcessResult]

VERBOSE = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def contiguous(ordered: list[str], wanted: list[str]) -> list[tuple[str, str]]:
    """Group partition keys into ranges of consecutive keys (one run each)."""
    position = {key: i for i, key in enumerate(ordered)}
    ranges: list[list[str]] = []
    for key in wanted:
        if ranges and position[key] == position[ranges[-1][1]] + 1:
            ranges[-1][1] = key
        else:
            ranges.append([key, key])
    return [(first, last) for first, last in ranges]


def partition_ranges(school: str | None, year: int | None) -> list[tuple[str, str]]:
    """The ranges of school-year partition keys a build of ``school`` and ``year`` loads
    (both None: every partition); empty when none matches."""
    keys = school_year_partitions.get_partition_keys()
    wanted = [
        key
        for key in keys
        if (not school or key.split("|")[0] == school)
        and (not year or key.split("|")[1] == str(year))
    ]
    return contiguous(keys, wanted)


def published(result) -> bool:
    return result.is_node_success("published_warehouse")


def step_failures(results) -> list[tuple[str, str]]:
    """(step, the user code's error message) of every failed step."""
    failures = []
    for result in results:
        for event in result.get_step_failure_events():
            error = event.step_failure_data.error
            while error is not None and error.cause is not None:
                error = error.cause  # the user code's exception, not Dagster's wrapper
            failures.append((event.step_key, error.message.strip() if error else "unknown"))
    return failures


@dataclass
class BuildOutcome:
    """The runs of one build and what their events say."""

    runs: list = field(default_factory=list)
    national: object | None = None
    abandoned: list[str] = field(default_factory=list)

    @property
    def run_ids(self) -> list[str]:
        return [r.run_id for r in ([self.national] if self.national else []) + self.runs]

    @property
    def published(self) -> bool:
        return bool(self.runs) and published(self.runs[-1])

    @property
    def step_failures(self) -> list[tuple[str, str]]:
        return step_failures(self.runs)

    def national_lines(self) -> tuple[list[str], bool]:
        """What happened to the national data, and whether it failed for a reason other
        than an unreachable portal (that one is expected offline: the assets are skipped)."""
        if self.national is None:
            return [], False
        names = ", ".join(key.to_user_string() for key in NATIONAL_KEYS)
        lines, failed = [], False
        for event in self.national.get_step_failure_events():
            user = event.step_failure_data.user_failure_data
            kind = user.metadata.get(PORTAL_FAILURE) if user else None
            message = user.description if user else step_failures([self.national])[0][1]
            if kind is not None and kind.value == "unavailable":
                lines.append(f"skipped {names}: {message}")
            else:
                lines.append(f"FAILED {names}: {message}")
                failed = True
        for materialization in self.national.asset_materializations_for_node("national_reference"):
            meta = {key: value.value for key, value in materialization.metadata.items()}
            what = "unchanged since its last load" if meta["unchanged"] else "loaded"
            origin = "cached copy" if meta["origin"] == "cache" else "portal"
            lines.append(
                f"{materialization.asset_key.to_user_string()}: {meta['rows_read']:,} rows from "
                f"the {origin}, {what} (sha256 {meta['sha256'][:12]}…, "
                f"{meta['rows_quarantined']} quarantined)"
            )
        return lines, failed


def run_build(
    execute: Execute, instance: dg.DagsterInstance, *, school: str | None, year: int | None
) -> BuildOutcome:
    """Run the jobs of one build (see the module's docstring) to their end."""
    outcome = BuildOutcome(abandoned=fail_abandoned_runs(instance))
    tags = process_tags()
    ranges = partition_ranges(school, year)
    if not school and not year:
        outcome.national = execute("load_national", tags, QUIET)
    if len(ranges) == 1:  # the usual case: one run loads, rebuilds and publishes
        outcome.runs.append(execute("build_warehouse", {**range_tags(*ranges[0]), **tags}, VERBOSE))
    else:  # separate partitions (one year of every school): load each range, publish once
        for first, last in ranges:
            outcome.runs.append(
                execute("load_schools", {**range_tags(first, last), **tags}, VERBOSE)
            )
    if not outcome.published and not outcome.step_failures:
        # a school-year was held back, so its run stopped before publishing: rebuild and
        # publish from staging as it is (the failed rows keep their old state)
        outcome.runs.append(execute("publish_warehouse", tags, VERBOSE))
    return outcome


def loads_summary(
    settings: Settings, run_ids: list[str]
) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """The runs' loads by school and dataset, their failures, and the missing deliveries
    (audit.loads and audit.deliveries of the build database)."""
    import duckdb

    if settings.backend == "ducklake":
        from imtetl.load import lake

        opened = contextlib.closing(lake.connect(settings, read_only=True))
    elif not settings.build_db.exists():
        return [], [], []
    else:
        opened = duckdb.connect(str(settings.build_db), read_only=True)
    with opened as conn:
        table = conn.execute(
            "SELECT school_code, dataset, count(DISTINCT source_file) AS files, sum(rows_read), "
            "sum(rows_loaded), sum(rows_quarantined), "
            "count(DISTINCT source_file) FILTER (status = 'failed') "
            "FROM audit.loads WHERE list_contains(?, run_id) GROUP BY ALL ORDER BY ALL",
            [run_ids],
        ).fetchall()
        failures = conn.execute(
            "SELECT DISTINCT school_code, dataset, error FROM audit.loads "
            "WHERE list_contains(?, run_id) AND status = 'failed' ORDER BY ALL",
            [run_ids],
        ).fetchall()
        missing = []
        if conn.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'audit' AND table_name = 'deliveries'"
        ).fetchone()[0]:
            missing = conn.execute(
                "SELECT school_code, dataset, academic_year FROM audit.deliveries "
                "WHERE expected AND NOT received ORDER BY ALL"
            ).fetchall()
    return table, failures, missing
