"""Storing tables as runs of column partitions, and reading them back.

Rows are sorted by index and cut into runs at content-defined boundaries: a row ends a run when
the hash of its index key has its low bits set (``RUN_AVERAGE`` rows per run on average, at most
four times that). Each column of a run is its own partition object, an Arrow IPC stream with
fresh buffers (text columns whose values repeat are dictionary-encoded). So the same rows always
give the same ids, on any machine; inserting rows moves
only the boundaries next to them; relabelling one column stores only that column's partitions
again, and a diff can skip every partition whose id did not change. A table whose file is not
sorted by index also stores, per run, the file position of each row (an order partition), so
loading gives the rows back in the file's order.

Example:
    >>> import tempfile, pyarrow as pa
    >>> from casdb.store.backends.local import LocalBackend
    >>> from casdb.store.objectstore import ObjectStore
    >>> store = ObjectStore(LocalBackend(tempfile.mkdtemp()))
    >>> t = pa.table({"file": ["b.wav", "a.wav"], "emotion": ["happy", "sad"]})
    >>> table = store.get(store_table(store, "emotion", "filewise", t, ["file"]), "table")
    >>> [run.rows for run in table.runs], len(table.order)  # sorted by file, order remembered
    ([2], 1)
    >>> load_arrow(store, table).column("emotion").to_pylist()  # the file's order
    ['happy', 'sad']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from casdb.model.chunking import cut_points_array
from casdb.model.objects import Column, Partition, Run, Table

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from casdb.store.objectstore import ObjectStore

RUN_AVERAGE = 1 << 13
"""Rows per run on average (a power of two)."""


def sort_by_index(table: pa.Table, levels: Sequence[str]) -> pa.Table:
    """Rows ordered by the index levels, missing values last."""
    if table.num_rows < 2:
        return table
    return table.take(sort_order(table, levels))


def sort_order(table: pa.Table, levels: Sequence[str]) -> pa.Array:
    """Row positions that sort ``table`` by the index levels (missing values last)."""
    import pyarrow.compute as pc

    return pc.sort_indices(table, sort_keys=[(lv, "ascending", "at_end") for lv in levels])


KEY_HASH = 2
"""The version of :func:`key_hashes` (1: pandas' ``hash_pandas_object``, before issue 16). Run
boundaries follow it: a table stored by one version and stored again by another is cut anew
(once; both read the same)."""
_PRIME = 0x100000001B3  # FNV-1's 64-bit prime: the weight of each byte of a text value
_NULL = 0x9E3779B97F4A7C15  # a missing value
_BLOCK = 1 << 16  # rows of text hashed at once (bounds the temporary arrays)


def key_hashes(table: pa.Table, levels: Sequence[str]) -> np.ndarray:
    """A 64-bit hash per row of its index key, the same on every machine.

    NumPy over the Arrow buffers, without pandas (whose import cost more than a whole commit of
    removals): text as a polynomial in its UTF-8 bytes, numbers and times by their 64 bits,
    each through the splitmix64 finaliser; levels are chained. Changing it moves every run
    boundary: it is versioned (:data:`KEY_HASH`) and pinned by a test.
    """
    import numpy as np

    out = np.zeros(table.num_rows, dtype=np.uint64)
    for level in levels:
        column = table.column(level)
        column = column.combine_chunks() if hasattr(column, "combine_chunks") else column
        out = _mix(out * np.uint64(0x2545F4914F6CDD1D) + _level_hashes(column))
    return out


def _level_hashes(column: pa.Array) -> np.ndarray:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    typ = column.type
    if pa.types.is_dictionary(typ):
        column, typ = column.cast(typ.value_type), typ.value_type
    if (pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_binary(typ)
            or pa.types.is_large_binary(typ)):
        hashes = _text_hashes(column)  # text and bytes share the layout: offsets and data
    else:
        values = _bits(column)
        if values is not None:
            hashes = _mix(values ^ np.uint64(0x632BE59BD9B4E019))
        else:  # anything else by its text
            from casdb.tables.arrays import strings

            try:
                text = pc.cast(column, pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                text = strings([repr(v) for v in column.to_pylist()])
            hashes = _text_hashes(text)
    if column.null_count:
        hashes[_nulls(column)] = np.uint64(_NULL)
    return hashes


def _bits(column: pa.Array) -> np.ndarray | None:
    """The 64 bits of each number, time or truth value (integers as int64, or uint64 if
    unsigned; floats as float64; dates and times by their count); None for other types. The
    values under nulls are whatever the buffer holds."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    typ = column.type
    if pa.types.is_floating(typ):
        wide = pc.cast(column, pa.float64())
    elif pa.types.is_unsigned_integer(typ):
        wide = pc.cast(column, pa.uint64())
    elif (pa.types.is_integer(typ) or pa.types.is_boolean(typ) or pa.types.is_timestamp(typ)
          or pa.types.is_duration(typ)):
        wide = pc.cast(column, pa.int64())
    elif pa.types.is_date32(typ) or pa.types.is_time32(typ):
        wide = pc.cast(column.view(pa.int32()), pa.int64())
    elif pa.types.is_date64(typ) or pa.types.is_time64(typ):
        wide = column.view(pa.int64())
    else:
        return None
    data = np.frombuffer(wide.buffers()[1], np.uint64)
    return data[wide.offset:wide.offset + len(wide)]


def _text_hashes(column: pa.Array) -> np.ndarray:
    """Hash of each value's UTF-8 bytes: sum of (byte + 1) * prime ** position, xor its length."""
    import numpy as np
    import pyarrow as pa

    wide = pa.types.is_large_string(column.type)
    n = len(column)
    buffers = column.buffers()
    offsets = np.frombuffer(buffers[1], np.int64 if wide else np.int32)
    offsets = offsets[column.offset:column.offset + n + 1].astype(np.int64)
    data = np.frombuffer(buffers[2], np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    out = np.empty(n, dtype=np.uint64)
    longest = int((offsets[1:] - offsets[:-1]).max()) if n else 0
    powers = np.concatenate(([np.uint64(1)],  # prime ** k, wrapped to 64 bits
                             np.cumprod(np.full(longest, _PRIME, dtype=np.uint64))))
    for first in range(0, n, _BLOCK):
        rows = offsets[first:first + _BLOCK + 1]
        lengths = rows[1:] - rows[:-1]
        chunk = data[rows[0]:rows[-1]].astype(np.uint64) + np.uint64(1)
        position = np.arange(len(chunk), dtype=np.int64) - np.repeat(rows[:-1] - rows[0], lengths)
        sums = np.concatenate(([np.uint64(0)], np.cumsum(chunk * powers[position],
                                                          dtype=np.uint64)))
        starts = rows[:-1] - rows[0]
        total = sums[starts + lengths] - sums[starts]
        out[first:first + len(lengths)] = _mix(total ^ (lengths.astype(np.uint64)
                                                        * np.uint64(0xD6E8FEB86659FD93)))
    return out


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, element-wise (uint64 arithmetic wraps)."""
    import numpy as np

    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def _nulls(column: pa.Array) -> np.ndarray:
    """Which rows of ``column`` are missing, from its validity bitmap."""
    import numpy as np

    bitmap = column.buffers()[0]
    if bitmap is None or not column.null_count:
        return np.zeros(len(column), dtype=bool)
    bits = np.unpackbits(np.frombuffer(bitmap, np.uint8), bitorder="little")
    return bits[column.offset:column.offset + len(column)] == 0


def store_table(
    store: ObjectStore, name: str, kind: str, table: pa.Table, levels: Sequence[str]
) -> str:
    """Store a table (index levels first) as runs of column partitions; return the table's id.

    Rows are stored sorted by index; if the file's order differs, each run also gets an order
    partition: the file position of each of its rows (:func:`load_arrow` puts them back).
    """
    import numpy as np

    table = table.combine_chunks()
    from casdb.tables.arrays import view

    positions = view(sort_order(table, levels)) if table.num_rows > 1 else None
    if positions is not None and np.array_equal(positions, np.arange(table.num_rows)):
        positions = None  # already sorted: nothing to remember
    if positions is not None:
        table = table.take(positions)
    runs, order = [], []
    cuts = cut_points_array(key_hashes(table, levels), RUN_AVERAGE) or [0]  # empty: one run
    start = 0
    for end in cuts:
        part = table.slice(start, end - start)
        ids = tuple(
            store.put(Partition(encode_column(part.column(i), field.name)))
            for i, field in enumerate(table.schema)
        )
        keys = part.select(list(levels))
        first = _key(keys, 0) if part.num_rows else ()
        last = _key(keys, part.num_rows - 1) if part.num_rows else ()
        runs.append(Run(part.num_rows, first, last, ids))
        if positions is not None:
            order.append(store.put(Partition(encode_positions(positions[start:end]))))
        start = end
    columns = [Column(f.name, str(f.type)) for f in table.schema]
    n = len(levels)
    return store.put(
        Table(name, kind, tuple(columns[:n]), tuple(columns[n:]), tuple(runs), tuple(order))
    )


def encode_positions(positions: np.ndarray) -> bytes:
    """An order partition: the file positions of a run's rows (sorted by index), delta-encoded:
    the first position, then the step from each row's position to the next one's, as ``int32``
    (``int64`` if a step does not fit: a rule of the content, so equal runs give equal bytes).

    Rows appended at the end of a file keep the positions of the rows before them, so an append
    changes only the order partitions of the runs that get new rows; a relabel changes none.
    The steps make a run that is in file order (all steps 1) compress to almost nothing, so a
    sorted table that gets rows appended out of order stores a few bytes per untouched run.
    """
    import numpy as np
    import pyarrow as pa

    steps = np.diff(positions.astype(np.int64), prepend=np.int64(0))
    small = not len(steps) or (steps.min() >= -(2**31) and steps.max() < 2**31)
    from casdb.tables.arrays import numbers

    array = numbers(steps, "int32" if small else "int64")
    return encode_column(pa.chunked_array([array], type=array.type), "order")


def _key(rows: pa.Table, i: int) -> tuple:
    import pyarrow as pa

    out = []
    for column in rows.columns:
        scalar = column[i]
        if isinstance(scalar, (pa.DurationScalar, pa.TimestampScalar)):
            out.append(scalar.value)  # integer in the column's unit (ns)
        else:
            out.append(scalar.as_py())
    return tuple(out)


def encode_column(chunked: pa.ChunkedArray, name: str) -> bytes:
    """Deterministic Arrow IPC bytes of one column slice (fresh buffers, no offsets)."""
    import numpy as np
    import pyarrow as pa

    array = chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
    from casdb.tables.arrays import numbers

    array = array.take(numbers(np.arange(len(array)), "int64"))  # rebased, no slack
    if pa.types.is_string(array.type) and len(array) >= 16:
        encoded = array.dictionary_encode()
        # Labels repeat: store each once and a small index per row (a rule of the content
        # alone, so the same values always give the same bytes).
        if len(encoded.dictionary) * 4 <= len(array):
            array = _narrow(encoded)
    batch = pa.record_batch([array], names=[name])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _narrow(encoded: pa.DictionaryArray) -> pa.DictionaryArray:
    """The smallest index type for the dictionary (one byte per row for up to 127 labels)."""
    import pyarrow as pa

    size = len(encoded.dictionary)
    index_type = pa.int8() if size <= 127 else pa.int16() if size <= 32767 else pa.int32()
    return pa.DictionaryArray.from_arrays(encoded.indices.cast(index_type), encoded.dictionary)


def decode_column(store: ObjectStore, partition_id: str, data: bytes | None = None) -> pa.Array:
    """The Arrow array of one partition (``data``: its bytes, if already fetched)."""
    import pyarrow as pa

    if data is None:
        data = store.get_partition(partition_id)
    try:
        table = pa.ipc.open_stream(data).read_all()
        if table.num_columns != 1:
            raise ValueError(f"{table.num_columns} columns")
        # Reading a stream checks its framing, not its buffers: offsets or dictionary indices
        # out of range would crash compute functions (a segfault in take). Only a crafted
        # object gets here (its bytes hash to its id), but one must not take casdb down.
        table.validate(full=True)
        array = table.column(0).combine_chunks()
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
    except (pa.ArrowException, OSError, IndexError, ValueError) as exc:
        # The bytes hash to their id, so only a crafted object gets here.
        from casdb.core.errors import IntegrityError

        raise IntegrityError(f"partition {partition_id} is not one Arrow column: {exc}") from exc
    return array


def load_arrow(
    store: ObjectStore, table: Table, columns: Sequence[str] | None = None, runs=None
) -> pa.Table:
    """The rows of a stored table (all columns, or the index levels and ``columns``), in the
    order of the file it was committed from; only some ``runs``: sorted by index."""
    import pyarrow as pa

    names = [c.name for c in table.index + table.columns]
    wanted = names if columns is None else [c.name for c in table.index] + [
        c for c in columns if c not in {i.name for i in table.index}
    ]
    if not set(wanted) <= set(names):
        from casdb.core.errors import NotFound

        missing = sorted(set(wanted) - set(names))
        raise NotFound(f"table {table.name!r} has no column {missing[0]!r}")
    positions = [names.index(n) for n in wanted]
    chosen = table.runs if runs is None else runs
    if not table.runs:
        from casdb.core.errors import IntegrityError

        raise IntegrityError(f"table {table.name!r} has no runs (written by an old casdb?)")
    if not chosen:  # no rows wanted: the first run still tells the types
        return load_arrow(store, table, columns, table.runs[:1]).slice(0, 0)
    ids = [run.columns[pos] for run in chosen for pos in positions]
    ordered = runs is None and bool(table.order)
    # in parallel: decompressing and verifying release the GIL
    fetched = store.get_partitions(ids + list(table.order) if ordered else ids)
    arrays: list[list[pa.Array]] = [[] for _ in positions]
    for i, pid in enumerate(ids):
        arrays[i % len(positions)].append(decode_column(store, pid, fetched[pid]))
    try:
        out = pa.table([pa.chunked_array(parts) for parts in arrays], names=wanted)
    except pa.ArrowException as exc:  # runs that disagree on types or lengths: crafted
        from casdb.core.errors import IntegrityError

        raise IntegrityError(f"table {table.name!r} is malformed: {exc}") from exc
    if ordered:
        out = out.take(file_order(store, table, fetched))
    return out


def file_order(store: ObjectStore, table: Table, fetched: dict[str, bytes]) -> np.ndarray:
    """Positions that turn a table's sorted rows into the rows of its file, checked to be a
    permutation of its rows (``IntegrityError`` if the order partitions do not fit the runs)."""
    import numpy as np
    import pyarrow as pa

    from casdb.core.errors import IntegrityError

    parts = [decode_column(store, pid, fetched[pid]) for pid in table.order]
    n = table.rows
    if any(not pa.types.is_integer(p.type) or p.null_count for p in parts) or [
        len(p) for p in parts
    ] != [run.rows for run in table.runs]:
        raise IntegrityError(f"table {table.name!r}: its row order does not fit its runs")
    # steps back to positions, run by run (a crafted overflow only gives positions out of range)
    positions = np.concatenate(
        [np.cumsum(p.to_numpy(zero_copy_only=False).astype(np.int64)) for p in parts]
    )
    inverse = np.full(n, -1, dtype=np.int64)
    if len(positions) and (positions.min() < 0 or positions.max() >= n):
        raise IntegrityError(f"table {table.name!r}: its row order names rows it does not have")
    inverse[positions] = np.arange(n)
    if (inverse < 0).any():
        raise IntegrityError(f"table {table.name!r}: its row order names a row twice")
    return inverse
