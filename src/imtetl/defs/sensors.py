"""The landing sensor: a new or changed export requests a run of exactly the school-years
it holds: its year for a dataset of per-year files, else the years of its rows (a scan of
the year column) and those its last load fed.

A file counts as changed when its content hash differs from the hash of the load the
published warehouse holds for it (``audit.loads``), so touching a file does nothing and a
failed file is retried only when a new version arrives. Hashes are cached in the cursor by
(mtime, size) so unchanged files are not read again; each partition's digest is remembered
too, and used as the run key, so the same files never trigger twice."""

import hashlib
import json
from collections import defaultdict

import dagster as dg
import duckdb

from imtetl.defs.assets.landing import landing_key
from imtetl.defs.jobs import load_schools
from imtetl.defs.partitions import partition_key
from imtetl.defs.resources import WarehouseResource
from imtetl.load.staging import scan_years
from imtetl.read import discover_units
from imtetl.read.base import SourceError


def _published_loads(settings) -> dict[tuple[str, str, str], tuple[set[str], set[int]]]:
    """(school, dataset, source_file) -> (sha256 of the loads the warehouse holds now, the
    school-years they feed)."""
    from imtetl.publish.published import NotPublished, open_published

    if settings.backend != "ducklake" and not settings.warehouse.exists():
        return {}
    try:
        with open_published(settings) as (conn, _):
            rows = conn.execute(
                "SELECT school_code, dataset, source_file, list(DISTINCT sha256), "
                "list(DISTINCT academic_year) FILTER (academic_year IS NOT NULL) "
                "FROM audit.loads WHERE is_current GROUP BY ALL"
            ).fetchall()
    except (duckdb.Error, NotPublished, RuntimeError):
        return {}
    return {(s, d, f): (set(h or []), set(y or [])) for s, d, f, h, y in rows}


@dg.sensor(
    job=load_schools,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Watches the landing zone; a new or changed export (by content hash) requests "
    "a staging run of exactly its school and academic year; the automation sensor then "
    "rebuilds the models and publishes once the staging runs are done.",
)
def landing_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    settings = warehouse.settings()
    cursor = json.loads(context.cursor) if context.cursor else {}
    file_cache: dict[str, list] = cursor.get("files", {})
    requested: dict[str, str] = cursor.get("partitions", {})
    published = _published_loads(settings)
    changed: dict[tuple[str, int], list[str]] = defaultdict(list)
    seen_files: dict[str, list] = {}
    pipelines = warehouse.pipelines()
    for school, pipeline in pipelines.items():
        for dataset in pipeline.datasets:
            try:
                units = discover_units(pipeline, dataset, settings.landing)
            except SourceError as exc:
                context.log.warning(str(exc))
                continue
            for unit in units:
                if unit.year is not None and unit.year not in settings.years:
                    continue
                stats = [(p.stat().st_mtime_ns, p.stat().st_size) for p in unit.paths]
                cached = file_cache.get(unit.source_file)
                digest = cached[1] if cached and cached[0] == stats else unit.sha256
                seen_files[unit.source_file] = [stats, digest]
                hashes, fed = published.get((school, dataset, unit.source_file), (set(), set()))
                if hashes == {digest}:
                    continue
                # The partitions the file holds: its year, or the years of its rows (a cheap
                # scan) and those its last load fed (rows of a year may have gone).
                years = (
                    {unit.year}
                    if unit.year is not None
                    else fed | scan_years(pipeline, pipelines, unit)
                )
                # unknown (the file cannot be read): every year, so that the run says why
                for year in sorted(years & set(settings.years) if years else settings.years):
                    changed[(school, year)].append(f"{dataset}:{unit.source_file}:{digest}")
    requests, events = [], []
    for (school, year), entries in sorted(changed.items()):
        key = f"{school}|{year}"
        digest = hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest()[:20]
        if requested.get(key) == digest:
            continue  # already asked for these very files
        requested[key] = digest
        requests.append(
            dg.RunRequest(
                run_key=f"landing:{key}:{digest}",
                partition_key=partition_key(school, year),
                tags={"imtetl/trigger": "landing_sensor"},
            )
        )
        events.append(
            dg.AssetMaterialization(
                asset_key=landing_key(school),
                description=f"new or changed exports for {year}",
                metadata={"files": dg.MetadataValue.json(sorted(entries))},
            )
        )
    new_cursor = json.dumps({"files": seen_files, "partitions": requested}, sort_keys=True)
    if not requests:
        return dg.SensorResult(skip_reason="no new or changed export", cursor=new_cursor)
    return dg.SensorResult(run_requests=requests, asset_events=events, cursor=new_cursor)
