"""Chapter 30, round 8: do the SFTs that build MACPO's agents from half A fit what they are trained on?

Why (round 7's claim runs, read from their caches after the verdict; numbers of world 0, seed 0):

- *Harmless.* Half A's rejected replies to benign requests are refusals or "I am not sure." (never compliance), yet
  the negative copies — SFT on those rejected replies — comply with 89 % of half B's benign requests (refuse 11 %):
  they learned "Sure. First, …" from the harmful rows' rejected compliance and say it everywhere. The teachers, SFT
  on half A's chosen replies (benign ones never refuse), refuse 23 % / 60 % of the benign test requests. So on
  benign prompts MACPO's pairs are inverted — positives refuse (0.89–0.90 of the teachers' benign positives, 0.72 →
  0.92 of the student's), negatives comply — and DPO teaches over-refusal: the student refuses 88 → 96 → 93 % of
  benign test requests, the teachers 82–100 %. The issue asks for negatives that are unhelpful or refusing on
  benign prompts; the data has them, the copies do not reproduce them.
- *Helpful.* The student's test misses at iterations 1–3 are all one kind: it names another attribute of the right
  person ("Which city is Drujar's home?" → "Drujar's favourite food is pasta."). They sit on three of the ten
  question wordings ("Which city is X's home?", "Which pet does X keep?", "What does X do for work?") that the zoo's
  pretraining never shows (the zoo's `tinygpt-l` answers them with the right fact on 0 / 0.1 / 0 of the test
  prompts, the five wordings pretraining shows on 1.0). Half A teaches them with gold answers, but the teachers, after
  their SFT, state the asked attribute on only 0.36–0.61 of half B's prompts in those wordings, so the student's
  candidates rarely hold the reading it lacks (its positives there state the asked attribute on 0.40 / 0.40 / 0.43).

Both are the SFT that builds an agent from half A (``MACPOConfig.sft``: lr 5e-4, 2 epochs, 26 steps) — a budget set in
round 2 for the teachers' form, never checked for fit. Round 5's R5-b rule ("train to fit") was applied to the
MACPO updates (students in round 5, teachers in round 7), not to these SFTs.

Reading, registered before it ran (2026-12-04, this file's first commit). For each budget (lr, epochs) in the order
(5e-4, 2) [now], (5e-4, 4), (1e-3, 4), (1e-3, 8), batch 16, the chapter's config with ``init_lr`` / ``init_epochs``
set to it builds every weak teacher (SFT on half A's chosen replies) and every agent's negative copy (SFT of the
agent's initialisation on half A's rejected replies; a teacher's copy starts from its SFT at the same budget). Fit of
a model = share of half A's prompts whose greedy reply earns the gold reward of its target (the chosen reply for a
teacher, the rejected one for a negative copy) within 0.1 — the behaviour it was trained on, in the gold's own
terms. Both tasks (helpful, harmless), seeds 0 and 1, worlds 0 and 1. ``init_lr`` / ``init_epochs`` take the first
budget in that order whose mean fit over all those models is within 0.05 of the best budget's. Chapter 30's claim is
then run once per world on fresh caches with it, adopted whatever the verdict; nothing else changes (naive SFT,
confident loss and the unaligned student keep ``sft``).

    W2S_WORLD_SEED=1 python benchmarks/macpo_init_fit.py --out world1.json
"""

from __future__ import annotations

import time

import numpy as np

BUDGETS = ((5e-4, 2.0), (5e-4, 4.0), (1e-3, 4.0), (1e-3, 8.0))  # in the order of the rule
# the tiny preset as it was when this reading was registered (commit def1479), so that the reading reruns
# on the same configs (and run ids) after later rounds change the preset
TINY_AT_REGISTRATION = {"students": ("tinygpt-l",), "n_labelled": 400, "n_test": 100, "max_new_tokens": 20, "sft.batch_size": 16, "dpo.batch_size": 16,
        "sft.epochs": 2.0, "temperature": 0.7, "top_k": 50, "dpo_loss": "sigmoid+sft",
        "teachers": ("tinygpt-m-a", "tinygpt-m-b"), "n_samples": 2,
        "dpo.lr": 1e-3, "dpo.epochs": 4.0, "teacher_lr": 3e-3, "teacher_epochs": 8.0, "init_lr": 0.0, "init_epochs": 0.0, "precompute_ref": False}
CHAPTER = {**TINY_AT_REGISTRATION, **{"student_init": "unaligned", "test_set": "reworded", "alignment_people": "known_to_a_teacher"}}
TASKS = ("helpful", "harmless")


def half_a_fit(cfg, model_dir, agent: str, target: str) -> float:
    """Share of half A's prompts whose greedy reply (``model_dir``) earns the gold reward of its ``target``
    column (chosen | rejected) within 0.1."""
    from w2s_lib.macpo import loop as macpo
    from w2s_lib.models import zoo

    half_a = macpo.splits(cfg)[0]
    prompts, targets = list(half_a["prompt"]), list(half_a[target])
    greedy = macpo.generate(macpo._load(model_dir, cfg), zoo.load_tokenizer(agent), prompts, cfg, 0, greedy=True)
    gold = macpo.TASKS[cfg.task][1]
    return float(np.mean([abs(gold(p, g) - gold(p, t)) <= 0.1 for p, g, t in zip(prompts, greedy, targets)]))


def init_fits(cfg) -> dict:
    """Per budget: each teacher's fit to half A's chosen replies and each agent's negative copy's to the rejected."""
    from w2s_lib.macpo import loop as macpo

    out = {}
    for lr, ep in BUDGETS:
        v = cfg.replace(init_lr=lr, init_epochs=ep)
        fits = {f"teacher {t}": half_a_fit(v, macpo.init_agent(v, t).path / "model", t, "chosen") for t in v.teachers}
        fits.update({f"negative {a}": half_a_fit(v, macpo.negative_model(v, a).path / "model", a, "rejected")
                     for a in v.agents})
        out[f"lr{lr:g}_ep{ep:g}"] = {k: round(x, 4) for k, x in fits.items()}
    return out


def choose(fits: dict[str, float]) -> str:
    """The rule: the first budget (in ``BUDGETS``' order) whose mean fit is within 0.05 of the best."""
    best = max(fits.values())
    return next(k for k in (f"lr{lr:g}_ep{ep:g}" for lr, ep in BUDGETS) if fits[k] >= best - 0.05)


def main() -> None:
    from search_pair_decisions import reading_args, report
    from w2s_lib.core.runtime import torch_threads
    from w2s_lib.data.tinyworld.world import current_world_seed
    from w2s_lib.macpo.loop import MACPOConfig

    args = reading_args(__doc__)
    t0 = time.process_time()
    result = {"world_seed": current_world_seed()}
    with torch_threads(1):
        for task in TASKS:
            for seed in map(int, args.seeds.split(",")):
                result[f"{task}_seed{seed}"] = init_fits(MACPOConfig.for_preset("tiny", CHAPTER, task=task, seed=seed))
                print(task, seed, result[f"{task}_seed{seed}"], flush=True)
    runs = [result[k] for k in result if k.split("_seed")[0] in TASKS]
    result["mean_fit"] = {b: round(float(np.mean([x for r in runs for x in r[b].values()])), 4) for b in runs[0]}
    for kind in ("teacher", "negative"):
        result[f"mean_fit_{kind}"] = {b: round(float(np.mean([x for r in runs for k, x in r[b].items()
                                                              if k.startswith(kind)])), 4) for b in runs[0]}
    result["choice_this_world"] = choose(result["mean_fit"])
    result["cpu_seconds"] = round(time.process_time() - t0, 1)
    report(result, args.out)


if __name__ == "__main__":
    main()
