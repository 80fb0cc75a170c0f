"""Benchmark: MACPO's sampling and perplexity scoring, the library's paths against the ones they replaced.

- **sampling**: :func:`w2s_lib.macpo.loop.generate` (the search part's KV-cache decoder,
  :func:`w2s_lib.search.decoding.sample_continuations`: one forward per token over the unfinished rows)
  against HF ``model.generate`` on the same left-padded batches of 64 (the previous implementation, kept
  here). Sampled texts differ (other random streams); greedy texts must be identical, and the script
  counts them.
- **perplexities**: :func:`w2s_lib.macpo.loop.perplexities_many` (every prompt's candidates in
  length-sorted batches of 16) against one call of :func:`w2s_lib.search.scorer.response_logprob` per
  prompt (the previous implementation); the script reports the largest relative difference and how often
  the lowest-perplexity candidate agrees.

Chapter 30's tiny setting: world 0 zoo, helpful task seed 0, the 200 alignment prompts (× 2 samples) and
the 100 test prompts, 20 new tokens, temperature 0.7, top-k 50. CPU seconds (``time.process_time``: the
machine is shared), one thread.

    python benchmarks/macpo_decoding.py [--agents tinygpt-s tinygpt-l]
"""

from __future__ import annotations

import argparse
import math
import time


def hf_generate(model, tok, prompts, cfg, seed, greedy=False, batch_size=64):
    """The previous ``macpo.generate``: HF ``generate`` on left-padded batches, cut at the first EOS."""
    import torch

    model = model.eval()
    keep = max(1, model.config.n_positions - cfg.max_new_tokens)
    side, tok.padding_side = tok.padding_side, "left"
    texts = []
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            for start in range(0, len(prompts), batch_size):
                ids = [tok(p, add_special_tokens=False)["input_ids"][-keep:] for p in prompts[start:start + batch_size]]
                enc = tok.pad({"input_ids": ids}, return_tensors="pt")
                kw = dict(do_sample=False) if greedy else dict(do_sample=True, temperature=cfg.temperature,
                                                               top_k=cfg.top_k or None, top_p=None)
                out = model.generate(**enc, max_new_tokens=cfg.max_new_tokens, pad_token_id=tok.pad_token_id,
                                     eos_token_id=tok.eos_token_id, **kw)
                for row in out[:, enc["input_ids"].shape[1]:].tolist():
                    if tok.eos_token_id in row:
                        row = row[:row.index(tok.eos_token_id)]
                    texts.append(tok.decode(row, skip_special_tokens=True))
    finally:
        tok.padding_side = side
    return texts


def one_prompt_perplexities(model, tok, prompt, responses):
    """The previous ``macpo.perplexities``: one ``response_logprob`` call per prompt."""
    from w2s_lib.search.scorer import response_logprob

    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    r_ids = [tok(r, add_special_tokens=False)["input_ids"] for r in responses]
    keep = [i for i, r in enumerate(r_ids) if r]
    out = [math.inf] * len(responses)
    if keep:
        lp = response_logprob(model.eval(), p_ids, [r_ids[i] for i in keep])
        for i, v in zip(keep, lp.tolist()):
            out[i] = math.exp(-v / len(r_ids[i]))
    return out


def cpu(fn):
    t = time.process_time()
    out = fn()
    return out, time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agents", nargs="+", default=["tinygpt-s", "tinygpt-l"])
    args = ap.parse_args()

    import torch

    from w2s_lib.macpo import loop as macpo
    from w2s_lib.models import zoo

    torch.set_num_threads(1)
    from macpo_mechanism import CHAPTER  # benchmarks/: the chapter as this reading ran (round 2's update and teachers)

    cfg = macpo.MACPOConfig.for_preset("tiny", CHAPTER, task="helpful", seed=0)
    _, half_b, test = macpo.splits(cfg)
    prompts = list(half_b["prompt"])
    for agent in args.agents:
        model, tok = zoo.load_causal_lm(agent), zoo.load_tokenizer(agent)
        hf_generate(model, tok, prompts[:8], cfg, 0)  # warm-up
        _, t_hf = cpu(lambda: hf_generate(model, tok, prompts * 2, cfg, 5))
        _, t_ours = cpu(lambda: macpo.generate(model, tok, prompts * 2, cfg, 5))
        g_hf, tg_hf = cpu(lambda: hf_generate(model, tok, list(test), cfg, 0, greedy=True))
        g_ours, tg_ours = cpu(lambda: macpo.generate(model, tok, list(test), cfg, 0, greedy=True))
        same = sum(a == b for a, b in zip(g_hf, g_ours))
        print(f"{agent}: sampling {2 * len(prompts)} replies HF generate {t_hf:.2f} s, ours {t_ours:.2f} s "
              f"(x{t_hf / t_ours:.2f}); greedy {len(test)} replies {tg_hf:.2f} s vs {tg_ours:.2f} s, identical {same}/{len(test)}")
    student, teacher = zoo.load_causal_lm("tinygpt-l"), zoo.load_causal_lm(args.agents[0])
    tok = zoo.load_tokenizer("tinygpt-l")
    cands = [macpo.generate(teacher, tok, prompts, cfg, s) for s in range(4)]
    responses = [[c[i] for c in cands] for i in range(len(prompts))]
    old, t_old = cpu(lambda: [one_prompt_perplexities(student, tok, p, r) for p, r in zip(prompts, responses)])
    new, t_new = cpu(lambda: macpo.perplexities_many(student, tok, prompts, responses))
    rel = max(abs(a - b) / a for ro, rn in zip(old, new) for a, b in zip(ro, rn) if math.isfinite(a))
    best = sum(min(range(4), key=ro.__getitem__) == min(range(4), key=rn.__getitem__) for ro, rn in zip(old, new))
    print(f"perplexities of {len(prompts)} x 4 candidates under tinygpt-l: one prompt per call {t_old:.2f} s, "
          f"batched {t_new:.2f} s (x{t_old / t_new:.2f}); max relative difference {rel:.1e}; same lowest {best}/{len(prompts)}")


if __name__ == "__main__":
    main()
