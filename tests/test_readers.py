"""Readers and normalisers on each school's quirks, with real files and a real HTTP server."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from imtetl.load.build_db import staging_ddl
from imtetl.load.landing import fetch_landing
from imtetl.load.staging import stage_school_dataset
from imtetl.pipeline_config import ConfigError, load_pipeline, load_pipelines
from imtetl.read import SourceError, discover_units, read_unit
from imtetl.settings import Settings
from imtetl.transform.columns import select_columns
from imtetl.transform.countries import resolve_countries
from imtetl.transform.values import academic_year, money
from tests.api_server import serve_api
from tests.conftest import ROOT

KEY = b"k" * 32
PIPELINES = load_pipelines(ROOT / "pipelines")


def _conn(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(str(tmp_path / "build.duckdb"))
    conn.execute(staging_ddl(ROOT / "sql"))
    return conn


def _read_all(school: str, dataset: str, landing: Path) -> pl.DataFrame:
    pipeline = PIPELINES[school]
    frames = []
    for unit in discover_units(pipeline, dataset, landing):
        raw = read_unit(unit, pipeline.format_for(dataset))
        frames.append(select_columns(pipeline, raw))
    return pl.concat(frames, how="diagonal_relaxed")


def test_year_and_money_parsers() -> None:
    frame = pl.DataFrame({"y": ["2024-2025", "2024/25", "2024-25", "2024", "24", "abc", "2024.0"]})
    assert frame.select(academic_year("y"))["y"].to_list() == [2024] * 4 + [None, None, 2024]
    fees = pl.DataFrame(
        {"f": ["4 850,00 €", "4\u00a0850,00 €", "3200,00", "1.234,5", "x", "-1,00"]}
    )
    assert fees.select(money("f", ","))["f"].to_list() == [
        4850.0,
        4850.0,
        3200.0,
        1234.5,
        None,
        -1.0,
    ]
    fees = pl.DataFrame({"f": ["€9,000.00", "2650.00", "4500"]})
    assert fees.select(money("f", "."))["f"].to_list() == [9000.0, 2650.0, 4500.0]


def test_countries_in_any_language_or_code() -> None:
    got = resolve_countries(
        ["Maroc", "Côte d'Ivoire", "COTE D’IVOIRE", "Viet Nam", "Chine", "MAR", "ma", "Morocco",
         "Allemagne", "États-Unis", "Royaume-Uni", "Atlantide", "ZZ"]
    )  # fmt: skip
    assert got == {
        "Maroc": "MA", "Côte d'Ivoire": "CI", "COTE D’IVOIRE": "CI", "Viet Nam": "VN",
        "Chine": "CN", "MAR": "MA", "ma": "MA", "Morocco": "MA", "Allemagne": "DE",
        "États-Unis": "US", "Royaume-Uni": "GB", "Atlantide": None, "ZZ": None,
    }  # fmt: skip


def test_each_format_reads_all_years(small_landing: Path) -> None:
    for school in PIPELINES:
        for dataset in ("enrolment", "tuition", "mobility"):
            frame = _read_all(school, dataset, small_landing)
            assert frame.height > 0, (school, dataset)
            years = frame.select(academic_year("academic_year")).to_series().drop_nulls().unique()
            assert sorted(years.to_list()) == [2021, 2022, 2023, 2024, 2025], (school, dataset)


def test_personal_columns_never_leave_the_reader(small_landing: Path) -> None:
    for school, pipeline in PIPELINES.items():
        frame = _read_all(school, "enrolment", small_landing)
        personal = {c.lower() for c in pipeline.datasets["enrolment"].personal_columns}
        assert personal and not personal & {c.lower() for c in frame.columns}


def test_evry_file_feeds_two_schools(small_landing: Path) -> None:
    tsp = _read_all("TSP", "enrolment", small_landing)
    imtbs = _read_all("IMTBS", "enrolment", small_landing)
    total = sum(
        pl.read_csv(p, infer_schema=False).height
        for p in (small_landing / "evry").glob("evry_inscriptions_*.csv")
    )
    assert tsp.height + imtbs.height == total
    assert (
        tsp["programme_name"].str.contains("\n").any()
        or imtbs["programme_name"].str.contains("\n").any()
    )


def test_wrong_encoding_names_school_file_and_line(tmp_path: Path, small_landing: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(small_landing / "imta", landing / "imta")
    path = next((landing / "imta").glob("inscriptions_2024-*.csv"))
    path.write_bytes(path.read_text(encoding="utf-8-sig").encode("cp1252", errors="replace"))
    unit = next(u for u in discover_units(PIPELINES["IMTA"], "enrolment", landing)
                if u.source_file.endswith(path.name))  # fmt: skip
    with pytest.raises(SourceError) as info:
        read_unit(unit, PIPELINES["IMTA"].format_for("enrolment"))
    message = str(info.value)
    assert message.startswith("IMTA: imta/" + path.name)
    assert "not valid utf-8-sig" in message and "line 1" in message


def test_truncated_workbook_fails_clearly(tmp_path: Path, small_landing: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(small_landing / "tp", landing / "tp")
    path = next((landing / "tp").glob("*2022.xlsx"))
    path.write_bytes(path.read_bytes()[:2000])
    conn = _conn(tmp_path)
    report = stage_school_dataset(conn, PIPELINES["TP"], "enrolment", landing, KEY)
    assert [u.source_file for u in report.failures] == [f"tp/{path.name}"]
    assert "TP: tp/" in report.failures[0].error
    assert report.rows_loaded > 0  # the other four years loaded


def test_http_source_fetches_pages_from_a_local_api(
    tmp_path: Path, small_landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    offline_conn = _conn(tmp_path)
    offline = stage_school_dataset(
        offline_conn, PIPELINES["IMTNE"], "enrolment", small_landing, KEY
    )
    with serve_api(small_landing / "imtne") as (base_url, requests):
        monkeypatch.setenv("IMTETL_IMTNE_API_URL", base_url)
        conn = duckdb.connect(str(tmp_path / "http.duckdb"))
        conn.execute(staging_ddl(ROOT / "sql"))
        _fetched, failures = fetch_landing(
            conn,
            PIPELINES["IMTNE"],
            landing,
            (2021, 2022, 2023, 2024, 2025),
            datasets=("enrolment",),
        )
        assert not failures
        report = stage_school_dataset(
            conn,
            PIPELINES["IMTNE"],
            "enrolment",
            landing,
            KEY,
            years=(2021, 2022, 2023, 2024, 2025),
        )
    assert not report.failures
    assert report.rows_loaded == offline.rows_loaded and report.rows_loaded > 0
    pages = list((small_landing / "imtne" / "enrolments").rglob("page-*.json"))
    assert len(requests) == len(pages) > 5  # one request a page: followed every next link
    assert any("page=2" in r for r in requests)
    stored = sorted(p.relative_to(landing) for p in landing.rglob("*.json"))
    original = sorted(
        p.relative_to(small_landing)
        for p in (small_landing / "imtne" / "enrolments").rglob("*.json")
    )
    assert stored == original
    for relative in stored:
        assert (landing / relative).read_bytes() == (small_landing / relative).read_bytes()


def test_unreachable_api_fails_clearly_and_keeps_landing(
    tmp_path: Path, small_landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = _conn(tmp_path)
    with serve_api(small_landing / "imtne", fail_with=503) as (base_url, _):
        monkeypatch.setenv("IMTETL_IMTNE_API_URL", base_url)
        # the landing step fails; staging then loads what the landing zone holds
        _fetched, failures = fetch_landing(
            conn, PIPELINES["IMTNE"], small_landing, (2024,), datasets=("tuition",)
        )
        report = stage_school_dataset(
            conn, PIPELINES["IMTNE"], "tuition", small_landing, KEY, years=(2024,)
        )
    assert len(failures) == 1 and not report.failures
    assert "HTTP 503" in failures[0].error and "IMTNE" in failures[0].error
    assert report.rows_loaded > 0  # the pages already in the landing zone still load


def test_config_errors_name_file_and_key(tmp_path: Path) -> None:
    text = (ROOT / "pipelines" / "albi.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("      fee_category: FEE_REGIME\n", "", 1))
    with pytest.raises(ConfigError, match=r"bad\.yaml: .*datasets.*enrolment.*fee_category"):
        load_pipeline(bad)
    bad.write_text(text.replace("files: albi/EXPORT_ENROLMENT_*.tsv", "files: ../../etc/*"))
    with pytest.raises(ConfigError, match=r"bad\.yaml: datasets\.enrolment\.files"):
        load_pipeline(bad)
    bad.write_text(text.replace("ENG: engineering", "ENG: engineer"))
    with pytest.raises(ConfigError, match=r"values\.programme_level"):
        load_pipeline(bad)


def test_settings_follow_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IMTETL_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("IMTETL_YEARS", "2022-2024")
    settings = Settings.from_env()
    assert settings.warehouse == tmp_path / "w.duckdb"
    assert settings.years == (2022, 2023, 2024)
    assert settings.build_db.parent == tmp_path / ".build"


def test_shared_file_rows_of_no_school_are_quarantined_not_lost(
    tmp_path: Path, small_landing: Path
) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(small_landing / "evry", landing / "evry")
    path = next((landing / "evry").glob("evry_inscriptions_2024.csv"))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    stray = next(line for line in lines[1:] if line.startswith("TSP,"))
    path.write_text("".join([*lines, stray.replace("TSP,", "EURECOM,", 1)]), encoding="utf-8")
    conn = _conn(tmp_path)
    reports = {
        school: stage_school_dataset(
            conn, PIPELINES[school], "enrolment", landing, KEY, pipelines=PIPELINES
        )
        for school in ("TSP", "IMTBS")
    }
    total = sum(
        pl.read_csv(p, infer_schema=False).height for p in (landing / "evry").glob("*insc*.csv")
    )
    assert sum(r.rows_read for r in reports.values()) == total
    stray_rows = conn.execute(
        'SELECT school_code, "column", reason FROM audit.quarantine '
        "WHERE reason LIKE '%no configured school%'"
    ).fetchall()
    assert stray_rows == [
        ("IMTBS", "ecole", "ecole: row belongs to no configured school: 'EURECOM'")
    ]


def test_real_exports_need_a_pseudonym_key(tmp_path: Path, monkeypatch) -> None:
    from imtetl.transform.pseudonym import MissingKeyError, load_key

    monkeypatch.delenv("IMTETL_PSEUDONYM_KEY", raising=False)
    with pytest.raises(MissingKeyError, match="IMTETL_PSEUDONYM_KEY is not set"):
        load_key(tmp_path / "key", sample=False)
    with pytest.warns(UserWarning, match="generated a pseudonym key"):
        first = load_key(tmp_path / "key", sample=True)
    assert load_key(tmp_path / "key", sample=True) == first  # stable once generated
    monkeypatch.setenv("IMTETL_PSEUDONYM_KEY", "short")
    with pytest.raises(MissingKeyError, match="at least 16"):
        load_key(tmp_path / "key")


def test_every_country_has_a_region_and_the_right_fee_regime() -> None:
    from imtetl.transform.countries import countries

    table = countries()
    assert [c.code for c in table.values() if c.world_region == "Unknown"] == []
    # Greece and the United Kingdom are written as regexes in country_converter's data
    assert table["GR"].is_eu_eea and table["GR"].world_region == "Southern Europe"
    assert not table["GB"].eu_fee_regime and table["GB"].world_region == "Northern Europe"
    assert table["CH"].eu_fee_regime and not table["CH"].is_eu_eea
    assert sum(c.is_eu_eea for c in table.values()) == 30  # EU 27 + IS, LI, NO
