"""deploy/: the compose file's services and their settings, and that no secret is committed
(the set-up cannot run here: no Docker; these read the files only)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib

import pytest
import yaml

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
IMTETL_SERVICES = ("code-server", "webserver", "daemon", "worker")
#: Variables that hold a secret, by name.
SECRET = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|^PGPASS", re.IGNORECASE)
#: A value taken from deploy/.env, required: ${NAME:?message}.
REQUIRED = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*:\?[^}]*\}$")


def _command(service: str) -> str:
    command = SERVICES[service]["command"]
    return " ".join(command) if isinstance(command, list) else command


def _dotenv(path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def test_services() -> None:
    assert set(SERVICES) == {"postgres", "redis", *IMTETL_SERVICES}
    assert "code-server start -m imtetl.definitions" in _command("code-server")
    assert _command("webserver").startswith("dagster-webserver")
    assert _command("daemon").startswith("dagster-daemon run")
    assert _command("worker").startswith("celery -A imtetl.celery_app worker -Q dagster")
    assert int(SERVICES["worker"]["deploy"]["replicas"].split(":-")[1].rstrip("}")) >= 2
    # one image, built by deploy/Dockerfile with the extras it needs
    for name in IMTETL_SERVICES:
        assert SERVICES[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert SERVICES[name]["image"] == SERVICES["code-server"]["image"]
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert "uv pip install --system '.[postgres,cluster,ducklake]'" in dockerfile
    assert "UV_COMPILE_BYTECODE=1" in dockerfile


def test_workers_and_code_server_share_the_data_and_the_backend() -> None:
    for name in ("code-server", "worker"):
        service = SERVICES[name]
        assert "data:/data" in service["volumes"]
        assert any(v.startswith("dagster-storage:") for v in service["volumes"])
        env = service["environment"]
        assert env["IMTETL_EXECUTOR"] == "celery"
        assert env["IMTETL_CELERY_BROKER"].startswith("redis://redis:6379/")
        assert env["IMTETL_CATALOG"].startswith("dbname=imtetl_lake host=postgres")
        assert env["IMTETL_DATA_PATH"].startswith("/data/")
        for variable in ("HOST", "PORT", "DB", "USERNAME", "PASSWORD"):
            assert f"DAGSTER_PG_{variable}" in env
    assert SERVICES["code-server"]["environment"] == SERVICES["worker"]["environment"]
    # the webserver and the daemon run no user code: Dagster's storage only
    assert all(not k.startswith(("IMTETL_", "PG")) for k in SERVICES["webserver"]["environment"])
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text(encoding="utf-8"))
    (location,) = workspace["load_from"]
    assert location["grpc_server"]["host"] == "code-server"
    assert str(location["grpc_server"]["port"]) in _command("code-server").split()


def test_postgres_holds_both_databases() -> None:
    init = DEPLOY / "postgres" / "init-databases.sh"
    assert os.access(init, os.X_OK)  # run, not sourced, by the image's entrypoint
    mount = "./postgres/init-databases.sh:/docker-entrypoint-initdb.d/"
    assert any(v.startswith(mount) for v in SERVICES["postgres"]["volumes"])
    script = init.read_text(encoding="utf-8")
    assert "CREATE DATABASE dagster OWNER dagster" in script
    assert "CREATE DATABASE imtetl_lake OWNER imtetl" in script
    assert "GRANT SELECT ON TABLES TO imtetl_reader" in script
    instance = yaml.safe_load((DEPLOY / "dagster.postgres.yaml").read_text(encoding="utf-8"))
    db = instance["storage"]["postgres"]["postgres_db"]
    assert db["db_name"] == {"env": "DAGSTER_PG_DB"}
    assert SERVICES["code-server"]["environment"]["DAGSTER_PG_DB"] == "dagster"


def test_no_secret_value_is_committed() -> None:
    for name, service in SERVICES.items():
        for variable, value in (service.get("environment") or {}).items():
            if SECRET.search(variable):
                assert REQUIRED.match(str(value)), f"{name}: {variable} must come from .env"
            else:  # no credentials inside a URL or a connection string either
                assert not re.search(r"://[^/@\s]*:[^/@\s]*@", str(value)), (name, variable)
                assert "password" not in str(value).lower(), (name, variable)
    # every variable compose interpolates is in the example, and its secrets are blank
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", " ".join(_strings(COMPOSE))))
    example = _dotenv(DEPLOY / ".env.example")
    assert used <= set(example), used - set(example)
    secrets = {k: v for k, v in example.items() if SECRET.search(k)}
    assert secrets and all(v == "" for v in secrets.values()), secrets
    assert not (DEPLOY / ".env").exists() or _ignored("deploy/.env")
    if shutil.which("git") and (ROOT / ".git").exists():
        assert _ignored("deploy/.env")


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [str(value)]


def _ignored(path: str) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0


def test_extras_pin_the_dagster_family_together() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    pins = dict(
        re.match(r"([A-Za-z0-9_.-]+)==(\S+)$", spec).groups()
        for spec in [*project["dependencies"], *(s for v in extras.values() for s in v)]
        if "==" in spec
    )
    assert "dagster-celery==0.29.27" in extras["cluster"]
    assert any(spec.startswith("redis==") for spec in extras["cluster"])
    # the libraries (0.x) are released with Dagster (1.y): one release, one patch number
    libraries = {v for n, v in pins.items() if n.startswith("dagster-") and v.startswith("0.")}
    assert libraries == {pins["dagster-celery"]}, libraries
    assert pins["dagster"].split(".")[2] == pins["dagster-celery"].split(".")[2]
    for extension in ("duckdb-extension-ducklake", "duckdb-extension-postgres"):
        assert f"{extension}=={pins['duckdb']}" in extras["ducklake"]


@pytest.mark.parametrize("path", ["docker-compose.yml", "workspace.yaml", "dagster.postgres.yaml"])
def test_yaml_parses(path: str) -> None:
    assert yaml.safe_load((DEPLOY / path).read_text(encoding="utf-8"))


def test_ci_runs_the_readme_quick_start_verbatim() -> None:
    """The newcomer runs what CI runs: each command of the README's quick start is a line of
    .ci/run, in the same order, and .ci/run runs no other Python command."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert (
        len(commands) == 2 and "'.[all]'" in commands[0] and "UV_COMPILE_BYTECODE=1" in commands[0]
    )
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    positions = [ci.index(command) for command in commands]
    assert positions == sorted(positions)
    others = [line for line in ci if ".venv/bin/" in line and line not in commands]
    assert others == [], others
