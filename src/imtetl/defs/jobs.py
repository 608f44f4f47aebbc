"""Jobs: the whole graph, for the nightly build and the CLI."""

from __future__ import annotations

import dagster as dg

build_warehouse = dg.define_asset_job(
    name="build_warehouse",
    selection=dg.AssetSelection.all(),
    description="Load every school (or the selected school partitions), rebuild core and "
    "marts, publish the warehouse.",
    tags={"imtetl/writes": "warehouse"},
)
