"""Weak-to-strong search: CBS, best-of-N, EFT, scored by a small tuned/untuned pair."""

from w2s_lib.search.cbs import SearchResult, best_of_n, chunk_beam_search, sample, sample_n, search_many
from w2s_lib.search.eft import eft_many, eft_sample
from w2s_lib.search.scorer import PairScorer

__all__ = ["PairScorer", "SearchResult", "best_of_n", "chunk_beam_search", "eft_many", "eft_sample", "sample", "sample_n", "search_many"]
