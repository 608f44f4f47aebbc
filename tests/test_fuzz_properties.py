"""Property-based tests (hypothesis) of every reader and normaliser, and of the school
configs: what any input must give, not what one example gives.

- readers: what a CSV/TSV writer, an XLSX writer or a JSON API writes reads back exactly;
  any bytes at all end in a frame or a SourceError naming the school and the file;
- normalisers: every input row ends in exactly one of rows and quarantine, typed and coded
  as the contract says, with no raw student id in any raw record; parsers of years, amounts
  and codes are total and accept every documented spelling; pseudonyms are stable and keyed;
- configs: any YAML ends in a SchoolPipeline or a ConfigError naming the file.

The default run is a small seeded one; IMTETL_EXHAUSTIVE=1 raises the counts (conftest.py).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import itertools
import json
import re
import string
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
import yaml
from hypothesis import assume, event, given, note
from hypothesis import strategies as st

from imtetl.pipeline_config import (
    CANONICAL_COLUMNS,
    CODED_COLUMNS,
    ConfigError,
    FormatOptions,
    SchoolPipeline,
    load_pipeline,
    load_pipelines,
)
from imtetl.read import RawFrame, SourceError, SourceUnit, read_unit
from imtetl.read.base import ROW
from imtetl.transform.columns import normalise_label
from imtetl.transform.countries import countries, resolve_countries
from imtetl.transform.normalise import KINDS, RAW, STAGING_COLUMNS, UNIT, normalise
from imtetl.transform.pseudonym import pseudonymise
from imtetl.transform.values import academic_year, code_map, money
from tests.conftest import ROOT
from tests.mutations import TALLY

PIPELINES = load_pipelines(ROOT / "pipelines")
_counter = itertools.count()


def _file(folder: Path, suffix: str, data: bytes) -> SourceUnit:
    path = folder / f"case-{next(_counter)}{suffix}"
    path.write_bytes(data)
    return SourceUnit("FUZZ", "enrolment", f"fuzz/{path.name}", (path,), None)


def _read(unit: SourceUnit, fmt: FormatOptions) -> RawFrame | None:
    """read_unit's only outcomes: a frame, or a SourceError naming school and file."""
    try:
        raw = read_unit(unit, fmt)
    except SourceError as exc:
        assert str(exc).startswith(f"FUZZ: {unit.source_file}: "), str(exc)
        assert "What to do:" in str(exc), str(exc)
        event("refused")
        return None
    event("read")
    assert raw.frame[ROW].is_unique().all()
    return raw


def _cells(raw: RawFrame) -> list[list[str | None]]:
    return [list(row) for row in raw.frame.drop(ROW).iter_rows()]


# --- delimited -----------------------------------------------------------------------------

_HEADER = st.text(string.ascii_letters + string.digits + " _-éèàçÉô°'", min_size=1, max_size=14)
_ENCODABLE = {
    "utf-8": st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufeff\x00"),
    "utf-8-sig": st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufeff\x00"),
    "cp1252": st.sampled_from(
        [chr(c) for c in range(1, 256) if chr(c).encode("cp1252", "ignore")] + list("€’œŒ")
    ),
}


@st.composite
def _delimited(draw):
    encoding = draw(st.sampled_from(sorted(_ENCODABLE)))
    separator = draw(st.sampled_from([",", ";", "\t", "|"]))
    headers = draw(
        st.lists(
            _HEADER.map(str.strip).filter(lambda h: h and h != ROW),
            min_size=2,
            max_size=6,
            unique_by=lambda h: h,
        )
    )
    cell = st.text(_ENCODABLE[encoding], max_size=12)
    rows = draw(st.lists(st.lists(cell, min_size=len(headers), max_size=len(headers)),
                         min_size=1, max_size=12))  # fmt: skip
    return encoding, separator, headers, rows


@given(case=_delimited())
def test_delimited_files_read_back_exactly(case, tmp_path_factory) -> None:
    """Any table a CSV writer writes (quotes, separators and line breaks in values, any
    encoding the school declares) reads back cell for cell; blank cells are nulls and rows
    with no value at all are not rows."""
    encoding, separator, headers, rows = case
    buffer = io.StringIO(newline="")
    # CRLF: the writer then quotes values holding either a CR or an LF
    csv.writer(buffer, delimiter=separator, lineterminator="\r\n").writerows([headers, *rows])
    fmt = FormatOptions(kind="csv", separator=separator, encoding=encoding)
    folder = tmp_path_factory.mktemp("csv", numbered=True)
    raw = _read(_file(folder, ".csv", buffer.getvalue().encode(encoding)), fmt)
    expected = [[c or None for c in row] for row in rows]
    expected = [row for row in expected if any(c is not None for c in row)]
    if not expected:
        assert raw is None  # a header and blank lines: "no data rows"
        return
    assert raw is not None
    note(f"{raw.frame}")
    assert raw.headers == headers
    assert _cells(raw) == expected
    TALLY["hypothesis: delimited files read back"] += 1


_SAMPLES = {
    "tsv": (ROOT / "pipelines", "ALBI", "enrolment"),
}


@given(data=st.binary(max_size=3000), kind=st.sampled_from(["csv", "xlsx", "json_pages"]))
def test_any_bytes_read_or_refused(data: bytes, kind: str, tmp_path_factory) -> None:
    fmt = FormatOptions(kind=kind, sheet="Sheet1" if kind == "xlsx" else None, separator=";")
    folder = tmp_path_factory.mktemp("bytes", numbered=True)
    _read(_file(folder, ".bin", data), fmt)
    TALLY["hypothesis: arbitrary bytes read or refused"] += 1


@st.composite
def _spliced(draw, original: bytes):
    """A real export with a few byte ranges deleted, duplicated or overwritten."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(data) - 1))
        end = draw(st.integers(start, min(len(data), start + 64)))
        action = draw(st.sampled_from(["delete", "repeat", "overwrite", "insert"]))
        if action == "delete":
            del data[start:end]
        elif action == "repeat":
            data[start:start] = data[start:end]
        elif action == "overwrite":
            data[start:end] = draw(st.binary(min_size=end - start, max_size=end - start))
        else:
            data[start:start] = draw(st.binary(min_size=1, max_size=16))
        if not data:
            break
    return bytes(data)


@pytest.fixture(scope="module")
def sample_files(small_landing: Path) -> dict[str, tuple[bytes, FormatOptions, str]]:
    return {
        "albi": (
            (small_landing / "albi" / "EXPORT_FEES_2023.tsv").read_bytes(),
            PIPELINES["ALBI"].format_for("tuition"),
            ".tsv",
        ),
        "evry": (
            (small_landing / "evry" / "evry_frais_2023.csv").read_bytes(),
            PIPELINES["TSP"].format_for("tuition"),
            ".csv",
        ),
        "mse": (
            next((small_landing / "mse").glob("mse_frais_2023*.csv")).read_bytes(),
            PIPELINES["MSE"].format_for("tuition"),
            ".csv",
        ),
        "tp": (
            (small_landing / "tp" / "tp_export_2023.xlsx").read_bytes(),
            PIPELINES["TP"].format_for("tuition"),
            ".xlsx",
        ),
        "imtne": (
            (small_landing / "imtne" / "fees" / "2023" / "page-0001.json").read_bytes(),
            PIPELINES["IMTNE"].format_for("tuition"),
            ".json",
        ),
    }


@given(data=st.data(), which=st.sampled_from(["albi", "evry", "mse", "tp", "imtne"]))
def test_spliced_exports_read_or_refused(data, which: str, sample_files, tmp_path_factory):
    original, fmt, suffix = sample_files[which]
    spliced = data.draw(_spliced(original))
    folder = tmp_path_factory.mktemp("spliced", numbered=True)
    _read(_file(folder, suffix, spliced), fmt)
    TALLY["hypothesis: spliced exports read or refused"] += 1


# --- XLSX ---------------------------------------------------------------------------------

_XLSX_TEXT = st.text(
    st.characters(
        blacklist_categories=("Cs", "Cc", "Co", "Cn"), blacklist_characters="\ufeff\ufffe"
    )
    | st.just("\n"),
    max_size=15,
)


@given(
    headers=st.lists(
        _HEADER.map(str.strip).filter(bool), min_size=2, max_size=6, unique_by=str.casefold
    ),
    data=st.data(),
)
def test_workbooks_read_back_exactly(headers, data, tmp_path_factory) -> None:
    """Any table written as text under a title row reads back cell for cell."""
    rows = data.draw(
        st.lists(st.lists(_XLSX_TEXT, min_size=len(headers), max_size=len(headers)),
                 min_size=1, max_size=10)
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("xlsx", numbered=True)
    path = folder / "book.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Data")
    sheet.write_string(0, 0, "A title row above the header")
    for r, row in enumerate([headers, *rows], start=1):
        for c, value in enumerate(row):
            if value:
                sheet.write_string(r, c, value)
    workbook.close()
    unit = SourceUnit("FUZZ", "enrolment", "fuzz/book.xlsx", (path,), None)
    raw = _read(unit, FormatOptions(kind="xlsx", sheet="Data", header_row=2))
    expected = [[c or None for c in row] for row in rows]
    expected = [row for row in expected if any(c is not None for c in row)]
    if not expected:
        assert raw is None
        return
    assert raw is not None and raw.headers == headers
    assert _cells(raw) == expected
    TALLY["hypothesis: workbooks read back"] += 1


# --- JSON pages ---------------------------------------------------------------------------

_KEY = st.text(string.ascii_lowercase + "_", min_size=1, max_size=8).filter(lambda k: k != ROW)
_SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEY, inner, max_size=3),
    max_leaves=6,
)


def _expected_flat(record: dict, prefix: str = "") -> dict[str, str | None]:
    """The reader's contract: nested objects become dotted columns, lists JSON text,
    booleans true/false, numbers their Python text, nulls nulls."""
    flat: dict[str, str | None] = {}
    for key, value in record.items():
        name = prefix + key
        if isinstance(value, dict):
            flat.update(_expected_flat(value, name + "."))
        elif value is None:
            flat[name] = None
        elif isinstance(value, bool):
            flat[name] = str(value).lower()
        elif isinstance(value, list):
            flat[name] = json.dumps(value, ensure_ascii=False)
        else:
            flat[name] = str(value)
    return flat


@given(
    pages=st.lists(
        st.lists(st.dictionaries(_KEY, _VALUE, min_size=1, max_size=5), max_size=6),
        min_size=1,
        max_size=3,
    )
)
def test_json_pages_read_back_flattened(pages, tmp_path_factory) -> None:
    folder = tmp_path_factory.mktemp("json", numbered=True)
    paths = []
    for number, records in enumerate(pages, start=1):
        path = folder / f"page-{number:04d}.json"
        path.write_text(json.dumps({"results": records, "next": None}))
        paths.append(path)
    unit = SourceUnit("FUZZ", "enrolment", "fuzz/page-*.json", tuple(paths), None)
    raw = _read(unit, FormatOptions(kind="json_pages"))
    flats = [_expected_flat(r) for records in pages for r in records]
    if raw is None:
        # no records, a dotted name clashing with a nested one, or no value at all
        return
    columns = list(dict.fromkeys(k for flat in flats for k in flat))
    assume(len({c for c in columns}) == len(raw.headers))
    expected = [[flat.get(c) for c in columns] for flat in flats]
    assert raw.headers == columns
    assert _cells(raw) == expected
    TALLY["hypothesis: JSON pages read back"] += 1


@given(page=_VALUE)
def test_any_json_page_read_or_refused(page, tmp_path_factory) -> None:
    folder = tmp_path_factory.mktemp("anyjson", numbered=True)
    unit = _file(folder, ".json", json.dumps({"results": page} if page else page).encode())
    _read(unit, FormatOptions(kind="json_pages"))
    TALLY["hypothesis: arbitrary JSON pages read or refused"] += 1


# --- normalisers --------------------------------------------------------------------------

_JUNK = st.sampled_from(
    ["", " ", "?", "NULL", "n/a", "-1", "0", "1e9", "2024-13-40", "Atlantide", "’", "🎓",
     "x" * 90, "'; DROP TABLE x; --", "\u200b", "2024/2025", "31/12/2024"]
) | st.text(max_size=12)  # fmt: skip


def _column_values(pipeline: SchoolPipeline, column: str, kind: str, year: int) -> tuple:
    """(well-formed values, ill-formed ones) of a canonical column."""
    good: st.SearchStrategy
    if kind == "year":
        good = st.sampled_from(
            [f"{year}", f"{year}-{year + 1}", f"{year}/{(year + 1) % 100:02d}", f" {year} "]
        )
    elif kind == "int":
        good = st.sampled_from(["1", "2", "3.0", "5"])
    elif kind == "country":
        good = st.sampled_from(["France", "Maroc", "MAR", "cn", "Côte d’Ivoire", "Allemagne"])
    elif kind == "code":
        good = st.sampled_from([*CODED_COLUMNS[column], *pipeline.values.get(column, {})])
    elif kind == "money":
        good = st.sampled_from(["2 650,00 €", "€9,000.00", "3200", "4\u00a0850,00", "12.5"])
    elif kind == "fraction":
        good = st.sampled_from(["1", "0.5", "0,8", "80 %", "25%", ".3"])
    elif kind == "date":
        month = st.integers(9, 12) if column == "start_date" else st.integers(1, 6)
        when = year if column == "start_date" else year + 1
        good = month.map(lambda m: f"{when}-{m:02d}-15")
    else:  # text, id: many distinct values, so that the grain rarely repeats
        good = st.text(string.ascii_uppercase + string.digits + "-", min_size=2, max_size=8)
    return good, st.none() | _JUNK


@st.composite
def _canonical_frame(draw):
    """Rows that are mostly well-formed, some cells missing or junk, in every column."""
    school = draw(st.sampled_from(sorted(PIPELINES)))
    pipeline = PIPELINES[school]
    dataset = draw(st.sampled_from(sorted(set(KINDS) & set(pipeline.datasets))))
    n = draw(st.integers(1, 25))
    dirty = draw(st.sampled_from([0.0, 0.02, 0.1, 0.3]))
    year = draw(st.sampled_from([2023, 2024]))
    data: dict[str, list] = {}
    for column, kind in KINDS[dataset].items():
        good, bad = _column_values(pipeline, column, kind, year)
        data[column] = [draw(bad if draw(st.floats(0, 1)) < dirty else good) for _ in range(n)]
    expected_year = draw(st.sampled_from([None, year, year + 1]))
    return pipeline, dataset, data, n, expected_year


@given(case=_canonical_frame())
def test_every_row_is_loaded_or_quarantined_once(case) -> None:
    pipeline, dataset, data, n, expected_year = case
    frame = pl.DataFrame(
        {**data, ROW: list(range(1, n + 1)), UNIT: ["fuzz/file.csv"] * n},
        schema={**{c: pl.String for c in data}, ROW: pl.Int64, UNIT: pl.String},
    )
    key = b"property-key-0123456789abcdef"
    result = normalise(frame, dataset, pipeline, key, expected_year=expected_year)
    loaded = result.rows[ROW].to_list()
    quarantined = result.quarantine["row_number"].to_list()
    assert sorted(loaded + quarantined) == list(range(1, n + 1))  # each row exactly once
    event(f"{'all' if len(loaded) == n else 'some' if loaded else 'no'} rows loaded")
    required, _ = CANONICAL_COLUMNS[dataset]
    rows = result.rows
    assert list(rows.columns[2:-1]) == STAGING_COLUMNS[dataset]
    for column in STAGING_COLUMNS[dataset]:
        canonical = "student_id" if column == "student_key" else column
        if canonical in required or column == "annual_fee_eur":
            assert rows[column].null_count() == 0, column
        # flags (is_new_entrant, is_new_hire, teaches_in_english) are booleans, not codes
        if column in CODED_COLUMNS and rows[column].dtype != pl.Boolean:
            assert set(rows[column].drop_nulls()) <= set(CODED_COLUMNS[column]), column
    assert rows["academic_year"].is_between(1990, 2100).all()
    if expected_year is not None:
        assert (rows["academic_year"] == expected_year).all()
    if dataset == "tuition":
        assert (rows["annual_fee_eur"].cast(pl.Float64) >= 0).all()
    if dataset == "mobility":
        assert (rows["end_date"] >= rows["start_date"]).all()
    countries_known = set(countries())
    for column in ("nationality", "prior_degree_country", "partner_country"):
        if column in rows.columns:
            assert set(rows[column].drop_nulls()) <= countries_known
    quarantine = result.quarantine
    assert quarantine["reason"].null_count() == 0 and quarantine["column"].null_count() == 0
    # raw records carry the pseudonym, never the school's student number
    ids = {v.strip() for v in data.get("student_id", []) if v and v.strip()}
    # kept rows carry their source values as a struct (JSON only once quarantined)
    kept = rows.select(pl.col(RAW).struct.json_encode()).to_series() if rows.height else []
    for record in (*quarantine["raw_record"], *kept):
        parsed = json.loads(record)
        assert "student_id" not in parsed
        if "student_key" in KINDS[dataset] or "student_id" in KINDS[dataset]:
            assert parsed["student_key"] is None or parsed["student_key"] not in ids
    TALLY["hypothesis: frames normalised (every row once)"] += 1


@given(year=st.integers(1990, 2099), style=st.integers(0, 5), pad=st.sampled_from(["", " "]))
def test_every_spelling_of_an_academic_year(year: int, style: int, pad: str) -> None:
    text = [
        f"{year}",
        f"{year}-{year + 1}",
        f"{year}/{(year + 1) % 100:02d}",
        f"{year}-{(year + 1) % 100:02d}",
        f"{year} - {year + 1}",
        f"{year}.0",
    ][style]
    parsed = pl.DataFrame({"y": [pad + text + pad]}).select(academic_year("y"))["y"][0]
    assert parsed == year


@given(
    amount=st.decimals(min_value=0, max_value=Decimal("99999999.99"), places=2),
    decimal_mark=st.sampled_from([",", "."]),
    group=st.sampled_from(["", " ", "\u00a0", "\u202f", "thousands"]),
    currency=st.sampled_from(["", "€", " €", "EUR ", "€ "]),
    negative=st.booleans(),
)
def test_amounts_in_every_layout(amount, decimal_mark, group, currency, negative) -> None:
    whole, cents = f"{amount:.2f}".split(".")
    separator = ("." if decimal_mark == "," else ",") if group == "thousands" else group
    grouped = f"{int(whole):,}".replace(",", separator)
    text = f"{'-' if negative else ''}{grouped}{decimal_mark}{cents}"
    text = f"{currency}{text}" if currency.endswith(("€", " ")) else text + currency
    parsed = pl.DataFrame({"f": [text]}).select(money("f", decimal_mark))["f"][0]
    assert parsed is not None, text
    assert abs(parsed - float(amount) * (-1 if negative else 1)) < 0.005, text


@given(text=st.text(max_size=30), decimal_mark=st.sampled_from([",", "."]))
def test_parsers_are_total(text: str, decimal_mark: str) -> None:
    frame = pl.DataFrame({"v": [text]})
    year = frame.select(academic_year("v"))["v"][0]
    assert year is None or 1900 <= year <= 2099
    frame.select(money("v", decimal_mark))
    assert resolve_countries([text])[text] in (None, *countries())
    mapped = code_map([text], {"x": "msc"}, CODED_COLUMNS["programme_level"])
    assert mapped[text] in (None, *CODED_COLUMNS["programme_level"])


def _respell(label: str, draw) -> str:
    cased = "".join(c.upper() if draw(st.booleans()) else c.lower() for c in label)
    return draw(st.sampled_from(["", " ", "  "])) + cased.replace(" ", "   ") + " "


@given(data=st.data())
def test_codes_and_headers_match_in_any_case_or_spacing(data) -> None:
    school = data.draw(st.sampled_from(sorted(s for s, p in PIPELINES.items() if p.values)))
    pipeline = PIPELINES[school]
    column = data.draw(st.sampled_from(sorted(pipeline.values)))
    raw = data.draw(st.sampled_from(sorted(pipeline.values[column])))
    variant = _respell(raw, data.draw)
    allowed = CODED_COLUMNS[column]
    assert (
        code_map([variant], pipeline.values[column], allowed)[variant]
        == (code_map([raw], pipeline.values[column], allowed)[raw])
    )
    header = data.draw(st.sampled_from(sorted(pipeline.datasets["enrolment"].columns.values())))
    assert normalise_label(_respell(header, data.draw)) == normalise_label(header)
    assert normalise_label(normalise_label(header)) == normalise_label(header)


@given(data=st.data())
def test_country_names_in_any_case_or_spacing(data) -> None:
    code = data.draw(st.sampled_from(sorted(countries())))
    country = countries()[code]
    name = data.draw(st.sampled_from([code, country.name_en, country.name_fr]))
    variant = _respell(name, data.draw)
    assert resolve_countries([variant])[variant] == resolve_countries([name])[name]
    assert resolve_countries([code.lower()])[code.lower()] == code


@given(
    ids=st.lists(st.text(min_size=1, max_size=12) | st.none(), min_size=1, max_size=20),
    key=st.binary(min_size=16, max_size=64),
    school=st.sampled_from(sorted(PIPELINES)),
)
def test_pseudonyms_are_stable_keyed_and_per_school(ids, key, school) -> None:
    other_key = bytes(b ^ 1 for b in key)
    series = pl.Series(ids, dtype=pl.String)
    first = pseudonymise(series, school, key).to_list()
    assert first == pseudonymise(series, school, key).to_list()  # stable
    for value, pseudonym in zip(ids, first, strict=True):
        if value is None:
            assert pseudonym is None
            continue
        expected = hmac.new(key, f"{school}:{value}".encode(), hashlib.sha256).hexdigest()
        assert pseudonym == expected
    other = pseudonymise(series, school, other_key).to_list()
    assert all(a != b for a, b in zip(first, other, strict=True) if a is not None)
    elsewhere = "ALES" if school != "ALES" else "ALBI"
    assert all(
        a != b
        for a, b in zip(first, pseudonymise(series, elsewhere, key).to_list(), strict=True)
        if a is not None
    )
    distinct = {v for v in ids if v is not None}
    assert len({p for p in first if p is not None}) == len(distinct)


# --- school configs -----------------------------------------------------------------------

_HOSTILE = (
    st.sampled_from(
        [
            "../../etc/passwd",
            "/etc/*",
            "C:\\Windows\\*",
            "~/secrets/*",
            "albi/../../../*",
            "{year.__class__.__mro__}",
            "{page!r}",
            "{0}",
            "x\x00y",
            "\t",
            "",
            " ",
            "🎓",
            "'; DROP TABLE staging.enrolment; --",
            'a"b',
            "http://evil.example/",
            "//evil/x",
            "A" * 500,
            "!!python/object/apply:os.system ['id']",
        ]
    )
    | st.text(max_size=20)
    | st.integers()
    | st.none()
    | st.lists(st.integers(), max_size=2)
)


def _paths(value, prefix=()):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*prefix, key))
    yield prefix


@given(data=st.data(), school=st.sampled_from(sorted(PIPELINES)))
def test_any_config_edit_gives_a_pipeline_or_a_config_error(data, school, tmp_path_factory):
    document = yaml.safe_load((ROOT / "pipelines" / f"{school.lower()}.yaml").read_text())
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(document) if p]
        path = data.draw(st.sampled_from(paths))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = data.draw(_HOSTILE | st.sampled_from(["A name", "X1", "albi/*.csv"]))
    folder = tmp_path_factory.mktemp("config", numbered=True)
    config = folder / "school.yaml"
    config.write_text(yaml.safe_dump(document, allow_unicode=True))
    try:
        pipeline = load_pipeline(config)
    except ConfigError as exc:
        assert str(exc).startswith("school.yaml: ")
        event("refused")
        TALLY["hypothesis: config edits refused"] += 1
        return
    event("accepted")
    TALLY["hypothesis: config edits accepted"] += 1
    assert isinstance(pipeline, SchoolPipeline)
    for source in pipeline.datasets.values():  # whatever passed stays inside the landing zone
        assert not source.files.startswith(("/", "~")) and ".." not in re.split(
            r"[/\\]", source.files
        )
        if source.http:
            assert "{" not in source.http.pages.format(year=2024, page=1)
