"""The canonical contract of the school datasets, written once, as data.

A school's ``pipelines/*.yaml`` maps its headers onto the *source columns* below; the
normaliser parses each by its *kind* into the staging tables; the staging suite checks the
result; the build database's staging DDL and the data dictionary are generated from the same
records (PUDL keeps its table metadata the same way). Everything else derives from here:

- ``pipeline_config.CANONICAL_COLUMNS`` / ``CODED_COLUMNS`` (what a YAML may map),
- ``transform.normalise``'s ``KINDS``, ``GRAIN``, ``STAGING_COLUMNS``, ``MIN_YEAR``/``MAX_YEAR``,
  ``INT_RANGES``, ``MAX_FEE``,
- the ``CREATE TABLE staging.<dataset>`` statements and their comments (:func:`staging_ddl`),
- ``validate.suites.staging_suite``,
- the "canonical datasets" section of ``imtetl docs``,
- the code lists the sample generator writes its vocabularies for.

Two layers of ranges
--------------------
Each bounded column has two ranges, kept apart on purpose:

``type_range``
    What the value can be at all, enforced by the normaliser while parsing: a row outside it
    is quarantined by its kind ("not an academic year", "not a study year", "negative fee",
    "fee above 99,999,999.99"). It is wide: a school year from 1990 (archives), a study year
    up to 15 (a doctorate after a long degree, a part-time curriculum), any fee that fits
    ``DECIMAL(10, 2)``.
``business_range``
    What is plausible for IMT, enforced by the staging suite (Great Expectations): a row
    outside it is quarantined as "expectation failed: ExpectColumnValuesToBeBetween(...)",
    and many such rows hold the partition back. Academic years 2000-2100, study years 1-10,
    fees up to €50,000 a year, stays of at most 3 x 366 days.

Reconciliation (the copies this module replaced disagreed): the normaliser allowed study
years 1-15 and academic years from 1990, the suite 1-10 and 2000. Both were right, about
different things; they are now the two layers of one column, so the bundled sample's
quarantine (240 rows: 8 schools x 5 years x its 6 seeded defects) and its marts are those of
before. Personal columns (``personal=True``) identify a student directly: they are
pseudonymised on read (``student_id`` -> ``student_key``) and never leave the build.

This module imports nothing from the package: every stage may import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Kind = Literal["text", "year", "int", "country", "code", "money", "fraction", "date", "id", "bool"]
ALL_KINDS: tuple[str, ...] = (
    "text", "year", "int", "country", "code", "money", "fraction", "date", "id", "bool",
)  # fmt: skip

#: What the staging tables hold before the contract's columns: where each row came from.
LINEAGE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("load_id", "VARCHAR", "audit.loads.load_id of the file the row came from"),
    ("source_file", "VARCHAR", "path of that file relative to the landing zone"),
    ("source_row", "INTEGER", "1-based data row number in that file"),
    ("loaded_at", "TIMESTAMP", "when the row was loaded"),
)
#: The school a row belongs to: set by the pipeline from the YAML, not read from the file.
SCHOOL_COLUMN = ("school_code", "VARCHAR", "school whose export held the row (pipelines/*.yaml)")


@dataclass(frozen=True)
class Range:
    """Inclusive bounds; ``None`` is unbounded on that side."""

    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"range {self.min}..{self.max} is empty")

    def __str__(self) -> str:
        def number(value: float | None) -> str:
            if value is None:
                return ""
            return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"

        return f"{number(self.min)}..{number(self.max)}"


@dataclass(frozen=True)
class Column:
    """One canonical column: what a school's YAML maps, and what staging holds."""

    name: str  # the canonical source name, as a school's YAML maps it
    kind: Kind
    sql_type: str  # its staging column's DuckDB type
    required: bool
    description: str
    staging_name: str | None = None  # when staging calls it otherwise
    codes: tuple[str, ...] = ()  # coded values (kinds code and bool), in their order
    type_range: Range | None = None  # enforced by the normaliser (parsing)
    business_range: Range | None = None  # enforced by the staging suite
    personal: bool = False  # identifies a person: pseudonymised on read
    #: the code an optional coded column takes where a school does not map it or leaves it
    #: empty (its staging column is then NOT NULL)
    default: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ALL_KINDS:
            raise ValueError(f"{self.name}: unknown kind {self.kind!r}")
        if (self.kind in ("code", "bool")) != bool(self.codes):
            raise ValueError(f"{self.name}: codes go with kinds code and bool only")
        if self.kind == "bool" and self.codes != ("true", "false"):
            raise ValueError(f"{self.name}: a bool column's codes are ('true', 'false')")
        if self.kind == "id" and not self.personal:
            raise ValueError(f"{self.name}: an id is personal (it is pseudonymised)")
        if self.default is not None and (self.required or self.default not in self.codes):
            raise ValueError(f"{self.name}: a default is one of the codes of an optional column")
        if self.kind in ("int", "fraction", "money") and self.type_range is None:
            raise ValueError(f"{self.name}: a {self.kind} column needs a type range")

    @property
    def not_null(self) -> bool:
        """Whether its staging column is NOT NULL: required, or filled by its default."""
        return self.required or self.default is not None

    @property
    def staging(self) -> str:
        return self.staging_name or self.name


@dataclass(frozen=True)
class AtLeast:
    """A row rule: ``column`` >= ``other`` (or >), when both are there."""

    column: str
    other: str
    or_equal: bool = True
    description: str = ""


@dataclass(frozen=True)
class Duration:
    """A row rule on the days from ``start`` to ``end``, checked as the derived column
    ``derived`` (the gate computes it) and reported on ``end``."""

    start: str
    end: str
    business_range: Range
    derived: str = "duration_days"
    description: str = ""


@dataclass(frozen=True)
class Total:
    """A rule on ``column`` summed over each group of rows with the same ``by`` (within one
    school, as every rule): checked as the derived column ``derived`` (the gate computes it)
    and reported on ``column``; every row of a group whose total is outside the range is
    quarantined."""

    column: str
    by: tuple[str, ...]
    business_range: Range
    derived: str
    description: str = ""


Rule = AtLeast | Duration | Total


def rule_columns(rule: Rule) -> tuple[str, ...]:
    """The source columns a rule reads."""
    if isinstance(rule, AtLeast):
        return (rule.column, rule.other)
    if isinstance(rule, Duration):
        return (rule.start, rule.end)
    return (rule.column, *rule.by)


@dataclass(frozen=True)
class Dataset:
    """One canonical dataset: its columns (in source order), grain, row rules."""

    name: str
    description: str
    columns: tuple[Column, ...]
    grain: tuple[str, ...]  # source names: a second row with the same key is a duplicate
    rules: tuple[Rule, ...] = ()
    #: source columns that lead the staging table after school_code (the partition and the
    #: person: what every query filters on), the rest follow in source order
    staging_leading: tuple[str, ...] = ("academic_year", "student_id")

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: a column is listed twice")
        staging = [c.staging for c in self.columns]
        if len(set(staging)) != len(staging) or "school_code" in staging:
            raise ValueError(f"{self.name}: staging column names collide")
        for name in self.grain:
            if name not in names:
                raise ValueError(f"{self.name}: grain column {name!r} is not a column")
        for rule in self.rules:
            if any(c not in names for c in rule_columns(rule)):
                raise ValueError(f"{self.name}: rule {rule} names an unknown column")
        if sum(c.kind == "id" for c in self.columns) > 1:
            raise ValueError(f"{self.name}: one person id per dataset")

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name or column.staging == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if not c.required)

    @property
    def staging_order(self) -> tuple[Column, ...]:
        """The contract's columns in staging table order (after lineage and school_code)."""
        leading = [
            self.column(n) for n in self.staging_leading if n in {c.name for c in self.columns}
        ]
        return (*leading, *(c for c in self.columns if c not in leading))

    @property
    def staging_columns(self) -> tuple[str, ...]:
        """Staging column names after the lineage columns: school_code, then the contract's."""
        return ("school_code", *(c.staging for c in self.staging_order))

    @property
    def grain_staging(self) -> tuple[str, ...]:
        return tuple(self.column(n).staging for n in self.grain)

    @property
    def person(self) -> Column | None:
        """The dataset's person id (kind id, pseudonymised on read), if it has one."""
        return next((c for c in self.columns if c.kind == "id"), None)

    def with_column(self, column: Column, after: str | None = None) -> Dataset:
        """A copy with ``column`` added (after ``after``, else last): for tests and drafts."""
        columns = list(self.columns)
        at = len(columns) if after is None else [c.name for c in columns].index(after) + 1
        columns.insert(at, column)
        return replace(self, columns=tuple(columns))


@dataclass(frozen=True)
class Contract:
    datasets: tuple[Dataset, ...] = field(default_factory=tuple)

    def __getitem__(self, name: str) -> Dataset:
        for dataset in self.datasets:
            if dataset.name == name:
                return dataset
        raise KeyError(name)

    def __iter__(self):
        return iter(self.datasets)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.datasets)

    def coded_columns(self) -> dict[str, tuple[str, ...]]:
        """Every coded source column and its codes; a column shared by several datasets
        (programme_level, fee_category) must have the same codes in each."""
        coded: dict[str, tuple[str, ...]] = {}
        for dataset in self.datasets:
            for column in dataset.columns:
                if not column.codes:
                    continue
                if coded.setdefault(column.name, column.codes) != column.codes:
                    raise ValueError(f"{column.name}: codes differ between datasets")
        return coded

    def replace_dataset(self, dataset: Dataset) -> Contract:
        return replace(
            self, datasets=tuple(dataset if d.name == dataset.name else d for d in self.datasets)
        )


# ---------------------------------------------------------------------------------------
# The code lists (shared by several datasets)

LEVELS = (
    "bachelor",
    "engineering",
    "msc",
    "mastere_specialise",
    "national_master",
    "phd",
    "exchange",
    "other",
)
ROUTES = (
    "cpge_exam",
    "admission_on_title",
    "post_bac",
    "international_application",
    "double_degree",
    "exchange",
    "other",
)
MODES = ("initial", "apprenticeship", "continuing_education")
FEE_CATEGORIES = ("eu", "non_eu")
DIRECTIONS = ("incoming", "outgoing")
SCHEMES = (
    "erasmus",
    "time_double_degree",
    "bilateral_exchange",
    "internship_abroad",
    "erasmus_staff_teaching",
    "erasmus_staff_training",
    "time_staff_visit",
    "invited_professorship",
    "other",
)
POPULATIONS = ("student", "staff")
CATEGORIES = (
    "professor",
    "associate_professor",
    "lecturer",
    "researcher",
    "postdoc",
    "visiting",
    "other",
)
SEXES = ("F", "M")
LANGUAGES = ("fr", "en")
BOOLEAN = ("true", "false")

#: Type ranges (the normaliser). A year is its start year, 2024 meaning 2024-25.
YEAR_TYPE = Range(1990, 2100)
STUDY_YEAR_TYPE = Range(1, 15)
FEE_TYPE = Range(0, 99_999_999.99)  # DECIMAL(10, 2)
#: Business ranges (the staging suite).
YEAR_BUSINESS = Range(2000, 2100)
STUDY_YEAR_BUSINESS = Range(1, 10)
#: A fee above this is not a yearly tuition fee of an IMT school (the dearest mastère
#: spécialisé costs about a third of it): it is a typo or a total for several years.
FEE_BUSINESS = Range(0, 50_000)
STAY_BUSINESS = Range(0, 3 * 366)  # days: a double degree lasts two years at most, plus slack
#: A full-time equivalent: 1 is full time. One row cannot be more, nor can one person's rows
#: of a school and year together.
FTE_TYPE = Range(0, 1)
FTE_BUSINESS = Range(0, 1)


def _academic_year() -> Column:
    return Column(
        "academic_year",
        "year",
        "INTEGER",
        True,
        "Academic year as its starting calendar year (2024 means 2024-25); sources write "
        "'2024-2025', '2024/25' or 2024.",
        type_range=YEAR_TYPE,
        business_range=YEAR_BUSINESS,
    )


def _student_id() -> Column:
    return Column(
        "student_id",
        "id",
        "VARCHAR",
        True,
        "The school's local student number; staging keeps only its HMAC-SHA256 pseudonym "
        "(keyed, per school), never the number.",
        staging_name="student_key",
        personal=True,
    )


def _programme_code() -> Column:
    return Column(
        "programme_code",
        "text",
        "VARCHAR",
        True,
        "The school's own code of the programme (unique within the school).",
    )


def _programme_name() -> Column:
    return Column(
        "programme_name", "text", "VARCHAR", False, "The programme's name as the school writes it."
    )


def _programme_level() -> Column:
    return Column(
        "programme_level",
        "code",
        "VARCHAR",
        True,
        "Level of the programme (engineering: the diplôme d'ingénieur; exchange: a "
        "non-degree stay).",
        codes=LEVELS,
    )


def _fee_category() -> Column:
    return Column(
        "fee_category",
        "code",
        "VARCHAR",
        True,
        "Fee regime: eu is the EU/EEA/Swiss one.",
        codes=FEE_CATEGORIES,
    )


def _country(name: str, required: bool, description: str) -> Column:
    return Column(name, "country", "VARCHAR", required, f"{description} (ISO 3166-1 alpha-2).")


ENROLMENT = Dataset(
    "enrolment",
    "One row per student, programme and academic year: who is enrolled where, from which "
    "country, by which admission route.",
    (
        _student_id(),
        _academic_year(),
        _programme_code(),
        _programme_name(),
        _programme_level(),
        Column(
            "study_year",
            "int",
            "INTEGER",
            False,
            "Year of study within the programme (1 = first year).",
            type_range=STUDY_YEAR_TYPE,
            business_range=STUDY_YEAR_BUSINESS,
        ),
        Column(
            "is_new_entrant",
            "bool",
            "BOOLEAN",
            True,
            "Whether the student entered the programme that academic year.",
            codes=BOOLEAN,
        ),
        _country("nationality", True, "Nationality of the student"),
        _country(
            "prior_degree_country",
            False,
            "Country of the degree the student was admitted with, NULL when unknown",
        ),
        Column(
            "admission_route",
            "code",
            "VARCHAR",
            True,
            "How the student was admitted.",
            codes=ROUTES,
        ),
        Column(
            "study_mode",
            "code",
            "VARCHAR",
            True,
            "Study mode: initial (student status), apprenticeship or continuing education.",
            codes=MODES,
        ),
        _fee_category(),
        Column(
            "sex",
            "code",
            "VARCHAR",
            False,
            "Sex as the school records it, NULL when not given.",
            codes=SEXES,
        ),
    ),
    grain=("student_id", "programme_code", "academic_year"),
)

TUITION = Dataset(
    "tuition",
    "One row per programme, academic year and fee category: the yearly tuition fee.",
    (
        _academic_year(),
        _programme_code(),
        _programme_name(),
        _programme_level(),
        Column(
            "teaching_language",
            "code",
            "VARCHAR",
            False,
            "Main teaching language (ISO 639-1), NULL when not given.",
            codes=LANGUAGES,
        ),
        _fee_category(),
        Column(
            "annual_fee",
            "money",
            "DECIMAL(10, 2)",
            True,
            "Yearly tuition fee in euros; sources write '€9,000.00', '4 850,00 €', '3200,00'.",
            staging_name="annual_fee_eur",
            type_range=FEE_TYPE,
            business_range=FEE_BUSINESS,
        ),
    ),
    grain=("programme_code", "academic_year", "fee_category"),
)

MOBILITY = Dataset(
    "mobility",
    "One row per stay abroad (outgoing) or at the school (incoming) of a student or, for "
    "population staff, of a member of staff (Erasmus+ teaching and training stays, T.I.M.E. "
    "visits, invited professorships).",
    (
        Column(
            "student_id",
            "id",
            "VARCHAR",
            True,
            "The school's local number of the person: a student number or, for population "
            "staff, the staff number the faculty dataset uses. Staging keeps only its "
            "HMAC-SHA256 pseudonym (keyed, per school), never the number; a staff member's is "
            "the staff_key of the faculty dataset.",
            staging_name="student_key",
            personal=True,
        ),
        Column(
            "population",
            "code",
            "VARCHAR",
            False,
            "Whose stay it is: student, or staff (teaching and research staff). student where "
            "a school does not say.",
            codes=POPULATIONS,
            default="student",
        ),
        Column(
            "direction",
            "code",
            "VARCHAR",
            True,
            "incoming: a partner's student at the school; outgoing: the school's abroad.",
            codes=DIRECTIONS,
        ),
        Column(
            "scheme",
            "code",
            "VARCHAR",
            True,
            "Framework of the stay.",
            codes=SCHEMES,
        ),
        Column(
            "partner_institution",
            "text",
            "VARCHAR",
            False,
            "Name of the partner institution or host organisation.",
        ),
        _country("partner_country", True, "Country of the partner"),
        _academic_year(),
        Column("start_date", "date", "DATE", True, "First day of the stay."),
        Column("end_date", "date", "DATE", True, "Last day of the stay."),
    ),
    grain=("student_id", "start_date", "direction", "partner_institution"),
    rules=(
        AtLeast("end_date", "start_date", description="a stay ends on or after its start"),
        Duration(
            "start_date",
            "end_date",
            STAY_BUSINESS,
            description="a stay lasts at most three years",
        ),
    ),
)

FACULTY = Dataset(
    "faculty",
    "One row per member of the teaching and research staff, academic year and appointment "
    "(category and department): who teaches and researches at the school, from which country, "
    "recruited from where.",
    (
        Column(
            "staff_id",
            "id",
            "VARCHAR",
            True,
            "The school's local staff number; staging keeps only its HMAC-SHA256 pseudonym "
            "(keyed, per school, as student ids), never the number.",
            staging_name="staff_key",
            personal=True,
        ),
        _academic_year(),
        Column(
            "category",
            "code",
            "VARCHAR",
            True,
            "Staff category: professor (professeur), associate_professor (maître de "
            "conférences, maître-assistant), lecturer (enseignant), researcher (chercheur, "
            "ingénieur de recherche), postdoc, visiting (invited or visiting academic), other.",
            codes=CATEGORIES,
        ),
        Column(
            "department",
            "text",
            "VARCHAR",
            False,
            "Department or laboratory of the appointment, as the school writes it; a staff "
            "member with appointments in several has a row for each.",
        ),
        _country("nationality", True, "Nationality of the staff member"),
        _country(
            "country_of_previous_position",
            False,
            "Country of the staff member's previous position, NULL when unknown or a first "
            "position",
        ),
        Column(
            "is_new_hire",
            "bool",
            "BOOLEAN",
            True,
            "Whether the staff member joined the school that academic year.",
            codes=BOOLEAN,
        ),
        Column(
            "fte",
            "fraction",
            "DECIMAL(4, 3)",
            True,
            "Full-time equivalent of the appointment, 0 to 1 (1 is full time); sources write "
            "'0.8', '0,8' or '80 %'.",
            type_range=FTE_TYPE,
            business_range=FTE_BUSINESS,
        ),
        Column(
            "teaches_in_english",
            "bool",
            "BOOLEAN",
            False,
            "Whether the staff member teaches in English, NULL when not given.",
            codes=BOOLEAN,
        ),
    ),
    grain=("staff_id", "academic_year", "category", "department"),
    rules=(
        Total(
            "fte",
            ("staff_id", "academic_year"),
            FTE_BUSINESS,
            derived="fte_total",
            description="a staff member's appointments of one school and year add up to at "
            "most one full-time equivalent",
        ),
    ),
    staging_leading=("academic_year", "staff_id"),
)

CONTRACT = Contract((ENROLMENT, TUITION, MOBILITY, FACULTY))


# ---------------------------------------------------------------------------------------
# Derived views


def canonical_columns(contract: Contract = CONTRACT) -> dict[str, tuple[tuple[str, ...], ...]]:
    """dataset -> (required source columns, optional ones), in source order."""
    return {d.name: (d.required, d.optional) for d in contract}


def kinds(contract: Contract = CONTRACT) -> dict[str, dict[str, str]]:
    """dataset -> source column -> kind, in source order (the normaliser's parsers)."""
    return {d.name: {c.name: c.kind for c in d.columns} for d in contract}


def type_ranges(contract: Contract = CONTRACT, kind: str | None = None) -> dict[str, Range]:
    """source column -> its type range (of one kind, or all), across datasets; a column
    shared by datasets (academic_year) must have the same range in each."""
    ranges: dict[str, Range] = {}
    for dataset in contract:
        for c in dataset.columns:
            if c.type_range is None or kind not in (None, c.kind):
                continue
            if ranges.setdefault(c.name, c.type_range) != c.type_range:
                raise ValueError(f"{c.name}: type ranges differ between datasets")
    return ranges


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def staging_ddl(contract: Contract = CONTRACT, *, comments: bool = True) -> str:
    """``CREATE TABLE IF NOT EXISTS staging.<dataset>`` of every dataset, lineage columns
    first, NOT NULL for the required columns; then their COMMENT ON descriptions."""
    statements = ["CREATE SCHEMA IF NOT EXISTS staging;"]
    notes = []
    for dataset in contract:
        table = f"staging.{dataset.name}"
        lines = [f"    {name} {sql_type} NOT NULL" for name, sql_type, _ in LINEAGE_COLUMNS]
        lines.append(f"    {SCHOOL_COLUMN[0]} {SCHOOL_COLUMN[1]} NOT NULL")
        lines += [
            f"    {c.staging} {c.sql_type}{' NOT NULL' if c.not_null else ''}"
            for c in dataset.staging_order
        ]
        statements.append(f"CREATE TABLE IF NOT EXISTS {table} (\n" + ",\n".join(lines) + "\n);")
        # a column the contract gained since the table was created (its default, if any, for
        # the rows already there)
        statements += [
            f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {c.staging} {c.sql_type}"
            + (f" DEFAULT {_sql_text(c.default)}" if c.default is not None else "")
            + ";"
            for c in dataset.staging_order
            if not c.required
        ]
        notes.append(f"COMMENT ON TABLE {table} IS {_sql_text(dataset.description)};")
        for name, _, description in (*LINEAGE_COLUMNS, SCHOOL_COLUMN):
            notes.append(f"COMMENT ON COLUMN {table}.{name} IS {_sql_text(description)};")
        for column in dataset.staging_order:
            notes.append(
                f"COMMENT ON COLUMN {table}.{column.staging} IS {_sql_text(column_note(column))};"
            )
    return "\n".join(statements + (notes if comments else [])) + "\n"


def column_note(column: Column) -> str:
    """The column's description with its codes and ranges, as the staging comment says it."""
    parts = [column.description]
    if column.kind == "code":
        parts.append("Codes: " + ", ".join(column.codes) + ".")
    if column.default is not None:
        parts.append(f"Default {column.default}.")
    if column.type_range is not None:
        parts.append(f"Type range {column.type_range}.")
    if column.business_range is not None:
        parts.append(f"Business range {column.business_range}.")
    return " ".join(parts)


def markdown(contract: Contract = CONTRACT) -> list[str]:
    """The canonical datasets as Markdown: the source columns a school's YAML maps."""
    lines = [
        "## Canonical datasets (what a school's `pipelines/*.yaml` maps)",
        "",
        "Generated from `src/imtetl/contract.py`. A school maps its headers onto these source "
        "columns (`datasets.<dataset>.columns`) and its spellings onto the codes (`values`). "
        "The *type range* is enforced while parsing (the row is quarantined by its kind); "
        "the *business range* by the staging suite.",
        "",
    ]
    for dataset in contract:
        grain = ", ".join(f"`{c}`" for c in dataset.grain)
        lines += [f"### `{dataset.name}`", "", dataset.description, "", f"Grain: {grain}.", ""]
        lines += [
            "| source column | staging column | kind | type | required | codes "
            "| type range | business range | personal | description |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for c in dataset.columns:
            cells = [
                f"`{c.name}`",
                f"`{c.staging}`",
                c.kind,
                c.sql_type,
                "yes" if c.required else "no",
                ", ".join(f"`{v}`" for v in c.codes)
                + (f" (default `{c.default}`)" if c.default else ""),
                "" if c.type_range is None else str(c.type_range),
                "" if c.business_range is None else str(c.business_range),
                "yes" if c.personal else "",
                c.description.replace("|", "\\|"),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        for rule in dataset.rules:
            if isinstance(rule, AtLeast):
                op = ">=" if rule.or_equal else ">"
                text = f"`{rule.column}` {op} `{rule.other}`"
            elif isinstance(rule, Duration):
                text = f"days from `{rule.start}` to `{rule.end}` in {rule.business_range}"
            else:
                by = ", ".join(f"`{c}`" for c in rule.by)
                text = f"`{rule.column}` summed by {by} in {rule.business_range}"
            lines.append("")
            lines.append(f"Rule: {text}" + (f" ({rule.description})." if rule.description else "."))
        lines.append("")
    return lines


def dbt_source(contract: Contract = CONTRACT) -> dict:
    """The staging tables as the dbt source ``staging`` (sql/models/staging/_staging.yml,
    written by imtetl.load.dbt.write_sources): columns, types and descriptions as the staging
    DDL has them, and the Dagster asset each table is loaded by."""
    tables = []
    for dataset in contract:
        columns = [
            {"name": name, "data_type": sql_type, "description": description}
            for name, sql_type, description in (*LINEAGE_COLUMNS, SCHOOL_COLUMN)
        ]
        columns += [
            {"name": c.staging, "data_type": c.sql_type, "description": column_note(c)}
            for c in dataset.staging_order
        ]
        tables.append(
            {
                "name": dataset.name,
                "description": dataset.description,
                "meta": {"dagster": {"asset_key": ["staging", dataset.name]}},
                "columns": columns,
            }
        )
    return {
        "name": "staging",
        "schema": "staging",
        "description": "The schools' datasets, normalised to the contract's codes and types and "
        "loaded school-year by school-year by the Dagster staging assets (src/imtetl/contract.py).",
        "tables": tables,
    }
