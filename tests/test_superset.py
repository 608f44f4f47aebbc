"""Apache Superset, for real: the shipped dashboard bundle imported into a fresh Superset
metadata database, the warehouse registered read-only, every chart's query run by Superset.

Superset pins its own pandas and SQLAlchemy, so it lives in its own virtualenv:
`.ci/run` creates `.venv-superset` with the `superset` extra's packages (IMTETL_SUPERSET_PYTHON
points elsewhere). Marked `superset`; CI runs it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, Project

PYTHON = Path(os.environ.get("IMTETL_SUPERSET_PYTHON", ROOT / ".venv-superset" / "bin" / "python"))


@pytest.mark.builds(2)
@pytest.mark.superset
def test_superset_imports_the_dashboard_and_runs_every_chart(
    built: Project, tmp_path: Path
) -> None:
    if not PYTHON.exists():
        pytest.skip(f"no Superset virtualenv at {PYTHON} (.ci/run creates it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPERSET_", "FLASK_"))}
    result = subprocess.run(
        [str(PYTHON), str(ROOT / "bi" / "superset" / "verify.py"), str(built.warehouse),
         str(tmp_path / "superset")],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert result.returncode == 0, (result.stderr[-3000:] + result.stdout)[-6000:]
    assert "imported dashboard 'IMT international recruitment': 6 charts" in result.stdout
    assert "all 6 charts ran" in result.stdout
