"""Chapter 30, after round 11: would strong students who read about *every* person but recall their facts imperfectly
give MACPO's iterations something to carry? (the question a twelfth round would rest on)

Where round 11 stands (its claim runs, read by area after the verdict): each student read about 70 % of the people.
On the people it read about, its test gold rises over the iterations in three of four (student, world) cases
(`tinygpt-l-a` 0.747 → 0.796 → 0.834 in world 0, 0.806 → 0.897 → 0.909 in world 1; `tinygpt-l-b` 0.871 → 0.850 → 0.864
and 0.788 → 0.853 → 0.837) — the paper's loop: the teachers learn those facts from the students and hand them back as
positives. On the people it never read about (30 % of its test) it can learn nothing (`macpo_fact_uptake.py`: a fact
never read is not taken up in three updates), and its answers there move from talking about someone else (gold +0.2)
to a wrong value about the person asked (−0.5): −0.021 → −0.170 and −0.096 → −0.239 (world 0), −0.285 → −0.257 and
−0.052 → −0.201 (world 1). So the never-read area only adds a penalty, and in round 10 (one student that recalled
every fact) there was no room. The room the paper's loop needs is a student that *knows* more than each teacher but
*recalls* imperfectly, so that right positives can sharpen what it half-knows. The zoo's rungs recall 99–100 % of the
facts of the people they read about: a student pretrained for fewer steps would recall less.

This reading answers two questions before any such round is registered, per world:

1. *Ground truth.* Peers of ``tinygpt-l`` (its size, learning rate and warm-up; every person) pretrained for fewer
   steps (``STEPS``; built by this script into the zoo folder as ``tinygpt-l-r<steps>``, not zoo rungs): the share of
   all the world's facts each recalls (``tinygpt.fact_recall``: the true value the most likely of the attribute's
   eight; chance 0.125). The teachers (40 % of the people each) recall ≈ 0.46–0.48 of them.
2. *The link the loop needs.* With the chosen peer, the chapter's helpful alignment prompts (half B, seeds 0 and 1) and
   the student's MACPO update (DPO + the positive's NLL, lr 3e-4, 2 epochs: 26 steps; each update's reference the model
   before it): (gold) three successive updates with the labelled chosen replies as positives — the best positives MACPO
   could hand it; (wrong) one update with the same positives but each fact question's value replaced by another value
   of that attribute — a weak teacher's guess. After each update, greedy answers to the chapter's reworded test (the
   same facts, the other wording), right in fact and form (``macpo.fact_and_form``). The start is the base peer, as in
   ``macpo_fact_uptake.py``.

Rule, registered before it ran (this file's first commit, 2026-12-05):
(a) the chosen step count is the largest in ``STEPS`` whose whole-world recall lies in [0.55, 0.80] in both worlds —
    clearly above the teachers', with at least a fifth of the facts left to sharpen; none → not worth a round;
(b) the positives' facts move the student: gold acc(1) − wrong acc(1) ≥ 0.10 in both worlds (means over seeds 0–1);
(c) it does not saturate at the first update: gold acc(3) − gold acc(1) ≥ 0.05 in both worlds.
A twelfth round (the students replaced by such peers) is worth its claim run only if (a), (b) and (c) all hold.
Nothing in the chapter changes whatever the result.

Result (``macpo_weak_recall_results.json``; ≈ 295 s CPU per world to build the three peers, ≈ 42 s for part 2):
**worth a round** in both worlds. (a) Whole-world recall after 400 / 700 / 1000 steps: 0.218 / 0.754 / 0.982 (world 0),
0.178 / 0.708 / 1.000 (world 1) → 700 steps (held-out perplexity 2.47 / 2.72 against 2.26 / 2.22 at 1000).
(b) Right in fact and form on the reworded test after one update, gold vs wrong-value positives: 0.740 vs 0.495
(world 0), 0.430 vs 0.290 (world 1): +0.245 / +0.140. (c) Gold positives, before and after updates 1 / 2 / 3:
0.345 → 0.740 → 0.860 → 0.875 (world 0), 0.175 → 0.430 → 0.570 → 0.615 (world 1): +0.135 / +0.185 after the first.
A student that half-remembers keeps taking up right facts over three updates, and takes wrong ones too — so what its
positives say matters at every iteration, which is the room MACPO's loop needs.

After round 12's claim runs (``--by-recall``, not part of the rule; ``after_round12_verdict_by_recall`` in the
results): split by whether the base peer recalled the fact, the gold positives lift the facts it did *not* recall
0.18 → 0.43 → 0.61 → 0.60 (world 0) and 0.05 → 0.23 → 0.39 → 0.44 (world 1) over the three updates, the recalled
ones 0.39 → 0.83 → 0.93 → 0.95 and 0.22 → 0.51 → 0.64 → 0.68; wrong-value positives after one update 0.27 / 0.13 and
0.56 / 0.35. So right positives do teach this student what it misremembers. In round 12's MACPO the students'
positives there were right on 0.82 / 0.81 at iteration 1 but fell to 0.43 / 0.40 by iteration 3, as the teachers took
up the students' errors, and the students answered those facts right at test on 0.22 → 0.28 / 0.22 → 0.30
(chapter 30, *Round 12*).

    W2S_WORLD_SEED=1 python benchmarks/macpo_weak_recall.py --out world1.json
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import replace

import numpy as np

STEPS = (400, 700, 1000)
RECALL_BAND = (0.55, 0.80)
UPDATES = 3
SEEDS = (0, 1)
CHAPTER = {"student_init": "unaligned", "test_set": "reworded"}  # chapter 30's overrides (test = reworded half B)


def peer_name(steps: int) -> str:
    return f"tinygpt-l-r{steps}"


def build(world_seed: int, steps: int) -> tuple:
    """A peer of tinygpt-l over every person, pretrained for ``steps``; built once into this world's zoo folder."""
    from w2s_lib.models import tinygpt as G

    return G.build_off_zoo(peer_name(steps), replace(G.SIZES["tinygpt-l"], steps=steps), world_seed)


def wrong_value(answer: str, attribute: str, truth: str) -> str:
    """``answer`` with the true value of ``attribute`` replaced by the next value of that attribute's list."""
    from w2s_lib.data.tinyworld import scorers

    values = list(scorers.ATTRIBUTES[attribute])
    other = values[(values.index(truth) + 1) % len(values)]
    return re.sub(re.escape(truth), lambda m: other.capitalize() if m.group(0)[0].isupper() else other, answer,
                  flags=re.IGNORECASE)


def link(path, seed: int, by_recall: bool = False) -> dict:
    import torch

    from w2s_lib.core.runtime import torch_threads
    from w2s_lib.data.tinyworld import world
    from w2s_lib.data.tinyworld.world import current_world_seed
    from w2s_lib.macpo import loop as macpo
    from w2s_lib.macpo.loop import MACPOConfig
    from w2s_lib.models import zoo

    cfg = MACPOConfig.for_preset("tiny", CHAPTER, task="helpful", seed=seed)
    facts = world(current_world_seed()).facts
    half_b = macpo.splits(cfg)[1]
    wrong = [wrong_value(c, a, facts[e][a]) if a else c
             for c, a, e in zip(half_b["chosen"], half_b["attribute"], half_b["entity"])]
    arms = {"gold": macpo.pairs_dataset(half_b["prompt"], half_b["chosen"], half_b["rejected"]),
            "wrong": macpo.pairs_dataset(half_b["prompt"], wrong, half_b["rejected"])}
    asked = {rw for rw, a in zip(half_b["reworded"], half_b["attribute"]) if rw and a}
    tests = [p for p in macpo.test_sets(cfg)["test"] if p in asked]
    tok = zoo.load_tokenizer("tinygpt-l")
    if by_recall:
        from w2s_lib.models.tinygpt import recalled_facts

        recalled = recalled_facts(zoo.load_local_causal_lm(path).eval(), tok, current_world_seed())
    fact_of = {rw: (e, a) for rw, e, a in zip(half_b["reworded"], half_b["entity"], half_b["attribute"]) if rw and a}

    def accuracy(model) -> float | dict:
        answers = macpo.generate(model, tok, tests, cfg, seed, greedy=True)
        right = [all(macpo.fact_and_form(p, r)) for p, r in zip(tests, answers)]
        if not by_recall:
            return float(np.mean(right))
        split = [recalled[fact_of[p]] for p in tests]
        return {k: float(np.mean([r for r, s in zip(right, split) if s == want]))
                for k, want in (("recalled", True), ("not recalled", False))}

    out = {"n_test": len(tests), "n_wrong_positives": int(sum(w != c for w, c in zip(wrong, half_b["chosen"])))}
    with torch_threads(1):
        for arm, updates in (("gold", UPDATES), ("wrong", 1)):
            model = zoo.load_local_causal_lm(path)
            out[arm] = {0: accuracy(model)}
            for t in range(1, updates + 1):
                torch.manual_seed(seed + t)
                model = macpo.dpo_update(model.train(), tok, arms[arm], cfg, seed + t)
                out[arm][t] = accuracy(model)
    return out


def main() -> None:
    from w2s_lib.data.tinyworld.world import current_world_seed

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="")
    ap.add_argument("--steps", type=int, default=0, help="run part 2 with this step count (chosen from both worlds)")
    ap.add_argument("--by-recall", action="store_true",
                    help="part 2's accuracies split by whether the base peer recalled the fact (a reading after "
                         "round 12's verdict; not part of the registered rule)")
    args = ap.parse_args()
    world_seed = current_world_seed()
    t0 = time.process_time()
    result = {"world_seed": world_seed, "recall": {}}
    for steps in STEPS:
        _, meta = build(world_seed, steps)
        result["recall"][steps] = {k: meta[k] for k in ("fact_recall", "heldout_perplexity", "final_train_loss")}
        print(steps, result["recall"][steps], flush=True)
    result["build_cpu_s"] = round(time.process_time() - t0)
    if args.steps:
        path, _ = build(world_seed, args.steps)
        result["steps"] = args.steps
        for s in SEEDS:
            result[f"seed{s}"] = link(path, s, args.by_recall)
            print(s, json.dumps(result[f"seed{s}"]), flush=True)
        if args.by_recall:
            result["mean_by_recall"] = {arm: {t: {k: float(np.mean([result[f"seed{s}"][arm][t][k] for s in SEEDS]))
                                                  for k in ("recalled", "not recalled")}
                                              for t in result["seed0"][arm]} for arm in ("gold", "wrong")}
        else:
            mean = {arm: {t: float(np.mean([result[f"seed{s}"][arm][t] for s in SEEDS])) for t in result["seed0"][arm]}
                    for arm in ("gold", "wrong")}
            result["mean"] = mean
            result["b_positives_move_it"] = mean["gold"][1] - mean["wrong"][1]
            result["c_after_first_update"] = mean["gold"][UPDATES] - mean["gold"][1]
    result["cpu_s"] = round(time.process_time() - t0)
    print(json.dumps({k: v for k, v in result.items() if not k.startswith("seed")}))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
