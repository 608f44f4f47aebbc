"""Partitions: school × academic year, a grid in the UI. Schools are the pipelines/*.yaml
files (adding one adds a row), years come from IMTETL_YEARS (default 2021-2025).

The school configs are read here, once, when the code location loads; the other definition
modules (landing assets, schedules) take them from here (and the resource, from the same
parse while the files are unchanged: imtetl.pipeline_config.cached_pipelines)."""

import dagster as dg

from imtetl.pipeline_config import cached_pipelines
from imtetl.settings import Settings

SETTINGS = Settings.from_env()
PIPELINES = cached_pipelines(SETTINGS.pipelines)


def school_codes() -> list[str]:
    return list(PIPELINES)


school_year_partitions = dg.MultiPartitionsDefinition(
    {
        "school": dg.StaticPartitionsDefinition(school_codes()),
        "year": dg.StaticPartitionsDefinition([str(year) for year in SETTINGS.years]),
    }
)


def school_and_year(partition_key: str) -> tuple[str, int]:
    keys = school_year_partitions.get_partition_key_from_str(partition_key).keys_by_dimension
    return keys["school"], int(keys["year"])


def partition_key(school: str, year: int) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"school": school, "year": str(year)})
