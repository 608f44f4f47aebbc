"""The SQL layer: the dbt project under ``sql/`` (dbt-duckdb), run in this process.

The project is parsed once per deploy (:func:`prepare`, run by ``imtetl dbt-prepare`` and by
CI; on a checkout whose project files are newer than the manifest it is parsed again, like
dagster-dbt's ``prepare_if_dev``) into ``sql/target/manifest.json``. A run loads that manifest
and invokes dbt through its programmatic entry point (``dbtRunner``) with it, so it neither
starts a process nor parses the project: see :func:`invoke`.

Incremental facts (:func:`plan_incremental`): a model whose config names
``meta.imtetl.changed_partitions_of: <dataset>`` is updated for the school-years of that
dataset recorded in ``build_state.changed_partitions`` since it was last built (its SQL does
the filtering, dbt's delete+insert the replacing). It is built whole instead (its table is
dropped before dbt runs) when it does not exist, its SQL changed since, or more than
``INCREMENTAL_MAX_SHARE`` of the dataset's school-years changed.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from imtetl import contract
from imtetl.settings import Settings

#: Above this share of the dataset's school-years changed, a whole rebuild is cheaper.
INCREMENTAL_MAX_SHARE = 0.25
#: The generated source file (the staging tables, from the contract).
SOURCES_FILE = Path("models") / "staging" / "_staging.yml"
_SOURCES_HEADER = (
    "# Generated from src/imtetl/contract.py by imtetl.load.dbt.write_sources (imtetl\n"
    "# dbt-prepare): do not edit. The staging tables the Dagster assets load, one per dataset.\n"
)
#: Folders of the project that are not its sources.
_NOT_PROJECT = {"target", "logs", "dbt_packages"}
#: dbt's events that carry a node's result (what Dagster turns into materializations and checks).
RESULT_EVENTS = frozenset({"LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult"})
_LOCK = threading.RLock()  # prepare() may run inside invoke()


def manifest_path(sql_dir: Path) -> Path:
    return sql_dir / "target" / "manifest.json"


def sources_yaml() -> str:
    body = yaml.safe_dump(
        {"version": 2, "sources": [contract.dbt_source()]},
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    return _SOURCES_HEADER + body


def write_sources(sql_dir: Path) -> bool:
    """(Re)write the generated sources file when the contract says otherwise; True if it did."""
    path = sql_dir / SOURCES_FILE
    text = sources_yaml()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def project_files(sql_dir: Path) -> list[Path]:
    """The files dbt parses: dbt_project.yml, profiles.yml, models, macros and tests."""
    files = [sql_dir / "dbt_project.yml", sql_dir / "profiles.yml"]
    for folder in ("models", "macros", "tests"):
        base = sql_dir / folder
        if base.is_dir():
            files += sorted(
                p
                for p in base.rglob("*")
                if p.is_file() and p.suffix in (".sql", ".yml", ".yaml", ".md", ".csv")
            )
    return [p for p in files if p.exists() and not _NOT_PROJECT & set(p.parts)]


def is_stale(sql_dir: Path) -> bool:
    manifest = manifest_path(sql_dir)
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime_ns
    return any(p.stat().st_mtime_ns > built for p in project_files(sql_dir))


def _environment(settings: Settings | None) -> None:
    """What profiles.yml reads: the build database of these settings."""
    if settings is not None:
        os.environ["IMTETL_BUILD_DB"] = str(settings.build_db)
        # the DuckLake backend: the target `lake`, whose plugin attaches the same lake
        os.environ["IMTETL_DBT_TARGET"] = "lake" if settings.backend == "ducklake" else "build"
        os.environ["IMTETL_DBT_DATA_PATH"] = settings.data_path
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


def _common_args(sql_dir: Path, work: Path) -> list[str]:
    return [
        "--project-dir", str(sql_dir),
        "--profiles-dir", str(sql_dir),
        "--log-path", str(work / "logs"),
    ]  # fmt: skip


def prepare(sql_dir: Path, *, force: bool = False) -> Path:
    """Write the generated sources and parse the project into ``target/manifest.json``
    (with partial parsing) when it is missing or older than a project file; return its path."""
    with _LOCK:
        write_sources(sql_dir)
        manifest = manifest_path(sql_dir)
        if not force and not is_stale(sql_dir):
            return manifest
        from dbt.cli.main import dbtRunner

        _environment(None)
        work = sql_dir / "target"
        result = dbtRunner().invoke(
            ["parse", *_common_args(sql_dir, work), "--target-path", str(work), "--quiet"]
        )
        if not result.success:
            raise RuntimeError(f"dbt could not parse {sql_dir}: {result.exception}")
        manifest.touch()  # newer than every file it was parsed from
        _MANIFESTS.pop(str(manifest), None)
        return manifest


_MANIFESTS: dict[str, tuple[int, Any]] = {}


def load_manifest(sql_dir: Path) -> Any:
    """The prepared manifest as dbt's own object (read once per process and file version):
    the partial-parse file ``dbt parse`` wrote beside it (parsed again if it is missing)."""
    path = manifest_path(sql_dir)
    stamp = path.stat().st_mtime_ns
    cached = _MANIFESTS.get(str(path))
    if cached and cached[0] == stamp:
        return cached[1]
    from dbt.contracts.graph.manifest import Manifest

    packed = path.with_name("partial_parse.msgpack")
    if packed.exists() and packed.stat().st_mtime_ns <= stamp:
        # dbt's own serialisation of the parsed project (what partial parsing restores):
        # 0.1 s. manifest.json is no substitute: read back, its generic tests come out as
        # singular ones, which dbt can no longer compile.
        manifest = Manifest.from_msgpack(packed.read_bytes())
    else:
        prepare(sql_dir, force=True)
        return load_manifest(sql_dir)
    _MANIFESTS[str(path)] = (stamp, manifest)
    return manifest


_MANIFEST_JSON: dict[str, tuple[int, dict]] = {}


def manifest_json(sql_dir: Path) -> dict:
    """The prepared manifest as JSON (what dagster-dbt reads), once per process and version."""
    path = manifest_path(sql_dir)
    stamp = path.stat().st_mtime_ns
    cached = _MANIFEST_JSON.get(str(path))
    if cached is None or cached[0] != stamp:
        cached = (stamp, json.loads(path.read_text(encoding="utf-8")))
        _MANIFEST_JSON[str(path)] = cached
    return cached[1]


def relation_of(node: dict) -> tuple[str, str]:
    """(schema, table) a model node builds: its schema and its alias (bi_x -> bi.x)."""
    return node["schema"], node.get("alias") or node["name"]


def relations(sql_dir: Path) -> list[tuple[str, str, str]]:
    """(schema, table, materialization) of every model of the prepared project, in order."""
    manifest = manifest_json(sql_dir)
    return sorted(
        (*relation_of(node), node["config"]["materialized"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("enabled", True)
    )


# ---------------------------------------------------------------------------------------
# Incremental facts


@dataclass(frozen=True)
class IncrementalFact:
    unique_id: str
    relation: str  # schema.table
    dataset: str
    checksum: str


def incremental_facts(manifest: dict) -> dict[str, IncrementalFact]:
    """unique_id -> the incremental facts of the project (their config says which dataset's
    changed school-years they follow)."""
    facts = {}
    for unique_id, node in manifest["nodes"].items():
        config = node.get("config", {})
        dataset = (config.get("meta") or {}).get("imtetl", {}).get("changed_partitions_of")
        if node["resource_type"] == "model" and dataset:
            facts[unique_id] = IncrementalFact(
                unique_id,
                ".".join(relation_of(node)),
                dataset,
                node["checksum"]["checksum"],
            )
    return facts


def fact_tables(sql_dir: Path) -> dict[str, str]:
    """dataset -> the fact table (schema.table) its loads fill: the project's models whose
    config says which dataset's school-years they follow (meta.imtetl.changed_partitions_of)."""
    return {f.dataset: f.relation for f in incremental_facts(manifest_json(sql_dir)).values()}


@dataclass
class Plan:
    """What each incremental fact of a run will do: None rebuild whole, else the
    school-years it updates (``[]``: nothing changed)."""

    scopes: dict[str, list[tuple[str, int | None]] | None] = field(default_factory=dict)

    def describe(self, unique_id: str) -> dict:
        if unique_id not in self.scopes:
            return {}
        scope = self.scopes[unique_id]
        return {
            "rebuilt_whole": scope is None,
            "school_years_updated": [f"{s} {y or 'all'}" for s, y in scope or []],
        }


def plan_incremental(
    conn: duckdb.DuckDBPyConnection, facts: dict[str, IncrementalFact], selected: set[str]
) -> Plan:
    """Decide, before dbt runs, how each selected incremental fact is built; a fact to be
    rebuilt whole is dropped (dbt then creates it from its whole SELECT)."""
    plan = Plan()
    for unique_id, fact in facts.items():
        if unique_id not in selected:
            continue
        scope = _changed(conn, fact)
        if scope is None:
            conn.execute(f"DROP TABLE IF EXISTS {fact.relation}")
        plan.scopes[unique_id] = scope
    return plan


def record_built(conn: duckdb.DuckDBPyConnection, fact: IncrementalFact, plan: Plan) -> None:
    """After dbt built ``fact``: the next release takes the same change (publish/release.py),
    the changed school-years are consumed, and the SQL it was built with is remembered."""
    scope = plan.scopes.get(fact.unique_id, [])
    conn.execute("BEGIN TRANSACTION")
    try:
        if scope is None:
            conn.execute(
                "INSERT INTO build_state.publish_pending VALUES (?, NULL, NULL, true)",
                [fact.relation],
            )
        for school, year in scope or []:
            conn.execute(
                "INSERT INTO build_state.publish_pending VALUES (?, ?, ?, false)",
                [fact.relation, school, year],
            )
        conn.execute("DELETE FROM build_state.changed_partitions WHERE dataset = ?", [fact.dataset])
        conn.execute("DELETE FROM build_state.models WHERE table_name = ?", [fact.relation])
        conn.execute(
            "INSERT INTO build_state.models VALUES (?, ?, now())", [fact.relation, fact.checksum]
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _changed(
    conn: duckdb.DuckDBPyConnection, fact: IncrementalFact
) -> list[tuple[str, int | None]] | None:
    """The school-years to update, or None when the fact must be rebuilt whole."""
    schema, table = fact.relation.split(".")
    exists = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ?",
        [schema, table],
    ).fetchone()[0]
    built = conn.execute(
        "SELECT sql_sha256 FROM build_state.models WHERE table_name = ?", [fact.relation]
    ).fetchone()
    if not exists or built is None or built[0] != fact.checksum:
        return None
    changed = conn.execute(
        "SELECT DISTINCT school_code, academic_year FROM build_state.changed_partitions "
        "WHERE dataset = ? ORDER BY ALL",
        [fact.dataset],
    ).fetchall()
    partitions = conn.execute(
        "SELECT count(DISTINCT (school_code, academic_year)) FROM audit.loads "
        "WHERE dataset = ? AND is_current",
        [fact.dataset],
    ).fetchone()[0]
    if len(changed) > INCREMENTAL_MAX_SHARE * max(partitions, 1):
        return None
    return changed


# ---------------------------------------------------------------------------------------
# Running dbt


@dataclass
class Invocation:
    success: bool
    seconds: float
    #: seconds from the call to dbt's first node starting (dbt's fixed cost in this run)
    startup_seconds: float | None
    results: list[Any]
    exception: BaseException | None


def invoke(
    settings: Settings,
    args: list[str],
    *,
    on_event: Callable[[dict], None] | None = None,
    events: frozenset[str] = RESULT_EVENTS,
    quiet: bool = True,
) -> Invocation:
    """Run a dbt command (``build``, ``test``, ``docs generate``...) on the project against
    the build database of ``settings``, in this process, with the prepared manifest.
    ``on_event`` receives dbt's structured events named in ``events`` (its results, by
    default) and its errors, as the JSON log would print them.
    The caller holds the build lock and has no connection of its own to the build database
    open (DuckDB admits one configuration per file and process)."""
    started = time.perf_counter()  # dbt's fixed cost counts its import (once per process)
    from dbt.cli.main import dbtRunner
    from dbt_common.events.base_types import EventMsg
    from dbt_common.events.functions import msg_to_dict

    sql_dir = settings.sql
    work = settings.build_dir / "dbt"
    first_node: list[float] = []

    def callback(msg: EventMsg) -> None:
        name = msg.info.name
        if not first_node and name in ("NodeStart", "NodeExecuting", "LogStartLine"):
            first_node.append(time.perf_counter())
        # dbt emits a dozen events per node: only results and errors are worth converting
        if on_event is not None and (name in events or msg.info.level == "error"):
            on_event(msg_to_dict(msg))

    with _LOCK:
        _environment(settings)
        manifest = load_manifest(sql_dir)
        runner = dbtRunner(manifest=manifest, callbacks=[callback])
        command = args[:1] if args[:1] != ["docs"] else args[:2]
        rest = args[len(command) :]
        try:
            result = runner.invoke(
                [
                    *command,
                    *_common_args(sql_dir, work),
                    "--target-path",
                    str(work),
                    *(["--quiet"] if quiet else []),
                    *rest,
                ]
            )
        finally:
            _close_duckdb()
    elapsed = time.perf_counter() - started
    results = list(getattr(result.result, "results", None) or [])
    return Invocation(
        success=bool(result.success),
        seconds=round(elapsed, 3),
        startup_seconds=round(first_node[0] - started, 3) if first_node else None,
        results=results,
        exception=result.exception,
    )


def warm_up(settings: Settings) -> threading.Thread:
    """Import dbt and validate the project and profile (≈ 2 s of Python, once per process) in
    a background thread, so that the first :func:`invoke` of a build finds them done: the CLI
    starts it while the schools load. A failure here is left for the real invocation."""

    def work() -> None:
        with contextlib.suppress(Exception):  # the real invocation reports it
            invoke(settings, ["ls", "--select", "imtetl_warm_up_selects_nothing", "--quiet"])

    thread = threading.Thread(target=work, name="dbt-warm-up", daemon=True)
    thread.start()
    return thread


def _close_duckdb() -> None:
    """Close the database dbt-duckdb keeps open for the process between invocations (its
    environment is a class attribute it never closes itself): the build database is then
    checkpointed, and free for the pipeline's own connection, whose settings differ."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
        if environment is not None:
            environment.close()


def stream(settings: Settings, args: list[str]) -> Iterator[dict | Invocation]:
    """:func:`invoke` in a thread: yields each event dict as dbt emits it, then the
    Invocation (so a Dagster step can report progress while dbt runs)."""
    import queue

    events: queue.Queue = queue.Queue()
    done = object()
    box: list[Invocation | BaseException] = []

    def work() -> None:
        try:
            box.append(invoke(settings, args, on_event=events.put))
        except BaseException as error:  # re-raised in the caller's thread
            box.append(error)
        finally:
            events.put(done)

    thread = threading.Thread(target=work, name="dbt", daemon=True)
    thread.start()
    while (event := events.get()) is not done:
        yield event
    thread.join()
    if isinstance(box[0], BaseException):
        raise box[0]
    yield box[0]
