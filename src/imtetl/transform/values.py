"""Whole-column parsers: academic years, money, dates, integers and coded values.

Each works on distinct values or Polars expressions, never row by row in Python. Every
parser is total: a value it cannot read gives null (normalise turns that into a reason).
"""

from __future__ import annotations

import re

import polars as pl

from imtetl.transform.columns import normalise_label

#: Booleans every school may use without mapping them.
BOOLEAN_WORDS = {
    "true": "true", "1": "true", "yes": "true", "y": "true", "oui": "true", "o": "true",
    "vrai": "true",
    "false": "false", "0": "false", "no": "false", "n": "false", "non": "false",
    "faux": "false",
}  # fmt: skip

# -- academic years -------------------------------------------------------------------------

#: Labels written before a year: 'A.U. 2024/2025', 'Rentrée 2024', 'SY 24/25', 'Année 2024'.
_YEAR_LABEL = (
    r"(?:a\.?\s?u\.?|s\.?\s?y\.?|a\.?\s?y\.?"
    r"|ann[eé]e(?:\s+(?:universitaire|scolaire|acad[eé]mique))?"
    r"|rentr[eé]e(?:\s+(?:universitaire|scolaire))?"
    r"|(?:school|academic)\s+year|year|promo(?:tion)?)"
)
#: The built-in spellings: an optional label, a year or a pair of years (4 or 2 digits,
#: joined by - / – — or _), a spreadsheet's '.0', an optional tag such as '(S1)'.
_YEAR = re.compile(
    r"(?i)^\s*(?:" + _YEAR_LABEL + r"\s*:?\s*)?"
    r"(?P<start>\d{4}|\d{2})(?:\s*[-/\u2013\u2014_]\s*(?P<end>\d{4}|\d{2}))?(?P<point>\.0+)?"
    r"(?:\s*[-\u2013]?\s*\([^()]{1,20}\))?\s*$"
).pattern


def year_pattern_groups(pattern: str) -> list[str]:
    """The named groups of a ``format.year_pattern`` (as Polars compiles it: Rust regex
    syntax, no look-around); ValueError when it does not compile."""
    try:
        return list(pl.Series([""]).str.extract_groups(pattern).struct.fields)
    except pl.exceptions.PolarsError as exc:
        raise ValueError(" ".join(str(exc).split())[:300]) from exc


def _start_year(groups: pl.Expr, *, has_end: bool, built_in: bool) -> pl.Expr:
    """The starting year from extracted ``start`` (and ``end``) groups: two digits are 20xx;
    a pair must be consecutive years ('2024-2026' is not an academic year). The built-in
    spellings refuse a lone two-digit number ('24') and a '.0' after a pair."""
    start_text = groups.struct.field("start")
    digits = start_text.str.len_chars()
    start = start_text.cast(pl.Int32, strict=False)
    start = pl.when(digits == 2).then(start + 2000).when(digits == 4).then(start)
    single = pl.lit(True)
    pair = pl.lit(False)
    if has_end:
        end_text = groups.struct.field("end")
        end = end_text.cast(pl.Int32, strict=False)
        single = end_text.is_null()
        pair = (
            pl.when(end_text.str.len_chars() == 2)
            .then(end == (start + 1) % 100)
            .when(end_text.str.len_chars() == 4)
            .then((digits == 4) & (end == start + 1))
            .otherwise(False)
        )
    if built_in:
        single = single & (digits == 4)
        pair = pair & groups.struct.field("point").is_null()
    return pl.when(single).then(start).when(pair).then(start)


def academic_year(column: str, pattern: str | None = None) -> pl.Expr:
    """The starting year of an academic year in any common spelling: '2024', '2024.0',
    2024 (a number), '2024-25', '2024-2025', '2024/25', '24/25', '2024–2025', 'A.U.
    2024/2025', 'AU 2024-2025', 'Rentrée 2024', 'SY 24/25', 'SY2024-25', 'Année 2024-2025',
    '2024-2025 (S1)'... Two-digit years are 20xx; a pair must be consecutive; else null.

    ``pattern`` (``format.year_pattern``) is a regular expression with a named group
    ``start`` (2 or 4 digits; an optional group ``end`` is checked to follow it), tried
    before the built-ins and searched anywhere in the value (anchor it with ^...$)."""
    text = pl.col(column).cast(pl.String)
    year = _start_year(text.str.extract_groups(_YEAR), has_end=True, built_in=True)
    if pattern:
        has_end = "end" in year_pattern_groups(pattern)
        custom = _start_year(text.str.extract_groups(pattern), has_end=has_end, built_in=False)
        year = pl.coalesce(custom, year)
    return _on_distinct(pl.col(column).cast(pl.String), year.cast(pl.Int32), pl.Int32).alias(column)


def _on_distinct(column: pl.Expr, parse: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """``parse`` (an expression of ``pl.col(column)``) run on the column's distinct values
    only, then mapped back: a file of a million rows has a handful of distinct years."""
    name = parse.meta.root_names()[0]

    def batch(series: pl.Series) -> pl.Series:
        distinct = series.unique().drop_nulls()
        parsed = pl.DataFrame({name: distinct}).select(parse.alias("parsed"))["parsed"]
        return series.replace_strict(distinct, parsed, default=None, return_dtype=dtype)

    return column.map_batches(batch, return_dtype=dtype, is_elementwise=True)


# -- money ----------------------------------------------------------------------------------

_CURRENCY = r"(?:[€$£]|chf|eur|usd|gbp)"
#: Thousands separators recognised by default, as character classes (spaces of any width
#: count as one separator; so do the straight and the typographic apostrophe).
_GROUPS = {".": r"\.", ",": ",", " ": r"[ \u00a0\u202f]", "'": r"['\u2019]"}
_GROUP_OF = {"\u00a0": " ", "\u202f": " ", "\u2019": "'"}


def _amount_pattern(decimal_mark: str, thousands_separator: str | None) -> str:
    if thousands_separator is not None:
        groups = [_GROUPS[_GROUP_OF.get(thousands_separator, thousands_separator)]]
    else:
        groups = [g for mark, g in _GROUPS.items() if mark != decimal_mark]
    # One separator used consistently: '9,000,000' or '9 000 000', never '9,000 000'.
    # Punctuation groups by three (it could be a decimal mark); spaces anywhere, as the
    # old exports wrote them ('4 85000,00'), since a space is never a decimal mark.
    grouped = "|".join(
        rf"\d+(?:{g}+\d+)+" if g == _GROUPS[" "] else rf"\d{{1,3}}(?:{g}\d{{3}})+" for g in groups
    )
    decimal = re.escape(decimal_mark)
    return (
        rf"(?i)^\s*(?P<sign1>[-\u2212])?\s*{_CURRENCY}?\s*(?P<sign2>[-\u2212])?\s*"
        rf"(?P<number>(?:\d+|{grouped})(?:{decimal}\d+)?|{decimal}\d+)"
        rf"\s*{_CURRENCY}?\s*$"
    )


def money(column: str, decimal_mark: str = ".", thousands_separator: str | None = None) -> pl.Expr:
    """Amounts to Float64: '€9,000.00', '4 850,00 €' (no-break and narrow spaces too),
    "CHF 1'250.50", 'EUR 1.234,56', '-120,00 EUR', '3200,00', '2650.00'. One kind of
    thousands separator per amount, by default any of . , spaces ' ’ other than the decimal
    mark (``thousands_separator`` forces one); punctuation groups by three, spaces group
    anyhow. Ambiguous ('3200,00' with a decimal point) or garbage: null."""
    parts = pl.col(column).str.extract_groups(_amount_pattern(decimal_mark, thousands_separator))
    number = parts.struct.field("number")
    digits = number.str.replace_all(r"[^\d" + re.escape(decimal_mark) + "]", "")
    if decimal_mark != ".":
        digits = digits.str.replace(decimal_mark, ".", literal=True)
    negative = parts.struct.field("sign1").is_not_null() | parts.struct.field("sign2").is_not_null()
    value = digits.cast(pl.Float64, strict=False)
    both = parts.struct.field("sign1").is_not_null() & parts.struct.field("sign2").is_not_null()
    return pl.when(both).then(None).when(negative).then(-value).otherwise(value).alias(column)


# -- dates ----------------------------------------------------------------------------------

_TIME = re.compile(r"%[HIMSpTXcfz]")
#: An ISO date, optionally with a time (and zone): the date part is kept.
_ISO = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"


def date(column: str, date_formats: str | tuple[str, ...] | list[str] | None = None) -> pl.Expr:
    """Dates in the configured strptime formats, tried in order (one string is a list of
    one), then ISO ('2024-09-02', '2024-09-02T08:30:00Z') and Excel datetimes
    ('2024-09-02 00:00:00'); null otherwise."""
    if isinstance(date_formats, str):
        date_formats = (date_formats,)
    text = pl.col(column).str.strip_chars()
    tried = [
        text.str.to_datetime(fmt, strict=False).dt.date()
        if _TIME.search(fmt)
        else text.str.to_date(fmt, strict=False)
        for fmt in date_formats or ()
    ]
    iso = pl.when(text.str.contains(_ISO)).then(
        text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    )
    return pl.coalesce(*tried, iso).alias(column)


#: '0.8', '0,8', '.5', '1', '80 %', '80%', '12,5 %' (a share of one, or a percentage).
_FRACTION = r"^\s*(?<number>\d*[.,]?\d+)\s*(?<percent>%)?\s*$"


def fraction(column: str) -> pl.Expr:
    """Shares of one (a full-time equivalent) to Float64: '0.8', '0,8' or '80 %' are 0.8;
    a point or a comma is the decimal mark (a share has no thousands). Garbage: null."""
    parts = pl.col(column).str.extract_groups(_FRACTION)
    value = parts.struct.field("number").str.replace(",", ".", literal=True).cast(pl.Float64)
    percent = parts.struct.field("percent").is_not_null()
    return pl.when(percent).then(value / 100).otherwise(value).alias(column)


def integer(column: str) -> pl.Expr:
    """'2', '2.0' (spreadsheets) to Int32; anything else to null."""
    return pl.col(column).str.replace(r"\.0+$", "").cast(pl.Int32, strict=False)


# -- coded values ---------------------------------------------------------------------------


def boolean_words(
    true_values: tuple[str, ...] | list[str] = (), false_values: tuple[str, ...] | list[str] = ()
) -> dict[str, str]:
    """The built-in words with a school's own (``format.true_values``/``false_values``),
    keyed by normalised label; the school's words win over the built-in ones."""
    words = dict(BOOLEAN_WORDS)
    words.update({normalise_label(v): "true" for v in true_values})
    words.update({normalise_label(v): "false" for v in false_values})
    return words


def code_map(
    raw_values: list[str],
    school_map: dict[str, str],
    allowed: tuple[str, ...],
    booleans: dict[str, str] | None = None,
) -> dict[str, str | None]:
    """Distinct raw values to canonical codes: the school's map (spelling-insensitive), the
    canonical codes themselves, and for booleans the usual words (``booleans``: those of
    :func:`boolean_words`); None when unknown."""
    by_label = {normalise_label(k): v for k, v in school_map.items()}
    canonical = {normalise_label(code): code for code in allowed}
    words = BOOLEAN_WORDS if booleans is None else booleans
    result: dict[str, str | None] = {}
    for value in raw_values:
        label = normalise_label(value)
        code = by_label.get(label) or canonical.get(label)
        if code is None and allowed == ("true", "false"):
            code = words.get(label)
        result[value] = code
    return result
