"""Configuration safety: school configs are YAML loaded safely (no tags, no alias bombs),
cannot read or write outside the landing zone (paths, templates, symlinks), cannot inject
SQL through names (identifiers validated, everything else bound as data), and hold no
secret: keys and tokens come from the environment only and are never echoed."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from imtetl.load.build_db import staging_ddl
from imtetl.load.reference import write_schools
from imtetl.load.staging import stage_school_dataset
from imtetl.pipeline_config import ConfigError, load_pipeline
from imtetl.transform.pseudonym import KEY_ENV, MissingKeyError, load_key
from tests.conftest import ROOT

KEY = b"config-safety-key-0123456789abcdef"
ALBI = (ROOT / "pipelines" / "albi.yaml").read_text(encoding="utf-8")
IMTNE = (ROOT / "pipelines" / "imtne.yaml").read_text(encoding="utf-8")


def _load(tmp_path: Path, text: str, name: str = "school.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_pipeline(path)


def _refused(tmp_path: Path, text: str, *fragments: str) -> str:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    message = str(info.value)
    assert message.startswith("school.yaml: "), message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_yaml_tags_never_run_code(tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    for payload in (
        f'!!python/object/apply:os.system ["touch {canary}"]',
        f"!!python/object/apply:subprocess.check_output [[touch, {canary}]]",
        "!!python/name:os.system",
        '!!python/object/new:type ["X", [], {}]',
    ):
        text = ALBI.replace("name: IMT Mines Albi", f"name: {payload}")
        _refused(tmp_path, text, "cannot read YAML")
        assert not canary.exists()


@pytest.mark.timeout(60)
def test_alias_bombs_are_refused_at_once(tmp_path: Path) -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in "bcdefghij":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 9) + "]")
    bomb = ALBI.replace("freshness_hours: 24", "freshness_hours: 24\nx:\n  " + "\n  ".join(lines))
    _refused(tmp_path, bomb, "aliases", "not allowed")
    _refused(tmp_path, ALBI + "\n# " + "x" * 1_100_000 + "\n", "too large")


@pytest.mark.parametrize(
    "files",
    [
        "../outside/*.tsv",
        "albi/../../outside/*.tsv",
        "/etc/passwd",
        "~/exports/*.tsv",
        "C:\\exports\\*.tsv",
        "..\\..\\exports\\*.tsv",
        "albi/\x00/*.tsv",
        "",
    ],
)
def test_file_globs_cannot_leave_the_landing_zone(tmp_path: Path, files: str) -> None:
    text = ALBI.replace("files: albi/EXPORT_ENROLMENT_*.tsv", f"files: {yaml.safe_dump(files)}")
    text = text.replace("\n...\n", "\n")
    _refused(tmp_path, text, "datasets.enrolment.files")


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("pages: imtne/fees/{year}/page-{page:04d}.json",
         "pages: ../../outside/{year}/page-{page:04d}.json", "inside the landing zone"),
        ("pages: imtne/fees/{year}/page-{page:04d}.json",
         "pages: /tmp/{year}/page-{page:04d}.json", "inside the landing zone"),
        ("pages: imtne/fees/{year}/page-{page:04d}.json",
         "pages: imtne/fees/{year.__class__.__mro__}/page-{page}.json", "may be filled in"),
        ("pages: imtne/fees/{year}/page-{page:04d}.json",
         "pages: imtne/fees/{year!r}/page-{page}.json", "may be filled in"),
        ("pages: imtne/fees/{year}/page-{page:04d}.json",
         "pages: imtne/fees/{year}/page.json", "must contain {page}"),
        ("pages: imtne/fees/{year}/page-{page:04d}.json",
         "pages: imtne/other/{year}/page-{page:04d}.json", "does not find"),
        ("path: /api/v1/fees?academic_year={year}&page=1",
         "path: http://evil.example/steal?year={year}", "relative to the base URL"),
        ("path: /api/v1/fees?academic_year={year}&page=1",
         "path: //evil.example/steal", "relative to the base URL"),
        ("path: /api/v1/fees?academic_year={year}&page=1",
         "path: /api/{year.real}", "may be filled in"),
        ("base_url_env: IMTETL_IMTNE_API_URL\n      path: /api/v1/fees",
         "base_url_env: 'http://evil.example'\n      path: /api/v1/fees",
         "not an environment variable name"),
    ],
)  # fmt: skip
def test_api_paths_and_page_templates_are_confined(
    tmp_path: Path, old: str, new: str, fragment: str
) -> None:
    assert old in IMTNE
    _refused(tmp_path, IMTNE.replace(old, new, 1), "datasets.tuition", fragment)


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("code: ALBI", "code: \"ALBI'; DROP TABLE core.dim_school; --\"", "school.code"),
        ("code: ALBI", "code: albi", "school.code"),
        ("code: ALBI", "code: ../ALBI", "school.code"),
        ("  enrolment:\n    files: albi", "  enrolment; DROP TABLE x:\n    files: albi",
         "datasets"),
        ("      student_id: STUDENT_NO", "      student_id; DROP TABLE x: STUDENT_NO",
         "unknown canonical column"),
        ("      sex: GENDER", "      sex: \"GEN\\x00DER\"", "control character"),
        ("      sex: GENDER", "      sex: \"" + "G" * 300 + "\"", "longer than 200"),
        ("  study_mode: {FT: initial", "  study_mode: {FT: \"initial'; --\"", "values.study_mode"),
        ("  fee_category: {EU: eu", "  fee_category2: {EU: eu", "not a coded column"),
    ],
)  # fmt: skip
def test_identifiers_are_validated(tmp_path: Path, old: str, new: str, fragment: str) -> None:
    assert old in ALBI
    _refused(tmp_path, ALBI.replace(old, new, 1), fragment)


def test_names_are_data_never_sql(tmp_path: Path, small_landing: Path) -> None:
    """Free-text names from a config (school name, raw headers) and from files reach
    DuckDB as bound data: the tables stay intact and hold them verbatim."""
    hostile_name = "IMT'); DROP TABLE staging.school; --"
    hostile_header = 'PROG"; DROP TABLE staging.tuition; --'
    text = ALBI.replace("name: IMT Mines Albi", f"name: {yaml.safe_dump(hostile_name)[:-5]}")
    text = text.replace("programme_code: PROG_CODE", f"programme_code: '{hostile_header}'")
    pipeline = _load(tmp_path, text)
    assert pipeline.school.name == hostile_name
    landing = tmp_path / "landing"
    shutil.copytree(small_landing / "albi", landing / "albi")
    for path in (landing / "albi").glob("EXPORT_FEES_*.tsv"):
        path.write_text(
            path.read_text(encoding="utf-8").replace("PROG_CODE", hostile_header, 1),
            encoding="utf-8",
        )
    conn = duckdb.connect(str(tmp_path / "build.duckdb"))
    conn.execute(staging_ddl(ROOT / "sql"))
    report = stage_school_dataset(conn, pipeline, "tuition", landing, KEY, validate=False)
    assert not report.failures and report.rows_loaded > 0
    write_schools(conn, {"ALBI": pipeline})
    assert conn.execute("SELECT school_name FROM staging.school").fetchall() == [(hostile_name,)]
    assert conn.execute("SELECT count(*) FROM staging.tuition").fetchone()[0] > 0


def test_symlinks_out_of_the_landing_zone_are_refused(tmp_path: Path, small_landing: Path) -> None:
    """A file (or a folder) of the landing zone that links outside is refused by name, its
    target never read; the other schools load."""
    secret = tmp_path / "outside" / "secret.tsv"
    secret.parent.mkdir()
    header = (small_landing / "albi" / "EXPORT_FEES_2023.tsv").read_text().splitlines()[0]
    secret.write_text(header + "\n2023\tSECRET-PROG\tTop secret\tENG\tFR\tEU\t1.00\n")
    landing = tmp_path / "landing"
    shutil.copytree(small_landing / "albi", landing / "albi")
    shutil.copytree(small_landing / "ales", landing / "ales")
    (landing / "albi" / "EXPORT_FEES_2026.tsv").symlink_to(secret)
    (landing / "ales").rename(tmp_path / "outside" / "ales")
    (landing / "ales").symlink_to(tmp_path / "outside" / "ales", target_is_directory=True)
    pipelines = {
        "ALBI": load_pipeline(ROOT / "pipelines" / "albi.yaml"),
        "ALES": load_pipeline(ROOT / "pipelines" / "ales.yaml"),
    }
    conn = duckdb.connect(str(tmp_path / "build.duckdb"))
    conn.execute(staging_ddl(ROOT / "sql"))
    for school, pipeline in pipelines.items():
        report = stage_school_dataset(conn, pipeline, "tuition", landing, KEY, validate=False)
        (failure,) = report.failures
        assert failure.error.startswith(f"{school}: {school.lower()}/")
        assert "outside the landing zone" in failure.error and "What to do:" in failure.error
    text = str(conn.execute("FROM staging.tuition").fetchall()) + str(
        conn.execute("FROM audit.quarantine").fetchall()
    )
    assert "SECRET-PROG" not in text


def test_secrets_come_from_the_environment_and_are_never_echoed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no config field can hold a secret: an attempt is refused without echoing the value
    for block in ("  pseudonym_key: hunter2-hunter2-hunter2", "  token: hunter2-hunter2-hunter2"):
        text = IMTNE.replace(
            "      base_url_env: IMTETL_IMTNE_API_URL\n      path: /api/v1/fees",
            "      base_url_env: IMTETL_IMTNE_API_URL\n    " + block + "\n      path: /api/v1/fees",
        )
        message = _refused(tmp_path, text, "Extra inputs are not permitted")
        assert "hunter2" not in message
    _refused(tmp_path, "pseudonym_key: hunter2-hunter2\n" + ALBI, "pseudonym_key")
    # the pseudonym key: from the environment; a bad one is refused without being shown
    monkeypatch.setenv(KEY_ENV, "short-secret")
    with pytest.raises(MissingKeyError) as info:
        load_key(tmp_path / "unused", sample=False)
    assert "short-secret" not in str(info.value)
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(MissingKeyError, match=KEY_ENV):
        load_key(tmp_path / "unused", sample=False)
    assert not (tmp_path / "unused").exists()  # real exports never get a generated key
    # the BI server's token: refused without being shown
    from imtetl.publish.serve import BiServer, ServeError

    with pytest.raises(ServeError) as served:
        BiServer(tmp_path / "w.duckdb", "127.0.0.1", 0, "tiny-token")
    assert "tiny-token" not in str(served.value)
