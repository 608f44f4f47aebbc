"""The one resource every asset uses: where the landing zone, build database and published
warehouse are (from the environment, see imtetl.settings), and the pseudonym key."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from imtetl.load import connect_build_db
from imtetl.load.build_db import build_lock
from imtetl.pipeline_config import SchoolPipeline, load_pipelines
from imtetl.publish.release import recover
from imtetl.settings import Settings
from imtetl.transform.pseudonym import load_key


class WarehouseResource(dg.ConfigurableResource):
    """Paths default to the environment (IMTETL_LANDING, IMTETL_WAREHOUSE, ...)."""

    landing: str | None = None
    warehouse: str | None = None

    def settings(self) -> Settings:
        base = Settings.from_env()
        from pathlib import Path

        return Settings(
            home=base.home,
            landing=Path(self.landing).resolve() if self.landing else base.landing,
            warehouse=Path(self.warehouse).resolve() if self.warehouse else base.warehouse,
            pipelines=base.pipelines,
            sql=base.sql,
            years=base.years,
            data_docs_dir=base.data_docs_dir,
        )

    def pipelines(self) -> dict[str, SchoolPipeline]:
        return load_pipelines(self.settings().pipelines)

    def pseudonym_key(self) -> bytes:
        settings = self.settings()
        return load_key(settings.key_file, sample=settings.landing_is_sample)

    @contextmanager
    def build_db(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the build database, closed (and so unlocked) on exit.

        DuckDB admits one writing process per file. Runs that bypass the run queue (the CLI
        executes in-process) therefore take an exclusive lock first and wait for it, instead
        of failing on DuckDB's lock: concurrent runs write one step at a time.

        The lock is the kernel's: a run killed while holding it releases it with its process.
        Holding it, what a killed run left is recovered first: DuckDB replays the build
        database's own WAL when it opens it, and half-written releases and a stale WAL beside
        the published file are removed (imtetl.publish.release.recover)."""
        with self.build_lock():
            conn = connect_build_db(self.settings())
            try:
                yield conn
            finally:
                conn.close()

    @contextmanager
    def build_lock(self) -> Iterator[None]:
        """The build lock alone (dbt opens the build database itself while it is held)."""
        settings = self.settings()
        with build_lock(settings):
            for path in recover(settings.warehouse):
                dg.get_dagster_logger().warning(f"removed {path.name}, left by a killed run")
            yield
