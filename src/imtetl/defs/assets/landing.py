"""The school exports themselves, as external assets: the start of every lineage line."""

import dagster as dg

from imtetl.defs.partitions import school_partitions
from imtetl.pipeline_config import DATASETS

DESCRIPTIONS = {
    "enrolment": "Enrolment exports of each school: one row per student, programme and year, "
    "in the school's own format (pipelines/<school>.yaml says where and how).",
    "tuition": "Fee grids of each school: one row per programme, year and fee category.",
    "mobility": "Mobility exports of each school: one row per incoming or outgoing stay.",
}

landing_specs = [
    dg.AssetSpec(
        key=dg.AssetKey(["landing", dataset]),
        description=DESCRIPTIONS[dataset],
        group_name="landing",
        partitions_def=school_partitions,
        kinds={"csv", "xlsx", "json"},
        owners=["team:data-engineering"],
        metadata={"dagster/uri": "data/landing/ (IMTETL_LANDING)"},
    )
    for dataset in DATASETS
]
