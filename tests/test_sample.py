"""The bundled sample exports against their contract, src/imtetl/sample/FORMATS.md.

The expected vocabularies, file names and quirks below are typed from FORMATS.md, not taken
from the generator's own tables, so that a drift between the two fails here. Most tests use a
small scale; the calibration test builds the full-scale sample once.
"""

from __future__ import annotations

import csv
import datetime as dt
import gettext
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import babel
import openpyxl
import polars as pl
import pycountry
import pytest

from imtetl.sample import SampleSummary, generator_version, write_sample
from imtetl.sample.faculty import FACULTY_COLUMNS
from imtetl.sample.generate import MARKER
from imtetl.sample.population import ENROLMENT_COLUMNS, FEES_COLUMNS, MOBILITY_COLUMNS

YEARS = range(2021, 2026)
SCHOOLS = ("IMTA", "TP", "TSP", "IMTBS", "MSE", "IMTNE", "ALBI", "ALES")
DATASETS = ("enrolment", "tuition", "mobility", "faculty")
SMALL = 0.05

# ---------------------------------------------------------------------------------------
# Generated samples (shared by the tests of this module)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SampleSummary]:
    out = tmp_path_factory.mktemp("sample_small")
    return out, write_sample(out, scale=SMALL)


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SampleSummary]:
    out = tmp_path_factory.mktemp("sample_full")
    return out, write_sample(out, scale=1.0)


def _digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# ---------------------------------------------------------------------------------------
# The files of FORMATS.md


def expected_files(out: Path) -> list[Path]:
    files = []
    for y in YEARS:
        y1, yy = y + 1, f"{(y + 1) % 100:02d}"
        files += [
            out / f"imta/inscriptions_{y}-{y1}.csv",
            out / f"imta/frais_{y}-{y1}.csv",
            out / f"imta/mobilite_{y}-{y1}.csv",
            out / f"imta/personnel_{y}-{y1}.csv",
            out / f"tp/tp_export_{y}.xlsx",
            out / f"evry/evry_inscriptions_{y}.csv",
            out / f"evry/evry_frais_{y}.csv",
            out / f"evry/evry_mobilite_{y}.csv",
            out / f"evry/evry_personnel_{y}.csv",
            out / f"mse/mse_inscriptions_{y}-{yy}.csv",
            out / f"mse/mse_frais_{y}-{yy}.csv",
            out / f"mse/mse_mobilite_{y}-{yy}.csv",
            out / f"mse/mse_personnel_{y}-{yy}.csv",
        ]
        files += [
            out / f"imtne/{r}/{y}/page-0001.json"
            for r in ("enrolments", "fees", "mobility", "faculty")
        ]
        for school in ("albi", "ales"):
            files += [
                out / f"{school}/EXPORT_{d}_{y}.tsv"
                for d in ("ENROLMENT", "FEES", "MOBILITY", "STAFF")
            ]
    return files


# A reader per layout, for the tests only: rows as dicts keyed by the canonical column names
# (every export lists its columns in the same order), values exactly as written.

_COLUMNS = {
    "enrolment": ENROLMENT_COLUMNS,
    "tuition": FEES_COLUMNS,
    "mobility": MOBILITY_COLUMNS,
    "faculty": FACULTY_COLUMNS,
}
_IMTNE_RESOURCE = {
    "enrolment": "enrolments",
    "tuition": "fees",
    "mobility": "mobility",
    "faculty": "faculty",
}
_IMTNE_FIELDS = {
    "enrolment": {
        "student_id": ("student", "id"),
        "last_name": ("student", "last_name"),
        "first_name": ("student", "first_name"),
        "email": ("student", "email"),
        "birth_date": ("student", "birth_date"),
        "academic_year": ("academic_year",),
        "programme_code": ("programme", "code"),
        "programme_name": ("programme", "name"),
        "level": ("programme", "level"),
        "study_year": ("study_year",),
        "new_entrant": ("new_entrant",),
        "nationality": ("nationality",),
        "prior_degree_country": ("previous_degree_country",),
        "admission_route": ("admission_route",),
        "study_mode": ("study_mode",),
        "fee_category": ("fee_category",),
        "sex": ("sex",),
    },
    "tuition": {
        "academic_year": ("academic_year",),
        "programme_code": ("programme", "code"),
        "programme_name": ("programme", "name"),
        "level": ("programme", "level"),
        "language": ("programme", "language"),
        "fee_category": ("fee_category",),
        "amount": ("annual_fee",),
    },
    "mobility": {
        "student_id": ("student", "id"),
        "direction": ("direction",),
        "scheme": ("scheme",),
        "partner_name": ("partner", "name"),
        "partner_country": ("partner", "country"),
        "academic_year": ("academic_year",),
        "start_date": ("start_date",),
        "end_date": ("end_date",),
        "population": ("population",),
    },
    "faculty": {
        "staff_id": ("staff", "id"),
        "last_name": ("staff", "last_name"),
        "first_name": ("staff", "first_name"),
        "email": ("staff", "email"),
        "birth_date": ("staff", "birth_date"),
        "academic_year": ("academic_year",),
        "category": ("appointment", "category"),
        "department": ("appointment", "department"),
        "nationality": ("nationality",),
        "previous_position_country": ("previous_position_country",),
        "new_hire": ("new_hire",),
        "fte": ("appointment", "fte"),
        "teaches_in_english": ("teaches_in_english",),
    },
}


def _dig(record: dict, path: tuple[str, ...]):
    for key in path:
        record = record[key]
    return record


def imtne_pages(out: Path, resource: str, year: int) -> list[dict]:
    """Follow the `next` links from page 1, as a client of the API would."""
    folder = out / "imtne" / resource / str(year)
    pages, page = [], 1
    while True:
        body = json.loads((folder / f"page-{page:04d}.json").read_text(encoding="utf-8"))
        pages.append(body)
        if body["next"] is None:
            return pages
        assert body["next"] == f"/api/v1/{resource}?academic_year={year}&page={page + 1}"
        page += 1


def read_rows(out: Path, school: str, dataset: str, year: int) -> tuple[list[str], list[dict]]:
    """(header, rows) of one school's dataset for one year."""
    columns = _COLUMNS[dataset]
    if school == "IMTNE":
        records = [
            r for p in imtne_pages(out, _IMTNE_RESOURCE[dataset], year) for r in p["results"]
        ]
        fields = _IMTNE_FIELDS[dataset]
        return list(fields), [{c: _dig(r, fields[c]) for c in columns} for r in records]
    if school == "TP":
        sheet = {
            "enrolment": "Enrolments",
            "tuition": "Fees",
            "mobility": "Mobility",
            "faculty": "Faculty",
        }[dataset]
        book = openpyxl.load_workbook(out / f"tp/tp_export_{year}.xlsx", read_only=True)
        lines = [list(row) for row in book[sheet].iter_rows(values_only=True)]
        book.close()
        header, body = lines[1], lines[2:]
    else:
        path, separator, encoding = _text_file(out, school, dataset, year)
        text = path.read_bytes().decode(encoding)
        if separator == "\t":
            lines = [line.split("\t") for line in text.split("\n") if line]
        else:
            lines = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))
        header, body = lines[0], lines[1:]
        if school in ("TSP", "IMTBS"):
            ecole = {"TSP": "TSP", "IMTBS": "IMT-BS"}[school]
            assert header[0] == "ecole"
            header, body = header[1:], [row[1:] for row in body if row[0] == ecole]
    assert all(len(row) == len(columns) for row in body)
    return header, [dict(zip(columns, row, strict=True)) for row in body]


def _text_file(out: Path, school: str, dataset: str, year: int) -> tuple[Path, str, str]:
    y1, yy = year + 1, f"{(year + 1) % 100:02d}"
    french = {
        "enrolment": "inscriptions",
        "tuition": "frais",
        "mobility": "mobilite",
        "faculty": "personnel",
    }[dataset]
    if school == "IMTA":
        return out / f"imta/{french}_{year}-{y1}.csv", ";", "utf-8-sig"
    if school == "MSE":
        return out / f"mse/mse_{french}_{year}-{yy}.csv", ",", "cp1252"
    if school in ("TSP", "IMTBS"):
        return out / f"evry/evry_{french}_{year}.csv", ",", "utf-8"
    english = {
        "enrolment": "ENROLMENT",
        "tuition": "FEES",
        "mobility": "MOBILITY",
        "faculty": "STAFF",
    }[dataset]
    return out / f"{school.lower()}/EXPORT_{english}_{year}.tsv", "\t", "utf-8"


# ---------------------------------------------------------------------------------------
# Vocabularies of FORMATS.md: written value -> canonical code, per school style

_STYLE = {
    "IMTA": "imta",
    "TP": "tp",
    "TSP": "evry",
    "IMTBS": "evry",
    "MSE": "mse",
    "IMTNE": "imtne",
    "ALBI": "tsv",
    "ALES": "tsv",
}
_CANON = {
    "level": "bachelor engineering msc mastere_specialise national_master phd exchange other",
    "admission_route": "cpge_exam admission_on_title post_bac international_application "
    "double_degree exchange other",
    "study_mode": "initial apprenticeship continuing_education",
    "fee_category": "eu non_eu",
    "direction": "incoming outgoing",
    "scheme": "erasmus time_double_degree bilateral_exchange internship_abroad other "
    "erasmus_staff_teaching erasmus_staff_training time_staff_visit invited_professorship",
    "language": "fr en",
    "sex": "F M",
    "category": "professor associate_professor lecturer researcher postdoc visiting other",
    "population": "student staff",
}
VOCAB: dict[str, dict[str, dict]] = {
    "imta": {
        "level": {
            "Ingénieur": "engineering",
            "Master international": "msc",
            "Mastère spécialisé": "mastere_specialise",
            "Master national": "national_master",
            "Doctorat": "phd",
            "Échange": "exchange",
        },
        "admission_route": {
            "Concours CPGE": "cpge_exam",
            "Admission sur titre": "admission_on_title",
            "Post-bac": "post_bac",
            "Candidature internationale": "international_application",
            "Double diplôme": "double_degree",
            "Échange": "exchange",
            "Autre": "other",
        },
        "study_mode": {
            "Initial": "initial",
            "Apprentissage": "apprenticeship",
            "Formation continue": "continuing_education",
        },
        "fee_category": {"UE": "eu", "Hors UE": "non_eu"},
        "new_entrant": {"Oui": True, "Non": False},
        "sex": {"F": "F", "M": "M"},
        "direction": {"Entrant": "incoming", "Sortant": "outgoing"},
        "scheme": {
            "Erasmus+": "erasmus",
            "Double diplôme T.I.M.E.": "time_double_degree",
            "Échange bilatéral": "bilateral_exchange",
            "Stage à l'étranger": "internship_abroad",
            "Erasmus+ mobilité d'enseignement": "erasmus_staff_teaching",
            "Erasmus+ mobilité de formation": "erasmus_staff_training",
            "Visite T.I.M.E.": "time_staff_visit",
            "Professeur invité": "invited_professorship",
            "Autre": "other",
        },
        "language": {"Français": "fr", "Anglais": "en"},
        "population": {"Étudiant": "student", "Personnel": "staff"},
        "category": {
            "Professeur": "professor",
            "Maître de conférences": "associate_professor",
            "Enseignant": "lecturer",
            "Ingénieur de recherche": "researcher",
            "Post-doctorant": "postdoc",
            "Professeur invité": "visiting",
            "Autre": "other",
        },
        "new_hire": {"Oui": True, "Non": False},
        "teaches_in_english": {"Oui": True, "Non": False, "": None},
    },
    "tp": {
        "level": {
            "Engineering": "engineering",
            "MSc": "msc",
            "Mastère Spécialisé": "mastere_specialise",
            "Master": "national_master",
            "PhD": "phd",
            "Exchange": "exchange",
        },
        "admission_route": {
            "CPGE exam": "cpge_exam",
            "Admission on title": "admission_on_title",
            "International application": "international_application",
            "Double degree": "double_degree",
            "Exchange": "exchange",
            "Other": "other",
        },
        "study_mode": {
            "Full-time": "initial",
            "Apprenticeship": "apprenticeship",
            "Continuing education": "continuing_education",
        },
        "fee_category": {"EU": "eu", "Non-EU": "non_eu"},
        "new_entrant": {"Y": True, "N": False},
        "sex": {"F": "F", "M": "M"},
        "direction": {"Incoming": "incoming", "Outgoing": "outgoing"},
        "scheme": {
            "Erasmus+": "erasmus",
            "T.I.M.E. double degree": "time_double_degree",
            "Bilateral exchange": "bilateral_exchange",
            "Internship abroad": "internship_abroad",
            "Erasmus+ staff teaching": "erasmus_staff_teaching",
            "Erasmus+ staff training": "erasmus_staff_training",
            "T.I.M.E. staff visit": "time_staff_visit",
            "Invited professorship": "invited_professorship",
            "Other": "other",
        },
        "language": {"English": "en", "French": "fr"},
        "population": {"Student": "student", "Staff": "staff"},
        "category": {
            "Professor": "professor",
            "Associate Professor": "associate_professor",
            "Lecturer": "lecturer",
            "Research Engineer": "researcher",
            "Postdoctoral Researcher": "postdoc",
            "Visiting Professor": "visiting",
            "Other": "other",
        },
        "new_hire": {"Y": True, "N": False},
        "teaches_in_english": {"Y": True, "N": False, None: None},
    },
    "evry": {
        "level": {
            "ingenieur": "engineering",
            "msc": "msc",
            "bachelor": "bachelor",
            "mastere_specialise": "mastere_specialise",
            "master": "national_master",
            "doctorat": "phd",
            "echange": "exchange",
            "pge": "other",
        },
        "admission_route": {
            "concours": "cpge_exam",
            "titre": "admission_on_title",
            "post_bac": "post_bac",
            "international": "international_application",
            "double_diplome": "double_degree",
            "echange": "exchange",
            "autre": "other",
        },
        "study_mode": {"FI": "initial", "FA": "apprenticeship", "FC": "continuing_education"},
        "fee_category": {"UE": "eu", "HORS_UE": "non_eu"},
        "new_entrant": {"1": True, "0": False},
        "sex": {"F": "F", "M": "M"},
        "direction": {"IN": "incoming", "OUT": "outgoing"},
        "scheme": {
            "ERASMUS": "erasmus",
            "TIME": "time_double_degree",
            "BILATERAL": "bilateral_exchange",
            "STAGE": "internship_abroad",
            "ERASMUS_STA": "erasmus_staff_teaching",
            "ERASMUS_STT": "erasmus_staff_training",
            "TIME_VISITE": "time_staff_visit",
            "PROF_INVITE": "invited_professorship",
            "AUTRE": "other",
        },
        "language": {"fr": "fr", "en": "en"},
        "population": {"ETU": "student", "PERS": "staff"},
        "category": {
            "PR": "professor",
            "MCF": "associate_professor",
            "ENS": "lecturer",
            "IR": "researcher",
            "POSTDOC": "postdoc",
            "INVITE": "visiting",
            "AUTRE": "other",
        },
        "new_hire": {"1": True, "0": False},
        "teaches_in_english": {"1": True, "0": False, "": None},
    },
    "mse": {
        "level": {
            "Ingénieur": "engineering",
            "MSc": "msc",
            "Mastère spécialisé": "mastere_specialise",
            "Master": "national_master",
            "Doctorat": "phd",
            "Échange": "exchange",
        },
        "admission_route": {
            "Concours commun": "cpge_exam",
            "Sur titre": "admission_on_title",
            "Post-bac": "post_bac",
            "International": "international_application",
            "Double diplôme": "double_degree",
            "Échange": "exchange",
            "Autre": "other",
        },
        "study_mode": {
            "FISE": "initial",
            "FISEA": "apprenticeship",
            "FC": "continuing_education",
        },
        "fee_category": {"Communautaire": "eu", "Extra-communautaire": "non_eu"},
        "new_entrant": {"O": True, "N": False},
        "sex": {"F": "F", "H": "M"},
        "direction": {"Entrant": "incoming", "Sortant": "outgoing"},
        "scheme": {
            "Erasmus+": "erasmus",
            "T.I.M.E.": "time_double_degree",
            "Accord bilatéral": "bilateral_exchange",
            "Stage": "internship_abroad",
            "Erasmus+ STA": "erasmus_staff_teaching",
            "Erasmus+ STT": "erasmus_staff_training",
            "T.I.M.E. visite": "time_staff_visit",
            "Professeur invité": "invited_professorship",
            "Autre": "other",
        },
        "language": {"Français": "fr", "Anglais": "en"},
        "population": {"Élève": "student", "Personnel": "staff"},
        "category": {
            "Professeur": "professor",
            "Maître-assistant": "associate_professor",
            "Enseignant": "lecturer",
            "Chargé de recherche": "researcher",
            "Post-doctorant": "postdoc",
            "Professeur invité": "visiting",
            "Autre": "other",
        },
        "new_hire": {"O": True, "N": False},
        "teaches_in_english": {"O": True, "N": False, "": None},
    },
    "imtne": {
        **{column: {v: v for v in values.split()} for column, values in _CANON.items()},
        "new_entrant": {True: True, False: False},
        "new_hire": {True: True, False: False},
        "teaches_in_english": {True: True, False: False, None: None},
    },
    "tsv": {
        "level": {
            "ENG": "engineering",
            "MSC": "msc",
            "MS": "mastere_specialise",
            "MASTER": "national_master",
            "PHD": "phd",
            "EXCH": "exchange",
            "BACH": "bachelor",
        },
        "admission_route": {
            "CPGE": "cpge_exam",
            "TITLE": "admission_on_title",
            "POSTBAC": "post_bac",
            "INTL": "international_application",
            "DD": "double_degree",
            "EXCH": "exchange",
            "OTHER": "other",
        },
        "study_mode": {"FT": "initial", "APP": "apprenticeship", "CE": "continuing_education"},
        "fee_category": {"EU": "eu", "NONEU": "non_eu"},
        "new_entrant": {"1": True, "0": False},
        "sex": {"F": "F", "M": "M", "": None},
        "direction": {"IN": "incoming", "OUT": "outgoing"},
        "scheme": {
            "ERASMUS": "erasmus",
            "TIME": "time_double_degree",
            "BILAT": "bilateral_exchange",
            "INTERNSHIP": "internship_abroad",
            "STA": "erasmus_staff_teaching",
            "STT": "erasmus_staff_training",
            "TIME_STAFF": "time_staff_visit",
            "INVITED": "invited_professorship",
            "OTHER": "other",
        },
        "language": {"FR": "fr", "EN": "en"},
        "population": {"STU": "student", "STAFF": "staff"},
        "category": {
            "PROF": "professor",
            "ASSOC": "associate_professor",
            "LECT": "lecturer",
            "RES": "researcher",
            "PDOC": "postdoc",
            "VISIT": "visiting",
            "OTHER": "other",
        },
        "new_hire": {"1": True, "0": False},
        "teaches_in_english": {"1": True, "0": False, "": None},
    },
}
#: What the seeded bad faculty and staff-mobility rows write (FORMATS.md), per style.
BAD_VALUE = {
    "imta": {"category": "Vacataire", "population": "Doctorant", "scheme": "Mission"},
    "tp": {"category": "Adjunct", "population": "PhD candidate", "scheme": "Conference"},
    "evry": {"category": "VAC", "population": "DOC", "scheme": "MISSION"},
    "mse": {"category": "Vacataire", "population": "Doctorant", "scheme": "Mission"},
    "imtne": {"category": "adjunct", "population": "phd_student", "scheme": "mission"},
    "tsv": {"category": "ADJ", "population": "PHD", "scheme": "MISSION"},
}
#: Staff numbers (FORMATS.md): regular expressions per school.
STAFF_ID = {
    "IMTA": r"P\d{6}",
    "TP": r"TPS\d{5}",
    "TSP": r"SPE\d{5}",
    "IMTBS": r"BSE\d{5}",
    "MSE": r"MSE-P\d{4}",
    "IMTNE": r"NEP\d{6}",
    "ALBI": r"ABS\d{5}",
    "ALES": r"ALS\d{5}",
}
STAFF_SCHEMES = {
    "erasmus_staff_teaching",
    "erasmus_staff_training",
    "time_staff_visit",
    "invited_professorship",
}
BAD_COUNTRY = {
    "imta": "Atlantide",
    "mse": "Atlantide",
    "evry": "Atlantide",
    "tp": "ATL",
    "tsv": "Atlantis",
    "imtne": "ZZ",
}
YEAR_TEXT = {
    "imta": lambda y: f"{y}-{y + 1}",
    "evry": lambda y: f"{y}-{y + 1}",
    "imtne": lambda y: f"{y}-{y + 1}",
    "tp": lambda y: f"{y}-{(y + 1) % 100:02d}",
    "mse": lambda y: f"{y}/{(y + 1) % 100:02d}",
    "tsv": str,
}


def canonical(school: str, column: str, value):
    return VOCAB[_STYLE[school]][column][value]


def amount(school: str, text) -> float:
    style = _STYLE[school]
    if style == "imtne":
        return float(text)
    if style == "tp":
        return float(text.replace("€", "").replace(",", ""))
    if style in ("imta", "mse"):
        text = text.replace("€", "").replace(" ", "").replace("\u00a0", "")
        return float(text.replace(",", "."))
    return float(text)


def fte(school: str, value) -> float:
    """A written FTE as a share of one: '0,8', 0.8, '0.8', '80 %', '0.80'."""
    if isinstance(value, (int, float)):
        return float(value)
    text = value.strip()
    if text.endswith("%"):
        return float(text[:-1].strip().replace(",", ".")) / 100
    return float(text.replace(",", "."))


def parse_date(school: str, value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if _STYLE[school] in ("imta", "mse"):
        return dt.datetime.strptime(value, "%d/%m/%Y").date()
    return dt.date.fromisoformat(value)


def _country_names() -> set[str]:
    """Everything FORMATS.md accepts as a country."""
    french = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"])
    names: set[str] = set()
    for country in pycountry.countries:
        for attribute in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            value = getattr(country, attribute, None)
            if value:
                names.add(value)
                names.add(french.gettext(value))
        for locale in ("fr", "en"):
            names.add(babel.Locale(locale).territories.get(country.alpha_2, ""))
    return names - {""}


# ---------------------------------------------------------------------------------------
# Tests


def test_deterministic_bytes(small, tmp_path: Path) -> None:
    out, summary = small
    again = write_sample(tmp_path / "again", scale=SMALL)
    assert _digests(out) == _digests(tmp_path / "again")
    assert again == summary
    other = write_sample(tmp_path / "other", scale=SMALL, seed=7)
    assert _digests(tmp_path / "other") != _digests(out)
    assert len(other.files) == len(summary.files)


def test_every_file_of_formats_md_exists(small) -> None:
    out, summary = small
    for path in expected_files(out):
        assert path.is_file(), path
    on_disk = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file() and p.name != MARKER)
    assert summary.files == on_disk
    assert (out / MARKER).read_text(encoding="utf-8").startswith(generator_version())


def test_rewrites_only_school_folders(tmp_path: Path) -> None:
    (tmp_path / "imta").mkdir(parents=True)
    (tmp_path / "imta" / "stale.csv").write_text("old")
    (tmp_path / "README.txt").write_text("keep me")
    write_sample(tmp_path, scale=0.01, years=range(2024, 2025))
    assert not (tmp_path / "imta" / "stale.csv").exists()
    assert (tmp_path / "README.txt").read_text() == "keep me"
    assert (tmp_path / "imta" / "inscriptions_2024-2025.csv").is_file()
    assert not (tmp_path / "imta" / "inscriptions_2023-2024.csv").exists()


def test_imta_quirks(small) -> None:
    out, _ = small
    raw = (out / "imta/inscriptions_2021-2022.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    headers = {y: read_rows(out, "IMTA", "enrolment", y)[0] for y in YEARS}
    assert "Nationalité" in headers[2021] and "Pays de nationalité" not in headers[2021]
    for y in range(2022, 2026):
        assert "Pays de nationalité" in headers[y] and "Nationalité" not in headers[y]
    assert "CODE FORMATION" in headers[2023]
    assert "Annee universitaire" in headers[2024]
    assert "Libellé  formation" in headers[2025]
    assert "Code formation" in headers[2022] and "Année universitaire" in headers[2022]
    _, rows = read_rows(out, "IMTA", "enrolment", 2024)
    assert {r["academic_year"] for r in rows} == {"2024-2025"}
    assert all(r["student_id"][0] == "A" and r["student_id"][3] == "-" for r in rows)
    assert all(dt.datetime.strptime(r["birth_date"], "%d/%m/%Y") for r in rows)
    fees = read_rows(out, "IMTA", "tuition", 2024)[1]
    assert any(r["amount"] == "3200,00" for r in fees)


def test_tp_workbook(small) -> None:
    out, _ = small
    book = openpyxl.load_workbook(out / "tp/tp_export_2024.xlsx")
    assert book.sheetnames == ["Enrolments", "Fees", "Mobility", "Faculty"]
    assert book.properties.created == dt.datetime(2026, 1, 1)
    sheet = book["Enrolments"]
    assert sheet["A1"].value == "Télécom Paris — Enrolments 2024-25"
    assert sheet["A2"].value == "Student ID" and sheet["Q2"].value == "Sex"
    assert isinstance(sheet["E3"].value, dt.datetime)  # Date of birth: a real Excel date
    assert isinstance(sheet["J3"].value, int)  # Year of study
    assert sheet["F3"].value == "2024-25"
    assert book["Fees"]["A1"].value == "Télécom Paris — Fees 2024-25"
    fees = [row[6] for row in book["Fees"].iter_rows(min_row=3, values_only=True)]
    assert all(isinstance(f, str) and "€" in f for f in fees)
    assert "€4,850.00" in fees
    assert isinstance(book["Mobility"]["G3"].value, dt.datetime)
    assert book["Mobility"]["I2"].value == "Population"
    staff = book["Faculty"]
    assert staff["A1"].value == "Télécom Paris — Faculty 2024-25"
    assert staff["A2"].value == "Staff ID" and staff["L2"].value == "FTE"
    assert isinstance(staff["E3"].value, dt.datetime)  # Date of birth: a real Excel date
    ftes = [row[11] for row in staff.iter_rows(min_row=3, values_only=True)]
    assert all(isinstance(f, (int, float)) for f in ftes)  # FTE: a number cell
    # fastexcel, what the readers use, finds the same header on row 2.
    frame = pl.read_excel(
        out / "tp/tp_export_2024.xlsx", sheet_name="Enrolments", read_options={"header_row": 1}
    )
    assert frame.columns[0] == "Student ID" and frame.schema["Date of birth"] == pl.Date


def test_evry_quirks(small) -> None:
    out, _ = small
    text = (out / "evry/evry_inscriptions_2023.csv").read_text(encoding="utf-8")
    assert not text.startswith("\ufeff")
    assert '"Management, Innovation\net Technologies"' in text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert {row[0] for row in rows[1:]} == {"TSP", "IMT-BS"}
    names = {row[8] for row in rows[1:]}
    assert "Management, Innovation\net Technologies" in names
    ids = {row[0]: row[1][:4] for row in rows[1:]}
    assert ids["TSP"].startswith("SP") and ids["IMT-BS"].startswith("BS")
    fees = (out / "evry/evry_frais_2025.csv").read_text(encoding="utf-8")
    assert ",4500.00" in fees
    # polars reads the embedded line break as part of the field, as the readers will.
    frame = pl.read_csv(out / "evry/evry_inscriptions_2023.csv", infer_schema=False)
    assert frame.height == len(rows) - 1


def test_mse_cp1252(small) -> None:
    out, _ = small
    raw = (out / "mse/mse_frais_2024-25.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1252")
    assert "€" in text
    assert '"4\u00a0850,00 €"' in text or '"4 850,00 €"' in text
    old = (out / "mse/mse_frais_2021-22.csv").read_bytes().decode("cp1252")
    assert '"4 150,00 €"' in old
    header, rows = read_rows(out, "MSE", "enrolment", 2024)
    assert header[0] == "N° étudiant"
    assert {r["academic_year"] for r in rows} == {"2024/25"}
    assert {r["sex"] for r in rows} <= {"F", "H"}
    assert all(r["student_id"].startswith("MSE-") for r in rows)


def test_imtne_pages(small) -> None:
    out, _ = small
    for resource in ("enrolments", "fees", "mobility", "faculty"):
        for year in YEARS:
            pages = imtne_pages(out, resource, year)
            assert pages[-1]["next"] is None
            assert [p["page"] for p in pages] == list(range(1, len(pages) + 1))
            assert all(len(p["results"]) == 500 for p in pages[:-1])
            count = sum(len(p["results"]) for p in pages)
            assert all(p["count"] == count for p in pages)
            folder = out / "imtne" / resource / str(year)
            assert len(list(folder.glob("page-*.json"))) == len(pages)
            for path in folder.glob("page-*.json"):
                text = path.read_text(encoding="utf-8")
                body = json.loads(text)
                assert text == json.dumps(body, ensure_ascii=False, sort_keys=True, indent=1)
    record = imtne_pages(out, "enrolments", 2024)[0]["results"][0]
    assert isinstance(record["study_year"], int) and isinstance(record["new_entrant"], bool)
    assert record["academic_year"] == "2024-2025" and len(record["nationality"]) == 2
    staff = imtne_pages(out, "faculty", 2024)[0]["results"][0]
    assert isinstance(staff["appointment"]["fte"], float) and isinstance(staff["new_hire"], bool)
    assert set(staff["staff"]) == {"id", "last_name", "first_name", "email", "birth_date"}


def test_imtne_pagination_at_scale_one(full) -> None:
    out, _ = full
    pages = imtne_pages(out, "enrolments", 2023)
    assert len(pages) > 5
    assert pages[0]["next"] == "/api/v1/enrolments?academic_year=2023&page=2"


def test_vendor_tsv(small) -> None:
    out, _ = small
    for school in ("albi", "ales"):
        text = (out / f"{school}/EXPORT_ENROLMENT_2023.tsv").read_text(encoding="utf-8")
        lines = text.rstrip("\n").split("\n")
        assert all(line.count("\t") == 16 for line in lines)
        assert '"' not in text
        staff = (out / f"{school}/EXPORT_STAFF_2023.tsv").read_text(encoding="utf-8")
        assert all(line.count("\t") == 12 for line in staff.rstrip("\n").split("\n"))
        assert '"' not in staff
    header, rows = read_rows(out, "ALBI", "enrolment", 2023)
    assert header[0] == "STUDENT_NO"
    assert {r["academic_year"] for r in rows} == {"2023"}
    assert all(r["student_id"].startswith("AB") for r in rows)
    assert all(
        r["student_id"].startswith("AL") for r in read_rows(out, "ALES", "enrolment", 2023)[1]
    )


@pytest.mark.parametrize("school", SCHOOLS)
def test_vocabularies_and_countries(small, school: str) -> None:
    """Every value is in FORMATS.md's list for its school; every country resolves."""
    out, _ = small
    style = _STYLE[school]
    countries = _country_names()
    bad_country = BAD_COUNTRY[style]
    assert bad_country not in countries
    optional = {"prior_degree_country", "previous_position_country"}
    for year in YEARS:
        for dataset in DATASETS:
            _, rows = read_rows(out, school, dataset, year)
            for row in rows:
                assert row["academic_year"] == YEAR_TEXT[style](year)
                for column, value in row.items():
                    if column in VOCAB[style] and value != BAD_VALUE[style].get(column):
                        assert value in VOCAB[style][column], (school, column, value)
                    if column in ("nationality", "partner_country", *optional):
                        if column in optional and value in ("", None):
                            if column == "prior_degree_country":
                                assert style == "tsv"
                            continue
                        assert value in countries or value == bad_country, (school, value)


def test_seeded_bad_rows(small) -> None:
    out, summary = small
    for school in SCHOOLS:
        style = _STYLE[school]
        assert summary.bad_rows[(school, "enrolment")] == 3 * len(YEARS)
        assert summary.bad_rows[(school, "tuition")] == len(YEARS)
        assert summary.bad_rows[(school, "mobility")] == 4 * len(YEARS)
        assert summary.bad_rows[(school, "faculty")] == 7 * len(YEARS)
        for dataset in DATASETS:
            total = sum(len(read_rows(out, school, dataset, y)[1]) for y in YEARS)
            assert summary.rows[(school, dataset)] == total
        for year in YEARS:
            _, enrolled = read_rows(out, school, "enrolment", year)
            assert sum(r["nationality"] == BAD_COUNTRY[style] for r in enrolled) == 1
            assert sum(r["programme_code"] in ("", None) for r in enrolled) == 1
            rows = [json.dumps(r, sort_keys=True, default=str) for r in enrolled]
            assert sorted(Counter(rows).values())[-2:] == [1, 2]  # exactly one duplicate
            codes = {r["programme_code"] for r in enrolled}

            _, fees = read_rows(out, school, "tuition", year)
            negative = [r for r in fees if amount(school, r["amount"]) < 0]
            assert [r["programme_code"] for r in negative] == [f"OLD-{school}"]
            assert f"OLD-{school}" not in codes

            _, stays = read_rows(out, school, "mobility", year)
            backwards = [
                r
                for r in stays
                if parse_date(school, r["end_date"]) < parse_date(school, r["start_date"])
            ]
            assert len(backwards) == 1
            assert sum(r["partner_country"] == BAD_COUNTRY[style] for r in stays) == 1
            bad = BAD_VALUE[style]
            assert sum(r["population"] == bad["population"] for r in stays) == 1
            assert sum(r["scheme"] == bad["scheme"] for r in stays) == 1

            _, staff = read_rows(out, school, "faculty", year)
            assert sum(r["category"] == bad["category"] for r in staff) == 1
            assert sum(r["nationality"] == BAD_COUNTRY[style] for r in staff) == 1
            assert sum(r["staff_id"] in ("", None) for r in staff) == 1
            ftes = [fte(school, r["fte"]) for r in staff]
            assert sum(f > 1 for f in ftes) == 1  # '1,5', 1.5, '1.5', '150 %', '1.50'
            rows = [json.dumps(r, sort_keys=True, default=str) for r in staff]
            assert sorted(Counter(rows).values())[-2:] == [1, 2]  # exactly one duplicate
            totals: Counter = Counter()
            for r, f in zip(staff, ftes, strict=True):
                if r["staff_id"] and f <= 1:
                    totals[r["staff_id"]] += f
            over = {sid for sid, total in totals.items() if total > 1 + 1e-9}
            # the seeded split appointments above one FTE (the duplicate adds a row's FTE)
            assert len(over) in (1, 2), over


def test_students_progress_and_fees_cover_programmes(small) -> None:
    out, _ = small
    for school in SCHOOLS:
        previous: dict[str, dict] = {}
        for year in YEARS:
            _, rows = read_rows(out, school, "enrolment", year)
            current = {
                r["student_id"]: r for r in rows if r["nationality"] != BAD_COUNTRY[_STYLE[school]]
            }
            for sid, row in current.items():
                new = canonical(school, "new_entrant", row["new_entrant"])
                if sid in previous and row["programme_code"]:
                    assert int(row["study_year"]) == int(previous[sid]["study_year"]) + 1
                    assert new is False
            continuing = [sid for sid in current if sid in previous]
            if year > YEARS[0]:
                assert len(continuing) > len(current) / 3
            previous = current

            _, fees = read_rows(out, school, "tuition", year)
            grid = {
                (r["programme_code"], canonical(school, "fee_category", r["fee_category"]))
                for r in fees
            }
            for code in {r["programme_code"] for r in rows} - {"", None}:
                assert (code, "eu") in grid and (code, "non_eu") in grid, (school, code)


def test_regulated_fees(small) -> None:
    out, _ = small

    def grid(school: str, year: int) -> dict[tuple[str, str], float]:
        return {
            (r["programme_code"], canonical(school, "fee_category", r["fee_category"])): amount(
                school, r["amount"]
            )
            for r in read_rows(out, school, "tuition", year)[1]
        }

    assert grid("IMTA", 2024)[("IMTA-ING", "eu")] == 3200
    assert grid("IMTA", 2024)[("IMTA-ING", "non_eu")] == 4850
    assert grid("MSE", 2022)[("MSE-ICM", "eu")] == 2650
    assert grid("ALBI", 2024)[("ALBI-ING", "eu")] == 2650
    assert grid("IMTNE", 2023)[("IMTNE-ING", "eu")] == 2350
    for school in SCHOOLS:
        for year in YEARS:
            for r in read_rows(out, school, "tuition", year)[1]:
                level = canonical(school, "level", r["level"])
                category = canonical(school, "fee_category", r["fee_category"])
                fee = amount(school, r["amount"])
                if r["programme_code"] == f"OLD-{school}":
                    continue
                if level == "msc" and year >= 2025:
                    assert fee in ((4500,) if category == "eu" else (9000, 6500)), r
                if level == "national_master":
                    assert fee == (243 if category == "eu" else 3770)
                if level == "phd":
                    assert fee == 380
                if level == "exchange":
                    assert fee == 0


def test_excel_row_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from imtetl.sample import writers

    monkeypatch.setattr(writers, "EXCEL_MAX_ROWS", 10)
    frame = pl.DataFrame({"a": [str(i) for i in range(9)]})
    with pytest.raises(ValueError, match="Excel"):
        writers.write_workbook(tmp_path / "x.xlsx", [("S", "title", ["a"], frame)])
    assert not (tmp_path / "x.xlsx").exists()


def test_calibration_at_scale_one(full) -> None:
    """IMT Atlantique's 2022 intake as published; about 30% apprentices in engineering;
    populations near FORMATS.md's figures."""
    out, summary = full
    _, rows = read_rows(out, "IMTA", "enrolment", 2022)
    entrants = Counter()
    for r in rows:
        if canonical("IMTA", "new_entrant", r["new_entrant"]):
            level = canonical("IMTA", "level", r["level"])
            entrants[level] += 1
            if canonical("IMTA", "study_mode", r["study_mode"]) == "apprenticeship":
                entrants["apprentices"] += 1
    for key, real in (
        ("engineering", 463),
        ("apprentices", 109),
        ("msc", 137),
        ("national_master", 14),
        ("mastere_specialise", 48),
        ("phd", 50),
    ):
        assert real * 0.9 <= entrants[key] <= real * 1.1, (key, entrants[key])

    engineering = apprentices = 0
    targets = {
        "IMTA": 2000,
        "TP": 1800,
        "TSP": 1100,
        "IMTBS": 1400,
        "MSE": 2000,
        "IMTNE": 4000,
        "ALBI": 900,
        "ALES": 1300,
    }
    for school in SCHOOLS:
        per_year = summary.rows[(school, "enrolment")] / len(YEARS)
        assert 0.85 * targets[school] <= per_year <= 1.15 * targets[school], school
        for year in YEARS:
            for r in read_rows(out, school, "enrolment", year)[1]:
                if canonical(school, "level", r["level"]) == "engineering":
                    engineering += 1
                    mode = canonical(school, "study_mode", r["study_mode"])
                    apprentices += mode == "apprenticeship"
    assert 0.25 <= apprentices / engineering <= 0.35

    total = sum(summary.rows[(s, "enrolment")] for s in SCHOOLS)
    assert 65_000 <= total <= 85_000
    outgoing = sum(
        canonical(s, "direction", r["direction"]) == "outgoing"
        and canonical(s, "population", r["population"]) == "student"
        for s in SCHOOLS
        for y in YEARS
        for r in read_rows(out, s, "mobility", y)[1]
        if r["population"] != BAD_VALUE[_STYLE[s]]["population"]
    )
    assert 0.10 <= outgoing / total <= 0.15
    # The vendor export leaves some sexes and previous-degree countries empty.
    albi = [r for y in YEARS for r in read_rows(out, "ALBI", "enrolment", y)[1]]
    assert any(r["prior_degree_country"] == "" for r in albi)


def test_every_possible_country_and_name_fits_its_export() -> None:
    """All countries the model can draw resolve in every style, and every name, country and
    programme that can reach Mines Saint-Étienne's export fits Windows-1252."""
    from imtetl.sample import catalog, faculty
    from imtetl.sample.countries import BAD_COUNTRY_BY_STYLE, country_map
    from imtetl.sample.names import NAMES

    codes = {"FR"} | set(faculty.FOREIGN_STAFF) | set(faculty.ABROAD)
    for _share, weights in catalog.NATIONALITY.values():
        codes |= set(weights)
    codes |= {u[1] for u in catalog.UNIVERSITIES} | {c[1] for c in catalog.COMPANIES}
    accepted = _country_names()
    for style in ("fr", "en", "alpha3", "alpha2"):
        mapping = country_map(style, sorted(codes))
        bad = mapping.pop("!BAD")
        assert bad == BAD_COUNTRY_BY_STYLE[style] and bad not in accepted
        assert set(mapping.values()) <= accepted, style
        assert all("," not in name for name in mapping.values())
    texts = [*NAMES.given, *NAMES.surnames, *country_map("fr", sorted(codes)).values()]
    texts += [u[0] for u in catalog.UNIVERSITIES] + [c[0] for c in catalog.COMPANIES]
    texts += [p.name for p in catalog.SCHOOL_BY_CODE["MSE"].programmes]
    texts += list(faculty.FACULTY["MSE"].departments)
    for text in texts:
        text.encode("cp1252")
    # the vendor's TSV cannot quote: no tab or line break in a department name
    for code in ("ALBI", "ALES"):
        assert not any(re.search(r"[\t\r\n]", d) for d in faculty.FACULTY[code].departments)


# ---------------------------------------------------------------------------------------
# Faculty exports and staff stays

FACULTY_HEADERS = {
    "IMTA": "Matricule;Nom;Prénom;Courriel;Date de naissance;Année universitaire;Corps;"
    "Département;Nationalité;Pays du poste précédent;Recruté dans l'année;Quotité;"
    "Enseigne en anglais",
    "TP": "Staff ID;Last name;First name;Email;Date of birth;Academic year;Category;Department;"
    "Nationality;Previous position country;New hire;FTE;Teaches in English",
    "TSP": "matricule;nom;prenom;email;date_naissance;annee_universitaire;corps;departement;"
    "nationalite;pays_poste_precedent;nouvel_arrivant;etp;enseigne_anglais",
    "MSE": "Matricule;Nom;Prénom;Mél;Date de naissance;Année;Catégorie;Centre;Nationalité;"
    "Pays poste précédent;Nouvel arrivant;Quotité;Cours en anglais",
    "IMTNE": ";".join(_IMTNE_FIELDS["faculty"]),
    "ALBI": "STAFF_NO;SURNAME;GIVEN_NAME;EMAIL;BIRTH_DATE;ACAD_YEAR;CATEGORY;DEPARTMENT;"
    "NATIONALITY;PREV_POSITION_COUNTRY;NEW_HIRE;FTE;TEACHES_EN",
}
FACULTY_HEADERS["IMTBS"] = FACULTY_HEADERS["TSP"]
FACULTY_HEADERS["ALES"] = FACULTY_HEADERS["ALBI"]
POPULATION_HEADER = {
    "IMTA": "Public",
    "TP": "Population",
    "TSP": "public",
    "IMTBS": "public",
    "MSE": "Public",
    "IMTNE": "population",
    "ALBI": "POPULATION",
    "ALES": "POPULATION",
}
#: How each school writes an FTE of 0.8 (FORMATS.md); TP writes a number cell.
FTE_TEXT = {"imta": "0,8", "evry": "0.8", "mse": "80 %", "tsv": "0.80", "imtne": 0.8, "tp": 0.8}


@pytest.mark.parametrize("school", SCHOOLS)
def test_faculty_export(small, school: str) -> None:
    """Headers, staff numbers, FTE spelling, split appointments and personal columns."""
    out, _ = small
    style = _STYLE[school]
    bad = BAD_VALUE[style]
    for year in YEARS:
        header, rows = read_rows(out, school, "faculty", year)
        assert ";".join(str(h) for h in header) == FACULTY_HEADERS[school]
        assert len(rows) >= 30  # a floor at small scales: the seeded rows stay a small share
        good = [
            r
            for r in rows
            if r["staff_id"]
            and r["category"] != bad["category"]
            and r["nationality"] != BAD_COUNTRY[style]
        ]
        assert all(re.fullmatch(STAFF_ID[school], r["staff_id"]) for r in good)
        assert all(r["email"] and r["last_name"] and r["birth_date"] for r in rows)
        written = [r["fte"] for r in good]
        if school != "TP":
            assert FTE_TEXT[style] in written or any(fte(school, w) == 1 for w in written)
        by_person = defaultdict(dict)
        for r in good:  # the seeded duplicate counted once
            by_person[r["staff_id"]][json.dumps(r, sort_keys=True, default=str)] = r
        split = [
            list(rs.values())
            for rs in by_person.values()
            if len({r["department"] for r in rs.values()}) == 2
        ]
        # at least one real split appointment besides the seeded one above one FTE
        assert any(sum(fte(school, r["fte"]) for r in rs) <= 1 + 1e-9 for rs in split)
        categories = {canonical(school, "category", r["category"]) for r in good}
        assert categories == set(_CANON["category"].split())
        new = [canonical(school, "new_hire", r["new_hire"]) for r in good]
        assert any(new) and not all(new)
        if year > YEARS[0]:
            previous = {r["staff_id"] for r in read_rows(out, school, "faculty", year - 1)[1]}
            stayed = [
                r
                for r in good
                if r["staff_id"] in previous
                and canonical(school, "category", r["category"]) not in ("visiting",)
            ]
            assert len(stayed) > len(good) / 2  # the roster carries over
            assert not any(canonical(school, "new_hire", r["new_hire"]) for r in stayed)


@pytest.mark.parametrize("school", SCHOOLS)
def test_staff_stays(small, school: str) -> None:
    """Staff rows carry the staff schemes and staff numbers; students' rows are untouched."""
    out, _ = small
    style = _STYLE[school]
    bad = BAD_VALUE[style]
    for year in YEARS:
        header, stays = read_rows(out, school, "mobility", year)
        assert header[-1] == POPULATION_HEADER[school]
        _, staff = read_rows(out, school, "faculty", year)
        roster = {r["staff_id"]: r for r in staff if r["staff_id"]}
        _, enrolled = read_rows(out, school, "enrolment", year)
        students = {r["student_id"] for r in enrolled}
        schemes: Counter = Counter()
        for r in stays:
            if r["population"] == bad["population"] or r["scheme"] == bad["scheme"]:
                assert r["student_id"] in roster
                continue
            population = canonical(school, "population", r["population"])
            scheme = canonical(school, "scheme", r["scheme"])
            direction = canonical(school, "direction", r["direction"])
            if population == "student":
                assert scheme not in STAFF_SCHEMES
                assert not re.fullmatch(STAFF_ID[school], r["student_id"])
                continue
            assert scheme in STAFF_SCHEMES
            assert re.fullmatch(STAFF_ID[school], r["student_id"])
            assert r["student_id"] not in students
            schemes[(direction, scheme)] += 1
            days = (parse_date(school, r["end_date"]) - parse_date(school, r["start_date"])).days
            if scheme == "invited_professorship":
                assert 29 <= days <= 92, r
            else:
                assert 1 <= days <= 14, r
            if direction == "outgoing":  # the school's own staff, in the faculty export
                assert r["student_id"] in roster
                assert canonical(school, "category", roster[r["student_id"]]["category"]) != (
                    "visiting"
                )
            elif scheme == "invited_professorship":  # a visiting academic of the roster
                visitor = roster[r["student_id"]]
                assert canonical(school, "category", visitor["category"]) == "visiting"
            else:  # a visitor with a number of their own
                assert r["student_id"] not in roster
        for scheme in STAFF_SCHEMES:
            assert schemes[("outgoing", scheme)] >= 1, (school, year, scheme)
        assert schemes[("incoming", "invited_professorship")] >= 1
        assert schemes[("incoming", "erasmus_staff_teaching")] >= 1


def test_staff_do_not_change_students(small, tmp_path: Path, monkeypatch) -> None:
    """The students' rows (every student figure) are those of a sample without staff."""
    from imtetl.sample import faculty, generate

    out, _ = small
    empty = faculty.StaffYear
    original = faculty.staff_years

    def no_stays(*args, **kwargs):
        years = original(*args, **kwargs)
        return {y: empty(faculty=v.faculty, stays=v.stays.clear()) for y, v in years.items()}

    monkeypatch.setattr(generate.faculty, "staff_years", no_stays)
    again = tmp_path / "no_staff"
    write_sample(again, scale=SMALL)

    def student_rows(root: Path, school: str) -> list[str]:
        population = VOCAB[_STYLE[school]]["population"]
        rows = read_rows(root, school, "mobility", 2024)[1]
        return sorted(
            json.dumps(r, sort_keys=True, default=str)
            for r in rows
            if population.get(r["population"]) == "student"
        )

    for school in SCHOOLS:
        assert student_rows(out, school) == student_rows(again, school)
        enrolled = read_rows(out, school, "enrolment", 2024)
        assert enrolled == read_rows(again, school, "enrolment", 2024)


def test_faculty_calibration_at_scale_one(full) -> None:
    """Headcounts and foreign shares near FORMATS.md's "Faculty calibration"."""
    from imtetl.sample.faculty import FACULTY

    out, summary = full
    for school in SCHOOLS:
        _, rows = read_rows(out, school, "faculty", 2022)
        people: dict[str, dict] = {}
        for r in rows:
            if r["staff_id"]:
                people.setdefault(r["staff_id"], r)
        teaching = [
            r
            for r in people.values()
            if r["category"] in VOCAB[_STYLE[school]]["category"]
            and canonical(school, "category", r["category"])
            in ("professor", "associate_professor", "lecturer")
        ]
        target = FACULTY[school].teaching_staff
        assert 0.9 * target <= len(teaching) <= 1.1 * target, (school, len(teaching))
        foreign = sum(r["nationality"] not in ("France", "FRA", "FR") for r in teaching) / len(
            teaching
        )
        assert abs(foreign - FACULTY[school].foreign) <= 0.07, (school, foreign)
        assert summary.rows[(school, "faculty")] < 2_500  # hundreds a year, not thousands
