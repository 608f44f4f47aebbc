"""The Great Expectations Data Docs site of the last build: one page per suite and school,
rendered from the validation results the build kept (``warehouse/.build/validations``)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def build_data_docs(validations: Path, site: Path, run_name: str) -> Path | None:
    """Render every stored result into a fresh site at ``site``; return its index page."""
    files = sorted(validations.glob("*/*.json"))
    if not files:
        return None
    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResultSchema,
    )
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    staging = site.with_name(site.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.add_data_docs_site(
        site_name="imtetl",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(staging),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    run_id = RunIdentifier(run_name=run_name, run_time=datetime.now(UTC))
    schema = ExpectationSuiteValidationResultSchema()
    suites: dict[str, list[dict]] = {}
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        suite = path.parent.name
        result = schema.load(data)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite),
            run_id=run_id,
            batch_identifier=path.stem,
        )
        context.validation_results_store.set(key, result)
        suites.setdefault(suite, [r["expectation_config"] for r in data.get("results", [])])
    for name, configs in suites.items():
        suite = gx.ExpectationSuite(name=name)
        for config in configs:
            suite.add_expectation_configuration(
                ExpectationConfiguration(type=config["type"], kwargs=config.get("kwargs", {}))
            )
        context.suites.add(suite)
    context.build_data_docs(site_names=["imtetl"])
    shutil.rmtree(site, ignore_errors=True)
    staging.rename(site)
    return site / "index.html"
