"""The code location: `dagster dev` from the project root loads this module.

The definitions are the Dagster objects of the modules under ``imtetl/defs/`` (the layout
`dg scaffold` makes), gathered by ``dg.load_from_defs_folder``: assets under ``defs/assets/``,
jobs, schedules, sensors, and the resources, logger and executor that
``defs/resources.py``, ``defs/loggers.py`` and ``defs/executors.py`` declare with
``@dg.definitions``. The project's configuration (``[tool.dg]`` in pyproject.toml) names the
defs module; an installed wheel carries a copy of it (``imtetl/_project/``)."""

from pathlib import Path

import dagster as dg


def _project_root() -> Path:
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "src" / "imtetl").is_dir():
        return checkout
    return Path(__file__).resolve().parent / "_project"


defs = dg.load_from_defs_folder(path_within_project=_project_root())


# One module-level function per job, for runs whose steps run in processes of their own
# (imtetl.cli._execute_job): what dg.reconstructable records, so that each step process
# loads the job.
def build_warehouse_job() -> dg.JobDefinition:
    return defs.resolve_job_def("build_warehouse")


def load_schools_job() -> dg.JobDefinition:
    return defs.resolve_job_def("load_schools")


def publish_warehouse_job() -> dg.JobDefinition:
    return defs.resolve_job_def("publish_warehouse")


def load_national_job() -> dg.JobDefinition:
    return defs.resolve_job_def("load_national")


RECONSTRUCTABLE = {
    f.__name__.removesuffix("_job"): f
    for f in (build_warehouse_job, load_schools_job, publish_warehouse_job, load_national_job)
}
