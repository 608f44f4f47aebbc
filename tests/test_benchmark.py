"""The benchmark's smoke run (N = 2,000: it checks the output's format only; at 1,000 some
mobility exports are so small that their seeded bad rows hold them back), so that
benchmarks/run.py cannot rot. Its figures are printed for people; nothing here asserts a
duration."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.builds(5)
def test_benchmark_smoke_run_prints_every_figure():
    result = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--rows", "2000", "--import-runs", "1",
         "--no-sample-build"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for figure in ("landing:", "floor:", "best floor:", "build:", "partition:", "import:"):
        assert any(line.startswith(figure) for line in lines), (figure, result.stdout)
    assert re.search(r"(\d[\d,]*) rows into DuckDB tables", result.stdout)
    assert re.fullmatch(
        r"ratio build/floor=\d+\.\d\d build/best_floor=\d+\.\d\d "
        r"partition/build=\d+\.\d\d sample/import=n/a "
        r"peak_rss_mb=\d+",
        lines[-1],
    ), lines[-1]


def test_benchmark_ducklake_says_when_postgresql_is_missing():
    """The DuckLake comparison needs a PostgreSQL server for its catalogs: without one the
    script says which variable or option to set, before generating anything. (A smoke run of
    `--backend ducklake --writers 1,2` itself is not here: two lake builds at N = 10,000 take
    minutes, see benchmarks/README.md.)"""
    env = {k: v for k, v in os.environ.items() if k != "IMTETL_TEST_POSTGRES_URL"}
    result = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--rows", "10000", "--backend", "ducklake",
         "--writers", "1,2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "IMTETL_TEST_POSTGRES_URL" in result.stderr, result.stderr
    assert "--catalog-url" in result.stderr, result.stderr
    assert "landing:" not in result.stdout

    wrong = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--rows", "10000", "--writers", "2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert wrong.returncode == 2 and "--backend ducklake" in wrong.stderr, wrong.stderr
