"""Download a dataset export from an Opendatasoft portal (the ministry's open-data portal).

``{base}/api/explore/v2.1/catalog/datasets/{dataset_id}/exports/csv`` answers the whole
dataset as one `;`-separated CSV. The download goes to a temporary file and is only kept
(by the caller) once it parsed. Failures come in two kinds:

- :class:`PortalUnavailable` — no answer: DNS failure, refused or timed-out connection,
  5xx or 429. Transient: a cached copy may stand in, and an offline build skips the source.
- :class:`PortalError` — an answer that is wrong: 4xx (a renamed dataset), or a body that is
  not the expected CSV. Permanent until someone looks.

Connecting has its own short timeout (``connect_timeout``, DNS included), so that a machine
without internet fails in seconds; reading a large export may take longer (``read_timeout``
between two packets). The request goes through the readers' HTTP client (read.client):
redirects to any http(s) URL are followed, the environment's proxies are used."""

from __future__ import annotations

import hashlib
import urllib.parse
from pathlib import Path

from imtetl.read.client import Client, HttpStatus, NoAnswer, Refused, TooLarge, transient

EXPORT_PATH = "/api/explore/v2.1/catalog/datasets/{dataset_id}/exports/csv"
MAX_EXPORT_BYTES = 512 * 1024 * 1024


class PortalUnavailable(Exception):
    """The portal did not answer (network, timeout, 5xx): transient."""


class PortalError(Exception):
    """The portal answered with something unusable (4xx, not the expected CSV)."""


def export_url(base_url: str, dataset_id: str) -> str:
    """The CSV export of a whole dataset, `;`-separated, headers as the portal's labels."""
    query = urllib.parse.urlencode({"delimiter": ";", "use_labels": "true"})
    return f"{base_url.rstrip('/')}{EXPORT_PATH.format(dataset_id=dataset_id)}?{query}"


def download(
    url: str,
    target: Path,
    *,
    connect_timeout: float,
    read_timeout: float,
    max_bytes: int = MAX_EXPORT_BYTES,
) -> str:
    """GET ``url`` into ``target`` (replaced); return the SHA-256 of the bytes received."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PortalError(f"not an http(s) URL: {url!r}")
    client = Client(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_bytes=max_bytes,
        headers={"Accept": "text/csv"},
        same_origin=False,
        env_proxies=True,
    )
    digest = hashlib.sha256()
    with target.open("wb") as out, client:  # a local error (open, write) passes as it is

        def write(block: bytes) -> None:
            digest.update(block)
            out.write(block)

        try:
            client.get(url, write)
        except TooLarge as exc:
            raise PortalError(f"the export exceeds {max_bytes:,} bytes") from exc
        except (HttpStatus, NoAnswer) as exc:  # 5xx, 429 and no answer: transient
            raise (PortalUnavailable if transient(exc) else PortalError)(str(exc)) from exc
        except Refused as exc:
            raise PortalError(str(exc)) from exc
    return digest.hexdigest()
