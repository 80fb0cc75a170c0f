"""Benchmark: our CBS (batched candidates, KV cache reused and reordered, incremental scoring) against a
straightforward CBS that samples each candidate alone and recomputes every forward pass without a cache
(and rescores every candidate's whole response after each chunk), on the same models, prompts and W, K, L.

    python benchmarks/search_cbs.py [--base tinygpt-l] [--small tinygpt-xs] [--prompts 8] [--tokens 32]

Prints wall time per prompt and peak resident memory of each (each method runs in its own process, so
the peak is its own), the time ratio, and whether both pick responses of the same gold quality.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def naive_cbs(base, tok, prompt, scorer, width, successors, chunk_len, max_new_tokens, temperature, top_k, seed):
    import torch

    from w2s_lib.search.decoding import sample_next
    from w2s_lib.search.scorer import response_logprob

    gen = torch.Generator().manual_seed(seed)
    prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    eos = tok.eos_token_id
    beams = [[] for _ in range(width * successors)]
    done = [False] * len(beams)
    scores = torch.zeros(len(beams))
    while len(beams[0]) < max_new_tokens and not all(done):
        for i, beam in enumerate(beams):  # one candidate at a time, the whole sequence every step
            for _ in range(min(chunk_len, max_new_tokens - len(beam))):
                if done[i]:
                    beam.append(eos)
                    continue
                with torch.no_grad():
                    logits = base(input_ids=torch.tensor([prompt_ids + beam])).logits[:, -1].float().log_softmax(-1)
                t = int(sample_next(logits, temperature, top_k, 1.0, gen))
                beam.append(t)
                done[i] = t == eos
        clean = [[t for t in b if t != eos] for b in beams]
        with torch.no_grad():
            scores = (response_logprob(scorer.tuned, prompt_ids, clean, batch_size=1)
                      - response_logprob(scorer.untuned, prompt_ids, clean, batch_size=1))
        if len(beams[0]) >= max_new_tokens or all(done):
            break
        keep = torch.topk(scores, width).indices.repeat_interleave(successors).tolist()
        beams, done = [list(beams[k]) for k in keep], [done[k] for k in keep]
    best = int(torch.argmax(scores))
    return tok.decode([t for t in beams[best] if t != eos])


def run(method: str, args) -> dict:
    from w2s_lib import data
    from w2s_lib.data.tinyworld import scorers
    from w2s_lib.models import zoo
    from w2s_lib.core.runtime import torch_threads
    from w2s_lib.search import PairScorer, chunk_beam_search

    base, tok = zoo.load_causal_lm(args.base), zoo.load_tokenizer(args.base)
    scorer = PairScorer(zoo.load_causal_lm(args.tuned), zoo.load_causal_lm(args.small), zoo.load_tokenizer(args.small))
    prompts = data.load("tiny_reviews", "test")["prompt"][: args.prompts]
    kw = dict(width=args.w, successors=args.k, chunk_len=args.l, max_new_tokens=args.tokens, temperature=0.7,
              top_k=50)
    golds = []
    with torch_threads(1):
        start = time.perf_counter()
        for i, p in enumerate(prompts):
            if method == "ours":
                text = chunk_beam_search(base, tok, p, scorer, seed=i, **kw).text
            else:
                text = naive_cbs(base, tok, p, scorer, seed=i, **kw)
            golds.append(scorers.sentiment(text))
        seconds = time.perf_counter() - start
    return {"method": method, "seconds_per_prompt": seconds / len(prompts),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "gold_mean": sum(golds) / len(golds)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base", default="tinygpt-l")
    ap.add_argument("--small", default="tinygpt-xs", help="the untuned scorer")
    ap.add_argument("--tuned", default="tinygpt-s", help="stands in for the tuned scorer (speed does not care)")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--w", type=int, default=4)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--l", type=int, default=5)
    ap.add_argument("--method", choices=("ours", "naive"), default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.method:  # child process: one method, its own peak memory
        print(json.dumps(run(args.method, args)))
        return
    out = {}
    for method in ("ours", "naive"):
        child = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--method", method],
                               capture_output=True, text=True, check=True)
        out[method] = json.loads(child.stdout.strip().splitlines()[-1])
    o, n = out["ours"], out["naive"]
    print(f"CBS(W={args.w}, K={args.k}, L={args.l}), {args.tokens} new tokens, base {args.base}, "
          f"scorer pair {args.tuned}/{args.small}, {args.prompts} tiny_reviews prompts, 1 thread")
    for r in (o, n):
        print(f"  {r['method']:6s} {r['seconds_per_prompt']:7.3f} s/prompt   peak RSS {r['peak_rss_mb']:7.1f} MB   "
              f"gold {r['gold_mean']:+.3f}")
    print(f"  speed-up ×{n['seconds_per_prompt'] / o['seconds_per_prompt']:.1f}")


if __name__ == "__main__":
    main()
