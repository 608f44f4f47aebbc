"""An onboarding corpus: twelve invented schools, each exporting in its own style, written by
this module (no bundled files), with one pipelines/*.yaml each and the figures the marts must
show, computed here from the rows written (never from the warehouse).

The data of a school is first drawn as canonical records (contract codes, ISO countries,
``Decimal`` euros, ``date``s); a :class:`Style` then spells every value the school's way and
lays the rows out in its files. The expected figures are computed from the canonical records
of the rows that must load (deliberately bad rows are kept apart, with the column that must
reject them). See tests/test_onboarding_corpus.py.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import yaml

# --------------------------------------------------------------------------- canonical data

#: alpha-2 -> (French name, English name, alpha-3): the spellings the schools use.
COUNTRIES = {
    "FR": ("France", "France", "FRA"),
    "MA": ("Maroc", "Morocco", "MAR"),
    "CN": ("Chine", "China", "CHN"),
    "CI": ("Côte d'Ivoire", "Côte d'Ivoire", "CIV"),
    "VN": ("Viêt Nam", "Viet Nam", "VNM"),
    "DE": ("Allemagne", "Germany", "DEU"),
    "IT": ("Italie", "Italy", "ITA"),
    "BR": ("Brésil", "Brazil", "BRA"),
    "IN": ("Inde", "India", "IND"),
    "SN": ("Sénégal", "Senegal", "SEN"),
    "TN": ("Tunisie", "Tunisia", "TUN"),
    "LB": ("Liban", "Lebanon", "LBN"),
    "CO": ("Colombie", "Colombia", "COL"),
    "PL": ("Pologne", "Poland", "POL"),
    "HU": ("Hongrie", "Hungary", "HUN"),
    "ES": ("Espagne", "Spain", "ESP"),
    "CH": ("Suisse", "Switzerland", "CHE"),
    "US": ("États-Unis", "United States", "USA"),
    "JP": ("Japon", "Japan", "JPN"),
    "CA": ("Canada", "Canada", "CAN"),
}
#: Nationals of these pay the EU fee (EU/EEA and Switzerland).
EU_FEE = {"FR", "DE", "IT", "PL", "HU", "ES", "CH"}
FOREIGN = [c for c in COUNTRIES if c != "FR"]

#: code -> (default name, level, teaching language)
PROGRAMMES = {
    "ING": ("Ingénieur généraliste", "engineering", "fr"),
    "MSC-DS": ("MSc Data Science", "msc", "en"),
    "MSC-EE": ("MSc Énergie et environnement", "msc", "en"),
    "MS-CYB": ("Mastère spécialisé Cybersécurité", "mastere_specialise", "fr"),
}
MASTERS_LEVELS = ("msc", "mastere_specialise", "national_master")
SCHEMES = ("erasmus", "time_double_degree", "bilateral_exchange", "internship_abroad", "other")


@dataclass(frozen=True)
class Enrolment:
    school: str
    year: int
    student_id: str
    programme_code: str
    programme_name: str
    level: str
    study_year: int
    is_new: bool
    nationality: str
    prior: str | None
    route: str
    mode: str
    fee_category: str
    sex: str


@dataclass(frozen=True)
class Fee:
    school: str
    year: int
    programme_code: str
    programme_name: str
    level: str
    language: str
    fee_category: str
    fee: Decimal


@dataclass(frozen=True)
class Stay:
    school: str
    year: int
    student_id: str
    direction: str
    scheme: str
    institution: str
    country: str
    start: date
    end: date


@dataclass
class Population:
    enrolments: list[Enrolment] = field(default_factory=list)
    fees: list[Fee] = field(default_factory=list)
    stays: list[Stay] = field(default_factory=list)


def draw_population(
    school: str,
    years: Iterable[int],
    seed: int,
    names: dict[str, str] | None = None,
    institutions: list[str] | None = None,
    whole_euros: bool = False,
) -> Population:
    """A small school: a full fee grid, 20-40 enrolments and 6-14 stays per year."""
    rng = random.Random(seed)
    names = {**{c: p[0] for c, p in PROGRAMMES.items()}, **(names or {})}
    institutions = institutions or ["Universidad Politécnica", "Technische Hochschule", "Polytech"]
    pop = Population()
    base = {
        (code, cat): Decimal(rng.randrange(2000, 6000 if cat == "eu" else 16000, 50))
        for code in PROGRAMMES
        for cat in ("eu", "non_eu")
    }
    for offset, year in enumerate(years):
        for code, (_name, level, language) in PROGRAMMES.items():
            for cat in ("eu", "non_eu"):
                cents = 0 if whole_euros else rng.choice((0, 0, 50, 25))
                fee = base[code, cat] + 150 * offset + Decimal(cents) / 100
                pop.fees.append(Fee(school, year, code, names[code], level, language, cat, fee))
        for i in range(rng.randint(20, 40)):
            code = rng.choice(list(PROGRAMMES))
            _name, level, _lang = PROGRAMMES[code]
            nationality = "FR" if rng.random() < 0.45 else rng.choice(FOREIGN)
            if nationality == "FR":
                prior = "FR" if rng.random() < 0.9 else None
            else:
                draw = rng.random()
                prior = nationality if draw < 0.65 else ("FR" if draw < 0.9 else None)
            is_new = rng.random() < 0.6
            if level == "engineering":
                route = rng.choice(
                    ("cpge_exam", "cpge_exam", "admission_on_title", "double_degree")
                )
                mode = rng.choice(("initial", "initial", "apprenticeship"))
            elif level == "msc":
                route = rng.choice(("international_application", "admission_on_title", "other"))
                mode = "initial"
            else:
                route = "admission_on_title"
                mode = rng.choice(("initial", "continuing_education"))
            pop.enrolments.append(
                Enrolment(
                    school,
                    year,
                    f"{school}{year % 100:02d}{i:03d}",
                    code,
                    names[code],
                    level,
                    1 if is_new else rng.choice((2, 3)) if level == "engineering" else 2,
                    is_new,
                    nationality,
                    prior,
                    route,
                    mode,
                    "eu" if nationality in EU_FEE else "non_eu",
                    rng.choice("FM"),
                )
            )
        stays: list[Stay] = []
        for i in range(rng.randint(6, 14)):
            start = date(year, 9, 1) + timedelta(days=rng.randint(0, 150))
            end = start + timedelta(days=rng.randint(30, 320))
            if stays and rng.random() < 0.25:  # the same student's second stay elsewhere
                prev = stays[-1]
                stays.append(
                    replace(prev, institution=prev.institution + " II", start=start, end=end)
                )
                continue
            stays.append(
                Stay(
                    school,
                    year,
                    f"{school}M{year % 100:02d}{i:03d}",
                    rng.choice(("incoming", "outgoing")),
                    rng.choice(SCHEMES),
                    rng.choice(institutions),
                    rng.choice(FOREIGN),
                    start,
                    end,
                )
            )
        pop.stays.extend(stays)
    return pop


# --------------------------------------------------------------------------- styles

WORDS = {
    "fr": {
        "level": {"engineering": "Ingénieur", "msc": "MSc", "mastere_specialise": "Mastère spé"},
        "route": {
            "cpge_exam": "Concours", "admission_on_title": "Sur titre",
            "international_application": "Candidature internationale",
            "double_degree": "Double diplôme", "other": "Autre",
        },
        "mode": {"initial": "FI", "apprenticeship": "FA", "continuing_education": "FC"},
        "fee": {"eu": "UE", "non_eu": "Hors UE"},
        "sex": {"F": "F", "M": "H"},
        "direction": {"incoming": "Entrant", "outgoing": "Sortant"},
        "scheme": {
            "erasmus": "Erasmus+", "time_double_degree": "T.I.M.E.",
            "bilateral_exchange": "Accord bilatéral", "internship_abroad": "Stage",
            "other": "Autre",
        },
        "language": {"fr": "Français", "en": "Anglais"},
    },
    "en": {
        "level": {"engineering": "Engineering", "msc": "MSc", "mastere_specialise": "Spec. Master"},
        "route": {
            "cpge_exam": "Competitive exam", "admission_on_title": "On title",
            "international_application": "International", "double_degree": "Double degree",
            "other": "Misc",
        },
        "mode": {"initial": "Full-time", "apprenticeship": "Apprentice",
                 "continuing_education": "Continuing"},
        "fee": {"eu": "EU", "non_eu": "Non-EU"},
        "sex": {"F": "Female", "M": "Male"},
        "direction": {"incoming": "In", "outgoing": "Out"},
        "scheme": {
            "erasmus": "Erasmus", "time_double_degree": "TIME", "bilateral_exchange": "Bilateral",
            "internship_abroad": "Internship", "other": "Misc",
        },
        "language": {"fr": "French", "en": "English"},
    },
    "de": {
        "level": {"engineering": "Diplomingenieur", "msc": "Master of Science",
                  "mastere_specialise": "Weiterbildungsmaster"},
        "route": {
            "cpge_exam": "Auswahlprüfung", "admission_on_title": "Quereinstieg",
            "international_application": "Internationale Bewerbung",
            "double_degree": "Doppelabschluss", "other": "Sonstige",
        },
        "mode": {"initial": "Vollzeit", "apprenticeship": "Dual",
                 "continuing_education": "Weiterbildung"},
        "fee": {"eu": "EU", "non_eu": "Drittstaat"},
        "sex": {"F": "W", "M": "M"},
        "direction": {"incoming": "Eingehend", "outgoing": "Ausgehend"},
        "scheme": {
            "erasmus": "Erasmus+", "time_double_degree": "TIME-Doppeldiplom",
            "bilateral_exchange": "Austausch", "internship_abroad": "Auslandspraktikum",
            "other": "Sonstige",
        },
        "language": {"fr": "Französisch", "en": "Englisch"},
    },
    "pl": {  # Polish/Hungarian words, all in ISO-8859-2
        "level": {"engineering": "Inżynier", "msc": "Mesterképzés",
                  "mastere_specialise": "Szakirányú képzés"},
        "route": {
            "cpge_exam": "Egzamin", "admission_on_title": "Felvétel",
            "international_application": "Nemzetközi", "double_degree": "Podwójny dyplom",
            "other": "Inne",
        },
        "mode": {"initial": "Nappali", "apprenticeship": "Duális",
                 "continuing_education": "Levelező"},
        "fee": {"eu": "UE", "non_eu": "Spoza UE"},
        "sex": {"F": "K", "M": "M"},
        "direction": {"incoming": "Przyjazd", "outgoing": "Wyjazd"},
        "scheme": {
            "erasmus": "Erasmus+", "time_double_degree": "TIME", "bilateral_exchange": "Umowa",
            "internship_abroad": "Staż", "other": "Inne",
        },
        "language": {"fr": "francuski", "en": "angielski"},
    },
    "codes": {  # a school's own codes
        "level": {"engineering": "N1", "msc": "N2", "mastere_specialise": "N3"},
        "route": {
            "cpge_exam": "R1", "admission_on_title": "R2", "international_application": "R3",
            "double_degree": "R4", "other": "R9",
        },
        "mode": {"initial": "M1", "apprenticeship": "M2", "continuing_education": "M3"},
        "fee": {"eu": "T1", "non_eu": "T2"},
        "sex": {"F": "2", "M": "1"},
        "direction": {"incoming": "I", "outgoing": "O"},
        "scheme": {
            "erasmus": "S1", "time_double_degree": "S2", "bilateral_exchange": "S3",
            "internship_abroad": "S4", "other": "S9",
        },
        "language": {"fr": "L1", "en": "L2"},
    },
}  # fmt: skip

#: WORDS keys -> the coded column of the YAML's ``values``.
CODED = {
    "level": "programme_level", "route": "admission_route", "mode": "study_mode",
    "fee": "fee_category", "sex": "sex", "direction": "direction", "scheme": "scheme",
    "language": "teaching_language",
}  # fmt: skip

#: Raw headers per dataset and canonical column, per header language.
HEADERS = {
    "fr": {
        "enrolment": {
            "student_id": "N° étudiant", "academic_year": "Année universitaire",
            "programme_code": "Code formation", "programme_name": "Libellé formation",
            "programme_level": "Niveau", "study_year": "Année d'études",
            "is_new_entrant": "Nouvel entrant", "nationality": "Nationalité",
            "prior_degree_country": "Pays du diplôme antérieur",
            "admission_route": "Voie d'admission", "study_mode": "Régime",
            "fee_category": "Régime de frais", "sex": "Sexe",
        },
        "tuition": {
            "academic_year": "Année universitaire", "programme_code": "Code formation",
            "programme_name": "Libellé formation", "programme_level": "Niveau",
            "teaching_language": "Langue", "fee_category": "Régime de frais",
            "annual_fee": "Montant annuel",
        },
        "mobility": {
            "student_id": "N° étudiant", "direction": "Sens", "scheme": "Dispositif",
            "partner_institution": "Établissement partenaire", "partner_country": "Pays",
            "academic_year": "Année universitaire", "start_date": "Début", "end_date": "Fin",
        },
        "personal": ["Nom", "Prénom"],
    },
    "en": {
        "enrolment": {
            "student_id": "Student number", "academic_year": "Academic year",
            "programme_code": "Programme code", "programme_name": "Programme",
            "programme_level": "Level", "study_year": "Year of study",
            "is_new_entrant": "New entrant", "nationality": "Citizenship",
            "prior_degree_country": "Previous degree country",
            "admission_route": "Admission", "study_mode": "Mode", "fee_category": "Fee status",
            "sex": "Gender",
        },
        "tuition": {
            "academic_year": "Academic year", "programme_code": "Programme code",
            "programme_name": "Programme", "programme_level": "Level",
            "teaching_language": "Language", "fee_category": "Fee status",
            "annual_fee": "Annual fee",
        },
        "mobility": {
            "student_id": "Student number", "direction": "Direction", "scheme": "Scheme",
            "partner_institution": "Partner", "partner_country": "Partner country",
            "academic_year": "Academic year", "start_date": "From", "end_date": "To",
        },
        "personal": ["Surname", "Given name"],
    },
    "de": {
        "enrolment": {
            "student_id": "Matrikelnummer", "academic_year": "Studienjahr",
            "programme_code": "Studiengang", "programme_name": "Bezeichnung",
            "programme_level": "Abschluss", "study_year": "Fachsemester",
            "is_new_entrant": "Neu eingeschrieben", "nationality": "Staatsangehörigkeit",
            "prior_degree_country": "Land der Hochschulzugangsberechtigung",
            "admission_route": "Zulassung", "study_mode": "Studienform",
            "fee_category": "Gebührengruppe", "sex": "Geschlecht",
        },
        "tuition": {
            "academic_year": "Studienjahr", "programme_code": "Studiengang",
            "programme_name": "Bezeichnung", "programme_level": "Abschluss",
            "teaching_language": "Unterrichtssprache", "fee_category": "Gebührengruppe",
            "annual_fee": "Jahresgebühr",
        },
        "mobility": {
            "student_id": "Matrikelnummer", "direction": "Richtung", "scheme": "Programm",
            "partner_institution": "Partnerhochschule", "partner_country": "Partnerland",
            "academic_year": "Studienjahr", "start_date": "Beginn", "end_date": "Ende",
        },
        "personal": ["Nachname", "Vorname"],
    },
    "pl": {
        "enrolment": {
            "student_id": "Nr albumu", "academic_year": "Rok akademicki",
            "programme_code": "Kod kierunku", "programme_name": "Kierunek",
            "programme_level": "Poziom", "study_year": "Rok studiów",
            "is_new_entrant": "Nowy", "nationality": "Obywatelstwo",
            "prior_degree_country": "Kraj poprzedniego dyplomu", "admission_route": "Rekrutacja",
            "study_mode": "Forma", "fee_category": "Opłaty", "sex": "Płeć",
        },
        "tuition": {
            "academic_year": "Rok akademicki", "programme_code": "Kod kierunku",
            "programme_name": "Kierunek", "programme_level": "Poziom",
            "teaching_language": "Język", "fee_category": "Opłaty", "annual_fee": "Czesne",
        },
        "mobility": {
            "student_id": "Nr albumu", "direction": "Kierunek wymiany", "scheme": "Program",
            "partner_institution": "Uczelnia partnerska", "partner_country": "Kraj",
            "academic_year": "Rok akademicki", "start_date": "Początek", "end_date": "Koniec",
        },
        "personal": ["Nazwisko", "Imię"],
    },
}  # fmt: skip

PERSON_NAMES = ["Zoë Lefèvre", "Jürgen Groß", "Łukasz Wróbel", "Ödön Kőrösi", "Anaïs Çelik"]


def _year_dash(year: int) -> str:
    return f"{year}-{year + 1}"


def _money_plain(fee: Decimal) -> str:
    return f"{fee:.2f}"


def _group(fee: Decimal, thousands: str, decimal_mark: str, cents: bool = True) -> str:
    whole, frac = f"{fee:.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", thousands)
    return f"{grouped}{decimal_mark}{frac}" if cents else grouped


@dataclass
class Style:
    """How one school writes its exports."""

    code: str
    name: str
    comment: str
    words: str  # key of WORDS
    headers: str  # key of HEADERS
    layout: str  # per_year | one_file | xlsx | json_pages
    fmt: dict  # the YAML's school-level format
    data_years: tuple[int, ...] = (2021, 2022, 2023, 2024, 2025)
    coverage: str | None = None  # datasets.<name>.years
    ext: str = "csv"
    file_stem: Callable[[str, int], str] = lambda ds, y: f"{ds}_{y}"
    year: Callable[[int], str] = _year_dash
    money: Callable[[Decimal], str] = _money_plain
    day: Callable[[date, int], str] = lambda d, i: d.isoformat()
    country: Callable[[str, int], str] = lambda c, i: c
    boolean: tuple[str, str] = ("oui", "non")
    title: list[str] = field(default_factory=list)  # lines above the header
    notes: list[str] = field(default_factory=list)  # lines below the data
    names: dict[str, str] = field(default_factory=dict)  # programme names
    institutions: list[str] | None = None
    whole_euros: bool = False
    #: (dataset, year, canonical column, raw value): rows that must be quarantined
    bad: list[tuple[str, int, str, str]] = field(default_factory=list)
    extra_values: dict[str, dict[str, str]] = field(default_factory=dict)
    seed: int = 0

    @property
    def folder(self) -> str:
        return self.code.lower()

    def values(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for key, column in CODED.items():
            out[column] = {raw: code for code, raw in WORDS[self.words][key].items()}
        for column, mapping in self.extra_values.items():
            out.setdefault(column, {}).update(mapping)
        return out


@dataclass(frozen=True)
class BadRow:
    school: str
    dataset: str
    source_file: str
    column: str  # canonical column that rejects the row
    raw_value: str


@dataclass
class Written:
    """What the corpus wrote for one school."""

    style: Style
    population: Population  # the rows that must load
    #: (dataset, audit.loads source_file) -> rows written (good and bad)
    files: dict[tuple[str, str], int] = field(default_factory=dict)
    bad: list[BadRow] = field(default_factory=list)
    yaml_path: Path | None = None


# ---- rendering one canonical record as the school's raw values (canonical -> raw string)


def _render(style: Style, dataset: str, record, index: int) -> dict[str, str | None]:
    words = WORDS[style.words]
    if dataset == "enrolment":
        e: Enrolment = record
        return {
            "student_id": e.student_id,
            "academic_year": style.year(e.year),
            "programme_code": e.programme_code,
            "programme_name": e.programme_name,
            "programme_level": words["level"][e.level],
            "study_year": str(e.study_year),
            "is_new_entrant": style.boolean[0] if e.is_new else style.boolean[1],
            "nationality": style.country(e.nationality, index),
            "prior_degree_country": None if e.prior is None else style.country(e.prior, index + 1),
            "admission_route": words["route"][e.route],
            "study_mode": words["mode"][e.mode],
            "fee_category": words["fee"][e.fee_category],
            "sex": words["sex"][e.sex],
        }
    if dataset == "tuition":
        f: Fee = record
        return {
            "academic_year": style.year(f.year),
            "programme_code": f.programme_code,
            "programme_name": f.programme_name,
            "programme_level": words["level"][f.level],
            "teaching_language": words["language"][f.language],
            "fee_category": words["fee"][f.fee_category],
            "annual_fee": style.money(f.fee),
        }
    s: Stay = record
    return {
        "student_id": s.student_id,
        "direction": words["direction"][s.direction],
        "scheme": words["scheme"][s.scheme],
        "partner_institution": s.institution,
        "partner_country": style.country(s.country, index),
        "academic_year": style.year(s.year),
        "start_date": style.day(s.start, index),
        "end_date": style.day(s.end, index + 1),
    }


def _records(pop: Population, dataset: str) -> list:
    return {"enrolment": pop.enrolments, "tuition": pop.fees, "mobility": pop.stays}[dataset]


def _rows_by_file(style: Style, pop: Population, dataset: str):
    """{file key (a year, or None for one file): [(canonical record or None, raw dict)]}, with
    the style's bad rows put in the middle of their file; also the BadRow list (file unset)."""
    groups: dict[int | None, list] = defaultdict(list)
    per_year = style.layout in ("per_year", "json_pages")
    for index, record in enumerate(_records(pop, dataset)):
        groups[record.year if per_year else None].append(
            (record, _render(style, dataset, record, index))
        )
    bad = []
    for number, (ds, year, column, raw_value) in enumerate(style.bad):
        if ds != dataset:
            continue
        key = year if per_year else None
        template = next(r for r in _records(pop, dataset) if r.year == year)
        raw = _render(style, dataset, template, 0)
        raw[column] = raw_value
        if "student_id" in raw:
            raw["student_id"] = f"{style.code}BAD{number:02d}"
        rows = groups[key]
        rows.insert(len(rows) // 2, (None, raw))
        bad.append((key, column, raw_value))
    return groups, bad


def _personal(style: Style, index: int, encoding: str) -> list[str]:
    name = PERSON_NAMES[index % len(PERSON_NAMES)]
    try:
        name.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        name = "Martin Dupont"
    first, last = name.split(" ")
    return [last, first]


def _table(style: Style, dataset: str, rows: list, encoding: str) -> tuple[list[str], list[list]]:
    headers = HEADERS[style.headers]
    mapping = headers[dataset]
    personal = headers["personal"] if dataset == "enrolment" else []
    header = list(mapping.values()) + personal
    body = []
    for index, (_record, raw) in enumerate(rows):
        line = [raw[c] for c in mapping]
        if personal:
            line += _personal(style, index, encoding)
        body.append(line)
    return header, body


def _write_delimited(path: Path, style: Style, header: list[str], body: list[list]) -> None:
    fmt = style.fmt
    out = io.StringIO()
    for line in style.title:
        out.write(line + "\n")
    writer = csv.writer(
        out, delimiter=fmt.get("separator", ","), quotechar=fmt.get("quote_char") or '"',
        lineterminator="\n",
        quoting=csv.QUOTE_MINIMAL if fmt.get("quote_char", '"') else csv.QUOTE_NONE,
    )  # fmt: skip
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in line] for line in body])
    for line in style.notes:
        out.write(line + "\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue().encode(fmt.get("encoding", "utf-8")))  # strict


def _write_xlsx(path: Path, style: Style, sheets: dict[str, tuple[list[str], list[list]]]):
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path))
    day_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    for sheet_name, (header, body) in sheets.items():
        sheet = workbook.add_worksheet(sheet_name)
        sheet.write_row(0, 0, header)
        for r, line in enumerate(body, start=1):
            for c, value in enumerate(line):
                if isinstance(value, date):
                    sheet.write_datetime(r, c, datetime(value.year, value.month, value.day),
                                         day_format)  # fmt: skip
                elif isinstance(value, int | float | Decimal):
                    sheet.write_number(r, c, float(value))
                elif value is not None:
                    sheet.write_string(r, c, value)
    workbook.close()


XLSX_SHEETS = {"enrolment": "Inscriptions", "tuition": "Frais", "mobility": "Mobilité"}


def _json_record(dataset: str, record, raw: dict) -> dict:
    """Nested JSON as a student-information API sends it."""
    if dataset == "enrolment":
        return {
            "student": {"id": raw["student_id"], "last_name": "Dupont", "first_name": "Zoë"},
            "academic_year": raw["academic_year"],
            "programme": {
                "code": raw["programme_code"],
                "name": raw["programme_name"],
                "level": raw["programme_level"],
            },
            "study_year": int(raw["study_year"]),
            "new_entrant": record.is_new if record is not None else True,
            "nationality": raw["nationality"],
            "previous_degree_country": raw["prior_degree_country"],
            "admission": {"route": raw["admission_route"], "mode": raw["study_mode"]},
            "fee_category": raw["fee_category"],
            "sex": raw["sex"],
        }
    if dataset == "tuition":
        return {
            "academic_year": raw["academic_year"],
            "programme": {
                "code": raw["programme_code"],
                "name": raw["programme_name"],
                "level": raw["programme_level"],
                "language": raw["teaching_language"],
            },
            "fee_category": raw["fee_category"],
            "annual_fee": float(record.fee),
        }
    return {
        "student": {"id": raw["student_id"]},
        "direction": raw["direction"],
        "scheme": raw["scheme"],
        "partner": {"name": raw["partner_institution"], "country": raw["partner_country"]},
        "academic_year": raw["academic_year"],
        "period": {"start": raw["start_date"], "end": raw["end_date"]},
    }


JSON_COLUMNS = {
    "enrolment": {
        "student_id": "student.id", "academic_year": "academic_year",
        "programme_code": "programme.code", "programme_name": "programme.name",
        "programme_level": "programme.level", "study_year": "study_year",
        "is_new_entrant": "new_entrant", "nationality": "nationality",
        "prior_degree_country": "previous_degree_country",
        "admission_route": "admission.route", "study_mode": "admission.mode",
        "fee_category": "fee_category", "sex": "sex",
    },
    "tuition": {
        "academic_year": "academic_year", "programme_code": "programme.code",
        "programme_name": "programme.name", "programme_level": "programme.level",
        "teaching_language": "programme.language", "fee_category": "fee_category",
        "annual_fee": "annual_fee",
    },
    "mobility": {
        "student_id": "student.id", "direction": "direction", "scheme": "scheme",
        "partner_institution": "partner.name", "partner_country": "partner.country",
        "academic_year": "academic_year", "start_date": "period.start", "end_date": "period.end",
    },
}  # fmt: skip

DATASETS = ("enrolment", "tuition", "mobility")


def write_school(style: Style, landing: Path, pipelines: Path) -> Written:
    """The school's exports under ``landing`` and its YAML under ``pipelines``."""
    pop = draw_population(
        style.code, style.data_years, style.seed, style.names, style.institutions,
        style.whole_euros,
    )  # fmt: skip
    written = Written(style, pop)
    encoding = style.fmt.get("encoding", "utf-8")
    datasets_yaml: dict[str, dict] = {}
    sheets = {}
    for dataset in DATASETS:
        groups, bad = _rows_by_file(style, pop, dataset)
        source_of: dict[int | None, str] = {}
        entry: dict = {}
        if style.layout == "json_pages":
            entry["files"] = f"{style.folder}/{dataset}/*/page-*.json"
            for year, rows in groups.items():
                folder = landing / style.folder / dataset / str(year)
                folder.mkdir(parents=True, exist_ok=True)
                records = [_json_record(dataset, rec, raw) for rec, raw in rows]
                half = (len(records) + 1) // 2
                pages = [records[:half], records[half:]]
                for number, page in enumerate(pages, start=1):
                    nxt = (
                        f"/api/{dataset}?academic_year={year}&page={number + 1}"
                        if number < len(pages)
                        else None
                    )
                    (folder / f"page-{number:04d}.json").write_text(
                        json.dumps({"results": page, "next": nxt}, ensure_ascii=False),
                        encoding="utf-8",
                    )
                source_of[year] = f"{style.folder}/{dataset}/{year}/page-*.json"
            entry["columns"] = JSON_COLUMNS[dataset]
            entry["personal_columns"] = (
                ["student.last_name", "student.first_name"] if dataset == "enrolment" else []
            )
        elif style.layout == "xlsx":
            (rows,) = groups.values()
            header, body = _table(style, dataset, rows, "utf-8")
            cells = []
            for (record, _raw), line in zip(rows, body, strict=True):
                typed = list(line)
                columns = list(HEADERS[style.headers][dataset])
                if record is not None:  # numbers and dates as Excel cells
                    if dataset == "tuition":
                        typed[columns.index("annual_fee")] = record.fee
                    if dataset == "mobility":
                        typed[columns.index("start_date")] = record.start
                        typed[columns.index("end_date")] = record.end
                    typed[columns.index("academic_year")] = record.year
                cells.append(typed)
            sheets[XLSX_SHEETS[dataset]] = (header, cells)
            name = f"{style.folder}/{style.folder}_export.xlsx"
            entry["files"] = name
            entry["format"] = {"sheet": XLSX_SHEETS[dataset]}
            source_of[None] = name
        else:
            prefix = style.file_stem(dataset, 2000).split("_")[0]  # the stem before its year
            entry["files"] = f"{style.folder}/{prefix}_*.{style.ext}"
            for year, rows in groups.items():
                stem = style.file_stem(dataset, year) if year is not None else f"{dataset}_all"
                name = f"{style.folder}/{stem}.{style.ext}"
                header, body = _table(style, dataset, rows, encoding)
                _write_delimited(landing / name, style, header, body)
                source_of[year] = name
        if style.layout != "json_pages":
            entry["columns"] = HEADERS[style.headers][dataset]
            if dataset == "enrolment":
                entry["personal_columns"] = HEADERS[style.headers]["personal"]
        if not entry.get("personal_columns"):
            entry.pop("personal_columns", None)
        if style.coverage:
            entry["years"] = style.coverage
        datasets_yaml[dataset] = entry
        for key, rows in groups.items():
            written.files[dataset, source_of[key]] = len(rows)
        for key, column, raw_value in bad:
            written.bad.append(BadRow(style.code, dataset, source_of[key], column, raw_value))
    if sheets:
        _write_xlsx(landing / f"{style.folder}/{style.folder}_export.xlsx", style, sheets)
    config = {
        "school": {"code": style.code, "name": style.name, "city": "Nowhere", "uai": None},
        "format": style.fmt,
        "datasets": datasets_yaml,
        "values": style.values(),
    }
    text = f"# {style.name}: {style.comment}\n" + yaml.safe_dump(
        config, allow_unicode=True, sort_keys=False, width=100
    )
    written.yaml_path = pipelines / f"{style.folder}.yaml"
    written.yaml_path.write_text(text, encoding="utf-8")
    return written


# --------------------------------------------------------------------------- the twelve


def _french(c: str, i: int) -> str:
    name = COUNTRIES[c][0]
    return (name, name.upper(), name.lower())[i % 3]


def _english(c: str, i: int) -> str:
    return COUNTRIES[c][1]


def _any_form(c: str, i: int) -> str:
    fr, en, a3 = COUNTRIES[c]
    form = (fr, en, a3, c)[i % 4]
    return (form, form.upper(), form.lower(), form.title())[(i // 4) % 4]


def styles() -> list[Style]:
    """The twelve schools, each in a different export style."""
    return [
        Style(
            "XA", "École Alpha", "one file per dataset holding every year; French country "
            "names in any case; an unknown country and an unreadable year",
            "fr", "fr", "one_file", {"kind": "csv", "separator": ",", "encoding": "utf-8"},
            country=_french,
            bad=[
                ("enrolment", 2023, "nationality", "Atlantide"),
                ("enrolment", 2022, "academic_year", "l'an prochain"),
                ("mobility", 2024, "partner_country", "Narnia"),
            ],
            seed=1,
        ),
        Style(
            "XB", "Beta Institute of Technology", "UTF-16 with a BOM, tabs, years 'A.U. 2024/2025'",
            "en", "en", "per_year",
            {"kind": "csv", "separator": "\t", "encoding": "utf-16", "quote_char": None},
            ext="txt", year=lambda y: f"A.U. {y}/{y + 1}", country=_english,
            file_stem=lambda ds, y: f"{ds}_{y}-{y + 1}", money=lambda f: "€" + _group(f, ",", "."),
            boolean=("Yes", "No"), seed=2,
        ),
        Style(
            "XC", "École Gamma", "cp850 (DOS), ';', money '1.234,50', years 'Rentrée 2024', "
            "alpha-3 countries in lower case, dates dd/mm/yyyy",
            "fr", "fr", "per_year",
            {"kind": "csv", "separator": ";", "encoding": "cp850", "decimal_mark": ",",
             "thousands_separator": ".", "date_formats": ["%d/%m/%Y"]},
            year=lambda y: f"Rentrée {y}", money=lambda f: _group(f, ".", ","),  # cp850: no €
            day=lambda d, i: d.strftime("%d/%m/%Y"),
            country=lambda c, i: COUNTRIES[c][2].lower(), boolean=("O", "N"),
            file_stem=lambda ds, y: f"{ds.upper()}_{y}", seed=3,
        ),
        Style(
            "XD", "Delta Politechnika", "ISO-8859-2, tabs with a decimal comma, years "
            "'2024-2025 (S1)', Polish and Hungarian names, alpha-2 in lower case",
            "pl", "pl", "per_year",
            {"kind": "csv", "separator": "\t", "encoding": "iso8859_2", "decimal_mark": ","},
            ext="tsv", year=lambda y: f"{y}-{y + 1} (S1)", money=lambda f: _group(f, "", ","),
            country=lambda c, i: c.lower(), boolean=("1", "0"),
            names={
                "ING": "Inżynier ogólny Łódź", "MSC-DS": "MSc Adattudomány Győr",
                "MSC-EE": "MSc Energetyka Wrocław", "MS-CYB": "Szakirányú Kiberbiztonság Pécs",
            },
            institutions=["Politechnika Łódzka", "Széchenyi István Egyetem", "Óbudai Egyetem"],
            seed=4,
        ),
        Style(
            "XE", "Epsilon School of Engineering", "a title block above the header and notes "
            "below the data, years 'SY 24/25', English country names in capitals",
            "en", "en", "per_year",
            {"kind": "csv", "separator": ",", "encoding": "utf-8", "header_row": 4,
             "footer_rows": 2, "date_formats": ["%d/%m/%Y"]},
            year=lambda y: f"SY {y % 100:02d}/{(y + 1) % 100:02d}",
            money=lambda f: _group(f, ",", "."), day=lambda d, i: d.strftime("%d/%m/%Y"),
            country=lambda c, i: COUNTRIES[c][1].upper(), boolean=("TRUE", "FALSE"),
            title=["Epsilon School of Engineering - student information system",
                   "Export generated on 01/10/2025 by the registrar",
                   "Figures are provisional until the end of October"],
            notes=["Confidential: for IMT statistics only", "End of export"],
            bad=[("enrolment", 2023, "academic_year", "SY ??/??")], seed=5,
        ),
        Style(
            "XF", "Zeta Business School", "one XLSX workbook, one sheet per dataset holding "
            "every year, real numbers and dates, alpha-3 countries",
            "fr", "fr", "xlsx", {"kind": "xlsx"},
            country=lambda c, i: COUNTRIES[c][2], seed=6,
        ),
        Style(
            "XG", "Eta Institute", "an API's JSON pages with nested objects, years '2024-25'",
            "en", "en", "json_pages",
            {"kind": "json_pages", "records_key": "results", "next_key": "next"},
            year=lambda y: f"{y}-{(y + 1) % 100:02d}", country=_english, seed=7,
        ),
        Style(
            "XH", "Theta Graduate School", "two years only (2024-2025), money 'EUR 9 000'",
            "en", "en", "per_year",
            {"kind": "csv", "separator": ",", "encoding": "utf-8", "thousands_separator": " "},
            data_years=(2024, 2025), coverage="2024-2025", year=lambda y: f"{y}/{(y + 1) % 100}",
            money=lambda f: "EUR " + _group(f, " ", ".", cents=False), whole_euros=True,
            country=_french, boolean=("Y", "N"), seed=8,
        ),
        Style(
            "XI", "Iota Hochschule Basel", "covers 2023-2025 but sent nothing for 2023 (a "
            "missing delivery), money \"12'500.00 EUR\"",
            "de", "de", "per_year",
            {"kind": "csv", "separator": ",", "encoding": "utf-8", "thousands_separator": "'"},
            data_years=(2024, 2025), coverage="2023-2025",
            money=lambda f: _group(f, "'", ".") + " EUR", boolean=("vrai", "faux"),
            seed=9,
        ),
        Style(
            "XJ", "Kappa Technische Hochschule", "years 'Kampagne K24' (a school-specific "
            "pattern), booleans Neu/Alt, money '1.234,50 €', files named by campaign",
            "de", "de", "per_year",
            {"kind": "csv", "separator": ";", "encoding": "utf-8", "decimal_mark": ",",
             "thousands_separator": ".", "year_pattern": r"K(?P<start>\d{2})",
             "true_values": ["Neu"], "false_values": ["Alt"]},
            year=lambda y: f"Kampagne K{y % 100:02d}", money=lambda f: _group(f, ".", ",") + " €",
            file_stem=lambda ds, y: f"{ds}_K{y % 100:02d}",
            country=lambda c, i: COUNTRIES[c][2].title(), boolean=("Neu", "Alt"), seed=10,
        ),
        Style(
            "XK", "Lambda Institute", "its own codes for every coded column, '|' separator, "
            "dates dd.mm.yyyy, alpha-2 countries",
            "codes", "en", "per_year",
            {"kind": "csv", "separator": "|", "encoding": "utf-8",
             "date_formats": ["%d.%m.%Y"]},
            year=str, day=lambda d, i: d.strftime("%d.%m.%Y"), boolean=("1", "0"),
            money=lambda f: f"{f.normalize():f}", seed=11,
        ),
        Style(
            "XL", "Mu École d'ingénieurs", "Mac Roman, ';', countries as French or English "
            "names, alpha-2 or alpha-3 in any case, two date formats, an unknown country",
            "fr", "fr", "per_year",
            {"kind": "csv", "separator": ";", "encoding": "mac_roman", "decimal_mark": ",",
             "thousands_separator": " ", "date_formats": ["%d/%m/%Y", "%Y%m%d"]},
            year=lambda y: f"{y}/{y + 1}", money=lambda f: _group(f, " ", ","),
            day=lambda d, i: d.strftime("%d/%m/%Y" if i % 2 else "%Y%m%d"),
            country=_any_form, boolean=("oui", "non"),
            bad=[("enrolment", 2025, "nationality", "Wakanda")], seed=12,
        ),
    ]  # fmt: skip


def write_corpus(landing: Path, pipelines: Path, only: Iterable[str] | None = None):
    """Every school's exports and YAML; returns {school code: Written}."""
    pipelines.mkdir(parents=True, exist_ok=True)
    wanted = set(only) if only is not None else None
    return {
        s.code: write_school(s, landing, pipelines)
        for s in styles()
        if wanted is None or s.code in wanted
    }


# --------------------------------------------------------------------------- expected marts
# Each follows the definition in sql/marts/*.sql and /work/shared/specs/warehouse.md, on the
# canonical records of the rows that must load.


def expected_foreign_intake(enrolments: list[Enrolment]) -> dict[tuple, dict]:
    """(school, year, level, nationality) -> new_entrants, international_mobility_entrants,
    share_of_new_entrants (exact fraction), new_entrants_prev_year."""
    new = [e for e in enrolments if e.is_new]
    by_nat = Counter((e.school, e.year, e.level, e.nationality) for e in new)
    mobile = Counter(
        (e.school, e.year, e.level, e.nationality)
        for e in new
        if e.nationality != "FR" and e.prior is not None and e.prior != "FR"
    )
    by_level = Counter((e.school, e.year, e.level) for e in new)
    out = {}
    for key, count in by_nat.items():
        school, year, level, nationality = key
        prev_level = (school, year - 1, level)
        out[key] = {
            "new_entrants": count,
            "international_mobility_entrants": mobile.get(key, 0),
            "share_of_new_entrants": count / by_level[school, year, level],
            "new_entrants_prev_year": (
                by_nat.get((school, year - 1, level, nationality), 0)
                if by_level.get(prev_level)
                else None
            ),
        }
    return out


def expected_recruitment_routes(enrolments: list[Enrolment]) -> dict[tuple, dict]:
    """(school, year, admission_route, study_mode) -> new_entrants, share_of_new_entrants."""
    new = [e for e in enrolments if e.is_new]
    by_route = Counter((e.school, e.year, e.route, e.mode) for e in new)
    by_year = Counter((e.school, e.year) for e in new)
    return {
        key: {"new_entrants": n, "share_of_new_entrants": n / by_year[key[0], key[1]]}
        for key, n in by_route.items()
    }


def _change_pct(fee: Decimal | None, prev: Decimal | None) -> float | None:
    """100 * (fee - prev) / prev, exact (the mart does not round; bi rounds to hundredths)."""
    if fee is None or prev is None or prev == 0:
        return None
    return float(100 * (fee - prev) / prev)


def expected_masters_pricing(enrolments: list[Enrolment], fees: list[Fee]) -> dict[tuple, dict]:
    """(school, programme_id, year) -> the figures of marts.international_masters_pricing,
    over every school given (non_eu_fee_rank ranks among all of them)."""
    level = {}
    for item in (*fees, *enrolments):
        level[f"{item.school}:{item.programme_code}"] = item.level  # constant per programme
    grid = {(f"{f.school}:{f.programme_code}", f.year, f.fee_category): f.fee for f in fees}
    years: dict[str, set[int]] = defaultdict(set)
    for item in (*fees, *enrolments):
        pid = f"{item.school}:{item.programme_code}"
        if level[pid] in MASTERS_LEVELS:
            years[pid].add(item.year)
    out = {}
    for pid, pid_years in years.items():
        previous = None
        for year in sorted(pid_years):
            students = [
                e for e in enrolments if f"{e.school}:{e.programme_code}" == pid and e.year == year
            ]
            eu, non_eu = grid.get((pid, year, "eu")), grid.get((pid, year, "non_eu"))
            out[pid.split(":")[0], pid, year] = {
                "fee_eu_eur": eu,
                "fee_non_eu_eur": non_eu,
                "non_eu_premium_eur": None if eu is None or non_eu is None else non_eu - eu,
                "fee_non_eu_change_pct": _change_pct(non_eu, previous),
                "enrolled": len(students),
                "enrolled_non_eu": sum(e.fee_category == "non_eu" for e in students),
                "new_entrants_non_eu": sum(
                    e.fee_category == "non_eu" and e.is_new for e in students
                ),
                "expected_fee_revenue_eur": sum(
                    (grid.get((pid, year, e.fee_category), Decimal(0)) for e in students),
                    Decimal(0),
                ),
                "programme_level": level[pid],
            }
            previous = non_eu
    # RANK() within (level, year) by non-EU fee, highest first; ties share a rank.
    for key, row in out.items():
        fee = row["fee_non_eu_eur"]
        if fee is None:
            row["non_eu_fee_rank"] = None
            continue
        peers = [
            r["fee_non_eu_eur"]
            for k, r in out.items()
            if k[2] == key[2]
            and r["programme_level"] == row["programme_level"]
            and r["fee_non_eu_eur"] is not None
        ]
        row["non_eu_fee_rank"] = 1 + sum(p > fee for p in peers)
    return out


def duration_months(start: date, end: date) -> Decimal:
    """core.fact_mobility.duration_months: days / 30.4375 rounded half up to 1 decimal."""
    return (Decimal((end - start).days) / Decimal("30.4375")).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )


def expected_mobility_flows(stays: list[Stay]) -> dict[tuple, dict]:
    """(school, year, direction, scheme, partner_country) -> stays, students, total_months,
    avg_duration_months (total / stays, exact: bi rounds it to 1 decimal)."""
    groups: dict[tuple, list[Stay]] = defaultdict(list)
    for s in stays:
        groups[s.school, s.year, s.direction, s.scheme, s.country].append(s)
    out = {}
    for key, members in groups.items():
        total = sum((duration_months(s.start, s.end) for s in members), Decimal(0))
        out[key] = {
            "stays": len(members),
            "students": len({s.student_id for s in members}),
            "total_months": total,
            "avg_duration_months": float(total / len(members)),
        }
    return out
