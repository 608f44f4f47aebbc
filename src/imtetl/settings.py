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

Every ``IMTETL_*`` variable read here is a field of one pydantic-settings model,
:class:`Environment`, parsed and validated together by :func:`environment`, once per distinct
environment: an invalid value fails with a :class:`SettingsError` naming the variable (never
showing the catalog's value), on the first read rather than deep in a build. Secrets used
elsewhere (IMTETL_PSEUDONYM_KEY, IMTETL_SERVE_TOKEN) and the executor's variables
(imtetl.defs.executors) are read where they are used.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_YEARS = tuple(range(2021, 2026))
#: How many releases are kept as files beside the published warehouse (IMTETL_KEEP_RELEASES).
DEFAULT_KEEP_RELEASES = 5

#: Staging steps that write a DuckLake at once (IMTETL_WRITERS).
DEFAULT_WRITERS = 2

#: The ministry of higher education's Opendatasoft portal (open data, Licence Ouverte).
DEFAULT_ODS_BASE_URL = "https://data.enseignementsup-recherche.gouv.fr"

#: DuckDB's memory limit for the build connection and dbt (IMTETL_DUCKDB_MEMORY).
DEFAULT_MEMORY_LIMIT = "1536MB"

#: Every variable of :class:`Environment` is this prefix and the field's name in capitals.
ENV_PREFIX = "IMTETL_"


class SettingsError(ValueError):
    """An IMTETL_* variable holds a value imtetl cannot use; the message names it."""


class Environment(BaseSettings):
    """The ``IMTETL_*`` variables, parsed and validated together (pydantic-settings).

    Built by :func:`environment`, once per distinct environment; :class:`Settings` resolves
    its paths from it, and its properties read the tunables here. An empty or blank variable
    counts as unset. Paths are kept as given: :meth:`Settings.from_env` resolves them."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, env_ignore_empty=True
    )

    #: the project root (:func:`find_home`)
    home: str | None = None
    landing: str | None = None
    warehouse: str | None = None
    pipelines: str | None = None
    #: "2021-2025" (a range) or "2022,2024" (a list)
    years: Annotated[tuple[int, ...], NoDecode] = DEFAULT_YEARS
    data_docs: str | None = None
    dbt_docs: str | None = None
    report: str | None = None
    reference_cache: str | None = None
    #: the DuckLake catalog's connection string: a secret (never shown, in errors neither)
    catalog: str | None = Field(default=None, repr=False)
    data_path: str | None = None
    keep_releases: int = DEFAULT_KEEP_RELEASES
    writers: int = DEFAULT_WRITERS
    duckdb_memory: str = DEFAULT_MEMORY_LIMIT
    ods_base_url: str = DEFAULT_ODS_BASE_URL
    ods_connect_timeout: float = Field(default=3.0, gt=0)
    ods_read_timeout: float = Field(default=60.0, gt=0)
    cache_dir: str | None = None

    #: fields whose values never appear in an error message
    SECRET: ClassVar[frozenset[str]] = frozenset({"catalog"})

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {
                key: value.strip() if isinstance(value, str) else value
                for key, value in data.items()
                if not (isinstance(value, str) and not value.strip())
            }
        return data

    @field_validator("years", mode="before")
    @classmethod
    def _years(cls, value: Any) -> Any:
        return parse_years(value) if isinstance(value, str) else value

    @field_validator("keep_releases", mode="before")
    @classmethod
    def _keep(cls, value: Any) -> int:
        return _whole(value, minimum=0)

    @field_validator("writers", mode="before")
    @classmethod
    def _writers(cls, value: Any) -> int:
        return _whole(value, minimum=1)

    @field_validator("ods_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @classmethod
    def variable(cls, name: str) -> str:
        """The environment variable of field ``name``: ``writers`` -> ``IMTETL_WRITERS``."""
        return ENV_PREFIX + name.upper()


def _whole(value: Any, *, minimum: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"must be a whole number of {minimum} or more")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"must be a whole number of {minimum} or more") from None
    if number < minimum:
        raise ValueError(f"must be a whole number of {minimum} or more")
    return number


def parse_years(value: str) -> tuple[int, ...]:
    """``"2021-2025"`` (both included) or ``"2022,2024"``: the academic years, sorted."""
    text = value.strip()
    try:
        if "-" in text and "," not in text:
            first, last = (int(part) for part in text.split("-", 1))
            years = tuple(range(first, last + 1))
        else:
            years = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        years = ()
    if not years or not all(1000 <= year <= 9999 for year in years):
        raise ValueError("must be years such as 2021-2025 (a range) or 2022,2024 (a list)")
    return years


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        key = str(error["loc"][0]) if error["loc"] else ""
        name = Environment.variable(key) if key else ENV_PREFIX + "*"
        message = error["msg"].removeprefix("Value error, ")
        if key in Environment.SECRET or "input" not in error:
            problems.append(f"{name}: {message}")
        else:
            problems.append(f"{name}={error['input']!r}: {message}")
    return "; ".join(problems)


def environment() -> Environment:
    """The IMTETL_* variables as a validated :class:`Environment`, parsed once per distinct
    environment (cached on its IMTETL_* variables: a test that sets one gets a fresh parse).
    Raises :class:`SettingsError` naming each invalid variable."""
    return _parse(
        tuple(sorted((k, v) for k, v in os.environ.items() if k.upper().startswith(ENV_PREFIX)))
    )


@functools.lru_cache(maxsize=8)
def _parse(variables: tuple[tuple[str, str], ...]) -> Environment:
    # ``variables`` is the cache key; pydantic-settings reads the same os.environ itself
    try:
        return Environment()
    except ValidationError as exc:
        # from None: pydantic's own message would repeat the inputs, secrets among them
        raise SettingsError(f"invalid environment: {_describe(exc)}") from None


def find_home(start: Path | None = None) -> Path:
    """The project root: ``IMTETL_HOME``, else the nearest folder holding ``pipelines/`` and
    ``sql/`` from the working directory upwards, else the source checkout of this package."""
    if env := environment().home:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pipelines").is_dir() and (folder / "sql").is_dir():
            return folder
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "sql").is_dir():
        return checkout
    return here


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
    catalog: str | None = field(default=None, repr=False)
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
        return environment().keep_releases

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
        return environment().writers

    @property
    def duckdb_memory(self) -> str:
        """DuckDB's memory limit for the build connection and dbt (IMTETL_DUCKDB_MEMORY,
        e.g. "4GB"; default 1536MB)."""
        return environment().duckdb_memory

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
        if value := environment().dbt_docs:
            return Path(value).resolve()
        return self.warehouse.parent / "dbt_docs"

    @property
    def report(self) -> Path:
        """The static HTML report (IMTETL_REPORT)."""
        if value := environment().report:
            return Path(value).resolve()
        return self.warehouse.parent / "report" / "index.html"

    @property
    def ods_base_url(self) -> str:
        """Base URL of the ministry's Opendatasoft portal (IMTETL_ODS_BASE_URL)."""
        return environment().ods_base_url

    @property
    def ods_connect_timeout(self) -> float:
        """Seconds to resolve and connect to the portal before calling it unreachable
        (IMTETL_ODS_CONNECT_TIMEOUT): short, so an offline build does not wait."""
        return environment().ods_connect_timeout

    @property
    def ods_read_timeout(self) -> float:
        """Seconds the portal may stay silent while sending an export (IMTETL_ODS_READ_TIMEOUT)."""
        return environment().ods_read_timeout

    @property
    def reference_cache(self) -> Path:
        """Downloaded national exports, kept to stand in when the portal is down
        (IMTETL_REFERENCE_CACHE, default data/reference_cache/; untracked)."""
        if value := environment().reference_cache:
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
        """The settings of the current environment (:func:`environment`, parsed once per
        distinct environment): relative paths are from the project home. Raises
        :class:`SettingsError` naming each invalid IMTETL_* variable."""
        env = environment()
        home = find_home()

        def path(value: str | None, default: Path) -> Path:
            return (home / value if value else default).resolve()  # an absolute value wins

        return cls(
            home=home,
            landing=path(env.landing, home / "data" / "landing"),
            warehouse=path(env.warehouse, home / "warehouse" / "imt.duckdb"),
            pipelines=path(env.pipelines, _project_folder(home, "pipelines")),
            sql=_project_folder(home, "sql"),
            years=env.years,
            data_docs_dir=Path(env.data_docs).resolve() if env.data_docs else None,
            catalog=env.catalog,
            lake_data=env.data_path,
        )
