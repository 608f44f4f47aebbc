"""Load: staging tables, audit and quarantine in the build database, then the SQL models
(``sql/core``, ``sql/marts``) that turn staging into the contract's tables."""

from imtetl.load.build_db import connect_build_db
from imtetl.load.sql_models import MODEL_FILES, run_model
from imtetl.load.staging import LoadReport, UnitReport, stage_school_dataset

__all__ = [
    "MODEL_FILES",
    "LoadReport",
    "UnitReport",
    "connect_build_db",
    "run_model",
    "stage_school_dataset",
]
