"""The IMTETL_* variables as one validated model (imtetl.settings): defaults, overrides,
errors that name the variable, years, the backend, and the resource's one parse of the school
configs. No build: each test takes milliseconds."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

import imtetl.pipeline_config as pipeline_config
from imtetl.cache import cache_dir
from imtetl.defs.resources import WarehouseResource
from imtetl.settings import (
    DEFAULT_ODS_BASE_URL,
    DEFAULT_YEARS,
    Environment,
    Settings,
    SettingsError,
    environment,
    find_home,
    parse_years,
)
from tests.conftest import ROOT

SECRET = "pw-0123456789"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project home of its own, and no other IMTETL_* variable."""
    for name in list(os.environ):
        if name.upper().startswith("IMTETL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("IMTETL_HOME", str(tmp_path))
    return tmp_path.resolve()


def test_defaults(home: Path) -> None:
    settings = Settings.from_env()
    assert settings.home == home == find_home()
    assert settings.landing == home / "data" / "landing" and settings.landing_is_sample
    assert settings.warehouse == home / "warehouse" / "imt.duckdb"
    assert settings.pipelines == ROOT / "pipelines"  # none in the home: the checkout's
    assert settings.sql == ROOT / "sql"
    assert settings.years == DEFAULT_YEARS == (2021, 2022, 2023, 2024, 2025)
    assert (settings.keep_releases, settings.writers) == (5, 2)
    assert settings.duckdb_memory == "1536MB"
    assert settings.ods_base_url == DEFAULT_ODS_BASE_URL
    assert (settings.ods_connect_timeout, settings.ods_read_timeout) == (3.0, 60.0)
    assert settings.backend == "duckdb_file" and settings.catalog is None
    assert settings.data_path == f"{home}/warehouse/lake/"
    assert settings.data_docs == home / "warehouse" / "data_docs"
    assert settings.dbt_docs == home / "warehouse" / "dbt_docs"
    assert settings.report == home / "warehouse" / "report" / "index.html"
    assert settings.reference_cache == home / "data" / "reference_cache"


def test_overrides(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere" / "w.duckdb"
    for name, value in {
        "IMTETL_LANDING": "exports",  # relative: from the home
        "IMTETL_WAREHOUSE": str(elsewhere),  # absolute: as given
        "IMTETL_PIPELINES": "configs",
        "IMTETL_YEARS": "2023-2024",
        "IMTETL_KEEP_RELEASES": "0",
        "IMTETL_WRITERS": " 4 ",
        "IMTETL_DUCKDB_MEMORY": "4GB",
        "IMTETL_ODS_BASE_URL": "http://127.0.0.1:9/",
        "IMTETL_ODS_CONNECT_TIMEOUT": "0.5",
        "IMTETL_ODS_READ_TIMEOUT": "120",
        "IMTETL_REFERENCE_CACHE": "cache/national",
        "IMTETL_CACHE_DIR": str(tmp_path / "derived"),
        "IMTETL_DATA_DOCS": "  ",  # blank counts as unset
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    assert settings.landing == home / "exports" and not settings.landing_is_sample
    assert settings.warehouse == elsewhere
    assert settings.build_db.parent == elsewhere.parent / ".build"
    assert settings.pipelines == home / "configs"
    assert settings.years == (2023, 2024)
    assert (settings.keep_releases, settings.writers) == (0, 4)
    assert settings.duckdb_memory == "4GB"
    assert settings.ods_base_url == "http://127.0.0.1:9"
    assert (settings.ods_connect_timeout, settings.ods_read_timeout) == (0.5, 120.0)
    assert settings.reference_cache == home / "cache" / "national"
    assert settings.data_docs == elsewhere.parent / "data_docs"
    assert cache_dir() == tmp_path / "derived"


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("IMTETL_WRITERS", "abc", "whole number of 1 or more"),
        ("IMTETL_WRITERS", "0", "whole number of 1 or more"),
        ("IMTETL_WRITERS", "2.5", "whole number of 1 or more"),
        ("IMTETL_KEEP_RELEASES", "-1", "whole number of 0 or more"),
        ("IMTETL_YEARS", "abc", "such as 2021-2025"),
        ("IMTETL_YEARS", "2025-2021", "such as 2021-2025"),
        ("IMTETL_YEARS", "21,22", "such as 2021-2025"),
        ("IMTETL_ODS_READ_TIMEOUT", "soon", "valid number"),
        ("IMTETL_ODS_CONNECT_TIMEOUT", "0", "greater than 0"),
        ("IMTETL_ODS_BASE_URL", "ftp://portal.example", "http:// or https://"),
    ],
)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as info:
        Settings.from_env()
    message = str(info.value)
    assert f"{variable}={value!r}" in message and fragment in message, message
    assert isinstance(info.value, ValueError)
    # a Settings built by hand fails alike on its first read of the environment
    with pytest.raises(SettingsError, match=variable):
        assert _by_hand(Path.cwd()).ods_base_url


def test_every_invalid_variable_is_named_and_no_secret_shown(monkeypatch) -> None:
    monkeypatch.setenv("IMTETL_CATALOG", f"postgresql://imt:{SECRET}@127.0.0.1:5432/lake")
    monkeypatch.setenv("IMTETL_WRITERS", "many")
    monkeypatch.setenv("IMTETL_YEARS", "recent")
    with pytest.raises(SettingsError) as info:
        environment()
    message = str(info.value)
    assert "IMTETL_WRITERS='many'" in message and "IMTETL_YEARS='recent'" in message
    assert SECRET not in message and info.value.__cause__ is None
    monkeypatch.delenv("IMTETL_WRITERS")
    monkeypatch.delenv("IMTETL_YEARS")
    settings = Settings.from_env()
    assert SECRET not in repr(settings) + repr(environment()) + str(environment())


@pytest.mark.parametrize(
    ("value", "years"),
    [
        ("2021-2025", (2021, 2022, 2023, 2024, 2025)),
        ("2024-2024", (2024,)),
        ("2022,2024", (2022, 2024)),
        (" 2024, 2022 ,2022,", (2022, 2024)),
        ("2023", (2023,)),
    ],
)
def test_years_ranges_and_lists(monkeypatch, value: str, years: tuple[int, ...]) -> None:
    assert parse_years(value) == years
    monkeypatch.setenv("IMTETL_YEARS", value)
    assert Settings.from_env().years == years


def test_catalog_selects_the_ducklake_backend(home: Path, monkeypatch) -> None:
    monkeypatch.setenv("IMTETL_CATALOG", f"  postgresql://imt:{SECRET}@db.example/lake  ")
    settings = Settings.from_env()
    assert settings.backend == "ducklake"
    assert settings.catalog == f"postgresql://imt:{SECRET}@db.example/lake"
    assert settings.data_path == f"{home}/warehouse/lake/"
    monkeypatch.setenv("IMTETL_DATA_PATH", "s3://bucket/lake")
    assert Settings.from_env().data_path == "s3://bucket/lake/"
    monkeypatch.setenv("IMTETL_DATA_PATH", "shared/lake/")
    assert Settings.from_env().data_path == f"{home}/shared/lake/"
    monkeypatch.setenv("IMTETL_CATALOG", " ")
    assert Settings.from_env().backend == "duckdb_file"


def _by_hand(home: Path) -> Settings:
    return Settings(
        home=home, landing=home, warehouse=home / "imt.duckdb", pipelines=ROOT / "pipelines",
        sql=ROOT / "sql", years=(2021,),
    )  # fmt: skip


def test_parsed_once_per_environment(monkeypatch) -> None:
    first = environment()
    assert environment() is first  # the same variables: no new parse
    monkeypatch.setenv("IMTETL_WRITERS", "3")
    assert environment() is not first and environment().writers == 3
    # the tunables of a Settings follow the environment, even one built by hand
    settings = _by_hand(Path.cwd())
    monkeypatch.setenv("IMTETL_ODS_BASE_URL", "http://127.0.0.1:9")
    assert settings.ods_base_url == "http://127.0.0.1:9" and settings.writers == 3
    monkeypatch.delenv("IMTETL_WRITERS")
    monkeypatch.delenv("IMTETL_ODS_BASE_URL")
    assert environment() == first
    assert Environment.variable("ods_read_timeout") == "IMTETL_ODS_READ_TIMEOUT"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The folders load_pipelines parses, in order."""
    seen: list[Path] = []
    parse = pipeline_config.load_pipelines

    def counted(folder: Path):
        seen.append(folder)
        return parse(folder)

    monkeypatch.setattr(pipeline_config, "load_pipelines", counted)
    return seen


def _configs(tmp_path: Path, *schools: str) -> Path:
    folder = tmp_path / "pipelines"
    folder.mkdir()
    for school in schools:
        shutil.copy(ROOT / "pipelines" / f"{school}.yaml", folder)
    return folder.resolve()


def test_resource_parses_the_school_configs_once(
    tmp_path: Path, monkeypatch, parses: list[Path]
) -> None:
    folder = _configs(tmp_path, "albi", "mse")
    monkeypatch.setenv("IMTETL_PIPELINES", str(folder))
    resource = WarehouseResource(landing=str(tmp_path / "landing"))
    settings = resource.settings()
    assert settings is resource.settings()  # resolved once per instance
    assert settings.landing == tmp_path / "landing" and settings.pipelines == folder
    first = resource.pipelines()
    assert list(first) == ["ALBI", "MSE"]
    first.pop("ALBI")  # a caller's dict is its own
    assert list(resource.pipelines()) == ["ALBI", "MSE"]
    # another instance (Dagster makes one per run): the same parse, the files unchanged
    assert list(WarehouseResource().pipelines()) == ["ALBI", "MSE"]
    assert parses == [folder]
    # a changed file is parsed again by a new instance; the running one keeps its configs
    albi = folder / "albi.yaml"
    albi.write_text(albi.read_text().replace("name: IMT Mines Albi", "name: Albi"))
    assert WarehouseResource().pipelines()["ALBI"].school.name == "Albi"
    assert resource.pipelines()["ALBI"].school.name == "IMT Mines Albi"
    (folder / "mse.yaml").unlink()
    assert list(WarehouseResource().pipelines()) == ["ALBI"]
    assert parses == [folder] * 3


def test_resource_resolves_at_setup_and_fails_naming_the_variable(
    tmp_path: Path, monkeypatch, parses: list[Path]
) -> None:
    monkeypatch.setenv("IMTETL_PIPELINES", str(_configs(tmp_path, "albi")))
    with dg.build_resources({"warehouse": WarehouseResource()}) as resources:
        assert resources.warehouse._settings is not None  # setup_for_execution
        assert resources.warehouse.settings().pipelines == tmp_path / "pipelines"
        assert not parses  # the configs: on first use
    monkeypatch.setenv("IMTETL_KEEP_RELEASES", "all")
    with (
        pytest.raises(dg.DagsterResourceFunctionError) as info,
        dg.build_resources({"warehouse": WarehouseResource()}),
    ):
        pass
    assert isinstance(info.value.__cause__, SettingsError)
    assert "IMTETL_KEEP_RELEASES='all'" in str(info.value.__cause__)
