"""The load journal and the quarantine: one writer for every path that loads data (the
schools' staging and the ministry's national data), so that ``audit.loads`` and
``audit.quarantine`` are always written alike and ``rows_read = rows_loaded +
rows_quarantined`` is built in one place."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

#: The columns of an audit.quarantine row a loader hands over (before load and school).
QUARANTINE_COLUMNS = ("row_number", "column", "reason", "raw_record")


@dataclass
class Load:
    """One row of ``audit.loads``: one file (or download) into one school-year."""

    load_id: str
    school_code: str
    dataset: str
    source_file: str
    sha256: str | None
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    started_at: datetime
    finished_at: datetime | None
    status: str  # loaded | failed
    error: str | None = None
    academic_year: int | None = None
    note: str | None = None

    @property
    def is_current(self) -> bool:
        return self.status == "loaded"


def loads_frame(loads: list[Load], run_id: str | None) -> pl.DataFrame:
    if any(load.rows_read != load.rows_loaded + load.rows_quarantined for load in loads):
        broken = next(x for x in loads if x.rows_read != x.rows_loaded + x.rows_quarantined)
        raise AssertionError(
            f"row accounting broken for {broken.school_code} {broken.source_file}: "
            f"{broken.rows_read} read <> {broken.rows_loaded} + {broken.rows_quarantined}"
        )
    return pl.DataFrame(
        [
            {
                "load_id": x.load_id, "run_id": run_id, "school_code": x.school_code,
                "dataset": x.dataset, "source_file": x.source_file, "sha256": x.sha256,
                "rows_read": x.rows_read, "rows_loaded": x.rows_loaded,
                "rows_quarantined": x.rows_quarantined, "started_at": x.started_at,
                "finished_at": x.finished_at, "status": x.status, "error": x.error,
                "is_current": x.is_current, "academic_year": x.academic_year, "note": x.note,
            }
            for x in loads
        ],
        schema={
            "load_id": pl.String, "run_id": pl.String, "school_code": pl.String,
            "dataset": pl.String, "source_file": pl.String, "sha256": pl.String,
            "rows_read": pl.Int64, "rows_loaded": pl.Int64, "rows_quarantined": pl.Int64,
            "started_at": pl.Datetime("us"), "finished_at": pl.Datetime("us"),
            "status": pl.String, "error": pl.String, "is_current": pl.Boolean,
            "academic_year": pl.Int32, "note": pl.String,
        },
    )  # fmt: skip


def write_audit(
    conn: duckdb.DuckDBPyConnection,
    loads: list[Load],
    quarantine: pl.DataFrame | None,
    run_id: str | None,
) -> None:
    """Insert the loads and their quarantined rows (``quarantine``: load_id, school_code,
    dataset, source_file and QUARANTINE_COLUMNS), inside the caller's transaction."""
    try:
        if loads:
            conn.register("_audit_loads", loads_frame(loads, run_id).to_arrow())
            conn.execute("INSERT INTO audit.loads BY NAME SELECT * FROM _audit_loads")
        if quarantine is not None and quarantine.height:
            conn.register(
                "_audit_quarantine",
                quarantine.select(
                    pl.col("load_id").cast(pl.String),
                    pl.col("school_code").cast(pl.String),
                    pl.col("dataset").cast(pl.String),
                    pl.col("source_file").cast(pl.String),
                    pl.col("row_number").cast(pl.Int32),
                    pl.col("column").cast(pl.String),
                    pl.col("reason").cast(pl.String),
                    pl.col("raw_record").cast(pl.String),
                ).to_arrow(),
            )
            conn.execute("INSERT INTO audit.quarantine BY NAME SELECT * FROM _audit_quarantine")
    finally:
        for view in ("_audit_loads", "_audit_quarantine"):
            with contextlib.suppress(Exception):  # views never registered
                conn.unregister(view)
