"""The BI surface: masked `bi` views and read-only clients. (Readers during a publish: one
build for all of them, in tests/test_concurrent_readers.py.)"""

from __future__ import annotations

import shutil
import subprocess
import sys

import duckdb
import pytest

from tests.conftest import Project

COUNTS = {
    "international_masters_pricing": ["enrolled", "enrolled_non_eu", "new_entrants_non_eu"],
    "foreign_intake": ["new_entrants", "international_mobility_entrants", "new_entrants_prev_year"],
    "recruitment_routes": ["new_entrants"],
    "mobility_flows": ["stays", "students"],
    "foreign_intake_by_region": ["new_entrants", "international_mobility_entrants"],
    "mobility_by_scheme": ["stays"],
    "national_comparison": ["students", "international_mobility_students", "engineering_students"],
    "international_faculty": ["headcount", "foreign_headcount", "recruited_from_abroad"],
    "staff_mobility_by_scheme": ["stays"],
}
#: Views that aggregate the mart of the same name (bi.international_faculty: all categories
#: of a school and year together; bi.staff_mobility_by_scheme: all schools), so not one bi row
#: per mart row.
AGGREGATES_ITS_MART = {"international_faculty", "staff_mobility_by_scheme"}
#: Rows of a view that the masking rule covers (national rows are the ministry's published
#: aggregates, shown as published; tests/test_national.py checks them).
SCOPE = {"national_comparison": "is_imt"}
#: Views whose sample rows may all be above 10 people (the sample's schools all have more
#: than 10 international students a year); tests/test_national.py masks crafted rows.
MAY_HAVE_NO_MASKED_ROW = {"national_comparison"}
#: Columns derived from the counts: masked with them.
DERIVED = {
    "international_masters_pricing": ["expected_fee_revenue_eur"],
    "foreign_intake": ["share_of_new_entrants"],
    "recruitment_routes": ["share_of_new_entrants"],
    "mobility_flows": ["total_months", "avg_duration_months"],
    "foreign_intake_by_region": [],
    "mobility_by_scheme": ["total_months"],
    "national_comparison": [
        "international_mobility_share",
        "engineering_share",
        "mobility_share_rank",
    ],
    "international_faculty": ["fte", "foreign_share"],
    "staff_mobility_by_scheme": ["total_months"],
}
#: Ratios the marts hold exact and the bi views round (decimals).
ROUNDED = {
    "share_of_new_entrants": 4,
    "international_mobility_share": 4,
    "engineering_share": 4,
    "avg_duration_months": 1,
}
#: Differences of two counts of one row that count people too.
IMPLIED = {
    "international_masters_pricing": [
        ("enrolled", "enrolled_non_eu"),
        ("enrolled_non_eu", "new_entrants_non_eu"),
    ],
    "foreign_intake": [("new_entrants", "international_mobility_entrants")],
    "foreign_intake_by_region": [("new_entrants", "international_mobility_entrants")],
    "national_comparison": [
        ("students", "international_mobility_students"),
        ("students", "engineering_students"),
    ],
    "international_faculty": [
        ("headcount", "foreign_headcount"),
        ("headcount", "recruited_from_abroad"),
    ],
}


def test_no_count_from_1_to_10_is_visible_in_bi(built: Project) -> None:
    with duckdb.connect(str(built.warehouse), read_only=True) as conn:
        for view, counts in COUNTS.items():
            scope = SCOPE.get(view, "true")
            total, masked = conn.execute(
                f"SELECT count(*), count(*) FILTER (masked) FROM bi.{view}"
            ).fetchone()
            assert total > 0, view
            assert masked > 0 or view in MAY_HAVE_NO_MASKED_ROW, view  # some rows masked
            if (
                view not in AGGREGATES_ITS_MART
                and (view,)
                in conn.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'"
                ).fetchall()
            ):
                marts = conn.execute(f"SELECT count(*) FROM marts.{view}").fetchone()[0]
                assert total == marts, view  # one bi row per mart row
            small = " OR ".join(f"{c} BETWEEN 1 AND 10" for c in counts)
            assert conn.execute(
                f"SELECT count(*) FROM bi.{view} WHERE ({small}) AND {scope}"
            ).fetchone() == (0,), view
            for a, b in IMPLIED.get(view, []):
                leaked = conn.execute(
                    f"SELECT count(*) FROM bi.{view} WHERE {a} - {b} BETWEEN 1 AND 10 AND {scope}"
                ).fetchone()[0]
                assert leaked == 0, (view, a, b)
            hidden = " AND ".join(f"{c} IS NULL" for c in counts + DERIVED[view])
            assert conn.execute(
                f"SELECT count(*) FROM bi.{view} WHERE masked AND NOT ({hidden})"
            ).fetchone() == (0,), view
            # unmasked rows show exactly the marts' figures
            key = {
                "international_masters_pricing": "programme_id, academic_year",
                "foreign_intake": "school_code, academic_year, programme_level, nationality",
                "recruitment_routes": "school_code, academic_year, admission_route, study_mode",
                "mobility_flows": "school_code, academic_year, direction, scheme, partner_country",
                "national_comparison": "is_imt, school_code, paysage_id, academic_year",
            }.get(view)
            if key is None:  # an aggregated view: no mart of its own to compare with
                continue
            # (the marts' exact ratios, as the bi views round them for reading)
            columns = ", ".join(
                f"round({c}, {ROUNDED[c]})" if c in ROUNDED else c for c in counts + DERIVED[view]
            )
            differ = conn.execute(
                f"SELECT count(*) FROM (SELECT {key}, {columns} FROM bi.{view} WHERE NOT masked "
                f"EXCEPT SELECT {key}, {columns} FROM marts.{view})"
            ).fetchone()[0]
            assert differ == 0, view


def test_bi_views_and_columns_are_commented(built: Project) -> None:
    with duckdb.connect(str(built.warehouse), read_only=True) as conn:
        views = dict(
            conn.execute(
                "SELECT view_name, comment FROM duckdb_views() WHERE schema_name = 'bi'"
            ).fetchall()
        )
        assert set(views) == set(COUNTS) and all(views.values())
        bare = conn.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'bi' "
            "AND (comment IS NULL OR comment = '')"
        ).fetchall()
        assert bare == []


def test_duckdb_cli_reads_bi_read_only(built: Project) -> None:
    cli = shutil.which("duckdb", path=str(__import__("pathlib").Path(sys.executable).parent))
    if cli is None:
        pytest.skip("the duckdb CLI (PyPI duckdb-cli, a dev dependency) is not installed")
    result = subprocess.run(
        [cli, "-readonly", "-csv", str(built.warehouse), "-c",
         "SELECT view_name, comment FROM duckdb_views() WHERE schema_name = 'bi' "
         "ORDER BY 1; SELECT count(*) FROM bi.foreign_intake;"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert 'foreign_intake,"New entrants by school' in result.stdout
    assert 'international_masters_pricing,"Pricing of the international' in result.stdout
    write = subprocess.run(
        [cli, "-readonly", str(built.warehouse), "-c", "CREATE TABLE bi.x AS SELECT 1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert write.returncode != 0 and "read-only" in (write.stderr + write.stdout).lower()


def test_sqlalchemy_reads_bi_read_only(built: Project) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    pytest.importorskip("duckdb_engine")
    engine = sqlalchemy.create_engine(f"duckdb:///{built.warehouse}?access_mode=read_only")
    try:
        inspector = sqlalchemy.inspect(engine)
        assert set(COUNTS) <= set(inspector.get_view_names(schema="bi"))
        with engine.connect() as conn:
            comments = dict(
                conn.execute(
                    sqlalchemy.text(
                        "SELECT view_name, comment FROM duckdb_views() WHERE schema_name = 'bi'"
                    )
                ).fetchall()
            )
            assert comments["mobility_flows"].startswith("Mobility stays")
            rows = conn.execute(
                sqlalchemy.text("SELECT count(*) FROM bi.recruitment_routes WHERE NOT masked")
            ).scalar()
            assert rows > 0
    finally:
        engine.dispose()


def test_data_dictionary_lists_every_public_column(built: Project, tmp_path) -> None:
    out = tmp_path / "dictionary.md"
    result = built.imtetl("docs", "--out", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    with duckdb.connect(str(built.warehouse), read_only=True) as conn:
        columns = conn.execute(
            "SELECT schema_name, table_name, column_name, comment FROM duckdb_columns() "
            "WHERE schema_name IN ('core', 'marts', 'bi', 'audit')"
        ).fetchall()
    for schema, table, column, comment in columns:
        assert f"### `{schema}.{table}`" in text
        assert f"| `{column}` |" in text and comment.replace("|", "\\|") in text
