"""The published warehouse: the file BI tools and analysts open (IMTETL_WAREHOUSE)."""

import shutil

import dagster as dg

from imtetl.defs.assets.models import sql_models
from imtetl.defs.assets.staging import TRANSIENT_RETRY
from imtetl.defs.automation import ON_NEW_STAGING
from imtetl.defs.resources import WRITE_POOL, WarehouseResource
from imtetl.load import dbt
from imtetl.load.build_db import connect_build_db
from imtetl.load.deliveries import write_deliveries
from imtetl.publish import publish_release
from imtetl.publish.data_docs import build_data_docs
from imtetl.publish.report import render_report


@dg.asset(
    automation_condition=ON_NEW_STAGING,
    key=dg.AssetKey(["published_warehouse"]),
    deps=sorted(sql_models.keys),
    group_name="publish",
    kinds={"duckdb"},
    retry_policy=TRANSIENT_RETRY,
    owners=["team:data-engineering"],
    pool=WRITE_POOL,
    description="Copies core, marts and audit into a new DuckDB file and renames it over "
    "the published warehouse: readers switch from one complete state to the next and are "
    "never blocked. Each release is listed in audit.releases and the last "
    "IMTETL_KEEP_RELEASES are kept as read-only files in warehouse/releases/ (imtetl releases). "
    "On the DuckLake backend (IMTETL_CATALOG) a release is the snapshot of the lake that passed "
    "the integrity gate, which readers attach with SNAPSHOT_VERSION.",
)
def published_warehouse(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    settings = warehouse.settings()
    with warehouse.build_db() as conn:
        missing = write_deliveries(conn, warehouse.pipelines(), settings.years)
        if missing:
            context.log.warning(f"{missing} missing deliveries: see audit.deliveries")
        conn.execute((settings.sql / "audit" / "comments.sql").read_text(encoding="utf-8"))
        if settings.backend == "ducklake":
            from imtetl.publish.lake import publish_snapshot
            from imtetl.publish.published import describe

            snapshot = publish_snapshot(conn, settings, run_id=context.run_id)
            return dg.MaterializeResult(
                metadata={
                    "backend": "ducklake",
                    "warehouse": describe(settings),
                    "release_id": snapshot.release_id,
                    "snapshot": snapshot.snapshot,
                    "checked_snapshot": snapshot.checked_snapshot,
                    "publish_seconds": snapshot.seconds,
                    "check_seconds": snapshot.check_seconds,
                    "tables": dg.MetadataValue.json(snapshot.tables),
                    "missing_deliveries": missing,
                }
            )
        release = publish_release(
            conn,
            settings.warehouse,
            sql_dir=settings.sql,
            keep=settings.keep_releases,
            run_id=context.run_id,
        )
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(release.path)),
            "release_id": release.release_id,
            "kept_as": dg.MetadataValue.path(str(release.kept)) if release.kept else "not kept",
            "kept_by": release.kept_by or "",
            "release_files_deleted": len(release.pruned or []),
            "bytes": release.bytes,
            "publish_seconds": release.seconds,
            "incremental": release.incremental,
            "tables": dg.MetadataValue.json(release.tables),
            "missing_deliveries": missing,
        }
    )


@dg.asset(
    automation_condition=ON_NEW_STAGING,
    key=dg.AssetKey(["data_docs"]),
    deps=[dg.AssetKey(["published_warehouse"])],
    group_name="publish",
    kinds={"great_expectations", "html"},
    owners=["team:data-engineering"],
    description="The Great Expectations Data Docs site of the last build (every suite's "
    "results per school and the core checks), under IMTETL_DATA_DOCS "
    "(default warehouse/data_docs/).",
)
def data_docs(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    settings = warehouse.settings()
    index = build_data_docs(settings.validations_dir, settings.data_docs, context.run_id[:8])
    if index is None:
        return dg.MaterializeResult(metadata={"pages": 0})
    return dg.MaterializeResult(
        metadata={
            "index": dg.MetadataValue.url(index.as_uri()),
            "path": dg.MetadataValue.path(str(index)),
            "pages": len(list(index.parent.rglob("*.html"))),
        }
    )


@dg.asset(
    automation_condition=ON_NEW_STAGING,
    key=dg.AssetKey(["dbt_docs"]),
    deps=[dg.AssetKey(["published_warehouse"])],
    group_name="publish",
    kinds={"dbt", "html"},
    owners=["team:data-engineering"],
    pool=WRITE_POOL,
    description="The dbt docs site of the SQL layer (`dbt docs generate --static`): every "
    "model, column, test and source with its description and lineage, and the catalog of the "
    "tables as built. One self-contained page, under IMTETL_DBT_DOCS (default "
    "warehouse/dbt_docs/index.html), beside the Great Expectations Data Docs.",
)
def dbt_docs(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    settings = warehouse.settings()
    with warehouse.build_lock():
        connect_build_db(settings).close()
        invocation = dbt.invoke(settings, ["docs", "generate", "--static", "--no-compile"])
    if not invocation.success:
        raise dg.Failure(f"dbt docs generate failed: {invocation.exception}")
    target = settings.build_dir / "dbt"
    site = settings.dbt_docs
    site.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(target / "static_index.html", site / "index.html")
    for name in ("manifest.json", "catalog.json"):
        shutil.copyfile(target / name, site / name)
    index = site / "index.html"
    return dg.MaterializeResult(
        metadata={
            "index": dg.MetadataValue.url(index.as_uri()),
            "path": dg.MetadataValue.path(str(index)),
            "bytes": index.stat().st_size,
            "dbt_seconds": invocation.seconds,
        }
    )


@dg.asset(
    automation_condition=ON_NEW_STAGING,
    key=dg.AssetKey(["report"]),
    deps=[dg.AssetKey(["published_warehouse"])],
    group_name="publish",
    kinds={"html", "altair"},
    owners=["team:data-engineering"],
    description="A static HTML report (Altair charts, rendered offline) over the published "
    "warehouse's bi views: foreign intake by school and region, non-EU fees of the "
    "international master's against the regulated fee, recruitment routes and apprentices, "
    "mobility. Written to warehouse/report/index.html (IMTETL_REPORT).",
)
def report(warehouse: WarehouseResource) -> dg.MaterializeResult:
    from imtetl.publish.published import open_published

    settings = warehouse.settings()
    with open_published(settings) as (conn, _):
        path = render_report(conn, settings.report)
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.url(path.as_uri()),
            "path": dg.MetadataValue.path(str(path)),
            "bytes": path.stat().st_size,
        }
    )
