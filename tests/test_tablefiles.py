"""Reading table files: time notations, and the same result as pandas."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from casdb.core.errors import InvalidDataset
from casdb.tables.files import _parse_time


@given(st.lists(st.one_of(st.none(), st.timedeltas(min_value=pd.Timedelta("-3 days").to_pytimedelta(),
                                                    max_value=pd.Timedelta("900 days").to_pytimedelta())),
                max_size=30))
def test_time_parsing_matches_pandas(values):
    text = [None if v is None else str(pd.Timedelta(v)) for v in values]
    got = _parse_time(pa.chunked_array([pa.array(text, pa.string())]), "t").to_pylist()
    want = [None if v is None else pd.Timedelta(v) for v in pd.to_timedelta(text)]
    assert got == [None if pd.isna(w) else w for w in want]


@pytest.mark.parametrize("text", ["1.5s", "00:00:01", "2 days", "-1 days +23:59:59.5"])
def test_other_time_notations_go_through_pandas(text):
    got = _parse_time(pa.chunked_array([pa.array([text])]), "t").to_pylist()
    assert got == [pd.to_timedelta(text)]


def test_bad_time_names_the_row():
    with pytest.raises(InvalidDataset, match="row 2: 'soon' is not a valid time"):
        _parse_time(pa.chunked_array([pa.array(["1s", "soon"])]), "t")
