"""The landing step: each school's HTTP API pages fetched into the landing zone, before any
staging reads it (staging only ever reads the landing zone).

A fetch that fails leaves the landing zone's pages as they were — they load instead — and is
recorded as a failed load in ``audit.loads`` (school, dataset, pages folder, reason), so the
build reports it and exits 1 like any other file that could not be had.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from imtetl.load.audit import Load, write_audit
from imtetl.pipeline_config import SchoolPipeline
from imtetl.read import SourceError, fetch_http_pages


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def fetch_landing(
    conn: duckdb.DuckDBPyConnection | None,
    pipeline: SchoolPipeline,
    landing: Path,
    years: tuple[int, ...],
    *,
    run_id: str | None = None,
    datasets: tuple[str, ...] | None = None,
) -> tuple[list[str], list[Load]]:
    """Fetch ``years`` of every HTTP dataset of the school (or of ``datasets``) whose base
    URL is set: the landing folders fetched, and the failed fetches (written to
    ``audit.loads`` when ``conn`` is given)."""
    fetched: list[str] = []
    failures: list[Load] = []
    for dataset, source in pipeline.datasets.items():
        if source.http is None or (datasets is not None and dataset not in datasets):
            continue
        started = _now()
        try:
            fetched += fetch_http_pages(pipeline, dataset, landing, years)
        except SourceError as exc:
            failures.append(
                Load(
                    load_id=uuid.uuid4().hex,
                    school_code=pipeline.school.code,
                    dataset=dataset,
                    source_file=exc.source_file,
                    sha256=None,
                    rows_read=0,
                    rows_loaded=0,
                    rows_quarantined=0,
                    started_at=started,
                    finished_at=_now(),
                    status="failed",
                    error=str(exc),
                )
            )
    if failures and conn is not None:
        conn.execute("BEGIN TRANSACTION")
        try:
            write_audit(conn, failures, None, run_id)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return fetched, failures
