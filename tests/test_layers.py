"""The stages' layering (pyproject.toml, [tool.importlinter]) holds: each stage imports only
from the stages below it, the shared leaves import no stage, the sample oracle stays apart.

Runs ``lint-imports`` from this interpreter's folder, with this checkout's ``src`` first on
PYTHONPATH, so that it analyses the code under test (not whatever ``imtetl`` is installed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def _lint_imports() -> Path:
    folder = Path(sys.executable).parent
    for name in ("lint-imports", "lint-imports.exe"):
        if (folder / name).exists():
            return folder / name
    pytest.fail(f"lint-imports is not installed next to {sys.executable}: pip install -e '.[dev]'")


def test_import_contracts_hold() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    # the analysed package is this checkout's, whatever the venv's editable install points at
    found = subprocess.run(
        [sys.executable, "-c", "import imtetl; print(imtetl.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(found).resolve().is_relative_to(SRC.resolve()), found

    result = subprocess.run(
        [str(_lint_imports()), "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        output = result.stdout + result.stderr
        # "imtetl.transform is not allowed to import imtetl.validate:" and the chains under it
        arrows = [
            line.strip()
            for line in output.splitlines()
            if re.search(r"not allowed to import|must not import| -> |\bBROKEN\b", line)
        ]
        pytest.fail(
            "import contracts broken (see [tool.importlinter] in pyproject.toml):\n"
            + "\n".join(arrows or [output])
        )
    assert "0 broken" in result.stdout, result.stdout
