"""Validate: judge the transformed rows. The staging gate (Great Expectations suites on each
unit's normalised frame, quarantining the rows that fail, holding back what cannot publish)
and the core checks on the warehouse's models. Comes after transform: imports read,
transform, contract and pipeline_config, never load, publish or defs."""
