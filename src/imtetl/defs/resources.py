"""The one resource every asset uses: where the landing zone, build database and published
warehouse are (from the environment, see imtetl.settings), and the pseudonym key."""

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from imtetl.load import connect_build_db
from imtetl.load.build_db import build_lock
from imtetl.pipeline_config import SchoolPipeline, cached_pipelines
from imtetl.publish.release import recover
from imtetl.settings import Settings
from imtetl.transform.pseudonym import load_key

#: The pool of every asset that writes the warehouse. On the DuckDB file it is "warehouse",
#: limit 1 (dagster.yaml): the file admits one writing process. On the DuckLake backend there
#: is none: writers take the lake's own locks (imtetl.load.lake), so runs loading different
#: schools proceed at once.
WRITE_POOL = "warehouse" if Settings.from_env().backend == "duckdb_file" else None


class WarehouseResource(dg.ConfigurableResource):
    """Paths default to the environment (IMTETL_LANDING, IMTETL_WAREHOUSE, ...: the
    :class:`~imtetl.settings.Settings` model); ``landing`` and ``warehouse`` override them
    (a path, or ``dg.EnvVar("...")`` to read another variable at launch).

    The settings and the school configs are resolved once per resource instance: Dagster
    makes one per run and process (``setup_for_execution``), and a resource built by hand
    (tests, sensors) resolves them on first use. The configs come from
    :func:`~imtetl.pipeline_config.cached_pipelines`, parsed once per process while the
    files stay the same."""

    landing: str | None = None
    warehouse: str | None = None

    _settings: Settings | None = PrivateAttr(default=None)
    _pipelines: dict[str, SchoolPipeline] | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # an invalid IMTETL_* variable fails the run here, naming it, before any step starts
        self.settings()

    def settings(self) -> Settings:
        if self._settings is None:
            base = Settings.from_env()
            self._settings = dataclasses.replace(
                base,
                landing=Path(self.landing).resolve() if self.landing else base.landing,
                warehouse=Path(self.warehouse).resolve() if self.warehouse else base.warehouse,
            )
        return self._settings

    def pipelines(self) -> dict[str, SchoolPipeline]:
        """The school configs of ``settings().pipelines``, by school code (a new dict each
        call: callers may change it)."""
        if self._pipelines is None:
            self._pipelines = cached_pipelines(self.settings().pipelines)
        return dict(self._pipelines)

    def pseudonym_key(self) -> bytes:
        settings = self.settings()
        return load_key(settings.key_file, sample=settings.landing_is_sample)

    @contextmanager
    def build_db(self, *, shared: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the build database, closed (and so unlocked) on exit.

        On the DuckLake backend the lock is the lake's build lock (a PostgreSQL advisory lock,
        imtetl.load.lake): ``shared`` for the staging steps, which write concurrently (each
        school-year in its own transaction, under the commit lock: :meth:`commit_lock`),
        exclusive for everything else. On the DuckDB file, ``shared`` changes nothing.

        DuckDB admits one writing process per file. Runs that bypass the run queue (the CLI
        executes in-process) therefore take an exclusive lock first and wait for it, instead
        of failing on DuckDB's lock: concurrent runs write one step at a time.

        The lock is the kernel's: a run killed while holding it releases it with its process.
        Holding it, what a killed run left is recovered first: DuckDB replays the build
        database's own WAL when it opens it, and half-written releases and a stale WAL beside
        the published file are removed (imtetl.publish.release.recover)."""
        settings = self.settings()
        with self.build_lock(shared=shared):
            conn = connect_build_db(settings)
            try:
                if settings.backend != "ducklake":
                    yield conn
                    return
                from imtetl.load import lake

                # a catalog that stays lost fails the step naming it (never its password);
                # the step's retry policy then runs it again
                with lake.catalog_errors(lake.catalog_of(settings), "writing", transient=True):
                    yield conn
            finally:
                conn.close()

    def commit_each(self):
        """What staging wraps each partition's transaction in: the lake's commit lock on the
        DuckLake backend; None on the DuckDB file (the build lock is exclusive already)."""
        settings = self.settings()
        if settings.backend != "ducklake":
            return None
        from imtetl.load import lake

        return lambda: lake.advisory_lock(settings, lake.COMMIT_LOCK)

    @contextmanager
    def build_lock(self, *, shared: bool = False) -> Iterator[None]:
        """The build lock alone (dbt opens the build database itself while it is held)."""
        settings = self.settings()
        if settings.backend == "ducklake":
            from imtetl.load import lake

            with lake.advisory_lock(settings, lake.BUILD_LOCK, shared=shared):
                yield
            return
        with build_lock(settings):
            for path in recover(settings.warehouse):
                dg.get_dagster_logger().warning(f"removed {path.name}, left by a killed run")
            yield


@dg.definitions
def resources() -> dg.Definitions:
    """The warehouse resource, for `dg.load_from_defs_folder` (imtetl.definitions)."""
    return dg.Definitions(resources={"warehouse": WarehouseResource()})
