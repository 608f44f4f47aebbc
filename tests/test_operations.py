"""Build behaviours that operations rely on: the README's quickstart. (A bad file that
fails only its school: tests/test_faulty_build.py, one build with every fault; onboarding a
ninth school by YAML: tests/test_onboarding_school.py; a reader holding the published file
open: tests/test_concurrent_readers.py; reruns that replace a school: tests/test_reruns.py.)"""

from __future__ import annotations

import shutil

import duckdb
import pytest

from tests.conftest import Project


def _count(project: Project, sql: str):
    with duckdb.connect(str(project.warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


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
