"""Declarative automation: new staging partitions flow to a publish without a hand-written job.

The landing sensor (defs/sensors.py) sees new or changed exports and runs ``load_schools``
for exactly their school-years. The models (every dbt model), the publish and its documents
carry :data:`ON_NEW_STAGING`, so the automation condition sensor below then rebuilds and
publishes once, when the staging runs in flight have all finished.

:data:`ON_NEW_STAGING` is ``AutomationCondition.eager()`` without its ``any_deps_missing``
term: a school-year that never loaded (a failed file, a year not yet delivered) is a missing
partition of staging, and ``eager()`` would then never publish the other schools' new rows,
whereas imtetl's rule is that one school's bad file never blocks the others."""

import dagster as dg

ON_NEW_STAGING = (
    (dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated())
    .since_last_handled()
    .with_label("missing or any dependency updated, since last handled")
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("eager, even with school-years missing upstream")

automation = dg.AutomationConditionSensorDefinition(
    name="automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Evaluates the assets' automation conditions: after new staging partitions, "
    "one run rebuilds the models and publishes (imtetl/defs/automation.py).",
)
