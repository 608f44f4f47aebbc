"""Fetch a paged JSON API into the landing zone, following ``next`` links.

The landing zone keeps every page as fetched, so a build reads the same bytes whether or not
the API is reachable; a fetch replaces one year's pages only once all of them arrived.

Nothing the API does can hang or mislead a build: every request has a socket timeout and an
overall deadline (a server dripping one byte at a time is cut off), pages have a size limit,
``next`` links and redirects must stay on the API's origin (so no local file or other host is
ever read, and the token goes nowhere else), and a broken answer is a SourceError naming the
school. The API token and any credentials in the base URL come from the environment only and
are never part of a message.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import suppress
from pathlib import Path

from imtetl.pipeline_config import HttpSource, SchoolPipeline
from imtetl.read.types import SourceError

#: The default page size limit (HttpSource.max_page_mb overrides it).
MAX_PAGE_BYTES = 64 * 1024 * 1024


_HINT = (
    "check that the API is up and its base URL ({env}) is right; the pages already in "
    "the landing zone were loaded instead"
)
_SECRET_PARAM = re.compile(r"token|key|secret|pass|auth|sig|session|credential", re.IGNORECASE)


def redact(url: str) -> str:
    """The URL as it may appear in messages: no user or password, secret-looking query
    parameters masked."""
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
    except ValueError:  # an invalid host or port: show no part of it
        return "(an invalid URL)"
    query = urllib.parse.urlencode(
        [
            (name, "***" if _SECRET_PARAM.search(name) else value)
            for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _origin(url: str) -> tuple[str, str]:
    """(scheme, host:port); an unparsable URL has an origin of its own, matching none."""
    try:
        parts = urllib.parse.urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower() + f":{parts.port or ''}"
    except ValueError:
        return "invalid", url


class _Refused(Exception):
    """An answer the fetch refuses (another origin, too large, too slow): not retried."""


class _Watchdog:
    """Shuts the request's socket down when the deadline passes, whatever phase it is in
    (connecting, headers, body): a blocked read then returns at once."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                self._shutdown()

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            with suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def _watched(base: type[http.client.HTTPConnection], watchdog: _Watchdog) -> type:
    class Connection(base):
        def connect(self) -> None:
            super().connect()
            watchdog.attach(self.sock)

    return Connection


class _HttpHandler(urllib.request.HTTPHandler):
    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self.watchdog = watchdog

    def http_open(self, req):
        return self.do_open(_watched(http.client.HTTPConnection, self.watchdog), req)


class _HttpsHandler(urllib.request.HTTPSHandler):
    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self.watchdog = watchdog

    def https_open(self, req):
        return self.do_open(
            _watched(http.client.HTTPSConnection, self.watchdog), req, context=self._context
        )


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects within the API's origin only (the token header is never forwarded)."""

    max_redirections = 5

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if _origin(newurl) != _origin(req.full_url):
            raise _Refused(f"redirect to another origin ({redact(newurl)}) refused")
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:  # same origin: the credentials follow
            new.unredirected_hdrs.update(req.unredirected_hdrs)
        return new


def _opener(watchdog: _Watchdog) -> urllib.request.OpenerDirector:
    """Only HTTP(S) handlers: no file:, ftp: or data: URL can ever be opened."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        _HttpHandler(watchdog),
        _HttpsHandler(watchdog),
        _SameOriginRedirects(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def _read_body(response, limit: int) -> bytes:
    chunks, size = [], 0
    while chunk := response.read1(1 << 16):
        size += len(chunk)
        if size > limit:
            raise _Refused(f"page larger than {limit / 1e6:g} MB")
        chunks.append(chunk)
    if response.length:  # the connection closed before Content-Length bytes came
        raise http.client.IncompleteRead(b"".join(chunks), response.length)
    return b"".join(chunks)


def _get(
    url: str,
    http_source: HttpSource,
    headers: dict[str, str],
    school: str,
    label: str,
    hint: str,
) -> bytes:
    """GET one page; timeouts, cut connections and 5xx answers are retried with backoff
    (transient), 4xx answers and refusals are not (permanent)."""
    limit = int(http_source.max_page_mb * 1024 * 1024)
    shown = redact(url)
    for attempt in range(http_source.retries + 1):
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        for name, value in headers.items():
            request.add_unredirected_header(name, value)
        watchdog = _Watchdog(http_source.deadline_s)
        try:
            with _opener(watchdog).open(request, timeout=http_source.timeout_s) as response:
                data = _read_body(response, limit)
            if watchdog.expired:  # cut off by the deadline: what came may look complete
                raise TimeoutError("deadline")
            return data
        except _Refused as exc:
            raise SourceError(school, label, f"{shown}: {exc}", hint=hint) from None
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == http_source.retries:
                raise SourceError(
                    school, label, f"HTTP {exc.code} from {shown}", hint=hint
                ) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            if watchdog.expired:
                reason = f"no complete answer within {http_source.deadline_s:g} s"
            else:
                reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
                reason = str(reason).replace(url, shown)
            if attempt == http_source.retries:
                raise SourceError(
                    school, label, f"cannot fetch {shown}: {reason}", hint=hint
                ) from None
        finally:
            watchdog.cancel()
        time.sleep(min(0.5 * 2**attempt, 5))
    raise AssertionError("unreachable")


def _credentials(http_source: HttpSource, base: str, school: str, hint: str) -> tuple[str, dict]:
    """The base URL without credentials, and the headers carrying them: the bearer token of
    ``token_env``, or the base URL's user and password as Basic authentication."""
    headers = {}
    try:
        parts = urllib.parse.urlsplit(base)
        valid = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        valid = valid and (parts.port is None or parts.port > 0)
    except ValueError:
        valid = False
    if not valid:
        raise SourceError(
            school,
            http_source.base_url_env,
            f"{http_source.base_url_env} is not an http(s) URL",
            hint=hint,
        )
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        base = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    if http_source.token_env:
        token = os.environ.get(http_source.token_env)
        if not token:
            raise SourceError(
                school,
                http_source.base_url_env,
                f"the API token variable {http_source.token_env} is not set",
                hint=f"set {http_source.token_env} from the secret store",
            )
        headers["Authorization"] = f"Bearer {token}"
    return base, headers


def fetch_http_pages(
    pipeline: SchoolPipeline, dataset: str, landing: Path, years: tuple[int, ...]
) -> list[str]:
    """Fetch every year's pages when the API's base URL is configured; return what was
    fetched (landing-relative folders). No base URL: nothing to do, the landing zone is used."""
    source = pipeline.datasets[dataset]
    http = source.http
    if http is None or not os.environ.get(http.base_url_env):
        return []
    fmt = pipeline.format_for(dataset)
    school = pipeline.school.code
    hint = _HINT.format(env=http.base_url_env)
    base, headers = _credentials(http, os.environ[http.base_url_env].strip(), school, hint)
    base = base.rstrip("/") + "/"
    fetched = []
    for year in years:
        target_first = landing / http.pages.format(year=year, page=1)
        label = str(target_first.parent.relative_to(landing))
        url = urllib.parse.urljoin(base, http.path.format(year=year).lstrip("/"))
        pages: list[bytes] = []
        seen = set()
        while url:
            shown = redact(url)
            if url in seen or len(pages) >= http.max_pages:
                raise SourceError(school, label, f"pagination does not end (at {shown})", hint=hint)
            seen.add(url)
            data = _get(url, http, headers, school, label, hint)
            try:
                page = json.loads(data)
            except (ValueError, RecursionError) as exc:  # JSON, UTF-8, nesting, huge numbers
                reason = " ".join(str(exc).split())[:200] or type(exc).__name__
                raise SourceError(
                    school, label, f"{shown} did not return JSON: {reason}", hint=hint
                ) from None
            if not isinstance(page, dict):
                raise SourceError(school, label, f"{shown} did not return a JSON object", hint=hint)
            pages.append(data)
            nxt = page.get(fmt.next_key)
            if nxt in (None, ""):
                break
            if not isinstance(nxt, str):
                raise SourceError(
                    school, label, f"{shown}: {fmt.next_key!r} is not a link", hint=hint
                )
            try:
                url = urllib.parse.urljoin(base, nxt)
            except ValueError:  # an invalid host or port
                url = "invalid:"
            if _origin(url) != _origin(base):
                raise SourceError(
                    school,
                    label,
                    f"{shown}: next link to another origin ({redact(url)}) refused",
                    hint=hint,
                )
        folder = target_first.parent
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=folder.parent))
        for number, data in enumerate(pages, start=1):
            (staging / Path(http.pages.format(year=year, page=number)).name).write_bytes(data)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
        fetched.append(label)
    return fetched
