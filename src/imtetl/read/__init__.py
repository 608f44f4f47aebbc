"""Read: school exports (files in the landing zone, or HTTP pages fetched into it) into raw
Polars frames of strings, one per source unit, with a 1-based ``__row`` column."""

from imtetl.read.base import discover_units, read_unit
from imtetl.read.http import fetch_http_pages
from imtetl.read.types import ROW, RawFrame, SourceError, SourceUnit

__all__ = [
    "ROW",
    "RawFrame",
    "SourceError",
    "SourceUnit",
    "discover_units",
    "fetch_http_pages",
    "read_unit",
]
