"""A stateful model of the backend protocol: hypothesis drives random sequences of puts,
put-if-absent, compare-and-swaps, deletes and reads against a backend and against a plain dict,
and every answer must agree (as zarr's ``ZarrStoreStateMachine`` does for its stores).

:func:`check_against_dict` runs it on one backend; each example works under a fresh prefix, so
one backend (one S3 bucket, one folder) serves every example. The number of examples follows the
hypothesis profile (a fifth of its ``max_examples``: ``dev`` 5, ``ci`` 40).

Example (not run here: the contract runs it on every backend)::

    check_against_dict(MemoryBackend())
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from casdb.core.errors import Conflict, NotFound

# Keys under a prefix: leaves x/y/z at two depths, so no key is ever another's folder.
NAMES = [f"{top}/{leaf}" for top in "ab" for leaf in "xyz"] + [
    f"{top}/n/{leaf}" for top in "ab" for leaf in "xyz"]
VALUES = st.binary(max_size=48)

_RUN = itertools.count()


class BackendMatchesDict(RuleBasedStateMachine):
    """``backend`` under ``prefix`` behaves like ``model``, a dict from key to bytes."""

    def __init__(self, backend, prefix: str) -> None:
        super().__init__()
        self.backend = backend
        self.prefix = prefix
        self.model: dict[str, bytes] = {}
        self.files = Path(tempfile.mkdtemp(prefix="casdb-model-"))

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    @rule(name=st.sampled_from(NAMES), value=VALUES)
    def put(self, name: str, value: bytes) -> None:
        assert self.backend.put(self.key(name), value) is True
        self.model[name] = value

    @rule(name=st.sampled_from(NAMES), value=VALUES)
    def put_if_absent(self, name: str, value: bytes) -> None:
        written = self.backend.put(self.key(name), value, exclusive=True)
        assert written is (name not in self.model)
        self.model.setdefault(name, value)

    @rule(name=st.sampled_from(NAMES), value=VALUES)
    def put_file(self, name: str, value: bytes) -> None:
        path = self.files / f"f{len(list(self.files.iterdir()))}"
        path.write_bytes(value)
        assert self.backend.put_file(self.key(name), path) is (name not in self.model)
        self.model.setdefault(name, value)

    @rule(name=st.sampled_from(NAMES), value=VALUES, current=st.booleans(),
          other=st.one_of(st.none(), VALUES))
    def swap(self, name: str, value: bytes, current: bool, other: bytes | None) -> None:
        expected = self.model.get(name) if current else other
        try:
            self.backend.swap(self.key(name), expected, value)
        except Conflict:
            assert expected != self.model.get(name)
        else:
            assert expected == self.model.get(name)
            self.model[name] = value

    @rule(name=st.sampled_from(NAMES))
    def delete(self, name: str) -> None:
        self.backend.delete(self.key(name))
        self.model.pop(name, None)

    @rule(name=st.sampled_from(NAMES))
    def get(self, name: str) -> None:
        try:
            got = self.backend.get(self.key(name))
        except NotFound:
            assert name not in self.model
        else:
            assert got == self.model[name]
        assert self.backend.exists(self.key(name)) is (name in self.model)
        assert (self.backend.modified(self.key(name)) > 0) is (name in self.model)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def get_ranges(self, data) -> None:
        name = data.draw(st.sampled_from(sorted(self.model)))
        size = len(self.model[name])
        bound = st.integers(0, size)
        ranges = data.draw(st.lists(st.tuples(bound, bound).map(sorted).map(tuple), max_size=4))
        got = self.backend.get_ranges(self.key(name), ranges)
        assert got == [self.model[name][s:e] for s, e in ranges]

    @rule(name=st.sampled_from(NAMES))
    def get_file(self, name: str) -> None:
        path = self.files / f"g{len(list(self.files.iterdir()))}"
        try:
            self.backend.get_file(self.key(name), path)
        except NotFound:
            assert name not in self.model
        else:
            assert path.read_bytes() == self.model[name]

    @rule(sub=st.sampled_from(["", "a/", "b/", "a/n/", "b/n/"]))
    def list_keys(self, sub: str) -> None:
        listed = sorted(self.backend.list(f"{self.prefix}/{sub}"))
        assert listed == sorted(self.key(n) for n in self.model if n.startswith(sub))

    @invariant()
    def nothing_outside_the_model(self) -> None:
        # Cheap on every backend: one listing per step.
        assert sorted(self.backend.list(self.prefix + "/")) == sorted(map(self.key, self.model))

    def teardown(self) -> None:
        import shutil

        for name in self.model:
            self.backend.delete(self.key(name))
        shutil.rmtree(self.files, ignore_errors=True)


def check_against_dict(backend, examples: int | None = None, steps: int = 20) -> None:
    """Run :class:`BackendMatchesDict` on ``backend`` (each example under a fresh prefix)."""
    from hypothesis.stateful import run_state_machine_as_test

    if examples is None:
        examples = max(5, settings().max_examples // 5)
    run_state_machine_as_test(
        lambda: BackendMatchesDict(backend, f"model{next(_RUN)}"),
        settings=settings(max_examples=examples, stateful_step_count=steps, deadline=None))
