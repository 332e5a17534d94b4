"""Turning stored Arrow tables into the pandas DataFrames audformat gives.

Dtypes follow audformat: ``string`` for str, ``Int64``, ``boolean``, ``float64``,
``timedelta64[ns]``, ``datetime64[ns]``, ``object`` for columns without a scheme, and a
categorical for labelled columns (categories from the scheme's labels, or from the index of the
misc table that holds them). Filewise tables are indexed by ``file``; segmented ones by a
``file``/``start``/``end`` MultiIndex; misc tables by their own levels. Rows come in the order of
the committed file.

Example:
    >>> import pyarrow as pa
    >>> from casdb.tables.schema import layout
    >>> header = {"name": "x", "schemes": {"e": {"dtype": "str", "labels": ["a", "b"]}},
    ...           "tables": {"t": {"type": "filewise", "columns": {"e": {"scheme_id": "e"}}}}}
    >>> df = to_frame(pa.table({"file": ["f.wav"], "e": ["b"]}), layout(header, "t"))
    >>> df.index.name, str(df["e"].dtype)
    ('file', 'category')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from casdb.tables.schema import TableLayout, pandas_dtype

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


def categorical(labels: list):
    """The categorical dtype audformat uses for a list of labels."""
    import pandas as pd

    if labels:
        if all(isinstance(v, int) and not isinstance(v, bool) for v in labels):
            labels = pd.array(labels, dtype="int64")
        elif all(isinstance(v, str) for v in labels):
            labels = pd.Index(labels, dtype="object")
    return pd.CategoricalDtype(categories=labels, ordered=False)


def to_frame(
    table: pa.Table, lay: TableLayout, label_sets: dict[str, list] | None = None
) -> pd.DataFrame:
    """The DataFrame of a stored table, with audformat's dtypes and index."""
    import pandas as pd
    import pyarrow as pa

    df = table.to_pandas(
        deduplicate_objects=False, types_mapper={pa.string(): pd.StringDtype()}.get
    )
    for name in lay.names:
        spec = lay.columns.get(name)
        if spec is not None and spec.labelled:
            labels = spec.labels if spec.labels is not None else (label_sets or {}).get(
                spec.labels_table, []
            )
            df[name] = df[name].astype(categorical(list(labels)))
            continue
        dtype = pandas_dtype(lay.levels.get(name) or spec.dtype)
        if dtype == "object":
            df[name] = df[name].astype("object").replace(pd.NA, None)
        elif str(df[name].dtype) != dtype:
            df[name] = df[name].astype(dtype)
    levels = list(lay.levels)
    if len(levels) == 1:
        return df.set_index(levels[0])
    index = pd.MultiIndex.from_arrays([df[level] for level in levels], names=levels)
    return df.drop(columns=levels).set_axis(index, axis=0)
