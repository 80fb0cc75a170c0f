"""Weak-to-strong search: CBS, best-of-N, EFT, scored by a small tuned/untuned pair."""

from .cbs import SearchResult, best_of_n, chunk_beam_search, sample, sample_n
from .eft import eft_sample
from .scorer import PairScorer

__all__ = ["PairScorer", "SearchResult", "best_of_n", "chunk_beam_search", "eft_sample", "sample", "sample_n"]
