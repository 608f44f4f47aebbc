"""Running the project's jobs from a process (``imtetl build``): in this process on the
DuckDB-file backend (one writer: a step in its own process would only cost 2-5 s), with the
job's own executor on the DuckLake backend (``IMTETL_EXECUTOR``, default multiprocess with
``IMTETL_WRITERS`` steps at once), which needs the job reconstructable in each step's process:
:func:`execute` does both, and either way the run is in the instance's history."""

from __future__ import annotations

import dagster as dg

from imtetl.settings import Settings


def _job(name: str) -> dg.JobDefinition:
    from imtetl.definitions import defs

    return defs.resolve_job_def(name)


# One module-level function per job: what dg.reconstructable records for each step process.
def build_warehouse() -> dg.JobDefinition:
    return _job("build_warehouse")


def load_schools() -> dg.JobDefinition:
    return _job("load_schools")


def publish_warehouse() -> dg.JobDefinition:
    return _job("publish_warehouse")


def load_national() -> dg.JobDefinition:
    return _job("load_national")


_JOBS = {f.__name__: f for f in (build_warehouse, load_schools, publish_warehouse, load_national)}


def in_own_processes(settings: Settings) -> bool:
    """Whether runs use the job's executor (steps in processes of their own, or on Celery
    workers) rather than this process: the DuckLake backend, unless IMTETL_EXECUTOR says
    in_process."""
    import os

    executor = os.environ.get("IMTETL_EXECUTOR", "").strip()
    if executor:
        return executor != "in_process"
    return settings.backend == "ducklake"


def execute(
    name: str,
    settings: Settings,
    instance: dg.DagsterInstance,
    *,
    tags: dict[str, str],
    run_config: dict,
):
    """Run job ``name`` to its end; failures are in the result (never raised)."""
    if not in_own_processes(settings):
        return _JOBS[name]().execute_in_process(
            instance=instance, tags=tags, raise_on_error=False, run_config=run_config
        )
    return dg.execute_job(
        dg.reconstructable(_JOBS[name]),
        instance=instance,
        tags=tags,
        run_config=run_config,
        raise_on_error=False,
    )
