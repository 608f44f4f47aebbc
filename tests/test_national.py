"""The ministry's national open data beside IMT: the Opendatasoft source, its cache and
audit, marts.national_comparison, and what an unreachable portal does.

The exports are served by a real HTTP server on 127.0.0.1 at the export API's own paths.
With the shared reference data (``../shared/data/reference/``, as in CI) they are the real
exports, read where they are; without it (a fresh clone) the same tests run on small exports
the tests write in both header styles, and the tests that need the real files say they were
skipped and why. Pipeline runs reuse the `built` warehouse: a copy of it is refreshed in
process (the `refresh_national` job), never rebuilt from the schools."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from imtetl.definitions import defs
from imtetl.load import dbt
from imtetl.load.build_db import staging_ddl
from imtetl.load.national import (
    ENROLMENT_STATISTICS,
    INSTITUTIONS,
    NATIONAL_DATASETS,
    normalise,
    parse_export,
    refresh,
)
from imtetl.load.reference import school_identifiers, write_schools
from imtetl.pipeline_config import ConfigError, load_pipelines
from imtetl.read.opendatasoft import PortalUnavailable, download, export_url
from imtetl.settings import DEFAULT_ODS_BASE_URL, Settings
from tests.conftest import ROOT, SHARED, Project, compiled_model
from tests.ods_server import closed_port_url, serve_exports, silent_portal

REFERENCE = SHARED / "data" / "reference"
REAL = {
    INSTITUTIONS.dataset_id: REFERENCE / "mesr_principaux_etablissements_2024-01_labels.csv",
    ENROLMENT_STATISTICS.dataset_id: REFERENCE / "mesr_effectifs_par_etablissement_hcp_ecoles.csv",
}
REAL_FIELD_NAMES = REFERENCE / "mesr_principaux_etablissements_fieldnames.csv"
HAVE_REAL = all(path.is_file() for path in (*REAL.values(), REAL_FIELD_NAMES))
NO_REAL = (
    f"the real MESR exports are not in {REFERENCE} (a fresh clone has no ../shared): the "
    "same tests ran on the small exports the tests write"
)
needs_real = pytest.mark.skipif(not HAVE_REAL, reason=NO_REAL)
IMT_SCHOOLS = {"ALBI", "ALES", "IMTA", "IMTBS", "IMTNE", "MSE", "TP", "TSP"}

# --- small exports written by the tests, in either header style ------------------------------

#: label header -> API field name, for the columns the warehouse reads (and a few it does not)
REGISTER_HEADERS = {
    "identifiant interne": "etablissement_id_paysage", "libellé": "uo_lib",
    "nom court": "nom_court", "sigle": "sigle", "type d'établissement": "type_d_etablissement",
    "secteur d'établissement": "secteur_d_etablissement", "uai - identifiant": "uai",
    "anciens codes uai": "anciens_codes_uai", "siren": "siren", "Commune": "com_nom",
    "site internet": "url",
}  # fmt: skip
REGISTER_ROWS = [
    ["P0001", "École d'ingénieurs Alpha", "Alpha", "EIA", "École", "public", "0000001A",
     "0000009Z", "190000001", "Lyon", "https://alpha.example"],
    ["P0002", "Institut Beta", "", "", "Grand établissement", "public", "0000002B;0000003C",
     "", "190000002", "Paris", ""],
    ["P0003", "Université Gamma", "", "", "Université", "public", "0000004D", "", "", "Lille",
     ""],
    ["6Th4v", "Institut Mines-Télécom", "IMT", "IMT", "Grand établissement", "public",
     "0912424R;0755661W", "", "180092025", "Palaiseau", ""],
]  # fmt: skip
STATISTICS_HEADERS = {
    "Attention": "attention", "Année universitaire": "annee_universitaire",
    "Type d'établissement": "etablissement_type",
    "Identifiant interne de l'établissement": "etablissement_id_paysage",
    "Établissement": "etablissement_lib", "Identifiant(s) UAI": "etablissement_id_uai",
    "Nombre d'étudiants inscrits (inscriptions principales) hors doubles inscriptions CPGE":
        "effectif_sans_cpge",
    "Etudiants en mobilité internationale": "mobilite_internationale",
    "Diplôme préparé : Formations d'ingénieurs": "diplome_ingenieur",
    "Sexe : Femmes": "femmes",
    "etablissement_id_paysage_actuel": "etablissement_id_paysage_actuel",
    "Dernier établissement": "etablissement_actuel_lib",
}  # fmt: skip
PLAIN = "Sans double compte des établissements-composantes pour les EPE"
DOUBLE = "* Attention : doubles comptes, établissement-composante"
STATISTICS_ROWS = [
    # Alpha: known to the register by a former UAI; comparable both years
    [PLAIN, "2021-22", "École", "P0001", "École d'ingénieurs Alpha", "0000009Z", "1000", "150",
     "800", "300", "P0001", "École d'ingénieurs Alpha"],
    [PLAIN, "2022-23", "École", "P0001", "École d'ingénieurs Alpha", "0000009Z", "1100", "200",
     "850", "320", "P0001", "École d'ingénieurs Alpha"],
    # Beta: no engineering students in 2021 (not comparable), some in 2022
    [PLAIN, "2021-22", "Grand établissement", "P0002", "Institut Beta", "0000002B,0000003C",
     "5000", "600", "", "2500", "P0002", "Institut Beta"],
    [PLAIN, "2022-23", "Grand établissement", "P0002", "Institut Beta", "0000002B,0000003C",
     "5200", "650", "100", "2600", "P0002", "Institut Beta"],
    # a university with engineers: not comparable (type)
    [PLAIN, "2022-23", "Université", "P0003", "Université Gamma", "0000004D", "30000", "3000",
     "300", "16000", "P0003", "Université Gamma"],
    # a component school of an EPE, not in the register, double-counted in its parent
    [DOUBLE, "2022-23", "École", "P0005", "École Delta *", "0000005E", "400", "40", "400", "90",
     "P0005", "École Delta"],
    # an IMT school listed under its UAI: shown once, as the IMT row
    [PLAIN, "2022-23", "École", "P0006", "École des mines d'Albi", "0811200P", "900", "90",
     "700", "250", "P0006", "École des mines d'Albi"],
    # mobility not published: comparable, no share, no rank
    [PLAIN, "2022-23", "École", "P0007", "École Epsilon", "0000007G", "600", "", "600", "150",
     "P0007", "École Epsilon"],
    # bad rows: quarantined with their reason
    [PLAIN, "20xx", "École", "P0008", "École Zeta", "0000008H", "500", "50", "500", "100",
     "P0008", "École Zeta"],
    [PLAIN, "2022-23", "École", "P0009", "École Eta", "0000010J", "-5", "1", "1", "1",
     "P0009", "École Eta"],
]  # fmt: skip


def write_export(path: Path, headers: dict[str, str], rows: list[list[str]], style: str) -> Path:
    """A `;`-separated export as the portal writes it: UTF-8 with a BOM, CRLF line ends."""
    names = list(headers) if style == "labels" else list(headers.values())
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(names)
        writer.writerows(rows)
    return path


def written_exports(folder: Path, style: str) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {
        INSTITUTIONS.dataset_id: write_export(
            folder / "register.csv", REGISTER_HEADERS, REGISTER_ROWS, style
        ),
        ENROLMENT_STATISTICS.dataset_id: write_export(
            folder / "statistics.csv", STATISTICS_HEADERS, STATISTICS_ROWS, style
        ),
    }


# --- expectations computed from the served files with the csv module alone ------------------


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def _int(text: str | None) -> int | None:
    return int(text) if text not in (None, "") else None


def file_figures(path: Path) -> dict[tuple[str, int], dict]:
    """(paysage id, start year) -> the statistics' figures, straight from the file."""
    figures = {}
    for row in _read(path):
        year = row["Année universitaire"][:4]
        if not year.isdigit():
            continue
        figures[(row["Identifiant interne de l'établissement"], int(year))] = {
            "type": row["Type d'établissement"],
            "uai": row["Identifiant(s) UAI"].split(",")[0],
            "students": _int(row[next(h for h in row if h.startswith("Nombre d'étudiants"))]),
            "mobility": _int(row["Etudiants en mobilité internationale"]),
            "engineering": _int(row["Diplôme préparé : Formations d'ingénieurs"]) or 0,
            "uais": set(row["Identifiant(s) UAI"].split(",")),
        }
    return figures


@dataclass
class Served:
    """The exports a test portal serves, and what the tests expect of them."""

    kind: str  # "real" or "written"
    exports: dict[str, Path]
    named: list[tuple[str, int]]  # (paysage id, year) rows checked one by one


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    if HAVE_REAL:
        named = [("fWJJA", 2022), ("fWJJA", 2021), ("8k41p", 2022), ("m84Aa", 2022),
                 ("gCAyK", 2022), ("dPmxa", 2020)]  # fmt: skip
        return Served("real", dict(REAL), named)
    exports = written_exports(tmp_path_factory.mktemp("exports"), "labels")
    return Served("written", exports, [("P0001", 2021), ("P0001", 2022), ("P0005", 2022)])


# --- running the national jobs on a copy of the built warehouse -----------------------------


def copy_project(source: Project, base: Path) -> Project:
    """A copy of a project's home (warehouse, build database, cache); same landing zone."""
    home = base / "home"
    shutil.copytree(source.home, home, symlinks=True)
    return replace(
        source,
        home=home,
        warehouse=home / "warehouse" / "imt.duckdb",
        pipelines=home / "pipelines",
    )


def run_job(project: Project, job: str, **env: str) -> dg.ExecuteInProcessResult:
    """Run a job of the real definitions in process, with the project's environment."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in project.env(**env).items():
            if name.startswith("IMTETL_"):
                patch.setenv(name, value)
        with dg.instance_for_test() as instance:
            return defs.resolve_job_def(job).execute_in_process(
                instance=instance, raise_on_error=False
            )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Refreshed:
    project: Project
    result: dg.ExecuteInProcessResult
    served: Served
    requests: list[str]


@pytest.fixture(scope="module")
def refreshed(
    built: Project, served: Served, tmp_path_factory: pytest.TempPathFactory
) -> Refreshed:
    """The built warehouse, refreshed with the national exports from a portal on 127.0.0.1."""
    project = copy_project(built, tmp_path_factory.mktemp("national"))
    with serve_exports(served.exports) as (url, requests):
        result = run_job(project, "refresh_national", IMTETL_ODS_BASE_URL=url)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return Refreshed(project, result, served, requests)


def _connect(project: Project) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(project.warehouse), read_only=True)


def _mesr_loads(conn: duckdb.DuckDBPyConnection) -> int:
    return conn.execute("SELECT count(*) FROM audit.loads WHERE school_code = 'MESR'").fetchone()[0]


# --- the offline build ----------------------------------------------------------------------


def test_offline_build_skips_the_national_assets_and_publishes_the_rest(built: Project) -> None:
    output = built.build_output
    assert "skipped national/institutions, national/enrolment_statistics:" in output
    assert "did not answer: " in output and "connection refused" in output
    assert "no cached copy" in output
    assert "published: " in output  # and `imtetl build` exited 0 (the fixture checks it)
    assert "✗" not in output  # no failed step on the way: the national run reports in one line
    with _connect(built) as conn:
        rows = conn.execute(
            "SELECT is_imt, count(*), count(DISTINCT school_code) FROM marts.national_comparison "
            "GROUP BY 1"
        ).fetchall()
        assert rows == [(True, 8 * 5, 8)]  # IMT rows only, each school and year
        assert _mesr_loads(conn) == 0


def test_the_portal_is_called_monthly_and_never_by_the_school_builds() -> None:
    schedule = defs.resolve_schedule_def("monthly_national_refresh")
    assert (schedule.job_name, schedule.cron_schedule) == ("refresh_national", "0 6 1 * *")
    graph = defs.resolve_asset_graph()
    national = {dg.AssetKey(["national", key]) for key in NATIONAL_DATASETS}

    def selected(job: str) -> set[dg.AssetKey]:
        return set(defs.resolve_job_def(job).asset_layer.selected_asset_keys)

    assert selected("refresh_national") == national | {
        dg.AssetKey(["marts", "national_comparison"]), dg.AssetKey(["published_warehouse"]),
    }  # fmt: skip
    assert selected("load_national") == national
    for job in ("build_warehouse", "publish_warehouse", "load_schools"):
        assert not selected(job) & national, job
    upstream = set(graph.upstream_key_iterator(dg.AssetKey(["marts", "national_comparison"])))
    assert national | {dg.AssetKey(["core", "fact_enrolment"])} <= upstream


def test_default_portal_fails_fast_without_internet(tmp_path: Path) -> None:
    """The real portal, as `imtetl build` reaches it by default: here (no network but
    package registries) its name does not resolve, and the fetch gives up at once."""
    url = export_url(DEFAULT_ODS_BASE_URL, INSTITUTIONS.dataset_id)
    try:
        download(url, tmp_path / "x.csv", connect_timeout=3, read_timeout=10)
    except PortalUnavailable as exc:
        assert "DNS lookup" in str(exc) or "no answer" in str(exc) or "refused" in str(exc)
    else:
        pytest.skip("this machine reaches the ministry's portal: nothing to show offline")


def test_a_silent_portal_times_out(tmp_path: Path) -> None:
    with silent_portal() as url, pytest.raises(PortalUnavailable, match="no answer in time"):
        download(export_url(url, "x"), tmp_path / "x.csv", connect_timeout=1, read_timeout=0.5)


# --- the refreshed warehouse: figures against the ministry's file ---------------------------


def test_the_marts_figures_equal_the_ministrys_file(refreshed: Refreshed) -> None:
    served = refreshed.served
    figures = file_figures(served.exports[ENROLMENT_STATISTICS.dataset_id])
    with _connect(refreshed.project) as conn:
        for paysage_id, year in served.named:
            expected = figures[(paysage_id, year)]
            row = conn.execute(
                "SELECT students, international_mobility_students, international_mobility_share,"
                " engineering_students, uai FROM marts.national_comparison "
                "WHERE paysage_id = ? AND academic_year = ?",
                [paysage_id, year],
            ).fetchone()
            assert row is not None, (paysage_id, year)
            students, mobility, share, engineering, uai = row
            assert (students, mobility, engineering) == (
                expected["students"], expected["mobility"], expected["engineering"]
            ), (paysage_id, year)  # fmt: skip
            assert share == pytest.approx(expected["mobility"] / expected["students"])  # exact
            assert uai is not None


@needs_real
def test_named_schools_in_the_real_statistics(refreshed: Refreshed) -> None:
    """Values read off the ministry's file by hand (2022 = 2022-23)."""
    with _connect(refreshed.project) as conn:
        rows = {
            (r[0], r[1]): r[2:]
            for r in conn.execute(
                "SELECT name, academic_year, uai, students, international_mobility_students, "
                "international_mobility_share, in_register, is_epe_component "
                "FROM marts.national_comparison WHERE NOT is_imt"
            ).fetchall()
        }
    assert rows[("Centrale Lyon", 2022)] == (
        "0690187D", 2920, 450, pytest.approx(450 / 2920), True, False,
    )  # fmt: skip
    assert rows[("Institut national des sciences appliquées de Lyon", 2022)][:3] == (
        "0690192J", 6067, 1487,
    )  # fmt: skip
    assert rows[("CentraleSupélec", 2022)] == (
        "0912341A", 4057, 780, pytest.approx(780 / 4057), False, True,
    )  # fmt: skip
    assert rows[("Centrale Nantes", 2022)][1:3] == (2287, 787)
    # 2006-07 to 2022-23: 17 years, 49 schools, 34 of them comparable in 2022-23
    with _connect(refreshed.project) as conn:
        assert conn.execute(
            "SELECT count(DISTINCT paysage_id), count(DISTINCT academic_year), "
            "count(*) FILTER (academic_year = 2022) FROM marts.national_comparison "
            "WHERE NOT is_imt"
        ).fetchone() == (49, 17, 34)


def test_comparable_schools_are_exactly_the_definition(refreshed: Refreshed) -> None:
    """École or Grand établissement, with engineering students, not an IMT school."""
    figures = file_figures(refreshed.served.exports[ENROLMENT_STATISTICS.dataset_id])
    with _connect(refreshed.project) as conn:
        imt_uais = {u for (u,) in conn.execute("SELECT uai FROM core.dim_school").fetchall()}
        expected = {
            key
            for key, f in figures.items()
            if f["type"] in ("École", "Grand établissement")
            and f["engineering"] > 0
            and (f["students"] or 0) > 0
            and not (f["uais"] & imt_uais)
        }
        got = set(
            conn.execute(
                "SELECT paysage_id, academic_year FROM marts.national_comparison WHERE NOT is_imt"
            ).fetchall()
        )
        assert got == expected and got
        # the IMT rows: every school and year of the warehouse, beside them
        imt = conn.execute(
            "SELECT DISTINCT school_code FROM marts.national_comparison WHERE is_imt"
        ).fetchall()
        assert {s for (s,) in imt} == IMT_SCHOOLS
        # ranks: 1..n within each year over every row with a share, IMT rows included
        for year, ranks, ranked in conn.execute(
            "SELECT academic_year, list(mobility_share_rank ORDER BY mobility_share_rank), "
            "any_value(ranked_in_year) FROM marts.national_comparison "
            "WHERE mobility_share_rank IS NOT NULL GROUP BY 1"
        ).fetchall():
            assert ranks[0] == 1 and len(ranks) == ranked, year
            assert ranks == sorted(ranks), year
        both = conn.execute(
            "SELECT count(*) FROM marts.national_comparison WHERE is_imt "
            "AND national_schools_in_year > 0"
        ).fetchone()[0]
        assert both > 0  # at least one year where IMT ranks among the national schools


def test_written_exports_edge_cases(
    built: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The written exports' corner cases, whatever the portal of the other tests serves:
    loaded by load.national into a copy of the built database, then the mart's SQL."""
    build_db = tmp_path / "warehouse" / ".build" / "build.duckdb"
    build_db.parent.mkdir(parents=True)
    shutil.copy(built.warehouse.parent / ".build" / "build.duckdb", build_db)
    settings = Settings(
        home=tmp_path, landing=built.landing, warehouse=tmp_path / "warehouse" / "imt.duckdb",
        pipelines=built.pipelines, sql=ROOT / "sql", years=(2021, 2022),
    )  # fmt: skip
    exports = written_exports(tmp_path / "exports", "field names")
    with serve_exports(exports) as (url, _):
        monkeypatch.setenv("IMTETL_ODS_BASE_URL", url)
        with duckdb.connect(str(build_db)) as conn:
            loads = [refresh(conn, settings, dataset) for dataset in NATIONAL_DATASETS.values()]
        assert [load.header_style for load in loads] == ["field names", "field names"]
        assert dbt.invoke(settings, ["run", "--select", "national_comparison"]).success
        conn = duckdb.connect(str(build_db))
        rows = {
            (r[0], r[1]): r[2:]
            for r in conn.execute(
                "SELECT paysage_id, academic_year, uai, in_register, counted_in_parent, "
                "is_epe_component, international_mobility_share, mobility_share_rank, name "
                "FROM marts.national_comparison WHERE NOT is_imt"
            ).fetchall()
        }
        reasons = conn.execute(
            'SELECT row_number, "column", reason FROM audit.quarantine '
            "WHERE school_code = 'MESR' ORDER BY row_number"
        ).fetchall()
        rerun = refresh(conn, settings, ENROLMENT_STATISTICS)  # same bytes: nothing rewritten
        conn.close()
    assert rows[("P0001", 2022)][:2] == ("0000001A", True)  # linked by a former UAI
    assert ("P0002", 2021) not in rows and ("P0002", 2022) in rows
    assert ("P0003", 2022) not in rows  # a university
    assert ("P0006", 2022) not in rows  # IMT Mines Albi's UAI: the IMT row stands for it
    assert rows[("P0005", 2022)][:4] == ("0000005E", False, True, True)
    assert rows[("P0005", 2022)][6] == "École Delta"  # without the ministry's *
    assert rows[("P0007", 2022)][4:6] == (None, None)  # no mobility figure, no rank
    assert rows[("P0001", 2021)][4] == 0.15
    assert reasons == [
        (9, "academic_year", "academic_year: not an academic year '20xx'"),
        (10, "students", "students: not a count of students '-5'"),
    ]
    assert rerun.unchanged and rerun.load_id == loads[1].load_id


def test_downloads_are_cached_and_audited_with_their_sha256(refreshed: Refreshed) -> None:
    project, served = refreshed.project, refreshed.served
    assert len(refreshed.requests) == 2
    assert all("delimiter=%3B" in r and "use_labels=true" in r for r in refreshed.requests)
    cache = project.home / "data" / "reference_cache"
    with _connect(project) as conn:
        loads = conn.execute(
            "SELECT dataset, source_file, sha256, rows_read, rows_loaded, rows_quarantined, "
            "status, is_current FROM audit.loads WHERE school_code = 'MESR' ORDER BY dataset"
        ).fetchall()
    assert [row[0] for row in loads] == [
        "national_enrolment_statistics", "national_institutions",
    ]  # fmt: skip
    for dataset, url, sha, read, loaded, quarantined, status, current in loads:
        spec = NATIONAL_DATASETS[dataset.removeprefix("national_")]
        source = served.exports[spec.dataset_id]
        assert sha == _sha256(source)  # the bytes the portal sent
        path = f"/datasets/{spec.dataset_id}/exports/csv?delimiter=%3B&use_labels=true"
        assert url.endswith(path)
        assert read == len(_read(source)) == loaded + quarantined
        assert (status, current) == ("loaded", True)
        cached = cache / f"{spec.dataset_id}.csv"
        assert cached.read_bytes() == source.read_bytes()
        meta = json.loads((cache / f"{spec.dataset_id}.json").read_text(encoding="utf-8"))
        assert meta["sha256"] == sha and meta["url"] == url and meta["header_style"] == "labels"


def test_bi_view_shows_national_rows_as_published(refreshed: Refreshed) -> None:
    """National rows are shown as the ministry published them, unless a count is 1 to 10."""
    with _connect(refreshed.project) as conn:
        small = conn.execute(
            "SELECT count(*) FROM marts.national_comparison WHERE NOT is_imt AND ("
            "international_mobility_students BETWEEN 1 AND 10 OR students BETWEEN 1 AND 10 "
            "OR engineering_students BETWEEN 1 AND 10 "
            "OR students - international_mobility_students BETWEEN 1 AND 10 "
            "OR students - engineering_students BETWEEN 1 AND 10)"
        ).fetchone()[0]
        assert conn.execute(
            "SELECT count(*) FROM bi.national_comparison WHERE NOT is_imt AND masked"
        ).fetchone() == (small,)
        differ = conn.execute(
            "SELECT count(*) FROM (SELECT paysage_id, academic_year, students, "
            "international_mobility_students, mobility_share_rank FROM bi.national_comparison "
            "WHERE NOT is_imt AND NOT masked EXCEPT SELECT paysage_id, academic_year, students, "
            "international_mobility_students, mobility_share_rank FROM marts.national_comparison "
            "WHERE NOT is_imt)"
        ).fetchone()[0]
        assert differ == 0


def test_bi_view_masks_small_counts(tmp_path: Path) -> None:
    """The view itself, in DuckDB, over crafted mart rows at the edges of the rule."""
    conn = duckdb.connect(str(tmp_path / "crafted.duckdb"))
    conn.execute(
        "CREATE SCHEMA marts; CREATE SCHEMA bi; CREATE TABLE marts.national_comparison AS "
        "SELECT * FROM (VALUES "
        "(2022, true, 'A', 300, 10, 200), (2022, true, 'B', 300, 11, 200),"
        "(2022, true, 'C', 300, 30, 295), (2022, true, 'D', 20, 15, 0),"
        "(2022, false, NULL, 300, 5, 200), (2022, false, NULL, 400, 50, 200)) "
        "AS t(academic_year, is_imt, school_code, students, "
        "international_mobility_students, engineering_students)"
    )
    conn.execute(
        "ALTER TABLE marts.national_comparison ADD COLUMN uai VARCHAR;"
        "ALTER TABLE marts.national_comparison ADD COLUMN paysage_id VARCHAR;"
        "ALTER TABLE marts.national_comparison ADD COLUMN name VARCHAR;"
        "ALTER TABLE marts.national_comparison ADD COLUMN establishment_type VARCHAR;"
        "ALTER TABLE marts.national_comparison ADD COLUMN international_mobility_share DOUBLE "
        "DEFAULT 0.1; ALTER TABLE marts.national_comparison ADD COLUMN engineering_share DOUBLE "
        "DEFAULT 0.5; ALTER TABLE marts.national_comparison ADD COLUMN mobility_share_rank "
        "INTEGER DEFAULT 1; ALTER TABLE marts.national_comparison ADD COLUMN ranked_in_year "
        "INTEGER DEFAULT 5; ALTER TABLE marts.national_comparison ADD COLUMN "
        "national_schools_in_year INTEGER DEFAULT 1; ALTER TABLE marts.national_comparison ADD "
        "COLUMN counted_in_parent BOOLEAN DEFAULT false; ALTER TABLE marts.national_comparison "
        "ADD COLUMN is_epe_component BOOLEAN DEFAULT false; ALTER TABLE "
        "marts.national_comparison ADD COLUMN source VARCHAR DEFAULT 'x';"
    )
    conn.execute("CREATE SCHEMA IF NOT EXISTS bi")
    conn.execute(
        "CREATE VIEW bi.national_comparison AS "
        + compiled_model("bi_national_comparison", tmp_path)
    )
    rows = conn.execute(
        "SELECT coalesce(school_code, 'national'), masked, students, "
        "international_mobility_share, mobility_share_rank FROM bi.national_comparison "
        "ORDER BY 1, 3"
    ).fetchall()
    assert rows == [
        ("A", True, None, None, None),  # 10 international students
        ("B", False, 300, 0.1, 1),
        ("C", True, None, None, None),  # 300 - 295 = 5 students not in engineering
        ("D", True, None, None, None),  # 20 - 15 = 5 students not in mobility
        ("national", False, 400, 0.1, 1),  # the ministry's own figures, as published
        ("national", True, None, None, None),  # ... unless a count is 1 to 10, as everywhere
    ]


def test_the_refreshed_warehouse_still_meets_the_contract(refreshed: Refreshed) -> None:
    tool = SHARED / "tools" / "check_warehouse.py"
    if not tool.is_file():
        pytest.skip(f"no contract checker at {tool}")
    result = subprocess.run(
        [sys.executable, str(tool), str(refreshed.project.warehouse)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0 and "contract holds" in result.stdout, result.stdout
    with _connect(refreshed.project) as conn:
        bare = conn.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE table_name = "
            "'national_comparison' AND coalesce(comment, '') = ''"
        ).fetchall()
    assert bare == []


# --- the portal down -------------------------------------------------------------------------


def _failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        e.step_failure_data.user_failure_data.description
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.STEP_FAILURE
    ]


@pytest.mark.parametrize("portal", ["unreachable", "HTTP 503", "not the CSV"])
def test_a_failing_portal_leaves_the_published_warehouse_unchanged(
    built: Project, served: Served, tmp_path: Path, portal: str
) -> None:
    project = copy_project(built, tmp_path)  # no cached copy
    before = _sha256(project.warehouse), project.warehouse.stat().st_mtime_ns
    if portal == "unreachable":
        result = run_job(project, "refresh_national", IMTETL_ODS_BASE_URL=closed_port_url())
    else:
        options = {"fail_with": 503} if portal == "HTTP 503" else {"body": b"<!DOCTYPE html>"}
        with serve_exports(served.exports, **options) as (url, _):
            result = run_job(project, "refresh_national", IMTETL_ODS_BASE_URL=url)
    assert not result.success
    (message,) = _failure_messages(result)  # one step failed, with one message
    assert "national/institutions" in message and "nothing was written" in message
    expected = {
        "unreachable": "did not answer: connection refused; no cached copy in",
        "HTTP 503": "did not answer: HTTP 503",
        "not the CSV": "required column(s) missing: 'identifiant interne'",
    }[portal]
    assert expected in message
    started = {
        e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START
    }
    assert started == {"national_reference"}  # the mart and the publish never ran
    assert (_sha256(project.warehouse), project.warehouse.stat().st_mtime_ns) == before
    build_db = project.warehouse.parent / ".build" / "build.duckdb"
    with duckdb.connect(str(build_db), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM staging.national_enrolment").fetchone() == (0,)
        assert _mesr_loads(conn) == 0
    assert not any((project.home / "data" / "reference_cache").glob("*.csv"))  # nothing bad kept


def test_the_cached_copy_stands_in_when_the_portal_is_down(
    refreshed: Refreshed, tmp_path: Path
) -> None:
    project = copy_project(refreshed.project, tmp_path)
    build_db = project.warehouse.parent / ".build" / "build.duckdb"
    with duckdb.connect(str(build_db)) as conn:  # as after a lost build database
        conn.execute("DELETE FROM staging.national_enrolment")
        conn.execute("DELETE FROM audit.loads WHERE school_code = 'MESR'")
    result = run_job(project, "refresh_national", IMTETL_ODS_BASE_URL=closed_port_url())
    assert result.success
    notes = {
        m.asset_key.to_user_string(): m.metadata["note"].value
        for m in result.asset_materializations_for_node("national_reference")
    }
    assert set(notes) == {"national/institutions", "national/enrolment_statistics"}
    for note in notes.values():
        assert note.startswith("portal unreachable (connection refused): used the cached copy")
    with _connect(project) as conn:
        national = conn.execute(
            "SELECT count(*) FROM marts.national_comparison WHERE NOT is_imt"
        ).fetchone()[0]
        note = conn.execute(
            "SELECT note FROM audit.loads WHERE school_code = 'MESR' "
            "AND dataset = 'national_enrolment_statistics' AND is_current"
        ).fetchone()[0]
    assert national > 0 and "used the cached copy downloaded" in note


# --- header styles ---------------------------------------------------------------------------


def _loaded(dataset, path: Path) -> tuple[str, pl.DataFrame, pl.DataFrame]:
    parsed = parse_export(dataset, path)
    result = normalise(dataset, parsed.frame)
    return parsed.header_style, result.rows, result.quarantine


def test_both_header_styles_load_to_the_same_rows(tmp_path: Path) -> None:
    labels = written_exports(tmp_path / "labels", "labels")
    fields = written_exports(tmp_path / "fields", "field names")
    for dataset in NATIONAL_DATASETS.values():
        style_a, rows_a, bad_a = _loaded(dataset, labels[dataset.dataset_id])
        style_b, rows_b, bad_b = _loaded(dataset, fields[dataset.dataset_id])
        assert (style_a, style_b) == ("labels", "field names")
        assert rows_a.height > 0 and rows_a.equals(rows_b) and bad_a.equals(bad_b)


@needs_real
def test_real_register_in_both_header_styles(tmp_path: Path) -> None:
    """The register exported with labels (2024) and with field names (2023, another version
    of the dataset) both load; and the labels export, re-headed with the field names the
    real field-name export uses, loads to exactly the same rows."""
    style_l, rows_l, bad_l = _loaded(INSTITUTIONS, REAL[INSTITUTIONS.dataset_id])
    style_f, rows_f, bad_f = _loaded(INSTITUTIONS, REAL_FIELD_NAMES)
    assert (style_l, style_f) == ("labels", "field names")
    assert rows_l.height + bad_l.height == rows_f.height + bad_f.height == 250
    both = rows_l.join(rows_f, on="paysage_id", suffix="_f")
    assert both.height == 247  # institutions in both versions
    coded = both.filter(pl.col("uai").is_not_null() & pl.col("uai_f").is_not_null())
    assert coded.height >= 225  # the 2024 export leaves 18 institutions without UAI or name
    # one institution (EPF) changed its main UAI between the two versions
    assert coded.filter(pl.col("uai") != pl.col("uai_f"))["paysage_id"].to_list() == ["eHi5c"]
    lyon = both.filter(pl.col("paysage_id") == "fWJJA").row(0, named=True)
    assert (lyon["uai"], lyon["uai_f"], lyon["establishment_type"]) == (
        "0690187D", "0690187D", "École",
    )  # fmt: skip
    imt = rows_l.filter(pl.col("paysage_id") == "6Th4v").row(0, named=True)
    assert (imt["uai"], imt["uai_codes"]) == ("0912424R", ["0912424R", "0755661W"])

    field_header = REAL_FIELD_NAMES.read_text(encoding="utf-8-sig").splitlines()[0].split(";")
    rename = {label: field for label, field in REGISTER_HEADERS.items() if field != "url"}
    assert set(rename.values()) <= set(field_header)  # the real export's own field names
    relabelled = tmp_path / "register_field_names.csv"
    frame = pl.read_csv(REAL[INSTITUTIONS.dataset_id], separator=";", infer_schema=False)
    frame.select(list(rename)).rename(rename).write_csv(relabelled, separator=";")
    style_r, rows_r, bad_r = _loaded(INSTITUTIONS, relabelled)
    assert style_r == "field names" and rows_r.equals(rows_l) and bad_r.equals(bad_l)


# --- the schools' official codes --------------------------------------------------------------


def test_dim_school_has_the_curated_codes_and_no_invented_one(built: Project) -> None:
    with _connect(built) as conn:
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT school_code, uai, erasmus_code, uai_source, uai_status FROM core.dim_school"
            ).fetchall()
        }
    assert rows["ALBI"][:2] == ("0811200P", None)
    assert rows["TSP"][:2] == ("0911781S", "F EVRY01")
    assert rows["IMTA"][:2] == (None, "F NANTES80")  # UAI NOT FOUND: NULL
    assert rows["MSE"][:2] == rows["IMTBS"][:2] == (None, None)
    for code, (uai, _erasmus, source, status) in rows.items():
        assert (uai is None) == (source is None), code
        assert status is not None, code
    compiled = REFERENCE / "imt_schools_identifiers_compiled.csv"
    if compiled.is_file():  # the shipped codes are those of the compiled public sources
        names = {"IMT Mines Albi": "ALBI", "IMT Mines Alès": "ALES", "Télécom Paris": "TP",
                 "Télécom SudParis": "TSP", "IMT Atlantique": "IMTA",
                 "Mines Saint-Étienne": "MSE", "Institut Mines-Télécom Business School": "IMTBS",
                 "IMT Nord Europe (ex IMT Lille Douai)": "IMTNE"}  # fmt: skip
        for row in _read_comma(compiled):
            code = names.get(row["school_usual_name"])
            if code is None:
                continue
            uai = None if row["uai"] == "NOT FOUND" else row["uai"]
            erasmus = row["erasmus_code"].split(" (")[0] or None
            assert rows[code][:2] == (uai, erasmus), code


def _read_comma(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_yaml_code_contradicting_the_reference_is_a_config_error(tmp_path: Path) -> None:
    pipelines_dir = tmp_path / "pipelines"
    shutil.copytree(ROOT / "pipelines", pipelines_dir)
    tp = pipelines_dir / "tp.yaml"
    tp.write_text(tp.read_text(encoding="utf-8").replace("0753510H", "0753510X"), "utf-8")
    identifiers = school_identifiers(ROOT / "reference" / "imt_school_identifiers.csv")
    conn = duckdb.connect(str(tmp_path / "b.duckdb"))
    conn.execute(staging_ddl(ROOT / "sql"))
    with pytest.raises(ConfigError, match=r"pipelines/tp.yaml: school.uai '0753510X' contradicts"):
        write_schools(conn, load_pipelines(pipelines_dir), identifiers)
    bad = tmp_path / "ids.csv"
    text = (ROOT / "reference" / "imt_school_identifiers.csv").read_text(encoding="utf-8")
    imta = next(line for line in text.splitlines() if line.startswith("IMTA,"))
    bad.write_text(text.replace(imta, "IMTA,x,NOT FOUND," + imta.split(",", 4)[4]), "utf-8")
    with pytest.raises(ConfigError, match="'NOT FOUND' is not a valid code"):
        school_identifiers(bad)


@pytest.fixture(scope="module", autouse=True)
def _say_which_exports(served: Served) -> Iterator[None]:
    yield
    if served.kind == "written":
        print(f"\nnational tests ran on the written exports: {NO_REAL}")
