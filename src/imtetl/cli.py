"""The ``imtetl`` command: ``sample`` writes the bundled sample exports, ``build`` runs the
Dagster graph through the project's instance (so the run shows in the UI) and publishes."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import sys
import time
import warnings
from pathlib import Path

from imtetl.settings import Settings


def _cmd_sample(args: argparse.Namespace) -> int:
    from imtetl.sample import write_sample

    started = time.perf_counter()
    summary = write_sample(Path(args.out), scale=args.scale, seed=args.seed)
    rows = sum(summary.rows.values())
    print(
        f"wrote {len(summary.files)} files, {rows:,} rows, to {args.out} "
        f"in {time.perf_counter() - started:.1f}s"
    )
    return 0


def _ensure_landing(settings: Settings) -> None:
    """The bundled sample is the embedded default: generated, offline, on first build, and
    again when the sample there was written by another version of the generator (the default
    landing zone only ever holds the sample: a newcomer who pulls a new dataset gets it)."""
    from imtetl.sample import is_current, write_sample

    default = (settings.home / "data" / "landing").resolve()
    present = settings.landing.exists() and any(settings.landing.iterdir())
    if settings.landing != default:
        if not present:
            raise SystemExit(f"imtetl: landing zone {settings.landing} is empty or missing")
        return
    if present and is_current(settings.landing):
        return
    if present:
        print(
            "The bundled sample there is from another version of the generator: "
            f"generating the bundled sample exports again in {settings.landing}"
        )
    else:
        print(f"No landing zone yet: generating the bundled sample exports in {settings.landing}")
    write_sample(settings.landing)


def dagster_instance(settings: Settings):
    """The project's Dagster instance: ``$DAGSTER_HOME``'s, else the project root's
    ``dagster.yaml`` (the one `dagster dev` run from the root uses), through the public
    ``DagsterInstance.get()``: DAGSTER_HOME is set to the root for this process and the step
    processes it starts."""
    from dagster import DagsterInstance

    if not os.environ.get("DAGSTER_HOME"):
        (settings.home / ".dagster").mkdir(parents=True, exist_ok=True)
        os.environ["DAGSTER_HOME"] = str(settings.home)
    return DagsterInstance.get()


def _print_table(rows: list[tuple]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Loaded this run", title_justify="left")
    for name in ("school", "dataset", "files", "read", "loaded", "quarantined", "failed"):
        table.add_column(name, justify="left" if name in ("school", "dataset") else "right")
    totals = [0, 0, 0, 0, 0]
    for school, dataset, *numbers in rows:
        totals = [a + (b or 0) for a, b in zip(totals, numbers, strict=True)]
        table.add_row(school, dataset, *(f"{n or 0:,}" for n in numbers))
    table.add_row("all", "", *(f"{n:,}" for n in totals), style="bold")
    Console(stderr=False).print(table)


def _in_own_processes(settings: Settings) -> bool:
    """Whether runs use the job's executor (steps in processes of their own, or on Celery
    workers) rather than this process: the DuckLake backend, unless IMTETL_EXECUTOR says
    in_process."""
    executor = os.environ.get("IMTETL_EXECUTOR", "").strip()
    if executor:
        return executor != "in_process"
    return settings.backend == "ducklake"


def _execute_job(
    name: str,
    settings: Settings,
    instance,
    *,
    tags: dict[str, str],
    run_config: dict,
):
    """Run job ``name`` to its end; failures are in the result (never raised). In this
    process on the DuckDB-file backend (one writer: a step in its own process would only cost
    2-5 s); with the job's own executor on the DuckLake backend (IMTETL_EXECUTOR, default
    multiprocess with IMTETL_WRITERS steps at once), which reconstructs the job in each step's
    process (imtetl.definitions.RECONSTRUCTABLE). Either way the run is in the instance."""
    import dagster as dg

    from imtetl import definitions

    jobs = definitions.RECONSTRUCTABLE
    if not _in_own_processes(settings):
        return jobs[name]().execute_in_process(
            instance=instance, tags=tags, raise_on_error=False, run_config=run_config
        )
    return dg.execute_job(
        dg.reconstructable(jobs[name]),
        instance=instance,
        tags=tags,
        run_config=run_config,
        raise_on_error=False,
    )


def _cmd_build(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    os.chdir(settings.home)  # dagster.yaml's relative storage paths are from the project root
    from imtetl.pipeline_config import ConfigError, cached_pipelines

    try:
        schools = list(cached_pipelines(settings.pipelines))
    except ConfigError as exc:
        print(f"imtetl: {exc}", file=sys.stderr)
        return 2
    if args.school and args.school not in schools:
        print(
            f"imtetl: unknown school {args.school!r}; known: {', '.join(schools)}",
            file=sys.stderr,
        )
        return 2
    _ensure_landing(settings)
    from imtetl.transform.pseudonym import KEY_ENV, MissingKeyError, load_key

    if not os.environ.get(KEY_ENV):
        existed = settings.key_file.exists()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                load_key(settings.key_file, sample=settings.landing_is_sample)
        except MissingKeyError as exc:
            print(f"imtetl: {exc}", file=sys.stderr)
            return 2
        verb = "using" if existed else "generated"
        print(
            f"warning: {KEY_ENV} is not set: {verb} the sample's pseudonym key in "
            f"{settings.key_file} (untracked); set {KEY_ENV} for real data",
            file=sys.stderr,
        )

    warnings.filterwarnings("ignore")
    from imtetl.defs.build import partition_ranges, run_build
    from imtetl.load import dbt

    if not partition_ranges(args.school, args.year):
        print(f"imtetl: year {args.year} is not among {settings.years}", file=sys.stderr)
        return 2
    if settings.backend == "ducklake":
        # the catalog reachable (else one clear error now, naming it, not one per step) and
        # the lake's tables there before concurrent steps start
        from imtetl.load.build_db import connect_build_db
        from imtetl.load.lake import LakeError

        try:
            connect_build_db(settings).close()
        except LakeError as exc:
            print(f"imtetl: {exc}", file=sys.stderr)
            return 1
    dbt.warm_up(settings)  # dbt loads while the schools do
    from imtetl.publish.published import describe

    label = " ".join(
        part
        for part in (args.school or f"all {len(schools)} schools", args.year and str(args.year))
        if part
    )
    print(f"Building the warehouse for {label} → {describe(settings)}", file=sys.stderr)
    started = time.perf_counter()
    with dagster_instance(settings) as instance:

        def execute(name: str, tags: dict, run_config: dict):
            return _execute_job(name, settings, instance, tags=tags, run_config=run_config)

        outcome = run_build(execute, instance, school=args.school, year=args.year)
    elapsed = time.perf_counter() - started
    return _render_build(settings, outcome, elapsed)


def _render_build(settings: Settings, outcome, elapsed: float) -> int:
    """The build's table, warnings and failures; its exit code."""
    from imtetl.defs.build import loads_summary
    from imtetl.publish.published import describe

    for run_id in outcome.abandoned:
        print(
            f"Run {run_id[:8]} was left running by a killed imtetl build: marked failed",
            file=sys.stderr,
        )
    table, failures, missing = loads_summary(settings, outcome.run_ids)
    _print_table(table)
    for school, dataset, year in missing:
        print(
            f"warning: missing delivery: {school} sent no {dataset} export for {year}, a year "
            "its YAML covers (audit.deliveries)",
            file=sys.stderr,
        )
    for school, dataset, error in failures:
        print(f"FAILED {school} {dataset}: {error}", file=sys.stderr)
    lines, national_failed = outcome.national_lines()
    for line in lines:
        print(line, file=sys.stderr)
    for step_key, message in outcome.step_failures:
        print(f"FAILED step {step_key}: {message}", file=sys.stderr)
    status = "published" if outcome.published else "NOT published"
    run_list = ", ".join(r.run_id[:8] for r in outcome.runs)
    print(f"{status}: {describe(settings)} (runs {run_list}, {elapsed:.1f}s)", file=sys.stderr)
    if failures or outcome.step_failures or national_failed or not outcome.published:
        failed = sorted({school for school, _, _ in failures})
        if failed:
            print(f"imtetl: failed schools: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


#: A reason without the offending value, so that rows of one kind group together.
_REASON_KIND = r"""regexp_replace(regexp_replace(regexp_replace(reason,
    ' ''[^'']*''', ' …', 'g'), ' \(first at[^)]*\)', ''), '\d{4}-\d{2}-\d{2}', '…', 'g')"""


def _quarantine_rows(settings, open_published, where: str, params: list, school: str | None):
    with open_published(settings) as (conn, _):
        rows = conn.execute(
            f"""SELECT school_code, dataset, "column", {_REASON_KIND} AS kind, count(*) AS n,
                       count(DISTINCT source_file) AS files,
                       min(source_file || ' row ' || coalesce(row_number::VARCHAR, '-'))
                FROM audit.quarantine {where}
                GROUP BY ALL ORDER BY 1, 2, n DESC, 4""",
            params,
        ).fetchall()
        totals = conn.execute(
            f"""SELECT sum(rows_read), sum(rows_loaded), sum(rows_quarantined)
                FROM audit.loads WHERE (is_current OR status = 'failed')
                {"AND school_code = ?" if school else ""}""",
            params,
        ).fetchone()
    return rows, totals


def _cmd_quarantine(args: argparse.Namespace) -> int:
    """Summarise audit.quarantine of the published warehouse by school, dataset and reason."""
    from rich.console import Console
    from rich.table import Table

    from imtetl.publish.published import NotPublished, open_published

    settings = Settings.from_env()
    where, params = ("WHERE school_code = ?", [args.school]) if args.school else ("", [])
    try:
        rows, totals = _quarantine_rows(settings, open_published, where, params, args.school)
    except NotPublished as exc:
        print(f"imtetl: {exc}", file=sys.stderr)
        return 2
    console = Console()
    if not rows:
        console.print(f"No quarantined rows{' for ' + args.school if args.school else ''}.")
        return 0
    table = Table(title="Quarantined rows by reason", title_justify="left")
    for name in ("school", "dataset", "reason", "rows", "files", "first at"):
        table.add_column(
            name, justify="right" if name in ("rows", "files") else "left", overflow="fold"
        )
    for school, dataset, _column, kind, n, files, first in rows:
        table.add_row(school, dataset, kind, f"{n:,}", str(files), first)
    console.print(table)
    read, loaded, quarantined = (t or 0 for t in totals)
    console.print(
        f"{quarantined:,} of {read:,} rows read are quarantined, {loaded:,} loaded. "
        "Each row's raw record (ids pseudonymised) is in audit.quarantine.raw_record."
    )
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    """Check the published warehouse as readers see it (imtetl.publish.integrity)."""
    from imtetl.publish.integrity import bi_views, check_file
    from imtetl.publish.release import stale_wal

    settings = Settings.from_env()
    if settings.backend == "ducklake":
        return _check_lake(settings)
    problems = []
    if (wal := stale_wal(settings.warehouse)) is not None:
        problems.append(
            f"stale WAL {wal}: readers see it replayed over the published state; "
            "the next `imtetl build` removes it"
        )
    problems += check_file(settings.warehouse, views=bi_views(settings.sql))
    return _report_check(problems, str(settings.warehouse))


def _report_check(problems: list[str], label: str) -> int:
    for problem in problems:
        print(f"imtetl: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"{label}: every contract table present, every partition whole")
    return 0


def _check_lake(settings: Settings) -> int:
    """``imtetl check`` on the DuckLake backend: the newest release's snapshot, read-only."""
    from imtetl.publish.integrity import bi_views, check_integrity
    from imtetl.publish.published import NotPublished, open_published

    try:
        with open_published(settings) as (conn, target):
            problems = check_integrity(conn, views=bi_views(settings.sql))
    except NotPublished as exc:
        print(f"imtetl: {exc}", file=sys.stderr)
        return 2
    return _report_check(problems, target.label)


def _cmd_releases(args: argparse.Namespace) -> int:
    """List the releases of the published warehouse (audit.releases), newest first, or with
    --show ID the file holding one and how to attach it."""
    from imtetl.publish.releases import ReleaseNotFound, history, kept_ids, resolve

    settings = Settings.from_env()
    if settings.backend == "ducklake":
        return _releases_lake(settings, args.show)
    try:
        if args.show:
            row, path = resolve(settings.warehouse, args.show)
            print(path)
            print(f"ATTACH '{path}' AS r (READ_ONLY);", file=sys.stderr)
            when = f"{row.published_at:%Y-%m-%d %H:%M:%S} UTC"
            print(f"-- release {row.release_id}, published {when}: {row.summary}", file=sys.stderr)
            return 0
        rows = history(settings.warehouse)
    except ReleaseNotFound as exc:
        print(f"imtetl: {exc}", file=sys.stderr)
        return 2
    kept = set(kept_ids(settings.warehouse))
    n_kept = len(kept & {r.release_id for r in rows})
    print(
        f"{len(rows)} releases of {settings.warehouse}, newest first; {n_kept} "
        f"kept as files in {settings.releases_dir} (IMTETL_KEEP_RELEASES={settings.keep_releases})"
    )
    for i, row in enumerate(rows):
        if row.release_id in kept:
            where = f"kept: {settings.releases_dir / (row.release_id + '.duckdb')}"
        elif i == 0:
            where = f"published: {settings.warehouse}"
        else:
            where = f"file deleted (was {row.location})"
        facts = ", ".join(f"{t.removeprefix('core.')} {n:,}" for t, n in row.fact_rows.items())
        print(
            f"{row.release_id}  {row.published_at:%Y-%m-%d %H:%M:%S} UTC  {row.publish_mode:<11}  "
            f"{where}"
        )
        print(f"    {row.summary}")
        if facts:
            print(f"    facts: {facts}")
    return 0


def _releases_lake(settings: Settings, show: str | None) -> int:
    """``imtetl releases`` on the DuckLake backend: each release is a snapshot of the lake."""
    from imtetl.publish import published
    from imtetl.publish.releases import ReleaseNotFound

    try:
        if show:
            target = published.resolve(settings, show)
            print(target.snapshot)
            print(published.attach_statement(settings, target), file=sys.stderr)
            if target.release is not None:
                row = target.release
                when = f"{row.published_at:%Y-%m-%d %H:%M:%S} UTC"
                print(
                    f"-- release {row.release_id}, published {when}: {row.summary}",
                    file=sys.stderr,
                )
            return 0
        rows = published.history(settings)
    except (ReleaseNotFound, published.NotPublished) as exc:
        print(f"imtetl: {exc}", file=sys.stderr)
        return 2
    print(
        f"{len(rows)} releases of {published.describe(settings)}, newest first; each is a "
        "snapshot, attached read-only with SNAPSHOT_VERSION (imtetl releases --show ID)"
    )
    for i, row in enumerate(rows):
        where = ("published: " if i == 0 else "") + row.location
        facts = ", ".join(f"{t.removeprefix('core.')} {n:,}" for t, n in row.fact_rows.items())
        print(f"{row.release_id}  {row.published_at:%Y-%m-%d %H:%M:%S} UTC  {where}")
        print(f"    {row.summary}")
        if facts:
            print(f"    facts: {facts}")
    return 0


def _cmd_query(args: argparse.Namespace) -> int:
    """Run one read-only SQL query on the published warehouse or on an earlier release."""
    import csv

    import duckdb

    from imtetl.publish import published
    from imtetl.publish.releases import ReleaseNotFound

    settings = Settings.from_env()
    try:
        target = published.resolve(settings, args.release)
    except (ReleaseNotFound, published.NotPublished) as exc:
        print(f"imtetl: {exc}", file=sys.stderr)
        return 2
    label = target.label
    try:
        with contextlib.closing(published.connect(settings, target)) as conn:
            cursor = conn.execute(args.sql)
            names = [d[0] for d in cursor.description or []]
            rows = cursor.fetchall() if names else []
    except duckdb.Error as exc:
        print(f"imtetl: {label}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(names)
        writer.writerows(rows)
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{label}: {len(rows):,} rows", title_justify="left")
    for name in names:
        table.add_column(name, overflow="fold")
    for values in rows:
        table.add_row(*("NULL" if v is None else str(v) for v in values))
    Console().print(table)
    return 0


def _cmd_docs(args: argparse.Namespace) -> int:
    """Write the Markdown data dictionary of the published warehouse."""
    from imtetl.publish.dictionary import data_dictionary
    from imtetl.publish.published import NotPublished, open_published

    settings = Settings.from_env()
    out = Path(args.out) if args.out else settings.warehouse.parent / "data_dictionary.md"
    try:
        with open_published(settings) as (conn, target):
            name = target.path.name if target.path is not None else target.label
            text = data_dictionary(conn, label=name, sql_dir=settings.sql)
    except NotPublished as exc:
        print(f"imtetl: {exc}", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")
    return 0


def _cmd_dbt(args: argparse.Namespace) -> int:
    """Run dbt on the SQL layer (sql/) against the build database, e.g. `imtetl dbt ls`,
    `imtetl dbt test --select marts`, `imtetl dbt-prepare` first after editing the project."""
    from imtetl.load import dbt
    from imtetl.load.build_db import build_lock, connect_build_db

    settings = Settings.from_env()
    dbt.prepare(settings.sql)
    if not args.dbt_args:
        print("imtetl dbt: give a dbt command, e.g. `imtetl dbt ls`", file=sys.stderr)
        return 2
    with build_lock(settings):
        connect_build_db(settings).close()  # the staging and bookkeeping tables exist
        invocation = dbt.invoke(settings, list(args.dbt_args), quiet=False)
    return 0 if invocation.success else 1


def _cmd_dbt_prepare(args: argparse.Namespace) -> int:
    """Parse the dbt project once (per deploy) into sql/target/manifest.json."""
    from imtetl.load import dbt

    settings = Settings.from_env()
    started = time.perf_counter()
    path = dbt.prepare(settings.sql, force=True)
    print(f"wrote {path} in {time.perf_counter() - started:.1f} s")
    from imtetl.load.lake import LakeError, ensure_extensions

    try:  # the ducklake extra: its extensions installed for every DuckDB session here
        ensure_extensions()
        print("installed the DuckDB extensions ducklake and postgres from their wheels")
    except LakeError:
        pass  # no ducklake extra: the DuckDB-file backend only
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    """Serve the bi views over Quack until interrupted (token from IMTETL_SERVE_TOKEN)."""
    import logging
    import signal

    from imtetl.publish.published import describe
    from imtetl.publish.serve import BiServer, ServeError, token_from_env

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = Settings.from_env()
    try:
        server = BiServer(
            settings.warehouse, args.host, args.port, token_from_env(), settings=settings
        )
    except ServeError as exc:
        print(f"imtetl: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    print(
        f"serving the bi views of {describe(settings)} at {server.url} "
        "(token: IMTETL_SERVE_TOKEN; Ctrl-C stops)",
        flush=True,
    )
    try:
        server.serve_forever()
    except ServeError as exc:
        print(f"imtetl: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imtetl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sample = commands.add_parser("sample", help="write the sample school exports")
    sample.add_argument("--out", required=True, help="landing folder to write")
    sample.add_argument("--scale", type=float, default=1.0, help="population multiplier")
    sample.add_argument("--seed", type=int, default=20260901)
    sample.set_defaults(func=_cmd_sample)
    build = commands.add_parser("build", help="load every school and publish the warehouse")
    build.add_argument("--school", help="load only this school (the others keep their rows)")
    build.add_argument("--year", type=int, help="load only this academic year (start year)")
    build.set_defaults(func=_cmd_build)
    quarantine = commands.add_parser("quarantine", help="summarise the quarantined rows")
    quarantine.add_argument("--school", help="only this school")
    quarantine.set_defaults(func=_cmd_quarantine)
    check = commands.add_parser(
        "check", help="check the published warehouse: contract tables, whole partitions"
    )
    check.set_defaults(func=_cmd_check)
    releases = commands.add_parser(
        "releases", help="list the published releases (audit.releases), which are kept as files"
    )
    releases.add_argument(
        "--show", metavar="ID", help="print the file of release ID (an id, a unique prefix, latest)"
    )
    releases.set_defaults(func=_cmd_releases)
    query = commands.add_parser(
        "query", help="run a read-only SQL query on the warehouse or an earlier release"
    )
    query.add_argument("sql", help="one SQL statement")
    query.add_argument(
        "--release", metavar="ID", help="query release ID (an id, a unique prefix, latest)"
    )
    query.add_argument("--csv", action="store_true", help="write CSV to stdout")
    query.set_defaults(func=_cmd_query)
    docs = commands.add_parser("docs", help="write the Markdown data dictionary")
    docs.add_argument("--out", help="file to write (default: warehouse/data_dictionary.md)")
    docs.set_defaults(func=_cmd_docs)
    dbt = commands.add_parser(
        "dbt", help="run dbt on the SQL layer against the build database (e.g. `imtetl dbt ls`)"
    )
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER, help="dbt's command and options")
    dbt.set_defaults(func=_cmd_dbt)
    prepare = commands.add_parser(
        "dbt-prepare", help="parse the dbt project into sql/target/manifest.json (per deploy)"
    )
    prepare.set_defaults(func=_cmd_dbt_prepare)
    serve = commands.add_parser("serve", help="serve the bi views to remote BI clients (Quack)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=9494)
    serve.set_defaults(func=_cmd_serve)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a clear line, not a traceback (IMTETL_DEBUG=1 shows it)
        if os.environ.get("IMTETL_DEBUG"):
            raise
        print(f"imtetl: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def run() -> None:
    """The console entry point: :func:`main`, then an exit without the interpreter's teardown.

    Once every ``atexit`` handler has run (logging's flush, temporary folders, Dagster's and
    dbt's own), freeing the ~640,000 objects of Dagster, dbt and Great Expectations one by one
    costs a build 1.6 s of a partition run's 23 s, for nothing: each file and database is
    closed or committed by then. So the first handler registered, which runs last, flushes
    every file still open (stdio included, 0.1 s) and ends the process with the exit code.
    ``main()`` itself stays an ordinary function (tests call it in-process)."""
    code: list[int] = [1]

    def leave() -> None:
        # a file some library left open (the teardown would have flushed it when freeing it):
        # its buffered bytes are written first, so skipping the teardown never loses output
        import gc
        import io

        writers = (io.TextIOWrapper, io.BufferedWriter, io.BufferedRandom)
        for obj in gc.get_objects():
            if type(obj) in writers and not obj.closed:
                with contextlib.suppress(Exception):
                    obj.flush()
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code[0])

    atexit.register(leave)
    try:
        result = main()
    except SystemExit as exc:  # a message (printed by the interpreter) or a code
        code[0] = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        raise
    code[0] = result
    sys.exit(result)


if __name__ == "__main__":
    run()
