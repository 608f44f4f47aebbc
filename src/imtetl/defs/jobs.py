"""Jobs: the whole graph (nightly, sensor, CLI), the school-year loads alone (backfills of
several separate partitions), the warehouse rebuild and publish alone, and the ministry's
national data (fetched alone by the CLI before a build; refreshed and published monthly)."""

import dagster as dg

from imtetl.defs.assets.landing import LANDING_FETCH_KEYS
from imtetl.defs.assets.national import NATIONAL_KEYS
from imtetl.pipeline_config import DATASETS

#: The landing step of schools with an HTTP API, then their staging.
LANDING = dg.AssetSelection.assets(*LANDING_FETCH_KEYS)
STAGING = dg.AssetSelection.assets(*(["staging", dataset] for dataset in DATASETS))
#: The portal fetch: never inside the school builds, so an unreachable portal cannot stop them.
NATIONAL = dg.AssetSelection.assets(*NATIONAL_KEYS)
DOWNSTREAM = dg.AssetSelection.all() - LANDING - STAGING - NATIONAL

build_warehouse = dg.define_asset_job(
    name="build_warehouse",
    selection=dg.AssetSelection.all() - NATIONAL,
    description="Load the selected school × year partitions (all of them for a full build), "
    "rebuild core and marts (the national comparison from the national data last loaded), "
    "publish the warehouse and its Data Docs.",
    tags={"imtetl/writes": "warehouse"},
)

load_schools = dg.define_asset_job(
    name="load_schools",
    selection=LANDING | STAGING,
    description="Load school × year partitions into staging only (then run "
    "publish_warehouse once).",
    tags={"imtetl/writes": "warehouse"},
)

publish_warehouse = dg.define_asset_job(
    name="publish_warehouse",
    selection=DOWNSTREAM,
    description="Rebuild core and marts from staging as it is, publish the warehouse and its "
    "Data Docs.",
    tags={"imtetl/writes": "warehouse"},
)

load_national = dg.define_asset_job(
    name="load_national",
    selection=NATIONAL,
    description="Fetch the ministry's national datasets into the build database only (what "
    "`imtetl build` runs before the build; an unreachable portal is reported as skipped).",
    tags={"imtetl/writes": "warehouse"},
)

refresh_national = dg.define_asset_job(
    name="refresh_national",
    selection=NATIONAL
    | dg.AssetSelection.assets(["marts", "national_comparison"], ["published_warehouse"]),
    description="Fetch the ministry's national datasets, rebuild marts.national_comparison "
    "and publish. When the portal does not answer (and no cached copy exists) the run fails "
    "with one error and the published warehouse stays as it was.",
    tags={"imtetl/writes": "warehouse"},
)
