"""Chapter 30, after round 11: can a tiny student take up, at its MACPO update budget, facts it never read about a
person it did read about? (the question a twelfth round would rest on)

Round 11 gave chapter 30 two strong students that each read about a different 70 % of the people. The teachers then
relayed what only one student knew, but a student asked about a person its pretraining never showed answered about
someone else, whatever its positives said — right on none of those test questions at any iteration. A world whose
students read about *every* person but only *some of each person's facts* (one student jobs and pets, the other
colours and cities, say) would give each student names it can use and facts only the other has. That world is worth
building only if such a student can take those facts up from positives, and does so over several updates rather than
all at once (else it would saturate at iteration 1, as the one-student rounds did). This reading measures that, with
the best positives MACPO could ever hand it.

Setup, per world: a peer of ``tinygpt-l`` (its size and schedule) that read about every person but only the colour,
city and food facts (``Rung.attributes``; built by this script into the zoo folder as ``tinygpt-l-ccf``, not one of
the zoo's rungs); the chapter's helpful alignment prompts (half B of the tiny preset, seeds 0 and 1) with their
labelled chosen replies as positives and rejected replies as negatives — the gold answer in the aligned form, which
MACPO's positives can at best equal; three successive updates at the student's MACPO budget (DPO + the positive's NLL,
lr 3e-4, 2 epochs: 26 steps; each update's reference is the model before it), as a student's three iterations would
be; after each, greedy answers to the chapter's reworded test (the alignment prompts' facts in the other wording),
scored right in fact and form (``macpo.fact_and_form``) and split by whether the student read that attribute.
The start is the zoo-style base rung, not the chapter's unaligned student (its unaligned SFT needs a zoo name); the
base answers known facts in the aligned form already, which does not bear on whether it takes up unknown ones.

Rule, registered before it ran (this file's first commit, 2026-12-05): with uptake(t) the right share on the
*unread* attributes (job, pet) after update t, mean over seeds 0-1, a twelfth round (attribute-split students) is
worth its claim run if, in both worlds, uptake(3) >= 0.30 and uptake(3) - uptake(1) >= 0.10. If uptake(1) is
already >= 0.30 and grows by < 0.10, such students would saturate at iteration 1; if uptake(3) < 0.30, they cannot
take the facts up at this budget. The read attributes are the control (expected near the base's level throughout).
Nothing in the chapter changes whatever the result.

Result (``macpo_fact_uptake_results.json``; ≈ 25 s CPU per world for the updates, ≈ 223 s for building the peer):
**not worth a round** in either world. Uptake on the unread attributes after updates 1 / 2 / 3: 0.00 / 0.00 / 0.07
(world 0) and 0.00 / 0.03 / 0.18 (world 1), with the gold answers as positives; on the read attributes the same
student goes 0.50 → 0.83 / 0.86 → 1.00 → 1.00 (the aligned form, learned in one or two updates). At the student's
budget — the one round 10 chose so that three updates do not wear away what it knows — a new fact needs more than
three exposures, so MACPO's iterations cannot carry facts into these students before the form has saturated.

    W2S_WORLD_SEED=1 python benchmarks/macpo_fact_uptake.py --out world1.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np

READ = ("colour", "city", "food")
NAME = "tinygpt-l-ccf"
UPDATES = 3
SEEDS = (0, 1)
CHAPTER = {"student_init": "unaligned", "test_set": "reworded"}  # chapter 30's overrides (test = reworded half B)


def student_rung():
    from w2s_lib.models import tinygpt as G

    return replace(G.SIZES["tinygpt-l"], attributes=READ)


def build(world_seed: int):
    """The attribute-split peer, built once into this world's zoo folder."""
    from w2s_lib.models import tinygpt as G

    return G.build_off_zoo(NAME, student_rung(), world_seed)[0]


def uptake(path, seed: int) -> dict:
    import torch

    from w2s_lib.core.runtime import torch_threads
    from w2s_lib.macpo import loop as macpo
    from w2s_lib.macpo.loop import MACPOConfig
    from w2s_lib.models import zoo

    cfg = MACPOConfig.for_preset("tiny", CHAPTER, task="helpful", seed=seed)
    half_b = macpo.splits(cfg)[1]
    pairs = macpo.pairs_dataset(half_b["prompt"], half_b["chosen"], half_b["rejected"])
    attribute_of = {rw: a for rw, a in zip(half_b["reworded"], half_b["attribute"]) if rw and a}
    tests = [p for p in macpo.test_sets(cfg)["test"] if p in attribute_of]
    tok = zoo.load_tokenizer("tinygpt-l")
    model = zoo.load_local_causal_lm(path)
    out = {}
    with torch_threads(1):
        for t in range(0, UPDATES + 1):
            if t:
                torch.manual_seed(seed + t)
                model = macpo.dpo_update(model.train(), tok, pairs, cfg, seed + t)
            answers = macpo.generate(model, tok, tests, cfg, seed, greedy=True)
            right = [all(macpo.fact_and_form(p, r)) for p, r in zip(tests, answers)]
            read = [attribute_of[p] in READ for p in tests]
            out[t] = {"unread": float(np.mean([r for r, k in zip(right, read) if not k])),
                      "read": float(np.mean([r for r, k in zip(right, read) if k])),
                      "n_unread": int(len(read) - sum(read)), "n_read": int(sum(read))}
    return {"steps_per_update": int(np.ceil(len(pairs) / cfg.dpo.batch_size) * cfg.dpo.epochs),
            "dpo": {"lr": cfg.dpo.lr, "epochs": cfg.dpo.epochs, "loss": cfg.dpo_loss}, "after_update": out}


def main() -> None:
    from w2s_lib.data.tinyworld.world import current_world_seed

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    world_seed = current_world_seed()
    t0 = time.process_time()
    path = build(world_seed)
    result = {"world_seed": world_seed, "student": NAME, "read": READ, "build_cpu_s": round(time.process_time() - t0)}
    for s in SEEDS:
        result[f"seed{s}"] = uptake(path, s)
        print(s, json.dumps(result[f"seed{s}"]["after_update"]), flush=True)
    up = {t: float(np.mean([result[f"seed{s}"]["after_update"][t]["unread"] for s in SEEDS])) for t in range(UPDATES + 1)}
    result["uptake"] = up
    result["worth_a_round"] = bool(up[UPDATES] >= 0.30 and up[UPDATES] - up[1] >= 0.10)
    result["cpu_s"] = round(time.process_time() - t0)
    print(json.dumps({k: result[k] for k in ("world_seed", "uptake", "worth_a_round", "cpu_s")}))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
