"""Integrity of a warehouse file: what every published state must satisfy.

Run on each release before it is renamed over the published path (so a release that breaks
it is never published), by ``imtetl check`` on the published file, and by the fault-injection
tests after every kill. The checks:

- every contract table (the dbt models of sql/, ``audit.loads``, ``audit.quarantine``,
  ``audit.releases``) and every ``bi`` view is present;
- ``rows_read = rows_loaded + rows_quarantined`` for every load;
- no partition is half-written: each current load has exactly ``rows_loaded`` rows in its
  fact table and ``rows_quarantined`` rows in ``audit.quarantine``, every fact row belongs
  to a current load, and a source file has at most one current load per school and dataset.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from imtetl.load.dbt import fact_tables, relations
from imtetl.settings import Settings

AUDIT_TABLES = (("audit", "loads"), ("audit", "quarantine"), ("audit", "releases"))


class IntegrityError(RuntimeError):
    """A warehouse state that must not be published (or was found broken)."""


def bi_views(sql_dir: Path) -> list[str]:
    """The ``bi`` views of the dbt project (its models under models/bi)."""
    return [name for schema, name, kind in relations(sql_dir) if schema == "bi" and kind == "view"]


def model_tables(sql_dir: Path | None = None) -> list[tuple[str, str]]:
    """The tables of the dbt project (core, marts), of ``sql_dir`` or the settings' project."""
    sql_dir = sql_dir or Settings.from_env().sql
    return [(schema, name) for schema, name, kind in relations(sql_dir) if kind != "view"]


def check_integrity(
    conn: duckdb.DuckDBPyConnection,
    *,
    database: str | None = None,
    views: list[str] = (),
    tables: list[tuple[str, str]] | None = None,
    facts: dict[str, str] | None = None,
) -> list[str]:
    """Problems found in ``database`` (default: the connection's current database);
    an empty list means the state is whole. ``tables``: the model tables that must be there
    (default: those of the dbt project, :func:`model_tables`)."""
    db = database or conn.execute("SELECT current_database()").fetchone()[0]
    present = {
        (schema, name)
        for schema, name in conn.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = $db "
            "UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
            "WHERE database_name = $db AND NOT internal",
            {"db": db},
        ).fetchall()
    }
    missing = [
        f"{schema}.{table}"
        for schema, table in (
            *(model_tables() if tables is None else tables),
            *AUDIT_TABLES,
            *(("bi", v) for v in views),
        )
        if (schema, table) not in present
    ]
    if missing:
        return [f"missing tables or views: {', '.join(missing)}"]
    problems: list[str] = []
    q = f'"{db}"'
    broken = conn.execute(
        f"SELECT school_code, dataset, source_file, rows_read, rows_loaded, rows_quarantined "
        f"FROM {q}.audit.loads WHERE rows_read IS DISTINCT FROM rows_loaded + rows_quarantined "
        "ORDER BY ALL LIMIT 5"
    ).fetchall()
    problems += [
        f"{s} {d} {f}: rows_read {r} <> rows_loaded {lo} + rows_quarantined {qu}"
        for s, d, f, r, lo, qu in broken
    ]
    doubled = conn.execute(
        f"SELECT school_code, dataset, source_file, academic_year, count(*) FROM {q}.audit.loads "
        "WHERE is_current GROUP BY ALL HAVING count(*) > 1 ORDER BY ALL LIMIT 5"
    ).fetchall()
    problems += [f"{s} {d} {f} {y or '(no year)'}: {n} current loads" for s, d, f, y, n in doubled]
    if facts is None:  # the fact table of each dataset, as the dbt project declares it
        facts = fact_tables(Settings.from_env().sql)
    for dataset, fact in facts.items():
        fact_table = f"{q}.{fact}"
        half = conn.execute(
            f"""WITH facts AS (SELECT load_id, count(*) AS n FROM {fact_table} GROUP BY ALL),
                     held AS (SELECT load_id, count(*) AS n FROM {q}.audit.quarantine
                              GROUP BY ALL)
                SELECT l.school_code, l.source_file, l.rows_loaded, coalesce(f.n, 0),
                       l.rows_quarantined, coalesce(h.n, 0)
                FROM {q}.audit.loads l
                LEFT JOIN facts f USING (load_id) LEFT JOIN held h USING (load_id)
                WHERE l.is_current AND l.dataset = $dataset
                  AND (l.rows_loaded <> coalesce(f.n, 0) OR l.rows_quarantined <> coalesce(h.n, 0))
                ORDER BY ALL LIMIT 5""",
            {"dataset": dataset},
        ).fetchall()
        problems += [
            f"{s} {dataset} {f}: half-written partition ({fact} holds {fn} of {lo} loaded "
            f"rows, audit.quarantine {hn} of {qu} quarantined rows)"
            for s, f, lo, fn, qu, hn in half
        ]
        orphans = conn.execute(
            f"""SELECT school_code, count(*) FROM {fact_table} f
                WHERE NOT EXISTS (SELECT 1 FROM {q}.audit.loads l WHERE l.load_id = f.load_id
                                  AND l.is_current AND l.dataset = $dataset
                                  AND l.school_code = f.school_code)
                GROUP BY ALL ORDER BY ALL""",
            {"dataset": dataset},
        ).fetchall()
        problems += [
            f"{s}: {n} rows of {fact} belong to no current {dataset} load" for s, n in orphans
        ]
    return problems


def check_file(
    path: Path, *, views: list[str] = (), tables: list[tuple[str, str]] | None = None
) -> list[str]:
    """Open ``path`` read-only (as readers do) and check it."""
    if not path.exists():
        return [f"no warehouse at {path}"]
    try:
        with duckdb.connect(str(path), read_only=True) as conn:
            return check_integrity(conn, views=views, tables=tables)
    except duckdb.Error as exc:
        return [f"{path} cannot be read: {type(exc).__name__}: {exc}"]
