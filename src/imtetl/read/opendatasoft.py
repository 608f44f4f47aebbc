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
between two packets)."""

from __future__ import annotations

import functools
import hashlib
import http.client
import socket
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

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


class _ConnectWithin:
    """An HTTP(S) connection whose connect (TCP, and TLS handshake for HTTPS) must finish
    within ``connect_timeout``; reads then wait up to the request's own timeout."""

    def __init__(self, *args, connect_timeout: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._connect_timeout = connect_timeout

    def connect(self) -> None:
        read_timeout = self.timeout
        self.timeout = self._connect_timeout
        try:
            super().connect()
        finally:
            self.timeout = read_timeout
        self.sock.settimeout(read_timeout)


class _TimedHTTPConnection(_ConnectWithin, http.client.HTTPConnection):
    pass


class _TimedHTTPSConnection(_ConnectWithin, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, connect_timeout: float) -> None:
        super().__init__()
        self._connect_timeout = connect_timeout

    def http_open(self, req):
        connection = functools.partial(_TimedHTTPConnection, connect_timeout=self._connect_timeout)
        return self.do_open(connection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, connect_timeout: float) -> None:
        super().__init__(context=ssl.create_default_context())
        self._connect_timeout = connect_timeout

    def https_open(self, req):
        connection = functools.partial(_TimedHTTPSConnection, connect_timeout=self._connect_timeout)
        return self.do_open(connection, req, context=self._context)


def _check_resolves(host: str, port: int, timeout: float) -> None:
    """Resolve ``host`` within ``timeout``: a stuck resolver otherwise blocks far longer
    than any socket timeout. The lookup runs in a daemon thread that may outlive us."""
    outcome: dict[str, object] = {}

    def lookup() -> None:
        try:
            outcome["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=lookup, name=f"resolve-{host}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise PortalUnavailable(f"DNS lookup of {host} gave no answer within {timeout:g}s")
    if "error" in outcome:
        raise PortalUnavailable(f"DNS lookup of {host} failed ({outcome['error']})")


def _reason(exc: BaseException, connect_timeout: float, read_timeout: float) -> str:
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, socket.gaierror):
        return f"DNS lookup failed ({reason})"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError | socket.timeout):
        return f"no answer in time (connect {connect_timeout:g}s, read {read_timeout:g}s)"
    if isinstance(reason, ssl.SSLError):
        return f"TLS error ({reason})"
    return f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__


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
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxies = urllib.request.getproxies()
    if parts.scheme not in proxies or urllib.request.proxy_bypass(parts.hostname):
        _check_resolves(parts.hostname, port, connect_timeout)
    opener = urllib.request.build_opener(
        _HTTPHandler(connect_timeout), _HTTPSHandler(connect_timeout)
    )
    request = urllib.request.Request(
        url, headers={"Accept": "text/csv", "User-Agent": "imtetl (IMT warehouse)"}
    )
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as out:  # a local error here is not the portal's
        try:
            with opener.open(request, timeout=read_timeout) as response:
                for block in iter(lambda: response.read(1 << 20), b""):
                    size += len(block)
                    if size > max_bytes:
                        raise PortalError(f"the export exceeds {max_bytes:,} bytes")
                    digest.update(block)
                    out.write(block)
        except urllib.error.HTTPError as exc:
            message = f"HTTP {exc.code} {exc.reason}"
            if exc.code >= 500 or exc.code == 429:
                raise PortalUnavailable(message) from exc
            raise PortalError(message) from exc
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            raise PortalUnavailable(_reason(exc, connect_timeout, read_timeout)) from exc
    return digest.hexdigest()
