"""The staff model behind the sample: who teaches and researches at each school, and their stays.

Each school has a roster of teaching and research staff that carries over from year to year:
permanent staff (professors, associate professors, lecturers) stay for years, contract
researchers and postdocs for a few, visiting academics (invited professors) for one stay.
Each year the leavers are replaced and the roster grows by `GROWTH`; a few associate
professors are promoted. A person keeps their staff number, nationality, previous position
and departments; some hold split appointments in two departments (one row each, their FTEs
adding up to at most one) or work part time.

Staff stays (population ``staff`` of the mobility dataset) are drawn from the roster of each
year: outgoing Erasmus+ teaching and training stays, T.I.M.E. staff visits and invited
professorships at partners; incoming invited professors (the roster's visiting academics,
under their staff number) and incoming Erasmus+ and T.I.M.E. visitors (a visitor number of
their own, not in the faculty export).

Headcounts and shares are FORMATS.md's "Faculty calibration": sourced where a public figure
was found, assumptions otherwise. Everything is in canonical codes and alpha-2 countries;
`formats` writes each school's words. A roster is a few hundred people: drawing it costs
milliseconds whatever the scale of the student population.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import polars as pl

from imtetl import contract
from imtetl.sample.catalog import REFERENCE_YEAR, School
from imtetl.sample.names import NAMES, ascii_fold
from imtetl.sample.population import MOBILITY_COLUMNS, Partners, _choice, _names, rng_for

CATEGORY_CODES = contract.CATEGORIES
POPULATION_CODES = contract.POPULATIONS
STAFF_SCHEMES = (
    "erasmus_staff_teaching",
    "erasmus_staff_training",
    "time_staff_visit",
    "invited_professorship",
)

FACULTY_COLUMNS = (
    "staff_id",
    "last_name",
    "first_name",
    "email",
    "birth_date",
    "academic_year",
    "category",
    "department",
    "nationality",
    "previous_position_country",
    "new_hire",
    "fte",
    "teaches_in_english",
)

#: Staff-number layouts (FORMATS.md); they never look like the school's student numbers.
STAFF_ID_FORMAT = {
    "IMTA": "P{seq:06d}",
    "TP": "TPS{seq:05d}",
    "TSP": "SPE{seq:05d}",
    "IMTBS": "BSE{seq:05d}",
    "MSE": "MSE-P{seq:04d}",
    "IMTNE": "NEP{seq:06d}",
    "ALBI": "ABS{seq:05d}",
    "ALES": "ALS{seq:05d}",
}


def staff_width(school_code: str) -> int:
    return int(re.search(r"seq:0(\d+)d", STAFF_ID_FORMAT[school_code]).group(1))


def staff_id(school_code: str, seq: int) -> str:
    return STAFF_ID_FORMAT[school_code].format(seq=seq)


def visitor_seq(school_code: str, k: int) -> int:
    """Visitors' numbers start at 9 followed by zeros (900000 at IMT Atlantique)."""
    return 9 * 10 ** (staff_width(school_code) - 1) + k


def bad_seq(school_code: str, k: int) -> int:
    """A staff number beyond any real one (the top of the school's number range)."""
    return 10 ** staff_width(school_code) - 10 + k


@dataclass(frozen=True)
class Faculty:
    """One school's teaching and research staff at scale 1 in REFERENCE_YEAR."""

    teaching_staff: int  # enseignants-chercheurs: professors, associate professors, lecturers
    foreign: float  # share of foreign nationals among them
    email_domain: str
    departments: tuple[str, ...]


#: FORMATS.md "Faculty calibration" gives the source or says "assumption" for each figure.
FACULTY: dict[str, Faculty] = {
    "IMTA": Faculty(
        290,
        0.22,
        "imt-atlantique.fr",
        (
            "Informatique",
            "Mathématiques et électronique",
            "Signal et communications",
            "Réseaux, sécurité et multimédia",
            "Systèmes énergétiques et environnement",
            "Physique subatomique et technologies associées",
            "Automatique, productique et informatique",
            "Sciences sociales et de gestion",
            "Langues et international",
        ),
    ),
    "TP": Faculty(
        216,
        0.25,
        "telecom-paris.fr",
        (
            "Computer Science and Networks (INFRES)",
            "Communications and Electronics (COMELEC)",
            "Images, Data and Signal (IDS)",
            "Economics and Social Sciences (SES)",
            "Languages and Cultures",
        ),
    ),
    "TSP": Faculty(
        110,
        0.22,
        "telecom-sudparis.eu",
        (
            "Informatique",
            "Réseaux et services de télécommunications",
            "Électronique et physique",
            "Communications, images et traitement de l'information",
            "Langues et sciences humaines",
        ),
    ),
    "IMTBS": Faculty(
        75,
        0.20,
        "imt-bs.eu",
        (
            "Management, marketing et stratégie",
            "Droit, économie et finance",
            "Systèmes d'information",
            "Langues et sciences humaines",
        ),
    ),
    "MSE": Faculty(
        170,
        0.18,
        "emse.fr",
        (
            "SMS – Sciences des matériaux et des structures",
            "SPIN – Sciences des processus industriels et naturels",
            "CMP – Microélectronique en Provence",
            "CIS – Ingénierie et santé",
            "Fayol – Génie industriel et informatique",
        ),
    ),
    "IMTNE": Faculty(
        130,
        0.15,
        "imt-nord-europe.fr",
        (
            "CERI Systèmes numériques",
            "CERI Énergie et environnement",
            "CERI Matériaux et procédés",
            "Langues et cultures",
        ),
    ),
    "ALBI": Faculty(
        90,
        0.12,
        "mines-albi.fr",
        (
            "RAPSODEE",
            "Institut Clément Ader",
            "Centre Génie Industriel",
            "Langues et sciences humaines",
        ),
    ),
    "ALES": Faculty(
        110,
        0.12,
        "mines-ales.fr",
        (
            "PCH - Polymères, composites et hybrides",
            "LGI2P - Informatique et intelligence artificielle",
            "LSR - Sciences des risques",
            "EuroMov Digital Health in Motion",
            "Langues et sciences humaines",
        ),
    ),
}

#: Headcount of each category per teaching-staff member (assumption), and the floor kept at
#: small scales so that every category is there and the seeded bad rows stay a small share.
CATEGORY_MIX = {
    "professor": 0.30,
    "associate_professor": 0.55,
    "lecturer": 0.15,
    "researcher": 0.12,
    "postdoc": 0.15,
    "visiting": 0.04,
    "other": 0.03,
}
FLOOR = {
    "professor": 6,
    "associate_professor": 10,
    "lecturer": 4,
    "researcher": 3,
    "postdoc": 4,
    "visiting": 2,
    "other": 1,
}
#: Yearly headcount growth (assumption, in line with the 120 extra posts of IMT's 2024-27
#: contract for all its schools).
GROWTH = 0.015
#: Probability of staying to the next year, per category (assumption).
RETENTION = {
    "professor": 0.95,
    "associate_professor": 0.94,
    "lecturer": 0.85,
    "researcher": 0.70,
    "postdoc": 0.50,
    "visiting": 0.0,
    "other": 0.80,
}
PROMOTION = 0.03  # associate professor -> professor, per year
RETIREMENT = 67
#: Age on joining (uniform range), per category; the first year's roster is drawn by its
#: age that year (CURRENT_AGE), its seniority capped by that age.
AGE = {
    "professor": (38, 60),
    "associate_professor": (28, 50),
    "lecturer": (28, 58),
    "researcher": (26, 50),
    "postdoc": (27, 34),
    "visiting": (35, 64),
    "other": (30, 60),
}
CURRENT_AGE = {
    "professor": (42, 66),
    "associate_professor": (30, 62),
    "lecturer": (30, 64),
    "researcher": (27, 55),
    "postdoc": (27, 35),
    "visiting": (35, 66),
    "other": (30, 64),
}
PERMANENT = ("professor", "associate_professor", "lecturer", "other")
SPLIT_SHARE = 0.04  # permanent staff and researchers with appointments in two departments
SPLIT_FTES = ((0.5, 0.5), (0.6, 0.4), (0.7, 0.3), (0.8, 0.2))
PART_TIME = {"lecturer": 0.15, "other": 0.3}  # others permanent: 0.06
PART_TIME_FTES = (0.5, 0.6, 0.8, 0.9)
VISIT_FTES = (0.1, 0.2, 0.25)  # an invited professorship of one to three months

_FOREIGN_STAFF = (
    "IT 8 ES 7 DE 5 CN 7 LB 6 TN 7 MA 7 DZ 5 IN 6 IR 4 BR 5 GR 3 RO 3 PT 3 BE 4 VN 3 CO 2 "
    "US 2 GB 2 CA 2 PL 2 TR 2 SN 2 CM 2"
)
FOREIGN_STAFF = {
    code: float(weight)
    for code, weight in zip(_FOREIGN_STAFF.split()[::2], _FOREIGN_STAFF.split()[1::2], strict=True)
}
#: Where French staff held a position abroad before.
_ABROAD = "DE 3 GB 3 US 3 CA 2 CH 3 BE 2 ES 1 IT 1 NL 2 SE 1 JP 1"
ABROAD = {
    code: float(weight)
    for code, weight in zip(_ABROAD.split()[::2], _ABROAD.split()[1::2], strict=True)
}

#: Staff stays per year and eligible staff member (assumption), at least one of each.
OUTGOING_STAYS = {
    "erasmus_staff_teaching": 0.06,
    "erasmus_staff_training": 0.02,
    "time_staff_visit": 0.015,
    "invited_professorship": 0.01,
}
INCOMING_VISITS = {"erasmus_staff_teaching": 0.04, "time_staff_visit": 0.01}
STAY_DAYS = {  # inclusive length of a stay, uniform
    "erasmus_staff_teaching": (3, 14),
    "erasmus_staff_training": (3, 14),
    "time_staff_visit": (2, 7),
    "invited_professorship": (30, 92),
}
_POOL = {
    "erasmus_staff_teaching": "erasmus",
    "erasmus_staff_training": "erasmus",
    "time_staff_visit": "time_double_degree",
    "invited_professorship": "other",
}


def headcount(school: School, category: str, year: int, scale: float) -> int:
    profile = FACULTY[school.code]
    growth = (1 + GROWTH) ** (year - REFERENCE_YEAR)
    count = round(profile.teaching_staff * CATEGORY_MIX[category] * scale * growth)
    return max(FLOOR[category], count)


@dataclass
class _Person:
    staff_id: str
    category: str
    given: int
    surname: int
    birth: dt.date
    nationality: str
    previous: str | None
    departments: tuple[str, ...]
    ftes: tuple[float, ...]
    english: bool | None
    hired: int
    home: int  # partner index a visiting academic comes from, else -1


@dataclass(frozen=True)
class StaffYear:
    """A school's faculty rows and staff stays of one academic year (canonical codes)."""

    faculty: pl.DataFrame
    stays: pl.DataFrame


class _Roster:
    def __init__(self, school: School, partners: Partners, seed: int) -> None:
        self.school = school
        self.profile = FACULTY[school.code]
        self.partners = partners
        self.rng = rng_for(seed, school.code, "faculty")
        self.people: list[_Person] = []
        self.active: list[int] = []
        self.seq = int(self.rng.integers(100, 3000))
        self.visitors = 0

    def next_visitor(self) -> str:
        self.visitors += 1
        return staff_id(self.school.code, visitor_seq(self.school.code, self.visitors))

    def hire(self, category: str, n: int, year: int, first: bool) -> None:
        """`n` people joining `category`; in the first year, most of them were there before."""
        if n <= 0:
            return
        rng = self.rng
        visiting = category == "visiting"
        home = np.full(n, -1)
        if visiting:
            pool = self.partners.pool("other")
            home = pool[rng.integers(len(pool), size=n)]
        if category in PERMANENT:
            french = 1 - self.profile.foreign
        elif category == "researcher":
            french = max(0.4, 1 - 2 * self.profile.foreign)
        elif category == "postdoc":
            french = 0.45
        else:
            french = 0.05
        foreign = _choice(rng, FOREIGN_STAFF, n)
        nationality = np.where(rng.random(n) < french, "FR", foreign).astype(object)
        if visiting:
            from_partner = rng.random(n) < 0.85
            nationality[from_partner] = self.partners.country[home[from_partner]]
        abroad = _choice(rng, ABROAD, n)
        other = _choice(rng, FOREIGN_STAFF, n)
        draw = rng.random(n)
        previous = np.empty(n, dtype=object)
        for i in range(n):
            if visiting:
                previous[i] = self.partners.country[home[i]]
            elif nationality[i] == "FR":
                stay_home = 0.6 if category == "postdoc" else 0.8
                previous[i] = "FR" if draw[i] < stay_home else abroad[i] if draw[i] < 0.94 else None
            else:
                previous[i] = (
                    nationality[i]
                    if draw[i] < 0.45
                    else "FR"
                    if draw[i] < 0.8
                    else other[i]
                    if draw[i] < 0.93
                    else None
                )
        female = rng.random(n) < (0.30 if category != "postdoc" else 0.35)
        given, surname = _names(rng, nationality, female)
        low, high = (CURRENT_AGE if first else AGE)[category]
        age = rng.integers(low, high + 1, size=n)  # in `year`
        days = rng.integers(0, 365, size=n)
        retention = RETENTION[category]
        seniority = np.zeros(n, dtype=np.int64)
        if first and retention > 0:
            # the roster of the first year: most were hired before it, at 26 or later
            seniority = np.where(
                rng.random(n) < 1 - retention, 0, rng.geometric(1 - retention, size=n)
            )
            seniority = np.minimum(seniority, np.maximum(age - 26, 0))
        departments = self.profile.departments
        dept = rng.integers(len(departments), size=n)
        second = (dept + 1 + rng.integers(len(departments) - 1, size=n)) % len(departments)
        split = rng.random(n) < SPLIT_SHARE
        pair = rng.integers(len(SPLIT_FTES), size=n)
        part = rng.random(n) < PART_TIME.get(category, 0.06 if category in PERMANENT else 0)
        part_fte = np.array(PART_TIME_FTES)[rng.integers(len(PART_TIME_FTES), size=n)]
        visit_fte = np.array(VISIT_FTES)[rng.integers(len(VISIT_FTES), size=n)]
        p_english = {"visiting": 0.8, "researcher": 0.15, "postdoc": 0.15}.get(category)
        english_draw = rng.random(n)
        unknown = rng.random(n) < 0.03
        for i in range(n):
            if visiting:
                number = self.next_visitor()
            else:
                self.seq += 1
                number = staff_id(self.school.code, self.seq)
            if visiting:
                ftes: tuple[float, ...] = (float(visit_fte[i]),)
                depts: tuple[str, ...] = (departments[dept[i]],)
            elif split[i] and category in (*PERMANENT, "researcher"):
                ftes = SPLIT_FTES[pair[i]]
                depts = (departments[dept[i]], departments[second[i]])
            else:
                ftes = (float(part_fte[i]) if part[i] else 1.0,)
                depts = (departments[dept[i]],)
            p = p_english if p_english is not None else (0.3 if nationality[i] == "FR" else 0.7)
            joined = year - int(seniority[i])
            self.people.append(
                _Person(
                    staff_id=number,
                    category=category,
                    given=int(given[i]),
                    surname=int(surname[i]),
                    birth=dt.date(year - int(age[i]), 1, 1) + dt.timedelta(days=int(days[i])),
                    nationality=str(nationality[i]),
                    previous=previous[i],
                    departments=depts,
                    ftes=ftes,
                    english=None if unknown[i] else bool(english_draw[i] < p),
                    hired=joined,
                    home=int(home[i]),
                )
            )
            self.active.append(len(self.people) - 1)

    def advance(self, year: int) -> None:
        """On to `year`: leavers leave (at 67 at the latest), a few associate professors are
        promoted."""
        stay = self.rng.random(len(self.active))
        self.active = [
            i
            for i, draw in zip(self.active, stay, strict=True)
            if draw < RETENTION[self.people[i].category]
            and year - self.people[i].birth.year < RETIREMENT
        ]
        promoted = self.rng.random(len(self.active)) < PROMOTION
        for i, up in zip(self.active, promoted, strict=True):
            if up and self.people[i].category == "associate_professor":
                self.people[i].category = "professor"

    def split_one(self) -> None:
        """Every year has a split appointment: the first (associate) professor of the
        roster without one takes a joint appointment in a second department, half time in
        each."""
        departments = self.profile.departments
        for i in self.active:
            p = self.people[i]
            if p.category in ("associate_professor", "professor") and len(p.ftes) == 1:
                other = departments[(departments.index(p.departments[0]) + 1) % len(departments)]
                p.departments, p.ftes = (p.departments[0], other), (0.5, 0.5)
                return

    def year(self, year: int, scale: float, first: bool) -> pl.DataFrame:
        if not first:
            self.advance(year)
        for category in CATEGORY_CODES:
            have = sum(self.people[i].category == category for i in self.active)
            self.hire(category, headcount(self.school, category, year, scale) - have, year, first)
        if not any(len(self.people[i].departments) == 2 for i in self.active):
            self.split_one()
        rows = []
        for i in self.active:
            p = self.people[i]
            for department, fte in zip(p.departments, p.ftes, strict=True):
                rows.append((i, department, fte))
        return self.frame(rows, year)

    def frame(self, rows: list[tuple[int, str, float]], year: int) -> pl.DataFrame:
        people = [self.people[i] for i, _, _ in rows]
        given = [NAMES.given[p.given] for p in people]
        surname = [NAMES.surnames[p.surname] for p in people]
        email = [
            f"{ascii_fold(g)}.{ascii_fold(s)}@{self.profile.email_domain}".replace(" ", "-")
            for g, s in zip(given, surname, strict=True)
        ]
        frame = pl.DataFrame(
            {
                "staff_id": [p.staff_id for p in people],
                "last_name": surname,
                "first_name": given,
                "email": email,
                "birth_date": [p.birth for p in people],
                "academic_year": [year] * len(rows),
                "category": [p.category for p in people],
                "department": [d for _, d, _ in rows],
                "nationality": [p.nationality for p in people],
                "previous_position_country": [p.previous for p in people],
                "new_hire": [p.hired == year for p in people],
                "fte": [f for _, _, f in rows],
                "teaches_in_english": [p.english for p in people],
                "home": [p.home for p in people],
            },
            schema=FACULTY_SCHEMA | {"home": pl.Int64},
        )
        return frame.sort("staff_id", "department", maintain_order=True)


FACULTY_SCHEMA = {
    "staff_id": pl.String,
    "last_name": pl.String,
    "first_name": pl.String,
    "email": pl.String,
    "birth_date": pl.Date,
    "academic_year": pl.Int64,
    "category": pl.String,
    "department": pl.String,
    "nationality": pl.String,
    "previous_position_country": pl.String,
    "new_hire": pl.Boolean,
    "fte": pl.Float64,
    "teaches_in_english": pl.Boolean,
}


def staff_years(
    school: School, years: range, scale: float, seed: int, partners: Partners
) -> dict[int, StaffYear]:
    """The faculty rows and staff stays of every academic year of `years` for one school."""
    roster = _Roster(school, partners, seed)
    result = {}
    for year in years:
        frame = roster.year(year, scale, first=year == years[0])
        rng = rng_for(seed, school.code, "staff mobility", year)
        stays = _stays(frame, roster, year, rng)
        result[year] = StaffYear(faculty=frame.drop("home"), stays=stays)
    return result


def _stays(
    frame: pl.DataFrame, roster: _Roster, year: int, rng: np.random.Generator
) -> pl.DataFrame:
    partners = roster.partners
    people = frame.unique("staff_id", keep="first", maintain_order=True)
    rows: list[tuple] = []

    def stay(number: str, direction: str, scheme: str, partner: int, days: int | None = None):
        low, high = STAY_DAYS[scheme]
        length = days or int(rng.integers(low, high + 1))
        latest = 240 if scheme != "invited_professorship" else 200
        start = dt.date(year, 9, 15) + dt.timedelta(days=int(rng.integers(0, latest)))
        end = start + dt.timedelta(days=length - 1)
        rows.append(
            (
                number,
                direction,
                scheme,
                str(partners.name[partner]),
                str(partners.country[partner]),
                year,
                start,
                end,
                "staff",
            )
        )

    def partner_for(scheme: str) -> int:
        pool = partners.pool(_POOL[scheme])
        return int(pool[rng.integers(len(pool))])

    eligible = people.filter(pl.col("category").is_in(["visiting"]).not_())["staff_id"]
    order = eligible.to_list()
    order = [order[i] for i in rng.permutation(len(order))]
    n = len(order)
    taken = 0
    for scheme, rate in OUTGOING_STAYS.items():
        count = min(max(1, round(rate * n)), n - taken)
        for number in order[taken : taken + count]:
            stay(number, "outgoing", scheme, partner_for(scheme))
        taken += count
    visiting = people.filter(pl.col("category") == "visiting")
    for number, home, fte in visiting.select("staff_id", "home", "fte").iter_rows():
        stay(number, "incoming", "invited_professorship", home, days=round(fte * 365))
    for scheme, rate in INCOMING_VISITS.items():
        for _ in range(max(1, round(rate * n))):
            stay(roster.next_visitor(), "incoming", scheme, partner_for(scheme))
    schema = {
        "student_id": pl.String,
        "direction": pl.String,
        "scheme": pl.String,
        "partner_name": pl.String,
        "partner_country": pl.String,
        "academic_year": pl.Int64,
        "start_date": pl.Date,
        "end_date": pl.Date,
        "population": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row").select(MOBILITY_COLUMNS)
