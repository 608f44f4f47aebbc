"""What the sample schools teach, how many they admit, what they charge, whom they exchange with.

Intakes are new entrants per academic year at scale 1.0 for the reference year 2022 (IMT
Atlantique's are its published 2022 intake, `imt_key_figures_compiled.csv`); other years grow
by the school's rate. Fees follow `imt_tuition_fees_compiled.csv`: the regulated engineering
rate of the year's entrants per school group, the IMT international master's rate from
2025-26, the national rates for national masters and doctorates; mastères spécialisés,
bachelors, the business school's programme and pre-2025 MSc fees are school prices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

REFERENCE_YEAR = 2022

#: Years of study of each level.
DURATION = {
    "engineering": 3,
    "msc": 2,
    "mastere_specialise": 1,
    "national_master": 2,
    "phd": 3,
    "bachelor": 3,
    "exchange": 1,
    "other": 3,  # IMT-BS Programme Grande École
}

#: The level of each population profile ("kind").
LEVEL_OF_KIND = {
    "eng": "engineering",
    "eng_app": "engineering",
    "msc": "msc",
    "ms": "mastere_specialise",
    "nm": "national_master",
    "phd": "phd",
    "exch": "exchange",
    "bach": "bachelor",
    "pge": "other",
}


@dataclass(frozen=True)
class Programme:
    code: str
    name: str
    kind: str
    language: str  # fr / en
    intake: int  # new entrants in REFERENCE_YEAR at scale 1
    female: float | None = None  # share of women; the kind's default when None
    reduced_non_eu: bool = False  # on the IMT board's list: €6,500 non-EU from 2025

    @property
    def level(self) -> str:
        return LEVEL_OF_KIND[self.kind]

    @property
    def duration(self) -> int:
        return DURATION[self.level]


@dataclass(frozen=True)
class School:
    code: str
    name: str
    email_domain: str
    growth: float  # yearly intake growth
    engineering_group: str  # "A": MSE/TP/TSP/IMTA rate, "B": ALBI/ALES/IMTNE rate
    programmes: tuple[Programme, ...]
    post_bac: float = 0.0  # share of French engineering entrants admitted after the bac
    continuing_engineering: float = 0.0  # share of continuing education in general engineering
    msc_price: tuple[int, int, float] = (3000, 6000, 0.04)  # 2021 EU, non-EU, yearly rise
    missing_values: bool = False  # exports leave unknown sex / previous country empty
    fee_overrides: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    prices: dict[str, tuple[int, int, float]] = field(default_factory=dict)  # code -> price


P = Programme

SCHOOLS: tuple[School, ...] = (
    School(
        "IMTA",
        "IMT Atlantique",
        "imt-atlantique.net",
        growth=0.04,
        engineering_group="A",
        msc_price=(3500, 6000, 0.05),
        programmes=(
            P("IMTA-ING", "Ingénieur IMT Atlantique", "eng", "fr", 354),
            P(
                "IMTA-FIL-IRT",
                "Ingénieur spécialité informatique, réseaux et télécommunications (apprentissage)",
                "eng_app",
                "fr",
                60,
            ),
            P(
                "IMTA-FIL-ISP",
                "Ingénieur spécialité ingénierie des systèmes de production (apprentissage)",
                "eng_app",
                "fr",
                49,
            ),
            P("IMTA-MSC-CYBER", "Master of Science in Cybersecurity", "msc", "en", 30),
            P(
                "IMTA-MSC-DSAI",
                "Master of Science in Data Science and Artificial Intelligence",
                "msc",
                "en",
                30,
            ),
            P(
                "IMTA-MSC-NUC",
                "Master of Science in Nuclear Technologies",
                "msc",
                "en",
                25,
                reduced_non_eu=True,
            ),
            P(
                "IMTA-MSC-ENV",
                "Master of Science in Environmental Engineering and Energy Transition",
                "msc",
                "en",
                25,
            ),
            P(
                "IMTA-MSC-MDCN",
                "Master of Science in Mobile and Distributed Computer Networks",
                "msc",
                "en",
                27,
            ),
            P(
                "IMTA-MNAT-INFO",
                "Master Informatique, parcours Ingénierie logicielle",
                "nm",
                "fr",
                14,
            ),
            P("IMTA-MS-CYBER", "Mastère spécialisé Cybersécurité", "ms", "fr", 24),
            P(
                "IMTA-MS-ASI",
                "Mastère spécialisé Architecture des systèmes d'information",
                "ms",
                "fr",
                24,
            ),
            P("IMTA-DOC", "Doctorat IMT Atlantique", "phd", "fr", 50),
            P("IMTA-ECH", "Programme d'échange", "exch", "en", 130),
        ),
        prices={"IMTA-MS-CYBER": (11500, 11500, 0.03), "IMTA-MS-ASI": (10500, 10500, 0.03)},
    ),
    School(
        "TP",
        "Télécom Paris",
        "telecom-paris.fr",
        growth=0.02,
        engineering_group="A",
        msc_price=(5000, 10000, 0.03),
        programmes=(
            P("TP-ING", "Ingénieur Télécom Paris", "eng", "fr", 300),
            P("TP-ING-APP", "Ingénieur Télécom Paris par apprentissage", "eng_app", "fr", 90),
            P("TP-MSC-CYBER", "MSc Cybersecurity", "msc", "en", 40),
            P("TP-MSC-DAI", "MSc Data and Artificial Intelligence", "msc", "en", 40),
            P(
                "TP-MS-BGD",
                "Mastère Spécialisé Big Data : gestion et analyse des données massives",
                "ms",
                "fr",
                45,
            ),
            P("TP-MS-CYBER", "Mastère Spécialisé Cybersécurité et cyberdéfense", "ms", "fr", 35),
            P(
                "TP-MASTER-DS",
                "Master Mathématiques appliquées, parcours Data Science",
                "nm",
                "en",
                20,
            ),
            P("TP-PHD", "Doctorat Télécom Paris", "phd", "fr", 90),
            P("TP-EXCH", "Exchange programme", "exch", "en", 140),
        ),
        prices={"TP-MS-BGD": (17500, 17500, 0.03), "TP-MS-CYBER": (16500, 16500, 0.03)},
    ),
    School(
        "TSP",
        "Télécom SudParis",
        "telecom-sudparis.eu",
        growth=0.03,
        engineering_group="A",
        msc_price=(4000, 8000, 0.04),
        programmes=(
            P("TSP-ING", "Ingénieur Télécom SudParis", "eng", "fr", 190),
            P(
                "TSP-ING-FISA",
                "Ingénieur Télécom SudParis par apprentissage (FISA)",
                "eng_app",
                "fr",
                90,
            ),
            P("TSP-MSC-NCS", "MSc Networks and Cybersecurity", "msc", "en", 35),
            P(
                "TSP-MS-ARC",
                "Mastère Spécialisé Architecte réseaux, cybersécurité",
                "ms",
                "fr",
                25,
            ),
            P("TSP-DOC", "Doctorat Télécom SudParis", "phd", "fr", 45),
            P("TSP-ECH", "Programme d'échange", "exch", "en", 80),
        ),
        prices={"TSP-MS-ARC": (14000, 14000, 0.03)},
    ),
    School(
        "IMTBS",
        "Institut Mines-Télécom Business School",
        "imt-bs.eu",
        growth=0.03,
        engineering_group="A",
        msc_price=(7500, 7500, 0.03),
        programmes=(
            P("IMTBS-BACH", "Bachelor Management et Technologies", "bach", "fr", 90, female=0.5),
            P(
                "IMTBS-PGE",
                "Management, Innovation\net Technologies",
                "pge",
                "fr",
                280,
                female=0.52,
            ),
            P("IMTBS-MSC-ICTBM", "MSc ICT Business Management", "msc", "en", 45, female=0.48),
            P("IMTBS-MSC-IM", "MSc International Management", "msc", "en", 45, female=0.55),
            P(
                "IMTBS-MS-MTD",
                "Mastère Spécialisé Manager de la transformation digitale",
                "ms",
                "fr",
                40,
                female=0.45,
            ),
            P("IMTBS-DOC", "Doctorat en sciences de gestion", "phd", "fr", 10, female=0.5),
            P("IMTBS-ECH", "Exchange programme", "exch", "en", 120, female=0.55),
        ),
        prices={
            "IMTBS-BACH": (8500, 9500, 0.03),
            "IMTBS-PGE": (3650, 5650, 0.04),
            "IMTBS-MS-MTD": (13500, 13500, 0.03),
        },
    ),
    School(
        "MSE",
        "Mines Saint-Étienne",
        "etu.emse.fr",
        growth=0.02,
        engineering_group="A",
        continuing_engineering=0.02,
        msc_price=(3000, 6000, 0.05),
        programmes=(
            P("MSE-ICM", "Ingénieur civil des mines (ICM)", "eng", "fr", 180),
            P("MSE-ISMIN", "Ingénieur ISMIN – microélectronique et informatique", "eng", "fr", 150),
            P("MSE-ISMIN-APP", "Ingénieur ISMIN par apprentissage", "eng_app", "fr", 40),
            P("MSE-ISTP", "Ingénieur de spécialité par apprentissage (ISTP)", "eng_app", "fr", 90),
            P(
                "MSE-MSC-SMP",
                "MSc Sustainable Materials and Processes",
                "msc",
                "en",
                25,
                reduced_non_eu=True,
            ),
            P("MSE-MSC-CPS", "MSc Cyber-Physical Systems", "msc", "en", 25),
            P("MSE-MSC-HDS", "MSc Health Data Science", "msc", "en", 25),
            P("MSE-MSC-SCIE", "MSc Supply Chain and Industrial Engineering", "msc", "en", 25),
            P(
                "MSE-MS-MRI",
                "Mastère spécialisé Management des risques industriels",
                "ms",
                "fr",
                30,
            ),
            P("MSE-MASTER-SGM", "Master Sciences et génie des matériaux", "nm", "fr", 25),
            P("MSE-DOC", "Doctorat Mines Saint-Étienne", "phd", "fr", 80),
            P("MSE-ECH", "Programme d'échange", "exch", "en", 150),
        ),
        prices={"MSE-MS-MRI": (10500, 10500, 0.03)},
    ),
    School(
        "IMTNE",
        "IMT Nord Europe",
        "etu.imt-nord-europe.fr",
        growth=0.03,
        engineering_group="B",
        post_bac=0.15,
        continuing_engineering=0.02,
        msc_price=(2500, 5000, 0.05),
        programmes=(
            P("IMTNE-ING", "Ingénieur généraliste IMT Nord Europe", "eng", "fr", 630),
            P(
                "IMTNE-FISA-GI",
                "Ingénieur spécialité génie industriel (apprentissage)",
                "eng_app",
                "fr",
                90,
            ),
            P(
                "IMTNE-FISA-IR",
                "Ingénieur spécialité informatique et réseaux (apprentissage)",
                "eng_app",
                "fr",
                90,
            ),
            P(
                "IMTNE-FISA-GE",
                "Ingénieur spécialité génie énergétique (apprentissage)",
                "eng_app",
                "fr",
                70,
            ),
            P(
                "IMTNE-FISA-GC",
                "Ingénieur spécialité génie civil (apprentissage)",
                "eng_app",
                "fr",
                70,
            ),
            P("IMTNE-MSC-DSDS", "MSc Digital Systems and Data Science", "msc", "en", 40),
            P(
                "IMTNE-MSC-EEE",
                "MSc Energy and Environmental Engineering",
                "msc",
                "en",
                40,
                reduced_non_eu=True,
            ),
            P("IMTNE-MSC-SCE", "MSc Sustainable Civil Engineering", "msc", "en", 40),
            P("IMTNE-MSC-IEL", "MSc Industrial Engineering and Logistics", "msc", "en", 40),
            P("IMTNE-MSC-CIS", "MSc Cybersecurity for Industrial Systems", "msc", "en", 40),
            P(
                "IMTNE-MS-QSE",
                "Mastère spécialisé Management de la qualité, de la sécurité et de l'environnement",
                "ms",
                "fr",
                50,
            ),
            P(
                "IMTNE-MS-ISI",
                "Mastère spécialisé Ingénierie des systèmes d'information",
                "ms",
                "fr",
                50,
            ),
            P("IMTNE-MASTER-GC", "Master Génie civil", "nm", "fr", 30),
            P("IMTNE-MASTER-ENV", "Master Sciences de l'environnement", "nm", "fr", 30),
            P("IMTNE-DOC", "Doctorat IMT Nord Europe", "phd", "fr", 110),
            P("IMTNE-ECH", "Exchange programme", "exch", "en", 300),
        ),
        prices={"IMTNE-MS-QSE": (9500, 9500, 0.03), "IMTNE-MS-ISI": (9800, 9800, 0.03)},
    ),
    School(
        "ALBI",
        "IMT Mines Albi",
        "mines-albi.fr",
        growth=0.02,
        engineering_group="B",
        post_bac=0.12,
        missing_values=True,
        msc_price=(2500, 5000, 0.04),
        programmes=(
            P("ALBI-ING", "Ingénieur IMT Mines Albi", "eng", "fr", 175),
            P("ALBI-FISA-GI", "Ingénieur génie industriel par apprentissage", "eng_app", "fr", 35),
            P(
                "ALBI-FISA-GP",
                "Ingénieur génie des procédés par apprentissage",
                "eng_app",
                "fr",
                35,
            ),
            P(
                "ALBI-MSC-BIOWEEM",
                "MSc Biomass and Waste for Energy and Materials",
                "msc",
                "en",
                20,
                reduced_non_eu=True,
            ),
            P(
                "ALBI-MS-SCM",
                "Mastère spécialisé Management de la chaîne logistique",
                "ms",
                "fr",
                15,
            ),
            P("ALBI-DOC", "Doctorat IMT Mines Albi", "phd", "fr", 30),
            P("ALBI-EXCH", "Exchange programme", "exch", "en", 55),
        ),
        prices={"ALBI-MS-SCM": (9000, 9000, 0.03)},
    ),
    School(
        "ALES",
        "IMT Mines Alès",
        "mines-ales.org",
        growth=0.02,
        engineering_group="B",
        post_bac=0.18,
        continuing_engineering=0.02,
        missing_values=True,
        msc_price=(2500, 5000, 0.04),
        # IMT Mines Alès publishes tuition plus €250 school fees (2021-22 page).
        fee_overrides={
            ("engineering", 2021): (2400, 4400),
            ("engineering", 2022): (2400, 4400),
        },
        programmes=(
            P("ALES-ING", "Ingénieur généraliste IMT Mines Alès", "eng", "fr", 230),
            P(
                "ALES-FISA-IR",
                "Ingénieur informatique et réseaux par apprentissage",
                "eng_app",
                "fr",
                55,
            ),
            P("ALES-FISA-MECA", "Ingénieur mécatronique par apprentissage", "eng_app", "fr", 55),
            P("ALES-BACH", "Bachelor Sciences et Ingénierie", "bach", "fr", 30),
            P("ALES-MSC-ERE", "MSc Environmental and Risk Engineering", "msc", "en", 20),
            P(
                "ALES-MS-SDF",
                "Mastère spécialisé Sûreté de fonctionnement et gestion des risques",
                "ms",
                "fr",
                15,
            ),
            P("ALES-DOC", "Doctorat IMT Mines Alès", "phd", "fr", 35),
            P("ALES-EXCH", "Exchange programme", "exch", "en", 70),
        ),
        prices={"ALES-BACH": (2500, 3900, 0.03), "ALES-MS-SDF": (9000, 9000, 0.03)},
    ),
)

SCHOOL_BY_CODE = {school.code: school for school in SCHOOLS}

# ---------------------------------------------------------------------------------------
# Fees

# Regulated engineering rate for the year's entrants (EU, non-EU), by school group.
_ENGINEERING = {
    "A": ((2018, 2650, 4150), (2023, 2900, 4550), (2024, 3200, 4850)),
    "B": ((2016, 2150, 4150), (2023, 2350, 4550), (2024, 2650, 4850)),
}
_MSC_REGULATED_FROM = 2025
_MSC_REGULATED = (4500, 9000)
_MSC_REDUCED_NON_EU = 6500
_NATIONAL_MASTER = (243, 3770)
_DOCTORATE = (380, 380)
_FIRST_PRICE_YEAR = 2021


def _school_price(base: tuple[int, int, float], year: int) -> tuple[int, int]:
    eu, non_eu, rise = base
    factor = (1 + rise) ** max(0, year - _FIRST_PRICE_YEAR)
    return (int(round(eu * factor / 50) * 50), int(round(non_eu * factor / 50) * 50))


def annual_fee(school: School, programme: Programme, year: int) -> tuple[int, int]:
    """(EU, non-EU) annual fee of `programme` in academic year `year`, in euros."""
    level = programme.level
    if (level, year) in school.fee_overrides:
        return school.fee_overrides[(level, year)]
    if level == "engineering":
        fee = _ENGINEERING[school.engineering_group][0][1:]
        for since, eu, non_eu in _ENGINEERING[school.engineering_group]:
            if year >= since:
                fee = (eu, non_eu)
        return fee
    if level == "msc":
        if year >= _MSC_REGULATED_FROM:
            eu, non_eu = _MSC_REGULATED
            return (eu, _MSC_REDUCED_NON_EU if programme.reduced_non_eu else non_eu)
        return _school_price(school.msc_price, year)
    if level == "national_master":
        return _NATIONAL_MASTER
    if level == "phd":
        return _DOCTORATE
    if level == "exchange":
        return (0, 0)
    return _school_price(school.prices[programme.code], year)


# ---------------------------------------------------------------------------------------
# Partners: (name, ISO alpha-2 country, T.I.M.E. member). Companies host internships.

UNIVERSITIES: tuple[tuple[str, str, bool], ...] = (
    ("Technische Universität München", "DE", True),
    ("Karlsruher Institut für Technologie", "DE", False),
    ("RWTH Aachen University", "DE", True),
    ("Technische Universität Berlin", "DE", True),
    ("Politecnico di Milano", "IT", True),
    ("Politecnico di Torino", "IT", True),
    ("KTH Royal Institute of Technology", "SE", True),
    ("Chalmers University of Technology", "SE", False),
    ("Universitat Politècnica de Catalunya", "ES", True),
    ("Universidad Politécnica de Madrid", "ES", True),
    ("Delft University of Technology", "NL", False),
    ("Norwegian University of Science and Technology", "NO", True),
    ("Danmarks Tekniske Universitet", "DK", True),
    ("Universidade do Porto", "PT", True),
    ("Instituto Superior Técnico", "PT", True),
    ("Aristotle University of Thessaloniki", "GR", True),
    ("Warsaw University of Technology", "PL", False),
    ("Czech Technical University in Prague", "CZ", False),
    ("Budapest University of Technology and Economics", "HU", False),
    ("Technische Universität Wien", "AT", True),
    ("Université catholique de Louvain", "BE", True),
    ("Aalto University", "FI", False),
    ("Trinity College Dublin", "IE", False),
    ("ETH Zürich", "CH", False),
    ("École polytechnique fédérale de Lausanne", "CH", False),
    ("University of Edinburgh", "GB", False),
    ("Imperial College London", "GB", False),
    ("Tsinghua University", "CN", True),
    ("Shanghai Jiao Tong University", "CN", False),
    ("Beihang University", "CN", True),
    ("Université Laval", "CA", False),
    ("Polytechnique Montréal", "CA", False),
    ("Université de Sherbrooke", "CA", False),
    ("Universidade de São Paulo", "BR", True),
    ("Universidade Estadual de Campinas", "BR", True),
    ("Pontificia Universidad Católica de Chile", "CL", True),
    ("Tecnológico de Monterrey", "MX", False),
    ("Universidad de los Andes", "CO", False),
    ("Tohoku University", "JP", True),
    ("Keio University", "JP", False),
    ("KAIST", "KR", False),
    ("National University of Singapore", "SG", False),
    ("Indian Institute of Technology Bombay", "IN", False),
    ("University of California, Berkeley", "US", False),
    ("Georgia Institute of Technology", "US", False),
    ("École Mohammadia d'Ingénieurs", "MA", False),
    ("École Nationale d'Ingénieurs de Tunis", "TN", False),
    ("École Polytechnique de Thiès", "SN", False),
    ("Université Saint-Joseph de Beyrouth", "LB", False),
    ("Hanoi University of Science and Technology", "VN", False),
    ("University of Melbourne", "AU", False),
)

COMPANIES: tuple[tuple[str, str], ...] = (
    ("Siemens AG", "DE"),
    ("Airbus Operations GmbH", "DE"),
    ("ABB Switzerland Ltd", "CH"),
    ("Ericsson AB", "SE"),
    ("Nokia Solutions and Networks Oy", "FI"),
    ("Schneider Electric Singapore", "SG"),
    ("Thales Canada Inc.", "CA"),
    ("Capgemini Engineering India", "IN"),
    ("Orange Business Maroc", "MA"),
    ("Safran Mexico", "MX"),
    ("Renault do Brasil", "BR"),
    ("Amazon Web Services Ireland", "IE"),
    ("Volvo Group Trucks Technology", "SE"),
    ("STMicroelectronics Italia", "IT"),
    ("Vinci Construction UK", "GB"),
    ("Huawei Technologies Co.", "CN"),
)

# ---------------------------------------------------------------------------------------
# Nationalities: share of French nationals, then the foreign mix by weight.

_FOREIGN_ENG = (
    "MA 30 TN 12 DZ 8 CN 12 SN 6 CM 7 CI 5 LB 5 BR 3 VN 4 CO 2 MX 2 GA 2 BJ 2 BF 1 ML 1 "
    "MG 2 TG 1 IN 1 DE 1 IT 1 ES 1 BE 1 PT 1"
)
_FOREIGN_MSC = (
    "IN 12 CN 11 MA 7 LB 5 VN 5 CO 5 MX 4 BR 4 PK 4 IR 4 EG 3 TN 3 SN 2 CM 3 CI 2 DZ 2 NG 3 "
    "ID 2 TR 2 US 1 IT 2 DE 1 ES 2 GR 1 BD 2 KR 1 CL 1 PE 1 GH 1 ET 1 KE 1 GB 1"
)
_FOREIGN_PHD = (
    "CN 9 IT 5 LB 5 TN 5 MA 5 DZ 4 IN 4 IR 4 BR 3 VN 3 ES 3 DE 2 CO 2 PK 2 EG 2 SN 2 CM 2 "
    "GR 1 MX 1 TR 1 US 1 CL 1"
)


def _weights(spec: str) -> dict[str, float]:
    parts = spec.split()
    return {parts[i]: float(parts[i + 1]) for i in range(0, len(parts), 2)}


#: kind -> (share of French nationals, foreign nationalities by weight)
NATIONALITY: dict[str, tuple[float, dict[str, float]]] = {
    "eng": (0.87, _weights(_FOREIGN_ENG)),
    "eng_app": (0.965, _weights("MA 3 DZ 3 TN 2 PT 2 SN 1 CM 1 BE 1")),
    "msc": (0.28, _weights(_FOREIGN_MSC)),
    "ms": (0.62, _weights("MA 5 CN 3 LB 3 CI 3 SN 3 CM 3 TN 3 IN 2 DZ 2 GA 1 BJ 1")),
    "nm": (0.55, _weights(_FOREIGN_MSC)),
    "phd": (0.50, _weights(_FOREIGN_PHD)),
    "bach": (0.88, _weights("MA 4 CI 2 SN 2 CM 2 TN 2 CN 1 LB 1 DZ 1 GA 1")),
    "pge": (0.85, _weights("MA 4 CN 3 TN 2 CI 2 SN 2 CM 2 LB 2 DZ 1 VN 1 IN 1")),
    "exch": (0.0, _weights(_FOREIGN_MSC)),
}

# kind -> ((French routes by weight), (foreign routes by weight)); double degrees are drawn
# separately (students sent by a partner university), post-bac by the school's share.
ROUTES: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    "eng": (
        {"cpge_exam": 0.80, "admission_on_title": 0.18, "other": 0.02},
        {
            "cpge_exam": 0.40,
            "admission_on_title": 0.25,
            "international_application": 0.33,
            "other": 0.02,
        },
    ),
    "eng_app": (
        {"admission_on_title": 0.85, "cpge_exam": 0.12, "other": 0.03},
        {"admission_on_title": 0.9, "other": 0.1},
    ),
    "msc": (
        {"admission_on_title": 0.75, "international_application": 0.25},
        {"international_application": 1.0},
    ),
    "ms": (
        {"admission_on_title": 0.95, "other": 0.05},
        {"admission_on_title": 0.5, "international_application": 0.5},
    ),
    "nm": (
        {"admission_on_title": 0.9, "other": 0.1},
        {"international_application": 0.7, "admission_on_title": 0.3},
    ),
    "phd": (
        {"admission_on_title": 0.8, "other": 0.2},
        {"international_application": 0.5, "admission_on_title": 0.35, "other": 0.15},
    ),
    "bach": (
        {"post_bac": 0.95, "other": 0.05},
        {"international_application": 0.6, "post_bac": 0.4},
    ),
    "pge": (
        {"cpge_exam": 0.58, "admission_on_title": 0.40, "other": 0.02},
        {"international_application": 0.5, "cpge_exam": 0.2, "admission_on_title": 0.3},
    ),
    "exch": ({"exchange": 1.0}, {"exchange": 1.0}),
}

#: Share of entrants sent by a partner university under a double-degree agreement.
DOUBLE_DEGREE = {"eng": 0.06, "msc": 0.08, "pge": 0.03}

#: kind -> study modes by weight (general engineering adds the school's continuing share).
MODES: dict[str, dict[str, float]] = {
    "eng": {"initial": 1.0},
    "eng_app": {"apprenticeship": 1.0},
    "msc": {"initial": 1.0},
    "ms": {"initial": 0.65, "continuing_education": 0.35},
    "nm": {"initial": 0.95, "continuing_education": 0.05},
    "phd": {"initial": 1.0},
    "exch": {"initial": 1.0},
    "bach": {"initial": 1.0},
    "pge": {"initial": 0.75, "apprenticeship": 0.25},
}

#: kind -> share of women (IMT: 22.7% of engineering recruitment in 2022).
FEMALE = {
    "eng": 0.24,
    "eng_app": 0.18,
    "msc": 0.32,
    "ms": 0.30,
    "nm": 0.35,
    "phd": 0.33,
    "exch": 0.38,
    "bach": 0.50,
    "pge": 0.52,
}

#: kind -> typical age on entering year 1.
ENTRY_AGE = {
    "eng": 20,
    "eng_app": 21,
    "msc": 23,
    "ms": 26,
    "nm": 22,
    "phd": 25,
    "exch": 21,
    "bach": 18,
    "pge": 20,
}

#: kind -> probability of continuing to the next year of study.
RETENTION = {
    "eng": 0.97,
    "eng_app": 0.96,
    "msc": 0.95,
    "ms": 1.0,
    "nm": 0.93,
    "phd": 0.95,
    "exch": 1.0,
    "bach": 0.92,
    "pge": 0.97,
}

#: Share of foreign entrants holding a French previous degree, by admission route.
FRENCH_PRIOR_DEGREE = {
    "cpge_exam": 0.5,
    "admission_on_title": 0.35,
    "international_application": 0.05,
    "post_bac": 0.7,
    "other": 0.3,
    "double_degree": 0.0,
    "exchange": 0.0,
}

#: (kind, year of study) -> probability of an outgoing stay that year.
OUTGOING = {
    ("eng", 2): 0.18,
    ("eng", 3): 0.36,
    ("eng_app", 2): 0.10,
    ("eng_app", 3): 0.15,
    ("msc", 2): 0.15,
    ("nm", 2): 0.05,
    ("ms", 1): 0.04,
    ("phd", 1): 0.02,
    ("phd", 2): 0.06,
    ("phd", 3): 0.04,
    ("bach", 2): 0.12,
    ("bach", 3): 0.30,
    ("pge", 2): 0.25,
    ("pge", 3): 0.35,
}

#: (kind, year of study or 0 for any) -> schemes of outgoing stays by weight.
OUTGOING_SCHEMES: dict[tuple[str, int], dict[str, float]] = {
    ("eng", 2): {
        "erasmus": 0.45,
        "time_double_degree": 0.25,
        "bilateral_exchange": 0.20,
        "internship_abroad": 0.08,
        "other": 0.02,
    },
    ("eng", 3): {
        "erasmus": 0.45,
        "bilateral_exchange": 0.25,
        "internship_abroad": 0.27,
        "other": 0.03,
    },
    ("eng_app", 0): {"internship_abroad": 0.80, "erasmus": 0.15, "other": 0.05},
    ("msc", 0): {"internship_abroad": 0.85, "other": 0.15},
    ("nm", 0): {"internship_abroad": 0.85, "other": 0.15},
    ("ms", 0): {"internship_abroad": 1.0},
    ("phd", 0): {"bilateral_exchange": 0.6, "other": 0.4},
    ("bach", 0): {"erasmus": 0.55, "bilateral_exchange": 0.35, "internship_abroad": 0.10},
    ("pge", 0): {"erasmus": 0.55, "bilateral_exchange": 0.35, "internship_abroad": 0.10},
}

#: Share of a school's university partners it has agreements with.
PARTNER_SHARE = 0.7
#: Share of incoming exchange students sent by European (Erasmus+) partners.
ERASMUS_EXCHANGE = 0.6
