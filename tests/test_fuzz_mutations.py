"""The mutation corpus (tests/mutations.py) through the real pipeline.

In process, each batch breaks files of every school in a copy of the small sample — two to
four years of each school and dataset, the other years left intact as controls — then stages
every school × year partition with the real readers, normalisers, Great Expectations gate and
DuckDB staging. Each case must end in a load or in a clear refusal naming the school and the
file; rows are accounted for (rows_read = rows_loaded + rows_quarantined, in audit.loads and
in the tables); and every partition not touched loads exactly as it did from the pristine
sample, so one school's broken file never affects another's. A few cases go through
``imtetl build`` (Dagster, CLI) too: a clear message, no traceback, the others published
(the first batch in tests/test_faulty_build.py's one faulty build, the others here with
IMTETL_EXHAUSTIVE=1).

CI runs one batch (every CSV operator, the main XLSX and JSON ones); IMTETL_EXHAUSTIVE=1 runs
12 batches, over 500 cases.
"""

from __future__ import annotations

import random
import shutil
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from imtetl.load.build_db import staging_ddl
from imtetl.load.staging import LoadReport, stage_partitions
from imtetl.pipeline_config import DATASETS, FormatOptions, load_pipelines
from imtetl.read import discover_units
from imtetl.validate.gate import regulated_tuition
from tests.conftest import ROOT, make_project
from tests.mutations import EXHAUSTIVE, OPERATORS, SEED, TALLY, Operator

PIPELINES = load_pipelines(ROOT / "pipelines")


def apply_mutations(landing: Path, broken: list[tuple[str, str]]) -> None:
    """Break each (file, operator) of a CLI case in ``landing``, seeded by the file's name."""
    by_name = {(k, op.name): op for k, ops in OPERATORS.items() for op in ops}
    for relative, name in broken:
        kind = {"tsv": "csv", "xlsx": "xlsx", "json": "json_pages"}[relative.rsplit(".", 1)[1]]
        school = relative.split("/")[0].upper()
        operator = by_name[(kind, name)]
        fmt = PIPELINES[school].format_for("enrolment")  # the school's separator, encoding
        operator.apply(landing / relative, fmt, random.Random(f"{SEED}:{relative}"))


REGULATED = regulated_tuition(ROOT / "reference" / "regulated_tuition.csv")
YEARS = (2021, 2022, 2023, 2024, 2025)
KEY = b"fuzz-pseudonym-key-0123456789abcdef"
BATCHES = 12 if EXHAUSTIVE else 1
#: Years of each school and dataset broken per batch (the others are controls).
PER_STREAM = {"csv": 2, "xlsx": 4, "json_pages": 3}

Partition = tuple[str, str, int]  # school, dataset, year


@dataclass
class Target:
    """One file of the landing zone and the partitions (and their unit) that read it."""

    path: str
    kind: str
    fmt: FormatOptions
    units: list[tuple[Partition, str]] = field(default_factory=list)

    @property
    def stream(self) -> tuple:
        return tuple(sorted((school, dataset) for (school, dataset, _), _ in self.units))

    @property
    def year(self) -> int:
        return self.units[0][0][2]


@dataclass
class Case:
    operator: Operator
    target: Target
    outcome: str = ""


def _targets(landing: Path) -> list[Target]:
    targets: dict[str, Target] = {}
    for school, pipeline in PIPELINES.items():
        for dataset in pipeline.datasets:
            fmt = pipeline.format_for(dataset)
            for unit in discover_units(pipeline, dataset, landing):
                for path in unit.paths:
                    relative = str(path.relative_to(landing.resolve()))
                    target = targets.setdefault(relative, Target(relative, fmt.kind, fmt))
                    target.units.append(((school, dataset, unit.year), unit.source_file))
    return sorted(targets.values(), key=lambda t: t.path)


@dataclass
class Staged:
    reports: dict[Partition, LoadReport]
    conn: duckdb.DuckDBPyConnection


def _stage_everything(landing: Path, database: Path) -> Staged:
    conn = duckdb.connect(str(database))
    conn.execute(staging_ddl(ROOT / "sql"))
    reports = {}
    partitions = [(PIPELINES[s], y) for s in PIPELINES for y in YEARS]
    for dataset in DATASETS:
        staged = stage_partitions(
            conn,
            dataset,
            partitions,
            landing,
            KEY,
            years=YEARS,
            pipelines=PIPELINES,
            regulated=REGULATED if dataset == "tuition" else None,
        )
        for (pipeline, year), report in zip(partitions, staged, strict=True):
            reports[(pipeline.school.code, dataset, year)] = report
    return Staged(reports, conn)


def _units(report: LoadReport) -> dict[str, tuple]:
    return {
        u.source_file: (u.status, u.rows_read, u.rows_loaded, u.rows_quarantined)
        for u in report.units
    }


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, small_landing: Path) -> dict:
    """Every partition staged from the pristine small sample."""
    staged = _stage_everything(small_landing, tmp_path_factory.mktemp("base") / "b.duckdb")
    staged.conn.close()
    result = {p: _units(r) for p, r in staged.reports.items()}
    assert all(s == "loaded" for units in result.values() for s, *_ in units.values())
    return result


def _plan(batch: int, targets: list[Target], cycle: dict[str, int]) -> list[Case]:
    """Which files break, and how, in this batch: ``PER_STREAM`` years of each school and
    dataset (one file per partition), operators taken in turn per format."""
    rng = random.Random(f"{SEED}:{batch}")
    streams: dict[tuple, dict[int, list[Target]]] = defaultdict(lambda: defaultdict(list))
    for target in targets:
        streams[target.stream][target.year].append(target)
    cases = []
    for stream in sorted(streams):
        by_year = streams[stream]
        kind = next(iter(by_year.values()))[0].kind
        for year in sorted(rng.sample(sorted(by_year), PER_STREAM[kind])):
            target = rng.choice(by_year[year])
            operators = OPERATORS[kind]
            cases.append(Case(operators[cycle[kind] % len(operators)], target))
            cycle[kind] += 1
    return cases


def _check_error(error: str | None, school: str, source_file: str) -> None:
    assert error, "a failed unit without an error"
    assert "internal error" not in error, error
    assert error.startswith(f"{school}: {source_file}: "), error
    assert "What to do:" in error, error


def _check_accounting(staged: Staged) -> None:
    """rows_read = rows_loaded + rows_quarantined per load, and the tables hold exactly
    that many rows for each load."""
    conn = staged.conn
    broken = conn.execute(
        "SELECT school_code, dataset, source_file FROM audit.loads "
        "WHERE rows_read <> rows_loaded + rows_quarantined"
    ).fetchall()
    assert broken == []
    for dataset in DATASETS:
        mismatched = conn.execute(
            f"""
            WITH staged AS (SELECT load_id, count(*) AS n FROM staging.{dataset} GROUP BY 1),
                 quarantined AS (SELECT load_id, count(*) AS n FROM audit.quarantine
                                 GROUP BY 1)
            SELECT l.source_file, l.rows_loaded, s.n, l.rows_quarantined, q.n
            FROM audit.loads l
            LEFT JOIN staged s USING (load_id) LEFT JOIN quarantined q USING (load_id)
            WHERE l.dataset = '{dataset}'
              AND (l.rows_loaded <> coalesce(s.n, 0) OR l.rows_quarantined <> coalesce(q.n, 0))
            """
        ).fetchall()
        assert mismatched == [], dataset


def _judge(case: Case, staged: Staged, baseline: dict) -> list[str]:
    """The case's outcome, or the reasons it broke a promise."""
    problems = []
    outcomes = []
    for partition, source_file in case.target.units:
        school = partition[0]
        units = _units(staged.reports[partition])
        status, read, loaded, quarantined = units[source_file]
        errors = {u.source_file: u.error for u in staged.reports[partition].units}
        if status == "failed":
            try:
                _check_error(errors[source_file], school, source_file)
            except AssertionError as exc:
                problems.append(f"{partition}: unclear error: {exc}")
            message = case.operator.message
            if message and message not in (errors[source_file] or ""):
                problems.append(f"{partition}: error lacks {message!r}: {errors[source_file]}")
            held = "held back by the expectation suite" in (errors[source_file] or "")
            outcomes.append("held back" if held else "refused")
        else:
            same = units[source_file] == baseline[partition][source_file]
            outcomes.append("loaded as before" if same else "loaded")
        if read != loaded + quarantined:
            problems.append(f"{partition}: {read} read != {loaded} + {quarantined}")
        expect = case.operator.expect
        if expect == "same" and units != baseline[partition]:
            problems.append(f"{partition}: expected {baseline[partition]}, got {units}")
        if expect == "fail" and status != "failed":
            problems.append(f"{partition}: expected a refusal, got {units[source_file]}")
    if case.operator.expect == "some" and all(o.startswith("loaded") for o in outcomes):
        problems.append("expected at least one dataset of the file refused")
    case.outcome = " / ".join(sorted(set(outcomes)))
    return problems


def _mutate(case: Case, landing: Path, batch: int) -> None:
    rng = random.Random(f"{SEED}:{batch}:{case.target.path}:{case.operator.name}")
    case.operator.apply(landing / case.target.path, case.target.fmt, rng)


@pytest.mark.builds(1)
@pytest.mark.timeout(1800 if EXHAUSTIVE else 300)
def test_mutation_corpus(
    baseline: dict,
    small_landing: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for pipeline in PIPELINES.values():  # read the landing zone, never an API
        for source in pipeline.datasets.values():
            if source.http:
                monkeypatch.delenv(source.http.base_url_env, raising=False)
    targets = _targets(small_landing)
    cycle: dict[str, int] = defaultdict(int)
    problems: list[str] = []
    outcomes: dict[str, int] = defaultdict(int)
    started = time.perf_counter()
    cases_run = 0
    for batch in range(BATCHES):
        landing = tmp_path / f"landing-{batch}"
        shutil.copytree(small_landing, landing)
        cases = _plan(batch, targets, cycle)
        for case in cases:
            _mutate(case, landing, batch)
        staged = _stage_everything(landing, tmp_path / f"batch-{batch}.duckdb")
        try:
            _check_accounting(staged)
            touched = set()
            for case in cases:
                touched.update(p for p, _ in case.target.units)
                for problem in _judge(case, staged, baseline):
                    problems.append(
                        f"batch {batch} {case.operator.name} on {case.target.path}: {problem}"
                    )
                outcomes[f"{case.target.kind} {case.operator.expect}: {case.outcome}"] += 1
                TALLY[f"mutation cases: {case.target.kind} {case.outcome}"] += 1
            # every partition not broken on purpose loads exactly as from the pristine sample
            for partition, report in staged.reports.items():
                if partition not in touched and _units(report) != baseline[partition]:
                    problems.append(
                        f"batch {batch}: untouched {partition} changed: "
                        f"{_units(report)} != {baseline[partition]}"
                    )
            for report in staged.reports.values():
                for unit in report.failures:
                    assert "internal error" not in (unit.error or ""), unit.error
        finally:
            staged.conn.close()
        cases_run += len(cases)
        shutil.rmtree(landing)
    TALLY["mutation cases"] += cases_run
    TALLY["mutation batches"] += BATCHES
    print(f"{cases_run} cases in {time.perf_counter() - started:.0f}s: {dict(outcomes)}")
    assert not problems, "\n".join(problems[:40])
    assert cases_run >= (500 if EXHAUSTIVE else 40)


# --- through the CLI and Dagster ----------------------------------------------------------

#: (file, operator name) broken in one `imtetl build` of four schools: the first in the faulty
#: build of tests/test_faulty_build.py (by default), the others with IMTETL_EXHAUSTIVE=1.
CLI_CASES = [
    [
        ("albi/EXPORT_ENROLMENT_2023.tsv", "huge_field"),
        ("tp/tp_export_2022.xlsx", "zip_bomb"),
        ("imtne/fees/2024/page-0001.json", "deep_nesting"),
    ],
    [
        ("albi/EXPORT_MOBILITY_2021.tsv", "binary_garbage"),
        ("tp/tp_export_2024.xlsx", "lying_zip_bomb"),
        ("imtne/enrolments/2022/page-0002.json", "reserved_key"),
    ],
    [
        ("albi/EXPORT_FEES_2025.tsv", "long_line"),
        ("tp/tp_export_2021.xlsx", "rename_sheets"),
        ("imtne/mobility/2023/page-0001.json", "huge_int"),
    ],
]


@pytest.mark.skipif(
    not EXHAUSTIVE,
    reason="the mutation corpus' further CLI batches: IMTETL_EXHAUSTIVE=1 (the first batch "
    "is in tests/test_faulty_build.py's build, with every other bad file)",
)
@pytest.mark.builds(1)
@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    "broken", CLI_CASES[1:], ids=[f"cli_case{i}" for i in range(1, len(CLI_CASES))]
)
def test_cli_build_names_each_broken_file(
    broken: list[tuple[str, str]], tmp_path: Path, small_landing: Path
) -> None:
    """Three schools with a broken export each and one intact school, built by
    `imtetl build`: each broken file is named with its school, no traceback, and everything
    else is published. (CLI_CASES[0]: tests/test_faulty_build.py.)"""
    schools = {"albi", "tp", "imtne", "mse"}
    landing = tmp_path / "landing"
    for folder in schools:
        shutil.copytree(small_landing / folder, landing / folder)
    project = make_project(tmp_path, landing=landing)
    for config in project.pipelines.glob("*.yaml"):
        if config.stem not in schools:
            config.unlink()
    apply_mutations(landing, broken)
    result = project.imtetl("build")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    for relative, _name in broken:
        school = relative.split("/")[0].upper()
        shown = relative if not relative.endswith(".json") else relative.rsplit("/", 1)[0]
        line = next(
            (ln for ln in result.stderr.splitlines() if ln.startswith(f"FAILED {school} ")),
            "",
        )
        assert shown in result.stderr and line, output
        assert f"{school}: {shown}" in result.stderr, output
    assert "failed schools: ALBI, IMTNE, TP" in result.stderr, output
    assert "NOT published" not in result.stderr and "published" in result.stderr, output
    with duckdb.connect(str(project.warehouse), read_only=True) as conn:
        years = dict(
            conn.execute(
                "SELECT school_code, count(DISTINCT academic_year) FROM core.fact_enrolment "
                "GROUP BY 1"
            ).fetchall()
        )
        assert years["MSE"] == 5 and set(years) == {"ALBI", "IMTNE", "MSE", "TP"}, years
        assert conn.execute(
            "SELECT count(*) FROM audit.loads WHERE rows_read <> rows_loaded + rows_quarantined"
        ).fetchone() == (0,)
        failed = conn.execute(
            "SELECT count(*) FROM audit.loads WHERE status = 'failed'"
        ).fetchone()[0]
        assert failed >= len(broken)
    TALLY["CLI builds with broken files"] += 1
    TALLY["CLI broken files named"] += len(broken)
