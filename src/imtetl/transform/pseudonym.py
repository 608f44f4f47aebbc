"""Keyed pseudonyms for student ids: HMAC-SHA256 of ``school:local id``.

The key comes from ``IMTETL_PSEUDONYM_KEY``. Only for the bundled sample may it be missing:
then a random key is generated once into an untracked file (``.imtetl/pseudonym_key``) and a
warning says so. The key is never logged, written to the warehouse or to Dagster metadata.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import warnings
from pathlib import Path

import polars as pl

KEY_ENV = "IMTETL_PSEUDONYM_KEY"


class PseudonymKeyWarning(UserWarning):
    pass


class MissingKeyError(RuntimeError):
    pass


def load_key(key_file: Path, *, sample: bool = True) -> bytes:
    """The HMAC key: from the environment; for the bundled sample only, from the key file
    (created on first use, with a warning)."""
    value = os.environ.get(KEY_ENV)
    if value:
        if len(value) < 16:
            raise MissingKeyError(f"{KEY_ENV} must be at least 16 characters long")
        return value.encode()
    if not sample:
        raise MissingKeyError(
            f"{KEY_ENV} is not set: it is required to pseudonymise student ids of real "
            "exports (only the bundled sample in data/landing may use a generated key)"
        )
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        # written aside, then linked into place: a run killed half-way never leaves an
        # empty key, and of two runs creating it at once the first one's key wins
        tmp = key_file.with_name(f".{key_file.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, key_file)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        warnings.warn(
            f"{KEY_ENV} is not set: generated a pseudonym key for the sample data in "
            f"{key_file} (untracked). Set {KEY_ENV} from a secret store for real data.",
            PseudonymKeyWarning,
            stacklevel=2,
        )
    key = key_file.read_text().strip()
    if len(key) < 16:
        raise MissingKeyError(f"the pseudonym key file {key_file} is empty or too short")
    return key.encode()


def pseudonymise(ids: pl.Series, school: str, key: bytes) -> pl.Series:
    """student_key for each id, computed once per distinct id; nulls stay null.

    HMAC-SHA256 as in RFC 2104, with the key's inner and outer hash states computed once
    (copying a hash state costs less than ``hmac.new`` per id)."""
    distinct = ids.drop_nulls().unique()
    inner, outer = _pads(key)
    prefix = f"{school}:".encode()

    def keyed(value: str) -> str:
        state = inner.copy()
        state.update(prefix + value.encode())
        final = outer.copy()
        final.update(state.digest())
        return final.hexdigest()

    keys = pl.Series([keyed(value) for value in distinct.to_list()], dtype=pl.String)
    return ids.replace_strict(distinct, keys, default=None, return_dtype=pl.String)


def _pads(key: bytes):
    """The HMAC-SHA256 inner and outer hash states of a key (RFC 2104)."""
    block = hashlib.sha256().block_size
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer
