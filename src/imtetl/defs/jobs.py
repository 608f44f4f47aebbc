"""Jobs: the whole graph (nightly, sensor, CLI), the school-year loads alone (backfills of
several separate partitions), and the warehouse rebuild and publish alone."""

import dagster as dg

STAGING = dg.AssetSelection.assets(
    ["staging", "enrolment"], ["staging", "tuition"], ["staging", "mobility"]
)
DOWNSTREAM = dg.AssetSelection.all() - STAGING

build_warehouse = dg.define_asset_job(
    name="build_warehouse",
    selection=dg.AssetSelection.all(),
    description="Load the selected school × year partitions (all of them for a full build), "
    "rebuild core and marts, publish the warehouse and its Data Docs.",
    tags={"imtetl/writes": "warehouse"},
)

load_schools = dg.define_asset_job(
    name="load_schools",
    selection=STAGING,
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
