"""The school exports in the landing zone, one external asset per school: the start of every
lineage line. The landing sensor records a materialization when a school's exports change
(by content), and each school's freshness policy (``freshness_hours`` in its YAML) turns the
asset stale in the UI when its exports are overdue."""

from datetime import timedelta

import dagster as dg

from imtetl.defs.partitions import PIPELINES


def landing_key(school: str) -> dg.AssetKey:
    return dg.AssetKey(["landing", school])


def _spec(pipeline) -> dg.AssetSpec:
    school = pipeline.school
    kinds = {pipeline.format_for(d).kind.replace("json_pages", "json") for d in pipeline.datasets}
    where = ", ".join(f"{d}: {s.files}" for d, s in pipeline.datasets.items())
    return dg.AssetSpec(
        key=landing_key(school.code),
        description=f"The exports of {school.name} in the landing zone ({where}).",
        group_name="landing",
        kinds=kinds,
        owners=["team:data-engineering"],
        freshness_policy=dg.FreshnessPolicy.time_window(
            fail_window=timedelta(hours=pipeline.freshness_hours)
        )
        if pipeline.freshness_hours
        else None,
        metadata={"pipeline": f"pipelines/{school.code.lower()}.yaml"},
    )


landing_specs = [_spec(p) for p in PIPELINES.values()]
