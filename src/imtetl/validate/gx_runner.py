"""Run a suite of :mod:`imtetl.validate.suites` on a Polars frame with Great Expectations.

GX has no Polars support: frames go through its pandas datasource. GX is imported here
only, on first use (its import costs seconds); its context is ephemeral (nothing written
by GX itself), its progress bars and usage statistics are off. Results are kept as JSON in
the build area so that the Data Docs site can be rendered after the build.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from imtetl.validate.suites import Expect

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@dataclass
class Outcome:
    expectation: Expect
    success: bool
    unexpected_count: int = 0
    examples: list[Any] = field(default_factory=list)
    #: index values (e.g. (source_file, row)) of the failing rows, for row-level expectations
    rows: list[tuple] = field(default_factory=list)


@dataclass
class SuiteResult:
    suite: str
    success: bool
    outcomes: list[Outcome]
    result: dict  # GX's own JSON of the validation result
    #: rows the vectorised evaluation checked (validate.evaluate); GX saw ``rows_in_gx``
    rows_checked: int = 0
    rows_in_gx: int = 0

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success]

    def summary(self) -> dict[str, dict]:
        """Failing expectations with unexpected counts and a few example values (for UIs)."""
        return {
            o.expectation.label: {
                "unexpected_count": o.unexpected_count,
                "examples": [_plain(v) for v in o.examples[:5]],
            }
            for o in self.failed
        }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _identity(kind: str, kwargs: dict) -> tuple:
    """(snake_case type, target columns) of an expectation, as GX reports it back."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower()
    targets = tuple(str(kwargs.get(k)) for k in ("column", "column_list", "column_A", "column_B"))
    return snake, targets


@cache
def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    context.data_sources.add_pandas("frames")
    return context


def gx_expectation(expect: Expect):
    import great_expectations.expectations as gxe

    return getattr(gxe, expect.type)(**expect.kwargs)


def build_suite(name: str, expectations: list[Expect]):
    import great_expectations as gx

    # Passing the list at once: add_expectation() re-serialises the stored suite every time.
    return gx.ExpectationSuite(name=name, expectations=[gx_expectation(e) for e in expectations])


_DEFINITIONS: dict[str, tuple[str, object]] = {}


def _validation_definition(name: str, expectations: list[Expect]):
    """The validation definition of a suite, registered once per process and version."""
    import great_expectations as gx

    version = json.dumps([(e.type, e.kwargs) for e in expectations], sort_keys=True, default=str)
    cached = _DEFINITIONS.get(name)
    if cached and cached[0] == version:
        return cached[1]
    context = _context()
    datasource = context.data_sources.get("frames")
    try:
        asset = datasource.get_asset(name)
    except LookupError:
        asset = datasource.add_dataframe_asset(name)
    try:
        batch_definition = asset.get_batch_definition("whole")
    except (KeyError, LookupError, ValueError):
        batch_definition = asset.add_batch_definition_whole_dataframe("whole")
    suite = context.suites.add_or_update(build_suite(name, expectations))
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
    )
    _DEFINITIONS[name] = (version, definition)
    return definition


def _to_pandas(frame: pl.DataFrame):
    decimals = [n for n, t in frame.schema.items() if isinstance(t, pl.Decimal)]
    if decimals:
        frame = frame.with_columns(pl.col(decimals).cast(pl.Float64))
    return frame.to_pandas()


def run_suite(
    name: str,
    expectations: list[Expect],
    frame: pl.DataFrame,
    index: list[str],
    *,
    flags: pl.DataFrame | None = None,
    rows_checked: int | None = None,
) -> SuiteResult:
    """Validate ``frame``; ``index`` columns identify failing rows (e.g. file and row).

    Large frames go through :mod:`imtetl.validate.evaluate` first: GX then validates the
    flagged rows and a sample of the others. ``flags`` (the masks of ``frame``'s rows, when
    the caller evaluated them) must agree with GX's verdict, expectation by expectation."""
    from imtetl.validate import evaluate

    if flags is None and evaluate.supported(expectations):
        sampled = evaluate.gx_frame(frame, evaluate.masks(expectations, frame))
        frame, flags, rows_checked = sampled.frame, sampled.flags, sampled.rows_checked
    definition = _validation_definition(name, expectations)
    result = definition.run(
        batch_parameters={"dataframe": _to_pandas(frame)},
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": index,
            "partial_unexpected_count": 5,
        },
    )
    # GX does not keep the suite's order in its results: pair them by type and arguments.
    by_identity = {_identity(e.type, e.kwargs): e for e in expectations}
    outcomes = []
    for item in result.results:
        config = item.expectation_config
        expect = by_identity[_identity(config.type, config.kwargs)]
        detail = item.result or {}
        rows = []
        if expect.row_level and not item.success:
            for entry in detail.get("unexpected_index_list") or []:
                if isinstance(entry, dict):
                    rows.append(tuple(_plain(entry.get(c)) for c in index))
        outcomes.append(
            Outcome(
                expectation=expect,
                success=bool(item.success),
                unexpected_count=int(detail.get("unexpected_count") or 0),
                examples=list(detail.get("partial_unexpected_list") or [])
                or ([detail["observed_value"]] if "observed_value" in detail else []),
                rows=rows,
            )
        )
    if flags is not None:
        _agree(name, expectations, outcomes, flags)
    return SuiteResult(
        suite=name,
        success=bool(result.success),
        outcomes=outcomes,
        result=json.loads(json.dumps(result.to_json_dict(), default=str)),
        rows_checked=rows_checked if rows_checked is not None else frame.height,
        rows_in_gx=frame.height,
    )


def _agree(name: str, expectations: list[Expect], outcomes: list[Outcome], flags: pl.DataFrame):
    """GX and the vectorised masks must find the same failing rows on GX's frame."""
    from imtetl.validate.evaluate import MASK, ValidationMismatch

    counts = flags.sum().row(0) if flags.height else (0,) * flags.width
    expected = {
        _identity(e.type, e.kwargs): int(counts[flags.columns.index(MASK.format(i))] or 0)
        for i, e in enumerate(expectations)
    }
    wrong = [
        f"{o.expectation.label}: GX {o.unexpected_count}, vectorised "
        f"{expected[_identity(o.expectation.type, o.expectation.kwargs)]}"
        for o in outcomes
        if o.unexpected_count != expected[_identity(o.expectation.type, o.expectation.kwargs)]
    ]
    if wrong:
        raise ValidationMismatch(
            f"suite {name}: Great Expectations and the vectorised evaluation disagree on "
            f"{'; '.join(wrong)}. What to do: report it (a bug in validate/evaluate.py)"
        )


def save_result(result: SuiteResult, folder: Path, key: str) -> Path:
    """Keep GX's result JSON for the Data Docs site (one file per suite and partition)."""
    path = folder / result.suite / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    # written aside then renamed: a run killed mid-write never leaves half a JSON behind
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(result.result, default=str, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
    return path
