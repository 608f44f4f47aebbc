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

from imtetl.contract import (
    CONTRACT,
    FEE_BUSINESS,
    YEAR_BUSINESS,
    AtLeast,
    Contract,
    Duration,
    Range,
    Total,
)

#: The business ranges of the contract (imtetl.contract), under their former names.
FEE_CEILING_EUR = FEE_BUSINESS.max
YEARS = (YEAR_BUSINESS.min, YEAR_BUSINESS.max)


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


def _in_set(
    column: str, values: tuple[str, ...] | list[str], reported: str | None = None
) -> Expect:
    return Expect(
        "ExpectColumnValuesToBeInSet",
        {"column": column, "value_set": list(values)},
        column=reported or column,
    )


def staging_suite(
    dataset: str, schools: list[str], countries: list[str], contract: Contract = CONTRACT
) -> list[Expect]:
    """The suite of one canonical dataset (the staging tables' columns), derived from the
    contract: not-null for the required columns, the school codes, the business ranges of
    the years, codes and countries in their sets, the other business ranges, the grain
    unique within the school, then the row rules. Columns go in staging order; the column
    reported for a failing row is the source column a school's YAML maps."""
    spec = contract[dataset]
    columns = spec.staging_order
    suite = [
        *_not_null("school_code", *(c.staging for c in columns if c.required)),
        _in_set("school_code", schools),
        *(_between(c.staging, c.business_range, c.name) for c in columns if c.kind == "year"),
        *(_in_set(c.staging, c.codes, c.name) for c in columns if c.kind == "code"),
        *(_in_set(c.staging, countries, c.name) for c in columns if c.kind == "country"),
        *(
            _between(c.staging, c.business_range, c.name)
            for c in columns
            if c.kind != "year" and c.business_range is not None
        ),
        Expect(
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": ["school_code", *spec.grain_staging]},
            column=spec.grain[0],
        ),
    ]
    for rule in spec.rules:
        if isinstance(rule, AtLeast):
            suite.append(
                Expect(
                    "ExpectColumnPairValuesAToBeGreaterThanB",
                    {
                        "column_A": spec.column(rule.column).staging,
                        "column_B": spec.column(rule.other).staging,
                        "or_equal": rule.or_equal,
                    },
                    column=rule.column,
                )
            )
        elif isinstance(rule, Duration):  # the gate derives the column (validate.gate)
            suite.append(_between(rule.derived, rule.business_range, rule.end))
        elif isinstance(rule, Total):  # so does it the group's total
            suite.append(_between(rule.derived, rule.business_range, rule.column))
        else:
            raise TypeError(f"no expectation for the rule {rule!r}")
    return suite


def _between(column: str, bounds: Range | None, reported: str) -> Expect:
    if bounds is None:
        raise ValueError(f"{column}: a year column needs a business range")
    return Expect(
        "ExpectColumnValuesToBeBetween",
        {"column": column, "min_value": bounds.min, "max_value": bounds.max},
        column=reported,
    )
