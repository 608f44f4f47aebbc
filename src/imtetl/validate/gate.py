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
    suite: SuiteResult | None = None
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


def run_gate(
    dataset: str,
    rows: pl.DataFrame,
    *,
    schools: list[str],
    rows_read: int,
    already_quarantined: int,
    max_quarantine_share: float,
    regulated: pl.DataFrame | None = None,
) -> GateResult:
    """Validate one school's normalised rows (with UNIT and ROW columns)."""
    suite = staging_suite(dataset, schools, sorted(countries()))
    result = run_suite(f"staging_{dataset}", suite, _validation_frame(dataset, rows), [UNIT, ROW])
    failing: dict[tuple, list[tuple[Expect, str]]] = {}
    for outcome in result.failed:
        if not outcome.expectation.row_level:
            continue
        for key in outcome.rows:
            failing.setdefault(key, []).append((outcome.expectation, outcome.expectation.label))
    quarantine = pl.DataFrame(
        schema={UNIT: pl.String, "row_number": pl.Int32, "column": pl.String,
                "reason": pl.String, "raw_record": pl.String}
    )  # fmt: skip
    if failing:
        keys = pl.DataFrame(
            {
                UNIT: [k[0] for k in failing],
                ROW: [int(k[1]) for k in failing],
                "column": [v[0][0].column for v in failing.values()],
                "reason": [
                    "expectation failed: " + "; ".join(label for _, label in v)
                    for v in failing.values()
                ],
            },
            schema_overrides={ROW: rows.schema[ROW]},
        )
        bad = rows.join(keys, on=[UNIT, ROW], how="inner")
        quarantine = bad.select(
            pl.col(UNIT),
            pl.col(ROW).cast(pl.Int32).alias("row_number"),
            "column",
            "reason",
            "raw_record",
        )
        rows = rows.join(keys.select(UNIT, ROW), on=[UNIT, ROW], how="anti")
    held_back = [
        f"{o.expectation.label} failed (observed {o.examples[:1]})"
        for o in result.failed
        if not o.expectation.row_level
    ]
    quarantined = already_quarantined + quarantine.height
    if rows_read and quarantined / rows_read > max_quarantine_share:
        worst = sorted(result.failed, key=lambda o: -o.unexpected_count)[:2]
        because = "; ".join(f"{o.expectation.label}: {o.unexpected_count} rows" for o in worst)
        held_back.append(
            f"{quarantined} of {rows_read} rows ({quarantined / rows_read:.0%}) could not be "
            f"loaded, above the limit of {max_quarantine_share:.0%}: the export looks malformed"
            + (f" (failing: {because})" if because else "")
        )
    gate = GateResult(rows=rows, quarantine=quarantine, suite=result, held_back=held_back)
    if dataset == "tuition" and rows.height and regulated is not None:
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
                [UNIT, ROW],
            )
            gate.fees = fees
            gate.fee_deviations = covered.filter(
                pl.col("annual_fee_eur") != pl.col("regulated_fee_eur")
            ).select(
                "school_code", "programme_code", "academic_year", "fee_category",
                "annual_fee_eur", "regulated_fee_eur", "legal_reference",
            )  # fmt: skip
    return gate
