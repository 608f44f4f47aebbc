"""Small multi-national name lists for the personal columns of the sample exports.

Every name fits Windows-1252 (Mines Saint-Étienne's export encoding), so transliterated forms
are used where the real spelling would not (Nguyen, not Nguyễn). The names are invented
combinations of common given names and surnames; they identify nobody.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# region: (female given names, male given names, surnames)
_REGIONS: dict[str, tuple[str, str, str]] = {
    "fr": (
        "Camille Léa Manon Chloé Inès Sarah Emma Juliette Clara Lucie Marie Pauline Mathilde "
        "Anaïs Margaux Élise Louise Jeanne Océane Maëlle Nolwenn Justine Alice Charlotte",
        "Lucas Hugo Thomas Louis Nathan Antoine Maxime Alexandre Julien Théo Paul Arthur Romain "
        "Quentin Baptiste Clément Mathis Valentin Guillaume Nicolas Erwan Yann Gaël Benoît",
        "Martin|Bernard|Dubois|Thomas|Robert|Richard|Petit|Durand|Leroy|Moreau|Simon|Laurent|"
        "Lefebvre|Michel|Garcia|David|Bertrand|Roux|Vincent|Fournier|Morel|Girard|André|"
        "Lefèvre|Mercier|Dupont|Lambert|Bonnet|François|Martinez|Le Gall|Le Goff|Guillou|"
        "Morvan|Kerbrat|Le Roux|Faure|Rousseau|Blanc|Guérin|Muller|Henry|Roussel|Nicolas|"
        "Perrin|Masson|Marchand|Duval|Denis|Dumont|Fontaine|Chevalier|Gauthier|Lemoine",
    ),
    "maghreb": (
        "Yasmine Salma Imane Meriem Khadija Nour Amina Sara Hiba Rania Ines Lina Aya Chaima",
        "Mohamed Youssef Amine Mehdi Omar Karim Anas Hamza Ayoub Walid Ilyes Adam Rayan Bilal",
        "El Amrani|Benali|Bennani|Alaoui|Haddad|Mansouri|Ben Salah|Trabelsi|Bouzid|Cherif|"
        "Belkacem|Saidi|Ouali|Tazi|Chaoui|Benjelloun|Gharbi|Hamdi|El Idrissi|Ait Ahmed|"
        "Boukhari|Jaziri|Mejri|Slimani",
    ),
    "africa": (
        "Aminata Fatou Awa Mariama Aïssatou Grâce Bintou Ndeye Adjoa Estelle Mireille Carine",
        "Moussa Ibrahima Mamadou Cheikh Ousmane Abdoulaye Serge Franck Arnaud Kouassi Yannick "
        "Brice Landry Hervé",
        "Diallo|Ndiaye|Diop|Sow|Fall|Traoré|Koné|Ouédraogo|Kouamé|Mbarga|Nkoulou|Fotso|Tchamba|"
        "Kamga|Ngono|Ba|Sy|Cissé|Coulibaly|Yao|Mensah|Agbodjan|Rakoto|Andriamasy",
    ),
    "cn": (
        "Xinyi Yuxin Jing Mengqi Yutong Siyu Wen Lin Jiayi Ruoxi",
        "Hao Wei Jian Zhiyuan Yifan Haoran Tianyu Zihan Jun Bowen",
        "Wang|Li|Zhang|Liu|Chen|Yang|Zhao|Huang|Zhou|Wu|Xu|Sun|Zhu|Ma|Hu|Guo|Lin|He",
    ),
    "vn": (
        "Linh Trang Huong Thu Mai Anh Ngoc Phuong",
        "Minh Duc Huy Quang Tuan Nam Long Khoa",
        "Nguyen|Tran|Le|Pham|Hoang|Vu|Dang|Bui|Do|Ngo",
    ),
    "lb": (
        "Maya Rita Nour Lea Christelle Yara Joelle Rana",
        "Elie Georges Karim Rami Ali Hassan Joe Charbel",
        "Khoury|Haddad|Saade|Abi Nader|Nassar|Azar|Sfeir|Daher|Mansour|Hajj|Karam|Frem",
    ),
    "pt": (
        "Ana Beatriz Mariana Gabriela Juliana Larissa Inês Fernanda",
        "João Pedro Lucas Gabriel Rafael Thiago Mateus Tiago",
        "Silva|Santos|Oliveira|Souza|Pereira|Costa|Ferreira|Almeida|Rodrigues|Carvalho|Gomes|"
        "Ribeiro",
    ),
    "es": (
        "María Valentina Camila Daniela Sofía Lucía Paula Andrea Natalia",
        "Juan Santiago Sebastián Diego Alejandro Carlos Andrés Javier Pablo",
        "García|Rodríguez|Martínez|López|González|Hernández|Pérez|Sánchez|Ramírez|Torres|"
        "Gómez|Díaz|Vargas|Moreno|Castillo|Rojas",
    ),
    "de": (
        "Anna Lena Laura Sophie Lisa Hannah Katharina Julia",
        "Lukas Felix Jonas Maximilian Leon Paul Tobias Jan",
        "Müller|Schmidt|Schneider|Fischer|Weber|Meyer|Wagner|Becker|Hoffmann|Schulz|Koch|"
        "Richter|Bauer|Wolf",
    ),
    "it": (
        "Giulia Francesca Chiara Martina Sara Alessia Elena Federica",
        "Marco Luca Matteo Alessandro Lorenzo Andrea Davide Francesco",
        "Rossi|Russo|Ferrari|Esposito|Bianchi|Romano|Colombo|Ricci|Marino|Greco|Bruno|Conti",
    ),
    "in": (
        "Priya Ananya Shreya Divya Aishwarya Neha Pooja Kavya",
        "Rahul Arjun Aditya Vikram Rohan Karthik Siddharth Aman",
        "Sharma|Patel|Kumar|Singh|Reddy|Iyer|Nair|Gupta|Rao|Verma|Das|Menon|Hossain|Rahman",
    ),
    "mideast": (
        "Fatemeh Zahra Maryam Sara Nada Mariam Ayesha Hoda",
        "Reza Ali Amir Mohammad Ahmed Omar Hassan Usman",
        "Hosseini|Ahmadi|Rezaei|Mohammadi|Khan|Ahmed|Hussain|Mahmoud|Ibrahim|Hassan|El Sayed|"
        "Karimi",
    ),
    "intl": (
        "Emily Olivia Elena Nina Eva Zeynep Yuki Ji-woo Katarzyna Sofia Ingrid Amara",
        "James Daniel Michael Mehmet Kenji Min-jun Ivan Nikos Piotr Lars Chinedu Kwame",
        "Smith|Johnson|Brown|Kowalski|Novak|Papadopoulos|Yilmaz|Tanaka|Kim|Park|Ivanov|Hansen|"
        "Jensen|Nielsen|Andersson|Okafor|Mensah|Horvath",
    ),
}

_REGION_OF: dict[str, str] = {
    **dict.fromkeys(["FR", "BE", "LU", "CH", "MC"], "fr"),
    **dict.fromkeys(["MA", "DZ", "TN"], "maghreb"),
    **dict.fromkeys(
        ["SN", "CI", "CM", "GA", "BJ", "BF", "ML", "MG", "TG", "GN", "CG", "CD", "NE", "TD"],
        "africa",
    ),
    **dict.fromkeys(["CN", "TW"], "cn"),
    "VN": "vn",
    **dict.fromkeys(["LB", "SY"], "lb"),
    **dict.fromkeys(["BR", "PT"], "pt"),
    **dict.fromkeys(["ES", "CO", "MX", "CL", "PE", "AR"], "es"),
    **dict.fromkeys(["DE", "AT"], "de"),
    "IT": "it",
    **dict.fromkeys(["IN", "BD"], "in"),
    **dict.fromkeys(["IR", "PK", "EG"], "mideast"),
}


def region_of(alpha2: str) -> str:
    """The name list used for a nationality (international list when none fits)."""
    return _REGION_OF.get(alpha2, "intl")


def ascii_fold(name: str) -> str:
    """`Élise Le Gall` → `elise-le-gall`: the form used in e-mail addresses."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return plain.lower().replace(" ", "-").replace("'", "")


@dataclass(frozen=True)
class NameTable:
    """All names in flat tuples; a region is a contiguous slice of each tuple."""

    given: tuple[str, ...]
    surnames: tuple[str, ...]
    # region -> (female start, female stop, male start, male stop, surname start, surname stop)
    slices: dict[str, tuple[int, int, int, int, int, int]]


def _build() -> NameTable:
    given: list[str] = []
    surnames: list[str] = []
    slices: dict[str, tuple[int, int, int, int, int, int]] = {}
    for region, (female, male, family) in _REGIONS.items():
        f0 = len(given)
        given.extend(female.split())
        m0 = len(given)
        given.extend(male.split())
        s0 = len(surnames)
        surnames.extend(family.split("|"))
        slices[region] = (f0, m0, m0, len(given), s0, len(surnames))
    return NameTable(tuple(given), tuple(surnames), slices)


NAMES = _build()
REGIONS: tuple[str, ...] = tuple(_REGIONS)
