"""Load: staging tables, audit and quarantine in the build database, then the dbt project
under ``sql/`` (imtetl.load.dbt) that turns staging into the contract's tables."""

from imtetl.load.build_db import connect_build_db
from imtetl.load.staging import LoadReport, UnitReport, stage_school_dataset

__all__ = [
    "LoadReport",
    "UnitReport",
    "connect_build_db",
    "stage_school_dataset",
]
