"""The HTML report, rendered for real in headless Chromium (Debian's chromium package)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, Project

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000",
]  # fmt: skip


def test_report_is_written_and_linked(built: Project) -> None:
    report = built.warehouse.parent / "report" / "index.html"
    text = report.read_text(encoding="utf-8")
    assert "IMT international recruitment" in text
    assert "vegaEmbed" in text and "cdn.jsdelivr" not in text  # JavaScript inlined: offline
    for needle in (
        "new_entrants", "fee_non_eu_eur", "apprenticeship_share", "stays", "foreign_share",
        "IMT staff mobility stays by scheme",
    ):  # fmt: skip
        assert needle in text


def test_report_renders_in_headless_chromium(built: Project, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    report = built.warehouse.parent / "report" / "index.html"
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    result = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1400,2200", f"--screenshot={shot}", report.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shot.exists() and shot.stat().st_size > 50_000, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    errors = [line for line in console if "ERROR" in line or "Uncaught" in line]
    assert errors == [], errors
    # the DOM holds the rendered charts (an SVG/canvas per view), not an error message
    dom = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}", "--dump-dom",
         report.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "<canvas" in dom.stdout or "<svg" in dom.stdout, dom.stdout[:500]
    assert "Javascript Error" not in dom.stdout
