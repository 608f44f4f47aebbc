"""The ministry's national open data: the register of institutions and the enrolment
statistics by institution, from its Opendatasoft portal into the build database.

One refresh of a dataset: download the export (read.opendatasoft), parse it — label headers
or API field names, either works — and only then keep it in the cache
(``data/reference_cache/``, with its SHA-256); normalise each row to typed columns or
quarantine it with its reason; replace the dataset's staging table, its quarantine and its
``audit.loads`` row in one transaction (``school_code`` = ``MESR``). When the portal does not
answer, the cached copy stands in, and the result says so; without one the refresh fails
and the build database is left as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from imtetl.load.audit import QUARANTINE_COLUMNS, Load, write_audit
from imtetl.read.opendatasoft import PortalError, PortalUnavailable, download, export_url
from imtetl.settings import Settings
from imtetl.transform.columns import normalise_label

#: audit.loads.school_code of the national data: the ministry (MESR / SIES) publishes it.
PUBLISHER = "MESR"
ROW = "__row"
UAI_PATTERN = r"^[0-9]{7}[A-Z]$"


@dataclass(frozen=True)
class Column:
    """A canonical column and how each header style names it."""

    name: str
    label: str  # header of an export with labels (use_labels=true)
    fields: tuple[str, ...]  # API field name(s) (use_labels=false)
    required: bool = False  # the export must have the column
    not_null: bool = False  # and every row a value in it (else the row is quarantined)


@dataclass(frozen=True)
class NationalDataset:
    key: str  # the Dagster asset national/<key>, audit.loads.dataset national_<key>
    dataset_id: str
    title: str
    table: str  # staging table
    columns: tuple[Column, ...]

    @property
    def audit_dataset(self) -> str:
        return f"national_{self.key}"


INSTITUTIONS = NationalDataset(
    key="institutions",
    dataset_id="fr-esr-principaux-etablissements-enseignement-superieur",
    title="Principaux établissements d'enseignement supérieur (register of institutions)",
    table="staging.national_institution",
    columns=(
        Column("paysage_id", "identifiant interne", ("etablissement_id_paysage",), True, True),
        Column("name", "libellé", ("uo_lib",), True),  # a few real rows have none
        Column("short_name", "nom court", ("nom_court",)),
        Column("acronym", "sigle", ("sigle",)),
        Column("establishment_type", "type d'établissement", ("type_d_etablissement",), True, True),
        Column("sector", "secteur d'établissement", ("secteur_d_etablissement",)),
        Column("uai", "uai - identifiant", ("uai",), True),
        Column("former_uai", "anciens codes uai", ("anciens_codes_uai",)),
        Column("siren", "siren", ("siren",)),
        Column("city", "Commune", ("com_nom",)),
    ),
)

#: Field names of the statistics come from public scripts that read its API export
#: (``annee``, ``etablissement_id_wikidata``…) and the publisher's naming of its sibling
#: datasets (``etablissement_lib``, ``effectif_sans_cpge``…); the slug of each label is
#: accepted too, which is how Opendatasoft derives a field name it was not given.
ENROLMENT_STATISTICS = NationalDataset(
    key="enrolment_statistics",
    dataset_id="fr-esr-statistiques-sur-les-effectifs-d-etudiants-inscrits-par-etablissement-hcp",
    title="Statistiques sur les effectifs d'étudiants inscrits par établissement (SISE)",
    table="staging.national_enrolment",
    columns=(
        Column("academic_year", "Année universitaire", ("annee_universitaire",), True, True),
        Column("establishment_type", "Type d'établissement", ("etablissement_type",), True, True),
        Column(
            "paysage_id",
            "Identifiant interne de l'établissement",
            ("etablissement_id_paysage",),
            True,
            True,
        ),
        Column("name", "Établissement", ("etablissement_lib",), True, True),
        Column("uai", "Identifiant(s) UAI", ("etablissement_id_uai",), True),
        Column(
            "students",
            "Nombre d'étudiants inscrits (inscriptions principales) hors doubles inscriptions CPGE",
            ("effectif_sans_cpge",),
            True,
            True,
        ),
        Column(
            "international_mobility_students",
            "Etudiants en mobilité internationale",
            ("mobilite_internationale", "mobilite_int", "effectif_mobilite_internationale"),
            True,
        ),
        Column(
            "engineering_students",
            "Diplôme préparé : Formations d'ingénieurs",
            ("diplome_ingenieur", "dip_ing", "formations_d_ingenieurs"),
            True,
        ),
        Column("double_count_note", "Attention", ("attention",)),
        Column(
            "current_paysage_id",
            "etablissement_id_paysage_actuel",
            ("etablissement_id_paysage_actuel",),
        ),
        Column("current_name", "Dernier établissement", ("etablissement_actuel_lib",)),
    ),
)

NATIONAL_DATASETS: dict[str, NationalDataset] = {
    d.key: d for d in (INSTITUTIONS, ENROLMENT_STATISTICS)
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", normalise_label(text)).strip("_")


@dataclass
class ParsedExport:
    frame: pl.DataFrame  # canonical column names, strings (NULL for blanks), plus __row
    header_style: str  # "labels", "field names" or "mixed"
    headers: list[str]


def parse_export(dataset: NationalDataset, path: Path) -> ParsedExport:
    """Read a `;`-separated export with either header style; a file that is not the
    expected CSV (no such columns, HTML, another separator) raises PortalError."""
    try:
        raw = pl.read_csv(path, separator=";", infer_schema=False, quote_char='"')
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise PortalError(f"the export is not a readable `;`-separated CSV: {exc}") from exc
    headers = [h.lstrip("\ufeff") for h in raw.columns]
    by_label = {normalise_label(h): h for h in reversed(headers)}
    by_slug = {_slug(h): h for h in reversed(headers)}
    selected: dict[str, str] = {}
    via: dict[str, str] = {}
    missing = []
    for column in dataset.columns:
        header = by_label.get(normalise_label(column.label))
        style = "labels"
        if header is None:
            style = "field names"
            for name in (*column.fields, _slug(column.label)):
                header = by_slug.get(_slug(name))
                if header is not None:
                    break
        if header is None:
            if column.required:
                missing.append(f"{column.label!r} (field {column.fields[0]!r})")
            continue
        selected[column.name] = header
        if normalise_label(column.label) not in {normalise_label(f) for f in column.fields}:
            via[column.name] = style  # only headers that tell the two styles apart
    if missing:
        shown = ", ".join(repr(h[:60]) for h in headers[:8])
        raise PortalError(
            f"required column(s) missing: {', '.join(missing)}; the header has "
            f"{len(headers)} column(s): {shown}{'…' if len(headers) > 8 else ''}"
        )
    styles = set(via.values())
    header_style = styles.pop() if len(styles) == 1 else "mixed"
    frame = raw.rename(dict(zip(raw.columns, headers, strict=True))).select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int32).alias(ROW),
        *(
            pl.col(header).str.strip_chars().replace("", None).alias(name)
            for name, header in selected.items()
        ),
    )
    for column in dataset.columns:  # optional columns absent from this export
        if column.name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(column.name))
    return ParsedExport(frame, header_style, headers)


# --- normalisation: typed rows, or quarantined with the reason -----------------------------


def _codes(column: str | pl.Expr) -> pl.Expr:
    """A list of UAI codes from a cell like '0597139P,0590349J' or '0912424R;0755661W'."""
    cell = pl.col(column) if isinstance(column, str) else column
    tokens = cell.str.to_uppercase().str.replace_all(r"[;,\s]+", ";").str.split(";")
    return tokens.list.eval(pl.element().filter(pl.element() != ""))


def _bad_codes(column: str) -> pl.Expr:
    return (
        pl.col(column).is_not_null()
        & ~_codes(column).list.eval(pl.element().str.contains(UAI_PATTERN)).list.all()
    )


def _count(column: str) -> pl.Expr:
    cleaned = pl.col(column).str.replace_all(r"[\s\u00a0\u202f]", "").str.replace(r"\.0+$", "")
    return cleaned.cast(pl.Int64, strict=False)


def _bad_count(column: str) -> pl.Expr:
    return pl.col(column).is_not_null() & (_count(column).is_null() | (_count(column) < 0))


def _checks(dataset: NationalDataset) -> list[tuple[pl.Expr, str, pl.Expr]]:
    """(row is bad, column, reason) in the order they are reported."""

    def missing(column: str) -> tuple[pl.Expr, str, pl.Expr]:
        return pl.col(column).is_null(), column, pl.lit(f"{column}: missing value")

    def value(column: str, what: str) -> pl.Expr:
        return pl.format("{}: {} '{}'", pl.lit(column), pl.lit(what), pl.col(column))

    checks = [missing(c.name) for c in dataset.columns if c.not_null]
    if dataset is ENROLMENT_STATISTICS:
        year = pl.col("academic_year").str.extract(r"^((?:19|20)\d{2})(?:[-/]\d{2,4})?$")
        checks.append(
            (
                pl.col("academic_year").is_not_null() & year.is_null(),
                "academic_year",
                value("academic_year", "not an academic year"),
            )
        )
        for column in ("students", "international_mobility_students", "engineering_students"):
            checks.append((_bad_count(column), column, value(column, "not a count of students")))
    for column in ("uai", "former_uai") if dataset is INSTITUTIONS else ("uai",):
        checks.append((_bad_codes(column), column, value(column, "not a list of UAI codes")))
    return checks


def _typed(dataset: NationalDataset, frame: pl.DataFrame) -> pl.DataFrame:
    if dataset is INSTITUTIONS:
        every = pl.concat_str(["uai", "former_uai"], separator=";", ignore_nulls=True)
        codes = _codes(every).list.unique(maintain_order=True)
        return frame.select(
            pl.col(ROW).alias("source_row"),
            "paysage_id",
            _codes("uai").list.first().alias("uai"),
            codes.alias("uai_codes"),
            "name", "short_name", "acronym", "establishment_type", "sector", "siren", "city",
        )  # fmt: skip
    year = pl.col("academic_year").str.extract(r"^((?:19|20)\d{2})").cast(pl.Int32)
    note = pl.col("double_count_note").fill_null("").str.to_lowercase()
    return frame.select(
        pl.col(ROW).alias("source_row"),
        year.alias("academic_year"),
        "paysage_id",
        pl.col("name").str.replace(r"\s*\*$", "").alias("name"),
        "establishment_type",
        _codes("uai").list.first().alias("uai"),
        _codes("uai").list.unique(maintain_order=True).alias("uai_codes"),
        _count("students").alias("students"),
        _count("international_mobility_students").alias("international_mobility_students"),
        _count("engineering_students").alias("engineering_students"),
        note.str.contains("doubles comptes").alias("counted_in_parent"),
        pl.col("name").str.ends_with("*").alias("is_epe_component"),
        "current_paysage_id",
        "current_name",
    )


@dataclass
class Normalised:
    rows: pl.DataFrame
    quarantine: pl.DataFrame  # row_number, column, reason, raw_record


def normalise(dataset: NationalDataset, frame: pl.DataFrame) -> Normalised:
    """Every parsed row either typed (``rows``) or quarantined with its reason."""
    names = [c.name for c in dataset.columns]
    checks = _checks(dataset)
    reason = pl.when(checks[0][0]).then(checks[0][2])
    column = pl.when(checks[0][0]).then(pl.lit(checks[0][1]))
    for bad, name, text in checks[1:]:
        reason = reason.when(bad).then(text)
        column = column.when(bad).then(pl.lit(name))
    flagged = frame.with_columns(
        reason.otherwise(None).alias("reason"),
        column.otherwise(None).alias("column"),
        pl.struct(names).struct.json_encode().alias("raw_record"),
    )
    key = ["paysage_id"] + (["academic_year"] if dataset is ENROLMENT_STATISTICS else [])
    good = _typed(dataset, flagged.filter(pl.col("reason").is_null()))
    first = good.group_by(key, maintain_order=True).agg(pl.col("source_row").min().alias("first"))
    good = good.join(first, on=key, how="left")
    duplicate = good.filter(pl.col("source_row") != pl.col("first"))
    rows = good.filter(pl.col("source_row") == pl.col("first")).drop("first")
    bad = flagged.filter(pl.col("reason").is_not_null()).select(
        pl.col(ROW).alias("row_number"), "column", "reason", "raw_record"
    )
    if duplicate.height:
        dup = duplicate.join(
            flagged.select(pl.col(ROW).alias("source_row"), "raw_record"), on="source_row"
        ).select(
            pl.col("source_row").alias("row_number"),
            pl.lit(key[0]).alias("column"),
            pl.format(
                "duplicate row for {} (first at row {})",
                pl.concat_str([pl.col(k).cast(pl.String) for k in key], separator=" "),
                pl.col("first"),
            ).alias("reason"),
            "raw_record",
        )
        bad = pl.concat([bad, dup], how="vertical_relaxed")
    return Normalised(rows, bad.sort("row_number"))


# --- fetch, cache, load ----------------------------------------------------------------------


@dataclass
class NationalLoad:
    """What one refresh of a dataset did (for the asset's metadata and the CLI)."""

    dataset: NationalDataset
    url: str
    origin: str  # "portal" or "cache"
    path: Path
    sha256: str
    fetched_at: str
    header_style: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    load_id: str | None = None
    unchanged: bool = False  # the same bytes were loaded already: nothing rewritten
    note: str | None = None
    reasons: dict[str, int] = field(default_factory=dict)


def cache_paths(settings: Settings, dataset: NationalDataset) -> tuple[Path, Path]:
    """The cached export and its sidecar (URL, SHA-256, download time)."""
    return (
        settings.reference_cache / f"{dataset.dataset_id}.csv",
        settings.reference_cache / f"{dataset.dataset_id}.json",
    )


def _obtain(
    settings: Settings, dataset: NationalDataset
) -> tuple[Path, str, str, str, ParsedExport, str | None]:
    """Download and parse the export, keep it in the cache; or fall back on the cache when
    the portal does not answer. Returns (path, sha256, origin, fetched_at, parsed, note)."""
    url = export_url(settings.ods_base_url, dataset.dataset_id)
    cached, sidecar = cache_paths(settings, dataset)
    cached.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{dataset.dataset_id}.", dir=cached.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        sha = download(
            url,
            tmp,
            connect_timeout=settings.ods_connect_timeout,
            read_timeout=settings.ods_read_timeout,
        )
        parsed = parse_export(dataset, tmp)  # never cache what does not parse
        fetched_at = datetime.now(UTC).isoformat(timespec="seconds")
        os.replace(tmp, cached)
        meta = {
            "url": url,
            "sha256": sha,
            "fetched_at": fetched_at,
            "bytes": cached.stat().st_size,
            "header_style": parsed.header_style,
        }
        sidecar.write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return cached, sha, "portal", fetched_at, parsed, None
    except PortalUnavailable as exc:
        if not (cached.is_file() and sidecar.is_file()):
            raise PortalUnavailable(f"{exc}; no cached copy in {cached.parent}") from exc
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        note = (
            f"portal unreachable ({exc}): used the cached copy downloaded "
            f"{meta['fetched_at']} from {meta['url']} ({cached})"
        )
        parsed = parse_export(dataset, cached)
        return cached, meta["sha256"], "cache", meta["fetched_at"], parsed, note
    finally:
        tmp.unlink(missing_ok=True)


def _current_sha(conn: duckdb.DuckDBPyConnection, dataset: NationalDataset) -> tuple | None:
    return conn.execute(
        "SELECT sha256, load_id FROM audit.loads WHERE school_code = ? AND dataset = ? "
        "AND is_current AND status = 'loaded'",
        [PUBLISHER, dataset.audit_dataset],
    ).fetchone()


@dataclass
class Obtained:
    """An export in hand: downloaded (and cached), or the cached copy standing in."""

    dataset: NationalDataset
    url: str
    path: Path
    sha256: str
    origin: str  # "portal" or "cache"
    fetched_at: str
    parsed: ParsedExport
    note: str | None
    started: datetime


def obtain(settings: Settings, dataset: NationalDataset) -> Obtained:
    """Fetch one national dataset (or take the cached copy when the portal does not answer).
    Touches no database, so it runs outside the build lock. Raises PortalUnavailable (no
    answer and no cached copy) or PortalError (a wrong answer)."""
    started = datetime.now(UTC).replace(tzinfo=None)
    url = export_url(settings.ods_base_url, dataset.dataset_id)
    try:
        path, sha, origin, fetched_at, parsed, note = _obtain(settings, dataset)
    except (PortalUnavailable, PortalError) as exc:
        raise type(exc)(f"national/{dataset.key}: {url}: {exc}") from exc
    return Obtained(dataset, url, path, sha, origin, fetched_at, parsed, note, started)


def load(
    conn: duckdb.DuckDBPyConnection, obtained: Obtained, run_id: str | None = None
) -> NationalLoad:
    """Normalise an obtained export and replace the dataset's staging rows, quarantine and
    audit row in one transaction; the same bytes as the current load are not reloaded."""
    dataset, parsed = obtained.dataset, obtained.parsed
    result = NationalLoad(
        dataset, obtained.url, obtained.origin, obtained.path, obtained.sha256,
        obtained.fetched_at, parsed.header_style, note=obtained.note,
    )  # fmt: skip
    result.rows_read = parsed.frame.height
    current = _current_sha(conn, dataset)
    if current is not None and current[0] == obtained.sha256:
        result.unchanged, result.load_id = True, current[1]
        counts = conn.execute(
            "SELECT rows_loaded, rows_quarantined FROM audit.loads WHERE load_id = ?",
            [current[1]],
        ).fetchone()
        result.rows_loaded, result.rows_quarantined = counts
        return result
    normalised = normalise(dataset, parsed.frame)
    result.rows_loaded = normalised.rows.height
    result.rows_quarantined = normalised.quarantine.height
    if result.rows_read != result.rows_loaded + result.rows_quarantined:
        raise AssertionError(f"row accounting broken for {dataset.dataset_id}")
    if normalised.quarantine.height:
        kinds = normalised.quarantine.with_columns(pl.col("reason").str.replace(r" '.*$", ""))
        result.reasons = dict(kinds.group_by("reason").len().sort("reason").iter_rows())
    result.load_id = uuid.uuid4().hex
    _write(conn, result, normalised, run_id, obtained.started)
    return result


def refresh(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    dataset: NationalDataset,
    run_id: str | None = None,
) -> NationalLoad:
    """obtain() then load(): on failure the build database is untouched."""
    return load(conn, obtain(settings, dataset), run_id)


def _write(
    conn: duckdb.DuckDBPyConnection,
    result: NationalLoad,
    normalised: Normalised,
    run_id: str | None,
    started: datetime,
) -> None:
    dataset = result.dataset
    now = datetime.now(UTC).replace(tzinfo=None)
    load = Load(
        result.load_id, PUBLISHER, dataset.audit_dataset, result.url, result.sha256,
        result.rows_read, result.rows_loaded, result.rows_quarantined, started, now, "loaded",
        note=result.note,
    )  # fmt: skip
    rows = normalised.rows.with_columns(pl.lit(result.load_id).alias("load_id"))
    quarantine = normalised.quarantine.select(
        pl.lit(result.load_id).alias("load_id"),
        pl.lit(PUBLISHER).alias("school_code"),
        pl.lit(dataset.audit_dataset).alias("dataset"),
        pl.lit(result.url).alias("source_file"),
        *QUARANTINE_COLUMNS,  # typed by write_audit
    )
    scope = {"school": PUBLISHER, "dataset": dataset.audit_dataset}
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(f"DELETE FROM {dataset.table}")
        conn.execute(
            "DELETE FROM audit.quarantine WHERE school_code = $school AND dataset = $dataset",
            scope,
        )
        conn.execute(
            "UPDATE audit.loads SET is_current = false "
            "WHERE school_code = $school AND dataset = $dataset",
            scope,
        )
        write_audit(conn, [load], quarantine, run_id)
        if rows.height:
            conn.register("_national_rows", rows.to_arrow())
            conn.execute(f"INSERT INTO {dataset.table} BY NAME SELECT * FROM _national_rows")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    finally:
        for view in ("_national_rows",):
            with contextlib.suppress(Exception):  # views never registered
                conn.unregister(view)
