"""The executor chosen from the environment (imtetl/defs/executors.py): unit tests, no run."""

from __future__ import annotations

import sys

import dagster as dg
import pytest

from imtetl.defs.executors import ExecutorConfigError, executor_for_env, executor_name
from tests.servers import EXTRAS_HINT

CATALOG = "postgres:dbname=imtetl_lake host=127.0.0.1"
BROKER = "redis://127.0.0.1:6379/0"


def _config(executor: dg.ExecutorDefinition) -> dict:
    """The executor's configuration as a run resolves it (env references from os.environ)."""
    resolved = executor.config_schema.resolve_config({})
    assert resolved.success, resolved.errors
    return resolved.value["config"]


def test_default_is_in_process_without_a_catalog() -> None:
    assert executor_name({}) == "in_process"
    assert executor_for_env({}) is dg.in_process_executor
    assert executor_for_env({"IMTETL_CATALOG": "  "}) is dg.in_process_executor


def test_default_is_multiprocess_with_a_catalog() -> None:
    executor = executor_for_env({"IMTETL_CATALOG": CATALOG})
    assert executor.name == "multiprocess"
    config = _config(executor)
    assert config["max_concurrent"] == 2
    assert "forkserver" in config["start_method"]


def test_writers_set_max_concurrent() -> None:
    env = {"IMTETL_EXECUTOR": "multiprocess", "IMTETL_WRITERS": "6"}
    assert _config(executor_for_env(env))["max_concurrent"] == 6
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(ExecutorConfigError, match="IMTETL_WRITERS"):
            executor_for_env({**env, "IMTETL_WRITERS": bad})


def test_explicit_choice_wins_over_the_catalog_default() -> None:
    env = {"IMTETL_CATALOG": CATALOG, "IMTETL_EXECUTOR": "in_process"}
    assert executor_for_env(env) is dg.in_process_executor
    assert executor_for_env({"IMTETL_EXECUTOR": " Multiprocess "}).name == "multiprocess"
    assert executor_name({"IMTETL_EXECUTOR": "in-process"}) == "in_process"


def test_unknown_executor_is_refused() -> None:
    with pytest.raises(ExecutorConfigError, match=r"IMTETL_EXECUTOR must be one of .*'k8s'"):
        executor_for_env({"IMTETL_EXECUTOR": "k8s"})


def test_celery_needs_a_broker() -> None:
    with pytest.raises(ExecutorConfigError, match="needs IMTETL_CELERY_BROKER"):
        executor_for_env({"IMTETL_EXECUTOR": "celery"})
    with pytest.raises(ExecutorConfigError, match="needs IMTETL_CELERY_BROKER"):
        executor_for_env({"IMTETL_EXECUTOR": "celery", "IMTETL_CELERY_BROKER": " "})


def test_celery_needs_dagster_celery(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "dagster_celery", None)  # import fails as if absent
    with pytest.raises(ExecutorConfigError, match=r"dagster-celery.*cluster extra"):
        executor_for_env({"IMTETL_EXECUTOR": "celery", "IMTETL_CELERY_BROKER": BROKER})


def test_celery_reads_broker_and_backend_from_the_environment(monkeypatch) -> None:
    pytest.importorskip("dagster_celery", reason=EXTRAS_HINT)
    secret = "redis://:s3cret@127.0.0.1:6379/0"
    monkeypatch.setenv("IMTETL_CELERY_BROKER", secret)
    monkeypatch.delenv("IMTETL_CELERY_BACKEND", raising=False)
    executor = executor_for_env({"IMTETL_EXECUTOR": "celery", "IMTETL_CELERY_BROKER": secret})
    assert executor.name == "celery"
    assert _config(executor)["broker"] == secret
    assert _config(executor)["backend"] == secret  # the backend defaults to the broker
    # references, not values: the run's process resolves them (no URL in the definitions)
    monkeypatch.setenv("IMTETL_CELERY_BROKER", BROKER)
    assert _config(executor)["broker"] == BROKER

    monkeypatch.setenv("IMTETL_CELERY_BACKEND", "redis://127.0.0.1:6379/1")
    env = {"IMTETL_EXECUTOR": "celery", "IMTETL_CELERY_BROKER": BROKER}
    executor = executor_for_env({**env, "IMTETL_CELERY_BACKEND": "redis://127.0.0.1:6379/1"})
    assert _config(executor)["backend"] == "redis://127.0.0.1:6379/1"
    assert _config(executor)["broker"] == BROKER


def test_reads_os_environ_by_default(monkeypatch) -> None:
    monkeypatch.delenv("IMTETL_CATALOG", raising=False)
    monkeypatch.setenv("IMTETL_EXECUTOR", "multiprocess")
    monkeypatch.setenv("IMTETL_WRITERS", "3")
    assert _config(executor_for_env())["max_concurrent"] == 3
    monkeypatch.delenv("IMTETL_EXECUTOR")
    assert executor_for_env() is dg.in_process_executor
