"""A corpus spec: several datasets, the table and columns holding their labels and speakers,
and a label map per dataset onto one label set (YAML, or the same as Python objects).

    labels: [anger, happiness, neutral, sadness]     # the target set (optional)
    datasets:
      - name: emodb
        version: 1.0.0                               # a version, a branch, or omitted: latest
        table: emotion
        label: emotion
        speaker: speaker                             # a column, or TABLE.COLUMN (filewise)
        labels: {ang: anger, exc: happiness}         # map; keys are this dataset's labels
        drop: [other]                                # labels whose rows are left out
        swap: {neutral: sadness, sadness: neutral}   # applied after the map, on purpose
        splits: [train, test]                        # only rows in these split tables

A label is kept as it is when it is in the target set: the spec's ``labels``, else every value
of the maps together with the labels of the datasets that have no map. Any other label that is
neither mapped nor dropped is an error naming it, so nothing is mapped by accident.

Example:
    >>> spec = CorpusSpec.of({"datasets": [{"name": "a", "table": "emotion", "label": "emotion",
    ...                                     "labels": {"ang": "anger"}}]})
    >>> spec.datasets[0].map_label("ang"), spec.datasets[0].version
    ('anger', None)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from casdb.core.errors import InvalidDataset, InvalidInput
from casdb.core.names import check_dataset

_PART_KEYS = {"name", "version", "table", "label", "speaker", "labels", "drop", "swap", "splits"}


@dataclass(frozen=True)
class CorpusPart:
    """One dataset of a corpus spec."""

    name: str
    table: str
    label: str
    version: str | None = None
    speaker: str | None = None
    labels: dict[str, str] | None = None
    """This dataset's label -> the target label; None: labels are kept as they are."""
    drop: tuple[str, ...] = ()
    swap: dict[str, str] = field(default_factory=dict)
    splits: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        where = f"corpus spec, dataset {self.name!r}"
        check_dataset(self.name)
        for key in ("table", "label"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                raise InvalidInput(f"{where}: '{key}' must name a {key} (text)")
        for key in ("version", "speaker"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value):
                raise InvalidInput(f"{where}: '{key}' must be text")
        for key in ("labels", "swap"):
            value = getattr(self, key)
            if value is not None and not _text_map(value):
                raise InvalidInput(f"{where}: '{key}' must map labels to labels (text to text)")
        if not _texts(self.drop):
            raise InvalidInput(f"{where}: 'drop' must list labels (text)")
        if self.splits is not None and (not _texts(self.splits) or not self.splits):
            raise InvalidInput(f"{where}: 'splits' must list split ids (text)")

    def map_label(self, label: str) -> str:
        """The label after the map (before a swap)."""
        return self.labels.get(label, label) if self.labels else label

    def swapped(self, label: str) -> str:
        return self.swap.get(label, label)


@dataclass(frozen=True)
class CorpusSpec:
    """Datasets to load or compose as one corpus."""

    datasets: tuple[CorpusPart, ...]
    labels: tuple[str, ...] | None = None
    """The target label set; None: the maps' values and the unmapped datasets' labels."""

    def __post_init__(self) -> None:
        if not self.datasets:
            raise InvalidInput("corpus spec: 'datasets' lists no dataset")
        names = [p.name for p in self.datasets]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InvalidInput(f"corpus spec: dataset {twice[0]!r} is named twice")
        if self.labels is not None and (not _texts(self.labels) or not self.labels):
            raise InvalidInput("corpus spec: 'labels' must list the target labels (text)")

    @classmethod
    def of(cls, spec: CorpusSpec | dict | str | Path) -> CorpusSpec:
        """A spec from itself, a mapping, or a YAML file."""
        if isinstance(spec, CorpusSpec):
            return spec
        if isinstance(spec, str | Path):
            return cls.load(spec)
        if not isinstance(spec, dict):
            raise InvalidInput(f"a corpus spec is a mapping or a YAML file, not {type(spec).__name__}")
        unknown = set(spec) - {"datasets", "labels"}
        if unknown:
            raise InvalidInput(f"corpus spec: unknown key {sorted(unknown)[0]!r} "
                               "(known: datasets, labels)")
        parts = spec.get("datasets")
        if not isinstance(parts, list):
            raise InvalidInput("corpus spec: 'datasets' must be a list")
        labels = spec.get("labels")
        return cls(tuple(_part(p) for p in parts),
                   tuple(labels) if isinstance(labels, list) else labels)

    @classmethod
    def load(cls, path: str | Path) -> CorpusSpec:
        """A spec from a YAML file."""
        from casdb.tables.header import load_yaml

        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InvalidInput(f"no corpus spec at {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read the corpus spec {path}: {exc}") from exc
        try:
            data = load_yaml(text, str(path))
        except InvalidDataset as exc:
            raise InvalidInput(str(exc)) from None
        return cls.of(data)

    def target_labels(self, labels_of: dict[str, set[str]]) -> set[str]:
        """The target set, given each unmapped dataset's labels (``labels_of``: name -> labels)."""
        if self.labels is not None:
            return set(self.labels)
        out: set[str] = set()
        for part in self.datasets:
            out |= set(part.labels.values()) if part.labels else labels_of.get(part.name, set())
        return out

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (what a composition records in its header)."""
        out: dict[str, Any] = {"datasets": []}
        if self.labels is not None:
            out["labels"] = list(self.labels)
        for part in self.datasets:
            item = {k: v for k, v in asdict(part).items() if v not in (None, (), {})}
            for key in ("drop", "splits"):
                if key in item:
                    item[key] = list(item[key])
            out["datasets"].append(item)
        return out


def _part(item: Any) -> CorpusPart:
    if not isinstance(item, dict):
        raise InvalidInput("corpus spec: each entry of 'datasets' must be a mapping")
    name = item.get("name")
    if not isinstance(name, str):
        raise InvalidInput("corpus spec: each dataset needs a 'name'")
    unknown = set(item) - _PART_KEYS
    if unknown:
        raise InvalidInput(f"corpus spec, dataset {name!r}: unknown key {sorted(unknown)[0]!r} "
                           f"(known: {', '.join(sorted(_PART_KEYS))})")
    missing = [k for k in ("table", "label") if k not in item]
    if missing:
        raise InvalidInput(f"corpus spec, dataset {name!r}: '{missing[0]}' is missing")
    version = item.get("version")
    drop = item.get("drop") or []
    splits = item.get("splits")
    return CorpusPart(
        name=name, table=item["table"], label=item["label"],
        version=str(version) if isinstance(version, int | float) else version,
        speaker=item.get("speaker"), labels=item.get("labels"),
        drop=tuple(drop) if isinstance(drop, list) else drop,
        swap=item.get("swap") or {},
        splits=tuple(splits) if isinstance(splits, list) else splits,
    )


def _texts(values: Any) -> bool:
    return isinstance(values, tuple | list) and all(isinstance(v, str) for v in values)


def _text_map(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items())
