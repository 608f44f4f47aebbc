"""Which executor runs a job's steps, from the environment (read when the code location loads).

``IMTETL_EXECUTOR``:

- ``in_process`` (the default without ``IMTETL_CATALOG``): every step in the run's process.
  A step in its own process costs 2-5 s here, and the DuckDB build database admits one
  writing process at a time anyway (the build lock serialises them).
- ``multiprocess`` (the default with ``IMTETL_CATALOG``, the DuckLake backend): steps in
  processes of the run's machine, at most ``IMTETL_WRITERS`` (default 2) at once, forked from
  a server that has imported the code location once.
- ``celery``: each step a task on the Celery workers of ``IMTETL_CELERY_BROKER`` (e.g.
  ``redis://127.0.0.1:6379/0``), results in ``IMTETL_CELERY_BACKEND`` (default: the broker).
  Needs the ``cluster`` extra (dagster-celery, redis); workers run
  ``celery -A imtetl.celery_app worker -Q dagster`` (deploy/README.md).

The broker's URL may hold a password: the executor is configured with references to the
variables (resolved in the run's process), never with their values.

``imtetl build`` uses the same executor (imtetl.cli._execute_job), except ``in_process``, which it
runs in its own process; so do runs launched by the webserver, the daemon (schedules,
sensors, retries) and ``dagster job execute``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

EXECUTOR_ENV = "IMTETL_EXECUTOR"
WRITERS_ENV = "IMTETL_WRITERS"
BROKER_ENV = "IMTETL_CELERY_BROKER"
BACKEND_ENV = "IMTETL_CELERY_BACKEND"
CATALOG_ENV = "IMTETL_CATALOG"
EXECUTORS = ("in_process", "multiprocess", "celery")
DEFAULT_WRITERS = 2
#: What the forkserver imports once for every step process (the jobs of ``imtetl build`` are
#: reconstructed from imtetl.definitions, but the forkserver would preload only the module
#: of the function reconstructed otherwise).
PRELOAD = ("imtetl.definitions", "great_expectations", "dbt.cli.main")


class ExecutorConfigError(ValueError):
    """The executor variables name an executor that cannot be built (the message says which
    variable to set, or which extra to install)."""


def executor_name(environ: Mapping[str, str] | None = None) -> str:
    """The executor ``IMTETL_EXECUTOR`` names; by default ``multiprocess`` when
    ``IMTETL_CATALOG`` is set (DuckLake admits concurrent writers), else ``in_process``."""
    env = os.environ if environ is None else environ
    name = env.get(EXECUTOR_ENV, "").strip().lower().replace("-", "_")
    if not name:
        return "multiprocess" if env.get(CATALOG_ENV, "").strip() else "in_process"
    if name not in EXECUTORS:
        raise ExecutorConfigError(
            f"{EXECUTOR_ENV} must be one of {', '.join(EXECUTORS)}, not {env[EXECUTOR_ENV]!r}"
        )
    return name


def writers(environ: Mapping[str, str] | None = None) -> int:
    """``IMTETL_WRITERS``: how many steps the multiprocess executor runs at once (default 2)."""
    env = os.environ if environ is None else environ
    value = env.get(WRITERS_ENV, "").strip()
    if not value:
        return DEFAULT_WRITERS
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ExecutorConfigError(
            f"{WRITERS_ENV} must be a whole number of 1 or more, not {value!r}"
        )
    return count


def executor_for_env(environ: Mapping[str, str] | None = None) -> dg.ExecutorDefinition:
    """The executor definition the environment chooses (see the module's docstring)."""
    env = os.environ if environ is None else environ
    name = executor_name(env)
    if name == "in_process":
        return dg.in_process_executor
    if name == "multiprocess":
        return dg.multiprocess_executor.configured(
            {
                "max_concurrent": writers(env),
                # forked from a server that imported the code location, Great Expectations
                # and dbt once: a step starts in well under a second instead of importing the
                # stack again (spawn: ~15 s a step on this 2-core machine)
                "start_method": {"forkserver": {"preload_modules": list(PRELOAD)}},
            },
            name="multiprocess",
        )
    return _celery_executor(env)


def _celery_executor(env: Mapping[str, str]) -> dg.ExecutorDefinition:
    if not env.get(BROKER_ENV, "").strip():
        raise ExecutorConfigError(
            f"{EXECUTOR_ENV}=celery needs {BROKER_ENV}, the Celery broker's URL "
            "(e.g. redis://127.0.0.1:6379/0)"
        )
    try:
        from dagster_celery import celery_executor
    except ImportError as exc:
        raise ExecutorConfigError(
            f"{EXECUTOR_ENV}=celery needs dagster-celery: install the cluster extra "
            "(pip install 'imtetl[cluster]')"
        ) from exc
    backend = BACKEND_ENV if env.get(BACKEND_ENV, "").strip() else BROKER_ENV
    return celery_executor.configured(
        {"broker": {"env": BROKER_ENV}, "backend": {"env": backend}}, name="celery"
    )


@dg.definitions
def executor() -> dg.Definitions:
    """The executor the environment chooses, for `dg.load_from_defs_folder`. By default one
    process with the DuckDB build database: a step in its own process costs 2-5 s here, and
    the file admits one writer at a time anyway. With the DuckLake catalog (IMTETL_CATALOG)
    partitions commit on their own, so steps run concurrently: processes of one machine
    (IMTETL_WRITERS at once), or Celery workers on several."""
    return dg.Definitions(executor=executor_for_env())
