"""A real HTTP server on 127.0.0.1 answering the Opendatasoft export API from files:
``GET /api/explore/v2.1/catalog/datasets/{dataset_id}/exports/csv`` sends
``exports[dataset_id]`` as it is on disk (never copied)."""

from __future__ import annotations

import socket
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.api_server import serving

PREFIX = "/api/explore/v2.1/catalog/datasets/"


@contextmanager
def serve_exports(
    exports: dict[str, Path], *, fail_with: int | None = None, body: bytes | None = None
) -> Iterator[tuple[str, list[str]]]:
    """Yields (base URL, request log). ``fail_with`` answers every request with that HTTP
    status; ``body`` answers 200 with those bytes instead of the file (a broken portal)."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            path = urllib.parse.urlsplit(self.path).path
            if fail_with:
                self.send_error(fail_with)
                return
            if not (path.startswith(PREFIX) and path.endswith("/exports/csv")):
                self.send_error(404)
                return
            dataset_id = path[len(PREFIX) : -len("/exports/csv")]
            if dataset_id not in exports:
                self.send_error(404, f"unknown dataset {dataset_id}")
                return
            data = body if body is not None else exports[dataset_id].read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "text/csv; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    with serving(Handler) as base_url:
        yield base_url, requests


@contextmanager
def silent_portal() -> Iterator[str]:
    """A portal that accepts connections and never answers (a hung server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        listener.close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
