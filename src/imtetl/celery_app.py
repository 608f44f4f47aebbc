"""The Celery app of imtetl's workers (the ``cluster`` extra):

    celery -A imtetl.celery_app worker -Q dagster --concurrency 1 --prefetch-multiplier 1

dagster-celery's own app (``dagster_celery.app``) with the broker and result backend of the
runs' executor: ``IMTETL_CELERY_BROKER`` and ``IMTETL_CELERY_BACKEND`` (default: the broker),
read from the environment, so that runs and workers cannot disagree and no URL (which may hold
a password) is written to a file or a command line. Each task executes one step of a run:
it loads the run from the Dagster instance the run names (``DAGSTER_HOME``'s, which every
worker shares) and the job from the code location's module, ``imtetl.definitions``."""

from __future__ import annotations

import os

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from imtetl.defs.executors import BACKEND_ENV, BROKER_ENV, ExecutorConfigError

_broker = os.environ.get(BROKER_ENV, "").strip()
if not _broker:
    raise ExecutorConfigError(
        f"the Celery workers need {BROKER_ENV}, the broker's URL (e.g. redis://127.0.0.1:6379/0)"
    )

app = make_app(
    CeleryExecutor.for_cli(
        broker=_broker, backend=os.environ.get(BACKEND_ENV, "").strip() or _broker
    ).app_args()
)
execute_plan = create_task(app)
