"""The imtetl benchmark: the pipeline against the cost of reading its data once.

    python benchmarks/run.py --rows N

On one landing zone of N enrolment rows (tuition and mobility scale with it), written by
``imtetl sample`` in every school's own format and cached by seed and size, it measures:

(a) floor      DuckDB reading every export once into tables of a database file
               (read_csv / read_xlsx / read_json with each school's options; no validation,
               no transforms), in a fresh process;
(a') best floor for each format the faster of two readers doing (a): DuckDB's own, and
               Polars (fastexcel for workbooks, every column as text) handed to DuckDB as
               Arrow; timed per format inside each process, plus the smaller process overhead;
(b) build      a full ``imtetl build`` (Dagster run, validation, models, publish) from scratch;
(c) partition  ``imtetl build --school S --year Y`` of the largest school-year, after (b);
(d) import     ``python -c "import dagster, polars, duckdb, great_expectations"`` (best of 3);
(e) sample     a full build of the bundled sample (scale 1), for ``sample/import``.

Each figure is the wall time of a fresh process, started with the exports in the page cache
(all read once just before); peak RSS is that of the whole process tree (sampled from /proc
every 20 ms). The last line is

    ratio build/floor=X.XX build/best_floor=B.BB partition/build=Y.YY sample/import=Z.ZZ
        peak_rss_mb=M   (one line)

where peak_rss_mb is the largest of (b) and (c). Figures are printed, never asserted.

    python benchmarks/run.py --rows N --backend ducklake --writers 1,2

also builds, on the same landing zone and after (b) and (c), a DuckLake (imtetl's DuckLake
backend: IMTETL_CATALOG, IMTETL_DATA_PATH) for each writer count (IMTETL_WRITERS: step
processes at once), each on a fresh PostgreSQL database of the server IMTETL_TEST_POSTGRES_URL
(or --catalog-url) names and a fresh data path, and its partition run; prints per build the
slowest steps, the staging steps' concurrency and the commit lock's occupancy (sampled from
pg_locks), the lake's snapshots and Parquet files; then compacts the last lake
(ducklake_merge_adjacent_files, ducklake_cleanup_old_files), runs the partition again, and
times a bare commit. The builds are tabled side by side, a line

    ducklake build writers=1 Xs writers=2 Ys file Zs

compares them, and the last line gains ``lake1/file=… lake2/file=…`` (build times).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache"
#: Enrolment rows the sample generator writes at scale 1 (seed-independent to within a few).
ENROLMENT_ROWS_AT_SCALE_1 = 71_817
DEFAULT_SEED = 20260901
BENCH_KEY = "benchmark-pseudonym-key-0123456789"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


# -- measuring a process tree -------------------------------------------------------------


def _processes() -> tuple[dict[int, list[int]], dict[int, int]]:
    """Every process's children, and the CPU time (user + system, clock ticks) of each."""
    tree: dict[int, list[int]] = {}
    cpu: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
        cpu[int(entry.name)] = int(fields[11]) + int(fields[12])
    return tree, cpu


def _tree_sample(pid: int) -> tuple[int, int, dict[int, int]]:
    """The RSS of ``pid``'s whole process tree, of its largest process, and the CPU ticks
    of each process in it."""
    (tree, cpu), total, largest, todo, ticks = _processes(), 0, 0, [pid], {}
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/statm", "rb") as handle:
                rss = int(handle.read().split()[1]) * PAGE
        except OSError:
            rss = 0
        total, largest = total + rss, max(largest, rss)
        if current in cpu:
            ticks[current] = cpu[current]
        todo.extend(tree.get(current, ()))
    return total, largest, ticks


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str
    #: the largest single process of the tree (forked step processes share the pages of the
    #: server they were forked from, which the tree's sum counts once per process)
    peak_process_mb: float = 0.0
    #: CPU time of the whole tree (each process's last sample: ≤ 20 ms of it may be missed)
    cpu_s: float = 0.0


def measure(args: list[str], env: dict[str, str] | None = None, check: bool = True) -> Measured:
    """Run a command; its wall time, the peak RSS of its whole process tree (and of its
    largest process) and the tree's CPU time."""
    started = time.perf_counter()
    process = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = largest = 0
    ticks: dict[int, int] = {}
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, largest
        while not done.is_set():
            total, biggest, seen = _tree_sample(process.pid)
            peak, largest = max(peak, total), max(largest, biggest)
            for pid, value in seen.items():
                ticks[pid] = max(ticks.get(pid, 0), value)
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    if check and process.returncode != 0:
        tail = "\n".join(stdout.splitlines()[-40:])
        sys.exit(
            f"benchmark: {' '.join(args[:4])}… failed ({process.returncode}):\n{stderr}\n{tail}"
        )
    return Measured(
        elapsed, peak / 2**20, stdout, stderr, largest / 2**20, sum(ticks.values()) / TICKS
    )


# -- the landing zone ---------------------------------------------------------------------


def _generator_version() -> str:
    """A digest of the sample generator's code (imtetl.sample.generator_version): a landing
    zone written by another version of it (before a dataset was added, say) is never reused."""
    from imtetl.sample import generator_version

    return generator_version()


def landing_zone(rows: int, seed: int) -> tuple[Path, dict]:
    """The cached landing zone of ``rows`` enrolment rows, generated on first use."""
    folder = CACHE / f"landing-seed{seed}-rows{rows}-{_generator_version()}"
    manifest = folder / "manifest.json"
    if manifest.exists():
        return folder, json.loads(manifest.read_text())
    scale = rows / ENROLMENT_ROWS_AT_SCALE_1
    partial = CACHE / f".partial-{folder.name}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    code = (
        "import json, sys; from pathlib import Path; from imtetl.sample import write_sample; "
        f"s = write_sample(Path(sys.argv[1]), scale={scale!r}, seed={seed}); "
        "print(json.dumps({'files': len(s.files), "
        "'rows': {f'{k[0]}|{k[1]}': v for k, v in s.rows.items()}}))"
    )
    run = measure([sys.executable, "-c", code, str(partial)])
    info = json.loads(run.stdout.strip().splitlines()[-1])
    info.update(scale=scale, seed=seed, generate_s=round(run.seconds, 1))
    (partial / "manifest.json").write_text(json.dumps(info, indent=1))
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder, info


# -- (a) the floor ------------------------------------------------------------------------

FLOOR_SCRIPT = r"""
import json, sys, time, duckdb
plan = json.loads(open(sys.argv[1]).read())
conn = duckdb.connect(sys.argv[2])
conn.execute("SET enable_progress_bar = false")
for path in plan["extensions"]:
    conn.execute(f"LOAD '{path}'")
times, rows = {}, 0
for i, read in enumerate(plan["reads"]):
    started = time.perf_counter()
    conn.execute(f"CREATE TABLE t{i} AS {read['sql']}")
    rows += conn.execute(f"SELECT count(*) FROM t{i}").fetchone()[0]
    times[read["kind"]] = times.get(read["kind"], 0.0) + time.perf_counter() - started
conn.close()
print(json.dumps({"rows": rows, "by_kind": times}))
"""

#: The same reads by Polars (fastexcel for workbooks), every column as text, handed to DuckDB
#: as Arrow: the other reader of the best floor.
POLARS_FLOOR_SCRIPT = r"""
import json, sys, time, duckdb, fastexcel, polars as pl
plan = json.loads(open(sys.argv[1]).read())
conn = duckdb.connect(sys.argv[2])
conn.execute("SET enable_progress_bar = false")
times, rows = {}, 0
for i, read in enumerate(plan["reads"]):
    started = time.perf_counter()
    options = read["polars"]
    if read["kind"] == "csv":
        with open(read["paths"][0], "rb") as handle:
            data = handle.read()
        if options["encoding"] != "utf-8":  # Polars reads UTF-8 only
            data = data.decode(options["encoding"]).encode()
        arrow = pl.read_csv(
            data, separator=options["separator"], quote_char=options["quote"] or None,
            infer_schema=False,
        ).to_arrow()
    elif read["kind"] == "xlsx":
        arrow = fastexcel.read_excel(read["paths"][0]).load_sheet_by_name(
            options["sheet"], header_row=options["header_row"] - 1, dtypes="string"
        ).to_arrow()
    else:
        records = []
        for path in read["paths"]:
            with open(path, "rb") as handle:
                records.extend(json.loads(handle.read())[options["records_key"]])
        frame = pl.json_normalize(records, infer_schema_length=None)
        arrow = frame.select(pl.all().cast(pl.String)).to_arrow()
    conn.execute(f"CREATE TABLE t{i} AS SELECT * FROM arrow")
    rows += arrow.num_rows
    times[read["kind"]] = times.get(read["kind"], 0.0) + time.perf_counter() - started
conn.close()
print(json.dumps({"rows": rows, "by_kind": times}))
"""

#: DuckDB's names for the encodings the school YAMLs use (windows-1252: encodings extension).
DUCKDB_ENCODING = {
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8",
    "cp1252": "windows-1252-2000",
    "windows-1252": "windows-1252-2000",
    "latin-1": "latin-1",
    "iso-8859-1": "latin-1",
    "utf-16": "utf-16",
}


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _extension(name: str) -> str:
    from importlib import import_module

    package = import_module(f"duckdb_extension_{name}")
    (found,) = Path(package.__file__).parent.rglob(f"{name}.duckdb_extension")
    return str(found)


def floor_plan(landing: Path) -> dict:
    """One read per export (per sheet for workbooks, per folder of pages for the API)."""
    from imtetl.pipeline_config import load_pipelines
    from imtetl.read import discover_units

    reads: dict[tuple, dict] = {}
    for pipeline in load_pipelines(ROOT / "pipelines").values():
        for dataset in pipeline.datasets:
            fmt = pipeline.format_for(dataset)
            for unit in discover_units(pipeline, dataset, landing):
                paths = [_sql_str(str(p)) for p in unit.paths]
                if fmt.kind == "csv":
                    key = (paths[0],)
                    options = [
                        f"delim={_sql_str(fmt.separator)}",
                        f"quote={_sql_str(fmt.quote_char or '')}",
                        f"encoding={_sql_str(DUCKDB_ENCODING[fmt.encoding.lower()])}",
                        "header=true, all_varchar=true",
                    ]
                    sql = f"SELECT * FROM read_csv({paths[0]}, {', '.join(options)})"
                    polars = {
                        "separator": fmt.separator,
                        "quote": fmt.quote_char or "",
                        "encoding": "utf-8"
                        if fmt.encoding.lower() in ("utf-8", "utf8")
                        else fmt.encoding,
                    }
                elif fmt.kind == "xlsx":
                    key = (paths[0], fmt.sheet)
                    options = [
                        f"sheet={_sql_str(fmt.sheet)}",
                        f"range='A{fmt.header_row}:ZZ1048576'",
                        "header=true, all_varchar=true, stop_at_empty=true",
                    ]
                    sql = f"SELECT * FROM read_xlsx({paths[0]}, {', '.join(options)})"
                    polars = {"sheet": fmt.sheet, "header_row": fmt.header_row}
                else:
                    key = tuple(paths)
                    sql = (
                        f"SELECT unnest({fmt.records_key}, recursive := true) FROM "
                        f"read_json([{', '.join(paths)}], maximum_object_size=1073741824)"
                    )
                    polars = {"records_key": fmt.records_key}
                # a file shared by two schools is read once
                reads[key] = {
                    "kind": fmt.kind if fmt.kind in ("csv", "xlsx") else "json",
                    "sql": sql,
                    "paths": [str(p) for p in unit.paths],
                    "polars": polars,
                }
    extensions = [_extension("excel"), _extension("encodings")]
    return {"extensions": extensions, "reads": list(reads.values())}


def warm(landing: Path) -> None:
    """Read every export once, so that each measured process finds them in the page cache
    (the first process to run would otherwise pay the disk for the others)."""
    for path in sorted(landing.rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                while handle.read(1 << 24):
                    pass


@dataclass
class Floor:
    """One reader's floor: the process (wall time, peak RSS) and its time per format."""

    run: Measured
    rows: int
    by_kind: dict[str, float]

    @property
    def overhead(self) -> float:
        """What the process spent outside the reads (start-up, imports, closing)."""
        return self.run.seconds - sum(self.by_kind.values())


def measure_floor(landing: Path, work: Path, script: str = FLOOR_SCRIPT) -> tuple[Floor, int]:
    plan = floor_plan(landing)
    plan_file = work / "floor_plan.json"
    plan_file.write_text(json.dumps(plan))
    database = work / "floor.duckdb"
    database.unlink(missing_ok=True)
    warm(landing)
    run = measure([sys.executable, "-c", script, str(plan_file), str(database)])
    database.unlink(missing_ok=True)
    out = json.loads(run.stdout.strip().splitlines()[-1])
    return Floor(run, out["rows"], out["by_kind"]), len(plan["reads"])


def best_floor(floors: dict[str, Floor]) -> tuple[float, str]:
    """The best floor: for each format the faster reader's time, plus the smaller process
    overhead; and how each format was decided."""
    kinds = sorted({kind for floor in floors.values() for kind in floor.by_kind})
    total = min(floor.overhead for floor in floors.values())
    parts = []
    for kind in kinds:
        times = {name: floor.by_kind.get(kind, float("inf")) for name, floor in floors.items()}
        winner = min(times, key=times.get)
        total += times[winner]
        rest = ", ".join(f"{name} {t:.2f}s" for name, t in times.items() if name != winner)
        parts.append(f"{kind}: {winner} {times[winner]:.2f}s vs {rest}")
    return total, "; ".join(parts)


# -- (b), (c), (e) imtetl builds ----------------------------------------------------------


def project_env(landing: Path, work: Path) -> dict[str, str]:
    """An isolated project: its own warehouse and Dagster instance (configured as the
    project's dagster.yaml, storage under the work folder), the repo's pipelines."""
    dagster_home = work / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = (ROOT / "dagster.yaml").read_text(encoding="utf-8")
    config = config.replace("base_dir: .dagster", f"base_dir: {dagster_home}")
    (dagster_home / "dagster.yaml").write_text(config, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMTETL_", "DAGSTER_"))}
    env.update(
        IMTETL_HOME=str(ROOT),
        IMTETL_LANDING=str(landing),
        IMTETL_WAREHOUSE=str(work / "warehouse" / "imt.duckdb"),
        IMTETL_PSEUDONYM_KEY=BENCH_KEY,
        DAGSTER_HOME=str(dagster_home),
        PYTHONWARNINGS="ignore",
    )
    return env


def imtetl(env: dict[str, str], *args: str) -> Measured:
    warm(Path(env["IMTETL_LANDING"]))
    return measure([sys.executable, "-m", "imtetl.cli", "build", *args], env=env)


def partition_run(env: dict[str, str], school: str, year: int, label: str = "") -> Measured:
    """`imtetl build --school S --year Y` on a built warehouse, printed with its slowest steps."""
    part = imtetl(env, "--school", school, "--year", str(year))
    print(
        f"{label}partition: {part.seconds:.2f}s ({school} {year}, "
        f"peak_rss_mb={part.peak_rss_mb:.0f})",
        flush=True,
    )
    print(f"  slowest steps: {step_times(env)}", flush=True)
    return part


def fresh(work: Path) -> Path:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work


STEP_SPANS = r"""
import json
from dagster import DagsterInstance, DagsterEventType
inst = DagsterInstance.get()
run = inst.get_runs(limit=1)[0]
starts, spans = {}, {}
for e in inst.all_logs(run.run_id):
    ev = e.dagster_event
    if ev is None: continue
    if ev.event_type == DagsterEventType.STEP_START: starts[ev.step_key] = e.timestamp
    elif ev.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
        spans[ev.step_key] = (starts.get(ev.step_key, e.timestamp), e.timestamp)
print(json.dumps(spans))
"""


def step_spans(env: dict[str, str]) -> dict[str, tuple[float, float]] | str:
    """Each step of the last run in the benchmark's Dagster instance: (start, end), epoch
    seconds from the run's event log; or the error that prevented reading them."""
    result = subprocess.run(
        [sys.executable, "-c", STEP_SPANS], env=env, capture_output=True, text=True
    )
    try:
        return {k: (a, b) for k, (a, b) in json.loads(result.stdout).items()}
    except ValueError:
        return (result.stderr.strip().splitlines() or ["no steps"])[-1]


def slowest(spans: dict[str, tuple[float, float]] | str, limit: int = 6) -> str:
    if isinstance(spans, str):
        return spans
    top = sorted(spans.items(), key=lambda kv: -(kv[1][1] - kv[1][0]))[:limit]
    return ", ".join(f"{k} {b - a:.1f}s" for k, (a, b) in top)


def step_times(env: dict[str, str], limit: int = 6) -> str:
    """The slowest steps of the last run in the benchmark's Dagster instance."""
    return slowest(step_spans(env), limit)


def dbt_figures(env: dict[str, str], total: float) -> str:
    """dbt's share of the last run: its step (the sql_models asset: plan, dbt build in this
    process, bookkeeping), dbt's own invocation, and its fixed cost (call to first node)."""
    code = r"""
from dagster import DagsterInstance, DagsterEventType, AssetKey
inst = DagsterInstance.get()
run = inst.get_runs(limit=1)[0]
start = end = None
meta = {}
for e in inst.all_logs(run.run_id):
    ev = e.dagster_event
    if ev is None or ev.step_key != "sql_models": continue
    if ev.event_type == DagsterEventType.STEP_START: start = e.timestamp
    elif ev.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
        end = e.timestamp
    elif ev.event_type == DagsterEventType.ASSET_MATERIALIZATION and not meta:
        md = ev.event_specific_data.materialization.metadata
        meta = {k: md[k].value for k in ("dbt_seconds", "dbt_startup_seconds") if k in md}
print((end or 0) - (start or 0), meta.get("dbt_seconds", 0), meta.get("dbt_startup_seconds", 0))
"""
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    try:
        step, invoke, startup = (float(x) for x in result.stdout.split())
    except ValueError:
        return result.stderr.strip().splitlines()[-1:][0] if result.stderr else "n/a"
    return (
        f"dbt step {step:.2f}s = {100 * step / total:.0f}% of {total:.2f}s "
        f"(dbt build {invoke:.2f}s, fixed cost to the first model {startup:.2f}s)"
    )


def dbt_subprocess_floor(env: dict[str, str]) -> Measured:
    """What running dbt as a subprocess (dagster-dbt's DbtCliResource) costs before any model:
    `dbt build` selecting nothing, with the prepared manifest and partial parsing."""
    sql = ROOT / "sql"
    dbt = Path(sys.executable).with_name("dbt")
    build_db = str(Path(env["IMTETL_WAREHOUSE"]).parent / ".build" / "build.duckdb")
    return measure(
        [str(dbt), "build", "--project-dir", str(sql), "--profiles-dir", str(sql),
         "--select", "nothing_at_all", "--quiet"],
        env={**env, "IMTETL_BUILD_DB": build_db},
        check=False,
    )  # fmt: skip


def largest_partition(info: dict, landing: Path) -> tuple[str, int]:
    """The school-year with the most enrolment rows (by its share of the school's files)."""
    from imtetl.pipeline_config import load_pipelines
    from imtetl.read import discover_units

    best: tuple[int, str, int] = (-1, "", 0)
    for code, pipeline in load_pipelines(ROOT / "pipelines").items():
        units = discover_units(pipeline, "enrolment", landing)
        sizes: dict[int, int] = {}
        for unit in units:
            if unit.year is not None:
                sizes[unit.year] = sizes.get(unit.year, 0) + sum(
                    p.stat().st_size for p in unit.paths
                )
        for year, size in sizes.items():
            best = max(best, (size, code, year))
    return best[1], best[2]


def import_floor(runs: int, code: str = "import dagster, polars, duckdb, great_expectations"):
    """The best of ``runs`` fresh processes importing what ``code`` imports."""
    return min(
        (measure([sys.executable, "-c", code]) for _ in range(runs)), key=lambda m: m.seconds
    )


# -- the DuckLake backend -----------------------------------------------------------------

#: What the benchmark asks of a lake, in a process of the lake's project environment (the
#: lake attached by imtetl.load.lake.connect, alias ``lake``): set options, compact, time the
#: cost of a commit; then its figures (snapshots, files in the catalog and in the data path).
LAKE_SCRIPT = r"""
import json, statistics, sys, time
from pathlib import Path
from imtetl.load import lake
from imtetl.settings import Settings

mode, args = sys.argv[1], sys.argv[2:]
settings = Settings.from_env()
started = time.perf_counter()
conn = lake.connect(settings)
out = {"attach_s": time.perf_counter() - started}
L, meta = lake.ALIAS, f"__ducklake_metadata_{lake.ALIAS}"


def rows(sql, params=None):
    cursor = conn.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


if mode == "options":
    for item in args:
        name, _, value = item.partition("=")
        conn.execute(f"CALL {L}.set_option(?, ?)", [name, value])
    out["options"] = {r["option_name"]: r["value"] for r in rows(
        f"SELECT option_name, value FROM {L}.options() WHERE option_name = ANY(?)",
        [[a.partition("=")[0] for a in args]])}
elif mode == "compact":
    t = time.perf_counter()
    merged = rows(f"CALL ducklake_merge_adjacent_files('{L}')")
    out["merge_s"] = time.perf_counter() - t
    out["merged_from"] = sum(int(r.get("files_processed") or 0) for r in merged)
    out["merged_into"] = sum(int(r.get("files_created") or 0) for r in merged)
    out["merged_tables"] = [
        f"{r.get('schema_name')}.{r.get('table_name')} {r.get('files_processed')}"
        f"→{r.get('files_created')}" for r in merged
    ]
    t = time.perf_counter()
    cleaned = rows(f"CALL ducklake_cleanup_old_files('{L}', cleanup_all => true)")
    out["cleanup_s"], out["cleaned"] = time.perf_counter() - t, len(cleaned)
elif mode == "commits":
    # what a staging partition's commit costs beyond its own rows: the commit lock (a
    # PostgreSQL session of its own), a transaction, a small Parquet file, the catalog commit
    n = int(args[0])
    conn.execute("CREATE SCHEMA bench_scratch")
    conn.execute("CREATE TABLE bench_scratch.t (i BIGINT)")
    locks, commits = [], []
    for _ in range(n):
        t = time.perf_counter()
        with lake.advisory_lock(settings, lake.COMMIT_LOCK):
            locks.append(time.perf_counter() - t)
            conn.execute("BEGIN TRANSACTION")
            conn.execute("INSERT INTO bench_scratch.t SELECT range FROM range(1000)")
            conn.execute("COMMIT")
        commits.append(time.perf_counter() - t)
    conn.execute("DROP SCHEMA bench_scratch CASCADE")
    out["lock_ms"] = 1000 * statistics.median(locks)
    out["commit_ms"] = 1000 * statistics.median(commits)

out["snapshots"] = conn.execute(f"SELECT count(*) FROM {L}.snapshots()").fetchone()[0]
live = conn.execute(
    f"SELECT count(*), coalesce(median(f.file_size_bytes), 0) "
    f"FROM {meta}.ducklake_data_file f JOIN {meta}.ducklake_table t USING (table_id) "
    "WHERE f.end_snapshot IS NULL AND t.end_snapshot IS NULL"
).fetchone()
out["live_files"], out["live_median"] = int(live[0]), float(live[1])
out["delete_files"] = conn.execute(
    f"SELECT count(*) FROM {meta}.ducklake_delete_file WHERE end_snapshot IS NULL"
).fetchone()[0]
out["tables"] = [
    (r["schema_name"] + "." + r["table_name"], int(r["file_count"]), int(r["file_size_bytes"]))
    for r in rows(
        f"SELECT s.schema_name, i.table_name, i.file_count, i.file_size_bytes "
        f"FROM ducklake_table_info('{L}') i JOIN {meta}.ducklake_schema s "
        "ON s.schema_id = i.schema_id AND s.end_snapshot IS NULL "
        "ORDER BY i.file_count DESC, i.file_size_bytes DESC LIMIT 5"
    )
]
sizes = sorted(p.stat().st_size for p in Path(settings.data_path).rglob("*.parquet"))
out["files"], out["bytes"] = len(sizes), sum(sizes)
out["median"] = statistics.median(sizes) if sizes else 0
conn.close()
print(json.dumps(out))
"""


def lake_script(env: dict[str, str], mode: str, *args: str) -> dict:
    run = measure([sys.executable, "-c", LAKE_SCRIPT, mode, *args], env=env)
    return json.loads(run.stdout.strip().splitlines()[-1])


def _size(n: float) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def _files(stats: dict) -> str:
    return (
        f"{stats['files']} Parquet files in the data path ({_size(stats['bytes'])}, median "
        f"{_size(stats['median'])}), {stats['live_files']} in the current snapshot (median "
        f"{_size(stats['live_median'])}), {stats['delete_files']} delete files"
    )


def catalog_admin_url(option: str | None) -> str:
    """The PostgreSQL server for the lakes' catalogs: a role that may create databases."""
    url = option or os.environ.get("IMTETL_TEST_POSTGRES_URL", "").strip()
    if not url:
        sys.exit(
            "benchmark: --backend ducklake needs a PostgreSQL server for the lake's catalog, "
            'and none is given: set IMTETL_TEST_POSTGRES_URL (`eval "$(.ci/postgres.sh)"` '
            "starts Debian's PostgreSQL on 127.0.0.1 and prints it) or pass --catalog-url "
            "postgresql://user:password@host:port/postgres (a role that may create databases; "
            "each lake gets a database of its own, dropped afterwards)"
        )
    try:
        import duckdb_extension_ducklake  # noqa: F401
        import psycopg2
    except ImportError as exc:
        sys.exit(f"benchmark: --backend ducklake needs the ducklake extra ({exc.name})")
    try:
        psycopg2.connect(url, connect_timeout=10).close()
    except psycopg2.Error as exc:
        sys.exit(f"benchmark: the catalog's PostgreSQL ({_label(url)}) is unreachable: {exc}")
    return url


def _label(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.username or ''}@{parts.hostname}:{parts.port or 5432}"


def _cpu_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


class Catalogs:
    """A fresh PostgreSQL database for each lake's catalog, dropped afterwards."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url

    def _admin(self):
        import psycopg2

        conn = psycopg2.connect(self.admin_url)
        conn.autocommit = True
        return conn

    def create(self) -> tuple[str, str]:
        name = f"imtetl_bench_{uuid.uuid4().hex[:10]}"
        with closing(self._admin()) as conn, conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name}")
        return name, urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{name}"))

    def drop(self, name: str) -> None:
        with closing(self._admin()) as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class LockSampler:
    """Polls the catalog's pg_locks every 50 ms during a build: whether a staging writer
    holds the lake's commit lock (imtetl.load.lake.COMMIT_LOCK), and whether another waits
    for it (epoch timestamps, to compare with the run's event log); and, when the server is
    on this machine, the CPU time of the PostgreSQL backends serving the catalog's database
    (each backend's last sample: sessions shorter than 50 ms, e.g. a lock's, are missed)."""

    def __init__(self, url: str):
        from imtetl.load.lake import COMMIT_LOCK, lock_key

        self.url, self.key = url, lock_key(COMMIT_LOCK) & (2**64 - 1)
        self.samples: list[tuple[float, bool, bool]] = []
        self.backend_ticks: dict[int, int] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LockSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        import psycopg2

        conn = psycopg2.connect(self.url)
        conn.autocommit = True
        sql = (
            "SELECT (classid::bigint << 32) | objid::bigint, granted FROM pg_locks "
            "WHERE locktype = 'advisory' AND objsubid = 1 AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        backends = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        with closing(conn), conn.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (own,) = cursor.fetchone()
            while not self._done.is_set():
                cursor.execute(sql)
                mine = [granted for key, granted in cursor.fetchall() if key == self.key]
                self.samples.append((time.time(), any(mine), not all(mine)))
                cursor.execute(backends)
                for (pid,) in cursor.fetchall():
                    if pid != own and (ticks := _cpu_ticks(pid)) is not None:
                        self.backend_ticks[pid] = max(self.backend_ticks.get(pid, 0), ticks)
                self._done.wait(0.05)

    @property
    def backend_cpu_s(self) -> float:
        return sum(self.backend_ticks.values()) / TICKS

    def shares(self, start: float, end: float) -> tuple[float, float, int]:
        """Share of the samples in [start, end] with the lock held, with a writer waiting."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if not inside:
            return 0.0, 0.0, 0
        held = sum(1 for s in inside if s[1]) / len(inside)
        waiting = sum(1 for s in inside if s[2]) / len(inside)
        return held, waiting, len(inside)


@dataclass
class LakeBuild:
    writers: int
    build: Measured
    partition: Measured
    stats: dict


def staging_figures(spans: dict[str, tuple[float, float]] | str, locks: LockSampler) -> str:
    """The staging steps that commit partition by partition (one per dataset): their window,
    how many ran at once on average, and the commit lock's share of the window."""
    if isinstance(spans, str):
        return spans
    from imtetl.pipeline_config import DATASETS

    staging = [spans[f"staging__{d}"] for d in DATASETS if f"staging__{d}" in spans]
    if not staging:
        return "no staging steps"
    start, end = min(a for a, _ in staging), max(b for _, b in staging)
    window = max(end - start, 1e-9)
    busy = sum(b - a for a, b in staging)
    held, waiting, n = locks.shares(start, end)
    run = max(b for _, b in spans.values()) - min(a for a, _ in spans.values())
    return (
        f"staging window {window:.1f}s ({len(staging)} steps, {busy:.1f}s of steps: "
        f"{busy / window:.2f} at once on average); commit lock held {100 * held:.0f}% of "
        f"the window, a writer waiting for it {100 * waiting:.0f}% ({n} samples); run "
        f"{run:.1f}s from first step start to last step end; the catalog's PostgreSQL "
        f"backends: CPU {locks.backend_cpu_s:.1f}s"
    )


def lake_build(
    landing: Path,
    rows: int,
    writers: int,
    catalogs: Catalogs,
    partition: tuple[str, int],
    *,
    options: list[str],
    compact: bool,
    keep: bool,
) -> LakeBuild:
    """A DuckLake build from scratch with ``writers`` concurrent step processes, on a
    fresh catalog database and data path; its partition run; and, if ``compact``, the
    lake's compaction and a partition run after it."""
    database, url = catalogs.create()
    try:
        work = fresh(CACHE / f"work-rows{rows}-lake{writers}")
        env = project_env(landing, work)
        env.update(
            IMTETL_CATALOG=url,
            IMTETL_DATA_PATH=str(work / "lake-data"),
            IMTETL_WRITERS=str(writers),
        )
        name = f"lake writers={writers}"
        if options:
            set_ = lake_script(env, "options", *options)["options"]
            print(f"{name}: options {', '.join(f'{k}={v}' for k, v in set_.items())}", flush=True)
        with LockSampler(url) as locks:
            build = imtetl(env)
        print(
            f"{name} build: {build.seconds:.2f}s (peak_rss_mb={build.peak_rss_mb:.0f}, "
            f"largest process {build.peak_process_mb:.0f} MB, CPU {build.cpu_s:.0f}s = "
            f"{build.cpu_s / build.seconds:.2f} cores)",
            flush=True,
        )
        spans = step_spans(env)
        print(f"  slowest steps: {slowest(spans)}", flush=True)
        print(f"  {staging_figures(spans, locks)}", flush=True)
        stats = lake_script(env, "stats")
        print(
            f"  {stats['snapshots']} snapshots; {_files(stats)}; attach {stats['attach_s']:.2f}s",
            flush=True,
        )
        print(
            "  most files: " + ", ".join(f"{t} {n} ({_size(b)})" for t, n, b in stats["tables"]),
            flush=True,
        )
        school, year = partition
        part = partition_run(env, school, year, label=f"{name} ")
        if compact:
            before = lake_script(env, "stats")
            done = lake_script(env, "compact")
            after = lake_script(env, "stats")
            part_after = imtetl(env, "--school", school, "--year", str(year))
            tables = ", ".join(done["merged_tables"])
            print(
                f"compaction ({name}): ducklake_merge_adjacent_files {done['merge_s']:.2f}s, "
                f"{done['merged_from']} files merged into {done['merged_into']}"
                f"{f' ({tables})' if tables else ''}; "
                f"ducklake_cleanup_old_files {done['cleanup_s']:.2f}s, {done['cleaned']} "
                f"files removed",
                flush=True,
            )
            print(f"  before: {before['snapshots']} snapshots; {_files(before)}", flush=True)
            print(f"  after:  {after['snapshots']} snapshots; {_files(after)}", flush=True)
            same = " (nothing was merged: the difference is run-to-run)" * (
                done["merged_from"] == 0
            )
            print(
                f"  partition {part.seconds:.2f}s before compaction, {part_after.seconds:.2f}s "
                f"after (peak_rss_mb={part_after.peak_rss_mb:.0f}){same}",
                flush=True,
            )
            print(f"  slowest steps after: {step_times(env)}", flush=True)
            commits = lake_script(env, "commits", "30")
            print(
                f"commit cost ({name}): a commit of 1,000 rows under the commit lock "
                f"{commits['commit_ms']:.0f} ms (median of 30; taking the lock "
                f"{commits['lock_ms']:.0f} ms of it)",
                flush=True,
            )
        return LakeBuild(writers, build, part, stats)
    finally:
        if keep:
            print(
                f"  kept the catalog database {database} and {CACHE}/work-rows{rows}-lake{writers}"
            )
        else:
            catalogs.drop(database)
            shutil.rmtree(CACHE / f"work-rows{rows}-lake{writers}", ignore_errors=True)


def print_lake_table(build: Measured, partition: Measured, lakes: list[LakeBuild]) -> None:
    """The builds side by side, and one line of each figure."""
    print(
        "builds (same landing zone; peak_rss_mb and largest_mb: the larger of build and "
        "partition; cpu, cores: the build's CPU time and its average cores):",
        flush=True,
    )
    print(
        f"  {'':14} {'build':>9} {'partition':>10} {'peak_rss_mb':>12} {'largest_mb':>11} "
        f"{'cpu':>7} {'cores':>6} {'snapshots':>10} {'files':>6} {'median_file':>12}"
    )
    rows = [("duckdb file", build, partition, None)] + [
        (f"lake {b.writers} writer{'s' if b.writers > 1 else ''}", b.build, b.partition, b.stats)
        for b in lakes
    ]
    for label, full, part, stats in rows:
        lake = (
            f"{stats['snapshots']:>10} {stats['files']:>6} {_size(stats['median']):>12}"
            if stats
            else f"{'-':>10} {'-':>6} {'-':>12}"
        )
        print(
            f"  {label:14} {full.seconds:>8.2f}s {part.seconds:>9.2f}s "
            f"{max(full.peak_rss_mb, part.peak_rss_mb):>12.0f} "
            f"{max(full.peak_process_mb, part.peak_process_mb):>11.0f} "
            f"{full.cpu_s:>6.0f}s {full.cpu_s / full.seconds:>6.2f} {lake}",
            flush=True,
        )
    for figure, pick in (("build", lambda b: b.build), ("partition", lambda b: b.partition)):
        base = build if figure == "build" else partition
        print(
            f"ducklake {figure} "
            + " ".join(f"writers={b.writers} {pick(b).seconds:.2f}s" for b in lakes)
            + f" file {base.seconds:.2f}s",
            flush=True,
        )


def writers_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"--writers takes whole numbers ≥ 1: N[,M...], not {text!r}"
        )
    return list(dict.fromkeys(values))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True, help="enrolment rows (N)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--import-runs", type=int, default=3, help="best of K import timings")
    parser.add_argument(
        "--no-sample-build",
        action="store_true",
        help="skip (e), the bundled-sample build (sample/import is then printed as n/a)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the built warehouses")
    parser.add_argument(
        "--backend",
        choices=("duckdb_file", "ducklake"),
        default="duckdb_file",
        help="ducklake: also build DuckLakes (catalog in PostgreSQL) with --writers concurrent "
        "writers, on the same landing zone, and compare them with the DuckDB file",
    )
    parser.add_argument(
        "--writers",
        type=writers_list,
        default=None,
        metavar="N[,M...]",
        help="with --backend ducklake: one lake build per count of concurrent step processes "
        "(IMTETL_WRITERS; default 1,2)",
    )
    parser.add_argument(
        "--catalog-url",
        default=None,
        help="with --backend ducklake: the PostgreSQL server of the lakes' catalogs, a role "
        "that may create databases (default: IMTETL_TEST_POSTGRES_URL)",
    )
    parser.add_argument(
        "--lake-option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="with --backend ducklake: a DuckLake option (CALL lake.set_option) set on each "
        "lake before its build, e.g. target_file_size=64MB; repeatable",
    )
    parser.add_argument(
        "--no-compaction",
        action="store_true",
        help="with --backend ducklake: skip the compaction of the last lake",
    )
    args = parser.parse_args(argv)
    lake = args.backend == "ducklake"
    if not lake and (args.writers or args.catalog_url or args.lake_option):
        parser.error("--writers, --catalog-url and --lake-option need --backend ducklake")
    writers = args.writers or [1, 2]
    catalogs = Catalogs(catalog_admin_url(args.catalog_url)) if lake else None

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PHYS_PAGES') * PAGE / 2**30:.0f} GiB, Python "
        f"{platform.python_version()}",
        flush=True,
    )
    landing, info = landing_zone(args.rows, args.seed)
    enrolment = sum(v for k, v in info["rows"].items() if k.endswith("|enrolment"))
    total = sum(info["rows"].values())
    print(
        f"landing: {landing.name}: {info['files']} files, {enrolment:,} enrolment rows, "
        f"{total:,} rows in all (scale {info['scale']:.3f}, generated in {info['generate_s']}s)",
        flush=True,
    )
    work = CACHE / f"work-rows{args.rows}"

    duckdb_floor, reads = measure_floor(landing, fresh(work))
    floor = duckdb_floor.run
    print(
        f"floor: {floor.seconds:.2f}s ({reads} reads, {duckdb_floor.rows:,} rows into DuckDB "
        f"tables, peak_rss_mb={floor.peak_rss_mb:.0f})",
        flush=True,
    )
    polars_floor, _ = measure_floor(landing, work, POLARS_FLOOR_SCRIPT)
    best, decided = best_floor({"duckdb": duckdb_floor, "polars": polars_floor})
    print(
        f"best floor: {best:.2f}s ({decided}; Polars read {polars_floor.rows:,} rows in "
        f"{polars_floor.run.seconds:.2f}s, peak_rss_mb={polars_floor.run.peak_rss_mb:.0f})",
        flush=True,
    )
    if polars_floor.rows != duckdb_floor.rows:
        print(
            f"warning: the two floors read {duckdb_floor.rows:,} and {polars_floor.rows:,} rows",
            flush=True,
        )

    env = project_env(landing, work)
    build = imtetl(env)
    print(f"build: {build.seconds:.2f}s (peak_rss_mb={build.peak_rss_mb:.0f})", flush=True)
    print(f"  slowest steps: {step_times(env)}", flush=True)
    print(f"  {dbt_figures(env, build.seconds)}", flush=True)

    school, year = largest_partition(info, landing)
    partition = partition_run(env, school, year)
    print(f"  {dbt_figures(env, partition.seconds)}", flush=True)

    lakes: list[LakeBuild] = []
    if catalogs is not None:
        print(
            f"ducklake: catalogs on {_label(catalogs.admin_url)} (a database per lake), "
            f"writers {','.join(map(str, writers))}",
            flush=True,
        )
        for i, count in enumerate(writers):
            lakes.append(
                lake_build(
                    landing, args.rows, count, catalogs, (school, year),
                    options=args.lake_option,
                    compact=not args.no_compaction and i == len(writers) - 1,
                    keep=args.keep,
                )
            )  # fmt: skip

    imports = import_floor(args.import_runs)
    print(f"import: {imports.seconds:.2f}s (best of {args.import_runs})", flush=True)
    dbt_imports = import_floor(
        args.import_runs, "import dagster_dbt, dbt.cli.main, dbt.adapters.duckdb"
    )
    subprocess_floor = dbt_subprocess_floor(env)
    print(
        f"dbt fixed cost: import of dagster-dbt and dbt {dbt_imports.seconds:.2f}s (once per "
        f"process, best of {args.import_runs}); as a subprocess, `dbt build` of nothing "
        f"{subprocess_floor.seconds:.2f}s",
        flush=True,
    )

    sample_ratio = "n/a"
    if not args.no_sample_build:
        sample_landing, _ = landing_zone(ENROLMENT_ROWS_AT_SCALE_1, DEFAULT_SEED)
        sample_work = fresh(CACHE / "work-sample")
        sample_env = project_env(sample_landing, sample_work)
        sample = imtetl(sample_env)
        print(f"sample: {sample.seconds:.2f}s (bundled sample, scale 1)", flush=True)
        print(f"  {dbt_figures(sample_env, sample.seconds)}", flush=True)
        sample_ratio = f"{sample.seconds / imports.seconds:.2f}"
        if not args.keep:
            shutil.rmtree(sample_work, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)

    lake_ratios = ""
    if lakes:
        print_lake_table(build, partition, lakes)
        lake_ratios = "".join(
            f" lake{b.writers}/file={b.build.seconds / build.seconds:.2f}" for b in lakes
        )
    peak = max(build.peak_rss_mb, partition.peak_rss_mb)
    print(
        f"ratio build/floor={build.seconds / floor.seconds:.2f} "
        f"build/best_floor={build.seconds / best:.2f} "
        f"partition/build={partition.seconds / build.seconds:.2f} "
        f"sample/import={sample_ratio} peak_rss_mb={peak:.0f}{lake_ratios}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
