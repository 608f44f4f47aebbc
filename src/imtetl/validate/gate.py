"""The gate between a school's normalised rows and its staging tables.

1. The dataset's expectation suite runs on the rows. Rows failing a row-level expectation
   are quarantined with the expectation as their reason; the others go on.
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

from imtetl.read.base import ROW
from imtetl.transform.countries import countries
from imtetl.transform.normalise import UNIT
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
    frame = rows.drop("raw_record")
    if dataset == "mobility":
        frame = frame.with_columns(
            (pl.col("end_date") - pl.col("start_date")).dt.total_days().alias("duration_days")
        )
    return frame


PART = "__partition"


@dataclass
class GateInput:
    rows: pl.DataFrame  # one partition's normalised rows, with UNIT, ROW and raw_record
    rows_read: int
    already_quarantined: int
    max_quarantine_share: float


def run_gates(
    dataset: str,
    parts: list[GateInput],
    *,
    schools: list[str],
    regulated: pl.DataFrame | None = None,
) -> list[GateResult]:
    """Validate several partitions' rows in one run of the suite (GX's fixed cost is paid
    once), then judge each partition on its own."""
    frames = [
        part.rows.with_columns(pl.lit(i, dtype=pl.Int32).alias(PART))
        for i, part in enumerate(parts)
        if part.rows.height
    ]
    results = [GateResult(rows=part.rows, quarantine=_empty_quarantine()) for part in parts]
    if not frames:
        return results
    rows = pl.concat(frames, how="vertical_relaxed")
    index = [PART, UNIT, ROW]
    suite = staging_suite(dataset, schools, sorted(countries()))
    result = run_suite(f"staging_{dataset}", suite, _validation_frame(dataset, rows), index)
    failing: dict[tuple, list[Expect]] = {}
    for outcome in result.failed:
        if outcome.expectation.row_level:
            for key in outcome.rows:
                failing.setdefault((int(key[0]), key[1], int(key[2])), []).append(
                    outcome.expectation
                )
    fees = deviations = None
    if dataset == "tuition" and regulated is not None:
        covered = _with_regulated_fee(rows, regulated)
        if covered.height:
            fees = run_suite(
                "regulated_tuition",
                [
                    Expect(
                        "ExpectColumnPairValuesToBeEqual",
                        {"column_A": "annual_fee_eur", "column_B": "regulated_fee_eur"},
                    )
                ],
                covered.drop("raw_record"),
                index,
            )
            deviations = covered.filter(
                pl.col("annual_fee_eur") != pl.col("regulated_fee_eur")
            ).select(
                PART, "school_code", "programme_code", "academic_year", "fee_category",
                "annual_fee_eur", "regulated_fee_eur", "legal_reference",
            )  # fmt: skip
    for i, part in enumerate(parts):
        gate = results[i]
        gate.suite, gate.fees = result, fees
        if deviations is not None:
            gate.fee_deviations = deviations.filter(pl.col(PART) == i).drop(PART)
        mine = {k[1:]: v for k, v in failing.items() if k[0] == i}
        if mine:
            keys = pl.DataFrame(
                {
                    UNIT: [k[0] for k in mine],
                    ROW: [k[1] for k in mine],
                    "column": [v[0].column for v in mine.values()],
                    "reason": [
                        "expectation failed: " + "; ".join(e.label for e in v)
                        for v in mine.values()
                    ],
                },
                schema_overrides={ROW: part.rows.schema[ROW]},
            )
            bad = part.rows.join(keys, on=[UNIT, ROW], how="inner")
            gate.quarantine = bad.select(
                pl.col(UNIT),
                pl.col(ROW).cast(pl.Int32).alias("row_number"),
                "column",
                "reason",
                "raw_record",
            )
            gate.rows = part.rows.join(keys.select(UNIT, ROW), on=[UNIT, ROW], how="anti")
        quarantined = part.already_quarantined + gate.quarantine.height
        if part.rows_read and quarantined / part.rows_read > part.max_quarantine_share:
            counts: dict[str, int] = {}
            for expectations in mine.values():
                for expect in expectations:
                    counts[expect.label] = counts.get(expect.label, 0) + 1
            worst = sorted(counts.items(), key=lambda item: -item[1])[:2]
            because = "; ".join(f"{label}: {n} rows" for label, n in worst)
            gate.held_back.append(
                f"{quarantined} of {part.rows_read} rows ({quarantined / part.rows_read:.0%}) "
                f"could not be loaded, above the limit of {part.max_quarantine_share:.0%}: "
                "the export looks malformed" + (f" (failing: {because})" if because else "")
            )
    return results


def _empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(
        schema={UNIT: pl.String, "row_number": pl.Int32, "column": pl.String,
                "reason": pl.String, "raw_record": pl.String}
    )  # fmt: skip
