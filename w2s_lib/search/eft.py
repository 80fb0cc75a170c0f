"""Emulated fine-tuning (EFT), the token-level baseline of weak-to-strong search.

At every step the large base model's next-token log-probabilities are shifted by the small pair's
difference: ``log p_base + β · (log p_tuned − log p_untuned)``, then sampled. Unlike CBS this needs the
three models to share one vocabulary.
"""

from __future__ import annotations

import torch

from w2s_lib.core.errors import W2SError
from w2s_lib.search.cbs import SearchResult, _decode, _strip_eos
from w2s_lib.search.decoding import CachedLM, format_prompt, sample_next, search_temperature
from w2s_lib.search.scorer import PairScorer, same_vocabulary


@torch.no_grad()
def eft_sample(base, base_tokenizer, prompt: str, scorer: PairScorer, *, beta: float = 1.0,
               max_new_tokens: int = 50, temperature: float = 0.7, top_k: int = 50, top_p: float = 1.0,
               seed: int = 0, chat: bool = False, base_template: str = "{prompt}",
               greedy: bool = False) -> SearchResult:
    """One EFT sample; ``beta = 0`` is exactly the base model's own sampling for the same seed."""
    if not same_vocabulary(base_tokenizer, scorer.tokenizer):
        raise W2SError("EFT needs the base and the small models to share one vocabulary; "
                       "use chunk-level beam search, which re-tokenises text, for mixed tokenizers")
    gen = torch.Generator().manual_seed(seed)
    eos = base_tokenizer.eos_token_id
    if not prompt:
        raise W2SError("the prompt is empty; give EFT some text to continue")
    base_ids = base_tokenizer(format_prompt(base_tokenizer, prompt, chat, base_template),
                              add_special_tokens=False)["input_ids"]
    lms = [CachedLM(m) for m in (base, scorer.tuned, scorer.untuned)]
    for lm, ids in zip(lms, (base_ids, scorer.prompt_ids(prompt), scorer.prompt_ids(prompt))):
        lm.prefill_many([ids], 1)
    temperature = search_temperature(temperature, greedy)
    ids, score = [], 0.0
    for _ in range(max_new_tokens):
        b, t, u = (lm.last_logprobs for lm in lms)
        logits = b + beta * (t - u) if beta else b
        tok = sample_next(logits, temperature, top_k, top_p, gen)
        score += float(t[0, tok] - u[0, tok])
        ids.append(int(tok))
        if int(tok) == eos:
            break
        for lm in lms:
            lm.step(tok)
    account = {"base_tokens_sampled": len(ids), "base_tokens_run": lms[0].tokens_run,
               "scorer_tokens_run": lms[1].tokens_run + lms[2].tokens_run, "chunks": len(ids)}
    text_ids = _strip_eos(ids, eos)
    return SearchResult(_decode(base_tokenizer, text_ids), score, text_ids, account)
