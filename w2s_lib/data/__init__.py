"""Datasets: the registry (real hub datasets and the generated tiny world) and W2S splits.

The registry is a leaf; the loader modules register themselves when imported here, so importing any part of
``w2s_lib.data`` makes every dataset name known.
"""

from w2s_lib.data import chess_puzzles, hub_datasets, tinyworld  # noqa: F401  (registration)
from w2s_lib.data.registry import COLUMNS, DatasetSpec, get_spec, list_datasets, load

__all__ = ["COLUMNS", "DatasetSpec", "get_spec", "list_datasets", "load"]
