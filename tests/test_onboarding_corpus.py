"""Onboarding: a new school is one pipelines/*.yaml file and no Python.

Twelve invented schools (tests/corpus.py), each exporting in a different style, are written
into a fresh landing zone with a pipelines/ folder holding only them; ONE `imtetl build`
loads them all. The marts must show the figures computed here from the rows written (never
from the warehouse's staging), every row read must be loaded or quarantined, the bad rows
must be in audit.quarantine with their reason, and a year a school covers but did not send
is a missing delivery, not a failure.

The last tests check the expected-figure calculators themselves on a tiny hand-made case
(milliseconds, no build).
"""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests import corpus
from tests.conftest import Project, make_project

SCHOOLS = [s.code for s in corpus.styles()]


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, dict]:
    base = tmp_path_factory.mktemp("corpus")
    landing = base / "landing"
    project = make_project(base, landing=landing)
    shutil.rmtree(project.pipelines)  # only the twelve new schools
    written = corpus.write_corpus(landing, project.pipelines)
    result = project.imtetl("build", IMTETL_YEARS="2021-2025", timeout=300)
    project.build_output = result.stdout + result.stderr
    assert result.returncode == 0, project.build_output
    return project, written


def _query(project: Project, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(project.warehouse), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def _all(written: dict, what: str) -> list:
    return [item for w in written.values() for item in getattr(w.population, what)]


def _assert_rows(actual: dict, expected: dict, ratio: str) -> None:
    """The mart's rows are the oracle's: the same keys, every figure equal, the exact ratio
    ``ratio`` equal up to floating point (DuckDB and Python divide in their own order)."""
    assert actual.keys() == expected.keys()
    for key, want in expected.items():
        got = dict(actual[key])
        assert got.pop(ratio) == pytest.approx(want[ratio], abs=5e-12), key
        assert got == {k: v for k, v in want.items() if k != ratio}, key


@pytest.mark.builds(1)  # the module's build runs in this test's setup
def test_every_school_loads_without_a_failed_load(onboarded) -> None:
    project, written = onboarded
    schools = {r[0] for r in _query(project, "SELECT school_code FROM core.dim_school")}
    assert schools == set(SCHOOLS)
    failed = _query(
        project,
        "SELECT school_code, dataset, source_file, error FROM audit.loads "
        "WHERE status = 'failed' ORDER BY ALL",
    )
    assert failed == []
    for dataset, what in (("enrolment", "enrolments"), ("tuition", "fees"), ("mobility", "stays")):
        table = {"enrolment": "fact_enrolment", "tuition": "fact_tuition_fee",
                 "mobility": "fact_mobility"}[dataset]  # fmt: skip
        counts = dict(
            _query(project, f"SELECT school_code, count(*) FROM core.{table} GROUP BY ALL")
        )
        expected = {code: len(getattr(w.population, what)) for code, w in written.items()}
        assert counts == expected, dataset


def test_rows_read_are_loaded_or_quarantined(onboarded) -> None:
    project, written = onboarded
    loads = _query(
        project,
        "SELECT school_code, dataset, source_file, rows_read, rows_loaded, rows_quarantined "
        "FROM audit.loads",
    )
    for school, dataset, source_file, read, loaded, quarantined in loads:
        assert read == loaded + quarantined, (school, dataset, source_file)
    per_file: dict[tuple, int] = {}
    for school, dataset, source_file, read, _loaded, _quarantined in loads:
        key = (school, dataset, source_file)
        per_file[key] = per_file.get(key, 0) + read
    expected = {
        (code, dataset, source_file): rows
        for code, w in written.items()
        for (dataset, source_file), rows in w.files.items()
    }
    # a load of nothing (e.g. the record of a year not delivered) reads no row of any file
    per_file = {k: n for k, n in per_file.items() if n or k in expected}
    assert per_file == expected


def test_bad_rows_are_quarantined_with_their_reason(onboarded) -> None:
    project, written = onboarded
    rows = _query(
        project,
        "SELECT q.school_code, q.dataset, q.source_file, q.column, q.reason, q.raw_record "
        "FROM audit.quarantine q ORDER BY ALL",
    )
    expected = sorted(
        (b.school, b.dataset, b.source_file, b.column) for w in written.values() for b in w.bad
    )
    assert sorted(r[:4] for r in rows) == expected
    bad = {
        (b.school, b.dataset, b.source_file, b.column): b for w in written.values() for b in w.bad
    }
    for school, dataset, source_file, column, reason, raw_record in rows:
        b = bad[school, dataset, source_file, column]
        word = "year" if column == "academic_year" else "country"
        assert word in reason.lower(), reason
        assert b.raw_value in raw_record, raw_record
    quarantined = dict(
        _query(project, "SELECT school_code, sum(rows_quarantined) FROM audit.loads GROUP BY ALL")
    )
    for code, w in written.items():
        assert quarantined.get(code, 0) == len(w.bad), code


def test_a_covered_year_not_delivered_is_a_missing_delivery(onboarded) -> None:
    project, _written = onboarded
    missing = _query(
        project,
        "SELECT school_code, dataset, academic_year FROM audit.deliveries "
        "WHERE expected AND NOT received ORDER BY ALL",
    )
    # XI covers 2023-2025 and sent nothing for 2023; every other covered year was sent
    assert missing == [("XI", dataset, 2023) for dataset in sorted(corpus.DATASETS)]
    received = _query(
        project,
        "SELECT school_code, academic_year FROM audit.deliveries WHERE expected AND received "
        "AND school_code IN ('XH', 'XI') GROUP BY ALL ORDER BY ALL",
    )
    assert received == [("XH", 2024), ("XH", 2025), ("XI", 2024), ("XI", 2025)]


def test_foreign_intake(onboarded) -> None:
    project, written = onboarded
    expected = corpus.expected_foreign_intake(_all(written, "enrolments"))
    rows = _query(
        project,
        "SELECT school_code, academic_year, programme_level, nationality, new_entrants, "
        "international_mobility_entrants, share_of_new_entrants, new_entrants_prev_year "
        "FROM marts.foreign_intake",
    )
    actual = {
        r[:4]: {"new_entrants": r[4], "international_mobility_entrants": r[5],
                "share_of_new_entrants": r[6], "new_entrants_prev_year": r[7]}
        for r in rows
    }  # fmt: skip
    _assert_rows(actual, expected, ratio="share_of_new_entrants")


def test_recruitment_routes(onboarded) -> None:
    project, written = onboarded
    expected = corpus.expected_recruitment_routes(_all(written, "enrolments"))
    rows = _query(
        project,
        "SELECT school_code, academic_year, admission_route, study_mode, new_entrants, "
        "share_of_new_entrants FROM marts.recruitment_routes",
    )
    actual = {r[:4]: (r[4], r[5]) for r in rows}
    assert actual.keys() == expected.keys()
    for key, want in expected.items():
        assert actual[key][0] == want["new_entrants"], key
        assert abs(actual[key][1] - want["share_of_new_entrants"]) <= 5e-5, key


def test_international_masters_pricing(onboarded) -> None:
    project, written = onboarded
    expected = corpus.expected_masters_pricing(_all(written, "enrolments"), _all(written, "fees"))
    columns = [
        "fee_eu_eur", "fee_non_eu_eur", "non_eu_premium_eur", "fee_non_eu_change_pct",
        "enrolled", "enrolled_non_eu", "new_entrants_non_eu", "expected_fee_revenue_eur",
        "programme_level", "non_eu_fee_rank",
    ]  # fmt: skip
    rows = _query(
        project,
        f"SELECT school_code, programme_id, academic_year, {', '.join(columns)} "
        "FROM marts.international_masters_pricing",
    )
    actual = {r[:3]: dict(zip(columns, r[3:], strict=True)) for r in rows}
    assert actual.keys() == expected.keys()
    _assert_rows(actual, expected, ratio="fee_non_eu_change_pct")
    names = dict(
        _query(
            project, "SELECT programme_id, programme_name FROM marts.international_masters_pricing"
        )
    )
    for w in written.values():
        for fee in w.population.fees:
            if fee.level in corpus.MASTERS_LEVELS:
                assert names[f"{fee.school}:{fee.programme_code}"] == fee.programme_name


def test_mobility_flows(onboarded) -> None:
    project, written = onboarded
    expected = corpus.expected_mobility_flows(_all(written, "stays"))
    rows = _query(
        project,
        "SELECT school_code, academic_year, direction, scheme, partner_country, stays, students, "
        "total_months, avg_duration_months FROM marts.mobility_flows",
    )
    actual = {
        r[:5]: {"stays": r[5], "students": r[6], "total_months": r[7],
                "avg_duration_months": r[8]}
        for r in rows
    }  # fmt: skip
    _assert_rows(actual, expected, ratio="avg_duration_months")


def test_personal_columns_never_enter_the_warehouse(onboarded) -> None:
    project, _written = onboarded
    text = " ".join(str(r) for r in _query(project, "SELECT raw_record FROM audit.quarantine"))
    for name in corpus.PERSON_NAMES:
        for part in name.split(" "):
            assert part not in text


# --------------------------------------------------------------------------- the calculators
# A tiny hand-made case whose figures are worked out by hand in the comments.


def _e(school, year, sid, code, level, is_new, nat, prior, route, mode, fee_category):
    return corpus.Enrolment(school, year, sid, code, code.title(), level, 1, is_new, nat, prior,
                            route, mode, fee_category, "F")  # fmt: skip


TINY_ENROLMENTS = [
    # 2023: one new French msc student
    _e("XX", 2023, "a", "M1", "msc", True, "FR", "FR", "admission_on_title", "initial", "eu"),
    # 2024: three new msc entrants (two MA, one FR) and one continuing student
    _e("XX", 2024, "b", "M1", "msc", True, "MA", "MA", "international_application",
       "initial", "non_eu"),
    _e("XX", 2024, "c", "M1", "msc", True, "MA", "FR", "international_application",
       "initial", "non_eu"),
    _e("XX", 2024, "d", "M1", "msc", True, "FR", None, "admission_on_title", "initial", "eu"),
    _e("XX", 2024, "a", "M1", "msc", False, "FR", "FR", "admission_on_title", "initial", "eu"),
    # 2024: an engineering entrant (not a master's programme), CN with an unknown prior degree
    _e("XX", 2024, "e", "E1", "engineering", True, "CN", None, "cpge_exam", "apprenticeship",
       "non_eu"),
]  # fmt: skip
TINY_FEES = [
    corpus.Fee("XX", 2023, "M1", "M1", "msc", "en", "eu", Decimal("3000.00")),
    corpus.Fee("XX", 2023, "M1", "M1", "msc", "en", "non_eu", Decimal("9000.00")),
    corpus.Fee("XX", 2024, "M1", "M1", "msc", "en", "eu", Decimal("3000.00")),
    corpus.Fee("XX", 2024, "M1", "M1", "msc", "en", "non_eu", Decimal("9999.99")),
    corpus.Fee("YY", 2024, "M9", "M9", "msc", "en", "non_eu", Decimal("12000.00")),
    corpus.Fee("YY", 2024, "M8", "M8", "msc", "en", "non_eu", Decimal("9999.99")),
]


def test_foreign_intake_calculator() -> None:
    got = corpus.expected_foreign_intake(TINY_ENROLMENTS)
    assert got[("XX", 2023, "msc", "FR")] == {
        "new_entrants": 1, "international_mobility_entrants": 0,
        "share_of_new_entrants": 1.0, "new_entrants_prev_year": None,  # no 2022 intake
    }  # fmt: skip
    # 2024 msc intake: b, c (MA), d (FR). Only b is in international mobility (c's prior
    # degree is French); FR had 1 entrant in 2023, MA none but 2023 had an msc intake: 0.
    assert got[("XX", 2024, "msc", "MA")] == {
        "new_entrants": 2, "international_mobility_entrants": 1,
        "share_of_new_entrants": 2 / 3, "new_entrants_prev_year": 0,
    }  # fmt: skip
    assert got[("XX", 2024, "msc", "FR")]["new_entrants_prev_year"] == 1
    # CN with an unknown prior-degree country is not counted as international mobility
    assert got[("XX", 2024, "engineering", "CN")]["international_mobility_entrants"] == 0
    assert got[("XX", 2024, "engineering", "CN")]["new_entrants_prev_year"] is None
    assert len(got) == 4  # the continuing student is no new entrant


def test_recruitment_routes_calculator() -> None:
    got = corpus.expected_recruitment_routes(TINY_ENROLMENTS)
    # 2024: four new entrants (b, c, d, e)
    assert got[("XX", 2024, "international_application", "initial")] == {
        "new_entrants": 2, "share_of_new_entrants": 0.5,
    }  # fmt: skip
    assert got[("XX", 2024, "cpge_exam", "apprenticeship")]["share_of_new_entrants"] == 0.25
    assert got[("XX", 2023, "admission_on_title", "initial")]["share_of_new_entrants"] == 1.0
    assert len(got) == 4


def test_masters_pricing_calculator() -> None:
    got = corpus.expected_masters_pricing(TINY_ENROLMENTS, TINY_FEES)
    assert set(got) == {("XX", "XX:M1", 2023), ("XX", "XX:M1", 2024), ("YY", "YY:M9", 2024),
                        ("YY", "YY:M8", 2024)}  # fmt: skip  # engineering E1 is left out
    first, second = got["XX", "XX:M1", 2023], got["XX", "XX:M1", 2024]
    assert first["fee_non_eu_change_pct"] is None and first["non_eu_fee_rank"] == 1
    assert first["expected_fee_revenue_eur"] == Decimal("3000.00")
    assert first["non_eu_premium_eur"] == Decimal("6000.00")
    # (9999.99 - 9000) / 9000 = 11.1110...% (exact: bi shows 11.11)
    assert second["fee_non_eu_change_pct"] == pytest.approx(100 * 999.99 / 9000)
    # b, c pay 9999.99; d and a pay 3000: 25999.98
    assert second["expected_fee_revenue_eur"] == Decimal("25999.98")
    assert (second["enrolled"], second["enrolled_non_eu"], second["new_entrants_non_eu"]) == (
        4, 2, 2,
    )  # fmt: skip
    # 2024 msc non-EU fees: YY:M9 12000 (1), XX:M1 and YY:M8 9999.99 (both 2)
    assert got["YY", "YY:M9", 2024]["non_eu_fee_rank"] == 1
    assert second["non_eu_fee_rank"] == got["YY", "YY:M8", 2024]["non_eu_fee_rank"] == 2
    assert got["YY", "YY:M8", 2024]["fee_eu_eur"] is None
    assert got["YY", "YY:M8", 2024]["non_eu_premium_eur"] is None
    assert got["YY", "YY:M8", 2024]["enrolled"] == 0
    # exact, negative too: -1/3 of 3 -> -33.333...%; +0.10 on 2000 -> +0.005%
    assert corpus._change_pct(Decimal("2.00"), Decimal("3.00")) == pytest.approx(-100 / 3)
    assert corpus._change_pct(Decimal("2000.10"), Decimal("2000.00")) == pytest.approx(0.005)
    assert corpus._change_pct(Decimal("1.00"), Decimal("0")) is None


def test_mobility_flows_calculator() -> None:
    stays = [
        corpus.Stay("XX", 2024, "s1", "outgoing", "erasmus", "A", "DE",
                    date(2024, 9, 1), date(2025, 1, 31)),  # 152 days: 4.99... -> 5.0
        corpus.Stay("XX", 2024, "s1", "outgoing", "erasmus", "B", "DE",
                    date(2025, 2, 1), date(2025, 3, 3)),  # 30 days: 0.98... -> 1.0
        corpus.Stay("XX", 2024, "s2", "outgoing", "erasmus", "A", "DE",
                    date(2024, 9, 1), date(2024, 9, 11)),  # 10 days: 0.33 -> 0.3
        corpus.Stay("XX", 2024, "s3", "incoming", "other", "C", "MA",
                    date(2024, 9, 1), date(2024, 9, 1)),  # 0 days
    ]  # fmt: skip
    got = corpus.expected_mobility_flows(stays)
    assert got[("XX", 2024, "outgoing", "erasmus", "DE")] == {
        "stays": 3, "students": 2, "total_months": Decimal("6.3"),
        "avg_duration_months": pytest.approx(2.1),
    }  # fmt: skip
    assert got[("XX", 2024, "incoming", "other", "MA")]["total_months"] == Decimal("0.0")
    assert corpus.duration_months(date(2024, 1, 1), date(2024, 1, 17)) == Decimal("0.5")


def test_the_corpus_files_hold_the_rows_it_counts(tmp_path: Path) -> None:
    """The generator itself: twelve YAMLs, every style distinct, and each delimited file
    holds (title lines + header + counted rows + notes) lines in its own encoding."""
    written = corpus.write_corpus(tmp_path / "landing", tmp_path / "pipelines")
    assert sorted(p.stem.upper() for p in (tmp_path / "pipelines").glob("*.yaml")) == SCHOOLS
    for w in written.values():
        style = w.style
        for (dataset, source_file), rows in w.files.items():
            assert rows >= (8 if dataset == "tuition" else 6)
            if style.layout not in ("per_year", "one_file"):
                continue
            data = (tmp_path / "landing" / source_file).read_bytes()
            text = data.decode(style.fmt.get("encoding", "utf-8"))
            lines = text.splitlines()
            assert len(lines) == len(style.title) + 1 + rows + len(style.notes), source_file
            assert style.fmt.get("header_row", 1) == len(style.title) + 1
            assert style.fmt.get("footer_rows", 0) == len(style.notes)
        for e in w.population.enrolments:
            assert 20 <= sum(x.year == e.year for x in w.population.enrolments) <= 40
    encodings = {w.style.fmt.get("encoding") for w in written.values()}
    assert {"utf-16", "cp850", "iso8859_2", "mac_roman"} <= encodings
    assert (tmp_path / "landing" / "xb" / "enrolment_2024-2025.txt").read_bytes()[:2] in (
        b"\xff\xfe", b"\xfe\xff",
    )  # fmt: skip
    assert "ł" in (tmp_path / "landing/xd/tuition_2024.tsv").read_bytes().decode("iso8859_2")
