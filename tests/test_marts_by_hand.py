"""The core and marts SQL, checked against figures worked out by hand.

A temporary DuckDB gets the staging DDL, a tiny hand-written fixture (2 schools, 2 academic
years, 13 enrolment rows, a fee grid, 3 student and 3 staff mobility stays, 7 faculty rows),
then the dbt project's core and marts
models (dbt in-process, as the pipeline runs it) and the audit comments. Each expected figure
below is derived in a comment from the fixture, so a reader can check the arithmetic without
running anything. No Dagster involved. Marts hold exact values: shares and percentages are
compared with pytest.approx.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from imtetl.load import dbt
from imtetl.load.build_db import staging_ddl
from imtetl.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = PROJECT_ROOT / "sql"
#: The models this fixture feeds (no regulated fees, no national data), built by dbt.
MODELS = (
    "dim_school dim_country dim_programme fact_enrolment fact_tuition_fee fact_mobility "
    "fact_faculty international_masters_pricing foreign_intake recruitment_routes "
    "mobility_flows international_faculty staff_mobility"
)
BUILT_TABLES = [
    "core.dim_school",
    "core.dim_country",
    "core.dim_programme",
    "core.fact_enrolment",
    "core.fact_tuition_fee",
    "core.fact_mobility",
    "core.fact_faculty",
    "marts.international_masters_pricing",
    "marts.foreign_intake",
    "marts.recruitment_routes",
    "marts.mobility_flows",
    "marts.international_faculty",
    "marts.staff_mobility",
]
LOADED_AT = datetime(2025, 10, 1, 8, 0, 0)

# --------------------------------------------------------------------------------------
# The fixture
# --------------------------------------------------------------------------------------
SCHOOLS = [
    ("IMTA", "IMT Atlantique", "Brest", "0290119X", "F  BREST09", 2000),
    ("TP", "Télécom Paris", "Palaiseau", "0753742K", "F  PARIS051", 1989),
]
# country_code, name_en, name_fr, is_eu_eea, eu_fee_regime, world_region
COUNTRIES = [
    ("FR", "France", "France", True, True, "Western Europe"),
    ("DE", "Germany", "Allemagne", True, True, "Western Europe"),
    ("CH", "Switzerland", "Suisse", False, True, "Western Europe"),
    ("MA", "Morocco", "Maroc", False, False, "Northern Africa"),
    ("CN", "China", "Chine", False, False, "Eastern Asia"),
    ("IN", "India", "Inde", False, False, "Southern Asia"),
]
# school, year, programme_code, programme_name, level, teaching_language, fee_category, fee
TUITION = [
    ("IMTA", 2023, "MSC-DS", "MSc Data Science", "msc", None, "eu", "4500.00"),
    ("IMTA", 2023, "MSC-DS", "MSc Data Science", "msc", None, "non_eu", "8000.00"),
    ("IMTA", 2024, "MSC-DS", "MSc Data Science", "msc", "en", "eu", "4500.00"),
    ("IMTA", 2024, "MSC-DS", "MSc Data Science", "msc", "en", "non_eu", "9000.00"),
    ("IMTA", 2024, "ING", "Ingénieur", "engineering", "fr", "eu", "3200.00"),
    ("IMTA", 2024, "ING", "Ingénieur", "engineering", "fr", "non_eu", "4850.00"),
    ("TP", 2023, "MSC-AI", "MSc AI", "msc", None, "eu", "4500.00"),
    ("TP", 2023, "MSC-AI", "MSc AI", "msc", None, "non_eu", "8500.00"),
    # 2024: no EU fee published, and no name on the fee grid.
    ("TP", 2024, "MSC-AI", None, "msc", None, "non_eu", "9000.00"),
    ("TP", 2024, "MSC-NET", "MSc Networks", "msc", "en", "eu", "4500.00"),
    ("TP", 2024, "MSC-NET", "MSc Networks", "msc", "en", "non_eu", "6500.00"),
]
# school, year, student, programme_code, programme_name, level, is_new_entrant,
# nationality, prior_degree_country, admission_route, study_mode, fee_category
# fmt: off
ENROLMENT = [
    # IMTA 2023
    ("IMTA", 2023, "s1", "MSC-DS", "MSc Data Science", "msc", True, "CN", "CN",
     "international_application", "initial", "non_eu"),
    ("IMTA", 2023, "s2", "MSC-DS", "MSc Data Science", "msc", True, "FR", "FR",
     "admission_on_title", "initial", "eu"),
    ("IMTA", 2023, "s3", "ING", "Ingénieur", "engineering", True, "FR", "FR",
     "cpge_exam", "initial", "eu"),
    # IMTA 2024
    ("IMTA", 2024, "s1", "MSC-DS", "MSc in Data Science", "msc", False, "CN", "CN",
     "international_application", "initial", "non_eu"),
    # s4: Moroccan with a French prior degree -> NOT an international mobility entrant.
    ("IMTA", 2024, "s4", "MSC-DS", "MSc in Data Science", "msc", True, "MA", "FR",
     "admission_on_title", "initial", "non_eu"),
    ("IMTA", 2024, "s5", "MSC-DS", "MSc in Data Science", "msc", True, "CN", "CN",
     "international_application", "initial", "non_eu"),
    ("IMTA", 2024, "s6", "MSC-DS", "MSc in Data Science", "msc", True, "DE", "DE",
     "double_degree", "initial", "eu"),
    ("IMTA", 2024, "s9", "MSC-DS", "MSc in Data Science", "msc", True, "CN", "CN",
     "international_application", "initial", "non_eu"),
    ("IMTA", 2024, "s7", "ING", "Ingénieur", "engineering", True, "FR", "FR",
     "cpge_exam", "apprenticeship", "eu"),
    # s8: prior-degree country unknown -> NOT an international mobility entrant.
    ("IMTA", 2024, "s8", "NM-PHYS", "Master Physique", "national_master", True, "IN", None,
     "international_application", "initial", "non_eu"),
    # TP 2024 (TP has no enrolment in 2023)
    ("TP", 2024, "t1", "MSC-AI", "MSc Artificial Intelligence", "msc", True, "CN", "CN",
     "international_application", "initial", "non_eu"),
    ("TP", 2024, "t2", "MSC-AI", "MSc Artificial Intelligence", "msc", True, "CH", "CH",
     "double_degree", "initial", "eu"),
    ("TP", 2024, "t3", "MSC-AI", "MSc Artificial Intelligence", "msc", True, "FR", "FR",
     "admission_on_title", "initial", "eu"),
]
# fmt: on
# school, year, person, population, direction, scheme, partner_institution, partner_country,
# start, end
# fmt: off
MOBILITY = [
    # 152 days / 30.4375 = 4.9938 -> 5.0 months
    ("IMTA", 2024, "s3", "student", "outgoing", "erasmus", "TU München", "DE",
     date(2024, 9, 1), date(2025, 1, 31)),
    # 149 days / 30.4375 = 4.8953 -> 4.9 months (same student, second stay)
    ("IMTA", 2024, "s3", "student", "outgoing", "erasmus", "TU Berlin", "DE",
     date(2025, 2, 1), date(2025, 6, 30)),
    # 667 days / 30.4375 = 21.9138 -> 21.9 months
    ("TP", 2024, "t1", "student", "incoming", "time_double_degree", "Tsinghua University", "CN",
     date(2024, 9, 1), date(2026, 6, 30)),
    # Staff stays (the person is a faculty staff_key): not in marts.mobility_flows.
    # 4 days / 30.4375 = 0.1314 -> 0.1 months
    ("IMTA", 2024, "f1", "staff", "outgoing", "erasmus_staff_teaching", "TU München", "DE",
     date(2025, 3, 10), date(2025, 3, 14)),
    # 11 days / 30.4375 = 0.3614 -> 0.4 months (same person, second stay, same country)
    ("IMTA", 2024, "f1", "staff", "outgoing", "erasmus_staff_teaching", "TU Berlin", "DE",
     date(2025, 5, 5), date(2025, 5, 16)),
    # 29 days / 30.4375 = 0.9528 -> 1.0 month
    ("TP", 2024, "v1", "staff", "incoming", "invited_professorship", "Tsinghua University", "CN",
     date(2025, 1, 6), date(2025, 2, 4)),
]
# school, year, staff, category, department, nationality, country_of_previous_position,
# is_new_hire, fte, teaches_in_english
FACULTY = [
    # IMTA 2024 professors: f1 (FR) split over two departments counts once, fte 0.5 + 0.5;
    # f2 (DE, hired from Germany); f3 (FR, back from Canada) is professor AND researcher.
    ("IMTA", 2024, "f1", "professor", "Maths", "FR", None, False, "0.500", True),
    ("IMTA", 2024, "f1", "professor", "Physics", "FR", None, False, "0.500", None),
    ("IMTA", 2024, "f2", "professor", "Info", "DE", "DE", True, "1.000", True),
    ("IMTA", 2024, "f3", "professor", None, "FR", "CA", False, "0.600", False),
    ("IMTA", 2024, "f3", "researcher", None, "FR", "CA", False, "0.400", False),
    # IMTA 2024 postdoc: f4 (CN), a new hire whose previous position was in France
    ("IMTA", 2024, "f4", "postdoc", "Info", "CN", "FR", True, "1.000", None),
    # TP 2023 visiting: v1 (CN), previous position unknown
    ("TP", 2023, "v1", "visiting", None, "CN", None, True, "0.250", True),
]

# fmt: on


# --------------------------------------------------------------------------------------
# Helpers (only this test needs them)
# --------------------------------------------------------------------------------------
def build_warehouse_sql(path: Path) -> None:
    """Build the core and marts models with dbt on the database at ``path`` (no connection to
    it open in this process), then the audit comments, as the pipeline does."""
    settings = Settings(
        home=path.parent, landing=path.parent, warehouse=path.parent.parent / "imt.duckdb",
        pipelines=PROJECT_ROOT / "pipelines", sql=SQL_DIR, years=(2023, 2024),
    )  # fmt: skip
    assert settings.build_db == path
    run = dbt.invoke(settings, ["run", "--select", MODELS])
    assert run.success, [r.message for r in run.results if r.status != "success"]
    with duckdb.connect(str(path)) as conn:
        conn.execute((SQL_DIR / "audit" / "comments.sql").read_text(encoding="utf-8"))


def fixture_database(folder: Path, reverse: bool = False) -> Path:
    """A build database under ``folder`` holding the fixture, core and marts built."""
    path = folder / ".build" / "build.duckdb"
    path.parent.mkdir(parents=True)
    with duckdb.connect(str(path)) as conn:
        conn.execute(staging_ddl(SQL_DIR))
        _insert_fixture(conn, reverse=reverse)
    build_warehouse_sql(path)
    return path


def rows_by_key(
    con: duckdb.DuckDBPyConnection, table: str, key: tuple[str, ...]
) -> dict[tuple, dict]:
    """Return the rows of `table` as dicts, indexed by the values of the `key` columns."""
    cursor = con.execute(f"SELECT * FROM {table}")
    names = [d[0] for d in cursor.description]
    records = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    indexed = {tuple(r[k] for k in key): r for r in records}
    assert len(indexed) == len(records), f"{table} is not unique on {key}"
    return indexed


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Full content of every built table, in stored order."""
    return {t: con.execute(f"SELECT * FROM {t}").fetchall() for t in BUILT_TABLES}


def _insert_fixture(con: duckdb.DuckDBPyConnection, reverse: bool = False) -> None:
    """Load the fixture into staging; `reverse` inserts every table's rows backwards."""

    def order(rows: list) -> list:
        return rows[::-1] if reverse else rows

    con.executemany(
        "INSERT INTO staging.school (school_code, school_name, city, uai, erasmus_code,"
        " time_member_since) VALUES (?, ?, ?, ?, ?, ?)",
        order(SCHOOLS),
    )
    con.executemany(
        "INSERT INTO staging.country (country_code, name_en, name_fr, is_eu_eea,"
        " eu_fee_regime, world_region) VALUES (?, ?, ?, ?, ?, ?)",
        order(COUNTRIES),
    )
    con.executemany(
        "INSERT INTO staging.tuition VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        order(
            [
                (f"L-{s}-tui-{y}", f"{s}/frais_{y}.csv", i, LOADED_AT, s, y, *rest)
                for i, (s, y, *rest) in enumerate(TUITION, start=1)
            ]
        ),
    )
    enrolment_rows = []
    for i, (s, y, student, code, name, level, *rest) in enumerate(ENROLMENT, start=1):
        lineage = (f"L-{s}-enr-{y}", f"{s}/inscriptions_{y}.csv", i, LOADED_AT)
        sex = "F" if i % 2 else "M"
        enrolment_rows.append((*lineage, s, y, f"key-{student}", code, name, level, 1, *rest, sex))
    con.executemany(
        f"INSERT INTO staging.enrolment VALUES ({', '.join(['?'] * 18)})", order(enrolment_rows)
    )
    con.executemany(
        f"INSERT INTO staging.faculty VALUES ({', '.join(['?'] * 14)})",
        order(
            [
                (f"L-{s}-fac-{y}", f"{s}/personnel_{y}.csv", i, LOADED_AT, s, y, f"key-{st}", *r)
                for i, (s, y, st, *r) in enumerate(FACULTY, start=1)
            ]
        ),
    )
    con.executemany(
        "INSERT INTO staging.mobility VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        order(
            [
                (f"L-{s}-mob-{y}", f"{s}/mobilite_{y}.csv", i, LOADED_AT, s, y, f"key-{st}", *rest)
                for i, (s, y, st, *rest) in enumerate(MOBILITY, start=1)
            ]
        ),
    )


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    path = fixture_database(tmp_path_factory.mktemp("warehouse"))
    connection = duckdb.connect(str(path), read_only=True)
    yield connection
    connection.close()


# --------------------------------------------------------------------------------------
# core
# --------------------------------------------------------------------------------------
def test_dim_programme_attributes(con):
    p = rows_by_key(con, "core.dim_programme", ("programme_id",))
    assert set(p) == {
        ("IMTA:MSC-DS",),
        ("IMTA:ING",),
        ("IMTA:NM-PHYS",),
        ("TP:MSC-AI",),
        ("TP:MSC-NET",),
    }
    ds = p[("IMTA:MSC-DS",)]
    # 2024 appears in both sources: the fee grid's name wins over "MSc in Data Science".
    assert ds["programme_name"] == "MSc Data Science"
    assert ds["teaching_language"] == "en"  # the 2024 tuition row; 2023 had none
    assert ds["is_international_track"] is True
    assert (ds["first_academic_year"], ds["last_academic_year"]) == (2023, 2024)
    # TP:MSC-AI 2024 fee rows carry no name: fall back to the most recent named row, the
    # 2024 enrolment ("MSc Artificial Intelligence"), not the older 2023 "MSc AI".
    ai = p[("TP:MSC-AI",)]
    assert ai["programme_name"] == "MSc Artificial Intelligence"
    assert ai["teaching_language"] is None
    assert ai["is_international_track"] is True  # level msc
    assert p[("IMTA:ING",)]["is_international_track"] is False  # engineering, taught in fr
    # national master, no tuition row at all: language unknown, not an international track
    phys = p[("IMTA:NM-PHYS",)]
    assert phys["teaching_language"] is None
    assert phys["is_international_track"] is False
    assert phys["programme_level"] == "national_master"


def test_facts_keep_every_staging_row_and_lineage(con):
    counts = con.execute(
        "SELECT (SELECT count(*) FROM core.fact_enrolment),"
        " (SELECT count(*) FROM core.fact_tuition_fee),"
        " (SELECT count(*) FROM core.fact_mobility)"
    ).fetchone()
    assert counts == (len(ENROLMENT), len(TUITION), len(MOBILITY))
    assert con.execute("SELECT count(*) FROM core.fact_faculty").fetchone() == (len(FACULTY),)
    populations = con.execute(
        "SELECT population, count(*) FROM core.fact_mobility GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert populations == [("staff", 3), ("student", 3)]
    lineage_nulls = con.execute(
        "SELECT count(*) FROM core.fact_enrolment"
        " WHERE load_id IS NULL OR source_file IS NULL OR loaded_at IS NULL"
    ).fetchone()[0]
    assert lineage_nulls == 0


def test_fact_mobility_duration(con):
    durations = con.execute(
        "SELECT start_date, duration_months FROM core.fact_mobility"
        " WHERE population = 'student' ORDER BY start_date, school_code"
    ).fetchall()
    assert durations == [
        (date(2024, 9, 1), Decimal("5.0")),  # IMTA: 152 days / 30.4375 = 4.99
        (date(2024, 9, 1), Decimal("21.9")),  # TP: 667 days / 30.4375 = 21.91
        (date(2025, 2, 1), Decimal("4.9")),  # IMTA: 149 days / 30.4375 = 4.90
    ]


# --------------------------------------------------------------------------------------
# marts.international_masters_pricing
# --------------------------------------------------------------------------------------
def test_pricing_rows(con):
    m = rows_by_key(con, "marts.international_masters_pricing", ("programme_id", "academic_year"))
    # IMTA:ING is engineering: not in the mart. TP:MSC-AI 2023 has fees but no enrolment,
    # IMTA:NM-PHYS 2024 enrolment but no fees: both are in.
    assert set(m) == {
        ("IMTA:MSC-DS", 2023),
        ("IMTA:MSC-DS", 2024),
        ("IMTA:NM-PHYS", 2024),
        ("TP:MSC-AI", 2023),
        ("TP:MSC-AI", 2024),
        ("TP:MSC-NET", 2024),
    }


def test_pricing_imta_msc_ds(con):
    m = rows_by_key(con, "marts.international_masters_pricing", ("programme_id", "academic_year"))
    y23 = m[("IMTA:MSC-DS", 2023)]
    # premium 8000 - 4500 = 3500; first year -> no change; msc 2023: TP 8500 > IMTA 8000
    assert y23["non_eu_premium_eur"] == Decimal("3500.00")
    assert y23["fee_non_eu_change_pct"] is None
    assert y23["non_eu_fee_rank"] == 2
    # enrolled s1 (CN, non_eu, new) and s2 (FR, eu, new): revenue 8000 + 4500 = 12500
    assert (y23["enrolled"], y23["enrolled_non_eu"], y23["new_entrants_non_eu"]) == (2, 1, 1)
    assert y23["expected_fee_revenue_eur"] == Decimal("12500.00")

    y24 = m[("IMTA:MSC-DS", 2024)]
    assert (y24["fee_eu_eur"], y24["fee_non_eu_eur"]) == (Decimal("4500.00"), Decimal("9000.00"))
    assert y24["non_eu_premium_eur"] == Decimal("4500.00")  # 9000 - 4500
    assert y24["fee_non_eu_change_pct"] == pytest.approx(12.5)  # 100 * (9000 - 8000) / 8000
    assert y24["non_eu_fee_rank"] == 1  # tied with TP:MSC-AI at 9000
    # enrolled s1 (continuing), s4, s5, s9 (non_eu) and s6 (eu) = 5; non_eu 4;
    # non-EU new entrants s4, s5, s9 = 3; revenue 4 * 9000 + 1 * 4500 = 40500
    assert (y24["enrolled"], y24["enrolled_non_eu"], y24["new_entrants_non_eu"]) == (5, 4, 3)
    assert y24["expected_fee_revenue_eur"] == Decimal("40500.00")
    assert y24["programme_name"] == "MSc Data Science"
    assert y24["programme_level"] == "msc"


def test_pricing_tp_and_edge_rows(con):
    m = rows_by_key(con, "marts.international_masters_pricing", ("programme_id", "academic_year"))
    ai23 = m[("TP:MSC-AI", 2023)]
    assert ai23["non_eu_fee_rank"] == 1  # 8500 > 8000
    assert ai23["non_eu_premium_eur"] == Decimal("4000.00")  # 8500 - 4500
    assert (ai23["enrolled"], ai23["expected_fee_revenue_eur"]) == (0, Decimal("0.00"))

    ai24 = m[("TP:MSC-AI", 2024)]
    # 100 * (9000 - 8500) / 8500 = 5.882352... (exact: the bi view rounds to 5.88)
    assert ai24["fee_non_eu_change_pct"] == pytest.approx(100 * 500 / 8500)
    assert ai24["non_eu_fee_rank"] == 1  # tie at 9000 with IMTA:MSC-DS
    assert ai24["fee_eu_eur"] is None and ai24["non_eu_premium_eur"] is None
    # t1 non_eu pays 9000; t2 and t3 are eu, and no eu fee exists: they contribute nothing.
    assert (ai24["enrolled"], ai24["enrolled_non_eu"], ai24["new_entrants_non_eu"]) == (3, 1, 1)
    assert ai24["expected_fee_revenue_eur"] == Decimal("9000.00")

    net = m[("TP:MSC-NET", 2024)]
    assert net["non_eu_fee_rank"] == 3  # RANK after the two-way tie for 1st skips 2
    assert net["non_eu_premium_eur"] == Decimal("2000.00")  # 6500 - 4500
    assert net["fee_non_eu_change_pct"] is None  # its first year

    phys = m[("IMTA:NM-PHYS", 2024)]
    assert phys["fee_non_eu_eur"] is None and phys["non_eu_fee_rank"] is None
    assert (phys["enrolled"], phys["enrolled_non_eu"], phys["new_entrants_non_eu"]) == (1, 1, 1)
    assert phys["expected_fee_revenue_eur"] == Decimal("0.00")  # no fee grid at all


# --------------------------------------------------------------------------------------
# marts.foreign_intake
# --------------------------------------------------------------------------------------
def test_foreign_intake(con):
    f = rows_by_key(
        con,
        "marts.foreign_intake",
        ("school_code", "academic_year", "programme_level", "nationality"),
    )
    # IMTA msc 2024 new entrants: s4 MA, s5 CN, s6 DE, s9 CN = 4 (s1 is continuing).
    cn = f[("IMTA", 2024, "msc", "CN")]
    assert (cn["new_entrants"], cn["international_mobility_entrants"]) == (2, 2)
    assert cn["share_of_new_entrants"] == 0.5  # 2 / 4
    assert cn["new_entrants_prev_year"] == 1  # s1 in 2023
    assert (cn["is_eu_eea"], cn["world_region"]) == (False, "Eastern Asia")
    ma = f[("IMTA", 2024, "msc", "MA")]
    # Moroccan with a French prior degree: a new entrant, NOT an international mobility one.
    assert (ma["new_entrants"], ma["international_mobility_entrants"]) == (1, 0)
    assert ma["share_of_new_entrants"] == 0.25  # 1 / 4
    assert ma["new_entrants_prev_year"] == 0  # 2023 had IMTA msc entrants, none Moroccan
    de = f[("IMTA", 2024, "msc", "DE")]
    assert (de["international_mobility_entrants"], de["new_entrants_prev_year"]) == (1, 0)
    assert de["is_eu_eea"] is True

    # IMTA msc 2023: s1 CN, s2 FR -> 1/2 each; no 2022 data at all -> NULL.
    fr23 = f[("IMTA", 2023, "msc", "FR")]
    assert fr23["share_of_new_entrants"] == 0.5
    assert fr23["international_mobility_entrants"] == 0
    assert fr23["new_entrants_prev_year"] is None
    # IMTA engineering 2024: s7 FR; 2023 had s3 FR -> 1.
    assert f[("IMTA", 2024, "engineering", "FR")]["new_entrants_prev_year"] == 1
    # IMTA national_master 2024: s8 IN, prior degree unknown -> not international mobility;
    # IMTA had new entrants in 2023 but none at this level -> NULL, not 0.
    inn = f[("IMTA", 2024, "national_master", "IN")]
    assert (inn["new_entrants"], inn["international_mobility_entrants"]) == (1, 0)
    assert inn["share_of_new_entrants"] == 1.0
    assert inn["new_entrants_prev_year"] is None
    # TP msc 2024: CN, CH, FR one each -> 1/3 (exact); TP had nothing in 2023 -> NULL.
    ch = f[("TP", 2024, "msc", "CH")]
    assert ch["share_of_new_entrants"] == pytest.approx(1 / 3)
    assert ch["international_mobility_entrants"] == 1
    assert ch["new_entrants_prev_year"] is None
    assert ch["is_eu_eea"] is False  # Switzerland is not EEA (though it pays the eu fee)
    assert len(f) == 11  # 2 + 1 (IMTA 2023) + 3 + 1 + 1 (IMTA 2024) + 3 (TP 2024)


# --------------------------------------------------------------------------------------
# marts.recruitment_routes and marts.mobility_flows
# --------------------------------------------------------------------------------------
def test_recruitment_routes(con):
    r = rows_by_key(
        con,
        "marts.recruitment_routes",
        ("school_code", "academic_year", "admission_route", "study_mode"),
    )
    # IMTA 2024 new entrants: s4 title, s5 intl, s6 double, s7 cpge/apprent., s8 intl, s9 intl
    intl = r[("IMTA", 2024, "international_application", "initial")]
    assert (intl["new_entrants"], intl["share_of_new_entrants"]) == (3, 0.5)  # 3 / 6
    cpge = r[("IMTA", 2024, "cpge_exam", "apprenticeship")]
    assert (cpge["new_entrants"], cpge["share_of_new_entrants"]) == (1, pytest.approx(1 / 6))
    # IMTA 2023: three routes, one entrant each (1/3); continuing s1 in 2024 not counted.
    assert r[("IMTA", 2023, "cpge_exam", "initial")]["share_of_new_entrants"] == pytest.approx(
        1 / 3
    )
    assert sum(v["new_entrants"] for k, v in r.items() if k[:2] == ("IMTA", 2024)) == 6
    assert sum(v["new_entrants"] for k, v in r.items() if k[:2] == ("TP", 2024)) == 3
    assert len(r) == 3 + 4 + 3


def test_mobility_flows(con):
    m = rows_by_key(
        con,
        "marts.mobility_flows",
        ("school_code", "academic_year", "direction", "scheme", "partner_country"),
    )
    de = m[("IMTA", 2024, "outgoing", "erasmus", "DE")]
    # two stays by the same student: 5.0 + 4.9 = 9.9 months; 9.9 / 2 = 4.95 (exact; bi: 5.0)
    assert (de["stays"], de["students"]) == (2, 1)
    assert de["total_months"] == Decimal("9.9")
    assert de["avg_duration_months"] == pytest.approx(4.95)
    cn = m[("TP", 2024, "incoming", "time_double_degree", "CN")]
    assert (cn["stays"], cn["students"], cn["total_months"], cn["avg_duration_months"]) == (
        1,
        1,
        Decimal("21.9"),
        pytest.approx(21.9),
    )
    # the staff stays (erasmus_staff_teaching to DE, invited_professorship from CN) are not here
    assert set(m) == {("IMTA", 2024, "outgoing", "erasmus", "DE"), ("TP", 2024, "incoming",
                      "time_double_degree", "CN")}  # fmt: skip


# --------------------------------------------------------------------------------------
# marts.international_faculty and marts.staff_mobility
# --------------------------------------------------------------------------------------
def test_international_faculty(con):
    f = rows_by_key(
        con, "marts.international_faculty", ("school_code", "academic_year", "category")
    )
    assert set(f) == {
        ("IMTA", 2024, "professor"),
        ("IMTA", 2024, "researcher"),
        ("IMTA", 2024, "postdoc"),
        ("TP", 2023, "visiting"),
    }
    prof = f[("IMTA", 2024, "professor")]
    # f1 (two departments) counts once, f2, f3: 3 people; fte 0.5 + 0.5 + 1.0 + 0.6 = 2.6
    assert (prof["headcount"], prof["fte"]) == (3, Decimal("2.600"))
    # foreign: f2 (DE) -> 1 / 3, exact
    assert prof["foreign_headcount"] == 1
    assert prof["foreign_share"] == pytest.approx(1 / 3)
    # new hires: f2, foreign; recruited from abroad: f2 (DE) and f3 (CA, a French national)
    assert (prof["new_hires"], prof["foreign_new_hires"], prof["recruited_from_abroad"]) == (
        1,
        1,
        2,
    )
    # f3 also counts among the researchers (appointments in two categories count in each)
    res = f[("IMTA", 2024, "researcher")]
    assert (res["headcount"], res["fte"], res["foreign_headcount"]) == (1, Decimal("0.400"), 0)
    assert (res["foreign_share"], res["recruited_from_abroad"]) == (0.0, 1)
    # f4: a foreign new hire from a position in France: not recruited from abroad
    post = f[("IMTA", 2024, "postdoc")]
    assert (post["headcount"], post["foreign_share"], post["new_hires"]) == (1, 1.0, 1)
    assert (post["foreign_new_hires"], post["recruited_from_abroad"]) == (1, 0)
    # v1: previous country unknown -> not recruited from abroad
    vis = f[("TP", 2023, "visiting")]
    assert (vis["headcount"], vis["fte"], vis["recruited_from_abroad"]) == (1, Decimal("0.250"), 0)


def test_staff_mobility(con):
    m = rows_by_key(
        con,
        "marts.staff_mobility",
        ("school_code", "academic_year", "direction", "scheme", "partner_country"),
    )
    assert set(m) == {
        ("IMTA", 2024, "outgoing", "erasmus_staff_teaching", "DE"),
        ("TP", 2024, "incoming", "invited_professorship", "CN"),
    }
    de = m[("IMTA", 2024, "outgoing", "erasmus_staff_teaching", "DE")]
    # two stays by f1: 0.1 + 0.4 = 0.5 months; 0.5 / 2 = 0.25 (exact)
    assert (de["stays"], de["staff"], de["total_months"]) == (2, 1, Decimal("0.5"))
    assert de["avg_duration_months"] == pytest.approx(0.25)
    cn = m[("TP", 2024, "incoming", "invited_professorship", "CN")]
    assert (cn["stays"], cn["staff"], cn["total_months"]) == (1, 1, Decimal("1.0"))


# --------------------------------------------------------------------------------------
# Types, comments, determinism
# --------------------------------------------------------------------------------------
def test_counts_are_bigint_and_money_decimal(con):
    types = {
        (t, c): d
        for t, c, d in con.execute(
            "SELECT schema_name || '.' || table_name, column_name, data_type FROM duckdb_columns()"
            " WHERE schema_name IN ('core', 'marts')"
        ).fetchall()
    }
    for table, column in [
        ("marts.international_masters_pricing", "enrolled"),
        ("marts.international_masters_pricing", "enrolled_non_eu"),
        ("marts.international_masters_pricing", "new_entrants_non_eu"),
        ("marts.international_masters_pricing", "non_eu_fee_rank"),
        ("marts.foreign_intake", "new_entrants"),
        ("marts.foreign_intake", "international_mobility_entrants"),
        ("marts.foreign_intake", "new_entrants_prev_year"),
        ("marts.recruitment_routes", "new_entrants"),
        ("marts.mobility_flows", "stays"),
        ("marts.mobility_flows", "students"),
        ("marts.international_faculty", "headcount"),
        ("marts.international_faculty", "foreign_headcount"),
        ("marts.international_faculty", "new_hires"),
        ("marts.international_faculty", "foreign_new_hires"),
        ("marts.international_faculty", "recruited_from_abroad"),
        ("marts.staff_mobility", "stays"),
        ("marts.staff_mobility", "staff"),
    ]:
        assert types[(table, column)] == "BIGINT", (table, column)
    assert types[("core.fact_tuition_fee", "annual_fee_eur")] == "DECIMAL(10,2)"
    assert types[("core.fact_mobility", "duration_months")] == "DECIMAL(5,1)"
    assert types[("core.dim_programme", "programme_id")] == "VARCHAR"
    assert (
        types[("marts.international_masters_pricing", "expected_fee_revenue_eur")]
        == "DECIMAL(14,2)"
    )
    assert types[("marts.foreign_intake", "share_of_new_entrants")] == "DOUBLE"
    assert types[("marts.international_faculty", "foreign_share")] == "DOUBLE"
    assert types[("core.fact_faculty", "fte")] == "DECIMAL(4,3)"


def test_every_table_and_column_has_a_comment(con):
    tables = con.execute(
        "SELECT schema_name || '.' || table_name, comment FROM duckdb_tables()"
        " WHERE schema_name IN ('core', 'marts', 'audit')"
    ).fetchall()
    names = {t for t, _ in tables}
    assert set(BUILT_TABLES) | {"audit.loads", "audit.quarantine"} <= names
    assert [t for t, c in tables if not (c or "").strip()] == []
    columns = con.execute(
        "SELECT schema_name || '.' || table_name || '.' || column_name, comment"
        " FROM duckdb_columns() WHERE schema_name IN ('core', 'marts', 'audit')"
    ).fetchall()
    assert len(columns) > 100
    assert [c for c, comment in columns if not (comment or "").strip()] == []


def test_running_twice_gives_identical_tables(con, tmp_path):
    path = fixture_database(tmp_path)
    build_warehouse_sql(path)  # the facts are incremental: nothing changed, nothing moves
    with duckdb.connect(str(path), read_only=True) as again:
        assert snapshot(again) == snapshot(con)
        # comments are still there after a rebuild
        assert again.execute(
            "SELECT count(*) FROM duckdb_columns()"
            " WHERE schema_name IN ('core', 'marts') AND coalesce(comment, '') = ''"
        ).fetchone() == (0,)


def test_a_build_from_staging_in_another_order_is_identical(con, tmp_path):
    # Every table ends with an ORDER BY on its key: the stored content does not depend on
    # the order in which staging rows arrived.
    path = fixture_database(tmp_path, reverse=True)
    with duckdb.connect(str(path), read_only=True) as other:
        assert snapshot(other) == snapshot(con)
