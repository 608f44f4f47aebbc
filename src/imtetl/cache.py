"""A cache of derived, version-keyed files kept between builds (``IMTETL_CACHE_DIR``, default
``~/.cache/imtetl``): tables the libraries would rebuild in every process (country names
in two languages, the Vega bundle of the report). Deleting it is always safe."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    from imtetl.settings import environment

    if value := environment().cache_dir:
        return Path(value)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "imtetl"


def versions_key(*packages: str) -> str:
    """A file-name-safe key of the installed versions of ``packages``."""
    parts = []
    for package in packages:
        try:
            parts.append(f"{package}{version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package}-none")
    return "-".join(parts).replace("/", "_")


def write_atomically(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all; a read-only cache is silently skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError:
        pass


def cached_json(name: str, build: Callable[[], Any], *packages: str) -> Any:
    """``build()``'s JSON-able result, kept in the cache under ``name`` and the versions."""
    path = cache_dir() / f"{name}-{versions_key(*packages)}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    value = build()
    write_atomically(path, json.dumps(value, ensure_ascii=False))
    return value
