"""Stage one school's dataset: read → validate → transform every source unit, then replace
that school's rows in the build database in one transaction.

Idempotent: a rerun replaces exactly this school's rows for the units it loaded. A unit that
fails as a whole keeps the rows of its last good load (stale but complete), and its failure
is recorded in ``audit.loads`` with the reason; the other units and schools still load.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from imtetl.pipeline_config import SchoolPipeline, shared_file_claims
from imtetl.read import SourceError, SourceUnit, discover_units, fetch_http_pages, read_unit
from imtetl.read.base import ROW
from imtetl.transform.normalise import RAW, STAGING_COLUMNS, UNIT, normalise
from imtetl.transform.pseudonym import pseudonymise
from imtetl.validate import select_columns
from imtetl.validate.columns import match_headers
from imtetl.validate.evaluate import GX_SAMPLE_ROWS
from imtetl.validate.gate import (
    GX_MIN_PART_ROWS,
    GateInput,
    GateResult,
    confirm,
    gate_partition,
    raw_record,
)


@dataclass
class UnitReport:
    load_id: str
    source_file: str
    sha256: str | None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    status: str = "loaded"
    error: str | None = None
    year: int | None = None  # the academic year (partition) the unit belongs to
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))
    finished_at: datetime | None = None


@dataclass
class LoadReport:
    school: str
    dataset: str
    units: list[UnitReport]
    preview: pl.DataFrame | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    gate: GateResult | None = None
    year: int | None = None

    @property
    def label(self) -> str:
        return f"{self.school} {self.year}" if self.year else self.school

    @property
    def rows_read(self) -> int:
        return sum(u.rows_read for u in self.units)

    @property
    def rows_loaded(self) -> int:
        return sum(u.rows_loaded for u in self.units)

    @property
    def rows_quarantined(self) -> int:
        return sum(u.rows_quarantined for u in self.units)

    @property
    def failures(self) -> list[UnitReport]:
        return [u for u in self.units if u.status == "failed"]


#: Rows staged between two commits (see stage_partitions).
COMMIT_ROWS = 2_000_000


def _checksum(unit: SourceUnit) -> str | None:
    try:
        return unit.sha256
    except OSError:  # gone or unreadable: the load's error says so
        return None


def _new_load_id() -> str:
    return uuid.uuid4().hex


def _rejected_file_rows(
    pipeline: SchoolPipeline, unit: SourceUnit, frame: pl.DataFrame, error: SourceError, key: bytes
) -> pl.DataFrame:
    """Every row of a unit rejected as a whole, with what could be mapped of it."""
    present, _missing = match_headers(pipeline, unit, frame.columns)
    columns = [pl.col(h).alias(c) for c, h in present.items()]
    picked = frame.select(pl.col(ROW), *columns)
    if "student_id" in picked.columns:
        picked = picked.with_columns(
            pseudonymise(picked["student_id"], unit.school, key).alias("student_key")
        ).drop("student_id")
    record_columns = [c for c in picked.columns if c != ROW]
    raw = (
        pl.struct(record_columns).struct.json_encode()
        if record_columns
        else pl.lit(None, dtype=pl.String)
    )
    return picked.select(
        pl.lit(unit.source_file).alias(UNIT),
        pl.col(ROW).cast(pl.Int32).alias("row_number"),
        pl.lit(error.column).cast(pl.String).alias("column"),
        pl.lit(f"file rejected: {error.message}").alias("reason"),
        raw.alias("raw_record"),
    )


@dataclass
class _Prepared:
    """One partition read and normalised, waiting for the gate."""

    pipeline: SchoolPipeline
    dataset: str
    year: int | None
    reports: list[UnitReport]
    units: list[SourceUnit]
    by_file: dict[str, UnitReport]
    rows: pl.DataFrame
    quarantine: pl.DataFrame
    rejected: list[pl.DataFrame]

    @property
    def loaded(self) -> list[UnitReport]:
        return [r for r in self.reports if r.status == "loaded"]


def stage_school_dataset(
    conn: duckdb.DuckDBPyConnection,
    pipeline: SchoolPipeline,
    dataset: str,
    landing: Path,
    key: bytes,
    *,
    run_id: str | None = None,
    years: tuple[int, ...] = (),
    pipelines: dict[str, SchoolPipeline] | None = None,
    validate: bool = True,
    regulated: pl.DataFrame | None = None,
    year: int | None = None,
) -> LoadReport:
    """Load every unit of one school's dataset (or of one of its years) into staging."""
    (report,) = stage_partitions(
        conn,
        dataset,
        [(pipeline, year)],
        landing,
        key,
        run_id=run_id,
        years=years,
        pipelines=pipelines,
        validate=validate,
        regulated=regulated,
    )
    return report


def stage_partitions(
    conn: duckdb.DuckDBPyConnection,
    dataset: str,
    partitions: list[tuple[SchoolPipeline, int | None]],
    landing: Path,
    key: bytes,
    *,
    run_id: str | None = None,
    years: tuple[int, ...] = (),
    pipelines: dict[str, SchoolPipeline] | None = None,
    validate: bool = True,
    regulated: pl.DataFrame | None = None,
) -> list[LoadReport]:
    """Load school × year partitions of one dataset into staging; never raises for bad data.

    Each partition is read and normalised on its own; then the dataset's expectation suite
    gates them all in one validation (see validate.gate): rows failing a row-level
    expectation are quarantined, and a partition that breaks the suite is held back whole,
    its previous rows kept. Finally each partition replaces its own rows (a ``None`` year:
    the whole school) in one transaction; the school's other years are left untouched."""
    known = pipelines or {p.school.code: p for p, _ in partitions}
    schools = sorted(known)
    # GX confirms each dataset on the flagged rows and a sample of the rest (validate.evaluate)
    sample_rows = max(GX_MIN_PART_ROWS, GX_SAMPLE_ROWS // max(1, len(partitions)))
    reports: list[LoadReport] = []
    gates: list[GateResult] = []
    # One partition in memory at a time, not the whole dataset; a commit every
    # COMMIT_ROWS rows (a commit per small partition costs more than its rows, and DuckDB
    # keeps a transaction's new rows in memory until it commits). Each partition's delete
    # and insert are always in the same transaction.
    conn.execute("BEGIN TRANSACTION")
    try:
        _stage_each(conn, dataset, partitions, landing, key, run_id, years, known, validate,
                    regulated, sample_rows, reports, gates)  # fmt: skip
        if validate:
            confirm(dataset, gates, schools=schools)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return reports


def _stage_each(
    conn: duckdb.DuckDBPyConnection,
    dataset: str,
    partitions: list[tuple[SchoolPipeline, int | None]],
    landing: Path,
    key: bytes,
    run_id: str | None,
    years: tuple[int, ...],
    known: dict[str, SchoolPipeline],
    validate: bool,
    regulated: pl.DataFrame | None,
    sample_rows: int,
    reports: list[LoadReport],
    gates: list[GateResult],
) -> None:
    schools = sorted(known)
    uncommitted = 0
    for number, (pipeline, year) in enumerate(partitions):
        try:
            prepared = _prepare(
                pipeline, dataset, landing, key, years=years, pipelines=known, year=year
            )
        except Exception as exc:  # a bug in one partition must not stop the others
            school = pipeline.school.code
            failure = UnitReport(
                _new_load_id(),
                pipeline.datasets[dataset].files,
                None,
                status="failed",
                error=f"{school}: {dataset} {year or ''}: internal error {type(exc).__name__}: "
                f"{exc}. What to do: report it with the run's logs",
                year=year,
            )
            empty = pl.DataFrame()
            prepared = _Prepared(pipeline, dataset, year, [failure], [], {}, empty, empty, [])
        gate = None
        if validate:
            gate = gate_partition(
                dataset,
                GateInput(
                    rows=prepared.rows,
                    rows_read=sum(r.rows_read for r in prepared.loaded),
                    already_quarantined=prepared.quarantine.height,
                    max_quarantine_share=prepared.pipeline.max_quarantine_share,
                ),
                number,
                schools=schools,
                regulated=regulated,
                sample_rows=sample_rows,
            )
            gates.append(gate)
        reports.append(_finish(conn, prepared, gate, run_id))
        uncommitted += prepared.rows.height + prepared.quarantine.height
        del prepared
        if uncommitted >= COMMIT_ROWS:
            conn.execute("COMMIT")
            conn.execute("BEGIN TRANSACTION")
            uncommitted = 0


def _prepare(
    pipeline: SchoolPipeline,
    dataset: str,
    landing: Path,
    key: bytes,
    *,
    years: tuple[int, ...],
    pipelines: dict[str, SchoolPipeline],
    year: int | None,
) -> _Prepared:
    school = pipeline.school.code
    fmt = pipeline.format_for(dataset)
    claims, owns_unclaimed = shared_file_claims(pipelines, school, dataset)
    reports: list[UnitReport] = []
    frames: list[pl.DataFrame] = []
    rejected: list[pl.DataFrame] = []

    def failure(source_file: str, error: str) -> UnitReport:
        return UnitReport(
            _new_load_id(), source_file, None, status="failed", error=error, year=year
        )

    try:
        fetch_http_pages(pipeline, dataset, landing, (year,) if year else years)
    except SourceError as exc:
        # The API failed: record it, then load what the landing zone already holds.
        reports.append(failure(exc.source_file, str(exc)))
    try:
        units = discover_units(pipeline, dataset, landing)
    except SourceError as exc:
        units = []
        reports.append(failure(exc.source_file, str(exc)))
    if year is not None:
        for unit in units:
            if unit.year is None:
                reports.append(
                    failure(
                        unit.source_file,
                        f"{school}: {unit.source_file}: the file name carries no academic year. "
                        "What to do: name exports with their year (e.g. 2024 or 2024-2025)",
                    )
                )
        units = [u for u in units if u.year == year]
    if not units and not reports:
        pattern = pipeline.datasets[dataset].files
        when = f" for {year}" if year else ""
        reports.append(
            failure(
                pattern,
                f"{school}: no {dataset} export{when} matches {pattern!r} in the landing zone. "
                "What to do: check that the school sent it (and the files glob in its YAML)",
            )
        )
    by_file: dict[str, UnitReport] = {}
    for unit in units:
        # the checksum comes from the read itself (text formats are read once), else apart
        report = UnitReport(_new_load_id(), unit.source_file, None, year=unit.year)
        reports.append(report)
        by_file[unit.source_file] = report
        raw = None
        try:
            raw = read_unit(unit, fmt)
            report.sha256 = raw.sha256 or unit.sha256
            selected = select_columns(pipeline, raw, claims, owns_unclaimed)
        except SourceError as exc:
            report.sha256 = report.sha256 or _checksum(unit)
            report.status = "failed"
            report.error = str(exc)
            if raw is not None and raw.frame.height:
                rows = _rejected_file_rows(pipeline, unit, raw.frame, exc, key)
                if pipeline.datasets[dataset].filter is None:
                    rejected.append(rows)
                    report.rows_read = report.rows_quarantined = rows.height
            continue
        report.rows_read = selected.height
        frames.append(selected.with_columns(pl.lit(unit.source_file).alias(UNIT)))

    if frames:
        frame = pl.concat(frames, how="diagonal_relaxed")
        result = normalise(frame, dataset, pipeline, key, expected_year=year)
        rows, quarantine = result.rows, result.quarantine
    else:
        rows, quarantine = pl.DataFrame(), pl.DataFrame()
    return _Prepared(pipeline, dataset, year, reports, units, by_file, rows, quarantine, rejected)


def _finish(
    conn: duckdb.DuckDBPyConnection,
    prepared: _Prepared,
    gate: GateResult | None,
    run_id: str | None,
) -> LoadReport:
    """Apply the gate's verdict to one partition, account for every row and write it."""
    p = prepared
    school, dataset, reports, by_file = p.pipeline.school.code, p.dataset, p.reports, p.by_file
    rows, quarantine = p.rows, p.quarantine
    if gate is not None and rows.width:
        rows = gate.rows
        quarantine = pl.concat([quarantine, gate.quarantine], how="vertical_relaxed")
        if gate.held_back:
            reason = "dataset held back: " + "; ".join(gate.held_back)
            held = rows.select(
                pl.col(UNIT),
                pl.col(ROW).cast(pl.Int32).alias("row_number"),
                pl.lit(None, dtype=pl.String).alias("column"),
                pl.lit(reason).alias("reason"),
                raw_record(rows),
            )
            quarantine = pl.concat([quarantine, held], how="vertical_relaxed")
            rows = rows.clear()
            for report in p.loaded:
                report.status = "failed"
                report.error = (
                    f"{school}: {report.source_file}: {dataset} held back by the "
                    f"expectation suite: {'; '.join(gate.held_back)}. What to do: look "
                    "at audit.quarantine for this load, fix the export and rebuild"
                )
    if rows.height:
        counts = rows.group_by(UNIT).len()
        for source_file, count in counts.iter_rows():
            by_file[source_file].rows_loaded = count
    if quarantine.height:
        for source_file, count in quarantine.group_by(UNIT).len().iter_rows():
            by_file[source_file].rows_quarantined = count
    for report in reports:
        if report.rows_read != report.rows_loaded + report.rows_quarantined:
            raise AssertionError(f"row accounting broken for {school} {report.source_file}")

    now = datetime.now(UTC).replace(tzinfo=None)
    for report in reports:
        report.finished_at = now
    _write(conn, school, dataset, reports, p.units, rows, quarantine, p.rejected, run_id, p.year)

    if gate is not None:
        gate.rows = rows.clear()  # written: the report keeps the verdict, not the rows
    report = LoadReport(school, dataset, reports, gate=gate, year=p.year)
    if rows.height:
        report.preview = rows.drop(UNIT, ROW, RAW, strict=False).head(10)
    all_q = [q for q in (quarantine, *p.rejected) if q.height]
    if all_q:
        reasons = pl.concat(all_q).with_columns(
            pl.col("reason").str.replace(r" '.*$", "").str.replace(r" \(first at.*$", "")
        )
        report.reasons = dict(reasons.group_by("reason").len().sort("reason").iter_rows())
    return report


def _write(
    conn: duckdb.DuckDBPyConnection,
    school: str,
    dataset: str,
    reports: list[UnitReport],
    units: list[SourceUnit],
    rows: pl.DataFrame,
    quarantine: pl.DataFrame,
    rejected: list[pl.DataFrame],
    run_id: str | None,
    year: int | None,
) -> None:
    load_ids = pl.DataFrame(
        {
            UNIT: [r.source_file for r in reports],
            "load_id": [r.load_id for r in reports],
            "loaded_at": [r.started_at for r in reports],
            "status": [r.status for r in reports],
        },
        schema={UNIT: pl.String, "load_id": pl.String, "loaded_at": pl.Datetime("us"),
                "status": pl.String},
    )  # fmt: skip
    loaded_files = [r.source_file for r in reports if r.status == "loaded"]
    present = [u.source_file for u in units]
    loads = pl.DataFrame(
        [
            {
                "load_id": r.load_id,
                "run_id": run_id,
                "school_code": school,
                "dataset": dataset,
                "source_file": r.source_file,
                "sha256": r.sha256,
                "rows_read": r.rows_read,
                "rows_loaded": r.rows_loaded,
                "rows_quarantined": r.rows_quarantined,
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "status": r.status,
                "error": r.error,
                "is_current": r.status == "loaded",
                "source_year": r.year,
            }
            for r in reports
        ],
        schema_overrides={
            "run_id": pl.String,
            "sha256": pl.String,
            "error": pl.String,
            "source_year": pl.Int32,
        },
    )
    q_frames = [q for q in (quarantine, *rejected) if q.height]
    q_all = (
        pl.concat(q_frames, how="vertical_relaxed")
        .join(load_ids.select(UNIT, "load_id", "status"), on=UNIT, how="left")
        .select(
            "load_id",
            pl.lit(school).alias("school_code"),
            pl.lit(dataset).alias("dataset"),
            pl.col(UNIT).alias("source_file"),
            "row_number",
            "column",
            "reason",
            "raw_record",
        )
        if q_frames
        else None
    )
    staged = (
        rows.join(load_ids.select(UNIT, "load_id", "loaded_at"), on=UNIT, how="left").select(
            "load_id",
            pl.col(UNIT).alias("source_file"),
            pl.col(ROW).cast(pl.Int32).alias("source_row"),
            "loaded_at",
            *STAGING_COLUMNS[dataset],
        )
        if rows.height
        else None
    )
    # What this load replaces: the units it loaded, and the units of its scope (the school,
    # or the school's year) that are gone from the landing zone. Failed units keep their rows.
    # The list of files is worked out first, so that each statement is a plain filter that
    # DuckDB prunes by zone maps, not a per-row search over the whole table.
    known = conn.execute(
        "SELECT DISTINCT source_file FROM audit.loads WHERE school_code = $school "
        "AND dataset = $dataset AND ($year IS NULL OR source_year = $year)",
        {"school": school, "dataset": dataset, "year": year},
    ).fetchall()
    replaced = sorted(set(loaded_files) | {f for (f,) in known if f not in set(present)})
    scope = "school_code = $school AND source_file IN (SELECT unnest($replaced))"
    try:
        if known:  # else nothing of this scope was ever loaded: nothing to replace
            _replace(conn, dataset, scope, school, replaced, year)
        conn.register("_loads", loads.to_arrow())
        conn.execute("INSERT INTO audit.loads BY NAME SELECT * FROM _loads")
        # the core facts update these school-years (load/sql_models.py)
        conn.execute(
            "INSERT INTO build_state.changed_partitions VALUES ($dataset, $school, $year)",
            {"dataset": dataset, "school": school, "year": year},
        )
        if staged is not None:
            conn.register("_staged", staged.to_arrow())
            conn.execute(f"INSERT INTO staging.{dataset} BY NAME SELECT * FROM _staged")
        if q_all is not None:
            conn.register("_quarantine", q_all.to_arrow())
            conn.execute("INSERT INTO audit.quarantine BY NAME SELECT * FROM _quarantine")
    finally:
        for view in ("_loads", "_staged", "_quarantine"):
            with contextlib.suppress(Exception):  # views never registered
                conn.unregister(view)


def _replace(
    conn: duckdb.DuckDBPyConnection,
    dataset: str,
    scope: str,
    school: str,
    replaced: list[str],
    year: int | None,
) -> None:
    """Delete what a partition load replaces: its files' staged and quarantined rows, and
    mark their earlier loads as no longer current."""
    params = {"school": school, "replaced": replaced, "year": year, "dataset": dataset}
    conn.execute(
        f"DELETE FROM staging.{dataset} WHERE {scope}", {"school": school, "replaced": replaced}
    )
    conn.execute(
        f"DELETE FROM audit.quarantine WHERE dataset = $dataset AND ({scope} OR load_id IN "
        "(SELECT load_id FROM audit.loads WHERE school_code = $school AND dataset = $dataset"
        " AND status = 'failed' AND ($year IS NULL OR source_year = $year)))",
        params,
    )
    conn.execute(
        f"UPDATE audit.loads SET is_current = false WHERE dataset = $dataset AND {scope}",
        {"school": school, "replaced": replaced, "dataset": dataset},
    )
