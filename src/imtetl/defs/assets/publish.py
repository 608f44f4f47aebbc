"""The published warehouse: the file BI tools and analysts open (IMTETL_WAREHOUSE)."""

import dagster as dg

from imtetl.defs.resources import WarehouseResource
from imtetl.load import MODEL_FILES
from imtetl.publish import publish_release


@dg.asset(
    key=dg.AssetKey(["published_warehouse"]),
    deps=[dg.AssetKey([schema, table]) for schema, table in MODEL_FILES],
    group_name="publish",
    kinds={"duckdb"},
    owners=["team:data-engineering"],
    pool="warehouse",
    description="Copies core, marts and audit into a new DuckDB file and renames it over "
    "the published warehouse: readers switch from one complete state to the next and are "
    "never blocked.",
)
def published_warehouse(warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    with warehouse.build_db() as conn:
        conn.execute((settings.sql / "audit" / "comments.sql").read_text(encoding="utf-8"))
        views = (
            sorted((settings.sql / "bi").glob("*.sql")) if (settings.sql / "bi").is_dir() else []
        )
        release = publish_release(conn, settings.warehouse, views_sql=views)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(release.path)),
            "bytes": release.bytes,
            "publish_seconds": release.seconds,
            "tables": dg.MetadataValue.json(release.tables),
        }
    )
