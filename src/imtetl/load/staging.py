"""Stage school × year partitions of a dataset: read → map → normalise → gate each
partition, then replace exactly that school-year's rows in the build database. Staging only
reads the landing zone; HTTP sources are fetched into it before, by the landing step
(load/landing.py).

A row's partition is its own academic year. A file may hold any number of years: it is read
once per run and feeds each school-year it holds, one ``audit.loads`` row per file and year
(``academic_year``); its rows of no partition (year unreadable, or outside the warehouse's
years) are quarantined in a load of their own (``academic_year`` NULL). Where a dataset's
files hold one year each (``files_per_year``), the name's year is a check instead.

Idempotent: a rerun replaces exactly the school-years it loaded. A unit that fails as a
whole keeps the rows of its last good load (stale but complete), and a partition that is
held back (too many rows quarantined, at any stage) keeps its previous rows too; both are
recorded in ``audit.loads`` with the reason, and the other partitions and schools load.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

import duckdb
import polars as pl

from imtetl.contract import CONTRACT
from imtetl.load.audit import Load, write_audit
from imtetl.pipeline_config import SchoolPipeline, shared_file_claims
from imtetl.read import SourceError, SourceUnit, discover_units, read_unit
from imtetl.read.base import ROW
from imtetl.transform import values
from imtetl.transform.columns import ORPHAN, match_headers, select_columns
from imtetl.transform.normalise import MAX_YEAR, MIN_YEAR, RAW, STAGING_COLUMNS, UNIT, normalise
from imtetl.transform.pseudonym import pseudonymise
from imtetl.validate.evaluate import GX_SAMPLE_ROWS
from imtetl.validate.gate import (
    GX_MIN_PART_ROWS,
    GateInput,
    GateResult,
    confirm,
    gate_partition,
    quarantine_share_reason,
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
    year: int | None = None  # the school-year (partition) the load feeds; None: no partition
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
    #: a year the school's YAML says it delivers (``years``), with no export for it
    missing_delivery: bool = False
    #: why the partition was held back (its previous rows stay), at any stage
    held_back: list[str] = field(default_factory=list)

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


_T = TypeVar("_T")


def _rollback(conn: duckdb.DuckDBPyConnection) -> None:
    """ROLLBACK, unless a failed COMMIT already rolled the transaction back."""
    with contextlib.suppress(duckdb.TransactionException):
        conn.execute("ROLLBACK")


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
    picked = frame.select(pl.col(ROW), *[pl.col(h).alias(c) for c, h in present.items()])
    return _rejected_rows(picked, unit, key, error.column, error.message)


def _rejected_rows(
    picked: pl.DataFrame, unit: SourceUnit, key: bytes, column: str | None, message: str
) -> pl.DataFrame:
    """Quarantine rows ``file rejected: <message>`` for the canonical columns of
    ``picked`` (ids pseudonymised, the rest as JSON in raw_record)."""
    person = CONTRACT[unit.dataset].person
    if person is not None and person.name in picked.columns:
        picked = picked.with_columns(
            pseudonymise(picked[person.name], unit.school, key).alias(person.staging)
        ).drop(person.name)
    record_columns = [c for c in picked.columns if c not in (ROW, UNIT, ORPHAN)]
    raw = (
        pl.struct(record_columns).struct.json_encode()
        if record_columns
        else pl.lit(None, dtype=pl.String)
    )
    return picked.select(
        pl.lit(unit.source_file).alias(UNIT),
        pl.col(ROW).cast(pl.Int32).alias("row_number"),
        pl.lit(column).cast(pl.String).alias("column"),
        pl.lit(f"file rejected: {message}").alias("reason"),
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
    #: files read whole in this run that no longer hold rows of this year: replaced by nothing
    emptied: list[str] = field(default_factory=list)
    missing_delivery: bool = False

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
    """Load one school's dataset: one of its years, or (``year`` None) every year its
    exports hold, as one report."""
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
    commit_each: Callable[[], AbstractContextManager] | None = None,
) -> list[LoadReport]:
    """Load school × year partitions of one dataset into staging; never raises for bad data.

    Each partition is read and normalised on its own (a file holding several years is read
    once per school); then the dataset's expectation suite gates them all in one validation
    (see validate.gate): rows failing a row-level expectation are quarantined, and a
    partition that is mostly quarantined — at reading, normalising or by the suite — is held
    back whole, its previous rows kept. Each partition replaces exactly its own school-year's
    rows. A ``None`` year stands for every year the school's exports hold (one report).
    ``years``: the warehouse's years (IMTETL_YEARS); rows of other years are quarantined.

    ``commit_each`` (the DuckLake backend, where several writers load at once): each
    partition is then written in a transaction of its own, inside ``commit_each()`` (the
    lake's commit lock), and committed before the next one is read."""
    known = pipelines or {p.school.code: p for p, _ in partitions}
    # GX confirms each dataset on the flagged rows and a sample of the rest (validate.evaluate)
    sample_rows = max(GX_MIN_PART_ROWS, GX_SAMPLE_ROWS // max(1, len(partitions)))
    reports: list[LoadReport] = []
    gates: list[GateResult] = []
    # One partition in memory at a time, not the whole dataset; a commit every
    # COMMIT_ROWS rows (a commit per small partition costs more than its rows, and DuckDB
    # keeps a transaction's new rows in memory until it commits). Each partition's delete
    # and insert are always in the same transaction.
    if commit_each is not None:
        _stage_each(conn, dataset, partitions, landing, key, run_id, years, known, validate,
                    regulated, sample_rows, reports, gates, commit_each)  # fmt: skip
        if validate:
            confirm(dataset, gates, schools=sorted(known))
        return reports
    conn.execute("BEGIN TRANSACTION")
    try:
        _stage_each(conn, dataset, partitions, landing, key, run_id, years, known, validate,
                    regulated, sample_rows, reports, gates)  # fmt: skip
        if validate:
            confirm(dataset, gates, schools=sorted(known))
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
    commit_each: Callable[[], AbstractContextManager] | None = None,
) -> None:
    schools = sorted(known)

    def write(action: Callable[[], _T]) -> _T:
        if commit_each is None:  # inside the caller's transaction
            return action()
        with commit_each():
            conn.execute("BEGIN TRANSACTION")
            try:
                result = action()
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        return result

    uncommitted = 0
    sources: dict[str, _SchoolSource] = {}
    first_report: dict[str, LoadReport] = {}
    number = 0
    for pipeline, wanted in partitions:
        school = pipeline.school.code
        if dataset not in pipeline.datasets:  # the school sends no such export: nothing to do
            reports.append(LoadReport(school, dataset, [], year=wanted))
            continue
        source = sources.get(school)
        if source is None:
            source = sources[school] = _SchoolSource(
                conn, pipeline, dataset, landing, key, known, years
            )
        parts: list[LoadReport] = []
        for year in source.years_to_stage() if wanted is None else [wanted]:
            try:
                prepared = source.prepare(year)
            except Exception as exc:  # a bug in one partition must not stop the others
                failure = UnitReport(
                    _new_load_id(),
                    pipeline.datasets[dataset].files,
                    None,
                    status="failed",
                    error=f"{school}: {dataset} {year}: internal error "
                    f"{type(exc).__name__}: {exc}. What to do: report it with the run's logs",
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
                        rows_read=sum(r.rows_read for r in prepared.reports),
                        already_quarantined=prepared.quarantine.height
                        + sum(r.height for r in prepared.rejected),
                        max_quarantine_share=prepared.pipeline.max_quarantine_share,
                    ),
                    number,
                    schools=schools,
                    regulated=regulated,
                    sample_rows=sample_rows,
                )
                gates.append(gate)
            number += 1
            parts.append(write(partial(_finish, conn, prepared, gate, run_id)))
            uncommitted += prepared.rows.height + prepared.quarantine.height
            del prepared
            if commit_each is None and uncommitted >= COMMIT_ROWS:
                conn.execute("COMMIT")
                conn.execute("BEGIN TRANSACTION")
                uncommitted = 0
        if not parts:  # nothing to stage for this school (no year found): say so
            parts.append(LoadReport(school, dataset, [], year=wanted))
        reports.append(_merged(school, dataset, parts) if wanted is None else parts[0])
        first_report.setdefault(school, reports[-1])
    # Rows of no partition (and school-level failures) once per school and run, reported
    # with the school's first partition.
    for school, source in sources.items():
        extra = write(partial(source.finish, conn, run_id))
        if extra and school in first_report:
            report = first_report[school]
            report.units.extend(extra)
            for reason, count in source.unassigned_reasons.items():
                report.reasons[reason] = report.reasons.get(reason, 0) + count


def _merged(school: str, dataset: str, parts: list[LoadReport]) -> LoadReport:
    """The reports of a school's years as one (``year`` None)."""
    if len(parts) == 1:
        return parts[0]
    reasons: dict[str, int] = {}
    for part in parts:
        for reason, count in part.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + count
    gates = [p.gate for p in parts if p.gate is not None]
    gate = gates[0] if gates else None
    if gate is not None:
        gate.held_back = [h for g in gates for h in g.held_back]
        deviations = [g.fee_deviations for g in gates if g.fee_deviations is not None]
        gate.fee_deviations = pl.concat(deviations) if deviations else None
    previews = [p.preview for p in parts if p.preview is not None]
    return LoadReport(
        school,
        dataset,
        [u for p in parts for u in p.units],
        preview=previews[0] if previews else None,
        reasons=dict(sorted(reasons.items())),
        gate=gate,
        held_back=[h for p in parts for h in p.held_back],
        missing_delivery=any(p.missing_delivery for p in parts),
    )


@dataclass
class _WholeFile:
    """A file that may hold several years, read once per run: its rows by year."""

    unit: SourceUnit
    sha256: str | None
    rows_read: int
    frame: pl.DataFrame | None  # selected rows with UNIT and YEAR; None when it failed
    error: str | None = None
    rejected: pl.DataFrame | None = None


YEAR = "__year"


class _SchoolSource:
    """One school's exports of one dataset in the landing zone, discovered once per run."""

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        pipeline: SchoolPipeline,
        dataset: str,
        landing: Path,
        key: bytes,
        pipelines: dict[str, SchoolPipeline],
        years: tuple[int, ...],
    ) -> None:
        self.conn, self.pipeline, self.dataset, self.key = conn, pipeline, dataset, key
        self.school = pipeline.school.code
        self.source = pipeline.datasets[dataset]
        self.fmt = pipeline.format_for(dataset)
        self.years = years
        self.claims, self.owns_unclaimed = shared_file_claims(pipelines, self.school, dataset)
        #: failures of the school's dataset as a whole (discovery), reported once
        self.failures: list[UnitReport] = []
        try:
            self.units = discover_units(pipeline, dataset, landing)
        except SourceError as exc:
            self.units = []
            self.failures.append(self._failure(exc.source_file, str(exc), None))
        if not self.units and not self.failures:
            pattern = self.source.files
            self.failures.append(
                self._failure(
                    pattern,
                    f"{self.school}: no {dataset} export matches {pattern!r} in the landing "
                    "zone. What to do: check that the school sent it (and the files glob in "
                    "its YAML)",
                    None,
                )
            )
        self.per_year = self.source.files_per_year
        if self.per_year:
            for unit in self.units:
                if unit.year is None:
                    self.failures.append(
                        self._failure(
                            unit.source_file,
                            f"{self.school}: {unit.source_file}: the file name carries no "
                            "academic year. What to do: name exports with their year (e.g. "
                            "2024 or 2024-2025), or drop files_per_year from the dataset in "
                            "the school's YAML so that each row's own year is read",
                            None,
                        )
                    )
        self._whole: list[_WholeFile] | None = None
        self.unassigned_reasons: dict[str, int] = {}
        self._finished = False

    def _failure(self, source_file: str, error: str, year: int | None) -> UnitReport:
        return UnitReport(
            _new_load_id(), source_file, None, status="failed", error=error, year=year
        )

    # -- which years -------------------------------------------------------------------
    def _known_years(self) -> set[int]:
        """The school-years of this dataset that the build database holds loads for."""
        return set().union(*self._fed_before().values())

    def years_to_stage(self) -> list[int]:
        """Every year the exports hold, or that staging holds rows of (to replace them)."""
        found = self._known_years()
        if self.per_year:
            found |= {u.year for u in self.units if u.year is not None}
        else:
            for whole in self._read_whole():
                if whole.frame is not None:
                    found |= set(whole.frame[YEAR].drop_nulls().unique().to_list())
        if self.years:
            found &= set(self.years)
        return sorted(found)

    def _in_range(self, year: pl.Expr) -> pl.Expr:
        if self.years:
            return year.is_in(list(self.years))
        return year.is_between(MIN_YEAR, MAX_YEAR)

    # -- reading -----------------------------------------------------------------------
    def _read(
        self, unit: SourceUnit, report: UnitReport
    ) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
        """(selected rows, None) or, for a unit that fails whole, (None, its rejected rows);
        the report gets the checksum, and the error when it fails."""
        raw = None
        try:
            raw = read_unit(unit, self.fmt)
            report.sha256 = raw.sha256 or unit.sha256
            selected = select_columns(self.pipeline, raw, self.claims, self.owns_unclaimed)
        except SourceError as exc:
            report.sha256 = report.sha256 or _checksum(unit)
            report.status = "failed"
            report.error = str(exc)
            rejected = None
            if raw is not None and raw.frame.height and self.source.filter is None:
                rejected = _rejected_file_rows(self.pipeline, unit, raw.frame, exc, self.key)
                report.rows_read = report.rows_quarantined = rejected.height
            return None, rejected
        report.rows_read = selected.height
        return selected.with_columns(pl.lit(unit.source_file).alias(UNIT)), None

    def _read_whole(self) -> list[_WholeFile]:
        """Files that may hold several years: read once, each row's year parsed. A file
        whose years are mostly unreadable is rejected whole (the reading stage's hold-back)."""
        if self._whole is not None:
            return self._whole
        self._whole = []
        for unit in self.units:
            probe = UnitReport(_new_load_id(), unit.source_file, None)
            frame, rejected = self._read(unit, probe)
            whole = _WholeFile(unit, probe.sha256, probe.rows_read, frame, probe.error, rejected)
            if frame is not None:
                whole.frame = frame.with_columns(
                    values.academic_year("academic_year", self.fmt.year_pattern).alias(YEAR)
                    if "academic_year" in frame.columns
                    else pl.lit(None, dtype=pl.Int32).alias(YEAR)
                )
                unreadable = whole.frame.filter(pl.col(YEAR).is_null())
                limit = self.pipeline.max_quarantine_share
                if frame.height and unreadable.height / frame.height > limit:
                    example = unreadable.row(0, named=True)
                    shown = example.get("academic_year")
                    whole.error = (
                        f"{self.school}: {unit.source_file}: {unreadable.height} of "
                        f"{frame.height} rows have no readable academic year, above the limit "
                        f"of {limit:.0%} (row {example[ROW]}: "
                        + (f"{str(shown)[:40]!r}" if shown is not None else "empty")
                        + "). What to do: declare how the school writes its years "
                        "(format.year_pattern in its YAML), or map the year column (columns."
                        "academic_year)"
                    )
                    message = whole.error.split(": ", 2)[-1].split(". What to do")[0]
                    whole.rejected = _rejected_rows(
                        whole.frame.drop(YEAR), unit, self.key, "academic_year", message
                    )
                    whole.frame = None
            self._whole.append(whole)
        return self._whole

    def _fed_before(self) -> dict[str, set[int]]:
        """source_file -> the school-years its current loads feed."""
        rows = self.conn.execute(
            "SELECT source_file, list(DISTINCT academic_year) FROM audit.loads "
            "WHERE school_code = $school AND dataset = $dataset AND is_current "
            "AND academic_year IS NOT NULL GROUP BY ALL",
            {"school": self.school, "dataset": self.dataset},
        ).fetchall()
        return {f: set(ys) for f, ys in rows}

    def prepare(self, year: int) -> _Prepared:
        reports: list[UnitReport] = []
        frames: list[pl.DataFrame] = []
        rejected: list[pl.DataFrame] = []
        by_file: dict[str, UnitReport] = {}
        emptied: list[str] = []
        if self.per_year:
            units = [u for u in self.units if u.year == year]
            for unit in units:
                # the checksum comes from the read itself (text formats are read once)
                report = UnitReport(_new_load_id(), unit.source_file, None, year=year)
                reports.append(report)
                by_file[unit.source_file] = report
                frame, bad = self._read(unit, report)
                if frame is not None:
                    frames.append(frame)
                elif bad is not None:
                    rejected.append(bad)
            expected_year = year
        else:
            units = []
            fed = None
            for whole in self._read_whole():
                if whole.frame is None:  # failed: it keeps the rows of the years it fed
                    if fed is None:
                        fed = self._fed_before()
                    if year in fed.get(whole.unit.source_file, set()):
                        reports.append(
                            UnitReport(
                                _new_load_id(), whole.unit.source_file, whole.sha256,
                                status="failed", error=whole.error, year=year,
                            )
                        )  # fmt: skip
                    continue
                mine = whole.frame.filter(pl.col(YEAR) == year)
                if not mine.height:
                    emptied.append(whole.unit.source_file)
                    continue
                units.append(whole.unit)
                report = UnitReport(_new_load_id(), whole.unit.source_file, whole.sha256, year=year)
                report.rows_read = mine.height
                reports.append(report)
                by_file[whole.unit.source_file] = report
                frames.append(mine.drop(YEAR))
            expected_year = None
        if frames:
            frame = pl.concat(frames, how="diagonal_relaxed")
            result = normalise(frame, self.dataset, self.pipeline, self.key, expected_year)
            rows, quarantine = result.rows, result.quarantine
        else:
            rows, quarantine = pl.DataFrame(), pl.DataFrame()
        missing = not reports and self.source.covers(year) is True
        return _Prepared(
            self.pipeline, self.dataset, year, reports, units, by_file, rows, quarantine,
            rejected, emptied, missing,
        )  # fmt: skip

    # -- rows of no partition ----------------------------------------------------------
    def finish(self, conn: duckdb.DuckDBPyConnection, run_id: str | None) -> list[UnitReport]:
        """Write, once per run, the loads of rows that feed no partition: the rows of each
        multi-year file whose year is unreadable or outside the warehouse's years (all
        quarantined, with that reason), files rejected whole, and the school's failures."""
        if self._finished:
            return []
        self._finished = True
        reports = list(self.failures)
        quarantines: list[pl.DataFrame] = []
        read_files: list[str] = []
        by_file: dict[str, UnitReport] = {}
        if not self.per_year:
            for whole in self._read_whole():
                read_files.append(whole.unit.source_file)
                if whole.frame is None:
                    report = UnitReport(
                        _new_load_id(), whole.unit.source_file, whole.sha256,
                        status="failed", error=whole.error,
                    )  # fmt: skip
                    reports.append(report)
                    if whole.rejected is not None and whole.rejected.height:
                        report.rows_read = report.rows_quarantined = whole.rejected.height
                        quarantines.append(whole.rejected)
                    continue
                stray = whole.frame.filter(~self._in_range(pl.col(YEAR)).fill_null(False))
                if not stray.height:
                    continue
                report = UnitReport(_new_load_id(), whole.unit.source_file, whole.sha256)
                report.rows_read = report.rows_quarantined = stray.height
                reports.append(report)
                by_file[whole.unit.source_file] = report
                quarantines.append(self._stray_quarantine(stray.drop(YEAR)))
        else:
            # per-year files: a rejected file's rows are its year's; nothing feeds no year
            read_files = []
        if not reports:
            return []
        quarantine = (
            pl.concat(quarantines, how="vertical_relaxed") if quarantines else pl.DataFrame()
        )
        self.unassigned_reasons = _reason_counts([quarantine])
        now = datetime.now(UTC).replace(tzinfo=None)
        for report in reports:
            report.finished_at = now
        _write_loads(conn, self.school, self.dataset, reports, None, quarantine, run_id,
                     replace_files=read_files, year=None)  # fmt: skip
        return reports

    def _stray_quarantine(self, stray: pl.DataFrame) -> pl.DataFrame:
        """Rows of no partition, quarantined: the normaliser's reasons where it has one
        (an unreadable year), else that the year is not one of the warehouse's."""
        result = normalise(stray, self.dataset, self.pipeline, self.key, None)
        outside = result.rows
        if self.years:
            span = f"{min(self.years)}-{max(self.years)}"
            because = f" is not one of the warehouse's years ({span}, IMTETL_YEARS)"
        else:
            because = " is not a plausible academic year"
        frames = [result.quarantine] if result.quarantine.height else []
        if outside.height:
            frames.append(
                outside.select(
                    pl.col(UNIT),
                    pl.col(ROW).cast(pl.Int32).alias("row_number"),
                    pl.lit("academic_year").alias("column"),
                    pl.concat_str(
                        pl.lit("academic_year: "),
                        pl.col("academic_year").cast(pl.String),
                        pl.lit(because),
                    ).alias("reason"),
                    raw_record(outside),
                )
            )
        return pl.concat(frames, how="vertical_relaxed")


def scan_years(
    pipeline: SchoolPipeline, pipelines: dict[str, SchoolPipeline], unit: SourceUnit
) -> set[int]:
    """The academic years a file holds, read from its rows (for the landing sensor, which
    maps a changed file to the partitions it feeds). Empty when it cannot be read: the run
    it triggers reports why."""
    if unit.year is not None:
        return {unit.year}
    claims, owns_unclaimed = shared_file_claims(pipelines, pipeline.school.code, unit.dataset)
    try:
        raw = read_unit(unit, pipeline.format_for(unit.dataset))
        selected = select_columns(pipeline, raw, claims, owns_unclaimed)
    except SourceError:
        return set()
    if "academic_year" not in selected.columns:
        return set()
    pattern = pipeline.format_for(unit.dataset).year_pattern
    found = selected.select(values.academic_year("academic_year", pattern).drop_nulls().unique())
    return set(found.to_series().to_list())


def _reason_counts(frames: list[pl.DataFrame]) -> dict[str, int]:
    """Quarantine reasons without the values they quote (``unknown country 'X'`` and
    ``duplicate … (first at row …)`` count as one reason each), by number of rows."""
    frames = [f.select("reason") for f in frames if f.height]
    if not frames:
        return {}
    reasons = pl.concat(frames).with_columns(
        pl.col("reason").str.replace(r" '.*$", "").str.replace(r" \(first at.*$", "")
    )
    top = reasons.group_by("reason").len().sort(["len", "reason"], descending=[True, False])
    return dict(top.iter_rows())


def _main_reasons(frames: list[pl.DataFrame], limit: int = 3) -> str:
    """'unknown country: 40 rows; not a date: 3 rows' from quarantine frames."""
    top = list(_reason_counts(frames).items())[:limit]
    return "; ".join(f"{r[:120]}: {n} rows" for r, n in top)


def _finish(
    conn: duckdb.DuckDBPyConnection,
    prepared: _Prepared,
    gate: GateResult | None,
    run_id: str | None,
) -> LoadReport:
    """Apply the gate's verdict to one partition, account for every row and write it.

    The partition is held back — nothing of it replaces the published rows — when all its
    rows, or more than ``max_quarantine_share`` of them, were quarantined at any stage:
    files rejected whole at reading, rows the normaliser could not type, rows failing the
    suite. The failure then names the school, year, files and main reasons."""
    p = prepared
    school, dataset, reports, by_file = p.pipeline.school.code, p.dataset, p.reports, p.by_file
    rows, quarantine = p.rows, p.quarantine
    if gate is not None and rows.width:
        rows = gate.rows
        quarantine = pl.concat([quarantine, gate.quarantine], how="vertical_relaxed")
    if gate is not None:  # the gate judged the share, from every stage
        held = list(gate.held_back)
    else:  # no suite: the same share rule, on what reading and normalising set aside
        read = sum(r.rows_read for r in reports)
        quarantined = quarantine.height + sum(r.height for r in p.rejected)
        reason = quarantine_share_reason(read, quarantined, p.pipeline.max_quarantine_share)
        held = [reason] if reason else []
    if held:
        because = _main_reasons([quarantine, *p.rejected])
        if rows.height:
            reason = "dataset held back: " + "; ".join(held)
            kept = rows.select(
                pl.col(UNIT),
                pl.col(ROW).cast(pl.Int32).alias("row_number"),
                pl.lit(None, dtype=pl.String).alias("column"),
                pl.lit(reason).alias("reason"),
                raw_record(rows),
            )
            quarantine = pl.concat([quarantine, kept], how="vertical_relaxed")
            rows = rows.clear()
        files = ", ".join(sorted({r.source_file for r in reports})) or "(no file)"
        for report in reports:
            if report.status == "loaded":
                report.status = "failed"
                report.error = (
                    f"{school}: {report.source_file}: {dataset} {p.year} held back: "
                    f"{'; '.join(held)}"
                    + (f" (main reasons: {because})" if because else "")
                    + f"; files of the partition: {files}. Its previously loaded rows stay. "
                    "What to do: look at audit.quarantine for this load, fix the export (or "
                    "the school's YAML) and rebuild"
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
    present = {u.source_file for u in p.units} | {
        r.source_file for r in reports if r.status == "failed"
    }
    loaded = [r.source_file for r in reports if r.status == "loaded"]
    emptied = [] if held else p.emptied
    if held:  # held back: the year keeps every row it had, its vanished files' too
        present = None
    elif not loaded and p.year is not None:
        vanished = _vanished(conn, p, present)
        if vanished:  # nothing new would replace the year's rows: keep them, say so
            reports.append(vanished)
            present, emptied = None, []
    q_all = pl.concat(
        [q for q in (quarantine, *p.rejected) if q.height], how="vertical_relaxed"
    ) if any(q.height for q in (quarantine, *p.rejected)) else pl.DataFrame()  # fmt: skip
    _write_loads(conn, school, dataset, reports, rows, q_all, run_id,
                 replace_files=[*loaded, *emptied], year=p.year, present=present)  # fmt: skip

    if gate is not None:
        gate.rows = rows.clear()  # written: the report keeps the verdict, not the rows
    report = LoadReport(
        school, dataset, reports, gate=gate, year=p.year, held_back=held,
        missing_delivery=p.missing_delivery,
    )  # fmt: skip
    if rows.height:
        report.preview = rows.drop(UNIT, ROW, RAW, strict=False).head(10)
    report.reasons = dict(sorted(_reason_counts([q_all]).items()))
    return report


def _vanished(
    conn: duckdb.DuckDBPyConnection, p: _Prepared, present: set[str]
) -> UnitReport | None:
    """A school-year whose rows no export holds any more (its files gone from the landing
    zone, or a file of several years that no longer has rows of it) is not replaced by
    nothing: its rows stay and the partition fails, naming the files — unless the year is
    outside the coverage the school's YAML declares (``years``), the way to withdraw one."""
    school, dataset, year = p.pipeline.school.code, p.dataset, p.year
    if p.pipeline.datasets[dataset].covers(year) is False:
        return None
    previous = conn.execute(
        "SELECT source_file, sum(rows_read)::BIGINT FROM audit.loads WHERE is_current "
        "AND school_code = $school AND dataset = $dataset AND academic_year = $year "
        "GROUP BY ALL ORDER BY ALL",
        {"school": school, "dataset": dataset, "year": year},
    ).fetchall()
    gone = [(f, n) for f, n in previous if f not in present or f in p.emptied]
    if not gone:
        return None
    files = ", ".join(f"{f} ({n} rows)" for f, n in gone)
    return UnitReport(
        _new_load_id(),
        gone[0][0],
        None,
        status="failed",
        error=f"{school}: {dataset} {year}: no export holds rows of {year} any more; its "
        f"last loads came from {files}: those rows stay. What to do: restore the export (or "
        f"the year's rows in it); if the school withdrew {year}, leave it out of the "
        f"dataset's years in the school's YAML, and the next build removes its rows",
        year=year,
    )


def _write_loads(
    conn: duckdb.DuckDBPyConnection,
    school: str,
    dataset: str,
    reports: list[UnitReport],
    rows: pl.DataFrame | None,
    quarantine: pl.DataFrame,
    run_id: str | None,
    *,
    replace_files: list[str],
    year: int | None,
    present: set[str] | None = None,
) -> None:
    """Write one school-year's loads (``year`` None: the loads of no partition), replacing
    what they supersede in the same transaction.

    What a load replaces, within its school, dataset and year: the files in
    ``replace_files`` (loaded now, or read whole and holding none of the year's rows any
    more) and, for a partition, the files of that year gone from the landing zone (not in
    ``present``). Failed files keep their rows. The list of files is worked out first, so
    that each statement is a plain filter that DuckDB prunes by zone maps."""
    load_ids = pl.DataFrame(
        {
            UNIT: [r.source_file for r in reports],
            "load_id": [r.load_id for r in reports],
            "loaded_at": [r.started_at for r in reports],
        },
        schema={UNIT: pl.String, "load_id": pl.String, "loaded_at": pl.Datetime("us")},
    )
    loads = [
        Load(
            load_id=r.load_id,
            school_code=school,
            dataset=dataset,
            source_file=r.source_file,
            sha256=r.sha256,
            rows_read=r.rows_read,
            rows_loaded=r.rows_loaded,
            rows_quarantined=r.rows_quarantined,
            started_at=r.started_at,
            finished_at=r.finished_at,
            status=r.status,
            error=r.error,
            academic_year=r.year,
        )
        for r in reports
    ]
    q_all = (
        quarantine.join(load_ids.select(UNIT, "load_id"), on=UNIT, how="left").select(
            "load_id",
            pl.lit(school).alias("school_code"),
            pl.lit(dataset).alias("dataset"),
            pl.col(UNIT).alias("source_file"),
            "row_number",
            "column",
            "reason",
            "raw_record",
        )
        if quarantine.height
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
        if rows is not None and rows.height
        else None
    )
    known = conn.execute(
        "SELECT DISTINCT source_file FROM audit.loads WHERE school_code = $school "
        "AND dataset = $dataset AND academic_year IS NOT DISTINCT FROM $year",
        {"school": school, "dataset": dataset, "year": year},
    ).fetchall()
    gone = set() if present is None else {f for (f,) in known if f not in present}
    replaced = sorted(set(replace_files) | gone)
    try:
        if known:  # else nothing of this scope was ever loaded: nothing to replace
            _replace(conn, dataset, school, replaced, year)
        write_audit(conn, loads, q_all, run_id)
        # the incremental facts update these school-years (sql/macros/incremental.sql)
        if year is not None and (reports or replaced):
            conn.execute(
                "INSERT INTO build_state.changed_partitions VALUES ($dataset, $school, $year)",
                {"dataset": dataset, "school": school, "year": year},
            )
        if staged is not None:
            conn.register("_staged", staged.to_arrow())
            conn.execute(f"INSERT INTO staging.{dataset} BY NAME SELECT * FROM _staged")
    finally:
        for view in ("_staged",):
            with contextlib.suppress(Exception):  # views never registered
                conn.unregister(view)


def _replace(
    conn: duckdb.DuckDBPyConnection,
    dataset: str,
    school: str,
    replaced: list[str],
    year: int | None,
) -> None:
    """Delete what a school-year's load replaces: its files' staged and quarantined rows of
    that year, the quarantine of its earlier failed loads, and mark the replaced loads as no
    longer current."""
    params = {"school": school, "replaced": replaced, "year": year, "dataset": dataset}
    if year is not None and replaced:
        conn.execute(
            f"DELETE FROM staging.{dataset} WHERE school_code = $school "
            "AND academic_year = $year AND source_file IN (SELECT unnest($replaced))",
            {"school": school, "replaced": replaced, "year": year},
        )
    conn.execute(
        "DELETE FROM audit.quarantine WHERE dataset = $dataset AND school_code = $school "
        "AND load_id IN (SELECT load_id FROM audit.loads WHERE school_code = $school "
        "AND dataset = $dataset AND academic_year IS NOT DISTINCT FROM $year "
        "AND (status = 'failed' OR source_file IN (SELECT unnest($replaced))))",
        params,
    )
    if replaced:
        conn.execute(
            "UPDATE audit.loads SET is_current = false WHERE school_code = $school "
            "AND dataset = $dataset AND academic_year IS NOT DISTINCT FROM $year "
            "AND source_file IN (SELECT unnest($replaced))",
            params,
        )
