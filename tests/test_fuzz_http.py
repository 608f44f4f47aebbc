"""A school API that misbehaves in every way a real one can — slow, silent, cut off, broken
chunks, wrong content, endless or foreign pagination, redirects elsewhere, oversized pages —
served by a real HTTP server on 127.0.0.1 and fetched by the real staging path.

Each case ends in a load or a failure naming the school and the folder, within the deadline;
the pages already in the landing zone stay and are loaded instead; credentials and tokens
never appear in any message or table.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imtetl.load.build_db import staging_ddl
from imtetl.load.landing import fetch_landing
from imtetl.load.staging import stage_school_dataset
from imtetl.pipeline_config import SchoolPipeline, load_pipelines
from imtetl.read import SourceError, fetch_http_pages
from tests.conftest import ROOT
from tests.mutations import TALLY

PIPELINES = load_pipelines(ROOT / "pipelines")
KEY = b"http-fuzz-key-0123456789abcdef"
ENV = "IMTETL_IMTNE_API_URL"
TOKEN_ENV = "IMTETL_TEST_API_TOKEN"
YEAR = 2024
#: Tight limits so that slow servers cost the suite seconds, not minutes.
FAST = {"timeout_s": 0.5, "deadline_s": 1.5, "retries": 0, "max_page_mb": 1, "max_pages": 5}


def _pipeline(**http: object) -> SchoolPipeline:
    base = PIPELINES["IMTNE"]
    source = base.datasets["tuition"]
    changed = source.model_copy(update={"http": source.http.model_copy(update={**FAST, **http})})
    return base.model_copy(update={"datasets": {**base.datasets, "tuition": changed}})


@dataclass
class Api:
    """What the server answers: ``behave(handler, page_bytes, request_number)``."""

    behave: Callable
    page: bytes = b""
    requests: list[dict] = field(default_factory=list)


@contextmanager
def _server(api: Api) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            api.requests.append({"path": self.path, **dict(self.headers)})
            with contextlib.suppress(OSError):  # the client hung up (deadline, refusal)
                api.behave(self, api.page, len(api.requests))

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False  # a handler still dripping bytes is not waited for
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# --- behaviours ------------------------------------------------------------------------


def _send(handler, body: bytes, status: int = 200, headers: dict | None = None) -> None:
    handler.send_response(status)
    for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
        handler.send_header(name, value)
    if "Content-Length" not in (headers or {}) and "Transfer-Encoding" not in (headers or {}):
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def ok(h, page, n):
    _send(h, page)


def status(code: int):
    return lambda h, page, n: _send(h, b'{"detail": "no"}', code)


def flaky(h, page, n):
    _send(h, page) if n > 1 else _send(h, b"busy", 503)


def slow_drip(h, page, n):
    h.send_response(200)
    h.send_header("Content-Length", str(len(page)))
    h.end_headers()
    for byte in page:
        h.wfile.write(bytes([byte]))
        h.wfile.flush()
        time.sleep(0.05)


def slow_headers(h, page, n):
    for byte in b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 10_000:
        h.wfile.write(bytes([byte]))
        h.wfile.flush()
        time.sleep(0.05)


def silent(h, page, n):
    time.sleep(3)


def cut_mid_body(h, page, n):
    h.send_response(200)
    h.send_header("Content-Length", str(len(page)))
    h.end_headers()
    h.wfile.write(page[: len(page) // 3])
    h.wfile.flush()
    h.connection.shutdown(socket.SHUT_RDWR)


def broken_chunks(h, page, n):
    h.send_response(200)
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    h.wfile.write(b"5\r\nhello\r\nZZZ\r\n" + page[:100])
    h.wfile.flush()
    h.connection.shutdown(socket.SHUT_RDWR)


def body(data: bytes, **headers: str):
    return lambda h, page, n: _send(h, data, 200, headers)


def with_next(link: object):
    def behave(h, page, n):
        data = json.loads(page)
        data["next"] = link(h) if callable(link) else link
        _send(h, json.dumps(data).encode())

    return behave


def endless(h, page, n):
    data = json.loads(page)
    data["next"] = f"/api/v1/fees?academic_year={YEAR}&page={n + 1}"
    _send(h, json.dumps(data).encode())


def redirect(location: Callable | str):
    def behave(h, page, n):
        if "redirected" in h.path:
            _send(h, page)
            return
        h.send_response(302)
        h.send_header("Location", location(h) if callable(location) else location)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return behave


def short_content_length(h, page, n):
    _send(h, page, 200, {"Content-Length": str(len(page) // 2)})


def basic_auth(h, page, n):
    expected = "Basic " + base64.b64encode(b"reader:s3cr3t-Pa55").decode()
    ok_ = h.headers.get("Authorization") == expected
    _send(h, page if ok_ else b"{}", 200 if ok_ else 401)


def bearer(h, page, n):
    ok_ = h.headers.get("Authorization") == "Bearer tok-SECRET-0123456789"
    _send(h, page if ok_ else b"{}", 200 if ok_ else 401)


SECRETS = ("s3cr3t-Pa55", "tok-SECRET-0123456789", "QUERYSECRET42")


@dataclass
class HttpCase:
    name: str
    behave: Callable
    expect: str  # a fragment of the failure, or "" when the fetch must succeed
    base: str = "{url}"  # the base URL given in the environment
    config: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)


CASES = [
    HttpCase("ok", ok, ""),
    HttpCase("http_500", status(500), "HTTP 500"),
    HttpCase("http_404", status(404), "HTTP 404"),
    HttpCase("http_401", status(401), "HTTP 401"),
    HttpCase("transient_503_retried", flaky, "", config={"retries": 1}),
    HttpCase("slow_drip_body", slow_drip, "no complete answer within 1.5 s"),
    HttpCase("slow_drip_headers", slow_headers, "no complete answer within 1.5 s"),
    HttpCase("silent_server", silent, "timed out"),
    HttpCase("cut_mid_body", cut_mid_body, "IncompleteRead"),
    HttpCase("broken_chunks", broken_chunks, "cannot fetch"),
    HttpCase("html_body", body(b"<html>Bad gateway</html>"), "did not return JSON"),
    HttpCase("empty_body", body(b""), "did not return JSON"),
    HttpCase("json_array", body(b"[1, 2, 3]"), "did not return a JSON object"),
    HttpCase("deep_json", body(b"[" * 100_000 + b"]" * 100_000), "did not return JSON"),
    HttpCase("huge_int", body(b'{"results": [], "n": ' + b"9" * 10_000 + b"}"), "JSON"),
    HttpCase("invalid_utf8", body(b'{"results": ["\xff\xfe"]}'), "did not return JSON"),
    HttpCase("gzip_garbage", body(b"\x1f\x8b\x08garbage", **{"Content-Encoding": "gzip"}), "JSON"),
    HttpCase("short_content_length", short_content_length, "did not return JSON"),
    HttpCase("huge_page", body(b'{"results": ["' + b"x" * (2 << 20) + b'"]}'), "larger than"),
    HttpCase("next_other_origin", with_next("http://127.0.0.1:1/api/v1/fees"), "another origin"),
    HttpCase("next_file_url", with_next("file:///etc/passwd"), "another origin"),
    HttpCase("next_not_a_link", with_next({"href": 3}), "is not a link"),
    HttpCase("next_bad_port", with_next("http://127.0.0.1:99999/x"), "another origin"),
    HttpCase("next_bad_host", with_next("http://[::1/x"), "another origin"),
    HttpCase("next_loops", with_next(lambda h: h.path), "pagination does not end", config={}),
    HttpCase("endless_pages", endless, "pagination does not end"),
    HttpCase("redirect_other_origin", redirect("http://localhost:1/x"), "another origin"),
    HttpCase("redirect_to_file", redirect("file:///etc/passwd"), "HTTP 302"),  # not followed
    HttpCase(
        "redirect_same_origin",
        redirect(lambda h: f"/api/v1/redirected?academic_year={YEAR}"),
        "",
    ),
    HttpCase("basic_auth_from_url", basic_auth, "", base="http://reader:s3cr3t-Pa55@{host}"),
    HttpCase(
        "basic_auth_failing",
        status(500),
        "HTTP 500",
        base="http://reader:s3cr3t-Pa55@{host}",
    ),
    HttpCase(
        "bearer_token",
        bearer,
        "",
        config={"token_env": TOKEN_ENV},
        env={TOKEN_ENV: "tok-SECRET-0123456789"},
    ),
    HttpCase(
        "bearer_token_wrong",
        bearer,
        "HTTP 401",
        config={"token_env": TOKEN_ENV},
        env={TOKEN_ENV: "tok-SECRET-0123456789-but-wrong"},
    ),
    HttpCase(
        "bearer_token_missing", bearer, f"{TOKEN_ENV} is not set", config={"token_env": TOKEN_ENV}
    ),
    # the base URL's query is not carried to the pages' URLs, and never shown
    HttpCase("secret_in_query", status(500), "HTTP 500", base="{url}/?api_key=QUERYSECRET42"),
    HttpCase("not_http", ok, "is not an http(s) URL", base="file:///etc/"),
    HttpCase("invalid_base_url", ok, "is not an http(s) URL", base="http://[::1:{host}"),
    HttpCase("base_url_bad_port", ok, "is not an http(s) URL", base="http://127.0.0.1:99999"),
]


@pytest.fixture
def landing(tmp_path: Path, small_landing: Path) -> Path:
    landing = tmp_path / "landing"
    shutil.copytree(small_landing / "imtne" / "fees", landing / "imtne" / "fees")
    return landing


def _stage(landing: Path, pipeline: SchoolPipeline, database: Path):
    """The landing step (fetch), then staging from the landing zone: the staging report,
    the connection, and the errors of both steps."""
    conn = duckdb.connect(str(database))
    conn.execute(staging_ddl(ROOT / "sql"))
    _fetched, fetch_failures = fetch_landing(
        conn, pipeline, landing, (YEAR,), datasets=("tuition",)
    )
    report = stage_school_dataset(
        conn, pipeline, "tuition", landing, KEY, years=(YEAR,), validate=False, year=YEAR
    )
    return report, conn, [f.error for f in fetch_failures] + [u.error for u in report.failures]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_misbehaving_api(
    case: HttpCase, landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = landing / "imtne" / "fees" / str(YEAR)
    stored = {p.name: p.read_bytes() for p in folder.iterdir()}
    api = Api(case.behave, page=stored["page-0001.json"])
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    with _server(api) as url:
        host = urllib.parse.urlsplit(url).netloc
        monkeypatch.setenv(ENV, case.base.format(url=url, host=host))
        started = time.monotonic()
        report, conn, failures = _stage(landing, _pipeline(**case.config), tmp_path / "http.duckdb")
        elapsed = time.monotonic() - started
    assert elapsed < 10, f"{case.name} took {elapsed:.1f}s"
    # the year's rows loaded either way: fetched, or from the pages already there
    assert report.rows_loaded > 0 and report.rows_read == (
        report.rows_loaded + report.rows_quarantined
    )
    if case.expect:
        (error,) = failures
        assert error.startswith(f"IMTNE: imtne/fees/{YEAR}: ") or error.startswith(
            f"IMTNE: {ENV}: "
        ), error
        assert case.expect in error and "What to do:" in error, error
        # a failed fetch leaves the landing zone as it was
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == stored
        TALLY["http cases: refused with a clear error"] += 1
    else:
        assert failures == [], failures
        assert (folder / "page-0001.json").read_bytes() == stored["page-0001.json"]
        TALLY["http cases: fetched and loaded"] += 1
    dumped = "\n".join(
        str(row)
        for table in ("audit.loads", "audit.quarantine", "staging.tuition")
        for row in conn.execute(f"FROM {table}").fetchall()
    )
    conn.close()
    for secret in SECRETS:
        assert secret not in dumped and all(secret not in (f or "") for f in failures)
    if case.name == "redirect_other_origin" or case.name.startswith("next_"):
        assert len(api.requests) == 1  # the other origin was never asked
    if case.name == "bearer_token":
        assert all(r.get("Authorization", "").startswith("Bearer ") for r in api.requests)


# --- arbitrary answers (property-based) ----------------------------------------------------

_answers = st.fixed_dictionaries(
    {
        "status": st.sampled_from([200, 200, 200, 201, 204, 301, 302, 400, 403, 429, 500, 503]),
        "body": st.one_of(
            st.binary(max_size=2000),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                lambda children: st.lists(children, max_size=5)
                | st.dictionaries(st.sampled_from(["results", "next", "a", "b"]), children,
                                  max_size=5),
                max_leaves=30,
            ).map(lambda v: json.dumps(v).encode()),
        ),
        "headers": st.dictionaries(
            st.sampled_from(["Content-Type", "Content-Encoding", "Location", "Content-Length"]),
            st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
            max_size=3,
        ),
    }
)  # fmt: skip


@pytest.mark.timeout(300)
@given(answers=st.lists(_answers, min_size=1, max_size=4))
def test_any_answer_ends_in_pages_or_a_clear_error(
    answers: list[dict], tmp_path_factory: pytest.TempPathFactory
) -> None:
    landing = tmp_path_factory.mktemp("anyanswer")

    def behave(h, page, n):
        answer = answers[min(n, len(answers)) - 1]
        headers = dict(answer["headers"])
        if "Content-Length" in headers and not headers["Content-Length"].isdigit():
            headers.pop("Content-Length")
        _send(h, answer["body"], answer["status"], headers)
        h.close_connection = True

    pipeline = _pipeline(retries=0, deadline_s=2)
    api = Api(behave)
    with _server(api) as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV, url)
        try:
            fetched = fetch_http_pages(pipeline, "tuition", landing, (YEAR,))
        except SourceError as exc:
            assert str(exc).startswith("IMTNE: ") and "What to do:" in str(exc)
            TALLY["http arbitrary answers: refused"] += 1
        else:
            assert fetched == [f"imtne/fees/{YEAR}"]
            TALLY["http arbitrary answers: fetched"] += 1
