"""The SQL models: one file per contract table under ``sql/``, run in dependency order."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import duckdb

from imtetl.validate.evaluate import school_years_filter

#: (schema, table) in the order they must be built.
MODEL_FILES: tuple[tuple[str, str], ...] = (
    ("core", "dim_school"),
    ("core", "dim_country"),
    ("core", "regulated_tuition"),
    ("core", "dim_programme"),
    ("core", "fact_enrolment"),
    ("core", "fact_tuition_fee"),
    ("core", "fact_mobility"),
    ("marts", "international_masters_pricing"),
    ("marts", "foreign_intake"),
    ("marts", "recruitment_routes"),
    ("marts", "mobility_flows"),
    ("marts", "national_comparison"),
)


#: Facts that are projections of one staging table, row for row: after a partition load they
#: are updated for the school-years that changed instead of rebuilt whole.
INCREMENTAL = {
    "fact_enrolment": "enrolment",
    "fact_tuition_fee": "tuition",
    "fact_mobility": "mobility",
}
#: Above this share of the dataset's school-years changed, a whole rebuild is cheaper.
INCREMENTAL_MAX_SHARE = 0.25
_CTAS = re.compile(r"CREATE OR REPLACE TABLE (\w+\.\w+) AS\s+(SELECT\b.*?);", re.S)


def run_model(
    conn: duckdb.DuckDBPyConnection,
    sql_dir: Path,
    schema: str,
    table: str,
    built: dict | None = None,
) -> int:
    """Build one table from its SQL file (in a transaction); return its row count. ``built``
    (when given) receives how: ``{"rebuilt": True}`` or the school-years updated.

    A fact of INCREMENTAL is updated instead for the school-years whose staging rows changed
    since it was last built (build_state.changed_partitions), when it exists, was built by
    the same SQL and few school-years changed: their rows are deleted and selected again by
    the file's own SELECT, so the table holds the same rows as after a whole rebuild."""
    sql = (sql_dir / schema / f"{table}.sql").read_text(encoding="utf-8")
    name = f"{schema}.{table}"
    dataset = INCREMENTAL.get(table) if schema == "core" else None
    digest = hashlib.sha256(sql.encode()).hexdigest()
    conn.execute("BEGIN TRANSACTION")
    try:
        changed = _changed(conn, name, dataset, digest) if dataset and _CTAS.search(sql) else None
        if built is not None:
            built["rebuilt"] = changed is None
            built["school_years_updated"] = [f"{s} {y or 'all'}" for s, y in changed or []]
        if changed is None:
            conn.execute(sql)
        elif changed:
            select = _CTAS.search(sql).group(2)
            where, params = school_years_filter(changed)
            conn.execute(f"DELETE FROM {name} WHERE {where}", params)
            conn.execute(f"INSERT INTO {name} SELECT * FROM ({select}) WHERE {where}", params)
        if dataset:  # the next release takes the same change (publish/release.py)
            if changed is None:
                conn.execute(
                    "INSERT INTO build_state.publish_pending VALUES (?, NULL, NULL, true)", [name]
                )
            for school, year in changed or []:
                conn.execute(
                    "INSERT INTO build_state.publish_pending VALUES (?, ?, ?, false)",
                    [name, school, year],
                )
            conn.execute("DELETE FROM build_state.changed_partitions WHERE dataset = ?", [dataset])
            conn.execute(
                "INSERT OR REPLACE INTO build_state.models VALUES (?, ?, now())", [name, digest]
            )
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    return conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]


def _changed(
    conn: duckdb.DuckDBPyConnection, name: str, dataset: str, digest: str
) -> list[tuple[str, int | None]] | None:
    """The school-years to update, or None when the fact must be rebuilt whole."""
    schema, table = name.split(".")
    exists = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ?",
        [schema, table],
    ).fetchone()[0]
    built = conn.execute(
        "SELECT sql_sha256 FROM build_state.models WHERE table_name = ?", [name]
    ).fetchone()
    if not exists or built is None or built[0] != digest:
        return None
    changed = conn.execute(
        "SELECT DISTINCT school_code, academic_year FROM build_state.changed_partitions "
        "WHERE dataset = ? ORDER BY ALL",
        [dataset],
    ).fetchall()
    partitions = conn.execute(
        "SELECT count(DISTINCT (school_code, academic_year)) FROM audit.loads "
        "WHERE dataset = ? AND is_current",
        [dataset],
    ).fetchone()[0]
    if len(changed) > INCREMENTAL_MAX_SHARE * max(partitions, 1):
        return None
    return changed
