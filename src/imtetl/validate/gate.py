"""The gate between a school's normalised rows and its staging tables.

1. The dataset's expectation suite runs on the rows, one partition at a time, vectorised
   (validate.evaluate). Rows failing a row-level expectation are quarantined with the
   expectation as their reason; the others go on. Great Expectations then confirms the
   verdict in one run per dataset on every flagged row and a sample of the others.
2. The gate holds the whole dataset back when a dataset-level expectation fails or when the
   share of quarantined rows is above the school's limit (``max_quarantine_share``): such an
   export is malformed rather than dirty, and the school's previous rows stay published.
3. For tuition, fees are compared with the regulated fees (``reference/``): a departure is
   a warning, never a reason to hold data back.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import polars as pl

from imtetl.contract import CONTRACT, Duration, Total
from imtetl.read.base import ROW
from imtetl.transform.countries import countries
from imtetl.transform.normalise import RAW, UNIT
from imtetl.validate.evaluate import (
    GX_SAMPLE_ROWS,
    MASK,
    Sampled,
    any_failing,
    gx_frame,
    masks,
)
from imtetl.validate.gx_runner import SuiteResult, run_suite
from imtetl.validate.suites import Expect, staging_suite


@dataclass
class GateResult:
    rows: pl.DataFrame  # rows that may load
    quarantine: pl.DataFrame  # rows the suite set aside: UNIT, row_number, column, reason, raw
    suite: SuiteResult | None = None  # the run of the suite (shared by a run's partitions)
    held_back: list[str] = field(default_factory=list)  # why the dataset is held back
    fees: SuiteResult | None = None  # tuition: comparison with regulated fees
    fee_deviations: pl.DataFrame | None = None
    gx: Sampled | None = None  # flagged rows and a sample, for GX to confirm (then freed)
    covered_fees: pl.DataFrame | None = None  # tuition rows a regulation covers


#: Each partition sends at least this many passing rows to GX (all of them if fewer).
GX_MIN_PART_ROWS = 500


@cache
def regulated_tuition(path: Path) -> pl.DataFrame:
    """The regulated fees (reference/regulated_tuition.csv), one row per school, level, year
    range and category, with the legal text and the public source of each amount."""
    with path.open(encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))
    rows = []
    for record in records:
        for school in record["school_codes"].split():
            rows.append(
                {
                    "school_code": school,
                    "programme_level": record["programme_level"],
                    "first_academic_year": int(record["first_academic_year"]),
                    "last_academic_year": int(record["last_academic_year"]),
                    "fee_category": record["fee_category"],
                    "annual_fee_eur": float(record["annual_fee_eur"]),
                    "also_allowed_eur": float(record["also_allowed_eur"])
                    if record["also_allowed_eur"]
                    else None,
                    "legal_reference": record["legal_reference"],
                    "source_url": record["source_url"],
                    "source_type": record["source_type"],
                }
            )
    return pl.DataFrame(rows)


def _with_regulated_fee(rows: pl.DataFrame, reference: pl.DataFrame) -> pl.DataFrame:
    """Tuition rows that a regulation covers, with the regulated fee closest to theirs."""
    joined = rows.join(reference, on=["school_code", "programme_level", "fee_category"]).filter(
        pl.col("academic_year").is_between("first_academic_year", "last_academic_year")
    )
    fee = pl.col("annual_fee_eur").cast(pl.Float64)
    return joined.with_columns(
        fee.alias("annual_fee_eur"),
        pl.when(fee == pl.col("also_allowed_eur"))
        .then(pl.col("also_allowed_eur"))
        .otherwise(pl.col("annual_fee_eur_right"))
        .alias("regulated_fee_eur"),
    )


def _validation_frame(dataset: str, rows: pl.DataFrame) -> pl.DataFrame:
    """The rows with the columns the contract's rules are checked on (stay durations, one
    person's total full-time equivalent), derived from the rows of the partition."""
    frame = rows.drop(RAW, strict=False)
    spec = CONTRACT[dataset]
    derived = []
    for rule in spec.rules:
        if isinstance(rule, Duration):
            start, end = (pl.col(spec.column(c).staging) for c in (rule.start, rule.end))
            derived.append((end - start).dt.total_days().alias(rule.derived))
        elif isinstance(rule, Total):
            by = ["school_code", *(spec.column(c).staging for c in rule.by)]
            total = pl.col(spec.column(rule.column).staging).cast(pl.Float64).sum().over(by)
            derived.append(total.alias(rule.derived))
    return frame.with_columns(derived) if derived else frame


PART = "__partition"


@dataclass
class GateInput:
    rows: pl.DataFrame  # one partition's normalised rows, with UNIT, ROW and RAW
    rows_read: int
    already_quarantined: int
    max_quarantine_share: float


def raw_record(rows: pl.DataFrame) -> pl.Expr:
    """The quarantine's raw_record of normalised rows: their source values as JSON."""
    if RAW in rows.columns:
        return pl.col(RAW).struct.json_encode().alias("raw_record")
    return pl.lit(None, dtype=pl.String).alias("raw_record")


def gate_partition(
    dataset: str,
    part: GateInput,
    number: int,
    *,
    schools: list[str],
    regulated: pl.DataFrame | None = None,
    sample_rows: int = GX_SAMPLE_ROWS,
) -> GateResult:
    """Judge one partition's rows with the suite's vectorised expectations (every row),
    and keep what Great Expectations must confirm (:func:`confirm`)."""
    gate = GateResult(rows=part.rows, quarantine=_empty_quarantine())
    if not part.rows.height:
        # Nothing left to judge — but a partition whose rows were all set aside before the
        # suite (rejected files, rows the normaliser could not type) is held back, never
        # published as empty.
        reason = quarantine_share_reason(
            part.rows_read, part.already_quarantined, part.max_quarantine_share
        )
        if reason:
            gate.held_back.append(reason)
        return gate
    suite = staging_suite(dataset, schools, sorted(countries()))
    frame = _validation_frame(dataset, part.rows).with_columns(
        pl.lit(number, dtype=pl.Int32).alias(PART)
    )
    flags = masks(suite, frame)
    failing = any_failing(flags)
    gate.gx = gx_frame(frame, flags, sample_rows, seed=number)
    counts = flags.sum().row(0)
    bad_count = int(failing.sum())
    if bad_count:
        labels = [
            pl.when(pl.col(MASK.format(i))).then(pl.lit(e.label)) for i, e in enumerate(suite)
        ]
        columns = [
            pl.when(pl.col(MASK.format(i))).then(pl.lit(e.column)) for i, e in enumerate(suite)
        ]
        flagged = pl.concat([part.rows, flags], how="horizontal").filter(failing)
        gate.quarantine = flagged.select(
            pl.col(UNIT),
            pl.col(ROW).cast(pl.Int32).alias("row_number"),
            pl.coalesce(columns).cast(pl.String).alias("column"),
            pl.concat_str(
                pl.lit("expectation failed: "),
                pl.concat_str(labels, separator="; ", ignore_nulls=True),
            ).alias("reason"),
            raw_record(part.rows),
        )
        gate.rows = part.rows.filter(~failing)
    quarantined = part.already_quarantined + bad_count
    worst = sorted(
        ((e.label, int(n)) for e, n in zip(suite, counts, strict=True) if n),
        key=lambda item: -item[1],
    )[:2]
    because = "; ".join(f"{label}: {n} rows" for label, n in worst)
    reason = quarantine_share_reason(
        part.rows_read, quarantined, part.max_quarantine_share, failing=because
    )
    if reason:
        gate.held_back.append(reason)
    if dataset == "tuition" and regulated is not None:
        covered = _with_regulated_fee(frame, regulated)
        if covered.height:
            gate.covered_fees = covered
            deviating = covered.filter(pl.col("annual_fee_eur") != pl.col("regulated_fee_eur"))
            gate.fee_deviations = deviating.select(
                "school_code", "programme_code", "academic_year", "fee_category",
                "annual_fee_eur", "regulated_fee_eur", "legal_reference",
            )  # fmt: skip
    return gate


def quarantine_share_reason(
    rows_read: int, quarantined: int, limit: float, *, failing: str = ""
) -> str | None:
    """Why a partition is held back, or None: every row of it quarantined, or more than
    ``limit`` of them, whatever the stage that set them aside (reading, normalising, suite)."""
    if not rows_read:
        return None
    share = quarantined / rows_read
    if quarantined >= rows_read:
        text = f"all {rows_read} rows were quarantined"
    elif share > limit:
        text = (
            f"{quarantined} of {rows_read} rows ({share:.0%}) could not be loaded, above the "
            f"limit of {limit:.0%}"
        )
    else:
        return None
    return text + ": the export looks malformed" + (f" (failing: {failing})" if failing else "")


def confirm(dataset: str, gates: list[GateResult], *, schools: list[str]) -> SuiteResult | None:
    """One Great Expectations run over what the partitions' gates kept (their flagged rows
    and samples): its verdict must be the vectorised one (else ValidationMismatch). The
    regulated-fee comparison of tuition runs here too, on every covered fee."""
    sampled = [g.gx for g in gates if g.gx is not None and g.gx.frame.height]
    if not sampled:
        return None
    index = [PART, UNIT, ROW]
    suite = staging_suite(dataset, schools, sorted(countries()))
    result = run_suite(
        f"staging_{dataset}",
        suite,
        pl.concat([s.frame for s in sampled], how="vertical_relaxed"),
        index,
        flags=pl.concat([s.flags for s in sampled]),
        rows_checked=sum(s.rows_checked for s in sampled),
    )
    covered = [g.covered_fees for g in gates if g.covered_fees is not None]
    fees = None
    if covered:
        fees = run_suite(
            "regulated_tuition",
            [
                Expect(
                    "ExpectColumnPairValuesToBeEqual",
                    {"column_A": "annual_fee_eur", "column_B": "regulated_fee_eur"},
                )
            ],
            pl.concat(covered, how="vertical_relaxed"),
            index,
        )
    for gate in gates:
        gate.suite = result
        if gate.covered_fees is not None:
            gate.fees = fees
        gate.gx = None  # GX has seen them: free the rows
    return result


def run_gates(
    dataset: str,
    parts: list[GateInput],
    *,
    schools: list[str],
    regulated: pl.DataFrame | None = None,
) -> list[GateResult]:
    """Gate several partitions, then confirm them in one run of GX (its fixed cost once)."""
    per_part = max(GX_MIN_PART_ROWS, GX_SAMPLE_ROWS // max(1, len(parts)))
    gates = [
        gate_partition(dataset, part, i, schools=schools, regulated=regulated, sample_rows=per_part)
        for i, part in enumerate(parts)
    ]
    confirm(dataset, gates, schools=schools)
    return gates


def _empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(
        schema={UNIT: pl.String, "row_number": pl.Int32, "column": pl.String,
                "reason": pl.String, "raw_record": pl.String}
    )  # fmt: skip
