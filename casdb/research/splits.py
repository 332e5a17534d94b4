"""Benchmark split protocols as pure functions: which row goes to which partition of which fold.

Every function takes one value per row (speakers, labels: NumPy arrays of strings, rows in the
table's order) and returns an :class:`Assignment`: a ``(folds, rows)`` array of partition codes
(``TRAIN``, ``DEV``, ``TEST``, or ``LEFT_OUT``). Randomness comes only from
``numpy.random.default_rng(seed)`` applied to sorted unique values and row positions, so the result
depends on the rows, the parameters and the seed, never on hash or dict order, the machine or the
run. Protocols (see docs/research.md, "Splits"):

- :func:`loso`: leave one speaker out; one fold per speaker.
- :func:`kfold`: ``k`` speaker-independent folds, speakers merged into ``k`` groups of near-equal
  row counts.
- :func:`serab`: one speaker-independent train/dev/test partition by ratios of rows (60/20/20).
- :func:`speaker_dependent`: a share of each label's rows to test (EmoBox: 25 %).
- :func:`emobox`: the EmoBox rule chooses one of the above from the speakers and labels.
- :func:`balanced`: a test set of ``items`` rows, equal per label, spread evenly over speakers.

Example:
    >>> import numpy as np
    >>> speakers = np.array(["a", "a", "b", "b", "c", "c"])
    >>> loso(speakers).folds.tolist()
    [[2, 2, 0, 0, 0, 0], [0, 0, 2, 2, 0, 0], [0, 0, 0, 0, 2, 2]]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from casdb.core.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np

LEFT_OUT, TRAIN, DEV, TEST = -1, 0, 1, 2
PARTITIONS = ("train", "dev", "test")
"""Partition names by code (audformat split types)."""

EMOBOX_TEST_SHARE = 0.25
"""EmoBox's speaker-dependent rule: 25 % of each emotion to test."""
EMOBOX_FOLDS = 4
"""EmoBox's rule for more than 6 speakers: 4 folds with speakers merged."""
BALANCE_THRESHOLD = 0.2
"""Largest Cramér's V of the speaker x label table that still counts as balanced."""


@dataclass(frozen=True)
class Assignment:
    """Which partition each row is in, per fold, and why."""

    folds: np.ndarray
    """``(folds, rows)`` int8 partition codes; ``LEFT_OUT`` for rows in no partition."""
    rule: str
    """The rule applied: ``loso``, ``kfold``, ``serab``, ``speaker-dependent``, ``balanced``,
    ``official``."""
    reason: str = ""
    """Why (for EmoBox: the condition that selected the rule)."""
    stats: dict[str, Any] = field(default_factory=dict)
    """Figures the choice rests on (speakers, Cramér's V, ...)."""


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique values and each row's index into them (code-point order: the same on
    every machine)."""
    import numpy as np

    uniq, inverse = np.unique(np.asarray(values).astype(str), return_inverse=True)
    return uniq, inverse.reshape(-1)


def _rng(seed: int):
    import numpy as np

    return np.random.default_rng(seed)


def speaker_groups(speakers: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Merge the speakers into ``k`` groups of near-equal row counts; the group of each row.

    Speakers are shuffled by the seed, then (stably) ordered by row count, largest first, and
    each goes to the group with the fewest rows so far (ties: the lowest group): the longest
    processing time rule, which keeps every group within one speaker's rows of the mean.
    """
    import numpy as np

    uniq, inverse = _codes(speakers)
    if not 1 <= k <= len(uniq):
        raise InvalidInput(f"{k} folds need at least {k} speakers; there are {len(uniq)}")
    counts = np.bincount(inverse, minlength=len(uniq))
    order = _rng(seed).permutation(len(uniq))
    order = order[np.argsort(-counts[order], kind="stable")]
    totals = np.zeros(k, dtype=np.int64)
    group = np.empty(len(uniq), dtype=np.int64)
    for s in order:
        g = int(np.argmin(totals))
        group[s] = g
        totals[g] += counts[s]
    return group[inverse]


def loso(speakers: np.ndarray) -> Assignment:
    """Leave one speaker out: fold ``i`` tests the ``i``-th speaker (sorted), trains on the rest."""
    import numpy as np

    uniq, inverse = _codes(speakers)
    if len(uniq) < 2:
        raise InvalidInput(f"leave-one-speaker-out needs at least 2 speakers; there are {len(uniq)}")
    folds = np.where(inverse[None, :] == np.arange(len(uniq))[:, None], TEST, TRAIN)
    return Assignment(folds.astype(np.int8), "loso", f"{len(uniq)} speakers, one per fold",
                      {"speakers": len(uniq)})


def kfold(speakers: np.ndarray, k: int, seed: int) -> Assignment:
    """``k`` speaker-independent folds: fold ``i`` tests the ``i``-th group of speakers."""
    import numpy as np

    n = len(np.unique(np.asarray(speakers).astype(str)))
    if k < 2:
        raise InvalidInput(f"k-fold needs at least 2 folds, not {k}")
    if k > n:
        raise InvalidInput(f"{k} folds need at least {k} speakers; there are {n}")
    group = speaker_groups(speakers, k, seed)
    folds = np.where(group[None, :] == np.arange(k)[:, None], TEST, TRAIN)
    return Assignment(folds.astype(np.int8), "kfold", f"{k} folds of merged speakers",
                      {"speakers": n})


def check_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    """Train/dev/test ratios as fractions: three non-negative numbers summing to 1 (or to 100,
    as percentages), test above 0.

    Example:
        >>> check_ratios([70, 10, 20])
        (0.7, 0.1, 0.2)
    """
    values = [float(r) for r in ratios]
    if len(values) != 3 or any(not math.isfinite(r) for r in values):
        raise InvalidInput(f"ratios must be three numbers train,dev,test, not {list(ratios)}")
    if any(r < 0 for r in values):
        raise InvalidInput(f"ratios must not be negative: {list(ratios)}")
    total = sum(values)
    scale = 100.0 if math.isclose(total, 100.0, abs_tol=1e-6) else 1.0
    if not math.isclose(total, scale, abs_tol=1e-6):
        raise InvalidInput(f"ratios must sum to 1 (or 100): {list(ratios)} sum to {total:g}")
    out = tuple(r / scale for r in values)
    if out[TRAIN] == 0 or out[TEST] == 0:
        raise InvalidInput(f"ratios need a train and a test share above 0: {list(ratios)}")
    return out  # type: ignore[return-value]


def serab(speakers: np.ndarray, ratios: Sequence[float], seed: int) -> Assignment:
    """One speaker-independent train/dev/test partition with row shares close to ``ratios``.

    Speakers (shuffled by the seed, then largest first) go one by one to the partition furthest
    below its share of the rows; a partition with a share above 0 that ends up without a speaker
    takes the smallest speaker of the partition with the most speakers.
    """
    import numpy as np

    shares = check_ratios(ratios)
    uniq, inverse = _codes(speakers)
    wanted = [p for p in (TRAIN, DEV, TEST) if shares[p] > 0]
    if len(uniq) < len(wanted):
        raise InvalidInput(f"a speaker-independent split into {len(wanted)} partitions needs at "
                           f"least {len(wanted)} speakers; there are {len(uniq)}")
    counts = np.bincount(inverse, minlength=len(uniq))
    order = _rng(seed).permutation(len(uniq))
    order = order[np.argsort(-counts[order], kind="stable")]
    target = np.array(shares) * counts.sum()
    totals = np.zeros(3)
    part = np.empty(len(uniq), dtype=np.int8)
    for s in order:
        p = max(wanted, key=lambda q: (target[q] - totals[q], -q))
        part[s] = p
        totals[p] += counts[s]
    for p in wanted:  # every partition asked for gets a speaker
        if not (part == p).any():
            donor = max(wanted, key=lambda q: ((part == q).sum(), -q))
            members = [s for s in order[::-1] if part[s] == donor]  # smallest last in order
            part[members[0]] = p
    got = np.bincount(part[inverse], minlength=3) / counts.sum()
    return Assignment(part[inverse][None, :].astype(np.int8), "serab",
                      "speaker-independent train/dev/test by ratios "
                      + "/".join(f"{round(100 * s):g}" for s in shares),
                      {"speakers": len(uniq), "shares": [round(float(g), 4) for g in got]})


def speaker_dependent(labels: np.ndarray, test_share: float, seed: int) -> Assignment:
    """``test_share`` of each label's rows to test (rounded half up; a label with two or more
    rows keeps at least one row in each partition), the rest to train; one fold."""
    import numpy as np

    if not 0 < test_share < 1:
        raise InvalidInput(f"the test share must be between 0 and 1, not {test_share}")
    uniq, inverse = _codes(labels)
    out = np.full(len(inverse), TRAIN, dtype=np.int8)
    rng = _rng(seed)
    for code in range(len(uniq)):
        rows = np.flatnonzero(inverse == code)
        n_test = math.floor(test_share * len(rows) + 0.5)
        if len(rows) >= 2:
            n_test = min(max(n_test, 1), len(rows) - 1)
        out[rng.choice(rows, n_test, replace=False)] = TEST
    return Assignment(out[None, :], "speaker-dependent",
                      f"{round(100 * test_share):g} % of each label to test", {"labels": len(uniq)})


def balance(speakers: np.ndarray, labels: np.ndarray) -> tuple[bool, float, str]:
    """Whether the labels are balanced across speakers: every speaker has every label, and
    Cramér's V of the speaker x label table (the chi-square statistic scaled to [0, 1], which
    unlike its p-value does not grow with the number of rows) is at most ``BALANCE_THRESHOLD``.
    Returns (balanced, V, why not)."""
    import numpy as np
    from scipy.stats.contingency import association

    su, si = _codes(speakers)
    lu, li = _codes(labels)
    table = np.zeros((len(su), len(lu)), dtype=np.int64)
    np.add.at(table, (si, li), 1)
    if len(su) < 2 or len(lu) < 2:
        return True, 0.0, ""
    v = float(association(table, method="cramer"))
    empty = np.argwhere(table == 0)
    if len(empty):
        s, lab = empty[0]
        return False, v, (f"speaker {su[s]!r} has no {lu[lab]!r} rows "
                          f"({len(empty)} empty speaker x label cells)")
    if v > BALANCE_THRESHOLD:
        return False, v, f"Cramér's V of speaker x label is {v:.3f} > {BALANCE_THRESHOLD}"
    return True, v, ""


def emobox(speakers: np.ndarray, labels: np.ndarray, seed: int) -> Assignment:
    """The EmoBox rule: fewer than 4 speakers, or labels unbalanced across speakers
    (:func:`balance`): speaker-dependent, 25 % of each label to test; 4-6 speakers:
    leave one speaker out; more than 6: 4 folds with speakers merged."""
    import numpy as np

    n = len(np.unique(np.asarray(speakers).astype(str)))
    balanced_, v, why = balance(speakers, labels)
    stats = {"speakers": n, "cramers_v": round(v, 4), "balanced": balanced_}
    if n < 4 or not balanced_:
        reason = f"{n} speakers (< 4)" if n < 4 else why
        got = speaker_dependent(labels, EMOBOX_TEST_SHARE, seed)
        return Assignment(got.folds, got.rule, f"{reason}: {got.reason}", stats)
    if n <= 6:
        got = loso(speakers)
        return Assignment(got.folds, got.rule, f"{n} speakers (4-6), labels balanced "
                          f"(Cramér's V {v:.3f}): leave one speaker out", stats)
    got = kfold(speakers, EMOBOX_FOLDS, seed)
    return Assignment(got.folds, got.rule, f"{n} speakers (> 6), labels balanced "
                      f"(Cramér's V {v:.3f}): {EMOBOX_FOLDS} folds of merged speakers", stats)


def _fill(capacity: np.ndarray, total: int, rng) -> np.ndarray:
    """Spread ``total`` over bins of ``capacity`` as evenly as possible (water filling); the
    remainder that cannot be split evenly goes to bins chosen by ``rng``."""
    import numpy as np

    take = np.zeros(len(capacity), dtype=np.int64)
    left = total
    while left > 0:
        open_ = np.flatnonzero(take < capacity)
        each = left // len(open_)
        if each == 0:
            chosen = rng.choice(open_, left, replace=False)
            take[chosen] += 1
            break
        add = np.minimum(capacity[open_] - take[open_], each)
        take[open_] += add
        left -= int(add.sum())
    return take


def balanced(speakers: np.ndarray, labels: np.ndarray, items: int, subset: Sequence[str],
             seed: int, eligible: np.ndarray | None = None) -> Assignment:
    """A test set of ``items`` rows with labels in ``subset``: the same number per label (the
    remainder of ``items / len(subset)`` to the first labels), each label's rows spread evenly
    over its speakers, the rows of a speaker drawn by the seed; ``eligible`` (a boolean mask)
    limits the rows drawn from. Other rows are ``LEFT_OUT``."""
    import numpy as np

    subset = list(dict.fromkeys(str(s) for s in subset))
    if not subset:
        raise InvalidInput("a balanced test set needs at least one label")
    if items < len(subset):
        raise InvalidInput(f"{items} items cannot cover {len(subset)} labels")
    labels = np.asarray(labels).astype(str)
    ok = np.ones(len(labels), bool) if eligible is None else np.asarray(eligible, bool)
    su, si = _codes(speakers)
    rng = _rng(seed)
    out = np.full(len(labels), LEFT_OUT, dtype=np.int8)
    per_label = [items // len(subset) + (i < items % len(subset)) for i in range(len(subset))]
    for label, want in zip(subset, per_label, strict=True):
        rows = np.flatnonzero((labels == label) & ok)
        if len(rows) < want:
            raise InvalidInput(f"label {label!r} has {len(rows)} eligible rows, {want} needed "
                               f"for {items} items over {len(subset)} labels")
        spk = si[rows]
        present = np.unique(spk)
        capacity = np.bincount(spk, minlength=len(su))[present]
        take = _fill(capacity, want, rng)
        for s, n in zip(present, take, strict=True):
            if n:
                out[rng.choice(rows[spk == s], int(n), replace=False)] = TEST
    return Assignment(out[None, :], "balanced",
                      f"{items} items over {', '.join(subset)}, balanced over speakers",
                      {"speakers": int(len(np.unique(si[out == TEST])))})
