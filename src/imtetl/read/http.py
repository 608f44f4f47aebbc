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
import json
import os
import shutil
import tempfile
import urllib.parse
from pathlib import Path

from imtetl.pipeline_config import HttpSource, SchoolPipeline
from imtetl.read.client import Client, HttpStatus, NoAnswer, Refused, TooLarge, origin, redact
from imtetl.read.types import SourceError

#: The default page size limit (HttpSource.max_page_mb overrides it).
MAX_PAGE_BYTES = 64 * 1024 * 1024


_HINT = (
    "check that the API is up and its base URL ({env}) is right; the pages already in "
    "the landing zone were loaded instead"
)

__all__ = ["MAX_PAGE_BYTES", "fetch_http_pages", "redact"]


def _get(
    client: Client, url: str, http_source: HttpSource, school: str, label: str, hint: str
) -> bytes:
    """GET one page; timeouts, cut connections and 5xx answers are retried with backoff
    (transient), 4xx answers and refusals are not (permanent)."""
    shown = redact(url)
    try:
        return client.read(url, deadline=http_source.deadline_s, retries=http_source.retries)
    except TooLarge as exc:
        reason = f"{shown}: page larger than {exc.limit / 1e6:g} MB"
    except Refused as exc:
        reason = f"{shown}: {exc}"
    except HttpStatus as exc:
        reason = f"HTTP {exc.code} from {shown}"
    except NoAnswer as exc:
        reason = f"cannot fetch {shown}: {exc}"
    raise SourceError(school, label, reason, hint=hint)


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
        token = os.environ.get(http_source.token_env, "").strip()  # a secret file's newline
        if not (token.isascii() and token.isprintable()):  # never sent, nor shown
            problem = "holds characters an HTTP header cannot carry"
        else:
            problem = "is not set" if not token else ""
        if problem:
            raise SourceError(
                school,
                http_source.base_url_env,
                f"the API token variable {http_source.token_env} {problem}",
                hint=f"set {http_source.token_env} from the secret store",
            )
        headers["Authorization"] = f"Bearer {token}"
    return base, headers


def _pages(
    client: Client, base: str, url: str, http: HttpSource, next_key: str, where: tuple[str, str]
) -> list[bytes]:
    """One year's pages from ``url`` on, following ``next`` links on the base URL's origin."""
    school, label = where
    hint = _HINT.format(env=http.base_url_env)
    pages: list[bytes] = []
    seen = set()
    while url:
        shown = redact(url)
        if url in seen or len(pages) >= http.max_pages:
            raise SourceError(school, label, f"pagination does not end (at {shown})", hint=hint)
        seen.add(url)
        data = _get(client, url, http, school, label, hint)
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
        nxt = page.get(next_key)
        if nxt in (None, ""):
            break
        if not isinstance(nxt, str):
            raise SourceError(school, label, f"{shown}: {next_key!r} is not a link", hint=hint)
        try:
            url = urllib.parse.urljoin(base, nxt)
        except ValueError:  # an invalid host or port
            url = "invalid:"
        if origin(url) != origin(base):
            raise SourceError(
                school,
                label,
                f"{shown}: next link to another origin ({redact(url)}) refused",
                hint=hint,
            )
    return pages


def fetch_http_pages(
    pipeline: SchoolPipeline, dataset: str, landing: Path, years: tuple[int, ...]
) -> list[str]:
    """Fetch every year's pages when the API's base URL is configured; return what was
    fetched (landing-relative folders). No base URL: nothing to do, the landing zone is used."""
    source = pipeline.datasets[dataset]
    http = source.http
    if http is None or not os.environ.get(http.base_url_env):
        return []
    next_key = pipeline.format_for(dataset).next_key
    school = pipeline.school.code
    hint = _HINT.format(env=http.base_url_env)
    base, headers = _credentials(http, os.environ[http.base_url_env].strip(), school, hint)
    base = base.rstrip("/") + "/"
    fetched = []
    with Client(
        connect_timeout=http.timeout_s,
        read_timeout=http.timeout_s,
        max_bytes=int(http.max_page_mb * 1024 * 1024),
        headers={"Accept": "application/json", **headers},
    ) as client:
        for year in years:
            folder = (landing / http.pages.format(year=year, page=1)).parent
            label = str(folder.relative_to(landing))
            url = urllib.parse.urljoin(base, http.path.format(year=year).lstrip("/"))
            pages = _pages(client, base, url, http, next_key, (school, label))
            folder.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=folder.parent))
            for number, data in enumerate(pages, start=1):
                (staging / Path(http.pages.format(year=year, page=number)).name).write_bytes(data)
            if folder.exists():
                shutil.rmtree(folder)
            staging.rename(folder)
            fetched.append(label)
    return fetched
