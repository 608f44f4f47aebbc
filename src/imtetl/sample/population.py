"""The cohort model behind the sample: who enters each school, how they progress, where they go.

Every programme admits a cohort each year (entry years reach back far enough that the
students enrolled in the first sample year are there); a cohort's students keep their id and
progress one year of study a year until they finish or leave. Attributes are drawn per cohort
with numpy, from the profiles of `catalog`. Everything is in canonical codes with ISO alpha-2
countries; `formats` turns it into each school's vocabulary.

Randomness: one numpy Generator per (seed, school, purpose[, year]) so that schools (and
years of mobility) are independent of one another.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import polars as pl

from imtetl import contract
from imtetl.sample import catalog
from imtetl.sample.catalog import Programme, School
from imtetl.sample.countries import EU_EEA_CH
from imtetl.sample.names import NAMES, REGIONS, ascii_fold, region_of

#: The contract's code lists (imtetl.contract): the generator writes its schools'
#: spellings of these codes; how each school spells them (sample/formats.py) stays its own.
LEVEL_CODES = contract.LEVELS
ROUTE_CODES = contract.ROUTES
MODE_CODES = contract.MODES
FEE_CODES = contract.FEE_CATEGORIES
DIRECTION_CODES = contract.DIRECTIONS
SCHEME_CODES = contract.SCHEMES
LANGUAGE_CODES = contract.LANGUAGES
SEX_CODES = contract.SEXES
KIND_CODES = tuple(catalog.LEVEL_OF_KIND)


def _check_catalog() -> None:
    """The catalog's levels, routes, modes and schemes are codes of the contract."""
    used = {
        "level": (set(catalog.LEVEL_OF_KIND.values()) | set(catalog.DURATION), LEVEL_CODES),
        "route": ({r for pair in catalog.ROUTES.values() for w in pair for r in w}, ROUTE_CODES),
        "mode": ({m for w in catalog.MODES.values() for m in w}, MODE_CODES),
        "scheme": ({s for w in catalog.OUTGOING_SCHEMES.values() for s in w}, SCHEME_CODES),
    }
    for name, (values, codes) in used.items():
        if unknown := sorted(values - set(codes)):
            raise ValueError(f"sample catalog: {name} {unknown} not in the contract")


_check_catalog()

ENROLMENT_COLUMNS = (
    "student_id",
    "last_name",
    "first_name",
    "email",
    "birth_date",
    "academic_year",
    "programme_code",
    "programme_name",
    "level",
    "study_year",
    "new_entrant",
    "nationality",
    "prior_degree_country",
    "admission_route",
    "study_mode",
    "fee_category",
    "sex",
)
FEES_COLUMNS = (
    "academic_year",
    "programme_code",
    "programme_name",
    "level",
    "language",
    "fee_category",
    "amount",
)
MOBILITY_COLUMNS = (
    "student_id",
    "direction",
    "scheme",
    "partner_name",
    "partner_country",
    "academic_year",
    "start_date",
    "end_date",
    "population",
)

#: Student-number layouts (FORMATS.md): `yy` two-digit entry year, `year` four digits.
ID_FORMAT = {
    "IMTA": "A{yy:02d}-{seq:06d}",
    "TP": "TP{year}-{seq:05d}",
    "TSP": "SP{yy:02d}{seq:06d}",
    "IMTBS": "BS{yy:02d}{seq:06d}",
    "MSE": "MSE-{yy:02d}-{seq:05d}",
    "IMTNE": "NE{yy:02d}{seq:06d}",
    "ALBI": "AB{yy:02d}{seq:05d}",
    "ALES": "AL{yy:02d}{seq:05d}",
}


def student_id(school_code: str, entry_year: int, seq: int) -> str:
    return ID_FORMAT[school_code].format(yy=entry_year % 100, year=entry_year, seq=seq)


def rng_for(seed: int, *parts: str | int) -> np.random.Generator:
    """A Generator seeded from the seed and stable digests of `parts` (never `hash()`)."""
    words = [seed]
    for part in parts:
        words.append(zlib.crc32(part.encode()) if isinstance(part, str) else int(part))
    return np.random.default_rng(np.random.SeedSequence(words))


def _choice(rng: np.random.Generator, weights: dict[str, float], size: int) -> np.ndarray:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    picks = rng.choice(len(keys), size=size, p=p / p.sum())
    return np.array(keys, dtype=object)[picks]


def _days(year: int, month: int, day: int) -> np.datetime64:
    return np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "D")


# ---------------------------------------------------------------------------------------
# Partners


@dataclass(frozen=True)
class Partners:
    """A school's partners: parallel arrays, plus index pools per kind of stay."""

    name: np.ndarray
    country: np.ndarray
    time: np.ndarray
    erasmus: np.ndarray
    universities: np.ndarray  # indices of universities
    companies: np.ndarray  # indices of companies

    def pool(self, scheme: str) -> np.ndarray:
        unis = self.universities
        if scheme == "erasmus":
            return unis[self.erasmus[unis]]
        if scheme == "time_double_degree":
            return unis[self.time[unis]]
        if scheme == "bilateral_exchange":
            return unis[~self.erasmus[unis]]
        if scheme == "internship_abroad":
            return self.companies
        return unis


def partners_for(school: School, seed: int) -> Partners:
    """The universities a school has agreements with (a seeded share of the list, with at
    least one of each kind), and every internship company."""
    rng = rng_for(seed, school.code, "partners")
    unis = catalog.UNIVERSITIES
    chosen = rng.random(len(unis)) < catalog.PARTNER_SHARE
    is_time = np.array([u[2] for u in unis])
    is_erasmus = np.array([u[1] in EU_EEA_CH and u[1] != "CH" for u in unis])
    for pool in (is_time, is_erasmus, ~is_erasmus):
        if not (chosen & pool).any():
            chosen[np.flatnonzero(pool)[0]] = True
    names = [u[0] for u in unis] + [c[0] for c in catalog.COMPANIES]
    countries = [u[1] for u in unis] + [c[1] for c in catalog.COMPANIES]
    n_unis = len(unis)
    return Partners(
        name=np.array(names, dtype=object),
        country=np.array(countries, dtype=object),
        time=np.concatenate([is_time, np.zeros(len(catalog.COMPANIES), dtype=bool)]),
        erasmus=np.array([c in EU_EEA_CH and c != "CH" for c in countries]),
        universities=np.flatnonzero(chosen),
        companies=np.arange(n_unis, len(names)),
    )


# ---------------------------------------------------------------------------------------
# Students


def intake(school: School, programme: Programme, entry_year: int, scale: float) -> int:
    """New entrants of a programme in a year; at least one, so every programme runs."""
    growth = (1 + school.growth) ** (entry_year - catalog.REFERENCE_YEAR)
    return max(1, round(programme.intake * scale * growth))


def _cohort(
    rng: np.random.Generator,
    school: School,
    programme: Programme,
    entry_year: int,
    n: int,
    partners: Partners,
) -> dict[str, np.ndarray]:
    """Draw the attributes of the `n` students entering `programme` in `entry_year`."""
    kind = programme.kind
    french_share, foreign_weights = catalog.NATIONALITY[kind]

    # Students sent by a partner university: exchange students and double degrees.
    sent = np.full(n, kind == "exch")
    if kind in catalog.DOUBLE_DEGREE:
        sent = rng.random(n) < catalog.DOUBLE_DEGREE[kind]
    home = np.full(n, -1)
    if kind == "exch":
        europe, world = partners.pool("erasmus"), partners.pool("bilateral_exchange")
        home = np.where(
            rng.random(n) < catalog.ERASMUS_EXCHANGE,
            europe[rng.integers(len(europe), size=n)],
            world[rng.integers(len(world), size=n)],
        )
    else:
        pool = partners.pool("time_double_degree" if kind == "eng" else "other")
        home[sent] = pool[rng.integers(len(pool), size=int(sent.sum()))]

    foreign = _choice(rng, foreign_weights, n)
    nationality = np.where(rng.random(n) < french_share, "FR", foreign).astype(object)
    from_partner = sent & (rng.random(n) < 0.85)
    nationality[from_partner] = partners.country[home[from_partner]]
    nationality[sent & (nationality == "FR")] = foreign[sent & (nationality == "FR")]
    french = nationality == "FR"

    routes_fr, routes_foreign = catalog.ROUTES[kind]
    route = np.where(french, _choice(rng, routes_fr, n), _choice(rng, routes_foreign, n))
    if kind == "eng" and school.post_bac:
        route[french & (rng.random(n) < school.post_bac)] = "post_bac"
    if kind != "exch":
        route[sent] = "double_degree"

    mode = _choice(rng, catalog.MODES[kind], n)
    if kind == "eng" and school.continuing_engineering:
        mode[rng.random(n) < school.continuing_engineering] = "continuing_education"
    mode[sent] = "initial"

    entry_study_year = np.ones(n, dtype=np.int64)
    if kind == "eng":
        entry_study_year[(route == "admission_on_title") & (rng.random(n) < 0.2)] = 2
        entry_study_year[(route == "double_degree") & (rng.random(n) < 0.8)] = 2
    elif kind == "pge":
        entry_study_year[(route == "admission_on_title") & (rng.random(n) < 0.5)] = 2
    remaining = programme.duration - entry_study_year + 1
    retention = catalog.RETENTION[kind]
    years = remaining
    if retention < 1:
        years = np.minimum(remaining, rng.geometric(1 - retention, size=n))

    p_french_prior = np.array([catalog.FRENCH_PRIOR_DEGREE[r] for r in route])
    if kind == "phd":
        p_french_prior[:] = 0.45
    prior = np.where(rng.random(n) < p_french_prior, "FR", nationality).astype(object)
    prior[french] = "FR"
    prior[sent] = partners.country[home[sent]]

    female_share = programme.female if programme.female is not None else catalog.FEMALE[kind]
    female = rng.random(n) < female_share

    extra = np.clip(np.rint(rng.normal(0.2, 0.8, size=n)), -1, 4)
    continuing = mode == "continuing_education"
    extra[continuing] += rng.integers(5, 16, size=int(continuing.sum()))
    age_days = np.rint((catalog.ENTRY_AGE[kind] + entry_study_year - 1 + extra) * 365.25)
    birth = (
        _days(entry_year, 9, 1)
        - age_days.astype(np.int64).astype("timedelta64[D]")
        - rng.integers(0, 365, size=n).astype("timedelta64[D]")
    )
    return {
        "entry_year": np.full(n, entry_year, dtype=np.int64),
        "entry_study_year": entry_study_year,
        "years": years.astype(np.int64),
        "nationality": nationality,
        "prior": prior,
        "route": route.astype(object),
        "mode": mode,
        "female": female,
        "birth": birth,
        "home": home,
    }


def _names(rng: np.random.Generator, nationality: np.ndarray, female: np.ndarray):
    """Indices into NAMES.given / NAMES.surnames, drawn from each nationality's list."""
    n = len(nationality)
    given = np.zeros(n, dtype=np.int64)
    surname = np.zeros(n, dtype=np.int64)
    region = np.array([region_of(code) for code in nationality], dtype=object)
    for name in REGIONS:
        mask = region == name
        count = int(mask.sum())
        if not count:
            continue
        f0, f1, m0, m1, s0, s1 = NAMES.slices[name]
        fem = female[mask]
        given[mask] = np.where(
            fem, rng.integers(f0, f1, size=count), rng.integers(m0, m1, size=count)
        )
        surname[mask] = rng.integers(s0, s1, size=count)
    return given, surname


_GIVEN = pl.Series(NAMES.given, dtype=pl.String)
_SURNAMES = pl.Series(NAMES.surnames, dtype=pl.String)
_GIVEN_ASCII = pl.Series([ascii_fold(n) for n in NAMES.given], dtype=pl.String)
_SURNAMES_ASCII = pl.Series([ascii_fold(n) for n in NAMES.surnames], dtype=pl.String)


def students(school: School, years: range, scale: float, seed: int, partners: Partners):
    """One row per student of every cohort that can be enrolled during `years` (entry years
    reach back one programme length before the first year), with the years they stay."""
    first_entry = min(years) - max(p.duration for p in school.programmes) + 1
    entry_years = range(first_entry, max(years) + 1)
    parts: list[dict[str, np.ndarray]] = []
    programme_index: list[np.ndarray] = []
    for p_index, programme in enumerate(school.programmes):
        for entry_year in entry_years:
            n = intake(school, programme, entry_year, scale)
            rng = rng_for(seed, school.code, programme.code, entry_year)
            parts.append(_cohort(rng, school, programme, entry_year, n, partners))
            programme_index.append(np.full(n, p_index, dtype=np.int64))
    data = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    prog = np.concatenate(programme_index)
    n = len(prog)

    # Student numbers: per entry year, a seeded starting number, registrations in random order.
    rng = rng_for(seed, school.code, "students")
    seq = np.zeros(n, dtype=np.int64)
    for entry_year in entry_years:
        members = np.flatnonzero(data["entry_year"] == entry_year)
        start = int(rng.integers(100, 4000))
        seq[members[rng.permutation(len(members))]] = start + np.arange(len(members))
    ids = [
        student_id(school.code, int(y), int(s))
        for y, s in zip(data["entry_year"], seq, strict=True)
    ]

    given, surname = _names(rng, data["nationality"], data["female"])
    sex = np.where(data["female"], "F", "M").astype(object)
    if school.missing_values:
        sex[rng.random(n) < 0.005] = None
        data["prior"][rng.random(n) < 0.01] = None

    codes = [p.code for p in school.programmes]
    kind = np.array([KIND_CODES.index(p.kind) for p in school.programmes])[prog]
    fee = np.array(["eu" if c in EU_EEA_CH else "non_eu" for c in data["nationality"]])
    frame = pl.DataFrame(
        {
            "student_id": pl.Series(ids, dtype=pl.String),
            "last_name": _SURNAMES.gather(surname),
            "first_name": _GIVEN.gather(given),
            "given_ascii": _GIVEN_ASCII.gather(given),
            "surname_ascii": _SURNAMES_ASCII.gather(surname),
            "birth_date": pl.Series(data["birth"]).cast(pl.Date),
            "programme": pl.Series(prog, dtype=pl.Int64),
            "kind": pl.Series([KIND_CODES[k] for k in kind], dtype=pl.String),
            "entry_year": data["entry_year"],
            "entry_study_year": data["entry_study_year"],
            "years": data["years"],
            "nationality": pl.Series(data["nationality"].tolist(), dtype=pl.String),
            "prior_degree_country": pl.Series(data["prior"].tolist(), dtype=pl.String),
            "admission_route": pl.Series(data["route"].tolist(), dtype=pl.String),
            "study_mode": pl.Series(data["mode"].tolist(), dtype=pl.String),
            "fee_category": pl.Series(fee.tolist(), dtype=pl.String),
            "sex": pl.Series(sex.tolist(), dtype=pl.String),
            "home": data["home"],
        }
    )
    programme_frame = pl.DataFrame(
        {
            "programme": pl.Series(range(len(codes)), dtype=pl.Int64),
            "programme_code": codes,
            "programme_name": [p.name for p in school.programmes],
            "level": [p.level for p in school.programmes],
        }
    )
    return frame.join(programme_frame, on="programme", how="left").with_columns(
        email=pl.concat_str(
            [
                pl.col("given_ascii"),
                pl.lit("."),
                pl.col("surname_ascii"),
                pl.lit("@"),
                pl.lit(school.email_domain),
            ]
        )
    )


def enrolment(students_frame: pl.DataFrame, years: range) -> pl.DataFrame:
    """One row per student and academic year of `years` in which they are enrolled."""
    span = students_frame["years"].to_numpy()
    starts = np.repeat(np.cumsum(span) - span, span)
    index = np.repeat(np.arange(len(span)), span)
    offset = np.arange(len(index)) - starts
    rows = students_frame.select(
        "student_id",
        "last_name",
        "first_name",
        "email",
        "birth_date",
        "programme_code",
        "programme_name",
        "level",
        "nationality",
        "prior_degree_country",
        "admission_route",
        "study_mode",
        "fee_category",
        "sex",
        "kind",
        "home",
        "entry_year",
        "entry_study_year",
    )[index]
    rows = rows.with_columns(
        academic_year=pl.col("entry_year") + pl.Series(offset),
        study_year=pl.col("entry_study_year") + pl.Series(offset),
        new_entrant=pl.Series(offset == 0),
    ).filter(pl.col("academic_year").is_between(min(years), max(years)))
    return rows.sort(
        "academic_year", "programme_code", "study_year", "student_id", maintain_order=True
    )


# ---------------------------------------------------------------------------------------
# Mobility


def _stay_dates(rng: np.random.Generator, scheme: str, kind: np.ndarray, year: int):
    """Start and end dates of `len(kind)` stays of `scheme` in academic year `year`."""
    n = len(kind)
    day = lambda k: rng.integers(0, k, size=n).astype("timedelta64[D]")  # noqa: E731
    if scheme == "time_double_degree":
        months = rng.choice([12, 18, 22, 24], p=[0.2, 0.2, 0.4, 0.2], size=n)
        start = _days(year, 8, 25) + day(16)
        return start, start + np.rint(months * 30.44).astype("timedelta64[D]")
    if scheme == "internship_abroad":
        start = _days(year + 1, 2, 1) + day(120)
        length = rng.integers(60, 185, size=n).astype("timedelta64[D]")
        return start, np.minimum(start + length, _days(year + 1, 8, 31))
    research = (kind == "phd") | (scheme == "other")
    term = rng.choice(3, p=[0.4, 0.4, 0.2], size=n)  # fall, spring, full year
    fall_start, spring_start = _days(year, 9, 1) + day(14), _days(year + 1, 1, 20) + day(21)
    fall_end, spring_end = _days(year + 1, 1, 15) + day(16), _days(year + 1, 6, 15) + day(25)
    start = np.where(term == 1, spring_start, fall_start)
    end = np.where(term == 0, fall_end, spring_end)
    short_start = _days(year, 10, 1) + day(210)
    short_end = short_start + rng.integers(21, 120, size=n).astype("timedelta64[D]")
    return np.where(research, short_start, start), np.where(research, short_end, end)


def mobility(
    enrolled: pl.DataFrame, partners: Partners, year: int, rng: np.random.Generator
) -> pl.DataFrame:
    """Stays of academic year `year`: outgoing stays drawn among the enrolled students,
    incoming stays of the exchange students and of the double-degree entrants."""
    blocks: list[pl.DataFrame] = []
    ids = enrolled["student_id"].to_numpy()
    kind = enrolled["kind"].to_numpy()
    study_year = enrolled["study_year"].to_numpy()
    route = enrolled["admission_route"].to_numpy()
    home = enrolled["home"].to_numpy()
    new = enrolled["new_entrant"].to_numpy()

    def block(direction, scheme, partner, rows, start, end):
        blocks.append(
            pl.DataFrame(
                {
                    "student_id": pl.Series(ids[rows].tolist(), dtype=pl.String),
                    "direction": [direction] * len(rows),
                    "scheme": pl.Series(scheme.tolist(), dtype=pl.String),
                    "partner_name": pl.Series(partners.name[partner].tolist(), dtype=pl.String),
                    "partner_country": pl.Series(
                        partners.country[partner].tolist(), dtype=pl.String
                    ),
                    "start_date": pl.Series(start).cast(pl.Date),
                    "end_date": pl.Series(end).cast(pl.Date),
                },
                schema_overrides={"direction": pl.String},
            )
        )

    # Outgoing.
    kind_index = (
        enrolled["kind"]
        .replace_strict({k: i for i, k in enumerate(KIND_CODES)}, return_dtype=pl.Int64)
        .to_numpy()
    )
    p_out = _OUTGOING[kind_index, np.clip(study_year, 0, _OUTGOING.shape[1] - 1)]
    p_out[(route == "double_degree") | (route == "exchange")] = 0.0
    going = rng.random(len(kind)) < p_out
    groups = np.unique(np.stack([kind_index[going], study_year[going]]), axis=1)
    for k_index, s in groups.T.tolist():
        k = KIND_CODES[k_index]
        rows = np.flatnonzero(going & (kind_index == k_index) & (study_year == s))
        weights = catalog.OUTGOING_SCHEMES.get((k, s)) or catalog.OUTGOING_SCHEMES[(k, 0)]
        scheme = _choice(rng, weights, len(rows))
        for name in SCHEME_CODES:
            sub = rows[scheme == name]
            if not len(sub):
                continue
            pool = partners.pool(name)
            partner = pool[rng.integers(len(pool), size=len(sub))]
            start, end = _stay_dates(rng, name, kind[sub], year)
            block("outgoing", np.full(len(sub), name, dtype=object), partner, sub, start, end)

    # Incoming: exchange students, and double-degree students in their first year.
    incoming = np.flatnonzero((kind == "exch") | ((route == "double_degree") & new))
    if len(incoming):
        partner = home[incoming]
        is_exchange = kind[incoming] == "exch"
        scheme = np.where(
            is_exchange,
            np.where(partners.erasmus[partner], "erasmus", "bilateral_exchange"),
            np.where(partners.time[partner], "time_double_degree", "bilateral_exchange"),
        ).astype(object)
        start_x, end_x = _stay_dates(rng, "erasmus", kind[incoming], year)
        start_d, end_d = _stay_dates(rng, "time_double_degree", kind[incoming], year)
        start = np.where(is_exchange, start_x, start_d)
        end = np.where(is_exchange, end_x, end_d)
        block("incoming", scheme, partner, incoming, start, end)

    if not blocks:
        return empty_mobility(year)
    frame = pl.concat(blocks).with_columns(
        academic_year=pl.lit(year, dtype=pl.Int64), population=pl.lit("student")
    )
    return frame.select(MOBILITY_COLUMNS).sort(
        "student_id", "start_date", "direction", maintain_order=True
    )


def _outgoing_table() -> np.ndarray:
    """(kind index, year of study) -> probability of an outgoing stay."""
    table = np.zeros((len(KIND_CODES), max(catalog.DURATION.values()) + 1))
    for (k, s), p in catalog.OUTGOING.items():
        table[KIND_CODES.index(k), s] = p
    return table


_OUTGOING = _outgoing_table()


def empty_mobility(year: int) -> pl.DataFrame:
    schema = {c: pl.String for c in MOBILITY_COLUMNS}
    schema.update(academic_year=pl.Int64, start_date=pl.Date, end_date=pl.Date)
    return pl.DataFrame(schema=schema)


# ---------------------------------------------------------------------------------------
# Fees


def fees(school: School, year: int) -> pl.DataFrame:
    """The fee grid of a year: every programme, EU and non-EU."""
    rows = []
    for programme in school.programmes:
        eu, non_eu = catalog.annual_fee(school, programme, year)
        for category, amount in (("eu", eu), ("non_eu", non_eu)):
            rows.append(
                (
                    year,
                    programme.code,
                    programme.name,
                    programme.level,
                    programme.language,
                    category,
                    float(amount),
                )
            )
    return pl.DataFrame(rows, schema=_FEES_SCHEMA, orient="row")


_FEES_SCHEMA = {
    "academic_year": pl.Int64,
    "programme_code": pl.String,
    "programme_name": pl.String,
    "level": pl.String,
    "language": pl.String,
    "fee_category": pl.String,
    "amount": pl.Float64,
}
