"""Partitions from the data, coverage and hold-back, on files these tests write themselves.

Each test stages a tiny school (its YAML as data, its exports as CSV) into a real DuckDB
build database with ``stage_partitions`` — no Dagster run, no whole build — and reads
``staging`` and ``audit`` back. A row's school-year is its own academic year; one file feeds
every school-year it holds; a partition mostly quarantined at any stage keeps its old rows.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from imtetl.load.build_db import staging_ddl
from imtetl.load.deliveries import write_deliveries
from imtetl.load.staging import scan_years, stage_partitions
from imtetl.pipeline_config import ConfigError, SchoolPipeline, load_pipeline
from imtetl.read import discover_units
from tests.conftest import ROOT

KEY = b"p" * 32
YEARS = (2021, 2022, 2023, 2024, 2025)
HEADER = "id;year;programme;level;new;nationality;route;mode;fees"


def _pipeline(
    tmp_path: Path,
    extra: str = "",
    dataset_extra: str = "",
    *,
    code: str = "XS",
    files: str = "xs/*.csv",
) -> SchoolPipeline:
    text = f"""
school: {{code: {code}, name: Test school {code}}}
format: {{kind: csv, separator: ";"}}
{extra}
datasets:
  enrolment:
    files: {files}
{dataset_extra}
    columns:
      student_id: id
      academic_year: year
      programme_code: programme
      programme_level: level
      is_new_entrant: new
      nationality: nationality
      admission_route: route
      study_mode: mode
      fee_category: fees
"""
    path = tmp_path / f"{code.lower()}.yaml"
    path.write_text(text, encoding="utf-8")
    return load_pipeline(path)


def _row(i: int, year: str, nationality: str = "FR") -> str:
    return f"S{i};{year};ING;engineering;true;{nationality};cpge_exam;initial;eu"


def _write(landing: Path, name: str, rows: list[str]) -> Path:
    path = landing / "xs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _conn(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(str(tmp_path / "build.duckdb"))
    conn.execute(staging_ddl(ROOT / "sql"))
    return conn


def _stage(conn, pipeline, landing, years, *, validate=False):
    return stage_partitions(
        conn,
        "enrolment",
        [(pipeline, y) for y in years],
        landing,
        KEY,
        years=YEARS,
        pipelines={"XS": pipeline},
        validate=validate,
    )


def _by_year(conn) -> dict[int, int]:
    return dict(
        conn.execute(
            "SELECT academic_year, count(*) FROM staging.enrolment GROUP BY ALL"
        ).fetchall()
    )


def _accounting_holds(conn) -> None:
    assert conn.execute(
        "SELECT count(*) FROM audit.loads WHERE rows_read <> rows_loaded + rows_quarantined"
    ).fetchone() == (0,)
    # every current load holds exactly its rows, in staging and in quarantine
    assert conn.execute(
        """SELECT count(*) FROM audit.loads l
               LEFT JOIN (SELECT load_id, count(*) n FROM staging.enrolment GROUP BY ALL) s
                 USING (load_id)
               LEFT JOIN (SELECT load_id, count(*) n FROM audit.quarantine GROUP BY ALL) q
                 USING (load_id)
               WHERE l.is_current AND (l.rows_loaded <> coalesce(s.n, 0)
                                       OR l.rows_quarantined <> coalesce(q.n, 0))"""
    ).fetchone() == (0,)


def test_one_file_feeds_each_year_it_holds(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    pipeline = _pipeline(tmp_path)
    rows = [_row(i, "2022-2023") for i in range(5)]
    rows += [_row(10 + i, "A.U. 2023/2024" if i % 2 else "2023") for i in range(4)]
    rows += [_row(20, "soon"), _row(21, "2019")]  # unreadable; outside the warehouse's years
    _write(landing, "all_years.csv", rows)
    conn = _conn(tmp_path)
    reports = _stage(conn, pipeline, landing, YEARS)
    assert [r.failures for r in reports] == [[]] * 5
    assert _by_year(conn) == {2022: 5, 2023: 4}
    loads = conn.execute(
        "SELECT academic_year, rows_read, rows_loaded, rows_quarantined FROM audit.loads "
        "WHERE is_current ORDER BY academic_year NULLS LAST"
    ).fetchall()
    assert loads == [(2022, 5, 5, 0), (2023, 4, 4, 0), (None, 2, 0, 2)]
    # per file: every row of the file is in exactly one current load
    assert conn.execute(
        "SELECT sum(rows_read) FROM audit.loads WHERE is_current "
        "AND source_file = 'xs/all_years.csv'"
    ).fetchone() == (len(rows),)
    reasons = dict(
        conn.execute("SELECT row_number, reason FROM audit.quarantine ORDER BY 1").fetchall()
    )
    assert "not an academic year 'soon'" in reasons[10]
    assert "2019 is not one of the warehouse's years (2021-2025" in reasons[11]
    _accounting_holds(conn)
    # The sensor's scan maps the file to the years it holds.
    (unit,) = discover_units(pipeline, "enrolment", landing)
    assert scan_years(pipeline, {"XS": pipeline}, unit) == {2019, 2022, 2023}


def test_partition_run_replaces_only_its_year_and_a_vanished_year(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    pipeline = _pipeline(tmp_path)
    _write(landing, "all.csv", [_row(i, "2023") for i in range(3)] + [_row(9, "2024")])
    conn = _conn(tmp_path)
    _stage(conn, pipeline, landing, YEARS)
    assert _by_year(conn) == {2023: 3, 2024: 1}
    # The new export has one more 2023 student and no 2024 rows any more.
    _write(landing, "all.csv", [_row(i, "2023") for i in range(4)])
    _stage(conn, pipeline, landing, [2023])  # one partition: 2024 is not touched
    assert _by_year(conn) == {2023: 4, 2024: 1}
    # The 2024 partition: the file holds none now. Its row is not replaced by nothing: it
    # stays, and the partition fails saying where the rows came from.
    (report,) = _stage(conn, pipeline, landing, [2024])
    assert _by_year(conn) == {2023: 4, 2024: 1}
    (failure,) = report.failures
    assert "no export holds rows of 2024 any more" in failure.error
    assert "xs/all.csv (1 rows)" in failure.error and "years" in failure.error
    _accounting_holds(conn)
    # Withdrawing the year is said in the YAML: outside the coverage, the rows go.
    narrowed = _pipeline(tmp_path, dataset_extra='    years: "2021-2023"')
    (report,) = _stage(conn, narrowed, landing, [2024])
    assert not report.failures and not report.missing_delivery
    assert _by_year(conn) == {2023: 4}
    assert conn.execute(
        "SELECT count(*) FROM audit.loads WHERE is_current AND academic_year = 2024"
    ).fetchone() == (0,)
    _accounting_holds(conn)


def test_a_year_whose_files_are_gone_keeps_its_rows(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    pipeline = _pipeline(tmp_path, dataset_extra="    files_per_year: true")
    _write(landing, "export_2023.csv", [_row(i, "2023") for i in range(4)])
    path = _write(landing, "export_2024.csv", [_row(i, "2024") for i in range(4)])
    conn = _conn(tmp_path)
    _stage(conn, pipeline, landing, YEARS)
    path.unlink()  # lost in a transfer
    reports = {r.year: r for r in _stage(conn, pipeline, landing, YEARS)}
    assert _by_year(conn) == {2023: 4, 2024: 4}
    assert [y for y, r in reports.items() if r.failures] == [2024]
    assert "xs/export_2024.csv (4 rows)" in reports[2024].failures[0].error
    _accounting_holds(conn)
    # A renamed export replaces the old one (the year has new rows): no duplicates.
    _write(landing, "export_2024_v2.csv", [_row(i, "2024") for i in range(3)])
    _stage(conn, pipeline, landing, [2024])
    assert _by_year(conn) == {2023: 4, 2024: 3}
    _accounting_holds(conn)


def test_year_in_the_name_stays_a_check_with_files_per_year(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    pipeline = _pipeline(tmp_path, dataset_extra="    files_per_year: true")
    _write(landing, "export_2024.csv", [*(_row(i, "2024") for i in range(4)), _row(9, "2023")])
    conn = _conn(tmp_path)
    (report,) = _stage(conn, pipeline, landing, [2024])
    assert report.rows_loaded == 4 and report.rows_quarantined == 1
    (reason,) = conn.execute("SELECT reason FROM audit.quarantine").fetchone()
    assert "in a file of academic year 2024" in reason


def test_coverage_and_missing_deliveries(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    pipeline = _pipeline(tmp_path, dataset_extra='    years: "2023-2025"')
    _write(landing, "all.csv", [_row(1, "2023"), _row(2, "2024"), _row(3, "2022")])
    conn = _conn(tmp_path)
    reports = {r.year: r for r in _stage(conn, pipeline, landing, YEARS)}
    assert not any(r.failures for r in reports.values())  # nothing missing is a failure
    assert [y for y, r in reports.items() if r.missing_delivery] == [2025]
    assert _by_year(conn) == {2022: 1, 2023: 1, 2024: 1}  # 2022: outside coverage, loaded
    assert write_deliveries(conn, {"XS": pipeline}, YEARS) == 1
    deliveries = conn.execute(
        "SELECT academic_year, expected, received, rows FROM audit.deliveries ORDER BY 1"
    ).fetchall()
    assert deliveries == [
        (2022, False, True, 1),
        (2023, True, True, 1),
        (2024, True, True, 1),
        (2025, True, False, 0),
    ]


@pytest.mark.parametrize("value", ["2023-", "2021-2024", "2024", 2024])
def test_coverage_spellings(tmp_path: Path, value) -> None:
    quoted = f'"{value}"' if isinstance(value, str) else value
    pipeline = _pipeline(tmp_path, dataset_extra=f"    years: {quoted}")
    covers = [y for y in YEARS if pipeline.datasets["enrolment"].covers(y)]
    assert covers == {"2023-": [2023, 2024, 2025], "2021-2024": [2021, 2022, 2023, 2024]}.get(
        str(value), [2024]
    )


def test_coverage_error_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"datasets\.enrolment\.years.*'2025-2021'"):
        _pipeline(tmp_path, dataset_extra='    years: "2025-2021"')


# --- no silent loss: hold back at every stage ---------------------------------------------


def _loaded_then(tmp_path: Path, rows_after: list[str], *, validate: bool = False):
    """Load a good 2024 export, then a bad one: (reports of the second run, connection)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    landing = tmp_path / "landing"
    pipeline = _pipeline(tmp_path)
    _write(landing, "all.csv", [_row(i, "2024") for i in range(8)])
    conn = _conn(tmp_path)
    _stage(conn, pipeline, landing, [2024], validate=validate)
    assert _by_year(conn) == {2024: 8}
    _write(landing, "all.csv", rows_after)
    return _stage(conn, pipeline, landing, [2024], validate=validate), conn


def _held_back(reports, conn, *stage_words: str) -> str:
    (report,) = reports
    assert report.held_back, "the partition must be held back"
    assert _by_year(conn) == {2024: 8}  # its previous rows stay
    (failure,) = report.failures
    error = failure.error
    for word in ("XS", "xs/all.csv", "2024", "held back", *stage_words):
        assert word in error, (word, error)
    _accounting_holds(conn)
    return error


def test_held_back_when_every_row_fails_normalising(tmp_path: Path) -> None:
    # The bug this replaces: every row quarantined by the normaliser, the partition was
    # replaced by nothing and the suite said "passed". Now it is held back, with or without
    # the suite.
    bad = [_row(i, "2024", nationality="Atlantis") for i in range(6)]
    for validate in (False, True):
        reports, conn = _loaded_then(tmp_path / str(validate), bad, validate=validate)
        error = _held_back(reports, conn, "all 6 rows were quarantined", "unknown country")
        if validate:
            assert reports[0].gate.held_back  # the Dagster suite check fails in red
        conn.close()
    assert "main reasons: nationality: unknown country: 6 rows" in error


def test_held_back_when_most_rows_fail_normalising(tmp_path: Path) -> None:
    rows = [_row(i, "2024", nationality="Atlantis") for i in range(3)] + [_row(9, "2024")]
    reports, conn = _loaded_then(tmp_path, rows)
    _held_back(reports, conn, "3 of 4 rows (75%)", "above the limit of 25%")


def test_held_back_when_the_years_cannot_be_read(tmp_path: Path) -> None:
    # Reading stage: the school switched to a year spelling nobody declared.
    reports, conn = _loaded_then(tmp_path, [_row(i, "AY-XXIV") for i in range(5)])
    (report,) = reports
    assert _by_year(conn) == {2024: 8}
    # failed for the partition it fed, and as the load holding its rejected rows
    assert len(report.failures) == 2
    for failure in report.failures:
        assert "5 of 5 rows have no readable academic year" in failure.error
        assert "format.year_pattern" in failure.error
    assert conn.execute(
        "SELECT count(*) FROM audit.quarantine WHERE reason LIKE 'file rejected:%'"
    ).fetchone() == (5,)
    _accounting_holds(conn)


def test_held_back_when_the_suite_fails_most_rows(tmp_path: Path) -> None:
    # Suite stage: fees the normaliser types (its type range) but the suite rejects (its
    # business range: a yearly fee above 50,000 EUR is a typo or a total over several years).
    path = tmp_path / "xt.yaml"
    path.write_text(
        """
school: {code: XT, name: Test school}
format: {kind: csv, separator: ";"}
datasets:
  tuition:
    files: xt/*.csv
    columns:
      academic_year: year
      programme_code: programme
      programme_level: level
      fee_category: fees
      annual_fee: fee
""",
        encoding="utf-8",
    )
    pipeline = load_pipeline(path)
    landing = tmp_path / "landing"
    folder = landing / "xt"
    folder.mkdir(parents=True)

    def grid(fee: str) -> str:
        lines = ["year;programme;level;fees;fee"]
        for i in range(4):
            for category in ("eu", "non_eu"):
                lines.append(f"2024;P{i};msc;{category};{fee}")
        return "\n".join(lines) + "\n"

    conn = _conn(tmp_path)
    (folder / "fees.csv").write_text(grid("4500"), encoding="utf-8")

    def stage():
        return stage_partitions(
            conn, "tuition", [(pipeline, 2024)], landing, KEY, years=YEARS,
            pipelines={"XT": pipeline}, validate=True,
        )  # fmt: skip

    assert not stage()[0].failures
    (folder / "fees.csv").write_text(grid("450000"), encoding="utf-8")  # fees in cents
    (report,) = stage()
    assert report.held_back and report.gate.held_back
    assert conn.execute("SELECT count(*), min(annual_fee_eur) FROM staging.tuition").fetchone() == (
        8,
        4500,
    )
    (failure,) = report.failures
    assert "all 8 rows were quarantined" in failure.error
    assert "ExpectColumnValuesToBeBetween(annual_fee_eur)" in failure.error
    assert "XT" in failure.error and "xt/fees.csv" in failure.error and "2024" in failure.error


def test_a_shared_file_of_several_years_feeds_each_school_year(tmp_path: Path) -> None:
    # Two schools in one export holding every year (the Évry campus, after a change of
    # system): each school's rows of each year feed its own partition; a row no school
    # claims is quarantined by the first school, never dropped.
    def shared(code: str) -> SchoolPipeline:
        return _pipeline(
            tmp_path,
            dataset_extra=f"    filter: {{column: school, equals: {code}}}",
            code=code,
            files="campus/all.csv",
        )

    pipelines = {"XA": shared("XA"), "XB": shared("XB")}
    folder = tmp_path / "landing" / "campus"
    folder.mkdir(parents=True)
    lines = [f"school;{HEADER}"]
    lines += [f"XA;{_row(i, '2023-24')}" for i in range(4)]
    lines += [f"XB;{_row(i, '2024-25')}" for i in range(3)]
    lines += [f"XA;{_row(10 + i, '2024-25')}" for i in range(4)]
    lines += [f"ZZ;{_row(50, '2024-25')}"]
    (folder / "all.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    conn = _conn(tmp_path)
    reports = stage_partitions(
        conn, "enrolment", [(p, y) for p in pipelines.values() for y in (2023, 2024)],
        tmp_path / "landing", KEY, years=YEARS, pipelines=pipelines, validate=False,
    )  # fmt: skip
    assert [u.error for r in reports for u in r.failures] == []
    counts = conn.execute(
        "SELECT school_code, academic_year, count(*) FROM staging.enrolment GROUP BY ALL "
        "ORDER BY ALL"
    ).fetchall()
    assert counts == [("XA", 2023, 4), ("XA", 2024, 4), ("XB", 2024, 3)]
    (reason,) = conn.execute(
        "SELECT reason FROM audit.quarantine WHERE school_code = 'XA'"
    ).fetchone()
    assert "belongs to no configured school: 'ZZ'" in reason
    _accounting_holds(conn)
    # every row of the file is in exactly one current load, across both schools
    assert conn.execute("SELECT sum(rows_read) FROM audit.loads WHERE is_current").fetchone() == (
        len(lines) - 1,
    )
