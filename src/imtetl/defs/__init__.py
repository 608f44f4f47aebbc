"""Dagster wiring: one file per concern (resources, partitions, assets, jobs); the mechanisms
they call live in read/, validate/, transform/, load/ and publish/."""
