"""dbt-duckdb's plugin for the DuckLake backend (``sql/profiles.yml``, target ``lake``).

dbt's connection is an in-memory DuckDB session; this plugin attaches the lake to it as
``build`` exactly as imtetl's own writers do (imtetl.load.lake: extensions from their wheels,
no password in the SQL, transient failures retried) and makes it the current database of each
cursor, so that the project's unqualified ``staging.*`` sources and ``build_state.*`` tables
resolve in the lake. ``build`` is the database name the prepared manifest was parsed with (the
build database's), so one manifest serves both backends.
"""

from __future__ import annotations

import os

from dbt.adapters.duckdb.plugins import BasePlugin

#: The lake's alias in dbt's session: the prepared manifest's database name.
DATABASE = "build"


class Plugin(BasePlugin):
    def configure_connection(self, conn) -> None:
        from imtetl.load import lake
        from imtetl.settings import Settings

        settings = Settings.from_env()
        catalog = lake.catalog_of(settings)
        catalog.export_password()
        sql = lake.attach_sql(
            settings, catalog, alias=DATABASE, data_path=os.environ.get("IMTETL_DBT_DATA_PATH")
        )

        def attach() -> None:
            lake.ensure_extensions(conn)
            lake._s3_secret(conn, settings.data_path)
            conn.execute(sql)

        with lake.catalog_errors(catalog, "attaching the lake for dbt"):
            lake.retry(attach, what="attach")

    def configure_cursor(self, cursor) -> None:
        from imtetl.load import lake

        cursor.execute(f"USE {DATABASE}")
        cursor.execute(f"SET ducklake_max_retry_count = {lake.DUCKLAKE_RETRIES}")
