"""Chunk-level beam search (CBS), best-of-N and plain sampling — one algorithm, three settings.

CBS(W, K, L) (Zhou et al., 2024): start W·K copies of the prompt; sample L tokens from the large base
model for each; score every candidate with the small tuned/untuned pair; keep the top W; copy each
survivor K times; repeat until every survivor has ended or ``max_new_tokens`` is reached; return the
best. Best-of-N is CBS(1, N, ∞) and the base model alone is CBS(1, 1, ∞).

**Batched across prompts.** :func:`search_many` runs many prompts at once: each prompt owns W·K rows of
one batch (prompts left-padded, see :class:`~w2s_lib.search.decoding.CachedLM`), each prompt samples
from its own random generator, selection happens per prompt, and a prompt whose search has ended leaves
the batch. Every prompt's result is what the one-prompt search gives for the same seed (the official
code runs one prompt at a time; ``benchmarks/search_cbs.py`` compares the two).

**Decoding rules, as the official code** (``ZHZisZZ/weak-to-strong-search``, ``decoders/cbs.py`` and
``scorers.py``):

- a row that has ended is scored *with* its EOS token: log π_tuned(EOS) − log π_untuned(EOS) is part of
  its score; at the final selection *every* row counts as ended, including rows cut off by
  ``max_new_tokens`` (the official stopping criteria mark them finished before the last selection), so
  they get the EOS term too — on the cached path and on the text path alike;
- the text path tokenises the pair's prompt and the response *jointly* and takes the common prefix with
  the prompt alone as the prompt (:func:`~w2s_lib.search.scorer.joint_response_ids`);
- the base and the pair read the raw prompt through templates of their own (``base_template``, the
  scorer's ``template``);
- ``temperature`` 0 (or None) samples at T = 1, as the official code adds no temperature warper then;
  ``greedy=True`` is the option for argmax decoding; ``top_k`` 0 means no top-k filter.

**One deliberate difference:** at a selection the official code may keep several copies of one ended
beam (its K successors are identical once it has ended) and they can fill the top W; here identical ended
rows are deduplicated before the top W are taken, so an ended beam holds one place.

The large model's KV cache is kept and reordered through ``Cache.reorder_cache`` when beams are
selected, and with a shared tokenizer the scorer follows the same token ids with caches of its own (see
:mod:`w2s_lib.search.scorer`). A compute account records how many tokens each model processed, per
prompt, so methods can be compared at a matched base-token budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from w2s_lib.core.errors import W2SError
from w2s_lib.search.decoding import CachedLM, draw, filter_logits, format_prompt, sample_next, search_temperature
from w2s_lib.search.scorer import PairScorer, same_vocabulary


@dataclass
class SearchResult:
    text: str
    score: float
    response_ids: list[int]
    account: dict[str, int] = field(default_factory=dict)
    finished: bool = True  # the response ended with EOS (False: cut off by max_new_tokens)


#: rows (prompts × W·K) a batched search runs at once by default. More rows make bigger matrix products but
#: a bigger KV cache, which every step reads whole and every selection copies; past a few hundred rows its
#: tensors outgrow the allocator's reuse and the CPU spends its time on page faults. Chapter 20's CBS(4, 4, 3)
#: and best-of-16 on 64 prompts of ``tinygpt-l-stories`` (80 new tokens, one thread, 2026-12-05): 1024 rows
#: 30–32 / 19–31 s CPU, 512 rows 24 / 24 s, 256 rows 19 / 17 s, 128 rows 20 / 18 s, the same responses; one
#: seed of the chapter's claim (100 prompts, with the pair read a chunk at a time and the caches reserved for
#: every new token): 64 prompts a batch 43.0 / 36.5 s CPU and 2.9 GB resident, 256 rows 24.5–26.4 /
#: 23.3–24.7 s and 1.1 GB, 128 rows 25.7 / 21.2 s, 64 rows 27.0 / 24.5 s.
BATCH_ROWS = 256


def prompts_per_batch(rows_per_prompt: int) -> int:
    """Prompts per batch so that a batch holds about :data:`BATCH_ROWS` rows (at least one prompt)."""
    return max(1, BATCH_ROWS // rows_per_prompt)


def _check_shape(width: int, successors: int, chunk_len: int | None, max_new_tokens: int) -> None:
    for name, value in (("width W", width), ("successors K", successors), ("max_new_tokens", max_new_tokens)):
        if not isinstance(value, int) or value < 1:
            raise W2SError(f"{name} must be a positive integer, got {value!r}")
    if chunk_len is not None and (not isinstance(chunk_len, int) or chunk_len < 1):
        raise W2SError(f"chunk length L must be a positive integer or None (∞), got {chunk_len!r}")


def _strip_eos(ids: list[int], eos: int) -> list[int]:
    return ids[:ids.index(eos)] if eos in ids else ids


def _decode(tokenizer, ids: list[int]) -> str:
    return tokenizer.decode(_strip_eos(ids, tokenizer.eos_token_id), skip_special_tokens=True)


def dedupe_finished(scores: torch.Tensor, responses: torch.Tensor, finished: torch.Tensor) -> torch.Tensor:
    """``scores`` with every ended row that repeats an earlier ended row (same response) set to −∞, so an
    ended beam takes one place in the top W (rows: one prompt's W·K candidates)."""
    out = scores.clone()
    seen: set[tuple[int, ...]] = set()
    for i in torch.nonzero(finished).flatten().tolist():
        key = tuple(responses[i].tolist())
        if key in seen:
            out[i] = float("-inf")
        seen.add(key)
    return out


@torch.no_grad()
def search_many(base, base_tokenizer, prompts: list[str], scorer: PairScorer | None = None, *,
                width: int = 4, successors: int = 4, chunk_len: int | None = 5, max_new_tokens: int = 50,
                temperature: float | None = 0.7, top_k: int = 50, top_p: float = 1.0,
                seeds: list[int] | int = 0, incremental: bool | None = None, chat: bool = False,
                base_template: str = "{prompt}", greedy: bool = False, batch_size: int | None = None,
                dedupe: bool = True) -> list[SearchResult]:
    """CBS(W=width, K=successors, L=chunk_len) on every prompt; ``chunk_len=None`` means L = ∞.

    ``seeds``: one per prompt (or a base seed b, giving prompt i the seed b + i); prompt i's result is the
    one-prompt search's with that seed. ``batch_size``: prompts per batch (each has W·K rows; default: as
    many as fill :data:`BATCH_ROWS` rows).
    ``incremental=None`` picks the cached same-tokenizer scorer path when the vocabularies match, and the
    text re-tokenising path otherwise (``False`` forces the latter). ``chat``: the base model reads the
    (templated) prompt as one user turn in its chat template (the scorer formats it its own way, see
    :class:`PairScorer`). ``dedupe=False`` keeps the official code's copies of ended beams.
    """
    _check_shape(width, successors, chunk_len, max_new_tokens)
    if scorer is None and width * successors > 1:
        raise W2SError("search with more than one candidate needs a scorer (a tuned/untuned pair)")
    if any(not p for p in prompts):
        raise W2SError("the prompt is empty; give the search some text to continue")
    seeds = [seeds + i for i in range(len(prompts))] if isinstance(seeds, int) else list(seeds)
    if len(seeds) != len(prompts):
        raise W2SError(f"{len(prompts)} prompts but {len(seeds)} seeds; give one seed per prompt")
    if incremental is None:
        incremental = scorer is not None and same_vocabulary(base_tokenizer, scorer.tokenizer)
    out: list[SearchResult] = []
    batch_size = batch_size or prompts_per_batch(width * successors)
    for start in range(0, len(prompts), batch_size):
        out += _search_batch(base, base_tokenizer, prompts[start:start + batch_size], scorer, width, successors,
                             chunk_len, max_new_tokens, search_temperature(temperature, greedy), top_k, top_p,
                             seeds[start:start + batch_size], incremental, chat, base_template, dedupe)
    return out


def chunk_beam_search(base, base_tokenizer, prompt: str, scorer: PairScorer | None = None, *, seed: int = 0,
                      **kw) -> SearchResult:
    """CBS for one prompt (see :func:`search_many` for the arguments)."""
    return search_many(base, base_tokenizer, [prompt], scorer, seeds=[seed], **kw)[0]


def _search_batch(base, tok, prompts, scorer, width, successors, chunk_len, max_new_tokens, temperature,
                  top_k, top_p, seeds, incremental, chat, base_template, dedupe, park_every: int = 5):
    """The CBS loop over a batch of prompts; every live prompt owns R = W·K consecutive rows.

    A row that has ended needs no more forward passes (its next tokens are EOS, its score is fixed): at each
    selection, and every ``park_every`` steps, ended rows leave the models' batch and are *parked* with
    their score, while they keep their place among their prompt's rows. Each prompt still draws R uniform
    numbers per step, so its random stream is the one-prompt search's.
    """
    n_rows, eos = width * successors, tok.eos_token_id
    prompt_ids = [tok(format_prompt(tok, p, chat, base_template), add_special_tokens=False)["input_ids"]
                  for p in prompts]
    lm = CachedLM(base)
    lm.prefill_many(prompt_ids, n_rows, reserve=max_new_tokens)
    inc = scorer.incremental(prompts, n_rows, reserve=max_new_tokens) if incremental else None
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    live = list(range(len(prompts)))  # prompts still in the batch, in row order
    acct = [{"base_tokens_sampled": 0, "base_tokens_run": len(p), "scorer_tokens_run": 0, "chunks": 0}
            for p in prompt_ids]
    if inc is not None:
        for j, p in enumerate(prompts):
            acct[j]["scorer_tokens_run"] = 2 * len(scorer.prompt_ids(p))
    n_all = len(prompts) * n_rows
    responses = torch.zeros(n_all, 0, dtype=torch.long)
    finished = torch.zeros(n_all, dtype=torch.bool)
    in_lm = torch.ones(n_all, dtype=torch.bool)  # which rows the models' batch holds (in row order)
    parked = torch.zeros(n_all)  # the fixed score of every parked (ended) row
    results: dict[int, SearchResult] = {}
    chunk = chunk_len or max_new_tokens

    def cached_scores() -> torch.Tensor:
        s = parked.clone()
        if inc is not None:
            s[in_lm] = inc.scores
        return s

    def score_rows(final: bool) -> torch.Tensor:
        """Scores of the live prompts' rows; ``final``: every row counts as ended (gets its EOS term)."""
        if inc is not None:
            s = cached_scores()
            if final:  # rows cut off by the length limit get the EOS term too (official)
                open_rows = in_lm & ~finished
                s[open_rows] += inc.eos_term(eos)[(~finished)[in_lm]]
            return s
        if scorer is None:
            return torch.zeros(len(responses))
        s = torch.zeros(len(responses))
        for b, j in enumerate(live):
            sl = slice(b * n_rows, (b + 1) * n_rows)
            before = scorer.tokens_run
            texts = [_decode(tok, r.tolist()) for r in responses[sl]]
            flags = [True] * n_rows if final else finished[sl].tolist()
            s[sl] = scorer.score_texts(prompts[j], texts, eos=flags)
            acct[j]["scorer_tokens_run"] += scorer.tokens_run - before
        return s

    def regroup(keep: torch.Tensor) -> None:
        """Rows ``keep`` (indices into the current rows, in their new order) go on; ended ones are parked."""
        nonlocal responses, finished, in_lm, parked
        now = cached_scores()
        lm_pos = torch.full((len(in_lm),), -1, dtype=torch.long)
        lm_pos[in_lm] = torch.arange(int(in_lm.sum()))
        responses, finished, parked = responses[keep], finished[keep], now[keep]
        in_lm = ~finished
        idx = lm_pos[keep][in_lm]
        lm.select(idx)
        if inc is not None:
            inc.select(idx)

    while live:
        n_live = len(live)
        steps = min(chunk - responses.shape[1] % chunk, max_new_tokens - responses.shape[1])
        for step in range(steps):
            rows = torch.nonzero(in_lm).flatten()
            new = torch.full((len(responses),), eos, dtype=torch.long)
            if temperature <= 0:
                if len(rows):
                    new[rows] = lm.last_logprobs.argmax(-1)
            else:  # every prompt draws R numbers from its own stream, as it would alone; model rows use theirs
                u = torch.cat([torch.rand(n_rows, generator=gens[j]) for j in live])
                if len(rows):
                    new[rows] = draw(filter_logits(lm.last_logprobs, temperature, top_k, top_p), u[rows])
            new = torch.where(finished, torch.full_like(new, eos), new)
            active = ~finished
            per_prompt_active = active.view(n_live, n_rows).sum(1).tolist()
            per_prompt_lm = in_lm.view(n_live, n_rows).sum(1).tolist()
            for b, j in enumerate(live):
                acct[j]["base_tokens_sampled"] += per_prompt_active[b]
                acct[j]["base_tokens_run"] += per_prompt_lm[b]
                if inc is not None:
                    acct[j]["scorer_tokens_run"] += 2 * per_prompt_lm[b]
            if len(rows):
                lm.step(new[rows])
                if inc is not None:
                    inc.step(new[rows], active[rows])
            responses = torch.cat([responses, new[:, None]], 1)
            finished = finished | (new == eos)
            if finished.view(n_live, n_rows).all(1).any():
                break  # a prompt whose rows have all ended stops here (mid-chunk too), as it would alone
            if (step + 1) % park_every == 0 and step + 1 < steps and bool((in_lm & finished).any()):
                regroup(torch.arange(len(responses)))
        at_limit = responses.shape[1] >= max_new_tokens
        boundary = at_limit or responses.shape[1] % chunk == 0  # a selection step (the official l-token chunks)
        closing = finished.view(n_live, n_rows).all(1) | at_limit
        s = score_rows(final=False) if boundary and not bool(closing.all()) else None
        s_final = score_rows(final=True) if bool(closing.any()) else None
        keep: list[torch.Tensor] = []
        still: list[int] = []
        for b, j in enumerate(live):
            sl = slice(b * n_rows, (b + 1) * n_rows)
            if boundary:
                acct[j]["chunks"] += 1
            if bool(closing[b]):
                best = int(torch.argmax(s_final[sl])) if scorer is not None else 0
                row = b * n_rows + best
                ids = _strip_eos(responses[row].tolist(), eos)
                results[j] = SearchResult(_decode(tok, ids), float(s_final[row]), ids, acct[j],
                                          bool(finished[row]))
                continue
            still.append(j)
            if not boundary or scorer is None or successors == 1 and width == n_rows:
                keep.append(torch.arange(sl.start, sl.stop))
                continue
            cand = dedupe_finished(s[sl], responses[sl], finished[sl]) if dedupe else s[sl]
            top = torch.topk(cand, width).indices  # sorted, best first (official: topk, then repeat K)
            keep.append(sl.start + top.repeat(successors))
        if not still:
            break
        regroup(torch.cat(keep))
        live = still
    return [results[j] for j in range(len(prompts))]


@torch.no_grad()
def sample_n(base, base_tokenizer, prompt: str, n: int, *, max_new_tokens: int = 50, temperature: float = 1.0,
             top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> list[str]:
    """``n`` independent samples of ``prompt``'s continuation in one batch (no scorer, no selection).

    The raw material of preference pairs (the tuned scorer's DPO data, MACPO's responses).
    """
    return sample_n_many(base, base_tokenizer, [prompt], n, max_new_tokens=max_new_tokens, temperature=temperature,
                         top_k=top_k, top_p=top_p, seeds=[seed])[0]


@torch.no_grad()
def sample_n_many(base, base_tokenizer, prompts: list[str], n: int, *, max_new_tokens: int = 50,
                  temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, seeds: list[int] | int = 0,
                  batch_size: int | None = None) -> list[list[str]]:
    """:func:`sample_n` for many prompts, batched (``batch_size`` prompts at once, default: as many as fill
    :data:`BATCH_ROWS` rows); prompt i's samples are :func:`sample_n`'s with seed i."""
    _check_shape(1, n, None, max_new_tokens)
    if any(not p for p in prompts):
        raise W2SError("the prompt is empty; give the search some text to continue")
    seeds = [seeds + i for i in range(len(prompts))] if isinstance(seeds, int) else list(seeds)
    eos, out = base_tokenizer.eos_token_id, []
    batch_size = batch_size or prompts_per_batch(n)
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start:start + batch_size]
        lm = CachedLM(base)
        lm.prefill_many([base_tokenizer(p, add_special_tokens=False)["input_ids"] for p in chunk], n,
                        reserve=max_new_tokens)
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds[start:start + batch_size]]
        finished = torch.zeros(len(chunk) * n, dtype=torch.bool)
        done_at = [None] * len(chunk)  # a prompt stops drawing once all its samples ended, as it would alone
        rows = []
        for step in range(max_new_tokens):
            live = [b for b in range(len(chunk)) if done_at[b] is None]
            rows_live = torch.cat([torch.arange(b * n, (b + 1) * n) for b in live])
            t = torch.full((len(chunk) * n,), eos, dtype=torch.long)
            t[rows_live] = sample_next(lm.last_logprobs[rows_live], search_temperature(temperature), top_k, top_p,
                                       [gens[b] for b in live])
            t = torch.where(finished, torch.full_like(t, eos), t)
            rows.append(t)
            finished |= t == eos
            for b in range(len(chunk)):
                if done_at[b] is None and bool(finished[b * n:(b + 1) * n].all()):
                    done_at[b] = step
            if finished.all():
                break
            lm.step(t)
        resp = torch.stack(rows, 1)
        out += [[_decode(base_tokenizer, resp[b * n + i].tolist()) for i in range(n)] for b in range(len(chunk))]
    return out


def best_of_n(base, base_tokenizer, prompt: str, scorer: PairScorer, n: int = 16, **kw) -> SearchResult:
    """BoN = CBS(1, N, ∞): N full samples, the scorer picks one."""
    return chunk_beam_search(base, base_tokenizer, prompt, scorer, width=1, successors=n, chunk_len=None, **kw)


def sample(base, base_tokenizer, prompt: str, **kw) -> SearchResult:
    """The base model alone = CBS(1, 1, ∞)."""
    return chunk_beam_search(base, base_tokenizer, prompt, None, width=1, successors=1, chunk_len=None, **kw)
