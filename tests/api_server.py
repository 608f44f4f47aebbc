"""A real HTTP server on 127.0.0.1 serving IMT Nord Europe's API from stored pages."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@contextmanager
def serve_api(pages_root: Path, *, fail_with: int | None = None) -> Iterator[tuple[str, list]]:
    """``GET /api/v1/{resource}?academic_year=Y&page=N`` answers the stored page
    ``{pages_root}/{resource}/{Y}/page-{N:04d}.json``. Yields (base URL, request log)."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            parts = url.path.strip("/").split("/")
            if fail_with:
                self.send_error(fail_with)
                return
            if len(parts) != 3 or parts[:2] != ["api", "v1"]:
                self.send_error(404)
                return
            year = query.get("academic_year", [""])[0]
            page = int(query.get("page", ["1"])[0])
            path = pages_root / parts[2] / year / f"page-{page:04d}.json"
            if not path.is_file():
                self.send_error(404)
                return
            body = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    with serving(Handler) as base_url:
        yield base_url, requests


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free port of 127.0.0.1 in a thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
