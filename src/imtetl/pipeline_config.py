"""The typed model of ``pipelines/*.yaml``: one file per school.

A school's YAML says where its exports are (a glob in the landing zone, or an HTTP API whose
pages are kept there), how they are written (format options) and how its headers and values
map to the contract (per-year header maps, value maps). Onboarding a school in a known format
is writing one of these files; errors name the file and the key.
"""

from __future__ import annotations

import codecs
import difflib
import encodings.aliases
import fnmatch
import hashlib
import re
import string
import threading
import unicodedata
import urllib.parse
from pathlib import Path, PurePosixPath
from typing import Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from imtetl.contract import CONTRACT, canonical_columns

#: The contract's datasets (imtetl.contract): a school's YAML maps any of them.
DATASETS: tuple[str, ...] = CONTRACT.names
Dataset = Literal[DATASETS]  # type: ignore[valid-type]

#: Canonical source columns of each dataset: (required, optional), from the contract
#: (imtetl.contract). Person ids (``student_id``, ``staff_id``) are pseudonymised on read.
CANONICAL_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = canonical_columns()

#: Columns whose values are codes: the school's ``values`` maps raw spellings onto these.
CODED_COLUMNS: dict[str, tuple[str, ...]] = CONTRACT.coded_columns()

_SCHOOL_CODE = re.compile(r"^[A-Z][A-Z0-9]{1,15}$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: A pipelines/*.yaml file is a few kilobytes; anything far larger is not a school config.
MAX_CONFIG_BYTES = 1_000_000


def _label(value: str, what: str) -> str:
    """A header, sheet or key name from a school's YAML: printable text of sane length.
    Such names are only ever matched against file contents (never pasted into SQL), but a
    control character or a megabyte-long name is always a mistake."""
    if not value.strip():
        raise ValueError(f"{what} must not be empty")
    if _CONTROL.search(value.replace("\t", "")):
        raise ValueError(f"{what} {value[:40]!r} contains a control character")
    if len(value) > 200:
        raise ValueError(f"{what} {value[:40]!r}... is longer than 200 characters")
    return value


def _inside_landing(value: str, what: str) -> str:
    """A path or glob relative to the landing zone that cannot leave it: no absolute path,
    no drive, no ``..``, no home (``~``). discover_units also refuses symlinks leading out."""
    if _CONTROL.search(value):
        raise ValueError(f"{what} {value!r} contains a control character")
    path = PurePosixPath(value.replace("\\", "/"))
    if (
        not value.strip()
        or path.is_absolute()
        or re.match(r"^[A-Za-z]:", value)
        or value.startswith("~")
        or ".." in path.parts
    ):
        raise ValueError(f"{what} {value!r} must be a relative path inside the landing zone")
    return value


def _template(value: str, what: str, allowed: tuple[str, ...], required: tuple[str, ...]) -> str:
    """A ``str.format`` template with only the named fields (``{year}``, ``{page:04d}``):
    no attribute or index access, no conversion, which would run on Python objects."""
    try:
        parsed = list(string.Formatter().parse(value))
    except ValueError as exc:
        raise ValueError(f"{what} {value!r}: {exc}") from exc
    fields = set()
    for _text, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in allowed or conversion or not re.fullmatch(r"(0?\d{1,2}d?)?", spec or ""):
            raise ValueError(
                f"{what} {value!r}: only {', '.join('{' + a + '}' for a in allowed)} "
                "may be filled in (with an optional width such as {page:04d})"
            )
        fields.add(name)
    missing = [name for name in required if name not in fields]
    if missing:
        raise ValueError(
            f"{what} {value!r} must contain {', '.join('{' + m + '}' for m in missing)}"
        )
    return value


_COVERAGE = re.compile(r"^\s*((?:19|20)\d{2})\s*(?:(-)\s*((?:19|20)\d{2})?)?\s*$")


def parse_coverage(value: str | int) -> tuple[int, int | None]:
    """'2023-' -> (2023, None), '2021-2024' -> (2021, 2024), '2024' -> (2024, 2024)."""
    match = _COVERAGE.match(str(value))
    if not match:
        raise ValueError(
            f"years {value!r}: expected a start year and an optional end year, such as "
            "'2023-' (from 2023 on), '2021-2024' or '2024'"
        )
    first = int(match.group(1))
    if match.group(2) is None:
        return first, first
    last = int(match.group(3)) if match.group(3) else None
    if last is not None and last < first:
        raise ValueError(f"years {value!r}: the end year is before the start year")
    return first, last


_SPACES = re.compile(r"\s+")


def normalise_label(label: str) -> str:
    """'  Année  universitaire ' and 'ANNEE UNIVERSITAIRE' compare equal; so do ' and ’.
    How headers, value maps and boolean words are matched, whatever their spelling."""
    text = unicodedata.normalize("NFKD", label.replace("’", "'").replace("\ufeff", ""))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _SPACES.sub(" ", text).strip().casefold()


class ConfigError(ValueError):
    """A pipelines/*.yaml file that cannot be used; the message names the file and key."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class School(_Model):
    code: str
    name: str
    city: str | None = None
    uai: str | None = Field(None, description="UAI code; leave empty when not verified")
    erasmus_code: str | None = None
    time_member_since: int | None = None

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not _SCHOOL_CODE.match(value):
            raise ValueError(f"school code {value!r} must be 2-16 capitals or digits")
        return value


def _codec_names() -> list[str]:
    """Every name Python's codecs answer to: the aliases and the codec names themselves."""
    names = set(encodings.aliases.aliases) | set(encodings.aliases.aliases.values())
    return sorted(names | {n.replace("_", "-") for n in names})


def _encoding(value: str) -> str:
    """Any text codec Python knows (``utf-16``, ``cp850``, ``mac_roman``...); a wrong name
    is refused with the closest valid names."""
    try:
        info = codecs.lookup(value)
    except (LookupError, TypeError, ValueError):
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        close = difflib.get_close_matches(value.lower(), _codec_names(), n=4, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        what = "not a text encoding" if info is not None else "unknown encoding"
        raise ValueError(f"{what} {value!r}{hint} (any codec Python knows: utf-8, cp1252, ...)")
    return value


#: Thousands separators a school may force (``format.thousands_separator``).
ThousandsSeparator = Literal[".", ",", " ", "\u00a0", "\u202f", "'", "\u2019"]


class FormatOptions(_Model):
    """How a file is written. Dataset-level ``format`` entries override the school's."""

    kind: Literal["csv", "xlsx", "json_pages"] = "csv"
    separator: str = ","
    encoding: str = Field(
        "utf-8",
        description="any text codec Python knows: utf-8, utf-8-sig, utf-16 (BOM), cp1252, "
        "latin-1, iso8859-2, cp850, mac_roman...; a byte-order mark is dropped",
    )
    quote_char: str | None = '"'
    decimal_mark: Literal[",", "."] = Field(".", description="decimal mark of amounts")
    thousands_separator: ThousandsSeparator | None = Field(
        None,
        description="force one thousands separator of amounts; by default any of . , space, "
        "no-break spaces, ' and \u2019 other than the decimal mark",
    )
    date_format: str | None = Field(
        None, description="strptime format; shorthand for a date_formats of one"
    )
    date_formats: tuple[str, ...] = Field(
        (), description="strptime formats tried in order, before ISO and Excel datetimes"
    )
    year_pattern: str | None = Field(
        None,
        description="regular expression with a named group 'start' (2 or 4 digits) for "
        "academic years the built-in spellings do not cover; tried first",
    )
    true_values: tuple[str, ...] = Field(
        (), description="words meaning true, besides the built-in ones (any case or accents)"
    )
    false_values: tuple[str, ...] = Field(
        (), description="words meaning false, besides the built-in ones (any case or accents)"
    )
    sheet: str | None = None
    header_row: int = Field(
        1, ge=1, description="1-based row (CSV/TSV: line) that holds the header"
    )
    footer_rows: int = Field(
        0, ge=0, description="trailing non-empty rows of notes below the data, dropped"
    )
    records_key: str = "results"
    next_key: str = "next"
    max_file_mb: float = Field(512, gt=0, description="files above this size are refused")
    max_line_kb: float = Field(
        1024, gt=0, description="CSV/TSV: a line longer than this refuses the file"
    )
    max_field_kb: float = Field(
        64, gt=0, description="a value longer than this refuses the file (broken quoting)"
    )
    max_uncompressed_mb: float = Field(
        1024, gt=0, description="XLSX: a workbook inflating beyond this is refused (zip bomb)"
    )

    @field_validator("sheet", "records_key", "next_key")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return None if value is None else _label(value, "name")

    @field_validator("separator")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError("separator must be one character (use '\\t' for tabs)")
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        return _encoding(value)

    @field_validator("year_pattern")
    @classmethod
    def _year_pattern(cls, value: str | None) -> str | None:
        if value is None:
            return None
        _label(value, "year_pattern")
        try:  # compiled as the parser will: Polars' (Rust) regular expressions
            groups = pl.Series([""]).str.extract_groups(value).struct.fields
        except pl.exceptions.PolarsError as exc:
            reason = " ".join(str(exc).split())[:300]
            raise ValueError(f"year_pattern {value!r} does not compile: {reason}") from exc
        if "start" not in groups:
            raise ValueError(
                f"year_pattern {value!r} needs a named group 'start' for the starting year, "
                r"e.g. 'Promo (?P<start>\d{4})'"
            )
        return value

    @field_validator("date_format", "date_formats")
    @classmethod
    def _date_formats(cls, value: str | tuple[str, ...] | None):
        for item in (value,) if isinstance(value, str) else value or ():
            _label(item, "date format")
            if "%" not in item:
                raise ValueError(f"date format {item!r} has no % directive (e.g. '%d/%m/%Y')")
        return value

    @field_validator("true_values", "false_values")
    @classmethod
    def _words(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_label(v, "boolean word") for v in value)

    @model_validator(mode="after")
    def _consistent(self) -> FormatOptions:
        if self.thousands_separator is not None and self.thousands_separator == self.decimal_mark:
            raise ValueError(
                f"thousands_separator {self.thousands_separator!r} is also the decimal_mark"
            )
        if self.true_values and self.false_values:
            both = {normalise_label(v) for v in self.true_values} & {
                normalise_label(v) for v in self.false_values
            }
            if both:
                raise ValueError(f"{sorted(both)} in both true_values and false_values")
        return self

    @property
    def all_date_formats(self) -> tuple[str, ...]:
        """``date_format`` then ``date_formats``, without repeats."""
        first = (self.date_format,) if self.date_format else ()
        return tuple(dict.fromkeys((*first, *self.date_formats)))


class RowFilter(_Model):
    """Keep the rows of a shared file that belong to this school."""

    column: str
    equals: str

    @field_validator("column")
    @classmethod
    def _column(cls, value: str) -> str:
        return _label(value, "filter column")


class HttpSource(_Model):
    """An HTTP API whose JSON pages are fetched into the landing zone, then read from there."""

    base_url_env: str = Field(description="environment variable with the API's base URL")
    path: str = Field(description="first page, relative to the base URL; {year} is filled in")
    pages: str = Field(description="landing path of page n; {year} and {page} are filled in")
    token_env: str | None = Field(
        None, description="environment variable with a bearer token (never in the YAML)"
    )
    timeout_s: float = Field(10, gt=0, description="connect and per-read socket timeout")
    deadline_s: float = Field(
        120, gt=0, description="a page not fully received after this is abandoned (slow drip)"
    )
    max_page_mb: float = Field(64, gt=0, description="a larger page is refused")
    max_pages: int = Field(10_000, gt=0)
    retries: int = Field(2, ge=0, le=10, description="retries of a timed-out or 5xx request")
    poll_cron: str = Field("0 6 * * *", description="when the school's API is polled")

    @field_validator("base_url_env", "token_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable name")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        _template(value, "path", ("year",), ())
        parts = urllib.parse.urlsplit(value.format(year=2000))
        if parts.scheme or parts.netloc or value.startswith("//"):
            raise ValueError(f"path {value!r} must be relative to the base URL (no scheme or host)")
        return value

    @field_validator("pages")
    @classmethod
    def _pages(cls, value: str) -> str:
        _template(value, "pages", ("year", "page"), ("year", "page"))
        _inside_landing(value.format(year=2000, page=1), "pages")
        return value


class DatasetSource(_Model):
    files: str = Field(description="glob relative to the school's landing zone")
    format: dict = Field(default_factory=dict, description="overrides of the school's format")
    columns: dict[str, str] = Field(description="canonical column -> raw header")
    columns_by_year: dict[int, dict[str, str]] = Field(default_factory=dict)
    personal_columns: list[str] = Field(default_factory=list)
    filter: RowFilter | None = None
    http: HttpSource | None = None
    files_per_year: bool = Field(
        False,
        description="each file holds one academic year, named in its file name: the name's year "
        "is then a check (rows of another year are quarantined). By default the year of each "
        "row is its own academic_year column, and one file may hold any number of years",
    )
    years: str | int | None = Field(
        None,
        description="the academic years the school delivers (its coverage): '2023-' (from "
        "2023 on), '2021-2024', '2024'. A covered year with no export is a missing delivery (a "
        "warning, never a failure); by default the years the data holds",
    )

    @field_validator("years")
    @classmethod
    def _years(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            parse_coverage(value)
        return value

    def covers(self, year: int) -> bool | None:
        """Whether the school says it delivers ``year``; None when it does not say."""
        if self.years is None:
            return None
        first, last = parse_coverage(self.years)
        return first <= year and (last is None or year <= last)

    @field_validator("files")
    @classmethod
    def _files(cls, value: str) -> str:
        return _inside_landing(value, "files")

    @field_validator("columns")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        return {canonical: _label(header, "header") for canonical, header in value.items()}

    @field_validator("columns_by_year")
    @classmethod
    def _headers_by_year(cls, value: dict[int, dict[str, str]]) -> dict[int, dict[str, str]]:
        for mapping in value.values():
            cls._headers(mapping)
        return value

    @field_validator("personal_columns")
    @classmethod
    def _personal(cls, value: list[str]) -> list[str]:
        return [_label(v, "personal column") for v in value]

    @model_validator(mode="after")
    def _http_pages_found_by_files(self) -> DatasetSource:
        if self.http is not None:
            page = self.http.pages.format(year=2000, page=1)
            if not fnmatch.fnmatchcase(page, self.files):
                raise ValueError(
                    f"http.pages {self.http.pages!r} writes pages that files {self.files!r} "
                    "does not find"
                )
        return self


class SchoolPipeline(_Model):
    """One school's pipelines/*.yaml."""

    school: School
    format: FormatOptions = FormatOptions()
    datasets: dict[Dataset, DatasetSource]
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    freshness_hours: float | None = Field(None, gt=0, description="export overdue after this")
    max_quarantine_share: float = Field(
        0.25, ge=0, le=1, description="above this share of bad rows a dataset is held back"
    )

    @model_validator(mode="after")
    def _check(self) -> SchoolPipeline:
        for dataset, source in self.datasets.items():
            required, optional = CANONICAL_COLUMNS[dataset]
            known = set(required) | set(optional)
            for mapping in (source.columns, *source.columns_by_year.values()):
                unknown = sorted(set(mapping) - known)
                if unknown:
                    raise ValueError(
                        f"datasets.{dataset}.columns: unknown canonical column(s) {unknown}; "
                        f"expected some of {sorted(known)}"
                    )
            missing = [c for c in required if c not in source.columns]
            if missing:
                raise ValueError(f"datasets.{dataset}.columns: missing {missing}")
            FormatOptions(**{**self.format.model_dump(), **source.format})
        for column, mapping in self.values.items():
            if column not in CODED_COLUMNS:
                raise ValueError(f"values.{column}: not a coded column {sorted(CODED_COLUMNS)}")
            bad = sorted({v for v in mapping.values() if v not in CODED_COLUMNS[column]})
            if bad:
                raise ValueError(f"values.{column}: {bad} not in {list(CODED_COLUMNS[column])}")
        return self

    def format_for(self, dataset: str) -> FormatOptions:
        return FormatOptions(**{**self.format.model_dump(), **self.datasets[dataset].format})

    def columns_for(self, dataset: str, year: int | None) -> dict[str, str]:
        source = self.datasets[dataset]
        mapping = dict(source.columns)
        if year is not None:
            mapping.update(source.columns_by_year.get(year, {}))
        return mapping


def shared_file_claims(
    pipelines: dict[str, SchoolPipeline], school: str, dataset: str
) -> tuple[frozenset[str], bool]:
    """For a file shared by several schools (a ``filter``): the filter values some school
    claims, and whether ``school`` answers for the rows no school claims (the first in code
    order does), so that no row of a shared file goes unaccounted for."""
    source = pipelines[school].datasets[dataset]
    if source.filter is None:
        return frozenset(), False
    sharing = sorted(
        code
        for code, p in pipelines.items()
        if dataset in p.datasets
        and p.datasets[dataset].files == source.files
        and p.datasets[dataset].filter is not None
        and p.datasets[dataset].filter.column == source.filter.column
    )
    claims = frozenset(pipelines[c].datasets[dataset].filter.equals for c in sharing)
    return claims, sharing[0] == school


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(top level)"
        parts.append(f"{key}: {item['msg']}")
    return "; ".join(parts)


def _refuse_aliases(text: str) -> None:
    """Anchors and aliases (``&a``/``*a``) are refused: a few lines of them expand into
    billions of nodes ("billion laughs"), and school configs have no use for them."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            mark = event.start_mark
            raise yaml.YAMLError(
                f"line {mark.line + 1}: aliases (*{event.anchor}) are not allowed in a school "
                "config; write the values out"
            )


def load_pipeline(path: Path) -> SchoolPipeline:
    """Parse and validate one YAML file (safe loader); raise ConfigError naming file and key."""
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path.name}: {size} bytes: not a school config (too large)")
        text = path.read_text(encoding="utf-8")
        _refuse_aliases(text)
        # The safe loader: tags such as !!python/object are errors, never code.
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path.name}: cannot read YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: expected a mapping at the top level")
    try:
        return SchoolPipeline.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path.name}: {_describe(exc)}") from exc


def _config_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))


def load_pipelines(folder: Path) -> dict[str, SchoolPipeline]:
    """All schools, keyed by school code, in code order; duplicate codes are an error."""
    schools: dict[str, SchoolPipeline] = {}
    origin: dict[str, str] = {}
    for path in _config_files(folder):
        pipeline = load_pipeline(path)
        code = pipeline.school.code
        if code in schools:
            raise ConfigError(f"{path.name}: school code {code} already defined in {origin[code]}")
        schools[code] = pipeline
        origin[code] = path.name
    if not schools:
        raise ConfigError(f"no pipelines/*.yaml found in {folder}")
    return dict(sorted(schools.items()))


#: folder -> (digest of its config files, their pipelines): see :func:`cached_pipelines`
_PARSED: dict[Path, tuple[str, dict[str, SchoolPipeline]]] = {}
_PARSED_LOCK = threading.Lock()


def _digest(folder: Path) -> str:
    """The names and contents of the folder's config files (reading them is cheap next to
    parsing and validating them)."""
    digest = hashlib.sha256()
    for path in _config_files(folder):
        try:
            content = path.read_bytes()
        except OSError:
            content = b"\0unreadable"  # load_pipelines then says why
        digest.update(f"{path.name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def cached_pipelines(folder: Path) -> dict[str, SchoolPipeline]:
    """:func:`load_pipelines`, parsed once per folder and contents: parsed again only when a
    file is added, removed or changed. Returns a new dict each time (of frozen models), so a
    caller may change it; a folder that fails to load is not cached (it fails each time)."""
    folder = Path(folder).resolve()
    digest = _digest(folder)
    with _PARSED_LOCK:
        cached = _PARSED.get(folder)
    if cached is None or cached[0] != digest:
        cached = (digest, load_pipelines(folder))
        with _PARSED_LOCK:
            _PARSED[folder] = cached
    return dict(cached[1])
