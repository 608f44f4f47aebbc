"""The executor of the project's jobs, from configuration (IMTETL_EXECUTOR, IMTETL_WRITERS).

Provisional: the DuckDB file runs in process; the DuckLake backend runs each step in its own
process, IMTETL_WRITERS at a time."""

from __future__ import annotations

import dagster as dg

from imtetl.settings import Settings


def executor_for_env() -> dg.ExecutorDefinition:
    settings = Settings.from_env()
    if settings.backend != "ducklake":
        return dg.in_process_executor
    # forkserver: the code location (and Great Expectations, dbt) is imported once, each step
    # process is a fork of it: ~15 s of imports saved per step on this 2-core machine
    return dg.multiprocess_executor.configured(
        {
            "max_concurrent": settings.writers,
            "start_method": {"forkserver": {"preload_modules": list(PRELOAD)}},
        }
    )


#: What the forkserver imports once for every step process.
PRELOAD = ("imtetl.definitions", "great_expectations", "dbt.cli.main")
