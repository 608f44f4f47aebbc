"""The DuckLake backend (IMTETL_CATALOG, IMTETL_DATA_PATH): the warehouse as a DuckLake whose
catalog is in PostgreSQL, loaded by concurrent writers, published as snapshots.

The unit tests need nothing. The others need a PostgreSQL server (IMTETL_TEST_POSTGRES_URL: a
role that may create databases; .ci/postgres.sh starts Debian's on 127.0.0.1) and the ducklake
extra: each module run works in a database of its own, dropped afterwards. One lake is built
from the small sample by `imtetl build` (module fixture, the lake's default multiprocess
executor); the tests then read it, reload schools into it concurrently, kill a writer, and
read earlier releases back."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import duckdb
import pytest

from imtetl.load import lake
from imtetl.settings import Settings
from tests.conftest import (
    CONTRACT_CHECKER,
    ROOT,
    Project,
    contract_checker_missing,
    make_project,
)
from tests.faults import mutate
from tests.servers import EXTRAS_HINT, POSTGRES_HINT

URL = os.environ.get("IMTETL_TEST_POSTGRES_URL", "")
needs_postgres = pytest.mark.skipif(
    not URL,
    reason=POSTGRES_HINT,
)
SECRET = "s3cr3t-Pa55word-never-printed"
#: The executor of the builds after the module's first: that one runs the lake's default
#: (multiprocess: staging steps writing the lake at once, each in a process forked for it),
#: and so does the build killed in its commits; the others test what happens between builds
#: (two builds at once, a build after a killed one), each build one writing process, in
#: process (its step processes make a lake build two to three times a file build here).
ONE_WRITER = {"IMTETL_EXECUTOR": "in_process"}


# ---------------------------------------------------------------------------------------
# Unit tests: the catalog string, its secret, the DDL


def test_catalog_urls_and_libpq_strings_keep_the_password_apart() -> None:
    url = lake.Catalog.parse(
        f"postgresql://imt:{SECRET}@db.example:6432/imtetl_lake?sslmode=require"
    )
    assert url.params == {
        "host": "db.example", "port": "6432", "user": "imt", "dbname": "imtetl_lake",
        "sslmode": "require",
    }  # fmt: skip
    assert url.password == SECRET
    keywords = lake.Catalog.parse(
        f"ducklake:postgres:dbname=imtetl_lake host=db.example user=imt password='{SECRET}'"
    )
    assert keywords.params == {"dbname": "imtetl_lake", "host": "db.example", "user": "imt"}
    assert keywords.password == SECRET
    for catalog in (url, keywords):
        assert SECRET not in catalog.libpq() + catalog.label() + repr(catalog)
        assert catalog.label().startswith("postgresql://imt@db.example")
        assert SECRET not in catalog.scrub(f"could not connect: password={SECRET} host=x")
    with pytest.raises(lake.LakeError, match="names no database"):
        lake.Catalog.parse("host=db.example user=imt")
    with pytest.raises(lake.LakeError, match="PostgreSQL connection string"):
        lake.Catalog.parse("mysql://imt@db.example/imtetl")


def test_the_attach_statement_holds_no_password(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("IMTETL_CATALOG", f"postgresql://imt:{SECRET}@127.0.0.1:5432/lake")
    monkeypatch.setenv("IMTETL_DATA_PATH", "lake-data")
    monkeypatch.setenv("IMTETL_HOME", str(tmp_path))
    settings = Settings.from_env()
    assert settings.backend == "ducklake"
    assert settings.data_path == f"{tmp_path.resolve()}/lake-data/"
    sql = lake.attach_sql(
        settings, lake.catalog_of(settings), alias="warehouse", read_only=True, snapshot=7
    )
    assert SECRET not in sql
    assert "SNAPSHOT_VERSION 7" in sql and "READ_ONLY" in sql
    assert "ducklake:postgres:host=127.0.0.1 port=5432 user=imt dbname=lake" in sql
    monkeypatch.delenv("IMTETL_CATALOG")
    assert Settings.from_env().backend == "duckdb_file"


def test_lake_ddl_has_no_primary_keys_and_partitions_what_writers_replace() -> None:
    from imtetl.load.build_db import lake_staging_ddl

    text = lake_staging_ddl(ROOT / "sql")
    assert "PRIMARY KEY" not in text
    for table in ("staging.enrolment", "staging.tuition", "staging.mobility", "staging.faculty"):
        assert f"ALTER TABLE {table} SET PARTITIONED BY (school_code, academic_year);" in text
    assert "ALTER TABLE audit.loads SET PARTITIONED BY (dataset, school_code);" in text


def test_transient_failures_are_retried_then_raised(monkeypatch) -> None:
    monkeypatch.setattr(lake.time, "sleep", lambda _s: None)
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise duckdb.IOException("could not connect to server: Connection refused")
        return "done"

    assert lake.retry(flaky, what="test") == "done" and len(calls) == 3
    calls.clear()

    def broken() -> None:
        calls.append(1)
        raise duckdb.BinderException("no such column")  # not transient: not retried

    with pytest.raises(duckdb.BinderException):
        lake.retry(broken, what="test")
    assert len(calls) == 1


# ---------------------------------------------------------------------------------------
# On a real PostgreSQL


def _admin():
    psycopg2 = pytest.importorskip("psycopg2", reason=EXTRAS_HINT)
    conn = psycopg2.connect(URL)
    conn.autocommit = True
    return conn


@dataclass
class LakeProject(Project):
    catalog: str = ""
    data_path: Path = field(default_factory=Path)
    first_release: str = ""
    first_figures: list = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        return super().env(
            IMTETL_CATALOG=self.catalog, IMTETL_DATA_PATH=str(self.data_path), **extra
        )

    def settings(self) -> Settings:
        env = self.env()
        saved = dict(os.environ)
        os.environ.update({k: v for k, v in env.items() if k.startswith("IMTETL_")})
        try:
            return Settings.from_env()  # read once: the values stay after the env is restored
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def libpq(self) -> str:
        return lake.Catalog.parse(self.catalog).libpq()

    def popen(self, *args: str, **extra: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "imtetl.cli", *args],
            env=self.env(**extra),
            cwd=self.home,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # kill -9 reaches the step processes too
        )


FIGURES = (
    "SELECT school_code, academic_year, sum(new_entrants) FROM marts.foreign_intake "
    "GROUP BY ALL ORDER BY ALL"
)


def _connect(project: LakeProject, snapshot: int) -> duckdb.DuckDBPyConnection:
    """A reader on another host would do this: attach the release's snapshot read-only."""
    from imtetl.publish.lake import connect_release

    return connect_release(project.settings(), snapshot)


def _releases(project: LakeProject) -> dict[str, int]:
    from imtetl.publish.lake import release_snapshots

    conn = lake.connect(project.settings(), read_only=True)
    try:
        return release_snapshots(conn, lake.ALIAS)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def lake_project(tmp_path_factory, small_landing: Path) -> Iterator[LakeProject]:
    if not URL:
        pytest.skip(POSTGRES_HINT)
    pytest.importorskip("duckdb_extension_ducklake", reason=EXTRAS_HINT)
    import shutil

    admin = _admin()
    database = f"imtetl_lake_{uuid.uuid4().hex[:10]}"
    admin.cursor().execute(f"CREATE DATABASE {database}")
    parts = urlsplit(URL)
    base = tmp_path_factory.mktemp("lake")
    landing = base / "landing"
    shutil.copytree(small_landing, landing)
    plain = make_project(base, landing=landing)
    project = LakeProject(
        **{name: getattr(plain, name) for name in plain.__dataclass_fields__},
        catalog=urlunsplit(parts._replace(path=f"/{database}")),
        data_path=base / "lake-data",
    )
    result = project.imtetl("build", timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    project.build_output = result.stdout + result.stderr
    (project.first_release,) = _releases(project)
    conn = _connect(project, _releases(project)[project.first_release])
    project.first_figures = conn.execute(FIGURES).fetchall()
    conn.close()
    yield project
    admin.cursor().execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    admin.close()


def _lake_and_file(project: LakeProject, file_warehouse: Path, snapshot: int):
    conn = _connect(project, snapshot)
    conn.execute(f"ATTACH '{file_warehouse}' AS file (READ_ONLY)")
    return conn


@needs_postgres
@pytest.mark.builds(2)
def test_a_lake_build_equals_the_file_build_row_for_row(lake_project: LakeProject, built) -> None:
    """Same landing zone, same key: the lake's first release and the DuckDB file hold the
    same core (but each load's random id and its time), marts and bi, row for row."""
    snapshot = _releases(lake_project)[lake_project.first_release]
    conn = _lake_and_file(lake_project, built.warehouse, snapshot)
    relations = conn.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'file' "
        "AND schema_name IN ('core', 'marts') UNION ALL SELECT schema_name, view_name "
        "FROM duckdb_views() WHERE database_name = 'file' AND schema_name = 'bi' ORDER BY ALL"
    ).fetchall()
    assert len(relations) > 20
    compared = {}
    for schema, name in relations:
        columns = [
            c
            for (c,) in conn.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = 'file' AND "
                "schema_name = ? AND table_name = ? ORDER BY column_index",
                [schema, name],
            ).fetchall()
            if c not in ("load_id", "loaded_at")  # a load's id and time are its own
        ]
        select = ", ".join(f'"{c}"' for c in columns)
        ours = f'SELECT {select} FROM warehouse.{schema}."{name}"'
        theirs = f'SELECT {select} FROM file.{schema}."{name}"'
        (rows,) = conn.execute(f"SELECT count(*) FROM ({theirs})").fetchone()
        (missing,) = conn.execute(f"SELECT count(*) FROM ({theirs} EXCEPT ALL {ours})").fetchone()
        (extra,) = conn.execute(f"SELECT count(*) FROM ({ours} EXCEPT ALL {theirs})").fetchone()
        assert (missing, extra) == (0, 0), f"{schema}.{name}: {missing} missing, {extra} extra"
        compared[f"{schema}.{name}"] = rows
    assert compared["core.fact_enrolment"] > 1000 and compared["marts.foreign_intake"] > 0
    audit = conn.execute(
        "SELECT (SELECT count(*) FROM warehouse.audit.quarantine), "
        "(SELECT count(*) FROM file.audit.quarantine), "
        "(SELECT count(*) FROM warehouse.audit.loads WHERE is_current), "
        "(SELECT count(*) FROM file.audit.loads WHERE is_current)"
    ).fetchone()
    assert audit[0] == audit[1] > 0 and audit[2] == audit[3] > 0
    conn.close()


@needs_postgres
def test_readers_tools_work_on_the_lake(lake_project: LakeProject) -> None:
    """imtetl check, releases, query and docs, and the shared contract checker (through a
    DuckDB connection that attaches the lake), with the password only in PGPASSWORD."""
    output = lake_project.build_output
    assert SECRET not in output and lake.Catalog.parse(lake_project.catalog).password not in output
    check = lake_project.imtetl("check")
    assert check.returncode == 0, check.stderr
    assert "every partition whole" in check.stdout
    listing = lake_project.imtetl("releases")
    assert listing.returncode == 0, listing.stderr
    assert lake_project.first_release in listing.stdout and "snapshot" in listing.stdout
    show = lake_project.imtetl("releases", "--show", lake_project.first_release[:10])
    assert show.returncode == 0 and "SNAPSHOT_VERSION" in show.stderr
    password = lake.Catalog.parse(lake_project.catalog).password
    assert password not in show.stdout + show.stderr
    out = lake_project.home / "dictionary.md"
    docs = lake_project.imtetl("docs", "--out", str(out))
    assert docs.returncode == 0, docs.stderr
    text = out.read_text(encoding="utf-8")
    # a bi view's columns are described (from the dbt YAML: DuckLake keeps no column
    # comments on views)
    section = text.split("### `bi.foreign_intake` (view)")[1].split("###")[0]
    assert "| `masked` |" in section and "|  |" not in section
    if contract_checker_missing():
        return
    checker = subprocess.run(
        [sys.executable, str(CONTRACT_CHECKER), f"ducklake:postgres:{lake_project.libpq()}"],
        env={**lake_project.env(), "PGPASSWORD": password},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert checker.returncode == 0, checker.stdout + checker.stderr
    assert "contract holds" in checker.stdout


@needs_postgres
def test_serve_gives_remote_clients_the_published_release(lake_project: LakeProject) -> None:
    """`imtetl serve` on the lake: a remote client (ADBC over Quack, with the token) reads the
    bi views of the newest release."""
    pytest.importorskip("duckdb_extension_quack", reason=EXTRAS_HINT)
    quack = pytest.importorskip("adbc_driver_quack.dbapi", reason="the serve extra is missing")
    import socket

    from imtetl.publish.serve import BiServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = lake_project.settings()
    token = "a-long-enough-serve-token-0123"
    server = BiServer(settings.warehouse, "127.0.0.1", port, token, settings=settings)
    try:
        assert server.refresh()
        release_id, snapshot = max(_releases(lake_project).items())
        assert server._state == (release_id, snapshot)
        with quack.connect(
            f"quack://127.0.0.1:{port}", db_kwargs={"adbc.quack.token": token}, autocommit=True
        ) as client:
            cursor = client.cursor()
            cursor.execute("SELECT count(*) FROM bi.foreign_intake")
            (served,) = cursor.fetchone()
        conn = _connect(lake_project, snapshot)
        assert served == conn.execute("SELECT count(*) FROM bi.foreign_intake").fetchone()[0] > 0
        conn.close()
    finally:
        server.stop()


def _whole(conn: duckdb.DuckDBPyConnection, settings: Settings) -> list[str]:
    from imtetl.publish.integrity import bi_views, check_integrity

    return check_integrity(conn, views=bi_views(settings.sql))


@needs_postgres
@pytest.mark.builds(2)
def test_concurrent_school_builds_while_readers_loop(lake_project: LakeProject) -> None:
    """Two `imtetl build --school` processes on different schools, at once: both succeed, and
    readers looping on the published release meanwhile only ever see whole releases."""
    settings = lake_project.settings()
    before = _releases(lake_project)
    for school in ("ALBI", "ALES"):
        mutate(lake_project, school, 2023, drop=7)
    seen: dict[str, list[str]] = {}
    stop = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        from imtetl.publish.lake import latest

        try:
            while not stop.is_set():
                release_id, snapshot = latest(settings)
                conn = _connect(lake_project, snapshot)
                try:
                    seen.setdefault(release_id, []).extend(_whole(conn, settings))
                finally:
                    conn.close()
                stop.wait(0.2)  # a reader's pace, not a core of the builds' two
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    builds = [
        lake_project.popen("build", "--school", school, "--year", "2023", **ONE_WRITER)
        for school in ("ALBI", "ALES")
    ]
    outputs = [build.communicate(timeout=900)[0] for build in builds]
    stop.set()
    for reader in readers:
        reader.join(timeout=120)
    assert not errors, errors
    for build, output in zip(builds, outputs, strict=True):
        assert build.returncode == 0, output
    after = _releases(lake_project)
    assert len(after) == len(before) + 2  # each build published its own release
    assert seen and all(problems == [] for problems in seen.values()), seen
    assert len(seen) >= 2, f"readers saw only {sorted(seen)}"
    # the newest release has both schools' new figures: the fewer rows of 2023
    conn = _connect(lake_project, after[max(after)])
    rows = dict(
        conn.execute(
            "SELECT school_code, count(*) FROM core.fact_enrolment WHERE academic_year = 2023 "
            "AND school_code IN ('ALBI', 'ALES') GROUP BY ALL"
        ).fetchall()
    )
    conn.close()
    first = _connect(lake_project, after[lake_project.first_release])
    old = dict(
        first.execute(
            "SELECT school_code, count(*) FROM core.fact_enrolment WHERE academic_year = 2023 "
            "AND school_code IN ('ALBI', 'ALES') GROUP BY ALL"
        ).fetchall()
    )
    first.close()
    assert all(rows[s] < old[s] for s in ("ALBI", "ALES")), (rows, old)


def _snapshot_count(project: LakeProject) -> int:
    conn = lake.connect(project.settings(), read_only=True)
    try:
        return conn.execute(f"SELECT count(*) FROM {lake.ALIAS}.snapshots()").fetchone()[0]
    finally:
        conn.close()


@needs_postgres
@pytest.mark.builds(2)
def test_a_writer_killed_in_its_commits_leaves_the_release_intact(
    lake_project: LakeProject,
) -> None:
    """kill -9 of a build (all its processes) while its staging commits land: the published
    release is the one before, whole; the next build succeeds and publishes."""
    settings = lake_project.settings()
    mutate(lake_project, "ALES", 2025, drop=9)
    published_before = max(_releases(lake_project))
    baseline = _snapshot_count(lake_project)
    build = lake_project.popen("build", "--school", "ALES", "--year", "2025")
    deadline = time.monotonic() + 300
    while _snapshot_count(lake_project) <= baseline + 1:  # its first commits have landed
        assert build.poll() is None, build.communicate()[0]
        assert time.monotonic() < deadline, "the build never committed"
        time.sleep(0.05)
    os.killpg(build.pid, signal.SIGKILL)
    build.wait(timeout=60)
    releases = _releases(lake_project)
    assert max(releases) == published_before  # nothing half-built was published
    conn = _connect(lake_project, releases[published_before])
    assert _whole(conn, settings) == []
    conn.close()
    check = lake_project.imtetl("check")
    assert check.returncode == 0, check.stderr
    again = lake_project.imtetl("build", "--school", "ALES", "--year", "2025", **ONE_WRITER)
    assert again.returncode == 0, again.stdout + again.stderr
    assert max(_releases(lake_project)) > published_before


@needs_postgres
def test_an_unreachable_catalog_fails_naming_it_never_the_password(tmp_path: Path) -> None:
    """A catalog nobody answers for (a closed port): the build fails at once, after its
    retries, with one message that names the catalog and holds no password."""
    project = make_project(tmp_path)
    catalog = f"postgresql://imtetl:{SECRET}@127.0.0.1:9/imtetl_lake"
    result = project.imtetl(
        "build", "--school", "ALBI", IMTETL_CATALOG=catalog, IMTETL_DATA_PATH=str(tmp_path / "d")
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "postgresql://imtetl@127.0.0.1:9/imtetl_lake" in output
    assert "connection to PostgreSQL was lost" in output or "could not connect" in output
    assert SECRET not in output


@needs_postgres
def test_an_earlier_release_returns_its_own_figures(lake_project: LakeProject) -> None:
    """The figures of the first release, queried by its id after later releases (those of
    the tests above; one more build when this test runs alone): the same."""
    if len(_releases(lake_project)) < 2:
        mutate(lake_project, "ALBI", 2024, drop=5)
        rebuilt = lake_project.imtetl("build", "--school", "ALBI", "--year", "2024", **ONE_WRITER)
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    query = lake_project.imtetl("query", "--csv", "--release", lake_project.first_release, FIGURES)
    assert query.returncode == 0, query.stderr
    rows = list(csv.reader(io.StringIO(query.stdout)))[1:]
    assert [tuple(r) for r in rows] == [
        tuple(str(v) for v in row) for row in lake_project.first_figures
    ]
    latest = lake_project.imtetl("query", "--csv", FIGURES)
    assert latest.returncode == 0 and latest.stdout != query.stdout  # ALBI's figures moved
