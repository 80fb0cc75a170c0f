"""Benchmark: our CBS batched across prompts against one-prompt-at-a-time CBS in the official code's
structure, on the same models, prompts, W, K, L and random streams.

- **one prompt at a time (the official structure)**: the W·K rows of one prompt share the base model's KV
  cache, reordered (``Cache.reorder_cache``) at every selection, as ``CBSPosthocGenerationMixin`` does;
  after every chunk the small pair rescores every row's *whole* response by full forward passes (the
  official ``ImplicitValueScorer``; here on token ids, so that both sides score the same tokens);
- **ours**: :func:`w2s_lib.search.search_many` — many prompts' rows in one left-padded batch, the pair
  following the same token ids with KV caches of its own (each token scored once).

Each prompt draws from its own generator (seed = its index), so both must return the same responses; the
script counts how many agree. Speed is base tokens sampled per CPU second (``time.process_time``: the
machine is shared, wall time would measure the neighbours), one thread, both in one run.

Defaults are chapter 20's tiny setting (its base and prompts, CBS(4, 4, 3), 80 new tokens); the first setting
this benchmark reported (review prompts, 4,4,5, 32 tokens) is

    python benchmarks/search_cbs.py --dataset tiny_reviews --base tinygpt-l --tuned tinygpt-s --small tinygpt-xs \
        --l 5 --tokens 32 --prompts 128
"""

from __future__ import annotations

import argparse
import time


def one_prompt_cbs(base, tok, prompt, scorer, width, successors, chunk_len, max_new_tokens, temperature, top_k, seed):
    """CBS for one prompt in the official structure (see the module docstring); returns (response ids, score)."""
    import torch

    from w2s_lib.search.cbs import _strip_eos, dedupe_finished
    from w2s_lib.search.decoding import CachedLM, sample_next
    from w2s_lib.search.scorer import response_logprob

    gen = torch.Generator().manual_seed(seed)
    prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    eos, rows = tok.eos_token_id, width * successors
    lm = CachedLM(base)
    lm.prefill_many([prompt_ids], rows)
    responses = torch.zeros(rows, 0, dtype=torch.long)
    finished = torch.zeros(rows, dtype=torch.bool)

    def rescore(final):  # the whole response of every row, ended rows (all rows at the end) with EOS
        seqs = [_strip_eos(r.tolist(), eos) + ([eos] if final or bool(f) else []) for r, f in zip(responses, finished)]
        return (response_logprob(scorer.tuned, prompt_ids, seqs, batch_size=rows)
                - response_logprob(scorer.untuned, prompt_ids, seqs, batch_size=rows))

    while True:
        for _ in range(min(chunk_len - responses.shape[1] % chunk_len, max_new_tokens - responses.shape[1])):
            t = sample_next(lm.last_logprobs, temperature, top_k, 1.0, gen)
            t = torch.where(finished, torch.full_like(t, eos), t)
            lm.step(t)
            responses = torch.cat([responses, t[:, None]], 1)
            finished |= t == eos
            if finished.all():
                break
        if finished.all() or responses.shape[1] >= max_new_tokens:
            scores = rescore(final=True)
            best = int(torch.argmax(scores))
            return _strip_eos(responses[best].tolist(), eos), float(scores[best])
        scores = dedupe_finished(rescore(final=False), responses, finished)
        keep = torch.topk(scores, width).indices.repeat(successors)
        lm.select(keep)
        responses, finished = responses[keep], finished[keep]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="tiny_stories", help="registry name of the prompts (test split)")
    ap.add_argument("--base", default="tinygpt-l-stories")
    ap.add_argument("--small", default="tinygpt-s-stories", help="the untuned scorer")
    ap.add_argument("--tuned", default="tinygpt-s", help="stands in for the tuned scorer (speed does not care)")
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=80)
    ap.add_argument("--w", type=int, default=4)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--l", type=int, default=3)
    args = ap.parse_args()

    from w2s_lib import data
    from w2s_lib.core.runtime import torch_threads
    from w2s_lib.models import zoo
    from w2s_lib.search import PairScorer, search_many

    base, tok = zoo.load_causal_lm(args.base), zoo.load_tokenizer(args.base)
    scorer = PairScorer(zoo.load_causal_lm(args.tuned), zoo.load_causal_lm(args.small), zoo.load_tokenizer(args.small))
    prompts = data.load(args.dataset, "test")["prompt"][: args.prompts]
    kw = dict(width=args.w, successors=args.k, chunk_len=args.l, max_new_tokens=args.tokens, temperature=0.7, top_k=50)
    with torch_threads(1):
        start = time.process_time()
        ours = search_many(base, tok, prompts, scorer, seeds=list(range(len(prompts))), **kw)
        t_ours = time.process_time() - start
        start = time.process_time()
        ref = [one_prompt_cbs(base, tok, p, scorer, seed=i, **kw) for i, p in enumerate(prompts)]
        t_ref = time.process_time() - start
    sampled = sum(r.account["base_tokens_sampled"] for r in ours)
    same = sum(o.response_ids == r[0] for o, r in zip(ours, ref))
    gap = max(abs(o.score - r[1]) for o, r in zip(ours, ref))
    print(f"CBS(W={args.w}, K={args.k}, L={args.l}), {args.tokens} new tokens, base {args.base}, scorer pair "
          f"{args.tuned}/{args.small}, {len(prompts)} {args.dataset} prompts, 1 thread, CPU time")
    print(f"  one prompt at a time (official structure) {t_ref:7.2f} s   {sampled / t_ref:8.0f} base tokens/s")
    print(f"  batched across prompts (ours)             {t_ours:7.2f} s   {sampled / t_ours:8.0f} base tokens/s")
    print(f"  speed-up ×{t_ref / t_ours:.1f}; identical responses {same}/{len(prompts)}; "
          f"largest score difference {gap:.1e}")


if __name__ == "__main__":
    main()
