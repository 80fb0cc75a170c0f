"""Chapter 30, round 7: is each weak teacher's MACPO update trained to fit what MACPO chose for it?

Why (round 6's claim run, world 0; the chapter's by-step tables): with complementary teachers the mechanism acts —
the student's iteration-1 positives state the right fact on 0.77 of half B's fact questions against 0.43 for naive
SFT's targets, and in each teacher's area the positive is the teacher who read about the person (0.72 / 0.82, the
other teacher 0.07 / 0.08). The student then answers the test (the same facts, reworded) about as well as its
positives were (greedy right fact 0.79 at iteration 1; no wrong values: its misses are answers without the fact),
and stays there (0.87 / 0.86 / 0.85 gold over iterations). Its positives improve only if its teachers do: the
teachers' own positives — the student's samples — state the right fact on 0.78, yet after their update the
teachers' own samples state it on 0.40 → 0.47 (tinygpt-m-a) and 0.45 → 0.49 (tinygpt-m-b). Round 5 chose every
agent's update (lr 1e-3, 4 epochs) by the *student's* fit to its positives (R5-b); nobody measured the teachers'.

Reading, registered before it ran (2026-12-04, this file's first commit): R5-b's rule applied to the teachers. For
each teacher, its iteration-1 MACPO pairs (round 6's claim run, which this reads from its cache) trained from its
initialisation at (lr, epochs) = (1e-3, 4) [now], (1e-3, 8), (3e-3, 4), (3e-3, 8), batch 16, DPO + the positive's
NLL; fit = share of half B's fact questions whose greedy answer matches the teacher's positive (values stated for
the asked attribute, and form: ``macpo_knowledge_areas.matches``). The teachers' update (``teacher_lr``,
``teacher_epochs``) takes the first budget in that order whose fit — mean over both teachers, seeds 0 and 1, worlds 0
and 1 — is within 0.05 of the best budget's. Then chapter 30's claim is run once per world on fresh caches with it,
adopted whatever the verdict; nothing else changes.

Result (``macpo_teacher_fit_results.json``, ≈ 190 s CPU per world): the teachers' fit, mean over both teachers,
seeds 0–1 and worlds 0–1 — (1e-3, 4) 0.505, (1e-3, 8) 0.525, (3e-3, 4) 0.496, (3e-3, 8) **0.586**. Only (3e-3, 8) is
within 0.05 of the best (1e-3 × 8 misses by 0.011), so the teachers' update runs at ``teacher_lr=3e-3`` for
``teacher_epochs=8`` (104 steps). No budget fits a teacher to even two thirds of its positives: a `tinygpt-m`-sized
model learns new facts slowly (``macpo_teacher_learning.py``).

    W2S_HOME=<round 6's claim cache> W2S_WORLD_SEED=1 python benchmarks/macpo_teacher_fit.py --out world1.json
"""

from __future__ import annotations

import time

import numpy as np

BUDGETS = ((1e-3, 4.0), (1e-3, 8.0), (3e-3, 4.0), (3e-3, 8.0))  # in the order of the rule
# the tiny preset as it was when this reading was registered (commit 25fe841), so that the reading reruns
# on the same configs (and run ids) after later rounds change the preset
TINY_AT_REGISTRATION = {"students": ("tinygpt-l",), "n_labelled": 400, "n_test": 100, "max_new_tokens": 20, "sft.batch_size": 16, "dpo.batch_size": 16,
        "sft.epochs": 2.0, "temperature": 0.7, "top_k": 50, "dpo_loss": "sigmoid+sft",
        "teachers": ("tinygpt-m-a", "tinygpt-m-b"), "n_samples": 2,
        "dpo.lr": 1e-3, "dpo.epochs": 4.0, "teacher_lr": 0.0, "teacher_epochs": 0.0, "init_lr": 0.0, "init_epochs": 0.0, "precompute_ref": False}
CHAPTER = {**TINY_AT_REGISTRATION, **{"student_init": "unaligned", "test_set": "reworded", "alignment_people": "known_to_a_teacher"}}


def teacher_fit(cfg) -> dict:
    """Per teacher and budget: its fit to its iteration-1 positives after an update at that budget."""
    from macpo_knowledge_areas import update_fits

    return {t: {k: round(v, 4) for k, v in update_fits(cfg, t, BUDGETS, "diag_teacher_update").items()}
            for t in cfg.teachers}


def main() -> None:
    from search_pair_decisions import reading_args, report
    from w2s_lib.core.runtime import torch_threads
    from w2s_lib.data.tinyworld.world import current_world_seed
    from w2s_lib.macpo.loop import MACPOConfig

    args = reading_args(__doc__)
    t0 = time.process_time()
    result = {"world_seed": current_world_seed()}
    with torch_threads(1):
        for seed in map(int, args.seeds.split(",")):
            result[f"seed{seed}"] = teacher_fit(MACPOConfig.for_preset("tiny", CHAPTER, task="helpful", seed=seed))
    result["mean_fit"] = {f"lr{lr:g}_ep{ep:g}": round(float(np.mean(
        [result[s][t][f"lr{lr:g}_ep{ep:g}"] for s in result if s.startswith("seed") for t in result[s]])), 4)
        for lr, ep in BUDGETS}
    result["cpu_seconds"] = round(time.process_time() - t0, 1)
    report(result, args.out)


if __name__ == "__main__":
    main()
