"""PostgreSQL arrays in binary form, built from Python columns with NumPy, for the rescore's upserts.

psycopg dumps a Python list as an array element by element in Python (a ``struct.pack`` per value): for a chunk of
5,000 accounts and their contacts that was a quarter of a second of work holding the GIL, on the thread that writes
while another computes. Here a whole column becomes the array's bytes at once: fixed-width values through a NumPy
record array, text through one ``bytes.join``. The layout is PostgreSQL's ``array_send``: dimensions, a null flag,
the element type, then each element as a length (-1 for NULL) and its value in network byte order.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from psycopg.adapt import Dumper
from psycopg.pq import Format

# element type -> (element oid, array oid, NumPy big-endian dtype of one value; None for text)
TYPES: dict[str, tuple[int, int, str | None]] = {
    "float8": (701, 1022, ">f8"),
    "int8": (20, 1016, ">i8"),
    "bool": (16, 1000, "?"),
    "timestamptz": (1184, 1185, ">i8"),
    "date": (1082, 1182, ">i4"),
    "text": (25, 1009, None),
}
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # PostgreSQL's epoch for timestamps and dates
_EPOCH_DAY = date(2000, 1, 1).toordinal()
_MICROSECOND = timedelta(microseconds=1)


class BinaryArray(bytes):
    """The bytes of one array value; ``pgtype``: its element type (a key of :data:`TYPES`)."""

    pgtype: str

    def __new__(cls, data: bytes, pgtype: str) -> BinaryArray:
        obj = super().__new__(cls, data)
        obj.pgtype = pgtype
        return obj


def _dumper(pgtype: str) -> type[Dumper]:
    class ArrayDumper(Dumper):
        format = Format.BINARY
        oid = TYPES[pgtype][1]

        def dump(self, obj: BinaryArray) -> bytes:
            return obj

    return ArrayDumper


_DUMPERS = {t: _dumper(t) for t in TYPES}


class _Dispatch(Dumper):
    """Picks the dumper of an array's element type (psycopg asks per value when a class has several oids)."""

    format = Format.BINARY

    def get_key(self, obj: BinaryArray, format: Any) -> Any:
        return (BinaryArray, obj.pgtype)

    def upgrade(self, obj: BinaryArray, format: Any) -> Dumper:
        return _DUMPERS[obj.pgtype](BinaryArray)

    def dump(self, obj: BinaryArray) -> bytes:
        return obj


def register(adapters: Any) -> None:
    """Let a cursor (or connection) send :class:`BinaryArray` values as themselves."""
    adapters.register_dumper(BinaryArray, _Dispatch)


def _plain(value: Any, pgtype: str) -> Any:
    if pgtype == "timestamptz":
        return (value - _EPOCH) // _MICROSECOND
    if pgtype == "date":
        return value.toordinal() - _EPOCH_DAY
    return value


def binary_array(values: Sequence[Any], pgtype: str) -> BinaryArray:
    """``values`` (None for NULL; datetimes aware) as a one-dimensional PostgreSQL array of ``pgtype``."""
    element_oid, _, dtype = TYPES[pgtype]
    n = len(values)
    if n == 0:
        return BinaryArray(struct.pack(">iii", 0, 0, element_oid), pgtype)
    nulls = np.fromiter((v is None for v in values), dtype=bool, count=n)
    has_null = bool(nulls.any())
    head = struct.pack(">iiiii", 1, int(has_null), element_oid, n, 1)
    if dtype is None:  # text: each value's length, then its UTF-8 bytes
        parts = []
        for v in values:
            if v is None:
                parts.append(b"\xff\xff\xff\xff")
            else:
                data = v.encode()
                parts.append(len(data).to_bytes(4, "big"))
                parts.append(data)
        return BinaryArray(head + b"".join(parts), pgtype)
    native = np.dtype(dtype).newbyteorder("=") if dtype != "?" else np.dtype(bool)
    fill = False if dtype == "?" else 0
    plain = (fill if v is None else _plain(v, pgtype) for v in values)
    column = np.fromiter(plain, dtype=native, count=n)
    width = column.dtype.itemsize
    records = np.empty(n, dtype=[("length", ">i4"), ("value", dtype)])
    records["length"] = np.where(nulls, -1, width)
    records["value"] = column
    raw = records.view(np.uint8).reshape(n, 4 + width)
    if has_null:  # a NULL is its length alone
        keep = np.ones(raw.shape, dtype=bool)
        keep[nulls, 4:] = False
        return BinaryArray(head + raw[keep].tobytes(), pgtype)
    return BinaryArray(head + raw.tobytes(), pgtype)
