"""Build behaviours that operations rely on: a bad file that fails only its school, and the
README's quickstart. (Onboarding a ninth school by YAML: tests/test_onboarding_school.py; a
reader holding the published file open: tests/test_concurrent_readers.py; reruns that replace
a school: tests/test_reruns.py.)"""

from __future__ import annotations

import shutil

import dagster as dg
import duckdb
import pytest
from dagster._core.instance.ref import InstanceRef

from tests.conftest import Project


def _count(project: Project, sql: str):
    with duckdb.connect(str(project.warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.builds(1)
def test_bad_file_fails_its_school_only_and_names_it(project: Project) -> None:
    # IMTA's 2023 enrolment export arrives without its programme-code column.
    path = next((project.landing / "imta").glob("inscriptions_2023-*.csv"))
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    header = lines[0].split(";")
    index = next(
        i for i, h in enumerate(header) if "formation" in h.lower() and "code" in h.lower()
    )
    path.write_text(
        "\ufeff"
        + "\n".join(
            ";".join(c for i, c in enumerate(line.split(";")) if i != index) for line in lines
        )
        + "\n",
        encoding="utf-8",
    )
    # and MSE's 2022 mobility export is empty
    mse = next((project.landing / "mse").glob("mse_mobilite_2022-*.csv"))
    mse.write_bytes(b"")

    result = project.imtetl("build")
    assert result.returncode == 1
    # a permanently failing partition leaves the others materialized (formerly
    # tests/test_dagster_ops.py's test of its own build)
    assert "FAILED IMTA enrolment" in result.stderr and "published" in result.stderr
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(project.dagster_home))) as inst:
        done = inst.get_materialized_partitions(dg.AssetKey(["staging", "enrolment"]))
        assert len(done) == 39 and "IMTA|2023" not in done
        assert len(inst.get_materialized_partitions(dg.AssetKey(["staging", "tuition"]))) == 40
        assert inst.get_latest_materialization_event(dg.AssetKey(["published_warehouse"]))
    assert "IMTA" in result.stderr and path.name in result.stderr
    assert "Code formation" in result.stderr
    assert "MSE" in result.stderr and mse.name in result.stderr and "empty" in result.stderr
    assert "failed schools: IMTA, MSE" in result.stderr
    # everything else is loaded and published
    schools = _count(project, "SELECT count(DISTINCT school_code) FROM core.fact_enrolment")
    assert schools == [(8,)]
    years = _count(
        project,
        "SELECT academic_year FROM core.fact_enrolment WHERE school_code = 'IMTA' "
        "GROUP BY 1 ORDER BY 1",
    )
    assert (2023,) not in years and (2024,) in years
    failed = _count(
        project,
        "SELECT school_code, rows_read, rows_loaded, rows_quarantined FROM audit.loads "
        "WHERE status = 'failed' ORDER BY 1",
    )
    assert [f[0] for f in failed] == ["IMTA", "MSE"]
    imta = failed[0]
    assert imta[1] > 0 and imta[2] == 0 and imta[3] == imta[1]  # every row quarantined
    reasons = _count(
        project,
        "SELECT DISTINCT \"column\", reason FROM audit.quarantine WHERE school_code = 'IMTA' "
        "AND reason LIKE 'file rejected%'",
    )
    assert reasons and reasons[0][0] == "Code formation"


@pytest.mark.builds(2)
def test_sample_build_offline_cli_quickstart(tmp_path) -> None:
    """The README's first command on a fresh home: the sample is generated, then built."""
    from tests.conftest import make_project

    project = make_project(tmp_path)
    shutil.rmtree(project.landing, ignore_errors=True)
    env = {"IMTETL_LANDING": str(project.home / "data" / "landing")}
    result = project.imtetl("build", **env)
    assert result.returncode == 0, result.stderr
    assert "generating the bundled sample" in result.stdout
    assert "published" in result.stderr
    rows = _count(project, "SELECT count(*) FROM core.fact_enrolment")[0][0]
    assert rows > 60_000  # ≈ 15,000 students a year over five years
