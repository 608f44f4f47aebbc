"""Partitions: one per school, read from the pipelines/*.yaml files. Adding a YAML file adds
a partition; the UI shows one column per school."""

from __future__ import annotations

import dagster as dg

from imtetl.pipeline_config import load_pipelines
from imtetl.settings import Settings


def school_codes() -> list[str]:
    return list(load_pipelines(Settings.from_env().pipelines))


school_partitions = dg.StaticPartitionsDefinition(school_codes())
