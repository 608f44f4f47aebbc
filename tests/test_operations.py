"""Build behaviours that operations rely on: onboarding by YAML, a bad file that fails only
its school, a reader holding the published file open, reruns that replace a school."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time

import duckdb

from tests.conftest import Project


def _count(project: Project, sql: str):
    with duckdb.connect(str(project.warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_ninth_school_onboarded_with_one_yaml_file(project: Project) -> None:
    # A new school on the vendor's TSV export (the format ALBI and ALES use): its exports
    # arrive in its own folder, and one YAML file is all the code it takes.
    (project.landing / "eurecom").mkdir()
    for path in sorted((project.landing / "albi").iterdir()):
        text = path.read_text(encoding="utf-8").replace("ALBI-", "EUR-").replace("\tAB", "\tEU")
        (project.landing / "eurecom" / path.name).write_text(text, encoding="utf-8")
    yaml_text = (project.pipelines / "albi.yaml").read_text(encoding="utf-8")
    yaml_text = (
        yaml_text.replace("code: ALBI", "code: EURECOM")
        .replace("name: IMT Mines Albi", "name: EURECOM")
        .replace("city: Albi", "city: Biot")
        .replace("uai: 0811200P", "uai: null")
        .replace("albi/", "eurecom/")
    )
    (project.pipelines / "eurecom.yaml").write_text(yaml_text, encoding="utf-8")

    result = project.imtetl("build")
    assert result.returncode == 0, result.stderr
    assert "EURECOM" in result.stdout
    rows = _count(
        project,
        "SELECT count(DISTINCT academic_year), sum(new_entrants) FROM marts.foreign_intake "
        "WHERE school_code = 'EURECOM'",
    )
    assert rows[0][0] == 5 and rows[0][1] > 0
    assert _count(
        project, "SELECT school_name FROM core.dim_school WHERE school_code='EURECOM'"
    ) == [("EURECOM",)]
    assert _count(project, "SELECT count(DISTINCT school_code) FROM core.fact_enrolment") == [(9,)]


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


def test_school_rerun_replaces_only_that_school(built_copy: Project) -> None:
    project = built_copy  # a whole build, copied
    before = _count(
        project, "SELECT school_code, count(*) FROM core.fact_enrolment GROUP BY 1 ORDER BY 1"
    )
    result = project.imtetl("build", "--school", "TP")
    assert result.returncode == 0, result.stderr
    after = _count(
        project, "SELECT school_code, count(*) FROM core.fact_enrolment GROUP BY 1 ORDER BY 1"
    )
    assert before == after  # no duplicates, nothing lost
    loads = _count(
        project,
        "SELECT DISTINCT school_code FROM audit.loads WHERE run_id = (SELECT run_id FROM "
        "audit.loads ORDER BY started_at DESC LIMIT 1)",
    )
    assert loads == [("TP",)]


READER = textwrap.dedent(
    """
    import sys, time, duckdb
    path, stop = sys.argv[1], sys.argv[2]
    import os
    conn = duckdb.connect(path, read_only=True)   # held open for the whole build
    queries = errors = 0
    while not os.path.exists(stop):
        try:
            total = conn.execute("SELECT count(*) FROM core.fact_enrolment").fetchone()[0]
            marts = conn.execute("SELECT sum(new_entrants) FROM marts.foreign_intake").fetchone()[0]
            assert total > 0 and marts > 0
            queries += 1
        except Exception as exc:
            errors += 1
            print("ERROR", exc, flush=True)
        time.sleep(0.01)
    print(f"queries={queries} errors={errors}", flush=True)
    """
)


def test_reader_holding_the_warehouse_never_blocks_a_build(built_copy: Project) -> None:
    project = built_copy  # a whole build, copied
    stop = project.home / "stop-reader"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(project.warehouse), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)
        # change the inputs so the new state differs: ALBI's 2025 export shrinks to 10 rows
        path = project.landing / "albi" / "EXPORT_ENROLMENT_2025.tsv"
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join(lines[:11]) + "\n", encoding="utf-8")
        result = project.imtetl("build")
        assert result.returncode == 0, result.stderr
        # never met the reader's lock (no timed assertion: a blocked writer's step fails on
        # DuckDB's lock error, logged even when a retry then succeeds)
        output = result.stdout + result.stderr
        assert "Could not set lock" not in output and "Conflicting lock" not in output, output
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=30)
    assert "errors=0" in out, out
    assert int(out.split("queries=")[1].split()[0]) > 10
    # a new connection sees the new state
    rows = _count(
        project,
        "SELECT count(*) FROM core.fact_enrolment WHERE school_code='ALBI' "
        "AND academic_year = 2025",
    )
    assert 0 < rows[0][0] <= 10


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
