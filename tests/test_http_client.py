"""The readers' one HTTP client (imtetl.read.client): what the fuzz tests of the school API
(test_fuzz_http.py) and of the portal (test_national.py) do not reach — a stuck resolver,
a refused header, the proxies and logs."""

from __future__ import annotations

import logging
import socket
import time
from http.server import BaseHTTPRequestHandler

import pytest

from imtetl.read.client import Client, HttpStatus, NoAnswer, Refused, TooLarge
from tests.api_server import serving


def _client(**options) -> Client:
    settings = {"connect_timeout": 1, "read_timeout": 1, "max_bytes": 1000, "headers": {}}
    return Client(**{**settings, **options})


class _Echo(BaseHTTPRequestHandler):
    """``/big`` declares a large body and sends none; ``/to?u`` redirects to ``u``; any
    other path answers its request's Authorization header."""

    def do_GET(self) -> None:
        if self.path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(10**9))
            self.end_headers()
            return
        if self.path.startswith("/to?"):
            self.send_response(302)
            self.send_header("Location", self.path[len("/to?") :])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = (self.headers.get("Authorization") or "-").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def stuck_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def slow(*args, **kwargs):
        time.sleep(3)
        return real(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)


def test_a_stuck_resolver_is_bounded_by_the_connect_timeout(stuck_resolver: None) -> None:
    started = time.monotonic()
    with _client(connect_timeout=0.3) as client, pytest.raises(NoAnswer, match="DNS lookup"):
        client.read("http://localhost:9/")
    assert time.monotonic() - started < 1.5


def test_a_stuck_resolver_is_bounded_by_the_deadline(stuck_resolver: None) -> None:
    started = time.monotonic()
    expected = pytest.raises(NoAnswer, match=r"no complete answer within 0\.4 s")
    with _client(connect_timeout=5) as client, expected:
        client.read("http://localhost:9/", deadline=0.4)
    assert time.monotonic() - started < 1.5


def test_content_length_above_the_limit_is_refused_before_the_body() -> None:
    with serving(_Echo) as url, _client() as client, pytest.raises(TooLarge):
        client.read(f"{url}/big", deadline=2)  # no body is ever sent: not read


def test_a_header_http_forbids_is_never_shown() -> None:
    headers = {"Authorization": "Bearer tok-SECRET\r\nX-Injected: 1"}
    refused = pytest.raises((NoAnswer, Refused))
    with serving(_Echo) as url, _client(headers=headers) as client, refused as caught:
        client.read(url)
    assert "SECRET" not in str(caught.value)


def test_redirects_elsewhere_refused_or_followed_without_credentials() -> None:
    headers = {"Authorization": "Bearer tok-SECRET"}
    with serving(_Echo) as url:
        other = url.replace("127.0.0.1", "localhost")  # another origin, the same server
        with _client(headers=headers) as client:
            assert client.read(f"{url}/to?/same") == b"Bearer tok-SECRET"
            with pytest.raises(Refused, match="another origin"):
                client.read(f"{url}/to?{other}/x")
        with _client(headers=headers, same_origin=False) as client:
            assert client.read(f"{url}/to?{other}/x") == b"-"
            with pytest.raises(HttpStatus, match="HTTP 302"):
                client.read(f"{url}/to?file:///etc/passwd")


def test_environment_proxies_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    with serving(_Echo) as url:
        monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # a proxy that refuses
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        with _client() as client:
            assert client.read(url) == b"-"
        with _client(env_proxies=True) as client, pytest.raises(NoAnswer, match="refused"):
            client.read(url)


def test_logged_urls_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    with serving(_Echo) as url, _client() as client, caplog.at_level(logging.INFO, "httpx"):
        client.read(f"{url}/page?api_key=QUERYSECRET42&page=2")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "page=2" in logged and "QUERYSECRET42" not in logged
