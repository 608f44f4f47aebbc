"""A throw-away Superset: its own SQLite metadata database under a work folder, migrated,
with an admin acting as the current user — what build_bundle.py and verify.py run in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def scratch_superset(workdir: Path) -> Iterator[None]:
    """Inside: an app and request context, migrations applied, ``g.user`` an admin."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "superset_config.py"
    config.write_text(
        'SECRET_KEY = "scratch-superset-secret-0123456789"\n'
        f'SQLALCHEMY_DATABASE_URI = "sqlite:///{workdir}/superset.db"\n'
    )
    os.environ["SUPERSET_CONFIG_PATH"] = str(config)
    from superset.app import create_app

    app = create_app()
    with app.app_context(), app.test_request_context():
        import superset
        from flask import g
        from flask_migrate import upgrade
        from superset import security_manager

        upgrade(directory=str(Path(superset.__file__).parent / "migrations"))
        security_manager.sync_role_definitions()
        g.user = security_manager.add_user(
            "imtetl", "imtetl", "bot", "bot@imtetl.invalid",
            security_manager.find_role("Admin"), password="unused-password-0",
        )  # fmt: skip
        yield
