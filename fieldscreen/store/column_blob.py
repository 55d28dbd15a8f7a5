"""Equal-length numpy columns and a few name lists as one byte string, and back.

The statistics snapshot (`reporting/snapshot.py`) and the referral queue's index
(`store/queue_index.py`) both keep a table of a million rows as one sealed blob: a JSON
header (format, rows, each column's dtype and place, the name lists its codes point
into), then the columns' raw bytes. Decoding checks the shape and gives None for
anything else, so the caller rebuilds instead of reading a broken table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import orjson

_HEADER_LENGTH_BYTES = 4


class ColumnBlob(NamedTuple):
    columns: dict[str, np.ndarray]
    names: dict[str, list[Any]]


def encode_columns(format_version: int, rows: int, columns: Mapping[str, np.ndarray],
                   names: Mapping[str, Sequence[Any]]) -> bytes:
    """The columns (each `rows` long) and the name lists as bytes."""
    layout: list[list[Any]] = []
    chunks: list[bytes] = []
    offset = 0
    for name, column in columns.items():
        data = np.ascontiguousarray(column).tobytes()
        layout.append([name, column.dtype.str, offset, len(data)])
        chunks.append(data)
        offset += len(data)
    header = orjson.dumps({"format": format_version, "rows": rows, "columns": layout,
                           "names": {name: list(values) for name, values in names.items()}})
    return len(header).to_bytes(_HEADER_LENGTH_BYTES, "big") + header + b"".join(chunks)


def decode_columns(data: bytes, format_version: int) -> ColumnBlob | None:
    """What `encode_columns` wrote with this format, or None when the bytes are not that."""
    try:
        length = int.from_bytes(data[:_HEADER_LENGTH_BYTES], "big")
        header = orjson.loads(data[_HEADER_LENGTH_BYTES:_HEADER_LENGTH_BYTES + length])
        if not isinstance(header, dict) or header.get("format") != format_version:
            return None
        body = memoryview(data)[_HEADER_LENGTH_BYTES + length:]
        rows = int(header["rows"])
        columns: dict[str, np.ndarray] = {}
        for name, dtype, offset, size in header["columns"]:
            column = np.frombuffer(body[offset:offset + size], dtype=np.dtype(dtype))
            if len(column) != rows:
                return None
            columns[str(name)] = column
        names = {str(name): list(values) for name, values in header["names"].items()}
        return ColumnBlob(columns, names)
    except (KeyError, TypeError, ValueError, AttributeError, orjson.JSONDecodeError):
        return None
