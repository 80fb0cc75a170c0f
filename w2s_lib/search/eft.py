"""Emulated fine-tuning (EFT), the token-level baseline of weak-to-strong search.

At every step the large base model's next-token log-probabilities are shifted by the small pair's
difference: ``log p_base + β · (log p_tuned − log p_untuned)``, then sampled. Unlike CBS this needs the
three models to share one vocabulary.
"""

from __future__ import annotations

import torch

from w2s_lib.core.errors import W2SError
from w2s_lib.search.cbs import SearchResult, _decode, _strip_eos, prompts_per_batch
from w2s_lib.search.decoding import CachedLM, format_prompt, sample_next, search_temperature
from w2s_lib.search.scorer import PairScorer, same_vocabulary


@torch.no_grad()
def eft_sample(base, base_tokenizer, prompt: str, scorer: PairScorer, *, seed: int = 0, **kw) -> SearchResult:
    """One EFT sample; ``beta = 0`` is exactly the base model's own sampling for the same seed."""
    return eft_many(base, base_tokenizer, [prompt], scorer, seeds=[seed], **kw)[0]


@torch.no_grad()
def eft_many(base, base_tokenizer, prompts: list[str], scorer: PairScorer, *, beta: float = 1.0,
             max_new_tokens: int = 50, temperature: float | None = 0.7, top_k: int = 50, top_p: float = 1.0,
             seeds: list[int] | int = 0, chat: bool = False, base_template: str = "{prompt}",
             greedy: bool = False, batch_size: int | None = None) -> list[SearchResult]:
    """EFT on many prompts at once (one row per prompt, left-padded; prompt i draws from its own generator,
    so its sample is :func:`eft_sample`'s with that seed; ``batch_size`` prompts at once, default: as many as
    fill :data:`~w2s_lib.search.cbs.BATCH_ROWS` rows). The base reads ``base_template``, the pair its own
    template."""
    if not same_vocabulary(base_tokenizer, scorer.tokenizer):
        raise W2SError("EFT needs the base and the small models to share one vocabulary; "
                       "use chunk-level beam search, which re-tokenises text, for mixed tokenizers")
    if any(not p for p in prompts):
        raise W2SError("the prompt is empty; give EFT some text to continue")
    seeds = [seeds + i for i in range(len(prompts))] if isinstance(seeds, int) else list(seeds)
    temperature = search_temperature(temperature, greedy)
    eos, out = base_tokenizer.eos_token_id, []
    batch_size = batch_size or prompts_per_batch(1)
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start:start + batch_size]
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds[start:start + batch_size]]
        base_ids = [base_tokenizer(format_prompt(base_tokenizer, p, chat, base_template), add_special_tokens=False)
                    ["input_ids"] for p in chunk]
        pair_ids = [scorer.prompt_ids(p) for p in chunk]
        lms = [CachedLM(m) for m in (base, scorer.tuned, scorer.untuned)]
        for lm, ids in zip(lms, (base_ids, pair_ids, pair_ids)):
            lm.prefill_many(ids, 1, reserve=max_new_tokens)
        n = len(chunk)
        rows = torch.arange(n)  # live rows (prompts not yet ended), in the models' batch order
        seqs = [[] for _ in range(n)]
        score = torch.zeros(n)
        for _ in range(max_new_tokens):
            b, t, u = (lm.last_logprobs for lm in lms)
            logits = b + beta * (t - u) if beta else b
            tok = sample_next(logits, temperature, top_k, top_p, [gens[int(r)] for r in rows])
            score[rows] += (t - u).gather(1, tok[:, None]).squeeze(1)
            for r, x in zip(rows.tolist(), tok.tolist()):
                seqs[r].append(x)
            alive = tok != eos
            if not alive.any():
                break
            if not alive.all():  # an ended prompt leaves the batch
                keep = torch.nonzero(alive).flatten()
                for lm in lms:
                    lm.select(keep)
                rows, tok = rows[keep], tok[keep]
            for lm in lms:
                lm.step(tok)
        for i in range(n):
            ids = _strip_eos(seqs[i], eos)
            account = {"base_tokens_sampled": len(seqs[i]), "base_tokens_run": len(base_ids[i]) + len(seqs[i]) - 1,
                       "scorer_tokens_run": 2 * (len(pair_ids[i]) + len(seqs[i]) - 1), "chunks": len(seqs[i])}
            out.append(SearchResult(_decode(base_tokenizer, ids), float(score[i]), ids, account,
                                    bool(seqs[i] and seqs[i][-1] == eos)))
    return out
