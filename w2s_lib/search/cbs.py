"""Chunk-level beam search (CBS), best-of-N and plain sampling — one algorithm, three settings.

CBS(W, K, L) (Zhou et al., 2024): start W·K copies of the prompt; sample L tokens from the large base
model for each; score every candidate with the small tuned/untuned pair; keep the top W; copy each
survivor K times; repeat until every survivor has ended or ``max_new_tokens`` is reached; return the
best. Best-of-N is CBS(1, N, ∞) and the base model alone is CBS(1, 1, ∞).

The W·K candidates are sampled in one batch; the large model's KV cache is kept and reordered through
``Cache.reorder_cache`` when beams are selected, and with a shared tokenizer the scorer follows the
same token ids with caches of its own (see :mod:`w2s_lib.search.scorer`). A compute account records how
many tokens each model processed, so methods can be compared at a matched base-token budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from w2s_lib.core.errors import W2SError
from w2s_lib.search.decoding import CachedLM, format_prompt, sample_next
from w2s_lib.search.scorer import PairScorer, same_vocabulary


@dataclass
class SearchResult:
    text: str
    score: float
    response_ids: list[int]
    account: dict[str, int] = field(default_factory=dict)


def _check_shape(width: int, successors: int, chunk_len: int | None, max_new_tokens: int) -> None:
    for name, value in (("width W", width), ("successors K", successors), ("max_new_tokens", max_new_tokens)):
        if not isinstance(value, int) or value < 1:
            raise W2SError(f"{name} must be a positive integer, got {value!r}")
    if chunk_len is not None and (not isinstance(chunk_len, int) or chunk_len < 1):
        raise W2SError(f"chunk length L must be a positive integer or None (∞), got {chunk_len!r}")


def _decode(tokenizer, ids: list[int]) -> str:
    return tokenizer.decode(_strip_eos(ids, tokenizer.eos_token_id), skip_special_tokens=True)


@torch.no_grad()
def chunk_beam_search(base, base_tokenizer, prompt: str, scorer: PairScorer | None = None, *,
                      width: int = 4, successors: int = 4, chunk_len: int | None = 5,
                      max_new_tokens: int = 50, temperature: float = 0.7, top_k: int = 50, top_p: float = 1.0,
                      seed: int = 0, incremental: bool | None = None, chat: bool = False) -> SearchResult:
    """CBS(W=width, K=successors, L=chunk_len) for one prompt; ``chunk_len=None`` means L = ∞.

    ``incremental=None`` picks the cached same-tokenizer scorer path when the vocabularies match, and
    the text re-tokenising path otherwise (``False`` forces the latter). ``chat``: the base model reads
    the prompt as one user turn in its chat template (the scorer formats it its own way, see
    :class:`PairScorer`).
    """
    if scorer is None and width * successors > 1:
        raise W2SError("search with more than one candidate needs a scorer (a tuned/untuned pair)")
    responses, scores, account = _search(base, base_tokenizer, prompt, scorer, width, successors, chunk_len,
                                         max_new_tokens, temperature, top_k, top_p, seed, incremental, chat)
    best = int(torch.argmax(scores)) if scorer is not None else 0
    ids = _strip_eos(responses[best].tolist(), base_tokenizer.eos_token_id)
    return SearchResult(_decode(base_tokenizer, ids), float(scores[best]), ids, account)


@torch.no_grad()
def sample_n(base, base_tokenizer, prompt: str, n: int, *, max_new_tokens: int = 50, temperature: float = 1.0,
             top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> list[str]:
    """``n`` independent samples of ``prompt``'s continuation in one batch (no scorer, no selection).

    The raw material of preference pairs (the tuned scorer's DPO data, MACPO's responses).
    """
    responses, _, _ = _search(base, base_tokenizer, prompt, None, 1, n, None, max_new_tokens,
                              temperature, top_k, top_p, seed, False, False)
    return [_decode(base_tokenizer, r.tolist()) for r in responses]


def _strip_eos(ids: list[int], eos: int) -> list[int]:
    return ids[:ids.index(eos)] if eos in ids else ids


def _search(base, base_tokenizer, prompt, scorer, width, successors, chunk_len, max_new_tokens,
            temperature, top_k, top_p, seed, incremental, chat):
    """The CBS loop; returns every surviving row's response ids, their scores and the compute account."""
    _check_shape(width, successors, chunk_len, max_new_tokens)
    if incremental is None:
        incremental = scorer is not None and same_vocabulary(base_tokenizer, scorer.tokenizer)
    gen = torch.Generator().manual_seed(seed)
    rows = width * successors
    eos = base_tokenizer.eos_token_id
    if not prompt:
        raise W2SError("the prompt is empty; give the search some text to continue")
    text = format_prompt(base_tokenizer, prompt, chat)
    prompt_ids = torch.tensor(base_tokenizer(text, add_special_tokens=False)["input_ids"])
    lm = CachedLM(base)
    lm.prefill(prompt_ids, rows)
    inc = scorer.incremental(prompt_ids, rows) if incremental else None
    scorer_before = scorer.tokens_run if scorer is not None else 0
    responses = torch.zeros(rows, 0, dtype=torch.long)
    finished = torch.zeros(rows, dtype=torch.bool)
    chunk = chunk_len or max_new_tokens
    sampled, chunks, scores = 0, 0, torch.zeros(rows)
    while responses.shape[1] < max_new_tokens and not finished.all():
        for _ in range(min(chunk, max_new_tokens - responses.shape[1])):
            tok = sample_next(lm.last_logprobs, temperature, top_k, top_p, gen)
            tok = torch.where(finished, torch.full_like(tok, eos), tok)
            sampled += int((~finished).sum())
            lm.step(tok)
            if inc is not None:
                inc.step(tok, ~finished)
            responses = torch.cat([responses, tok[:, None]], 1)
            finished |= tok == eos
            if finished.all():
                break
        chunks += 1
        if inc is not None:
            scores = inc.scores.clone()
        elif scorer is not None:
            scores = scorer.score_texts(prompt, [_decode(base_tokenizer, r.tolist()) for r in responses])
        done = finished.all() or responses.shape[1] >= max_new_tokens
        if scorer is not None and successors > 1 and not done:  # keep the top W, copy each K times
            keep = torch.topk(scores, width).indices.repeat_interleave(successors)
            lm.select(keep)
            if inc is not None:
                inc.select(keep)
            responses, finished, scores = responses[keep], finished[keep], scores[keep]
    account = {
        "base_tokens_sampled": sampled,
        "base_tokens_run": lm.tokens_run,
        "scorer_tokens_run": (inc.tokens_run if inc is not None else 0)
        + ((scorer.tokens_run - scorer_before) if scorer is not None else 0),
        "chunks": chunks,
    }
    return responses, scores, account


def best_of_n(base, base_tokenizer, prompt: str, scorer: PairScorer, n: int = 16, **kw) -> SearchResult:
    """BoN = CBS(1, N, ∞): N full samples, the scorer picks one."""
    return chunk_beam_search(base, base_tokenizer, prompt, scorer, width=1, successors=n, chunk_len=None, **kw)


def sample(base, base_tokenizer, prompt: str, **kw) -> SearchResult:
    """The base model alone = CBS(1, 1, ∞)."""
    return chunk_beam_search(base, base_tokenizer, prompt, None, width=1, successors=1, chunk_len=None, **kw)
