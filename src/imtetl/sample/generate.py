"""`write_sample`: the bundled sample landing zone, every school in its own export format.

For each school the cohort model (`population`) gives canonical enrolment, fee and mobility
rows per academic year, the staff model (`faculty`) its faculty rows and the staff stays of
its mobility export; the seeded bad rows of FORMATS.md are inserted; `formats` renders them
in the school's vocabulary and `writers` lays them out (CSV, Excel, JSON pages, TSV). The
output depends only on (scale, seed, years): same arguments, same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from imtetl.sample import faculty, formats, population, writers
from imtetl.sample.catalog import SCHOOL_BY_CODE, School
from imtetl.sample.countries import BAD_COUNTRY, country_map
from imtetl.sample.formats import BAD, Style
from imtetl.sample.population import Partners, rng_for

DATASETS = ("enrolment", "tuition", "mobility", "faculty")
#: Landing-zone folders this generator owns (and recreates).
FOLDERS = ("imta", "tp", "evry", "mse", "imtne", "albi", "ales")


@dataclass(frozen=True)
class SampleSummary:
    """What `write_sample` wrote: files relative to the output folder, and data rows
    (bad rows included) and seeded bad rows per (school_code, dataset)."""

    files: list[Path]
    rows: dict[tuple[str, str], int]
    bad_rows: dict[tuple[str, str], int]


@dataclass(frozen=True)
class SchoolYear:
    """One school's canonical rows of one academic year, bad rows in place (column `bad`)."""

    enrolment: pl.DataFrame
    tuition: pl.DataFrame
    mobility: pl.DataFrame  # students' stays, then staff's (column population)
    faculty: pl.DataFrame


def write_sample(
    out: Path,
    scale: float = 1.0,
    seed: int = 20260901,
    years: range = range(2021, 2026),
) -> SampleSummary:
    """Write the sample exports of the eight schools for `years` under `out`.

    `scale` multiplies every intake (1.0 ≈ 14,000 students a year, ≈ 72k enrolment rows over
    five years); the seeded bad rows are there at every scale. The school folders under `out`
    are deleted and written again; nothing else under `out` is touched.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if not len(years):
        raise ValueError("years is empty")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for folder in FOLDERS:
        shutil.rmtree(out / folder, ignore_errors=True)
        (out / folder).mkdir()

    files: list[Path] = []
    rows: dict[tuple[str, str], int] = {}
    bad: dict[tuple[str, str], int] = {}

    def count(code: str, data: dict[int, SchoolYear]) -> None:
        for dataset in DATASETS:
            frames = [getattr(data[y], dataset) for y in years]
            rows[(code, dataset)] = sum(f.height for f in frames)
            bad[(code, dataset)] = sum(f["bad"].is_not_null().sum() for f in frames)

    for code, writer in (
        ("IMTA", _write_imta),
        ("TP", _write_tp),
        ("MSE", _write_mse),
        ("IMTNE", _write_imtne),
        ("ALBI", _write_vendor_tsv),
        ("ALES", _write_vendor_tsv),
    ):
        data = school_years(SCHOOL_BY_CODE[code], years, scale, seed)
        files += writer(out, code, data)
        count(code, data)
    evry = {
        code: school_years(SCHOOL_BY_CODE[code], years, scale, seed) for code in ("TSP", "IMTBS")
    }
    files += _write_evry(out, evry)
    for code, data in evry.items():
        count(code, data)

    (out / MARKER).write_text(
        f"{generator_version()} scale={scale} seed={seed} years={years.start}-{years.stop - 1}\n",
        encoding="utf-8",
    )
    return SampleSummary(
        files=sorted(path.relative_to(out) for path in files),
        rows={key: rows[key] for key in sorted(rows)},
        bad_rows={key: bad[key] for key in sorted(bad)},
    )


#: Written beside the school folders: which generator wrote the sample, with what arguments.
MARKER = ".imtetl-sample"


def generator_version() -> str:
    """A digest of the sample generator's code: a sample written by another version of it
    (before a dataset was added, say) is written again (imtetl build, the benchmark)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def is_current(out: Path) -> bool:
    """Whether ``out`` holds the default sample as this version of the generator writes it."""
    marker = Path(out) / MARKER
    if not marker.exists():
        return False
    default = f"{generator_version()} scale=1.0 seed=20260901 years=2021-2025"
    return marker.read_text(encoding="utf-8").strip() == default


# ---------------------------------------------------------------------------------------
# Canonical rows with the seeded bad rows


def school_years(school: School, years: range, scale: float, seed: int) -> dict[int, SchoolYear]:
    """The canonical rows of every academic year of `years` for one school."""
    partners = population.partners_for(school, seed)
    everyone = population.students(school, years, scale, seed, partners)
    enrolled = population.enrolment(everyone, years)
    staff = faculty.staff_years(school, years, scale, seed, partners)
    result = {}
    for year in years:
        this_year = enrolled.filter(pl.col("academic_year") == year)
        stays = population.mobility(
            this_year, partners, year, rng_for(seed, school.code, "mobility", year)
        )
        rng = rng_for(seed, school.code, "bad rows", year)
        enrolment = _seed_enrolment(this_year, school, year, rng)
        tuition = _seed_tuition(population.fees(school, year), school, year, rng)
        students = _seed_mobility(stays, this_year, partners, year, rng)
        # the staff's seeded rows draw from a generator of their own, so that the students'
        # rows (and every student figure) are those of a sample without staff
        staff_rng = rng_for(seed, school.code, "staff bad rows", year)
        roster = staff[year].faculty
        staff_stays = _seed_staff_mobility(staff[year].stays, roster, partners, staff_rng)
        result[year] = SchoolYear(
            enrolment=enrolment,
            tuition=tuition,
            mobility=pl.concat([students, staff_stays]),
            faculty=_seed_faculty(roster, school, year, staff_rng),
        )
    return result


def _with_bad(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(bad=pl.lit(None, dtype=pl.String))


def _insert(
    frame: pl.DataFrame, extra: pl.DataFrame, rng: np.random.Generator, after: dict[int, int]
) -> pl.DataFrame:
    """`frame` with the rows of `extra` inserted at seeded positions; `after` maps an extra
    row to a row of `frame` it must follow (the original of a duplicate)."""
    order = np.arange(frame.height)
    for k in range(extra.height):
        lowest = 0
        if k in after:
            lowest = int(np.flatnonzero(order == after[k])[0]) + 1
        position = int(rng.integers(lowest, len(order) + 1))
        order = np.insert(order, position, frame.height + k)
    return pl.concat([frame, extra.select(frame.columns)], how="vertical")[order]


def _bad_seq(school: School, k: int) -> int:
    """A student number beyond any real one (the top of the school's number range)."""
    width = int(re.search(r"seq:0(\d+)d", population.ID_FORMAT[school.code]).group(1))
    return 10**width - 10 + k


def _seed_enrolment(
    frame: pl.DataFrame, school: School, year: int, rng: np.random.Generator
) -> pl.DataFrame:
    """Add an unknown nationality, an empty programme code and an exact duplicate."""
    frame = _with_bad(frame)
    n = frame.height
    templates = frame[rng.integers(n, size=2).tolist()]
    donors = frame[rng.integers(n, size=2).tolist()]
    original = int(rng.integers(n))
    fresh = templates.with_columns(
        student_id=pl.Series(
            [population.student_id(school.code, year, _bad_seq(school, k)) for k in (1, 2)]
        ),
        last_name=donors["last_name"],
        first_name=donors["first_name"],
        email=donors["email"],
        birth_date=donors["birth_date"],
        new_entrant=pl.lit(False),
        nationality=pl.Series([BAD_COUNTRY, templates["nationality"][1]]),
        programme_code=pl.Series([templates["programme_code"][0], None], dtype=pl.String),
        bad=pl.Series(["unknown_country", "missing_programme"]),
    )
    duplicate = frame[original].with_columns(bad=pl.lit("duplicate"))
    return _insert(frame, pl.concat([fresh, duplicate]), rng, after={2: original})


def _seed_tuition(
    frame: pl.DataFrame, school: School, year: int, rng: np.random.Generator
) -> pl.DataFrame:
    """Add a negative fee for a closed programme no enrolment uses."""
    first = school.programmes[0]
    amount = frame["amount"][0] or 1000.0
    old = pl.DataFrame(
        [
            (
                year,
                f"OLD-{school.code}",
                f"Ancienne formation {school.code} (fermée)",
                first.level,
                "fr",
                "eu",
                -amount,
                "negative_fee",
            )
        ],
        schema={**frame.schema, "bad": pl.String},
        orient="row",
    )
    return _insert(_with_bad(frame), old, rng, after={})


def _seed_mobility(
    frame: pl.DataFrame,
    enrolled: pl.DataFrame,
    partners: Partners,
    year: int,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Add a stay ending before it starts and one in a country that does not exist, for
    enrolled students without another stay that year (so no real stay looks duplicated)."""
    candidates = enrolled.filter(
        (pl.col("kind") != "exch") & ~pl.col("student_id").is_in(frame["student_id"].implode())
    )["student_id"]
    if candidates.is_empty():
        candidates = enrolled["student_id"]
    who = candidates[rng.integers(len(candidates), size=2).tolist()].to_list()
    pool = partners.pool("erasmus")
    where = pool[rng.integers(len(pool), size=2)]
    extra = pl.DataFrame(
        {
            "student_id": who,
            "direction": ["outgoing", "outgoing"],
            "scheme": ["erasmus", "erasmus"],
            "partner_name": partners.name[where].tolist(),
            "partner_country": [partners.country[where[0]], BAD_COUNTRY],
            "academic_year": [year, year],
            "start_date": [dt.date(year + 1, 2, 2), dt.date(year, 9, 7)],
            "end_date": [dt.date(year, 12, 18), dt.date(year + 1, 1, 29)],
            "population": ["student", "student"],
            "bad": ["end_before_start", "unknown_country"],
        },
        schema={**frame.schema, "bad": pl.String},
    )
    return _insert(_with_bad(frame), extra, rng, after={})


def _seed_staff_mobility(
    frame: pl.DataFrame, roster: pl.DataFrame, partners: Partners, rng: np.random.Generator
) -> pl.DataFrame:
    """Add two staff stays the school's YAML cannot map, for staff members without another
    stay that year: a population it has no word for (a doctoral student's stay filed by the
    staff office) and a scheme it has no word for (a conference trip)."""
    candidates = roster.filter(
        (pl.col("category") != "visiting")
        & ~pl.col("staff_id").is_in(frame["student_id"].implode())
    )["staff_id"].unique(maintain_order=True)
    if len(candidates) < 2:
        candidates = roster["staff_id"].unique(maintain_order=True)
    who = candidates[rng.permutation(len(candidates))[:2].tolist()].to_list()
    pool = partners.pool("erasmus")
    where = pool[rng.integers(len(pool), size=2)]
    year = int(roster["academic_year"][0])
    start = dt.date(year, 11, 4) + dt.timedelta(days=int(rng.integers(0, 120)))
    extra = pl.DataFrame(
        {
            "student_id": who,
            "direction": ["outgoing", "outgoing"],
            "scheme": ["erasmus_staff_teaching", BAD],
            "partner_name": partners.name[where].tolist(),
            "partner_country": partners.country[where].tolist(),
            "academic_year": [year, year],
            "start_date": [start, start + dt.timedelta(days=35)],
            "end_date": [start + dt.timedelta(days=4), start + dt.timedelta(days=38)],
            "population": [BAD, "staff"],
            "bad": ["unknown_population", "unknown_scheme"],
        },
        schema={**frame.schema, "bad": pl.String},
    )
    return _insert(_with_bad(frame), extra, rng, after={})


def _seed_faculty(
    frame: pl.DataFrame, school: School, year: int, rng: np.random.Generator
) -> pl.DataFrame:
    """Add an unknown category, an unknown nationality, an FTE above one, a person whose two
    appointments add up to more than one FTE (two rows), a row with no staff number and an
    exact duplicate; the new people have staff numbers beyond any real one."""
    frame = _with_bad(frame)
    n = frame.height
    templates = frame[rng.integers(n, size=6).tolist()]
    donors = frame[rng.integers(n, size=6).tolist()]
    original = int(rng.integers(n))
    departments = faculty.FACULTY[school.code].departments
    first, second = rng.choice(len(departments), size=2, replace=False).tolist()
    ids = [faculty.staff_id(school.code, faculty.bad_seq(school.code, k)) for k in (1, 2, 3, 4)]
    nationality = templates["nationality"].to_list()
    nationality[1] = BAD_COUNTRY
    department = templates["department"].to_list()
    department[3:5] = [departments[first], departments[second]]
    fresh = templates.with_columns(
        staff_id=pl.Series([*ids, ids[3], None], dtype=pl.String),
        last_name=donors["last_name"],
        first_name=donors["first_name"],
        email=donors["email"],
        birth_date=donors["birth_date"],
        category=pl.Series(
            [BAD, "lecturer", "associate_professor", "professor", "professor", "lecturer"]
        ),
        department=pl.Series(department, dtype=pl.String),
        nationality=pl.Series(nationality, dtype=pl.String),
        new_hire=pl.lit(False),
        fte=pl.Series([1.0, 1.0, 1.5, 0.6, 0.6, 1.0]),
        bad=pl.Series(
            [
                "unknown_category",
                "unknown_country",
                "fte_out_of_range",
                "fte_total_above_one",
                "fte_total_above_one",
                "missing_staff_id",
            ]
        ),
    )
    duplicate = frame[original].with_columns(bad=pl.lit("duplicate"))
    return _insert(frame, pl.concat([fresh, duplicate]), rng, after={6: original})


# ---------------------------------------------------------------------------------------
# One writer per layout


def _csv_dataset(
    folder: Path,
    names: dict[str, str],
    data: dict[int, SchoolYear],
    style: Style,
    *,
    separator: str,
    encoding: str,
    bom: bool = False,
    quoting: bool = True,
) -> list[Path]:
    """The four delimited files of every year; `names` gives each dataset's file name
    pattern (`{Y}`, `{Y1}`, `{yy}`)."""
    written = []
    for year, school_year in data.items():
        tables = {
            "enrolment": (
                formats.render_enrolment(school_year.enrolment, style),
                style.enrolment_headers(year),
            ),
            "tuition": (formats.render_fees(school_year.tuition, style), style.fees_headers),
            "mobility": (
                formats.render_mobility(school_year.mobility, style),
                style.mobility_headers,
            ),
            "faculty": (
                formats.render_faculty(school_year.faculty, style),
                style.faculty_headers,
            ),
        }
        for dataset, (frame, headers) in tables.items():
            path = folder / names[dataset].format(Y=year, Y1=year + 1, yy=f"{(year + 1) % 100:02d}")
            writers.write_delimited(
                path,
                frame,
                headers,
                separator=separator,
                encoding=encoding,
                bom=bom,
                quoting=quoting,
            )
            written.append(path)
    return written


def _write_imta(out: Path, code: str, data: dict[int, SchoolYear]) -> list[Path]:
    names = {
        "enrolment": "inscriptions_{Y}-{Y1}.csv",
        "tuition": "frais_{Y}-{Y1}.csv",
        "mobility": "mobilite_{Y}-{Y1}.csv",
        "faculty": "personnel_{Y}-{Y1}.csv",
    }
    return _csv_dataset(
        out / "imta", names, data, formats.IMTA, separator=";", encoding="utf-8", bom=True
    )


def _write_mse(out: Path, code: str, data: dict[int, SchoolYear]) -> list[Path]:
    names = {
        "enrolment": "mse_inscriptions_{Y}-{yy}.csv",
        "tuition": "mse_frais_{Y}-{yy}.csv",
        "mobility": "mse_mobilite_{Y}-{yy}.csv",
        "faculty": "mse_personnel_{Y}-{yy}.csv",
    }
    return _csv_dataset(out / "mse", names, data, formats.MSE, separator=",", encoding="cp1252")


def _write_vendor_tsv(out: Path, code: str, data: dict[int, SchoolYear]) -> list[Path]:
    names = {
        "enrolment": "EXPORT_ENROLMENT_{Y}.tsv",
        "tuition": "EXPORT_FEES_{Y}.tsv",
        "mobility": "EXPORT_MOBILITY_{Y}.tsv",
        "faculty": "EXPORT_STAFF_{Y}.tsv",
    }
    return _csv_dataset(
        out / code.lower(),
        names,
        data,
        formats.VENDOR_TSV,
        separator="\t",
        encoding="utf-8",
        quoting=False,
    )


def _write_evry(out: Path, data: dict[str, dict[int, SchoolYear]]) -> list[Path]:
    """One file per dataset and year for both Évry schools, told apart by `ecole`."""
    style = formats.EVRY
    written = []
    years = list(next(iter(data.values())))
    for year in years:
        parts: dict[str, list[pl.DataFrame]] = {d: [] for d in DATASETS}
        for code, school_data in data.items():
            ecole = pl.lit(formats.EVRY_SCHOOL[code], dtype=pl.String).alias("ecole")
            school_year = school_data[year]
            for dataset, frame in (
                ("enrolment", formats.render_enrolment(school_year.enrolment, style)),
                ("tuition", formats.render_fees(school_year.tuition, style)),
                ("mobility", formats.render_mobility(school_year.mobility, style)),
                ("faculty", formats.render_faculty(school_year.faculty, style)),
            ):
                parts[dataset].append(frame.select(ecole, pl.all()))
        for dataset, name, headers in (
            ("enrolment", f"evry_inscriptions_{year}.csv", style.enrolment_headers(year)),
            ("tuition", f"evry_frais_{year}.csv", style.fees_headers),
            ("mobility", f"evry_mobilite_{year}.csv", style.mobility_headers),
            ("faculty", f"evry_personnel_{year}.csv", style.faculty_headers),
        ):
            path = out / "evry" / name
            writers.write_delimited(
                path, pl.concat(parts[dataset]), headers, separator=",", encoding="utf-8"
            )
            written.append(path)
    return written


def _write_tp(out: Path, code: str, data: dict[int, SchoolYear]) -> list[Path]:
    style = formats.TP
    written = []
    for year, school_year in data.items():
        label = f"{year}-{(year + 1) % 100:02d}"
        path = out / "tp" / f"tp_export_{year}.xlsx"
        writers.write_workbook(
            path,
            [
                (
                    "Enrolments",
                    f"Télécom Paris — Enrolments {label}",
                    style.enrolment_headers(year),
                    formats.render_enrolment(school_year.enrolment, style),
                ),
                (
                    "Fees",
                    f"Télécom Paris — Fees {label}",
                    style.fees_headers,
                    formats.render_fees(school_year.tuition, style),
                ),
                (
                    "Mobility",
                    f"Télécom Paris — Mobility {label}",
                    style.mobility_headers,
                    formats.render_mobility(school_year.mobility, style),
                ),
                (
                    "Faculty",
                    f"Télécom Paris — Faculty {label}",
                    style.faculty_headers,
                    formats.render_faculty(school_year.faculty, style),
                ),
            ],
        )
        written.append(path)
    return written


#: IMT Nord Europe's API records: JSON key -> canonical column (or a nested object).
IMTNE_RECORDS: dict[str, writers.Shape] = {
    "enrolments": {
        "student": {
            "id": "student_id",
            "last_name": "last_name",
            "first_name": "first_name",
            "email": "email",
            "birth_date": "birth_date",
        },
        "academic_year": "academic_year",
        "programme": {"code": "programme_code", "name": "programme_name", "level": "level"},
        "study_year": "study_year",
        "new_entrant": "new_entrant",
        "nationality": "nationality",
        "previous_degree_country": "prior_degree_country",
        "admission_route": "admission_route",
        "study_mode": "study_mode",
        "fee_category": "fee_category",
        "sex": "sex",
    },
    "fees": {
        "academic_year": "academic_year",
        "programme": {
            "code": "programme_code",
            "name": "programme_name",
            "level": "level",
            "language": "language",
        },
        "fee_category": "fee_category",
        "annual_fee": "amount",
    },
    "mobility": {
        "student": {"id": "student_id"},
        "direction": "direction",
        "scheme": "scheme",
        "partner": {"name": "partner_name", "country": "partner_country"},
        "academic_year": "academic_year",
        "start_date": "start_date",
        "end_date": "end_date",
        "population": "population",
    },
    "faculty": {
        "staff": {
            "id": "staff_id",
            "last_name": "last_name",
            "first_name": "first_name",
            "email": "email",
            "birth_date": "birth_date",
        },
        "academic_year": "academic_year",
        "appointment": {"category": "category", "department": "department", "fte": "fte"},
        "nationality": "nationality",
        "previous_position_country": "previous_position_country",
        "new_hire": "new_hire",
        "teaches_in_english": "teaches_in_english",
    },
}
#: What IMT Nord Europe's API writes for the seeded category, population and scheme.
IMTNE_BAD = {"category": "adjunct", "population": "phd_student", "scheme": "mission"}


def _write_imtne(out: Path, code: str, data: dict[int, SchoolYear]) -> list[Path]:
    """Canonical codes, ISO dates, alpha-2 countries, years `2024-2025`, JSON types."""
    written = []
    for year, school_year in data.items():
        for resource, frame in (
            ("enrolments", school_year.enrolment),
            ("fees", school_year.tuition),
            ("mobility", school_year.mobility),
            ("faculty", school_year.faculty),
        ):
            written += writers.write_pages(
                out / "imtne" / resource / str(year),
                resource,
                year,
                _api_values(frame),
                IMTNE_RECORDS[resource],
            )
    return written


def _api_values(frame: pl.DataFrame) -> pl.DataFrame:
    countries = [
        c
        for c in (
            "nationality",
            "prior_degree_country",
            "partner_country",
            "previous_position_country",
        )
        if c in frame.columns
    ]
    codes = [v for c in countries for v in frame[c].drop_nulls().unique().to_list()]
    mapping = country_map("alpha2", codes)
    return frame.with_columns(
        pl.format("{}-{}", "academic_year", pl.col("academic_year") + 1).alias("academic_year"),
        pl.col(pl.Date).dt.strftime("%Y-%m-%d"),
        *(pl.col(c).replace_strict(mapping, return_dtype=pl.String) for c in countries),
        *(
            pl.col(c).replace(BAD, IMTNE_BAD[c])
            for c in ("category", "population", "scheme")
            if c in frame.columns
        ),
    )
