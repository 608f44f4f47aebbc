"""Privacy: what the sample exports carry about students and staff (ids, names, e-mails,
birth dates, as real exports do) never reaches the published warehouse, the build database,
Dagster's event log, the build's output, the Data Docs or the report; pseudonyms are HMACs of the
school's id under the key, stable and keyed; the key itself is written nowhere; the `bi`
views never show a count of 1 to 10."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import duckdb
import pytest

from imtetl.contract import CONTRACT
from imtetl.pipeline_config import load_pipelines
from imtetl.read import discover_units, read_unit
from imtetl.read.base import ROW
from imtetl.transform.columns import normalise_label
from tests.conftest import ROOT, TEST_KEY, Project

PIPELINES = load_pipelines(ROOT / "pipelines")
_TOKEN = re.compile(r"[\w.@+-]+|\d{2}/\d{2}/\d{4}")
_DATE = re.compile(r"((?:19|20)\d{2})-(\d{2})-(\d{2})|(\d{2})/(\d{2})/((?:19|20)\d{2})")


@dataclass
class Personal:
    ids: set[str] = field(default_factory=set)  # (school, id) flattened to the id
    pairs: set[tuple[str, str]] = field(default_factory=set)  # (school, id)
    #: (school, id) of the faculty exports' staff numbers (also in ``ids`` and ``pairs``)
    staff: set[tuple[str, str]] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    full_names: set[tuple[str, str]] = field(default_factory=set)  # (surname, given) both ways
    emails: set[str] = field(default_factory=set)
    births: set[str] = field(default_factory=set)  # as written and as ISO dates
    vocabulary: set[str] = field(default_factory=set)  # tokens of every other column

    @property
    def tokens(self) -> set[str]:
        """What may never appear as a token anywhere. A name alone may be an ordinary word
        (Costa, Jan, Marco), so names are sought as whole values, or as a student's surname
        and given name side by side (within four tokens)."""
        return self.ids | self.emails | self.births


def _iso(text: str) -> str | None:
    match = _DATE.search(text)
    if not match:
        return None
    if match.group(1):
        return f"{match.group(1)}-{match.group(2)}-{match.group(3)}"
    return f"{match.group(6)}-{match.group(5)}-{match.group(4)}"


@cache
def _personal(landing: Path) -> Personal:
    """Read back, with the pipeline's own readers, every personal value of the exports."""
    found = Personal()
    for school, pipeline in PIPELINES.items():
        for dataset, source in pipeline.datasets.items():
            fmt = pipeline.format_for(dataset)
            person = CONTRACT[dataset].person  # student_id, staff_id: the dataset's person id
            id_header = normalise_label(source.columns.get(person.name, "\0") if person else "\0")
            personal = {normalise_label(c): c for c in source.personal_columns}
            for unit in discover_units(pipeline, dataset, landing):
                frame = read_unit(unit, fmt).frame
                names_in_row = [
                    h
                    for h in frame.columns
                    if (label := normalise_label(h)) in personal
                    and "mail" not in label
                    and label != "mel"
                    and "birth" not in label
                    and "naissance" not in label
                ]
                if len(names_in_row) == 2:
                    for first, second in frame.select(names_in_row).drop_nulls().iter_rows():
                        found.names |= {first.strip(), second.strip()}
                        found.full_names |= {
                            (first.strip(), second.strip()),
                            (second.strip(), first.strip()),
                        }
                for header in frame.columns:
                    if header == ROW:
                        continue
                    label = normalise_label(header)
                    values = {v.strip() for v in frame[header].drop_nulls() if v.strip()}
                    if header in names_in_row:
                        continue
                    if label == id_header:
                        found.ids |= values
                        found.pairs |= {(school, v) for v in values}
                        if dataset == "faculty":
                            found.staff |= {(school, v) for v in values}
                    elif label in personal:
                        if "mail" in label or label == "mel":
                            found.emails |= values
                        elif "birth" in label or "naissance" in label:
                            found.births |= values | {d for v in values if (d := _iso(v))}
                    else:
                        for value in values:
                            found.vocabulary.update(_TOKEN.findall(value))
    assert len(found.ids) > 1000 and len(found.emails) > 500 and len(found.births) > 500
    assert len(found.names) > 300 and len(found.full_names) > 1000
    assert len(found.staff) > 200 and {s for s, _ in found.staff} == set(PIPELINES)
    return found


_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _leaks(text: str, personal: Personal) -> set[str]:
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)  # JSON's \u00e9 escapes
    tokens = _TOKEN.findall(text)
    hits = set(tokens) & personal.tokens
    for i, token in enumerate(tokens):
        if token in personal.names:
            for near in tokens[i + 1 : i + 5]:
                if (token, near) in personal.full_names:
                    hits.add(f"{token} {near}")
    return hits


def _scan_database(path: Path, personal: Personal) -> list[str]:
    """Every VARCHAR and DATE column of every table and view, value by value and token by
    token (raw records and messages are JSON or prose)."""
    found = []
    with duckdb.connect(str(path), read_only=True) as conn:
        columns = conn.execute(
            "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE NOT internal AND schema_name NOT IN ('information_schema', 'pg_catalog') "
            "AND (data_type = 'VARCHAR' OR data_type = 'DATE')"
        ).fetchall()
        assert len(columns) > 50
        for schema, table, column, data_type in columns:
            values = [
                str(v)
                for (v,) in conn.execute(
                    f'SELECT DISTINCT "{column}" FROM "{schema}"."{table}" '
                    f'WHERE "{column}" IS NOT NULL'
                ).fetchall()
            ]
            where = f"{path.name}: {schema}.{table}.{column}"
            text = "\n".join(values)
            if data_type == "DATE":
                hits = set(values) & personal.births
            else:
                whole = personal.ids | personal.emails | personal.names | personal.births
                hits = (set(values) & whole) | _leaks(text, personal)
                for value in values:  # raw records: every value of the JSON
                    if value.startswith("{"):
                        record = json.loads(value)
                        hits |= {str(v) for v in record.values()} & whole
                        hits |= _leaks(" ".join(map(str, record.values())), personal)
            if TEST_KEY in text:
                found.append(f"{where}: the pseudonym key")
            if hits:
                found.append(f"{where}: {sorted(hits)[:3]}")
    return found


def test_no_personal_value_in_the_published_or_build_database(built: Project) -> None:
    personal = _personal(built.landing)
    build_db = built.warehouse.parent / ".build" / "build.duckdb"
    assert build_db.exists()
    assert _scan_database(built.warehouse, personal) == []
    assert _scan_database(build_db, personal) == []


def _files(*folders: Path) -> list[Path]:
    return [p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()]


def test_no_personal_value_or_key_in_logs_event_log_docs_or_report(built: Project) -> None:
    """Dagster's run and event-log storage (metadata, check results, logs), the build's
    own output, the Data Docs, the report and everything else the build wrote."""
    personal = _personal(built.landing)
    published = built.warehouse.parent
    files = _files(built.dagster_home, published / "data_docs", published / "report")
    files += [p for p in _files(built.home) if p.suffix != ".duckdb" and "landing" not in p.parts]
    assert any(p.suffix == ".db" for p in files)  # Dagster's SQLite event log
    assert any(p.suffix == ".html" for p in files)  # docs and report
    key = TEST_KEY.encode()
    leaks = {}
    for path in files:
        data = path.read_bytes()
        if key in data or key.hex().encode() in data:
            leaks[str(path)] = "the pseudonym key"
        hits = _leaks(data.decode("utf-8", errors="ignore"), personal)
        if hits:
            leaks[str(path)] = sorted(hits)[:5]
    output_hits = _leaks(built.build_output, personal)
    assert TEST_KEY not in built.build_output and not output_hits, output_hits
    assert leaks == {}


def test_pseudonyms_are_keyed_hmacs_of_the_school_id(built: Project) -> None:
    """Every student_key and staff_key published is HMAC-SHA256(key, 'SCHOOL:id') of an id
    of the exports: stable for the same key and id, different for another key or school;
    a staff member's stays abroad carry the staff_key of the faculty dataset."""
    personal = _personal(built.landing)
    key = TEST_KEY.encode()

    def pseudonym(secret: bytes, school: str, value: str) -> str:
        return hmac.new(secret, f"{school}:{value}".encode(), hashlib.sha256).hexdigest()

    expected = {pseudonym(key, s, v) for s, v in personal.pairs}
    other_key = {pseudonym(key[::-1], s, v) for s, v in personal.pairs}
    swapped = {pseudonym(key, "ALBI" if s != "ALBI" else "ALES", v) for s, v in personal.pairs}
    with duckdb.connect(str(built.warehouse), read_only=True) as conn:
        published = {
            k
            for table, column in (
                ("fact_enrolment", "student_key"),
                ("fact_mobility", "student_key"),
                ("fact_faculty", "staff_key"),
            )
            for (k,) in conn.execute(f"SELECT DISTINCT {column} FROM core.{table}").fetchall()
        }
        enrolled_and_mobile = conn.execute(
            "SELECT count(DISTINCT m.student_key) FROM core.fact_mobility m "
            "JOIN core.fact_enrolment e USING (school_code, student_key) "
            "WHERE m.population = 'student'"
        ).fetchone()[0]
        faculty = conn.execute("SELECT DISTINCT staff_key FROM core.fact_faculty").fetchall()
        staff_keys = {k for (k,) in faculty}
        staff_abroad = conn.execute(
            "SELECT count(DISTINCT m.student_key) FROM core.fact_mobility m "
            "JOIN core.fact_faculty f ON f.school_code = m.school_code "
            "AND f.staff_key = m.student_key WHERE m.population = 'staff'"
        ).fetchone()[0]
    staff_expected = {pseudonym(key, s, v) for s, v in personal.staff}
    assert len(staff_keys) > 200 and staff_keys <= staff_expected
    assert staff_abroad > 0  # one staff member, one pseudonym across datasets
    assert len(published) > 1000
    assert published <= expected  # the same key gives the same pseudonym
    assert not published & other_key and not published & (swapped - expected)
    assert enrolled_and_mobile > 0  # one student, one pseudonym across datasets


def test_bi_views_show_no_count_from_1_to_10(built: Project) -> None:
    """Every whole-number column of every bi view — found from the catalogue, so a new view
    or column is covered without being listed — shows no value from 1 to 10 (ranks aside)."""
    with duckdb.connect(str(built.warehouse), read_only=True) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'bi' "
            "AND data_type IN ('BIGINT', 'INTEGER', 'HUGEINT', 'SMALLINT', 'UBIGINT') "
            "AND column_name <> 'academic_year' AND column_name NOT LIKE '%rank' "
            # counts of schools, not of people
            "AND column_name NOT IN ('ranked_in_year', 'national_schools_in_year')"
        ).fetchall()
        assert len(columns) >= 10
        shown = []
        for view, column in columns:
            small = conn.execute(
                f'SELECT count(*) FROM bi."{view}" WHERE "{column}" BETWEEN 1 AND 10'
            ).fetchone()[0]
            if small:
                shown.append(f"bi.{view}.{column}: {small} rows")
        masked = conn.execute("SELECT count(*) FROM bi.mobility_flows WHERE masked").fetchone()[0]
    assert shown == [] and masked > 0


@pytest.mark.parametrize("dataset", ["enrolment", "mobility", "faculty"])
def test_quarantined_raw_records_carry_pseudonyms_only(built: Project, dataset: str) -> None:
    person = CONTRACT[dataset].person
    personal = _personal(built.landing)
    with duckdb.connect(str(built.warehouse), read_only=True) as conn:
        records = [
            json.loads(r)
            for (r,) in conn.execute(
                "SELECT raw_record FROM audit.quarantine WHERE dataset = ?", [dataset]
            ).fetchall()
        ]
    assert records
    for record in records:
        assert person.name not in record
        assert not {str(v) for v in record.values()} & (personal.ids | personal.emails)
        assert re.fullmatch(r"[0-9a-f]{64}", record.get(person.staging) or "0" * 64)


def test_the_scans_find_what_is_planted(built: Project, tmp_path: Path) -> None:
    """The scans above are not vacuous: planted values of each kind are found."""
    personal = _personal(built.landing)
    surname, given = next(iter(sorted(personal.full_names)))
    planted = {
        "id": next(iter(sorted(personal.ids))),
        "email": next(iter(sorted(personal.emails))),
        "birth": next(iter(sorted(d for d in personal.births if "-" in d))),
        "name": f"{surname}",
        "record": json.dumps({"note": f"{surname} x {given}"}),
    }
    database = tmp_path / "planted.duckdb"
    with duckdb.connect(str(database)) as conn:
        conn.execute("CREATE SCHEMA s")
        for name, value in planted.items():
            conn.execute(f"CREATE TABLE s.{name} (v VARCHAR)")
            conn.execute(f"INSERT INTO s.{name} VALUES (?)", [f"{value}"])
        conn.execute("CREATE TABLE s.k (v VARCHAR)")
        conn.execute("INSERT INTO s.k VALUES (?)", [f"key={TEST_KEY}"])
        conn.execute("CREATE TABLE s.d (v DATE)")
        conn.execute("INSERT INTO s.d VALUES (?::DATE)", [planted["birth"]])
        for i in range(50):  # the scan expects a real catalogue's worth of columns
            conn.execute(f"CREATE TABLE s.filler{i} (v VARCHAR)")
    found = " ".join(_scan_database(database, personal))
    for name in (*planted, "k", "d"):
        assert f"s.{name}.v" in found, (name, found)
    assert _leaks(f"Dear {surname} {given}, born {planted['birth']}", personal)
