"""The code location: `dagster dev` from the project root loads this module."""

import dagster as dg

from imtetl.defs.assets.landing import landing_fetches, landing_specs
from imtetl.defs.assets.models import model_assets
from imtetl.defs.assets.national import national_reference
from imtetl.defs.assets.publish import data_docs, dbt_docs, published_warehouse, report
from imtetl.defs.assets.staging import (
    staging_assets,
    staging_countries,
    staging_regulated_tuition,
    staging_schools,
)
from imtetl.defs.executors import executor_for_env
from imtetl.defs.jobs import (
    build_warehouse,
    load_national,
    load_schools,
    publish_warehouse,
    refresh_national,
)
from imtetl.defs.loggers import progress_logger
from imtetl.defs.resources import WarehouseResource
from imtetl.defs.schedules import http_polls, monthly_national_refresh, nightly_build
from imtetl.defs.sensors import landing_sensor

defs = dg.Definitions(
    assets=[
        *landing_specs,
        *landing_fetches,
        *staging_assets,
        staging_schools,
        staging_countries,
        staging_regulated_tuition,
        national_reference,
        *model_assets,
        published_warehouse,
        data_docs,
        dbt_docs,
        report,
    ],
    jobs=[build_warehouse, load_schools, publish_warehouse, load_national, refresh_national],
    schedules=[nightly_build, monthly_national_refresh, *http_polls],
    sensors=[landing_sensor],
    resources={"warehouse": WarehouseResource()},
    loggers={"console": progress_logger},
    # From IMTETL_EXECUTOR (imtetl/defs/executors.py). By default one process with the
    # DuckDB build database: a step in its own process costs 2-5 s here, and the file admits
    # one writer at a time anyway. With the DuckLake catalog (IMTETL_CATALOG) partitions
    # commit on their own, so steps run concurrently: processes of one machine (IMTETL_WRITERS
    # at once), or Celery workers on several.
    executor=executor_for_env(),
)


# One module-level function per job, for runs whose steps run in processes of their own
# (imtetl.cli._execute_job): what dg.reconstructable records, so that each step process
# loads the job.
def build_warehouse_job() -> dg.JobDefinition:
    return defs.resolve_job_def("build_warehouse")


def load_schools_job() -> dg.JobDefinition:
    return defs.resolve_job_def("load_schools")


def publish_warehouse_job() -> dg.JobDefinition:
    return defs.resolve_job_def("publish_warehouse")


def load_national_job() -> dg.JobDefinition:
    return defs.resolve_job_def("load_national")


RECONSTRUCTABLE = {
    f.__name__.removesuffix("_job"): f
    for f in (build_warehouse_job, load_schools_job, publish_warehouse_job, load_national_job)
}
