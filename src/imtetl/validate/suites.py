"""The expectation suites, as code reviewed like code.

One suite per canonical dataset (run on each school's normalised rows before they replace
its staging rows) and one on the core facts (run after the SQL models). Each expectation is
declared here as data — (type, arguments, row_level) — and turned into Great Expectations
objects only when a suite runs, so that importing this module does not import GX.

``row_level`` expectations judge single rows: their failing rows are quarantined with the
expectation as reason, the rest load. The others judge the dataset as a whole: when one
fails, the school's dataset is held back (the gate) and its previous rows stay published.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from imtetl.pipeline_config import CODED_COLUMNS

#: A fee above this is not a yearly tuition fee of an IMT school (the dearest mastère
#: spécialisé costs about a third of it): it is a typo or a total for several years.
FEE_CEILING_EUR = 50_000
YEARS = (2000, 2100)


@dataclass(frozen=True)
class Expect:
    """One expectation: the GX class name, its keyword arguments and whether it is row-level."""

    type: str
    kwargs: dict = field(default_factory=dict)
    row_level: bool = True
    #: the contract column reported in audit.quarantine for a failing row
    column: str | None = None

    @property
    def label(self) -> str:
        target = (
            self.kwargs.get("column")
            or self.kwargs.get("column_list")
            or (
                f"{self.kwargs.get('column_A')}, {self.kwargs.get('column_B')}"
                if "column_A" in self.kwargs
                else ""
            )
        )
        if isinstance(target, list):
            target = ", ".join(target)
        return f"{self.type}({target})" if target else self.type


def _not_null(*columns: str) -> list[Expect]:
    return [Expect("ExpectColumnValuesToNotBeNull", {"column": c}, column=c) for c in columns]


def _in_set(column: str, values: tuple[str, ...] | list[str]) -> Expect:
    return Expect(
        "ExpectColumnValuesToBeInSet", {"column": column, "value_set": list(values)}, column=column
    )


def staging_suite(dataset: str, schools: list[str], countries: list[str]) -> list[Expect]:
    """The suite of one canonical dataset (the staging tables' columns)."""
    common = [
        _in_set("school_code", schools),
        Expect(
            "ExpectColumnValuesToBeBetween",
            {"column": "academic_year", "min_value": YEARS[0], "max_value": YEARS[1]},
            column="academic_year",
        ),
    ]
    if dataset == "enrolment":
        return [
            *_not_null(
                "school_code", "academic_year", "student_key", "programme_code",
                "programme_level", "is_new_entrant", "nationality", "admission_route",
                "study_mode", "fee_category",
            ),
            *common,
            _in_set("programme_level", CODED_COLUMNS["programme_level"]),
            _in_set("admission_route", CODED_COLUMNS["admission_route"]),
            _in_set("study_mode", CODED_COLUMNS["study_mode"]),
            _in_set("fee_category", CODED_COLUMNS["fee_category"]),
            _in_set("sex", CODED_COLUMNS["sex"]),
            _in_set("nationality", countries),
            _in_set("prior_degree_country", countries),
            Expect(
                "ExpectColumnValuesToBeBetween",
                {"column": "study_year", "min_value": 1, "max_value": 10},
                column="study_year",
            ),
            Expect(
                "ExpectCompoundColumnsToBeUnique",
                {"column_list": ["school_code", "student_key", "programme_code", "academic_year"]},
                column="student_id",
            ),
        ]  # fmt: skip
    if dataset == "tuition":
        return [
            *_not_null(
                "school_code", "academic_year", "programme_code", "programme_level",
                "fee_category", "annual_fee_eur",
            ),
            *common,
            _in_set("programme_level", CODED_COLUMNS["programme_level"]),
            _in_set("fee_category", CODED_COLUMNS["fee_category"]),
            _in_set("teaching_language", CODED_COLUMNS["teaching_language"]),
            Expect(
                "ExpectColumnValuesToBeBetween",
                {"column": "annual_fee_eur", "min_value": 0, "max_value": FEE_CEILING_EUR},
                column="annual_fee",
            ),
            Expect(
                "ExpectCompoundColumnsToBeUnique",
                {"column_list": ["school_code", "programme_code", "academic_year", "fee_category"]},
                column="programme_code",
            ),
        ]  # fmt: skip
    return [
        *_not_null(
            "school_code", "academic_year", "student_key", "direction", "scheme",
            "partner_country", "start_date", "end_date",
        ),
        *common,
        _in_set("direction", CODED_COLUMNS["direction"]),
        _in_set("scheme", CODED_COLUMNS["scheme"]),
        _in_set("partner_country", countries),
        Expect(
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": "end_date", "column_B": "start_date", "or_equal": True},
            column="end_date",
        ),
        Expect(
            "ExpectColumnValuesToBeBetween",
            {"column": "duration_days", "min_value": 0, "max_value": 3 * 366},
            column="end_date",
        ),
    ]  # fmt: skip


def core_suite(table: str, programme_ids: list[str]) -> list[Expect]:
    """Relationships and cross-dataset rules on the core facts (whole-warehouse checks)."""
    if table == "fact_enrolment":
        return [
            _in_set("programme_id", programme_ids),
            Expect(
                "ExpectCompoundColumnsToBeUnique",
                {"column_list": ["student_key", "programme_id", "academic_year"]},
            ),
        ]
    if table == "fact_tuition_fee":
        return [
            _in_set("programme_id", programme_ids),
            Expect(
                "ExpectCompoundColumnsToBeUnique",
                {"column_list": ["programme_id", "academic_year", "fee_category"]},
            ),
        ]
    if table == "enrolled_programme_fees":  # one row per enrolled programme, year, category
        return [_in_set("has_fee", [True])]
    if table == "fact_mobility":
        return [
            Expect(
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {"column_A": "end_date", "column_B": "start_date", "or_equal": True},
            )
        ]
    raise KeyError(table)
