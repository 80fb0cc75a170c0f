"""Chapter 20's pair taught what a reply has already said: held-out readings that decide whether it guides the claim.

Why (the earlier readings, ``search_pair_decisions.py`` and ``search_names_variant.py``): with the gold itself as the
guide, CBS(4, 4, 3) beats best-of-16 on held-out prompts (+0.11 / +0.07, worlds 0 / 1), so the task rewards
chunk-level search; the chapter's small pair does not, and the reading was that it scores a restated wanted fact like
a new one, so CBS's replies run long and restate. Its DPO pairs are best against worst of the small model's own
samples about people it knows, and those samples are short: 1.9 sentences, 3 % of them restating anything (80 training
prompts × 8 samples, world 0), against 2.8 sentences and 9 % for `tinygpt-l` on test prompts — the choices CBS makes
late in a reply (what to say after two or three statements; say something new or repeat) are nearly absent from what
the pair was tuned on.

The candidate (``tune_extend=n``, :func:`w2s_lib.search.experiment.extension_pairs`): besides the chapter's pairs,
each training prompt's n best distinct samples are extended by one sentence — the sampled sentence that adds most to
the gold, against a restatement of the reply's own and against the sampled sentence that adds least; the gold labels
every pair, as in the paper's tuning. Nothing about the test people or the bases is used.

Readings, per world (``W2S_WORLD_SEED``), for the chapter's pair and ``tune_extend`` = 1 and 3:

- **novelty** (test prompts 200–239): the strongest base's own reply R (the chunk sweep's stream) and the pair's score
  of R + one more statement, a *new* wanted fact (the person's true job, city or pet not yet in R, in the world's
  canonical wording) minus R + a *restatement* of R's own sentence that states a wanted fact; mean over the prompts
  where both exist. A pair that knows what the reply said scores the new fact higher (> 0).
- **search** (test prompts 200–399, 200 prompts after the claim's 0–99, the chunk sweep's streams): the base alone,
  best-of-16 and CBS(4, 4, 3): mean gold, CBS − best-of-16 paired over prompts (mean ± standard error), sentences
  and restated facts per reply.

Registered before any of these ran (2026-12-04, this file's first commit): a candidate qualifies if, in both worlds,
its novelty reading is > 0 and its held-out CBS − best-of-16 is > 0 and above the chapter's pair's. Among qualifying
candidates the one with the larger smaller-of-the-two-worlds CBS − best-of-16 becomes the tiny preset's tuning, and
the chapter's claim is run once per world on fresh caches; if none qualifies, the preset keeps its pair and the claim
is not rerun.

    W2S_WORLD_SEED=1 python benchmarks/search_extension_pairs.py --out world1.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

CANDIDATES = {"chapter": {}, "extend-1": {"tune_extend": 1}, "extend-3": {"tune_extend": 3}}
WANTED = ("job", "city", "pet")
NOVELTY_PROMPTS = range(200, 240)
SEARCH_PROMPTS = range(200, 400)


def novelty(cfg, scorer, prompts, entities, replies) -> dict:
    """Pair score of reply + a new wanted fact minus reply + a restated one (see the module docstring)."""
    from w2s_lib.data.tinyworld import scorers
    from w2s_lib.data.tinyworld.world import STATEMENTS, current_world_seed
    from w2s_lib.search.experiment import _SENTENCES

    kb = scorers._kb(current_world_seed())
    diffs = []
    for prompt, entity, reply in zip(prompts, entities, replies):
        stated = {a for s in _SENTENCES.findall(reply) if entity in s for a in scorers.values_mentioned(s)}
        new = [a for a in WANTED if a not in stated]
        restated = [s for s in _SENTENCES.findall(reply)
                    if entity in s and set(scorers.values_mentioned(s)) & set(WANTED)]
        if not new or not restated:
            continue
        fresh = " " + STATEMENTS[new[0]][0].format(e=entity, v=kb[entity][new[0]])
        s_new, s_old = scorer.score_texts(prompt, [reply + fresh, reply + restated[-1]], eos=False).tolist()
        diffs.append(s_new - s_old)
    return {"new_minus_restated": round(float(np.mean(diffs)), 2) if diffs else None, "n": len(diffs)}


def measure(overrides: dict, search_prompts: range = SEARCH_PROMPTS) -> dict:
    from search_pair_decisions import reply_shape
    from w2s_lib import data
    from w2s_lib.data.tinyworld import scorers
    from w2s_lib.data.tinyworld.world import current_world_seed
    from w2s_lib.models import zoo
    from w2s_lib.search.experiment import SearchConfig, _guide, gold_reward, heldout_seeds, run_prompts, tune_scorer

    cfg = SearchConfig.for_preset("tiny", overrides, seed=1)
    t = time.process_time()
    tuning = tune_scorer(cfg)
    out = {"n_pairs": tuning.result["n_pairs"], "tune_cpu_seconds": round(time.process_time() - t, 1)}
    _, _, scorer = _guide(cfg, tuning)
    test = data.load(cfg.prompts, "test", seed=cfg.seed)
    kb = scorers._kb(current_world_seed())
    gold = gold_reward(cfg.gold)
    base = cfg.bases[-1]
    model, model_tok = zoo.load_causal_lm(base), zoo.load_tokenizer(base)
    rows = test.select(search_prompts)
    prompts, entities = rows["prompt"], rows["entity"]
    seeds = heldout_seeds(cfg, len(prompts))  # the chunk sweep's streams
    w, k, ln = cfg.cbs
    golds, out["replies"] = {}, {}
    for method in ("base", f"bon-{w * k}", f"cbs-{w}-{k}-{ln}"):
        res = run_prompts(cfg, method, model, model_tok, prompts, scorer, seeds)
        golds[method] = np.array([gold(p, r.text) for p, r in zip(prompts, res)])
        shapes = [reply_shape(r.text, e, kb[e]) for r, e in zip(res, entities)]
        out["replies"][method] = {"gold": round(float(golds[method].mean()), 3),
                                  **{key: round(float(np.mean([s[key] for s in shapes])), 2) for key in shapes[0]}}
        if method == "base":
            n = len(NOVELTY_PROMPTS)
            out["novelty"] = novelty(cfg, scorer, prompts[:n], entities[:n], [r.text for r in res[:n]])
    d = golds[f"cbs-{w}-{k}-{ln}"] - golds[f"bon-{w * k}"]
    out["cbs_minus_bon"] = {"mean": round(float(d.mean()), 3), "se": round(float(d.std(ddof=1) / np.sqrt(len(d))), 3)}
    out["cpu_seconds"] = round(time.process_time() - t, 1)
    return out


def main() -> None:
    from search_pair_decisions import report
    from w2s_lib.core.runtime import torch_threads
    from w2s_lib.data.tinyworld.world import current_world_seed

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--candidates", default=",".join(CANDIDATES), help="comma-separated names of CANDIDATES")
    ap.add_argument("--prompts", type=int, default=len(SEARCH_PROMPTS), help="fewer search prompts (a code check)")
    ap.add_argument("--out", help="write the result here as JSON")
    args = ap.parse_args()
    search_prompts = range(SEARCH_PROMPTS.start, SEARCH_PROMPTS.start + args.prompts)
    with torch_threads(1):
        result = {"world_seed": current_world_seed(),
                  **{name: {"overrides": CANDIDATES[name], **measure(CANDIDATES[name], search_prompts)}
                     for name in args.candidates.split(",")}}
    report(result, args.out)


if __name__ == "__main__":
    main()
