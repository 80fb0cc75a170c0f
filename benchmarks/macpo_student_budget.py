"""Chapter 30, round 10: which per-iteration update of the student generalises across MACPO's iterations?

Why (round 9's claim runs with ``precompute_ref``, read from their caches after the verdict; worlds 0, seeds 0-1):
the chapter's second measurement, the held-out test (facts no alignment prompt asks), falls with every iteration.
The student's greedy answers right in fact and form on it, by who read about the person:

    area               iteration 1 -> 2 -> 3
    tinygpt-m-a only   0.77 -> 0.68 -> 0.65
    tinygpt-m-b only   0.73 -> 0.71 -> 0.72
    no teacher         0.38 -> 0.09 -> 0.09

and round 8 (alignment prompts only about people a teacher read about, so none about the last area) shows the same
fall without a single wrong positive there: 0.84 -> 0.77 -> 0.69, 0.78 -> 0.65 -> 0.64, 0.71 -> 0.29 -> 0.00. The
student's update was set in round 5 by R5-b ("fit the positives": lr 1e-3 x 4 epochs, 52 steps, DPO + the positive's
NLL) on iteration 1 alone; three such updates on the same 200 prompts wear away what it knew about everything else, and
on the reworded test — where it is right on 0.99 of the prompts a teacher can answer from iteration 1 — nothing is left
to gain. The paper's iterations are small steps that add up; ours is one large step followed by drift. R5-b chose on
fit, never on held-out answers.

Reading, registered before it ran (2026-12-05, this file's first commit). For each budget of the *student's* MACPO
update (``dpo.lr``, ``dpo.epochs``; batch 16) in the order (1e-3, 4) [now], (1e-3, 2), (3e-4, 2), (3e-4, 1), chapter
30's helpful config with that budget runs MACPO for 3 iterations (the teachers' updates, initialisation and
everything else unchanged). Validation = the student's greedy gold reward on half A's prompts (labelled rows the
student never trains on: the same people, other questions), after each iteration. The student's update takes the
first budget in that order whose validation gold, averaged over iterations 1-3, seeds 0 and 1 and worlds 0 and 1, is
within 0.02 of the best budget's — the whole trajectory, so neither a budget that peaks at iteration 1 and drifts
nor one that only catches up by iteration 3 is favoured. Chapter 30's claim is then run once per world on fresh
caches with it, adopted whatever the verdict. The test sets are read here only for the record (the rule does not use
them).

Second reading, registered 2026-12-05 after round 10's claim runs and before it ran. Those runs showed the budget the
rule chose on the helpful task (3e-4 x 2) barely teaches the *harmless* student to refuse harm (harmful test requests
refused 5 / 0 / 0 % at iterations 1-3 in world 0, 32 / 54 / 60 % in world 1; naive SFT 100 % / 82 %). The paper
trains each task on its own; the same rule, the same budgets and order, is read on the harmless task (``--task
harmless``: its half A prompts, benign and harmful balanced, scored by its gold), and the chapter's harmless runs take
its choice (a chapter override for that task). The helpful choice stands whatever this reading says.

    W2S_WORLD_SEED=1 python benchmarks/macpo_student_budget.py --out world1.json
    python benchmarks/macpo_student_budget.py --task harmless --out harmless_world0.json
"""

from __future__ import annotations

import time

import numpy as np

BUDGETS = ((1e-3, 4.0), (1e-3, 2.0), (3e-4, 2.0), (3e-4, 1.0))  # in the order of the rule
TOLERANCE = 0.02
# the tiny preset as it was when this reading was registered (commit 4eae98d), so that the reading reruns
# on the same configs (and run ids) after later rounds change the preset
TINY_AT_REGISTRATION = {"students": ("tinygpt-l",), "n_labelled": 400, "n_test": 100, "max_new_tokens": 20, "sft.batch_size": 16, "dpo.batch_size": 16,
        "sft.epochs": 2.0, "temperature": 0.7, "top_k": 50, "dpo_loss": "sigmoid+sft",
        "teachers": ("tinygpt-m-a", "tinygpt-m-b"), "n_samples": 2,
        "dpo.lr": 1e-3, "dpo.epochs": 4.0, "teacher_lr": 3e-3, "teacher_epochs": 8.0, "init_lr": 1e-3, "init_epochs": 8.0, "precompute_ref": True}
CHAPTER = {**TINY_AT_REGISTRATION, **{"student_init": "unaligned", "test_set": "reworded"}}
ITERATIONS = (1, 2, 3)


def name(lr: float, epochs: float) -> str:
    return f"lr{lr:g}_ep{epochs:g}"


def validation(cfg) -> dict:
    """The student's greedy gold on half A's prompts after each iteration (and at the start), with the test sets' means."""
    from w2s_lib.macpo import loop as macpo
    from w2s_lib.models import zoo

    student = cfg.students[0]
    half_a = macpo.splits(cfg)[0]
    prompts, gold = list(half_a["prompt"]), macpo._gold(cfg)
    macpo.run(cfg)
    out = {}
    for t in (0, *ITERATIONS):
        art = macpo.init_agent(cfg, student) if t == 0 else macpo.agent_step(cfg, student, t)
        greedy = macpo.generate(macpo._load(art.path / "model", cfg), zoo.load_tokenizer(student), prompts, cfg, 0,
                                greedy=True)
        out[f"iter{t}"] = {"validation": round(float(np.mean([gold(p, r) for p, r in zip(prompts, greedy)])), 4),
                           "test": round(art.result["gold_mean"], 4),
                           "heldout": round(art.result.get("gold_mean_heldout", float("nan")), 4)}
    return out


def choose(mean_validation: dict[str, float]) -> str:
    """The rule: the first budget (in ``BUDGETS``' order) within ``TOLERANCE`` of the best mean validation gold."""
    best = max(mean_validation.values())
    return next(k for k in (name(*b) for b in BUDGETS) if mean_validation[k] >= best - TOLERANCE)


def main() -> None:
    from search_pair_decisions import reading_args, report
    from w2s_lib.core.runtime import torch_threads
    from w2s_lib.data.tinyworld.world import current_world_seed
    from w2s_lib.macpo.loop import MACPOConfig

    args = reading_args(__doc__, task=("helpful", "harmless"))
    t0 = time.process_time()
    result = {"world_seed": current_world_seed(), "task": args.task}
    with torch_threads(1):
        for lr, epochs in BUDGETS:
            for seed in map(int, args.seeds.split(",")):
                cfg = MACPOConfig.for_preset("tiny", CHAPTER, task=args.task, seed=seed, dpo={"lr": lr, "epochs": epochs})
                result[f"{name(lr, epochs)}_seed{seed}"] = validation(cfg)
                print(name(lr, epochs), seed, result[f"{name(lr, epochs)}_seed{seed}"], flush=True)
    result["mean_validation"] = {
        name(*b): round(float(np.mean([result[k][f"iter{t}"]["validation"] for k in result if k.startswith(name(*b) + "_")
                                       for t in ITERATIONS])), 4) for b in BUDGETS}
    result["choice_this_world"] = choose(result["mean_validation"])
    result["cpu_seconds"] = round(time.process_time() - t0, 1)
    report(result, args.out)


if __name__ == "__main__":
    main()
