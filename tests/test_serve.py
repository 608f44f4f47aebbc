"""`imtetl serve`: remote BI clients query the bi views over Quack with a token (ADBC). (The
server through a publish: tests/test_concurrent_readers.py, one build for every reader.)"""

from __future__ import annotations

import pytest

from tests.conftest import Project
from tests.servers import EXTRAS_HINT

pytest.importorskip("duckdb_extension_quack", reason=EXTRAS_HINT)
pytest.importorskip("adbc_driver_quack.dbapi", reason=EXTRAS_HINT)


def test_serve_needs_a_token(project: Project) -> None:
    result = project.imtetl("serve", timeout=60)
    assert result.returncode == 2 and "IMTETL_SERVE_TOKEN is not set" in result.stderr
