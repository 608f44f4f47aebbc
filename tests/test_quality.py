"""Data quality: suites as gates, bad files of every kind, regulated fees, Data Docs."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from imtetl.definitions import defs
from imtetl.defs.resources import WarehouseResource
from imtetl.load.build_db import staging_ddl
from imtetl.load.landing import fetch_landing
from imtetl.load.staging import stage_school_dataset
from imtetl.pipeline_config import load_pipelines
from imtetl.validate.gate import regulated_tuition
from tests.api_server import serve_api
from tests.conftest import ROOT, Project

KEY = b"q" * 32
PIPELINES = load_pipelines(ROOT / "pipelines")
REGULATED = regulated_tuition(ROOT / "reference" / "regulated_tuition.csv")


def _conn(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(str(tmp_path / "build.duckdb"))
    conn.execute(staging_ddl(ROOT / "sql"))
    return conn


def _query(project: Project, sql: str) -> list[tuple]:
    with duckdb.connect(str(project.warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


# --- each way a file can be bad, one school at a time (fast, no Dagster) -------------------
# (tests/test_faulty_build.py breaks them all at once in one build, two of them in another year)


def _break_empty(landing: Path) -> tuple[str, str, str]:
    path = next((landing / "mse").glob("mse_mobilite_2022-*.csv"))
    path.write_bytes(b"")
    return "MSE", "mobility", "file is empty"


def _break_truncated(landing: Path, year: int = 2023) -> tuple[str, str, str]:
    path = landing / "albi" / f"EXPORT_ENROLMENT_{year}.tsv"
    data = path.read_bytes()
    cut = data.rfind(b"\t", 0, int(len(data) * 0.6))
    path.write_bytes(data[:cut])
    return "ALBI", "enrolment", "file is truncated"


def _break_encoding(landing: Path) -> tuple[str, str, str]:
    path = next((landing / "imta").glob("inscriptions_2024-*.csv"))
    path.write_bytes(path.read_text(encoding="utf-8-sig").encode("cp1252", errors="replace"))
    return "IMTA", "enrolment", "not valid utf-8-sig"


def _break_column(landing: Path) -> tuple[str, str, str]:
    path = landing / "ales" / "EXPORT_FEES_2022.tsv"
    lines = path.read_text(encoding="utf-8").splitlines()
    index = lines[0].split("\t").index("FEE_REGIME")
    kept = ["\t".join(v for i, v in enumerate(line.split("\t")) if i != index) for line in lines]
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return "ALES", "tuition", "required column(s) missing: 'FEE_REGIME'"


def _break_xlsx(landing: Path) -> tuple[str, str, str]:
    path = landing / "tp" / "tp_export_2023.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a workbook" * 10)
    return "TP", "tuition", "not an XLSX workbook"


def _break_json(landing: Path, year: int = 2024) -> tuple[str, str, str]:
    path = landing / "imtne" / "fees" / str(year) / "page-0001.json"
    path.write_text('{"results": [ {"academic_year": "2024-2025", ', encoding="utf-8")
    return "IMTNE", "tuition", "is not valid JSON"


BREAKS = [_break_empty, _break_truncated, _break_encoding, _break_column, _break_xlsx, _break_json]


@pytest.mark.parametrize("breaker", BREAKS, ids=lambda f: f.__name__[7:])
def test_each_bad_file_fails_alone_with_a_clear_message(
    breaker, tmp_path: Path, small_landing: Path
) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(small_landing, landing)
    school, dataset, message = breaker(landing)
    conn = _conn(tmp_path)
    report = stage_school_dataset(
        conn, PIPELINES[school], dataset, landing, KEY, pipelines=PIPELINES
    )
    assert len(report.failures) == 1
    error = report.failures[0].error
    assert error.startswith(f"{school}: ") and message in error and "What to do:" in error
    assert report.rows_loaded > 0  # the school's other files still load
    for unit in report.units:
        assert unit.rows_read == unit.rows_loaded + unit.rows_quarantined


def test_http_500_fails_the_school_and_keeps_its_pages(
    tmp_path: Path, small_landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = _conn(tmp_path)
    with serve_api(small_landing / "imtne", fail_with=500) as (base_url, _):
        monkeypatch.setenv("IMTETL_IMTNE_API_URL", base_url)
        # the landing step fetches; staging then reads what the landing zone holds
        _fetched, failures = fetch_landing(
            conn, PIPELINES["IMTNE"], small_landing, (2025,), datasets=("enrolment",)
        )
        report = stage_school_dataset(
            conn, PIPELINES["IMTNE"], "enrolment", small_landing, KEY, years=(2025,)
        )
    (failure,) = failures
    assert conn.execute("SELECT count(*) FROM audit.loads WHERE status = 'failed'").fetchone() == (
        1,
    )
    assert "HTTP 500" in failure.error and "IMTETL_IMTNE_API_URL" in failure.error
    assert report.rows_loaded > 0


# (every kind at once through `imtetl build`, each failure named and the rest published:
# tests/test_faulty_build.py, one faulty build for all the tests of bad files)


# --- the suite as a gate -----------------------------------------------------------------


# (a school breaking the tuition suite held back, the others loaded, through `imtetl build`:
# tests/test_faulty_build.py)


def test_fee_departing_from_the_decree_warns_and_does_not_block(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = next((project.landing / "imta").glob("frais_2024-*.csv"))
    text = path.read_text(encoding="utf-8-sig")
    assert ";UE;3200,00" in text
    path.write_text("\ufeff" + text.replace(";UE;3200,00", ";UE;3500,00"), encoding="utf-8")
    monkeypatch.setenv("IMTETL_PSEUDONYM_KEY", "a-test-key-of-sixteen-chars")
    resource = WarehouseResource(landing=str(project.landing), warehouse=str(project.warehouse))
    tuition = next(
        a for a in defs.assets if isinstance(a, dg.AssetsDefinition)
        and dg.AssetKey(["staging", "tuition"]) in a.keys
    )  # fmt: skip
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [tuition],
            partition_key="IMTA|2024",
            resources={"warehouse": resource},
            instance=instance,
        )
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    fees = checks["fees_match_regulation"]
    assert not fees.passed and fees.severity == dg.AssetCheckSeverity.WARN
    assert "3500" in str(fees.metadata["deviations"].value)
    assert checks["expectation_suite"].passed
    with duckdb.connect(str(project.warehouse.parent / ".build" / "build.duckdb")) as conn:
        fees_loaded = conn.execute(
            "SELECT count(*) FROM staging.tuition WHERE annual_fee_eur = 3500"
        ).fetchone()[0]
    assert fees_loaded > 0  # loaded all the same


def test_suite_failures_carry_counts_and_examples(tmp_path: Path, small_landing: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(small_landing / "albi", landing / "albi")
    path = landing / "albi" / "EXPORT_FEES_2024.tsv"
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    fee = header.index("ANNUAL_FEE")
    row = lines[1].split("\t")
    row[fee] = "990000.00"  # a fee above the ceiling: row-level, quarantined
    lines[1] = "\t".join(row)
    path.write_text("\n".join(lines) + "\n")
    report = stage_school_dataset(
        _conn(tmp_path), PIPELINES["ALBI"], "tuition", landing, KEY, regulated=REGULATED
    )
    summary = report.gate.suite.summary()
    label = "ExpectColumnValuesToBeBetween(annual_fee_eur)"
    assert summary[label]["unexpected_count"] == 1
    assert summary[label]["examples"] == [990000.0]
    assert not report.gate.held_back
    assert any("expectation failed" in reason for reason in report.reasons)


def test_data_docs_written_and_linked(built: Project) -> None:
    site = built.warehouse.parent / "data_docs"
    index = site / "index.html"
    assert index.exists()
    pages = {p.parent.parent.parent.name for p in (site / "validations").rglob("*.html")}
    assert {"staging_enrolment", "staging_tuition", "staging_mobility"} <= pages
    runs = {p.stem for p in (site / "validations" / "staging_enrolment").rglob("*.html")}
    assert runs == {"ALBI-2021_to_TSP-2025"}  # one validation of every school-year at once
    text = next((site / "validations" / "staging_enrolment").rglob("*.html")).read_text()
    assert "nationality" in text and "programme_level" in text


def test_regulated_reference_is_published_with_sources(built: Project) -> None:
    rows = _query(
        built,
        "SELECT programme_level, fee_category, annual_fee_eur, legal_reference, source_url "
        "FROM core.regulated_tuition WHERE school_code = 'TP' AND 2024 BETWEEN "
        "first_academic_year AND last_academic_year ORDER BY 1, 2",
    )
    assert [(r[0], r[1], float(r[2])) for r in rows] == [
        ("engineering", "eu", 3200.0),
        ("engineering", "non_eu", 4850.0),
    ]
    assert all(r[3] and r[4].startswith("http") for r in rows)
    frame = pl.DataFrame(REGULATED)
    assert frame.filter(pl.col("programme_level") == "msc")["annual_fee_eur"].max() == 9000
