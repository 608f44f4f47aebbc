"""One faulty `imtetl build` for every test of bad inputs through the CLI and Dagster: each
fault in a school-year of its own, all at once, in one fresh project of the small sample.

The faults (formerly one build each in tests/test_operations.py, tests/test_quality.py and
tests/test_fuzz_mutations.py):

- IMTA 2023 enrolment arrives without its programme-code column; MSE 2022 mobility is empty
  (test_operations: a bad file fails its school only, and names it);
- ALBI 2024 enrolment truncated, IMTA 2024 enrolment not UTF-8, ALES 2022 tuition without its
  FEE_REGIME column, TP's 2023 workbook not a workbook, IMTNE 2023 fees not JSON, and IMTNE's
  API answering HTTP 500 (test_quality: every kind of bad file in one build);
- MSE's fees in cents, every year: the tuition suite holds MSE's tuition back (test_quality);
- the mutation corpus' first CLI batch: ALBI 2023 enrolment with a 100 KB field, TP's 2022
  workbook a zip bomb, IMTNE 2024 fees nested too deeply (test_fuzz_mutations).

TSP and IMTBS (the Évry campus files) are left intact: controls. Each school's other years
are controls too. The faults one at a time, without Dagster: tests/test_quality.py."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.instance.ref import InstanceRef

from tests.api_server import serve_api
from tests.conftest import Project, make_project
from tests.mutations import TALLY
from tests.test_fuzz_mutations import CLI_CASES, apply_mutations
from tests.test_quality import (
    _break_column,
    _break_empty,
    _break_encoding,
    _break_json,
    _break_truncated,
    _break_xlsx,
)

YEARS = (2021, 2022, 2023, 2024, 2025)
SCHOOLS = ("ALBI", "ALES", "IMTA", "IMTBS", "IMTNE", "MSE", "TP", "TSP")


def _drop_programme_code(landing: Path) -> Path:
    """IMTA's 2023 enrolment export without its programme-code column ("Code formation")."""
    path = next((landing / "imta").glob("inscriptions_2023-*.csv"))
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(";")
    index = next(
        i for i, h in enumerate(header) if "formation" in h.lower() and "code" in h.lower()
    )
    kept = [";".join(c for i, c in enumerate(line.split(";")) if i != index) for line in lines]
    path.write_text("\ufeff" + "\n".join(kept) + "\n", encoding="utf-8")
    return path


def _fees_in_cents(landing: Path) -> None:
    """MSE reports its fees in cents: every amount 100x too high, above the suite's ceiling."""
    for path in (landing / "mse").glob("mse_frais_*.csv"):
        text = path.read_text(encoding="cp1252")
        path.write_text(text.replace(",00 €", "00,00 €"), encoding="cp1252")


@dataclass
class Faulty:
    project: Project
    stdout: str
    stderr: str
    returncode: int
    imta_2023: Path  # the export without its programme-code column
    mse_empty: Path  # MSE's empty 2022 mobility export
    broken: list[tuple[str, str, str]]  # test_quality's (school, dataset, message)
    mutated: list[tuple[str, str]]  # the mutation corpus' (file, operator)

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.project.warehouse), read_only=True) as conn:
            return conn.execute(sql).fetchall()


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory, small_landing: Path) -> Faulty:
    base = tmp_path_factory.mktemp("faulty")
    landing = base / "landing"
    shutil.copytree(small_landing, landing)
    project = make_project(base, landing=landing)
    imta_2023 = _drop_programme_code(landing)
    broken = [
        _break_empty(landing),  # MSE 2022 mobility (test_operations' empty file too)
        _break_truncated(landing, year=2024),
        _break_encoding(landing),
        _break_column(landing),
        _break_xlsx(landing),
        _break_json(landing, year=2023),
    ]
    mse_empty = next((landing / "mse").glob("mse_mobilite_2022-*.csv"))
    _fees_in_cents(landing)
    mutated = CLI_CASES[0]
    apply_mutations(landing, mutated)
    with serve_api(landing / "imtne", fail_with=500) as (base_url, _):
        result = project.imtetl("build", IMTETL_IMTNE_API_URL=base_url)
    return Faulty(
        project, result.stdout, result.stderr, result.returncode, imta_2023, mse_empty,
        broken, mutated,
    )  # fmt: skip


#: (school, dataset, year) the faults break: nothing else may fail.
BROKEN = {
    ("ALBI", "enrolment", 2023), ("ALBI", "enrolment", 2024),
    ("IMTA", "enrolment", 2023), ("IMTA", "enrolment", 2024),
    ("ALES", "tuition", 2022), ("IMTNE", "tuition", 2023), ("IMTNE", "tuition", 2024),
    *(("MSE", "tuition", year) for year in YEARS),  # held back by the suite
    ("MSE", "mobility", 2022),
    # TP: one workbook a year holds all its datasets
    *(("TP", dataset, year) for dataset in ("enrolment", "tuition", "mobility", "faculty")
       for year in (2022, 2023)),
}  # fmt: skip


@pytest.mark.builds(1)  # the module's build runs in this test's setup
def test_every_bad_file_is_named_with_its_school_and_remedy(faulty: Faulty) -> None:
    """Every failure is reported with its school, file and remedy, no traceback, and
    everything else is published (test_quality's and test_fuzz_mutations' CLI builds)."""
    stderr = faulty.stderr
    assert faulty.returncode == 1
    assert "Traceback" not in faulty.stdout + stderr
    for school, _dataset, message in faulty.broken:
        assert f"FAILED {school}" in stderr and message in stderr, message
    assert "HTTP 500" in stderr
    for relative, _name in faulty.mutated:
        school = relative.split("/")[0].upper()
        shown = relative if not relative.endswith(".json") else relative.rsplit("/", 1)[0]
        line = next((ln for ln in stderr.splitlines() if ln.startswith(f"FAILED {school} ")), "")
        assert shown in stderr and line, relative
        assert f"{school}: {shown}" in stderr, relative
    failures = [ln for ln in stderr.splitlines() if ln.startswith("FAILED ")]
    assert failures and all("What to do:" in ln for ln in failures), failures
    assert "failed schools: ALBI, ALES, IMTA, IMTNE, MSE, TP" in stderr
    assert "published" in stderr and "NOT published" not in stderr
    TALLY["CLI builds with broken files"] += 1
    TALLY["CLI broken files named"] += len(faulty.mutated)


def test_a_bad_file_fails_its_school_only_and_names_it(faulty: Faulty) -> None:
    """IMTA's 2023 enrolment without its programme-code column, MSE's empty 2022 mobility
    (formerly tests/test_operations.py's own build)."""
    stderr = faulty.stderr
    assert "FAILED IMTA enrolment" in stderr and faulty.imta_2023.name in stderr
    assert "Code formation" in stderr
    assert "MSE" in stderr and faulty.mse_empty.name in stderr and "empty" in stderr
    assert faulty.query("SELECT count(DISTINCT school_code) FROM core.fact_enrolment") == [(8,)]
    years = faulty.query(
        "SELECT academic_year FROM core.fact_enrolment WHERE school_code = 'IMTA' "
        "GROUP BY 1 ORDER BY 1"
    )
    assert years == [(2021,), (2022,), (2025,)]  # 2023 (and 2024, not UTF-8) out
    (imta,) = faulty.query(
        "SELECT rows_read, rows_loaded, rows_quarantined FROM audit.loads WHERE status = "
        "'failed' AND school_code = 'IMTA' AND academic_year = 2023"
    )
    assert imta[0] > 0 and imta[1] == 0 and imta[2] == imta[0]  # every row quarantined
    reasons = faulty.query(
        "SELECT DISTINCT \"column\", reason FROM audit.quarantine WHERE school_code = 'IMTA' "
        "AND reason LIKE 'file rejected%'"
    )
    assert reasons and reasons[0][0] == "Code formation"


def test_failing_partitions_leave_the_others_materialized(faulty: Faulty) -> None:
    """A permanently failing partition leaves every other one materialized, and the
    warehouse is published (formerly tests/test_dagster_ops.py's, then test_operations')."""
    every = {f"{school}|{year}" for school in SCHOOLS for year in YEARS}
    home = str(faulty.project.dagster_home)
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(home)) as inst:
        for dataset in ("enrolment", "tuition", "mobility", "faculty"):
            done = inst.get_materialized_partitions(dg.AssetKey(["staging", dataset]))
            broken = {f"{s}|{y}" for s, d, y in BROKEN if d == dataset}
            assert set(done) == every - broken, dataset
        assert inst.get_latest_materialization_event(dg.AssetKey(["published_warehouse"]))


def test_everything_else_is_loaded_and_published(faulty: Faulty) -> None:
    per_school = dict(
        faulty.query(
            "SELECT school_code, count(DISTINCT academic_year) FROM core.fact_enrolment GROUP BY 1"
        )
    )
    assert set(per_school) == set(SCHOOLS)
    assert per_school == {
        school: 5 - sum(1 for s, d, _ in BROKEN if s == school and d == "enrolment")
        for school in SCHOOLS
    }  # e.g. ALBI, IMTA and TP: 3; MSE, TSP and IMTBS: 5
    for dataset, fact in (("tuition", "fact_tuition_fee"), ("mobility", "fact_mobility")):
        loaded = set(faulty.query(f"SELECT DISTINCT school_code, academic_year FROM core.{fact}"))
        expected = {(s, y) for s in SCHOOLS for y in YEARS} - {
            (s, y) for s, d, y in BROKEN if d == dataset
        }
        assert loaded == expected, dataset
    assert faulty.query(
        "SELECT count(*) FROM audit.loads WHERE rows_read <> rows_loaded + rows_quarantined"
    ) == [(0,)]
    failed = faulty.query(
        "SELECT DISTINCT school_code, dataset, academic_year FROM audit.loads "
        "WHERE status = 'failed' AND academic_year IS NOT NULL"
    )
    assert set(failed) == BROKEN
    fetches = faulty.query(  # the API's 500s: one failed fetch per dataset, pages kept
        "SELECT school_code, dataset FROM audit.loads WHERE status = 'failed' "
        "AND academic_year IS NULL ORDER BY ALL"
    )
    assert fetches == [("IMTNE", d) for d in ("enrolment", "faculty", "mobility", "tuition")]


def test_a_school_breaking_the_tuition_suite_is_held_back(faulty: Faulty) -> None:
    """MSE's fees in cents: every amount above the suite's ceiling, so its whole tuition is
    held back while the other schools load (formerly test_quality's own build)."""
    stderr = faulty.stderr
    assert "FAILED MSE tuition" in stderr and "held back" in stderr
    assert "annual_fee_eur" in stderr
    schools = faulty.query("SELECT DISTINCT school_code FROM core.fact_tuition_fee ORDER BY 1")
    assert schools == [(s,) for s in SCHOOLS if s != "MSE"]  # every school but MSE
    pricing = faulty.query(
        "SELECT count(*) FROM marts.international_masters_pricing "
        "WHERE school_code = 'MSE' AND fee_eu_eur IS NOT NULL"
    )
    assert pricing == [(0,)]
    held = faulty.query(
        "SELECT count(*), count(*) FILTER (reason LIKE '%held back%' OR reason LIKE "
        "'expectation failed%') FROM audit.quarantine WHERE school_code = 'MSE' "
        "AND dataset = 'tuition'"
    )
    read = faulty.query(
        "SELECT sum(rows_read) FROM audit.loads WHERE school_code = 'MSE' AND dataset = 'tuition'"
    )[0][0]
    assert held[0][0] == read > 100  # every row kept in quarantine, with its reason
    assert held[0][1] == read - 5  # all but the five seeded negative fees: held back
