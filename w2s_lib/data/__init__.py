"""Datasets: the registry (real hub datasets and the generated tiny world) and W2S splits."""

from .registry import COLUMNS, DatasetSpec, get_spec, list_datasets, load

__all__ = ["COLUMNS", "DatasetSpec", "get_spec", "list_datasets", "load"]
