"""Arrow arrays built from Python and NumPy values, and NumPy views of Arrow arrays, without
pyarrow importing pandas.

pyarrow imports pandas (0.2-0.3 s) the first time it converts Python or NumPy values
(``pa.array``, ``pa.scalar``, a Python number in a compute call, ``Array.to_numpy``): it checks
whether they are pandas objects. A commit hands no DataFrame to anyone, so its path builds
arrays from buffers instead (``Array.from_buffers`` takes no such detour). Code that returns
DataFrames imports pandas anyway and may use ``pa.array`` freely.

Example:
    >>> strings(["a", None, "bé"]).to_pylist()
    ['a', None, 'bé']
    >>> numbers([3, None, 1], "int64").to_pylist()
    [3, None, 1]
    >>> view(numbers([3, 1], "int64")).tolist()
    [3, 1]
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import accumulate
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


def strings(values: Sequence[str | None]) -> pa.Array:
    """A ``string`` array of ``values`` (``None``: missing; a lone surrogate raises
    UnicodeEncodeError, as ``pa.array`` does)."""
    import pyarrow as pa

    validity, missing = None, 0
    if any(v is None for v in values):
        import numpy as np

        present = np.array([v is not None for v in values], dtype=bool)
        missing = int(len(present) - present.sum())
        validity = pa.py_buffer(np.packbits(present, bitorder="little"))
    encoded = [b"" if v is None else v.encode() for v in values]
    data = b"".join(encoded)
    wide = len(data) >= 2**31  # beyond int32 offsets
    offsets = array("q" if wide else "i", [0, *accumulate(map(len, encoded))])
    return pa.Array.from_buffers(pa.large_string() if wide else pa.string(), len(encoded),
                                 [validity, pa.py_buffer(offsets), pa.py_buffer(data)],
                                 null_count=missing)


def numbers(values: Sequence[float | None] | np.ndarray, kind: str) -> pa.Array:
    """An array of NumPy dtype ``kind`` (``int64``, ``int32``, ``float64``, ...); ``None``
    in a list is a missing value."""
    import numpy as np
    import pyarrow as pa

    validity, missing = None, 0
    if not isinstance(values, np.ndarray) and any(v is None for v in values):
        present = np.array([v is not None for v in values], dtype=bool)
        missing = int(len(present) - present.sum())
        validity = pa.py_buffer(np.packbits(present, bitorder="little"))
        values = [0 if v is None else v for v in values]
    data = np.ascontiguousarray(values, dtype=kind)
    return pa.Array.from_buffers(pa.from_numpy_dtype(data.dtype), len(data),
                                 [validity, pa.py_buffer(data)], null_count=missing)


def scalar(value: float | str, like: pa.DataType) -> pa.Scalar:
    """``value`` as an Arrow scalar of type ``like`` (for a compute call)."""
    import pyarrow as pa

    if pa.types.is_string(like) or pa.types.is_large_string(like):
        return strings([value])[0].cast(like)
    kind = "float64" if isinstance(value, float) or pa.types.is_floating(like) else "int64"
    return numbers([value], kind)[0].cast(like)


def view(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The values of a fixed-width array without nulls (integers, floats, durations as their
    integers) as a NumPy array, as ``to_numpy`` would give them."""
    import numpy as np
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.null_count:
        raise ValueError("view: the array has nulls")
    typ = values.type
    if pa.types.is_duration(typ) or pa.types.is_timestamp(typ):
        dtype = np.dtype("int64")
    elif pa.types.is_signed_integer(typ):
        dtype = np.dtype(f"i{typ.bit_width // 8}")
    elif pa.types.is_unsigned_integer(typ):
        dtype = np.dtype(f"u{typ.bit_width // 8}")
    elif pa.types.is_floating(typ):
        dtype = np.dtype(f"f{typ.bit_width // 8}")
    else:
        raise TypeError(f"view: {typ} is not a fixed-width number type")
    data = np.frombuffer(values.buffers()[1], dtype=dtype)
    return data[values.offset:values.offset + len(values)]
