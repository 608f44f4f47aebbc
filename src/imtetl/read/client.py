"""The one HTTP client of the readers (httpx): the school APIs' pages (read.http) and the
ministry's Opendatasoft exports (read.opendatasoft) are fetched through it.

Nothing a server does can hang or mislead a fetch:

- every socket operation has a timeout, and a request may have an overall deadline: each
  read, write, connect and DNS lookup waits at most until it, so a server dripping bytes (in
  its headers or its body) is cut off when it passes;
- the host name is resolved in a thread given the connect timeout: a stuck resolver (a
  machine without network) fails in seconds;
- a body larger than the limit is refused, on its Content-Length before reading, or as soon
  as the bytes received pass it;
- redirects are followed by hand: http(s) only, 5 at most, on the first URL's origin only
  when ``same_origin`` (the credentials then never leave it);
- failures are three exceptions with a readable reason, never a URL with credentials.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from functools import cache

import httpcore
import httpx
import tenacity

USER_AGENT = "imtetl (IMT warehouse)"
MAX_REDIRECTS = 5
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


def origin(url: str) -> tuple[str, str]:
    """(scheme, host:port); an unparsable URL has an origin of its own, matching none."""
    try:
        parts = urllib.parse.urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower() + f":{parts.port or ''}"
    except ValueError:
        return "invalid", url


class FetchError(Exception):
    """A request that gave no usable answer."""


class Refused(FetchError):
    """An answer refused (a redirect to another origin, an invalid URL): permanent."""


class TooLarge(Refused):
    """A body above the limit (``limit`` bytes)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit:,} bytes")
        self.limit = limit


class HttpStatus(FetchError):
    """A status other than 2xx, or a redirect that is not followed (no http(s) target, too
    many of them). 5xx and 429 are transient, the others permanent."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"HTTP {code} {reason}".rstrip())
        self.code = code
        self.reason = reason


class NoAnswer(FetchError):
    """No complete answer: DNS, connection, TLS, timeout, deadline, a cut or broken body.
    Transient."""


def transient(exc: BaseException) -> bool:
    """A failure that may pass: no answer, or an overloaded server (5xx, 429)."""
    if isinstance(exc, HttpStatus):
        return exc.code >= 500 or exc.code == 429
    return isinstance(exc, NoAnswer)


def _retried(exc: BaseException) -> bool:
    """Retried at once: no answer or 5xx (a rate limit, 429, is not)."""
    return transient(exc) and getattr(exc, "code", 500) != 429


class _Deadline:
    """The current request's overall deadline, which every socket operation keeps."""

    def __init__(self) -> None:
        self.seconds: float | None = None
        self._until: float | None = None

    def start(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._until = None if seconds is None else time.monotonic() + seconds

    @property
    def expired(self) -> bool:
        return self._until is not None and time.monotonic() >= self._until

    def error(self) -> NoAnswer:
        return NoAnswer(f"no complete answer within {self.seconds:g} s")

    def bound(self, timeout: float | None) -> float | None:
        """``timeout`` shortened to the time left; raises once the deadline passed."""
        if self._until is None:
            return timeout
        left = self._until - time.monotonic()
        if left <= 0:
            raise self.error()
        return left if timeout is None else min(timeout, left)


def _resolve(host: str, port: int, timeout: float | None) -> list[str]:
    """The addresses of ``host`` within ``timeout``: a stuck resolver otherwise blocks far
    longer than any socket timeout. The lookup runs in a daemon thread that may outlive us."""
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    outcome: dict[str, object] = {}

    def lookup() -> None:
        try:
            outcome["found"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=lookup, name=f"resolve-{host}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise NoAnswer(f"DNS lookup of {host} gave no answer within {timeout:g} s")
    if "error" in outcome:
        raise NoAnswer(f"DNS lookup of {host} failed ({outcome['error']})")
    return list(dict.fromkeys(str(info[4][0]) for info in outcome["found"]))


class _Stream(httpcore.NetworkStream):
    """A connection whose every operation also keeps the deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._deadline.bound(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._deadline.bound(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> _Stream:
        tls = self._stream.start_tls(ssl_context, server_hostname, self._deadline.bound(timeout))
        return _Stream(tls, self._deadline)

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """httpcore's sockets, with the lookup bounded and the deadline kept."""

    def __init__(self, deadline: _Deadline) -> None:
        self._sync = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> _Stream:
        failure: Exception | None = None
        for address in _resolve(host, port, self._deadline.bound(timeout)):
            try:
                stream = self._sync.connect_tcp(
                    address, port, self._deadline.bound(timeout), local_address, socket_options
                )
            except httpcore.ConnectError as exc:  # the next address, if any
                failure = exc
            else:
                return _Stream(stream, self._deadline)
        raise failure or NoAnswer(f"DNS lookup of {host} found no address")

    def sleep(self, seconds: float) -> None:
        self._sync.sleep(seconds)


@cache
def _tls() -> ssl.SSLContext:
    """The system's certificate store (as urllib uses), not certifi's."""
    return ssl.create_default_context()


class _Transport(httpx.HTTPTransport):
    """httpx's transport on a connection pool whose sockets come from :class:`_Backend`.

    httpx 0.28 takes no network backend (encode/httpx#3749 proposes one), so its pool is
    replaced; the check fails loudly should httpx rename it."""

    def __init__(self, deadline: _Deadline) -> None:
        super().__init__(verify=_tls(), trust_env=False)
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            raise RuntimeError("httpx.HTTPTransport has no httpcore pool to replace")
        self._pool = httpcore.ConnectionPool(ssl_context=_tls(), network_backend=_Backend(deadline))


def _env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (as urllib's), or None."""
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _root(exc: BaseException) -> BaseException:
    """The OS or TLS error under httpx's and httpcore's (which hold it as cause or argument;
    httpcore's pool re-raises ``from None``)."""
    for _ in range(10):
        inner = exc.__cause__ or next((a for a in exc.args if isinstance(a, BaseException)), None)
        if inner is None:
            break
        exc = inner
    return exc


def _reason(exc: httpx.HTTPError, timeout: httpx.Timeout) -> str:
    root = _root(exc)
    if isinstance(root, ConnectionRefusedError):
        return "connection refused"
    if isinstance(root, ssl.SSLError):
        return f"TLS error ({root})"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no answer in time (connect timed out after {timeout.connect:g} s)"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer in time (read timed out after {timeout.read:g} s)"
    if isinstance(exc, httpx.LocalProtocolError):  # its message would show the header
        return "the request cannot be sent (a header value that HTTP forbids)"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Client:
    """GET requests to one kind of server, one request at a time (not thread-safe).

    ``connect_timeout`` bounds the DNS lookup, the connection and the TLS handshake,
    ``read_timeout`` each wait for bytes; ``max_bytes`` a body. ``headers`` go with every
    request, an ``Authorization`` among them to the first URL's origin only. ``same_origin``:
    a redirect elsewhere is refused (otherwise followed, without ``Authorization``).
    ``env_proxies``: the proxies of the environment (HTTPS_PROXY…) are used, as urllib does."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_bytes: int,
        headers: dict[str, str],
        same_origin: bool = True,
        env_proxies: bool = False,
    ) -> None:
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout)
        self._max_bytes = max_bytes
        self._headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **headers}
        self._same_origin = same_origin
        self._env_proxies = env_proxies
        self._deadline = _Deadline()
        self._clients: dict[str | None, httpx.Client] = {}

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def get(
        self, url: str, write: Callable[[bytes], object], *, deadline: float | None = None
    ) -> None:
        """GET ``url`` and hand its body to ``write``, block by block (the body as sent:
        no content decoding). ``deadline``: seconds for the whole of it, redirects included.
        Raises Refused, TooLarge, HttpStatus or NoAnswer; what ``write`` raises passes."""
        self._deadline.start(deadline)
        try:
            self._follow(url, write)
        except NoAnswer:
            if self._deadline.expired:
                raise self._deadline.error() from None
            raise
        except httpx.InvalidURL:
            raise Refused("not a valid URL") from None
        except UnicodeEncodeError:  # a header value that is not ASCII (never shown)
            raise Refused("the request cannot be sent (a header value that is not ASCII)") from None
        except httpx.HTTPError as exc:
            if self._deadline.expired:
                raise self._deadline.error() from None
            raise NoAnswer(_reason(exc, self._timeout)) from None
        finally:
            self._deadline.start(None)

    def read(self, url: str, *, deadline: float | None = None, retries: int = 0) -> bytes:
        """The body of ``url``; no answer and 5xx answers are retried ``retries`` times,
        after 0.5 s, 1 s, 2 s… (5 s at most), each attempt with its own ``deadline``."""

        def attempt() -> bytes:
            blocks: list[bytes] = []
            self.get(url, blocks.append, deadline=deadline)
            return b"".join(blocks)

        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(retries + 1),
            wait=tenacity.wait_exponential(multiplier=0.5, max=5),
            retry=tenacity.retry_if_exception(_retried),
            reraise=True,
        )(attempt)

    def _http(self, url: str) -> httpx.Client:
        proxy = _env_proxy(url) if self._env_proxies else None
        if proxy not in self._clients:
            transport = (
                httpx.HTTPTransport(verify=_tls(), trust_env=False, proxy=proxy)
                if proxy
                else _Transport(self._deadline)
            )
            self._clients[proxy] = httpx.Client(
                transport=transport, timeout=self._timeout, follow_redirects=False, trust_env=False
            )
        return self._clients[proxy]

    def _follow(self, url: str, write: Callable[[bytes], object]) -> None:
        first, headers = origin(url), dict(self._headers)
        for _ in range(MAX_REDIRECTS + 1):
            with self._http(url).stream("GET", url, headers=headers) as response:
                status = HttpStatus(response.status_code, response.reason_phrase)
                location = response.headers.get("Location")
                if not response.has_redirect_location:
                    if not response.is_success:
                        raise status
                    self._read(response, write)
                    return
            try:
                url = urllib.parse.urljoin(url, location)
            except ValueError:  # an invalid host or port
                url = "invalid:"
            if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                raise status  # not followed (file:, ftp:…)
            if origin(url) != first:
                if self._same_origin:
                    raise Refused(f"redirect to another origin ({redact(url)}) refused")
                headers.pop("Authorization", None)
        raise HttpStatus(status.code, f"{status.reason} (more than {MAX_REDIRECTS} redirects)")

    def _read(self, response: httpx.Response, write: Callable[[bytes], object]) -> None:
        length = response.headers.get("Content-Length", "")
        expected = int(length) if re.fullmatch(r"[0-9]+", length) else None
        if expected is not None and expected > self._max_bytes:
            raise TooLarge(self._max_bytes)
        received = 0
        try:
            for block in response.iter_raw():
                received += len(block)
                if received > self._max_bytes:
                    raise TooLarge(self._max_bytes)
                self._deadline.bound(None)
                write(block)
        except httpx.RemoteProtocolError:
            if expected is not None and received < expected:  # the connection closed early
                more = expected - received
                raise NoAnswer(
                    f"IncompleteRead({received} bytes read, {more} more expected)"
                ) from None
            raise


class _RedactedUrls(logging.Filter):
    """httpx logs each request's URL (INFO): its secret-looking parameters are masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact(str(arg)) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_RedactedUrls())
