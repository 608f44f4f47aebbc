"""Apache Superset, for real: the shipped dashboard bundle imported into a fresh Superset
metadata database, the warehouse registered read-only, every chart's query run by Superset.

Superset pins its own pandas and SQLAlchemy, so it lives in its own virtualenv: the
`superset_python` fixture creates `.venv-superset` with the `superset` extra's packages the
first time (uv, compiled bytecode, under a lock so that xdist's workers share it) and reuses
it after; IMTETL_SUPERSET_PYTHON points elsewhere. Marked `superset`; CI runs it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, Project

VENV = ROOT / ".venv-superset"
INSTALL = (
    f"python3 -m venv {VENV} && UV_COMPILE_BYTECODE=1 uv pip install --python {VENV}/bin/python "
    "<the superset extra's packages in pyproject.toml>"
)


def _requirements() -> list[str]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project["optional-dependencies"]["superset"]


@pytest.fixture(scope="session")
def superset_python() -> Path:
    """Superset's interpreter: IMTETL_SUPERSET_PYTHON, else .venv-superset, created once."""
    if given := os.environ.get("IMTETL_SUPERSET_PYTHON"):
        return Path(given)
    python = VENV / "bin" / "python"
    import fcntl
    import shutil
    import sys

    with open(ROOT / ".venv-superset.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (VENV / ".imtetl-complete").exists():
            return python
        uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
        if not Path(uv).exists():
            pytest.skip(f"no Superset virtualenv and no uv to create it: {INSTALL}")
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        result = subprocess.run(
            [uv, "pip", "install", "--quiet", "--python", str(python), *_requirements()],
            capture_output=True, text=True, env={**os.environ, "UV_COMPILE_BYTECODE": "1"},
        )  # fmt: skip
        if result.returncode != 0:
            pytest.skip(f"Superset's virtualenv could not be installed ({result.stderr[-300:]}): "
                        f"{INSTALL}")  # fmt: skip
        (VENV / ".imtetl-complete").touch()
    return python


@pytest.mark.builds(2)
@pytest.mark.superset
def test_superset_imports_the_dashboard_and_runs_every_chart(
    built: Project, tmp_path: Path, superset_python: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPERSET_", "FLASK_"))}
    result = subprocess.run(
        [str(superset_python), str(ROOT / "bi" / "superset" / "verify.py"), str(built.warehouse),
         str(tmp_path / "superset")],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert result.returncode == 0, (result.stderr[-3000:] + result.stdout)[-6000:]
    assert "imported dashboard 'IMT international recruitment': 6 charts" in result.stdout
    assert "all 6 charts ran" in result.stdout
