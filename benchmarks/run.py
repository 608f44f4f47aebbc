"""The imtetl benchmark: the pipeline against the cost of reading its data once.

    python benchmarks/run.py --rows N

On one landing zone of N enrolment rows (tuition and mobility scale with it), written by
``imtetl sample`` in every school's own format and cached by seed and size, it measures:

(a) floor      DuckDB reading every export once into tables of a database file
               (read_csv / read_xlsx / read_json with each school's options; no validation,
               no transforms), in a fresh process;
(b) build      a full ``imtetl build`` (Dagster run, validation, models, publish) from scratch;
(c) partition  ``imtetl build --school S --year Y`` of the largest school-year, after (b);
(d) import     ``python -c "import dagster, polars, duckdb, great_expectations"`` (best of 3);
(e) sample     a full build of the bundled sample (scale 1), for ``sample/import``.

Each figure is the wall time of a fresh process, started with the exports in the page cache
(all read once just before); peak RSS is that of the whole process tree (sampled from /proc
every 20 ms). The last line is

    ratio build/floor=X.XX partition/build=Y.YY sample/import=Z.ZZ peak_rss_mb=M

where peak_rss_mb is the largest of (b) and (c). Figures are printed, never asserted.
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
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache"
#: Enrolment rows the sample generator writes at scale 1 (seed-independent to within a few).
ENROLMENT_ROWS_AT_SCALE_1 = 71_817
DEFAULT_SEED = 20260901
BENCH_KEY = "benchmark-pseudonym-key-0123456789"
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- measuring a process tree -------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _tree_rss(pid: int) -> int:
    tree, total, todo = _children(), 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * PAGE
        except OSError:
            pass
        todo.extend(tree.get(current, ()))
    return total


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str


def measure(args: list[str], env: dict[str, str] | None = None, check: bool = True) -> Measured:
    """Run a command; its wall time and the peak RSS of its whole process tree."""
    started = time.perf_counter()
    process = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(process.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    if check and process.returncode != 0:
        sys.exit(f"benchmark: {' '.join(args[:4])}… failed ({process.returncode}):\n{stderr}")
    return Measured(elapsed, peak / 2**20, stdout, stderr)


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
import json, sys, duckdb
plan = json.loads(open(sys.argv[1]).read())
conn = duckdb.connect(sys.argv[2])
conn.execute("SET enable_progress_bar = false")
for path in plan["extensions"]:
    conn.execute(f"LOAD '{path}'")
for i, sql in enumerate(plan["reads"]):
    conn.execute(f"CREATE TABLE t{i} AS {sql}")
count = "SELECT count(*) FROM t{}"
rows = sum(conn.execute(count.format(i)).fetchone()[0] for i in range(len(plan["reads"])))
conn.close()
print(rows)
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

    reads: dict[tuple, str] = {}
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
                elif fmt.kind == "xlsx":
                    key = (paths[0], fmt.sheet)
                    options = [
                        f"sheet={_sql_str(fmt.sheet)}",
                        f"range='A{fmt.header_row}:ZZ1048576'",
                        "header=true, all_varchar=true, stop_at_empty=true",
                    ]
                    sql = f"SELECT * FROM read_xlsx({paths[0]}, {', '.join(options)})"
                else:
                    key = tuple(paths)
                    sql = (
                        f"SELECT unnest({fmt.records_key}, recursive := true) FROM "
                        f"read_json([{', '.join(paths)}], maximum_object_size=1073741824)"
                    )
                reads[key] = sql  # a file shared by two schools is read once
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


def measure_floor(landing: Path, work: Path) -> tuple[Measured, int, int]:
    plan = floor_plan(landing)
    plan_file = work / "floor_plan.json"
    plan_file.write_text(json.dumps(plan))
    database = work / "floor.duckdb"
    database.unlink(missing_ok=True)
    warm(landing)
    run = measure([sys.executable, "-c", FLOOR_SCRIPT, str(plan_file), str(database)])
    database.unlink(missing_ok=True)
    return run, len(plan["reads"]), int(run.stdout.strip())


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


def fresh(work: Path) -> Path:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work


def step_times(env: dict[str, str], limit: int = 6) -> str:
    """The slowest steps of the last run in the benchmark's Dagster instance."""
    code = r"""
import sys
from dagster import DagsterInstance, DagsterEventType, EventRecordsFilter
inst = DagsterInstance.get()
run = inst.get_runs(limit=1)[0]
starts, spans = {}, {}
for e in inst.all_logs(run.run_id):
    ev = e.dagster_event
    if ev is None: continue
    if ev.event_type == DagsterEventType.STEP_START: starts[ev.step_key] = e.timestamp
    elif ev.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
        spans[ev.step_key] = e.timestamp - starts.get(ev.step_key, e.timestamp)
top = sorted(spans.items(), key=lambda kv: -kv[1])[: int(sys.argv[1])]
print(", ".join(f"{k} {v:.1f}s" for k, v in top))
"""
    result = subprocess.run(
        [sys.executable, "-c", code, str(limit)], env=env, capture_output=True, text=True
    )
    return result.stdout.strip() or result.stderr.strip().splitlines()[-1:][0]


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
    args = parser.parse_args(argv)

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

    floor, reads, floor_rows = measure_floor(landing, fresh(work))
    print(
        f"floor: {floor.seconds:.2f}s ({reads} reads, {floor_rows:,} rows into DuckDB tables, "
        f"peak_rss_mb={floor.peak_rss_mb:.0f})",
        flush=True,
    )

    env = project_env(landing, work)
    build = imtetl(env)
    print(f"build: {build.seconds:.2f}s (peak_rss_mb={build.peak_rss_mb:.0f})", flush=True)
    print(f"  slowest steps: {step_times(env)}", flush=True)
    print(f"  {dbt_figures(env, build.seconds)}", flush=True)

    school, year = largest_partition(info, landing)
    partition = imtetl(env, "--school", school, "--year", str(year))
    print(
        f"partition: {partition.seconds:.2f}s ({school} {year}, "
        f"peak_rss_mb={partition.peak_rss_mb:.0f})",
        flush=True,
    )
    print(f"  slowest steps: {step_times(env)}", flush=True)
    print(f"  {dbt_figures(env, partition.seconds)}", flush=True)

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

    peak = max(build.peak_rss_mb, partition.peak_rss_mb)
    print(
        f"ratio build/floor={build.seconds / floor.seconds:.2f} "
        f"partition/build={partition.seconds / build.seconds:.2f} "
        f"sample/import={sample_ratio} peak_rss_mb={peak:.0f}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
