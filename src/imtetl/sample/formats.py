"""Each school's vocabulary and headers, exactly as FORMATS.md lists them, as data.

A `Style` turns canonical values (levels, routes, alpha-2 countries, dates, amounts) into what
one school's system writes; `render` applies it to a canonical frame and returns the columns
in the export's order, as strings (or, for the Excel workbook, typed dates and integers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from imtetl.sample import faculty, population
from imtetl.sample.countries import country_map
from imtetl.sample.faculty import FACULTY_COLUMNS
from imtetl.sample.population import ENROLMENT_COLUMNS, MOBILITY_COLUMNS

NBSP = "\u00a0"


@dataclass(frozen=True)
class Style:
    """How one school's export writes each canonical value."""

    level: dict[str, str]
    route: dict[str, str]
    mode: dict[str, str]
    fee: dict[str, str]
    new_entrant: tuple[str, str]  # (True, False)
    sex: dict[str, str]
    direction: dict[str, str]
    scheme: dict[str, str]
    language: dict[str, str]
    country: str  # fr, en, alpha3, alpha2
    year: Callable[[int], str]
    date: str | None  # strftime pattern; None keeps typed dates (Excel)
    amount: Callable[[float, int], str]  # (amount, academic year) -> text
    enrolment_headers: Callable[[int], list[str]]
    fees_headers: list[str]
    mobility_headers: list[str]  # the population header last
    category: dict[str, str]
    population: dict[str, str]
    fte: Callable[[float], str] | None  # None keeps a number (Excel)
    faculty_headers: list[str]
    #: what the seeded bad rows write for a category, population and scheme it cannot map
    bad: dict[str, str]

    def __post_init__(self) -> None:
        """Each vocabulary spells codes of the contract (a school may not use them all)."""
        for name, codes in _CODES.items():
            unknown = sorted(set(getattr(self, name)) - set(codes))
            if unknown:
                raise ValueError(f"Style.{name}: {unknown} are not codes of the contract")
        for name, spelling in self.bad.items():
            if spelling in getattr(self, name).values():
                raise ValueError(f"Style.bad[{name!r}]: {spelling!r} is a known spelling")


_CODES = {
    "level": population.LEVEL_CODES,
    "route": population.ROUTE_CODES,
    "mode": population.MODE_CODES,
    "fee": population.FEE_CODES,
    "sex": population.SEX_CODES,
    "direction": population.DIRECTION_CODES,
    "scheme": population.SCHEME_CODES,
    "language": population.LANGUAGE_CODES,
    "category": faculty.CATEGORY_CODES,
    "population": faculty.POPULATION_CODES,
}

#: Placeholder of the seeded bad category, population and scheme (`Style.bad` spells it).
BAD = "!BAD"


def _fixed(headers: str) -> Callable[[int], list[str]]:
    return lambda _year: headers.split(",")


def _sep(headers: str, separator: str = ",") -> list[str]:
    return headers.split(separator)


# ---------------------------------------------------------------------------------------
# IMT Atlantique

_IMTA_ENROLMENT = (
    "Numéro étudiant;Nom;Prénom;Courriel;Date de naissance;Année universitaire;Code formation;"
    "Libellé formation;Niveau;Année d'études;Nouvel entrant;{nationality};"
    "Pays du diplôme antérieur;Voie d'admission;Statut;Régime de frais;Sexe"
)
#: One header spelled differently each year (the other headers keep their usual spelling).
_IMTA_DRIFT = {
    2023: ("Code formation", "CODE FORMATION"),
    2024: ("Année universitaire", "Annee universitaire"),
    2025: ("Libellé formation", "Libellé  formation"),
}


def _imta_enrolment_headers(year: int) -> list[str]:
    nationality = "Nationalité" if year <= 2021 else "Pays de nationalité"
    headers = _IMTA_ENROLMENT.format(nationality=nationality).split(";")
    if year in _IMTA_DRIFT:
        old, new = _IMTA_DRIFT[year]
        headers[headers.index(old)] = new
    return headers


IMTA = Style(
    level={
        "engineering": "Ingénieur",
        "msc": "Master international",
        "mastere_specialise": "Mastère spécialisé",
        "national_master": "Master national",
        "phd": "Doctorat",
        "exchange": "Échange",
    },
    route={
        "cpge_exam": "Concours CPGE",
        "admission_on_title": "Admission sur titre",
        "post_bac": "Post-bac",
        "international_application": "Candidature internationale",
        "double_degree": "Double diplôme",
        "exchange": "Échange",
        "other": "Autre",
    },
    mode={
        "initial": "Initial",
        "apprenticeship": "Apprentissage",
        "continuing_education": "Formation continue",
    },
    fee={"eu": "UE", "non_eu": "Hors UE"},
    new_entrant=("Oui", "Non"),
    sex={"F": "F", "M": "M"},
    direction={"incoming": "Entrant", "outgoing": "Sortant"},
    scheme={
        "erasmus": "Erasmus+",
        "time_double_degree": "Double diplôme T.I.M.E.",
        "bilateral_exchange": "Échange bilatéral",
        "internship_abroad": "Stage à l'étranger",
        "erasmus_staff_teaching": "Erasmus+ mobilité d'enseignement",
        "erasmus_staff_training": "Erasmus+ mobilité de formation",
        "time_staff_visit": "Visite T.I.M.E.",
        "invited_professorship": "Professeur invité",
        "other": "Autre",
    },
    language={"fr": "Français", "en": "Anglais"},
    country="fr",
    year=lambda y: f"{y}-{y + 1}",
    date="%d/%m/%Y",
    amount=lambda amount, _year: f"{amount:.2f}".replace(".", ","),
    enrolment_headers=_imta_enrolment_headers,
    fees_headers=_sep(
        "Année universitaire;Code formation;Libellé formation;Niveau;Langue d'enseignement;"
        "Régime de frais;Montant annuel",
        ";",
    ),
    mobility_headers=_sep(
        "Numéro étudiant;Sens;Programme de mobilité;Établissement partenaire;Pays partenaire;"
        "Année universitaire;Date de début;Date de fin;Public",
        ";",
    ),
    category={
        "professor": "Professeur",
        "associate_professor": "Maître de conférences",
        "lecturer": "Enseignant",
        "researcher": "Ingénieur de recherche",
        "postdoc": "Post-doctorant",
        "visiting": "Professeur invité",
        "other": "Autre",
    },
    population={"student": "Étudiant", "staff": "Personnel"},
    fte=lambda fte: f"{fte:g}".replace(".", ","),
    faculty_headers=_sep(
        "Matricule;Nom;Prénom;Courriel;Date de naissance;Année universitaire;Corps;Département;"
        "Nationalité;Pays du poste précédent;Recruté dans l'année;Quotité;Enseigne en anglais",
        ";",
    ),
    bad={"category": "Vacataire", "population": "Doctorant", "scheme": "Mission"},
)

# ---------------------------------------------------------------------------------------
# Télécom Paris


def _euro_text(amount: float, _year: int) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}€{abs(amount):,.2f}"


TP = Style(
    level={
        "engineering": "Engineering",
        "msc": "MSc",
        "mastere_specialise": "Mastère Spécialisé",
        "national_master": "Master",
        "phd": "PhD",
        "exchange": "Exchange",
    },
    route={
        "cpge_exam": "CPGE exam",
        "admission_on_title": "Admission on title",
        "international_application": "International application",
        "double_degree": "Double degree",
        "exchange": "Exchange",
        "other": "Other",
    },
    mode={
        "initial": "Full-time",
        "apprenticeship": "Apprenticeship",
        "continuing_education": "Continuing education",
    },
    fee={"eu": "EU", "non_eu": "Non-EU"},
    new_entrant=("Y", "N"),
    sex={"F": "F", "M": "M"},
    direction={"incoming": "Incoming", "outgoing": "Outgoing"},
    scheme={
        "erasmus": "Erasmus+",
        "time_double_degree": "T.I.M.E. double degree",
        "bilateral_exchange": "Bilateral exchange",
        "internship_abroad": "Internship abroad",
        "erasmus_staff_teaching": "Erasmus+ staff teaching",
        "erasmus_staff_training": "Erasmus+ staff training",
        "time_staff_visit": "T.I.M.E. staff visit",
        "invited_professorship": "Invited professorship",
        "other": "Other",
    },
    language={"fr": "French", "en": "English"},
    country="alpha3",
    year=lambda y: f"{y}-{(y + 1) % 100:02d}",
    date=None,
    amount=_euro_text,
    enrolment_headers=_fixed(
        "Student ID,Last name,First name,Email,Date of birth,Academic year,Programme code,"
        "Programme,Level,Year of study,New entrant,Nationality,Previous degree country,"
        "Admission route,Study mode,Fee regime,Sex"
    ),
    fees_headers=_sep(
        "Academic year,Programme code,Programme,Level,Language,Fee regime,Annual fee"
    ),
    mobility_headers=_sep(
        "Student ID,Direction,Scheme,Partner institution,Partner country,Academic year,"
        "Start date,End date,Population"
    ),
    category={
        "professor": "Professor",
        "associate_professor": "Associate Professor",
        "lecturer": "Lecturer",
        "researcher": "Research Engineer",
        "postdoc": "Postdoctoral Researcher",
        "visiting": "Visiting Professor",
        "other": "Other",
    },
    population={"student": "Student", "staff": "Staff"},
    fte=None,
    faculty_headers=_sep(
        "Staff ID,Last name,First name,Email,Date of birth,Academic year,Category,Department,"
        "Nationality,Previous position country,New hire,FTE,Teaches in English"
    ),
    bad={"category": "Adjunct", "population": "PhD candidate", "scheme": "Conference"},
)

# ---------------------------------------------------------------------------------------
# Évry campus: Télécom SudParis and IMT Business School

#: The `ecole` column of the Évry files.
EVRY_SCHOOL = {"TSP": "TSP", "IMTBS": "IMT-BS"}

EVRY = Style(
    level={
        "engineering": "ingenieur",
        "msc": "msc",
        "bachelor": "bachelor",
        "mastere_specialise": "mastere_specialise",
        "national_master": "master",
        "phd": "doctorat",
        "exchange": "echange",
        "other": "pge",
    },
    route={
        "cpge_exam": "concours",
        "admission_on_title": "titre",
        "post_bac": "post_bac",
        "international_application": "international",
        "double_degree": "double_diplome",
        "exchange": "echange",
        "other": "autre",
    },
    mode={"initial": "FI", "apprenticeship": "FA", "continuing_education": "FC"},
    fee={"eu": "UE", "non_eu": "HORS_UE"},
    new_entrant=("1", "0"),
    sex={"F": "F", "M": "M"},
    direction={"incoming": "IN", "outgoing": "OUT"},
    scheme={
        "erasmus": "ERASMUS",
        "time_double_degree": "TIME",
        "bilateral_exchange": "BILATERAL",
        "internship_abroad": "STAGE",
        "erasmus_staff_teaching": "ERASMUS_STA",
        "erasmus_staff_training": "ERASMUS_STT",
        "time_staff_visit": "TIME_VISITE",
        "invited_professorship": "PROF_INVITE",
        "other": "AUTRE",
    },
    language={"fr": "fr", "en": "en"},
    country="fr",
    year=lambda y: f"{y}-{y + 1}",
    date="%Y-%m-%d",
    amount=lambda amount, _year: f"{amount:.2f}",
    enrolment_headers=_fixed(
        "ecole,num_etudiant,nom,prenom,email,date_naissance,annee_universitaire,code_programme,"
        "intitule_programme,niveau,annee_etude,primo_entrant,nationalite,"
        "pays_diplome_precedent,voie_admission,regime,categorie_frais,sexe"
    ),
    fees_headers=_sep(
        "ecole,annee_universitaire,code_programme,intitule_programme,niveau,langue,"
        "categorie_frais,montant"
    ),
    mobility_headers=_sep(
        "ecole,num_etudiant,sens,dispositif,etablissement_partenaire,pays_partenaire,"
        "annee_universitaire,date_debut,date_fin,public"
    ),
    category={
        "professor": "PR",
        "associate_professor": "MCF",
        "lecturer": "ENS",
        "researcher": "IR",
        "postdoc": "POSTDOC",
        "visiting": "INVITE",
        "other": "AUTRE",
    },
    population={"student": "ETU", "staff": "PERS"},
    fte=lambda fte: f"{fte:g}",
    faculty_headers=_sep(
        "ecole,matricule,nom,prenom,email,date_naissance,annee_universitaire,corps,departement,"
        "nationalite,pays_poste_precedent,nouvel_arrivant,etp,enseigne_anglais"
    ),
    bad={"category": "VAC", "population": "DOC", "scheme": "MISSION"},
)

# ---------------------------------------------------------------------------------------
# Mines Saint-Étienne


def _french_money(amount: float, year: int) -> str:
    """`4 850,00 €`: the export switched its thousands separator to a no-break space in 2023."""
    thousands = NBSP if year >= 2023 else " "
    text = f"{amount:,.2f}".replace(",", "\x00").replace(".", ",").replace("\x00", thousands)
    return f"{text} €"


MSE = Style(
    level={
        "engineering": "Ingénieur",
        "msc": "MSc",
        "mastere_specialise": "Mastère spécialisé",
        "national_master": "Master",
        "phd": "Doctorat",
        "exchange": "Échange",
    },
    route={
        "cpge_exam": "Concours commun",
        "admission_on_title": "Sur titre",
        "post_bac": "Post-bac",
        "international_application": "International",
        "double_degree": "Double diplôme",
        "exchange": "Échange",
        "other": "Autre",
    },
    mode={"initial": "FISE", "apprenticeship": "FISEA", "continuing_education": "FC"},
    fee={"eu": "Communautaire", "non_eu": "Extra-communautaire"},
    new_entrant=("O", "N"),
    sex={"F": "F", "M": "H"},
    direction={"incoming": "Entrant", "outgoing": "Sortant"},
    scheme={
        "erasmus": "Erasmus+",
        "time_double_degree": "T.I.M.E.",
        "bilateral_exchange": "Accord bilatéral",
        "internship_abroad": "Stage",
        "erasmus_staff_teaching": "Erasmus+ STA",
        "erasmus_staff_training": "Erasmus+ STT",
        "time_staff_visit": "T.I.M.E. visite",
        "invited_professorship": "Professeur invité",
        "other": "Autre",
    },
    language={"fr": "Français", "en": "Anglais"},
    country="fr",
    year=lambda y: f"{y}/{(y + 1) % 100:02d}",
    date="%d/%m/%Y",
    amount=_french_money,
    enrolment_headers=_fixed(
        "N° étudiant,Nom,Prénom,Mél,Date de naissance,Année,Code diplôme,Intitulé diplôme,"
        "Cycle,Année d'étude,Primo-entrant,Nationalité,Pays dernier diplôme,Mode d'admission,"
        "Régime,Tarif,Sexe"
    ),
    fees_headers=_sep("Année,Code diplôme,Intitulé diplôme,Cycle,Langue,Tarif,Montant"),
    mobility_headers=_sep("N° étudiant,Sens,Dispositif,Partenaire,Pays,Année,Début,Fin,Public"),
    category={
        "professor": "Professeur",
        "associate_professor": "Maître-assistant",
        "lecturer": "Enseignant",
        "researcher": "Chargé de recherche",
        "postdoc": "Post-doctorant",
        "visiting": "Professeur invité",
        "other": "Autre",
    },
    population={"student": "Élève", "staff": "Personnel"},
    fte=lambda fte: f"{round(fte * 100)} %",
    faculty_headers=_sep(
        "Matricule,Nom,Prénom,Mél,Date de naissance,Année,Catégorie,Centre,Nationalité,"
        "Pays poste précédent,Nouvel arrivant,Quotité,Cours en anglais"
    ),
    bad={"category": "Vacataire", "population": "Doctorant", "scheme": "Mission"},
)

# ---------------------------------------------------------------------------------------
# IMT Mines Albi and IMT Mines Alès: the vendor's tab-separated export

VENDOR_TSV = Style(
    level={
        "engineering": "ENG",
        "msc": "MSC",
        "mastere_specialise": "MS",
        "national_master": "MASTER",
        "phd": "PHD",
        "exchange": "EXCH",
        "bachelor": "BACH",
    },
    route={
        "cpge_exam": "CPGE",
        "admission_on_title": "TITLE",
        "post_bac": "POSTBAC",
        "international_application": "INTL",
        "double_degree": "DD",
        "exchange": "EXCH",
        "other": "OTHER",
    },
    mode={"initial": "FT", "apprenticeship": "APP", "continuing_education": "CE"},
    fee={"eu": "EU", "non_eu": "NONEU"},
    new_entrant=("1", "0"),
    sex={"F": "F", "M": "M"},
    direction={"incoming": "IN", "outgoing": "OUT"},
    scheme={
        "erasmus": "ERASMUS",
        "time_double_degree": "TIME",
        "bilateral_exchange": "BILAT",
        "internship_abroad": "INTERNSHIP",
        "erasmus_staff_teaching": "STA",
        "erasmus_staff_training": "STT",
        "time_staff_visit": "TIME_STAFF",
        "invited_professorship": "INVITED",
        "other": "OTHER",
    },
    language={"fr": "FR", "en": "EN"},
    country="en",
    year=str,
    date="%Y-%m-%d",
    amount=lambda amount, _year: f"{amount:.2f}",
    enrolment_headers=_fixed(
        "STUDENT_NO,SURNAME,GIVEN_NAME,EMAIL,BIRTH_DATE,ACAD_YEAR,PROG_CODE,PROG_TITLE,"
        "PROG_LEVEL,STUDY_YEAR,NEW_ENTRANT,NATIONALITY,PREV_DEGREE_COUNTRY,ADMISSION,MODE,"
        "FEE_REGIME,GENDER"
    ),
    fees_headers=_sep("ACAD_YEAR,PROG_CODE,PROG_TITLE,PROG_LEVEL,LANGUAGE,FEE_REGIME,ANNUAL_FEE"),
    mobility_headers=_sep(
        "STUDENT_NO,DIRECTION,SCHEME,PARTNER,PARTNER_COUNTRY,ACAD_YEAR,START_DATE,END_DATE,"
        "POPULATION"
    ),
    category={
        "professor": "PROF",
        "associate_professor": "ASSOC",
        "lecturer": "LECT",
        "researcher": "RES",
        "postdoc": "PDOC",
        "visiting": "VISIT",
        "other": "OTHER",
    },
    population={"student": "STU", "staff": "STAFF"},
    fte=lambda fte: f"{fte:.2f}",
    faculty_headers=_sep(
        "STAFF_NO,SURNAME,GIVEN_NAME,EMAIL,BIRTH_DATE,ACAD_YEAR,CATEGORY,DEPARTMENT,NATIONALITY,"
        "PREV_POSITION_COUNTRY,NEW_HIRE,FTE,TEACHES_EN"
    ),
    bad={"category": "ADJ", "population": "PHD", "scheme": "MISSION"},
)


# ---------------------------------------------------------------------------------------
# Rendering


def _mapped(column: str, mapping: dict[str, str]) -> pl.Expr:
    return pl.col(column).replace_strict(mapping, return_dtype=pl.String)


def _countries(frame: pl.DataFrame, columns: tuple[str, ...], style: Style) -> list[pl.Expr]:
    codes = pl.concat([frame[c].drop_nulls() for c in columns]).unique().sort().to_list()
    mapping = country_map(style.country, codes)
    return [_mapped(c, mapping) for c in columns]


def _years(frame: pl.DataFrame, style: Style) -> pl.Expr:
    mapping = {y: style.year(y) for y in frame["academic_year"].unique().sort().to_list()}
    return pl.col("academic_year").replace_strict(mapping, return_dtype=pl.String)


def _date(column: str, style: Style) -> pl.Expr:
    return pl.col(column) if style.date is None else pl.col(column).dt.strftime(style.date)


def render_enrolment(frame: pl.DataFrame, style: Style) -> pl.DataFrame:
    """Canonical enrolment rows in the school's words, in export column order."""
    true, false = style.new_entrant
    study_year = pl.col("study_year")
    return frame.select(
        "student_id",
        "last_name",
        "first_name",
        "email",
        _date("birth_date", style),
        _years(frame, style),
        "programme_code",
        "programme_name",
        _mapped("level", style.level),
        study_year if style.date is None else study_year.cast(pl.String),
        pl.when(pl.col("new_entrant"))
        .then(pl.lit(true))
        .otherwise(pl.lit(false))
        .alias("new_entrant"),
        *_countries(frame, ("nationality", "prior_degree_country"), style),
        _mapped("admission_route", style.route),
        _mapped("study_mode", style.mode),
        _mapped("fee_category", style.fee),
        _mapped("sex", style.sex),
    ).select(ENROLMENT_COLUMNS)


def render_fees(frame: pl.DataFrame, style: Style) -> pl.DataFrame:
    amounts = [
        style.amount(amount, year)
        for amount, year in zip(
            frame["amount"].to_list(), frame["academic_year"].to_list(), strict=True
        )
    ]
    return frame.select(
        _years(frame, style),
        "programme_code",
        "programme_name",
        _mapped("level", style.level),
        _mapped("language", style.language),
        _mapped("fee_category", style.fee),
        pl.Series("amount", amounts, dtype=pl.String),
    )


def _with_bad(style: Style, name: str) -> dict[str, str]:
    return {**getattr(style, name), BAD: style.bad[name]}


def render_mobility(frame: pl.DataFrame, style: Style) -> pl.DataFrame:
    return frame.select(
        "student_id",
        _mapped("direction", style.direction),
        _mapped("scheme", _with_bad(style, "scheme")),
        "partner_name",
        *_countries(frame, ("partner_country",), style),
        _years(frame, style),
        _date("start_date", style),
        _date("end_date", style),
        _mapped("population", _with_bad(style, "population")),
    ).select(MOBILITY_COLUMNS)


def _flag(column: str, style: Style) -> pl.Expr:
    true, false = style.new_entrant
    return (
        pl.when(pl.col(column))
        .then(pl.lit(true))
        .when(~pl.col(column))
        .then(pl.lit(false))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias(column)
    )


def render_faculty(frame: pl.DataFrame, style: Style) -> pl.DataFrame:
    """Canonical faculty rows in the school's words, in export column order."""
    fte = pl.col("fte")
    if style.fte is not None:
        fte = pl.Series("fte", [style.fte(v) for v in frame["fte"].to_list()], dtype=pl.String)
    return frame.select(
        "staff_id",
        "last_name",
        "first_name",
        "email",
        _date("birth_date", style),
        _years(frame, style),
        _mapped("category", _with_bad(style, "category")),
        "department",
        *_countries(frame, ("nationality", "previous_position_country"), style),
        _flag("new_hire", style),
        fte,
        _flag("teaches_in_english", style),
    ).select(FACULTY_COLUMNS)
