"""Country names in each school's style, derived from pycountry and babel (never typed by hand).

The sample model works with ISO alpha-2 codes; a writer turns them into what the school's
system writes: French names (IMTA, MSE, Évry), English names (ALBI, ALES), alpha-3 (TP) or
alpha-2 (IMTNE). Every name produced here resolves back through one of the sources the readers
accept (an ISO code, a pycountry name, its French gettext translation, a CLDR territory name).
"""

from __future__ import annotations

import gettext
from functools import cache

import babel
import pycountry

from imtetl.transform.countries import countries

#: EU member states, the other EEA states and Switzerland: the `eu` fee regime, as the
#: pipeline itself derives it (imtetl.transform.countries), so sample and readers agree.
EU_EEA_CH: frozenset[str] = frozenset(c.code for c in countries().values() if c.eu_fee_regime)

#: Canonical placeholder for the seeded "not a country" value; writers map it per style.
BAD_COUNTRY = "!BAD"

#: What each style writes for the seeded bad country.
BAD_COUNTRY_BY_STYLE = {"fr": "Atlantide", "en": "Atlantis", "alpha3": "ATL", "alpha2": "ZZ"}


@cache
def _french() -> gettext.NullTranslations:
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"])


def french_name(alpha2: str) -> str:
    """The French gettext translation of the pycountry name; CLDR's when that has a comma
    ("Corée, République de" becomes "Corée du Sud"), so CSV exports stay simple."""
    country = pycountry.countries.get(alpha_2=alpha2)
    name = _french().gettext(country.name)
    if "," in name:
        name = babel.Locale("fr").territories[alpha2]
    return name


def english_name(alpha2: str) -> str:
    """The pycountry name ("Viet Nam", "Côte d'Ivoire"), or its common name when the
    official short form is inverted ("Korea, Republic of" becomes "South Korea")."""
    country = pycountry.countries.get(alpha_2=alpha2)
    name = country.name
    if "," in name:
        name = getattr(country, "common_name", None) or babel.Locale("en").territories[alpha2]
    return name


def alpha3(alpha2: str) -> str:
    return pycountry.countries.get(alpha_2=alpha2).alpha_3


_STYLES = {
    "fr": french_name,
    "en": english_name,
    "alpha3": alpha3,
    "alpha2": lambda code: code,
}


def country_map(style: str, codes: list[str]) -> dict[str, str]:
    """alpha-2 code → name in `style`, for `codes` plus the seeded bad placeholder."""
    render = _STYLES[style]
    mapping = {code: render(code) for code in sorted(set(codes) - {BAD_COUNTRY})}
    mapping[BAD_COUNTRY] = BAD_COUNTRY_BY_STYLE[style]
    return mapping
