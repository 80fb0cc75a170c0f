"""The dataset registry: one name → one loader that returns the standard columns.

In the spirit of EleutherAI's dataset registry: a loader fetches the raw rows (hub, local stand-in, or
the generated tiny world) and a formatter turns each row into the standard columns of its task:

=================  ===========================================
task               columns
=================  ===========================================
classification     ``text``, ``label`` (int), ``soft_label`` (float P(1)), ``id``
preference         ``prompt``, ``chosen``, ``rejected``, ``id``
prompts            ``prompt``, ``id``
summarization      ``prompt``, ``reference``, ``id``
completion         ``prompt``, ``reference`` (the one right completion), ``id``
=================  ===========================================

Loaders may add extra columns (``is_safe`` labels, gold attributes, ...) after the standard ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import datasets

from w2s_lib.core.errors import W2SError, unknown

COLUMNS: dict[str, tuple[str, ...]] = {
    "classification": ("text", "label", "soft_label", "id"),
    "preference": ("prompt", "chosen", "rejected", "id"),
    "prompts": ("prompt", "id"),
    "summarization": ("prompt", "reference", "id"),
    "completion": ("prompt", "reference", "id"),
}

SPLITS = ("train", "test")

# loader(split, seed) -> datasets.Dataset with the task's standard columns (all rows of that split)
Loader = Callable[[str, int], datasets.Dataset]


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    task: str
    loader: Loader
    description: str
    hub_id: str | None = None  # None: generated offline (tiny world)

    @property
    def offline(self) -> bool:
        return self.hub_id is None


REGISTRY: dict[str, DatasetSpec] = {}


def register(name: str, task: str, description: str, hub_id: str | None = None):
    """Decorator: register ``loader(split, seed)`` under ``name``."""
    if task not in COLUMNS:
        raise ValueError(f"task must be one of {sorted(COLUMNS)}, got {task!r}")

    def decorate(loader: Loader) -> Loader:
        if name in REGISTRY:
            raise ValueError(f"dataset {name!r} registered twice")
        REGISTRY[name] = DatasetSpec(name, task, loader, description, hub_id)
        return loader

    return decorate


def get_spec(name: str) -> DatasetSpec:
    if name not in REGISTRY:
        raise unknown("dataset", name, REGISTRY)
    return REGISTRY[name]


def list_datasets() -> list[DatasetSpec]:
    return [REGISTRY[k] for k in sorted(REGISTRY)]


def load(name: str, split: str = "train", n: int | None = None, seed: int = 0) -> datasets.Dataset:
    """Load ``split`` of dataset ``name`` in its standard columns; ``n`` rows sampled by ``seed``."""
    spec = get_spec(name)
    if split not in SPLITS:
        raise unknown("split", split, SPLITS)
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n <= 0):
        raise W2SError(f"n must be a positive integer number of rows, got {n!r}")
    ds = spec.loader(split, seed)
    missing = [c for c in COLUMNS[spec.task] if c not in ds.column_names]
    if missing:
        raise RuntimeError(f"loader for {name!r} did not produce columns {missing}")  # a bug, not user error
    if len(ds) == 0:
        raise W2SError(f"dataset {name!r} split {split!r} is empty; check its source files")
    if n is not None:
        if n > len(ds):
            raise W2SError(f"asked for n={n} rows but {name!r} {split!r} has only {len(ds)}; lower n")
        ds = ds.shuffle(seed=seed).select(range(n))
    return ds
