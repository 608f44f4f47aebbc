"""The ministry's national open data, pulled from its Opendatasoft portal: the register of
institutions and the enrolment statistics by institution (Licence Ouverte).

One step fetches both datasets (load/national.py): one portal, so one clear error when it
does not answer. A cached copy stands in when the portal is down; without one the step fails
with ``imtetl/portal`` = ``unavailable`` in its failure metadata, and everything downstream
(marts/national_comparison, the publish) is skipped: the published warehouse stays as it was.
``imtetl build`` runs this step in its own run first and reports such a failure as *skipped*;
the ``monthly_national_refresh`` schedule refreshes it."""

from datetime import timedelta

import dagster as dg

from imtetl.defs.resources import WRITE_POOL, WarehouseResource
from imtetl.load.national import NATIONAL_DATASETS, NationalLoad, obtain
from imtetl.load.national import load as load_export
from imtetl.read.opendatasoft import EXPORT_PATH, PortalError, PortalUnavailable

#: Failure metadata key saying why the portal step failed: "unavailable" or "error".
PORTAL_FAILURE = "imtetl/portal"


def national_key(dataset_key: str) -> dg.AssetKey:
    return dg.AssetKey(["national", dataset_key])


NATIONAL_KEYS = [national_key(key) for key in NATIONAL_DATASETS]


def _spec(dataset) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=national_key(dataset.key),
        description=f"{dataset.title}: the ministry's dataset {dataset.dataset_id} "
        f"(Opendatasoft export {EXPORT_PATH.format(dataset_id=dataset.dataset_id)} under "
        f"IMTETL_ODS_BASE_URL), cached with its SHA-256 in data/reference_cache/ and loaded "
        f"into {dataset.table}. Rows that cannot be typed go to audit.quarantine.",
        group_name="national",
        kinds={"csv", "duckdb"},
        owners=["team:data-engineering"],
        freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(days=35)),
        metadata={"dataset_id": dataset.dataset_id, "licence": "Licence Ouverte v2.0 (Etalab)"},
    )


def _metadata(load: NationalLoad) -> dict:
    return {
        "dagster/row_count": load.rows_loaded,
        "rows_read": load.rows_read,
        "rows_quarantined": load.rows_quarantined,
        "quarantine_reasons": dg.MetadataValue.json(load.reasons),
        "url": dg.MetadataValue.url(load.url),
        "origin": load.origin,
        "sha256": load.sha256,
        "fetched_at": load.fetched_at,
        "cached_file": dg.MetadataValue.path(str(load.path)),
        "header_style": load.header_style,
        "unchanged": load.unchanged,
        "load_id": load.load_id or "",
        **({"note": load.note} if load.note else {}),
    }


@dg.multi_asset(
    name="national_reference",
    specs=[_spec(dataset) for dataset in NATIONAL_DATASETS.values()],
    pool=WRITE_POOL,
    description="Fetch the ministry's register of institutions and enrolment statistics "
    "from its Opendatasoft portal and load them (cached copy when the portal is down).",
)
def national_reference(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    settings = warehouse.settings()
    failures: dict[str, Exception] = {}
    for dataset in NATIONAL_DATASETS.values():
        if failures and all(isinstance(e, PortalUnavailable) for e in failures.values()):
            # the portal did not answer for the previous dataset: do not wait on it again
            first = next(iter(failures.values()))
            failures[dataset.key] = PortalUnavailable(
                f"national/{dataset.key}: not tried, the portal did not answer ({first})"
            )
            continue
        try:
            obtained = obtain(settings, dataset)  # the download holds no lock
        except (PortalUnavailable, PortalError) as exc:
            failures[dataset.key] = exc
            (context.log.warning if isinstance(exc, PortalUnavailable) else context.log.error)(
                str(exc)
            )
            continue
        with warehouse.build_db() as conn:
            load = load_export(conn, obtained, run_id=context.run_id)
        if load.note:
            context.log.warning(f"national/{dataset.key}: {load.note}")
        context.log.info(
            f"national/{dataset.key}: {load.origin} {load.sha256[:12]}, "
            f"{'unchanged' if load.unchanged else 'loaded'}: read {load.rows_read}, "
            f"loaded {load.rows_loaded}, quarantined {load.rows_quarantined} "
            f"({load.header_style} headers)"
        )
        yield dg.MaterializeResult(asset_key=national_key(dataset.key), metadata=_metadata(load))
    if failures:
        unavailable = all(isinstance(e, PortalUnavailable) for e in failures.values())
        names = ", ".join(f"national/{key}" for key in failures)
        first = next(iter(failures.values()))
        if unavailable:
            reason = first.__cause__ or first
            description = (
                f"The ministry's portal {settings.ods_base_url} did not answer: {reason}. "
                f"{names} not refreshed; nothing was written, the national comparison keeps "
                "the figures of its last load. Retry when the portal is reachable, or set "
                "IMTETL_ODS_BASE_URL to a mirror."
            )
        else:
            description = (
                "; ".join(str(e) for e in failures.values())
                + f". {names} not refreshed; nothing was written. Check the dataset on the "
                "portal (renamed? columns changed?)."
            )
        raise dg.Failure(
            description=description,
            metadata={
                PORTAL_FAILURE: "unavailable" if unavailable else "error",
                "datasets": dg.MetadataValue.json(sorted(failures)),
            },
            allow_retries=False,
        )
