"""JSON pages of a paged HTTP API, as kept in the landing zone: ``{results: [...], next}``.
Nested objects become dotted columns (``programme.code``)."""

from __future__ import annotations

import json

import polars as pl

from imtetl.pipeline_config import FormatOptions
from imtetl.read.base import ROW, RawFrame, SourceError, SourceUnit


def _flatten(record: dict, prefix: str = "") -> dict[str, str | None]:
    flat: dict[str, str | None] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif value is None:
            flat[name] = None
        elif isinstance(value, bool):
            flat[name] = "true" if value else "false"
        elif isinstance(value, list):
            flat[name] = json.dumps(value, ensure_ascii=False)
        else:
            flat[name] = str(value)
    return flat


def read(unit: SourceUnit, fmt: FormatOptions) -> RawFrame:
    records: list[dict[str, str | None]] = []
    for path in unit.paths:
        name = path.name
        try:
            page = json.loads(path.read_bytes())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SourceError(
                unit.school,
                unit.source_file,
                f"page {name} is not valid JSON: {exc}",
                hint="fetch the pages again from the school's API",
            ) from exc
        if not isinstance(page, dict) or not isinstance(page.get(fmt.records_key), list):
            raise SourceError(
                unit.school,
                unit.source_file,
                f"page {name} has no list {fmt.records_key!r} of records",
                hint="fetch the pages again, or fix format.records_key in the school's YAML",
            )
        for index, record in enumerate(page[fmt.records_key], start=1):
            if not isinstance(record, dict):
                raise SourceError(
                    unit.school,
                    unit.source_file,
                    f"page {name}: record {index} is a {type(record).__name__}, not an object",
                    row=len(records) + 1,
                )
            records.append(_flatten(record))
    if not records:
        raise SourceError(
            unit.school,
            unit.source_file,
            "no records in any page",
            hint="fetch the pages again from the school's API",
        )
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(record))
    frame = pl.DataFrame(
        {name: [r.get(name) for r in records] for name in columns},
        schema={name: pl.String for name in columns},
    )
    frame = frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    return RawFrame(unit, frame, list(columns))
