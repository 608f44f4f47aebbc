"""Countries in any language or code to ISO 3166-1 alpha-2, through maintained libraries.

Names come from pycountry (ISO 3166 names, official and common names, and their French
translations shipped with it) and from Babel's CLDR territory names in French and English;
EU/EEA membership and UN M49 regions come from country_converter's data table. Nothing is
typed by hand.
"""

from __future__ import annotations

import csv
import gettext
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

_PUNCT = re.compile(r"[^a-z0-9]+")


def country_key(text: str) -> str:
    """Case, accent, punctuation and word-order-insensitive key: 'Côte d’Ivoire' ==
    'COTE D'IVOIRE'; 'Korea, Republic of' keeps its words in order but drops the comma."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).casefold()
    return _PUNCT.sub(" ", folded).strip()


@dataclass(frozen=True)
class Country:
    code: str
    name_en: str
    name_fr: str
    is_eu_eea: bool
    eu_fee_regime: bool
    world_region: str


@cache
def _region_table() -> dict[str, tuple[str, bool]]:
    """alpha-2 -> (UN M49 sub-region, EU or EEA member today) from country_converter."""
    table: dict[str, tuple[str, bool]] = {}
    data = resources.files("country_converter").joinpath("country_data.tsv")
    with data.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            # The ISO2 cell is a regex where a country has aliases ("^GR$|^EL$" for Greece,
            # "^GB$|^UK$"): its first two-letter code is the ISO one.
            codes = re.findall(r"[A-Z]{2}", row["ISO2"])
            if not codes:
                continue
            member = bool(row.get("EU", "").strip() or row.get("EEA", "").strip())
            table.setdefault(codes[0], (row.get("UNregion", "").strip() or "Unknown", member))
    return table


#: The libraries the country tables are derived from (the cache is keyed by their versions).
SOURCES = ("pycountry", "babel", "country_converter")


@cache
def countries() -> dict[str, Country]:
    """Every ISO 3166-1 country (cached between processes: see imtetl.cache)."""
    from imtetl.cache import cached_json

    rows = cached_json("countries", lambda: [vars(c) for c in _countries().values()], *SOURCES)
    return {row["code"]: Country(**row) for row in rows}


def _countries() -> dict[str, Country]:
    import pycountry
    from babel import Locale

    french = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"])
    cldr_fr = Locale("fr").territories
    regions = _region_table()
    result = {}
    for entry in pycountry.countries:
        code = entry.alpha_2
        region, member = regions.get(code, ("Unknown", False))
        result[code] = Country(
            code=code,
            name_en=getattr(entry, "common_name", None) or entry.name,
            name_fr=cldr_fr.get(code) or french.gettext(entry.name),
            is_eu_eea=member,
            eu_fee_regime=member or code == "CH",
            world_region=region,
        )
    return result


@cache
def _lookup() -> dict[str, str]:
    from imtetl.cache import cached_json

    return cached_json("country-names", _names, *SOURCES)


def _names() -> dict[str, str]:
    import pycountry
    from babel import Locale

    french = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"])
    names: dict[str, str] = {}

    def add(label: str | None, code: str) -> None:
        if label:
            names.setdefault(country_key(label), code)

    for entry in pycountry.countries:
        code = entry.alpha_2
        add(code, code)
        add(entry.alpha_3, code)
        for attr in ("name", "official_name", "common_name"):
            label = getattr(entry, attr, None)
            add(label, code)
            if label:
                add(french.gettext(label), code)
    for locale in ("fr", "en"):
        for code, label in Locale(locale).territories.items():
            if len(code) == 2 and code.isalpha() and code in names.values():
                add(label, code)
    return names


def resolve_countries(values: list[str]) -> dict[str, str | None]:
    """Map each distinct raw value to its alpha-2 code, or None when it names no country."""
    lookup = _lookup()
    return {value: lookup.get(country_key(value)) for value in values}
