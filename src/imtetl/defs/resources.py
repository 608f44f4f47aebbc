"""The one resource every asset uses: where the landing zone, build database and published
warehouse are (from the environment, see imtetl.settings), and the pseudonym key."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from imtetl.load import connect_build_db
from imtetl.pipeline_config import SchoolPipeline, load_pipelines
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
        )

    def pipelines(self) -> dict[str, SchoolPipeline]:
        return load_pipelines(self.settings().pipelines)

    def pseudonym_key(self) -> bytes:
        return load_key(self.settings().key_file)

    @contextmanager
    def build_db(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the build database, closed (and so unlocked) on exit."""
        conn = connect_build_db(self.settings())
        try:
            yield conn
        finally:
            conn.close()
