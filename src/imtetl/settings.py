"""Where things live: project home, landing zone, warehouse, build area, pipelines.

Every path can be overridden from the environment, as the warehouse contract says
(``IMTETL_WAREHOUSE``, ``IMTETL_LANDING``); nothing here reads files.

The dbt project under ``sql/`` reads the build database's path from ``IMTETL_BUILD_DB``
(its ``profiles.yml``): imtetl sets it to :attr:`Settings.build_db` before running dbt, so
`imtetl dbt <command>` and the Dagster assets always write the build database beside
``IMTETL_WAREHOUSE``. ``IMTETL_DUCKDB_MEMORY`` bounds DuckDB's memory there and in dbt.

Each publish is also kept as a read-only file, ``warehouse/releases/<release_id>.duckdb``
beside the published one, for time travel (``imtetl releases``): the last
``IMTETL_KEEP_RELEASES`` (default 5; 0 keeps none) are kept, older ones are deleted after a
successful publish, and ``audit.releases`` lists every release ever published.

The warehouse backend: the DuckDB file above by default. With ``IMTETL_CATALOG`` (a
PostgreSQL connection string, ``postgresql://user:password@host:port/dbname`` or libpq's
``dbname=… host=…``; the password from the environment only, never from a file in git) the
build writes a DuckLake instead: its catalog in that PostgreSQL database, its data as Parquet
files under ``IMTETL_DATA_PATH`` (a directory shared by every writer, or an ``s3://`` URL read
through httpfs; default ``warehouse/lake/`` beside IMTETL_WAREHOUSE, for one machine). Staging
partitions then load concurrently, ``IMTETL_WRITERS`` at a time (default 2), and a publish is a
snapshot of the lake (imtetl.load.lake, imtetl.publish.lake).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_YEARS = tuple(range(2021, 2026))
#: How many releases are kept as files beside the published warehouse (IMTETL_KEEP_RELEASES).
DEFAULT_KEEP_RELEASES = 5

#: Staging steps that write a DuckLake at once (IMTETL_WRITERS).
DEFAULT_WRITERS = 2

#: The ministry of higher education's Opendatasoft portal (open data, Licence Ouverte).
DEFAULT_ODS_BASE_URL = "https://data.enseignementsup-recherche.gouv.fr"


def find_home(start: Path | None = None) -> Path:
    """The project root: ``IMTETL_HOME``, else the nearest folder holding ``pipelines/`` and
    ``sql/`` from the working directory upwards, else the source checkout of this package."""
    if env := os.environ.get("IMTETL_HOME"):
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pipelines").is_dir() and (folder / "sql").is_dir():
            return folder
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "sql").is_dir():
        return checkout
    return here


def _years_from_env(value: str | None) -> tuple[int, ...]:
    if not value:
        return DEFAULT_YEARS
    if "-" in value and "," not in value:
        first, last = (int(part) for part in value.split("-", 1))
        return tuple(range(first, last + 1))
    return tuple(sorted({int(part) for part in value.split(",") if part.strip()}))


def _project_folder(home: Path, name: str) -> Path:
    """A folder of the project (sql, pipelines, reference): in the home, else in this
    package's source checkout, else inside the installed wheel (``imtetl/_name``)."""
    for folder in (home / name, Path(__file__).resolve().parents[2] / name):
        if folder.is_dir():
            return folder
    return Path(__file__).parent / f"_{name}"


@dataclass(frozen=True)
class Settings:
    """Resolved locations; build one with :meth:`from_env`."""

    home: Path
    landing: Path
    warehouse: Path
    pipelines: Path
    sql: Path
    years: tuple[int, ...]
    data_docs_dir: Path | None = None
    #: The DuckLake catalog's PostgreSQL connection string (IMTETL_CATALOG), or None: the
    #: DuckDB-file backend. Holds a secret: never print it (imtetl.load.lake.Catalog.label).
    catalog: str | None = None
    #: IMTETL_DATA_PATH as given (see :attr:`data_path`)
    lake_data: str | None = None

    @property
    def build_dir(self) -> Path:
        """Private build area next to the published file; readers never open it."""
        return self.warehouse.parent / ".build"

    @property
    def build_db(self) -> Path:
        return self.build_dir / "build.duckdb"

    @property
    def releases_dir(self) -> Path:
        """Where the last releases are kept as read-only files, beside the published one (on
        its filesystem, so that keeping one is a hard link)."""
        return self.warehouse.parent / "releases"

    @property
    def keep_releases(self) -> int:
        """How many of the last releases are kept as files (IMTETL_KEEP_RELEASES, default 5;
        0 keeps none). ``audit.releases`` lists them all either way."""
        value = os.environ.get("IMTETL_KEEP_RELEASES", "").strip()
        if not value:
            return DEFAULT_KEEP_RELEASES
        keep = int(value)
        if keep < 0:
            raise ValueError(f"IMTETL_KEEP_RELEASES must be 0 or more, not {value!r}")
        return keep

    @property
    def backend(self) -> str:
        """``ducklake`` when IMTETL_CATALOG is set, else ``duckdb_file``."""
        return "ducklake" if self.catalog else "duckdb_file"

    @property
    def data_path(self) -> str:
        """Where the DuckLake keeps its Parquet files (IMTETL_DATA_PATH): a directory (relative
        paths from the project home) or an ``s3://`` URL; default ``lake/`` beside the
        warehouse file. Always ends with a slash."""
        value = (self.lake_data or "").strip()
        if not value:
            path = str(self.warehouse.parent / "lake")
        elif "://" in value:
            path = value
        else:
            path = str((self.home / value).resolve())
        return path.rstrip("/") + "/"

    @property
    def writers(self) -> int:
        """How many staging steps write a DuckLake at once (IMTETL_WRITERS, default 2)."""
        value = os.environ.get("IMTETL_WRITERS", "").strip()
        writers = int(value) if value else DEFAULT_WRITERS
        if writers < 1:
            raise ValueError(f"IMTETL_WRITERS must be 1 or more, not {value!r}")
        return writers

    @property
    def reference(self) -> Path:
        """Reference data shipped with the project (regulated fees and their sources)."""
        return _project_folder(self.home, "reference")

    @property
    def validations_dir(self) -> Path:
        """GX validation results of the last build, rendered into the Data Docs site."""
        return self.build_dir / "validations"

    @property
    def data_docs(self) -> Path:
        """Where the GX Data Docs site is written (IMTETL_DATA_DOCS)."""
        return self.data_docs_dir or self.warehouse.parent / "data_docs"

    @property
    def dbt_docs(self) -> Path:
        """Where the dbt docs site is published (IMTETL_DBT_DOCS, default warehouse/dbt_docs/)."""
        if value := os.environ.get("IMTETL_DBT_DOCS"):
            return Path(value).resolve()
        return self.warehouse.parent / "dbt_docs"

    @property
    def report(self) -> Path:
        """The static HTML report (IMTETL_REPORT)."""
        if value := os.environ.get("IMTETL_REPORT"):
            return Path(value).resolve()
        return self.warehouse.parent / "report" / "index.html"

    @property
    def ods_base_url(self) -> str:
        """Base URL of the ministry's Opendatasoft portal (IMTETL_ODS_BASE_URL)."""
        return (os.environ.get("IMTETL_ODS_BASE_URL") or DEFAULT_ODS_BASE_URL).rstrip("/")

    @property
    def ods_connect_timeout(self) -> float:
        """Seconds to resolve and connect to the portal before calling it unreachable
        (IMTETL_ODS_CONNECT_TIMEOUT): short, so an offline build does not wait."""
        return float(os.environ.get("IMTETL_ODS_CONNECT_TIMEOUT") or 3)

    @property
    def ods_read_timeout(self) -> float:
        """Seconds the portal may stay silent while sending an export (IMTETL_ODS_READ_TIMEOUT)."""
        return float(os.environ.get("IMTETL_ODS_READ_TIMEOUT") or 60)

    @property
    def reference_cache(self) -> Path:
        """Downloaded national exports, kept to stand in when the portal is down
        (IMTETL_REFERENCE_CACHE, default data/reference_cache/; untracked)."""
        if value := os.environ.get("IMTETL_REFERENCE_CACHE"):
            return (self.home / value).resolve()
        return self.home / "data" / "reference_cache"

    @property
    def landing_is_sample(self) -> bool:
        """The default landing zone holds the generated sample, never real exports."""
        return self.landing == (self.home / "data" / "landing").resolve()

    @property
    def key_file(self) -> Path:
        return self.home / ".imtetl" / "pseudonym_key"

    @classmethod
    def from_env(cls) -> Settings:
        home = find_home()

        def path(var: str, default: Path) -> Path:
            value = os.environ.get(var)
            return (
                home / value
                if value and not Path(value).is_absolute()
                else Path(value)
                if value
                else default
            ).resolve()

        sql = _project_folder(home, "sql")
        pipelines_default = _project_folder(home, "pipelines")
        return cls(
            home=home,
            landing=path("IMTETL_LANDING", home / "data" / "landing"),
            warehouse=path("IMTETL_WAREHOUSE", home / "warehouse" / "imt.duckdb"),
            pipelines=path("IMTETL_PIPELINES", pipelines_default),
            sql=sql,
            years=_years_from_env(os.environ.get("IMTETL_YEARS")),
            data_docs_dir=Path(os.environ["IMTETL_DATA_DOCS"]).resolve()
            if os.environ.get("IMTETL_DATA_DOCS")
            else None,
            catalog=os.environ.get("IMTETL_CATALOG", "").strip() or None,
            lake_data=os.environ.get("IMTETL_DATA_PATH", "").strip() or None,
        )
