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
from imtetl.transform.normalise import STAGING_COLUMNS, UNIT, normalise
from imtetl.transform.pseudonym import pseudonymise
from imtetl.validate import select_columns
from imtetl.validate.gate import GateResult, run_gate


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


def _new_load_id() -> str:
    return uuid.uuid4().hex


def _rejected_file_rows(
    pipeline: SchoolPipeline, unit: SourceUnit, frame: pl.DataFrame, error: SourceError, key: bytes
) -> pl.DataFrame:
    """Every row of a unit rejected as a whole, with what could be mapped of it."""
    mapping = pipeline.columns_for(unit.dataset, unit.year)
    from imtetl.validate.columns import normalise_label

    labels = {normalise_label(h): h for h in frame.columns if h != ROW}
    present = {
        c: labels[normalise_label(h)] for c, h in mapping.items() if normalise_label(h) in labels
    }
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
) -> LoadReport:
    """Load every unit of one school's dataset into staging; never raises for bad data.

    With ``validate``, the dataset's expectation suite gates the rows (see validate.gate):
    rows failing a row-level expectation are quarantined, and a dataset that breaks the
    suite is held back whole, its previous rows kept."""
    school = pipeline.school.code
    fmt = pipeline.format_for(dataset)
    claims, owns_unclaimed = shared_file_claims(pipelines or {school: pipeline}, school, dataset)
    reports: list[UnitReport] = []
    frames: list[pl.DataFrame] = []
    rejected: list[pl.DataFrame] = []
    try:
        fetch_http_pages(pipeline, dataset, landing, years)
    except SourceError as exc:
        # The API failed: record it, then load what the landing zone already holds.
        reports.append(
            UnitReport(_new_load_id(), exc.source_file, None, status="failed", error=str(exc))
        )
    try:
        units = discover_units(pipeline, dataset, landing)
    except SourceError as exc:
        units = []
        reports.append(
            UnitReport(_new_load_id(), exc.source_file, None, status="failed", error=str(exc))
        )
    if not units and not reports:
        pattern = pipeline.datasets[dataset].files
        reports.append(
            UnitReport(
                _new_load_id(),
                pattern,
                None,
                status="failed",
                error=f"{school}: no {dataset} export matches {pattern!r} in the landing zone",
            )
        )
    by_file: dict[str, UnitReport] = {}
    for unit in units:
        report = UnitReport(_new_load_id(), unit.source_file, unit.sha256)
        reports.append(report)
        by_file[unit.source_file] = report
        raw = None
        try:
            raw = read_unit(unit, fmt)
            selected = select_columns(pipeline, raw, claims, owns_unclaimed)
        except SourceError as exc:
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

    loaded = [r for r in reports if r.status == "loaded"]
    gate = None
    if frames:
        frame = pl.concat(frames, how="diagonal_relaxed")
        result = normalise(frame, dataset, pipeline, key)
        rows, quarantine = result.rows, result.quarantine
        if validate and rows.height:
            gate = run_gate(
                dataset,
                rows,
                schools=sorted(pipelines or {school: pipeline}),
                rows_read=sum(r.rows_read for r in loaded),
                already_quarantined=quarantine.height,
                max_quarantine_share=pipeline.max_quarantine_share,
                regulated=regulated,
            )
            rows = gate.rows
            quarantine = pl.concat([quarantine, gate.quarantine], how="vertical_relaxed")
            if gate.held_back:
                reason = "dataset held back: " + "; ".join(gate.held_back)
                held = rows.select(
                    pl.col(UNIT),
                    pl.col(ROW).cast(pl.Int32).alias("row_number"),
                    pl.lit(None, dtype=pl.String).alias("column"),
                    pl.lit(reason).alias("reason"),
                    pl.col("raw_record"),
                )
                quarantine = pl.concat([quarantine, held], how="vertical_relaxed")
                rows = rows.clear()
                for report in loaded:
                    report.status = "failed"
                    report.error = (
                        f"{school}: {report.source_file}: {dataset} held back by the "
                        f"expectation suite: {'; '.join(gate.held_back)}. What to do: look "
                        "at audit.quarantine for this load, fix the export and rebuild"
                    )
    else:
        rows = pl.DataFrame()
        quarantine = pl.DataFrame()
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
    _write(conn, school, dataset, reports, units, rows, quarantine, rejected, run_id)

    report = LoadReport(school, dataset, reports, gate=gate)
    if rows.height:
        report.preview = rows.drop(UNIT, ROW, "raw_record").head(10)
    all_q = [q for q in (quarantine, *rejected) if q.height]
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
            }
            for r in reports
        ],
        schema_overrides={"run_id": pl.String, "sha256": pl.String, "error": pl.String},
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
    scope = (
        "school_code = $school AND (list_contains($loaded, source_file) "
        "OR NOT list_contains($present, source_file))"
    )
    params = {"school": school, "loaded": loaded_files, "present": present}
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(f"DELETE FROM staging.{dataset} WHERE {scope}", params)
        conn.execute(
            f"DELETE FROM audit.quarantine WHERE dataset = $dataset AND ({scope} OR load_id IN "
            "(SELECT load_id FROM audit.loads WHERE school_code = $school AND dataset = $dataset"
            " AND status = 'failed'))",
            {**params, "dataset": dataset},
        )
        conn.execute(
            f"UPDATE audit.loads SET is_current = false WHERE dataset = $dataset AND {scope}",
            {**params, "dataset": dataset},
        )
        conn.register("_loads", loads.to_arrow())
        conn.execute("INSERT INTO audit.loads BY NAME SELECT * FROM _loads")
        if staged is not None:
            conn.register("_staged", staged.to_arrow())
            conn.execute(f"INSERT INTO staging.{dataset} BY NAME SELECT * FROM _staged")
        if q_all is not None:
            conn.register("_quarantine", q_all.to_arrow())
            conn.execute("INSERT INTO audit.quarantine BY NAME SELECT * FROM _quarantine")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    finally:
        for view in ("_loads", "_staged", "_quarantine"):
            with contextlib.suppress(Exception):  # views never registered
                conn.unregister(view)
