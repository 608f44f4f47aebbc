"""Value formats as data: the built-in spellings of years, money, dates and booleans, the
format options of a school's YAML (encoding, header_row, footer_rows, year_pattern,
decimal_mark, thousands_separator, date_formats, true_values, false_values), and the readers
on the export shapes real schools send. Unit tests: Polars frames and small files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
import yaml

from imtetl.pipeline_config import ConfigError, FormatOptions, SchoolPipeline, load_pipeline
from imtetl.read import SourceError, read_unit
from imtetl.read.base import ROW, SourceUnit
from imtetl.transform.normalise import normalise
from imtetl.transform.values import (
    BOOLEAN_WORDS,
    academic_year,
    boolean_words,
    code_map,
    date,
    money,
)
from tests.conftest import ROOT

ALBI = yaml.safe_load((ROOT / "pipelines" / "albi.yaml").read_text(encoding="utf-8"))


def _years(values: list, pattern: str | None = None) -> list[int | None]:
    return pl.DataFrame({"y": values}).select(academic_year("y", pattern))["y"].to_list()


# -- years ------------------------------------------------------------------------------


SPELLINGS = [
    "2024", "2024.0", "2024-25", "2024-2025", "2024/2025", "2024/25", "24/25", "24-25",
    "A.U. 2024/2025", "AU 2024-2025", "Rentrée 2024", "rentree 2024", "2024-2025 (S1)",
    "SY 24/25", "SY2024-25", "Année 2024-2025", "2024\u20132025", " 2024 - 2025 ",
    "ANNÉE UNIVERSITAIRE 2024-2025", "a.u. 24/25",
]  # fmt: skip


def test_every_built_in_year_spelling_gives_the_starting_year() -> None:
    assert _years(SPELLINGS) == [2024] * len(SPELLINGS)
    assert pl.DataFrame({"y": [2024, 2025]}).select(academic_year("y"))["y"].to_list() == [
        2024,
        2025,
    ]
    assert _years(["99/00", "1999-2000", "2099-00"]) == [2099, 1999, 2099]


def test_unparseable_or_non_consecutive_years_are_null() -> None:
    bad = ["2024-2026", "2024/26", "24", "24/2025", "abc", "", "2024-25.0", "Rentrée",
           "2024 2025", "12024", "2024-25-26", "année 2024-2026", None]  # fmt: skip
    assert _years(bad) == [None] * len(bad)


def test_year_pattern_with_a_start_group() -> None:
    pattern = r"^Promo\s+(?P<start>\d{2}|\d{4})\b"
    values = ["Promo 24 (automne)", "Promo 2023 X", "2022-2023", "Promo X"]
    assert _years(values, pattern) == [2024, 2023, 2022, None]
    pair = r"^(?P<start>\d{4})\s*(?:to|à)\s*(?P<end>\d{4})$"
    assert _years(["2024 to 2025", "2024 à 2026", "2021"], pair) == [2024, None, 2021]


# -- money ------------------------------------------------------------------------------


def _money(values: list[str], decimal_mark: str = ".", thousands: str | None = None) -> list:
    return pl.DataFrame({"m": values}).select(money("m", decimal_mark, thousands))["m"].to_list()


def test_money_with_any_thousands_separator_and_currency() -> None:
    point = ["€9,000.00", "9.000", "9 000.50", "9\u00a0000.50", "9\u202f000.50", "CHF 9'000.50",
             "9’000.50 CHF", "$1,234,567.89", "USD 1,000", "1000EUR", "EUR1000", "£ 12.5",
             "-120.00 €", "€-120", "- € 120", "4500", ".5"]  # fmt: skip
    assert _money(point) == [
        9000.0, 9.0, 9000.5, 9000.5, 9000.5, 9000.5, 9000.5, 1234567.89, 1000.0, 1000.0,
        1000.0, 12.5, -120.0, -120.0, -120.0, 4500.0, 0.5,
    ]  # fmt: skip
    comma = ["4 850,00 €", "4\u00a0850,00 €", "4\u202f850,00€", "1.234,56 EUR", "EUR 1.234,56",
             "3200,00", "1'234,5", "-1,00", "9.000"]  # fmt: skip
    assert _money(comma, ",") == [4850.0, 4850.0, 4850.0, 1234.56, 1234.56, 3200.0, 1234.5,
                                  -1.0, 9000.0]  # fmt: skip


def test_ambiguous_or_garbage_amounts_are_null() -> None:
    bad = ["", "abc", "€", "1,000 000.00", "12,34,567", "3200,00", "1.234.5",
           "--5", "-€-5", "5 € €", "9,000.00.00", "1e5", "€ 9,000.00 USD x"]  # fmt: skip
    assert _money(bad) == [None] * len(bad)
    # a forced separator: only that one groups
    assert _money(["9 000.50", "9,000.50", "9\u00a0000"], ".", " ") == [9000.5, None, 9000.0]
    # spaces are never a decimal mark: they may group anyhow
    assert _money(["1 2345", "4 85000,00 €"], ",") == [12345.0, 485000.0]
    assert _money(["9.000,50", "9 000,50"], ",", ".") == [9000.5, None]


# -- dates ------------------------------------------------------------------------------


def test_date_formats_in_order_then_iso_and_excel_datetimes() -> None:
    values = ["02/09/2024", "2024-09-02", "2024-09-02 00:00:00", "2024-09-02T08:30:00Z",
              "02.09.2024", "2 Sep 2024", "13/13/2024", "x", "2024-09-02x"]  # fmt: skip
    got = (
        pl.DataFrame({"d": values})
        .select(date("d", ["%d/%m/%Y", "%d.%m.%Y", "%d %b %Y"]))["d"]
        .to_list()
    )
    day = dt.date(2024, 9, 2)
    assert got == [day] * 6 + [None] * 3
    # one format as a string (the old date_format), and none: ISO only
    assert pl.DataFrame({"d": ["02/09/2024"]}).select(date("d", "%d/%m/%Y"))["d"][0] == day
    assert pl.DataFrame({"d": ["02/09/2024", "2024-09-02"]}).select(date("d"))["d"].to_list() == [
        None,
        day,
    ]
    fmt = FormatOptions(date_format="%d/%m/%Y", date_formats=["%Y%m%d", "%d/%m/%Y"])
    assert fmt.all_date_formats == ("%d/%m/%Y", "%Y%m%d")


# -- booleans ---------------------------------------------------------------------------


def test_school_boolean_words_join_the_built_in_ones() -> None:
    words = boolean_words(["Primo-entrant", "NOUVEAU"], ["Réinscrit", "ancien"])
    raw = ["  primo-ENTRANT ", "nouveau", "reinscrit", "Ancien", "oui", "N", "peut-être"]
    mapping = code_map(raw, {}, ("true", "false"), booleans=words)
    assert [mapping[v] for v in raw] == ["true", "true", "false", "false", "true", "false", None]
    assert BOOLEAN_WORDS["oui"] == "true" and "nouveau" not in BOOLEAN_WORDS


# -- normalise with the options of a school ---------------------------------------------


def _pipeline(**fmt) -> SchoolPipeline:
    return SchoolPipeline.model_validate({**ALBI, "format": {**ALBI["format"], **fmt}})


def test_normalise_passes_the_format_options_to_the_parsers() -> None:
    pipeline = _pipeline(
        decimal_mark=",",
        thousands_separator=".",
        year_pattern=r"^Cohorte (?P<start>\d{4})$",
        true_values=["nouveau"],
        false_values=["ancien"],
    )
    tuition = pl.DataFrame(
        {
            "academic_year": ["Cohorte 2024", "A.U. 2024/2025", "2024-2026", "2024"],
            "programme_code": ["P1", "P2", "P3", "P4"],
            "programme_level": ["msc"] * 4,
            "fee_category": ["eu"] * 4,
            "annual_fee": ["1.234,50 €", "EUR 9.000", "100", "-5,00 €"],
            ROW: [1, 2, 3, 4],
            "__source_file": ["f.csv"] * 4,
        }
    )
    result = normalise(tuition, "tuition", pipeline, b"k" * 32)
    assert result.rows["academic_year"].to_list() == [2024, 2024]
    assert [float(v) for v in result.rows["annual_fee_eur"]] == [1234.5, 9000.0]
    reasons = result.quarantine.sort("row_number")["reason"].to_list()
    assert reasons == [
        "academic_year: not an academic year '2024-2026'",
        "annual_fee: negative fee '-5,00 €'",
    ]
    enrolment = pl.DataFrame(
        {
            "student_id": ["s1", "s2", "s3"],
            "academic_year": ["2024-25"] * 3,
            "programme_code": ["P1"] * 3,
            "programme_level": ["msc"] * 3,
            "is_new_entrant": ["Nouveau", "ANCIEN", "peut-être"],
            "nationality": ["France", "fr", "FRA"],
            "admission_route": ["other"] * 3,
            "study_mode": ["initial"] * 3,
            "fee_category": ["eu"] * 3,
            ROW: [1, 2, 3],
            "__source_file": ["f.csv"] * 3,
        }
    )
    result = normalise(enrolment, "enrolment", pipeline, b"k" * 32)
    assert result.rows["is_new_entrant"].to_list() == [True, False]
    assert result.quarantine["reason"][0].startswith("is_new_entrant: unknown value 'peut-être'")


# -- readers: encodings and shapes ------------------------------------------------------


def _unit(path: Path, dataset: str = "tuition") -> SourceUnit:
    return SourceUnit("NEW", dataset, path.name, (path,), None)


def _read(tmp_path: Path, data: bytes, name: str = "export.csv", **fmt) -> pl.DataFrame:
    path = tmp_path / name
    path.write_bytes(data)
    raw = read_unit(_unit(path), FormatOptions(**fmt))
    return raw.frame


TEXT = "Année;Intitulé;Frais\n2024-2025;Ingénieur généraliste (Łódź, Ørsted);4 850,00 €\n"
#: What an 8-bit code page can hold of TEXT.
LATIN2 = TEXT.replace("Ørsted", "Orsted").replace("€", "EUR")
WESTERN = TEXT.replace("Łódź", "Lodz").replace("€", "EUR")


@pytest.mark.parametrize(
    ("encoding", "text", "data"),
    [
        ("utf-16", TEXT, TEXT.encode("utf-16")),  # with its BOM (little-endian here)
        ("utf-16", TEXT, "\ufeff".encode("utf-16-be") + TEXT.encode("utf-16-be")),
        ("utf-16-le", TEXT, "\ufeff".encode("utf-16-le") + TEXT.encode("utf-16-le")),
        ("utf-8", TEXT, b"\xef\xbb\xbf" + TEXT.encode("utf-8")),
        ("utf-8-sig", TEXT, TEXT.encode("utf-8")),
        ("iso8859-2", LATIN2, LATIN2.encode("iso8859-2")),
        ("cp850", WESTERN, WESTERN.encode("cp850")),
        ("mac_roman", WESTERN, WESTERN.encode("mac_roman")),
        ("cp1252", TEXT.replace("Łódź", "Lodz"), TEXT.replace("Łódź", "Lodz").encode("cp1252")),
    ],
)
def test_any_python_codec_reads_through_the_delimited_reader(
    tmp_path: Path, encoding: str, text: str, data: bytes
) -> None:
    frame = _read(tmp_path, data, encoding=encoding, separator=";")
    assert frame.columns == [ROW, "Année", "Intitulé", "Frais"]
    assert frame.row(0)[1:] == tuple(text.splitlines()[1].split(";"))


def test_utf16_line_limit_counts_lines_not_bytes(tmp_path: Path) -> None:
    # 'Ċ' is U+010A: its UTF-16-LE bytes hold 0x0A, which is no line end
    lines = ["a;b", *[f"{i};{'Ċ' * 300}" for i in range(5)], f"9;{'x' * 3000}", ""]
    data = "\n".join(lines).encode("utf-16")
    assert len(_read(tmp_path, data, encoding="utf-16", separator=";", max_line_kb=8)) == 6
    with pytest.raises(SourceError) as info:
        _read(tmp_path, data, encoding="utf-16", separator=";", max_line_kb=4)
    assert "line 7 is longer than 4 KB" in str(info.value)


def test_a_bom_of_another_encoding_says_which(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        _read(tmp_path, TEXT.encode("utf-16"), encoding="cp1252", separator=";")
    assert "UTF-16 byte-order mark" in str(info.value) and "format.encoding: utf-16" in str(
        info.value
    )


def test_csv_header_row_footer_rows_and_trailing_empty_columns(tmp_path: Path) -> None:
    text = (
        "Export des frais de scolarité;;;\n"
        "Généré le 02/09/2024;;;\n"
        "\n"
        "Année;Code;Frais;;\n"
        "2024-2025;P1;4 850,00 €;;\n"
        "\n"
        "2024-2025;P2;3 000,00 €;;\n"
        "\n"
        "Total : 2 lignes;;;;\n"
        "Source : scolarité; confidentiel\n"
    )
    frame = _read(
        tmp_path, text.encode("cp1252"), encoding="cp1252", separator=";", header_row=4,
        footer_rows=2,
    )  # fmt: skip
    assert frame.columns == [ROW, "Année", "Code", "Frais"]
    assert frame[ROW].to_list() == [1, 3]  # data-row numbers (blank lines are not rows)
    assert frame["Code"].to_list() == ["P1", "P2"]
    # a trailing column with a header, or with values, stays
    kept = _read(tmp_path, b"a,b,\n1,2,x\n", name="kept.csv")
    assert kept.columns == [ROW, "a", "b", ""]
    # tab separator with a decimal comma
    tsv = _read(tmp_path, b"Year\tFee\n2024\t1 234,50\n", name="f.tsv", separator="\t")
    assert tsv.select(money("Fee", ","))["Fee"].to_list() == [1234.5]


def test_header_row_beyond_the_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        _read(tmp_path, b"title\na,b\n", header_row=5)
    assert "format.header_row" in str(info.value)


def test_xlsx_header_row_footer_rows_and_trailing_empty_columns(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet("Fees")
    sheet.write(0, 0, "Fee grid 2024-2025")
    for col, header in enumerate(["Academic year", "Programme", "Fee"]):
        sheet.write(2, col, header)
    sheet.write_row(3, 0, ["2024-2025", "P1", 9000])
    sheet.write_row(4, 0, ["2024-2025", "P2", "€2,650.00"])
    sheet.write_blank(3, 3, None, workbook.add_format({"bold": True}))  # a formatted blank
    sheet.write(6, 0, "Source: finance office")
    sheet.write(7, 0, "Figures as of 1 September")
    workbook.close()
    fmt = FormatOptions(kind="xlsx", sheet="Fees", header_row=3, footer_rows=2)
    frame = read_unit(_unit(path), fmt).frame
    assert frame.columns == [ROW, "Academic year", "Programme", "Fee"]
    assert frame["Programme"].to_list() == ["P1", "P2"]
    assert frame.select(money("Fee"))["Fee"].to_list() == [9000.0, 2650.0]
    assert frame[ROW].to_list() == [1, 2]


# -- config: checked when it loads ------------------------------------------------------


def _refused(tmp_path: Path, fmt: dict, *fragments: str, dataset_level: bool = False) -> str:
    data = {**ALBI, "format": {**ALBI["format"], **({} if dataset_level else fmt)}}
    if dataset_level:
        datasets = dict(ALBI["datasets"])
        datasets["tuition"] = {**datasets["tuition"], "format": fmt}
        data["datasets"] = datasets
    path = tmp_path / "school.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_pipeline(path)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_wrong_encoding_is_a_config_error_with_suggestions(tmp_path: Path) -> None:
    message = _refused(tmp_path, {"encoding": "utf-16-bom"}, "format.encoding", "did you mean")
    assert "utf-16" in message.split("did you mean", 1)[1]
    assert "cp1252" in _refused(tmp_path, {"encoding": "cp-1252"}, "unknown encoding")
    _refused(tmp_path, {"encoding": "base64"}, "not a text encoding")
    _refused(tmp_path, {"encoding": "latin-9x"}, "unknown encoding", dataset_level=True)
    for good in ("utf-16", "UTF-8-SIG", "cp850", "mac_roman", "iso8859-2", "latin-1"):
        assert FormatOptions(encoding=good).encoding == good


def test_year_pattern_and_other_options_are_checked_at_load(tmp_path: Path) -> None:
    _refused(tmp_path, {"year_pattern": r"(?<start>\d{4}"}, "year_pattern", "does not compile")
    _refused(tmp_path, {"year_pattern": r"(?<=A)\d{4}"}, "does not compile")
    _refused(tmp_path, {"year_pattern": r"(\d{4})"}, "named group 'start'")
    _refused(tmp_path, {"decimal_mark": ",", "thousands_separator": ","}, "also the decimal_mark")
    _refused(tmp_path, {"true_values": ["X"], "false_values": ["x "]}, "in both true_values")
    _refused(tmp_path, {"date_formats": ["dd/mm/yyyy"]}, "no % directive")
    _refused(tmp_path, {"footer_rows": -1}, "footer_rows")
    _refused(tmp_path, {"thousands_separator": "_"}, "thousands_separator")


def test_old_configs_keep_their_defaults() -> None:
    fmt = FormatOptions()
    assert (fmt.encoding, fmt.header_row, fmt.footer_rows, fmt.year_pattern) == (
        "utf-8", 1, 0, None,
    )  # fmt: skip
    assert (fmt.decimal_mark, fmt.thousands_separator, fmt.all_date_formats) == (".", None, ())
    assert (fmt.true_values, fmt.false_values) == ((), ())
    for path in sorted((ROOT / "pipelines").glob("*.yaml")):
        load_pipeline(path)
