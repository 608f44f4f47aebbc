"""JSON pages of a paged HTTP API, as kept in the landing zone: ``{results: [...], next}``.
Nested objects become dotted columns (``programme.code``)."""

from __future__ import annotations

import io
import json

import polars as pl

from imtetl.pipeline_config import FormatOptions
from imtetl.read.types import ROW, RawFrame, SourceError, SourceUnit


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


def _flat_columns(frame: pl.DataFrame, prefix: str = "") -> list[pl.Expr] | None:
    """Leaf columns of nested structs as dotted string columns; None if a leaf is a list."""
    exprs: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        exprs_of = _leaves(pl.col(name), dtype, f"{prefix}{name}")
        if exprs_of is None:
            return None
        exprs.extend(exprs_of)
    return exprs


def _leaves(expr: pl.Expr, dtype: pl.DataType, name: str) -> list[pl.Expr] | None:
    if isinstance(dtype, pl.Struct):
        out: list[pl.Expr] = []
        for field in dtype.fields:
            leaves = _leaves(expr.struct.field(field.name), field.dtype, f"{name}.{field.name}")
            if leaves is None:
                return None
            out.extend(leaves)
        return out
    if dtype.is_nested() or dtype == pl.Object:
        return None
    return [expr.cast(pl.String).alias(name)]


def _read_fast(
    unit: SourceUnit, fmt: FormatOptions, data: list[bytes] | None = None
) -> pl.DataFrame | None:
    """Pages parsed by Polars (no per-record Python); None when anything is unusual (a
    record that is not an object, lists, mixed types): then the careful path decides."""
    try:
        sources = [io.BytesIO(page) for page in data] if data is not None else unit.paths
        pages = [pl.read_json(source) for source in sources]
        if not all(fmt.records_key in p.columns for p in pages):
            return None
        results = [p.select(pl.col(fmt.records_key).explode()) for p in pages]
        if not all(isinstance(r.schema[fmt.records_key], pl.Struct) for r in results):
            return None
        if any(r[fmt.records_key].null_count() for r in results):
            return None  # a record that is not an object: the careful path says where
        records = pl.concat([r.unnest(fmt.records_key) for r in results], how="diagonal_relaxed")
        columns = _flat_columns(records)
        if columns is None or not records.height:
            return None
        return records.select(columns)
    except Exception:  # any surprise goes to the careful reader
        return None


def read(unit: SourceUnit, fmt: FormatOptions, data: list[bytes] | None = None) -> RawFrame:
    """``data``: the pages' bytes, in path order, when the caller has read them already."""
    fast = _read_fast(unit, fmt, data)
    if fast is not None:
        frame = fast.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
        return RawFrame(unit, frame, list(fast.columns))
    records: list[dict[str, str | None]] = []
    for number, path in enumerate(unit.paths):
        name = path.name
        try:
            page = json.loads(data[number] if data is not None else path.read_bytes())
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
