"""Fetch a paged JSON API into the landing zone, following ``next`` links.

The landing zone keeps every page as fetched, so a build reads the same bytes whether or not
the API is reachable; a fetch replaces one year's pages only once all of them arrived.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from imtetl.pipeline_config import SchoolPipeline
from imtetl.read.base import SourceError

MAX_PAGE_BYTES = 64 * 1024 * 1024


_HINT = (
    "check that the API is up and its base URL ({env}) is right; the pages already in "
    "the landing zone were loaded instead"
)


def _get(url: str, timeout: float, school: str, label: str, hint: str, retries: int = 0) -> bytes:
    """GET one page; timeouts, refused connections and 5xx answers are retried with backoff
    (transient), 4xx answers are not (permanent)."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    for attempt in range(retries + 1):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                data = response.read(MAX_PAGE_BYTES + 1)
            break
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == retries:
                raise SourceError(school, label, f"HTTP {exc.code} from {url}", hint=hint) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            if attempt == retries:
                reason = getattr(exc, "reason", exc)
                raise SourceError(
                    school, label, f"cannot reach {url}: {reason}", hint=hint
                ) from exc
        time.sleep(min(0.5 * 2**attempt, 5))
    if len(data) > MAX_PAGE_BYTES:
        raise SourceError(
            school, label, f"page from {url} exceeds {MAX_PAGE_BYTES} bytes", hint=hint
        )
    return data


def fetch_http_pages(
    pipeline: SchoolPipeline, dataset: str, landing: Path, years: tuple[int, ...]
) -> list[str]:
    """Fetch every year's pages when the API's base URL is configured; return what was
    fetched (landing-relative folders). No base URL: nothing to do, the landing zone is used."""
    source = pipeline.datasets[dataset]
    http = source.http
    if http is None or not os.environ.get(http.base_url_env):
        return []
    base = os.environ[http.base_url_env].rstrip("/") + "/"
    fmt = pipeline.format_for(dataset)
    school = pipeline.school.code
    hint = _HINT.format(env=http.base_url_env)
    fetched = []
    for year in years:
        target_first = landing / http.pages.format(year=year, page=1)
        label = str(target_first.parent.relative_to(landing))
        url = urllib.parse.urljoin(base, http.path.format(year=year).lstrip("/"))
        pages: list[bytes] = []
        seen = set()
        while url:
            if url in seen or len(pages) >= http.max_pages:
                raise SourceError(school, label, f"pagination does not end (at {url})", hint=hint)
            seen.add(url)
            data = _get(url, http.timeout_s, school, label, hint, http.retries)
            try:
                page = json.loads(data)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise SourceError(
                    school, label, f"{url} did not return JSON: {exc}", hint=hint
                ) from exc
            if not isinstance(page, dict):
                raise SourceError(school, label, f"{url} did not return a JSON object", hint=hint)
            pages.append(data)
            nxt = page.get(fmt.next_key)
            url = urllib.parse.urljoin(base, nxt) if nxt else ""
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
