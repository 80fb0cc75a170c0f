"""Chapter 30, round 4: where in the tiny world does MACPO's mechanism have room to act? A ground-truth
diagnostic by knowledge area, measured before any change or claim run of this round.

Written before running (2026-12-04 13:55 UTC, the commit's time). Round 3 ended with "in this world the student
is never a better teacher than the teacher: its knowledge edge is small". The zoo has an explicit knowledge gap
(``tinygpt.SIZES[r].knows``: rung r was pretrained on the facts of the first share of the world's people and is at
chance on the others): ``tinygpt-s`` read 40% of the people, ``tinygpt-m`` 70%, the student ``tinygpt-l`` all.
The helpful task asks about *every* person, so on 70% of its fact questions the stronger teacher knows the answer
as well as the student does — the paper's premise (the student knows what its teachers do not) holds on 30% only.

Measured, world 0 and world 1, seeds 0 and 1, the chapter's configuration (round 2 tiny preset, unaligned student,
reworded test), iteration 1, on half B's fact questions split by who read about the person (``both``: both
teachers; ``m only``; ``neither``: only the student):
- right-fact share of each teacher's first samples, of naive SFT's targets (both teachers' first samples), of the
  student's MACPO positives (lowest perplexity under the unaligned student among the teachers' 2 × 2 samples) and
  of the unaligned student's greedy answers; right fact *and* form (``fact_and_form``) of the positives and targets.

Reading, fixed now: the mechanism has room in an area when the positives' right-fact share there exceeds naive
SFT's targets' by ≥ 0.15 (mean over the two seeds) in both worlds. If that holds in ``neither`` (and not, or much
less, in ``both``), round 4 draws MACPO's alignment and test prompts from the people beyond the teachers'
knowledge (the teachers still learn the assistant form on half A, about anyone) and only then runs the claim;
if it does not hold even there, the perplexity selection itself is the limit and round 4 does not change the task.

Round 4 result (``world0`` / ``world1`` in ``macpo_knowledge_areas_results.json``, ~75 s CPU per world; right fact
of the positives against naive SFT's targets, seeds 0 / 1): ``neither`` 0.13 vs 0.09, 0.04 vs 0.06 (world 0), 0.06 vs
0.05, 0.07 vs 0.06 (world 1) — no room: the teachers' samples about people neither read about are right on 2–11%
(chance 12.5%) and never right in fact and form, so there is nothing for the student's perplexity to find. By the
reading above the task is therefore *not* moved beyond the teachers' knowledge. But the reading's other branch
("the selection itself is the limit") is contradicted by the area it did not name: ``tinygpt-m only`` 0.77 vs 0.42,
0.77 vs 0.42 (world 0), 0.66 vs 0.44, 0.69 vs 0.48 (world 1) — +0.21 to +0.35: where the teachers disagree, the
student's perplexity picks the teacher that knows. ``both``: 0.75–0.77 vs 0.73–0.81, no room (they agree). The
unaligned student's greedy answers are right in fact on 0.37–0.61 in every area (it knows, in its bare form).

Round 5, registered after round 4's numbers and before running (2026-12-04 14:10 UTC, the commit's time):

- R5-a (the alignment prompts): MACPO's helpful alignment prompts (half B) and so its reworded test ask about
  people at least one weak teacher read about (``alignment_people="known_to_a_teacher"``: the ``both`` and
  ``tinygpt-m only`` areas, where round 4 measured the positives at or above the naive targets), not about people no
  teacher can answer for. Adopted without a further reading: it follows from round 4.
- R5-b (each MACPO update trained to fit its pairs): with R5-a, the student's iteration-1 update on its MACPO pairs
  at (lr, epochs) = (3e-4, 1) [now], (3e-4, 2), (1e-3, 1), (1e-3, 2), (1e-3, 4), batch 16, DPO + the positive's NLL.
  Fit = share of half B's fact questions whose greedy answer matches its positive in (values stated for the asked
  attribute, right form). Every agent's MACPO update takes the first budget in that order whose fit (mean over seeds
  0, 1 and worlds 0, 1) is within 0.05 of the best budget's — the convergence rule D1 applied to naive SFT.
- R5-c (naive SFT to convergence, D1's rule and fit): naive SFT at 2 and 6 epochs, fit = share of half B's fact
  questions whose greedy answer matches one of its targets in the same sense; 6 epochs if the mean fit rises by more
  than 0.05 from 2 to 6, else 2 (the confident loss starts from it).
- Then C6's claim run: chapter 30 at the tiny preset with R5's settings, once per world from a cache holding only the
  zoo, decided by the library's unchanged rule and reported whatever it says; no setting changes after it.

Round 5 fit readings (``round5_world0`` / ``round5_world1``, ~350 s CPU per world): the student's fit to its
positives, mean over seeds 0, 1 and both worlds — (3e-4, 1) 0.329, (3e-4, 2) 0.781, (1e-3, 1) 0.833, (1e-3, 2) 0.867,
(1e-3, 4) 0.917. Only (1e-3, 4) is within 0.05 of the best (1e-3 × 2 misses by 0.0506), so every MACPO update runs
at lr 1e-3 for 4 epochs (52 steps). Round 2's update had fitted the student to its own positives on a third of the
prompts: the student was not shown what MACPO chose for it. Naive SFT's fit 0.902 (2 epochs) → 0.947 (6): +0.045,
so it stays at 2 epochs.

Adoption, decided before the claim run's verdict (2026-12-04 14:18 UTC; written after seeing seed 0's per-step
gold in both worlds — student iteration 1 → 3: 0.827 → 0.835 in world 0, 0.776 → 0.735 in world 1 — and nothing
else): round 5 becomes chapter 30's world whatever C6's verdict, because both changes are fits to the mechanism and
to training data, not to the claim: an update that leaves the student fitted to a third of what MACPO chose for it
does not test MACPO, and round 2's "student improves over iterations" may be that underfitting being slowly undone.

Round 5's claim runs (``claim_round5`` in the results file: chapter 30 at the tiny preset, once per world, a fresh
``W2S_HOME`` holding only the zoo, both at once on 2 cores): C6 does not hold in either world. World 0: iter3 − iter1
+0.008 [−0.026, +0.045]; − naive SFT +0.037 [−0.005, +0.087]; − confident loss +0.063 [+0.013, +0.120] (holds);
teachers −0.007 [−0.059, +0.045]. World 1: −0.008 [−0.039, +0.022]; +0.009 [−0.035, +0.051]; +0.002 [−0.041,
+0.047]; −0.046 [−0.082, −0.004]. 2151 s CPU (world 0) and 2272 s (world 1), seven times the 300 s budget. Fitted,
the student reaches its level at iteration 1 (test 0.28 → 0.81 / 0.81 / 0.82, world 0; 0.09 → 0.80 / 0.81 / 0.79);
its positives state a wrong value 6–10× less often than naive SFT's targets (0.015–0.025 vs 0.15, world 0) but naive
SFT does not inherit wrong values either (0.006 of the test's fact questions); ``tinygpt-m`` starts above the
student's end (0.85 / 0.91 vs 0.82 / 0.79) and falls. Harmless task (seed 0, reported, not a C6 part): the fitted
student refuses 91 / 100 / 100% of benign test requests at iterations 1 / 2 / 3 in world 0 (58 / 66 / 68% in world
1; round 2: 0–2%): the teachers' own samples refuse 44–45% of benign requests, a short refusal is the lowest-perplexity
candidate for 60% of the student's benign positives at iteration 1 and for 100% of every agent's from iteration 2.

    python benchmarks/macpo_knowledge_areas.py --out benchmarks/macpo_knowledge_areas_results.json
    W2S_WORLD_SEED=1 python benchmarks/macpo_knowledge_areas.py --out benchmarks/macpo_knowledge_areas_results.json
    python benchmarks/macpo_knowledge_areas.py --round 5 --out benchmarks/macpo_knowledge_areas_results.json  # and world 1
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from w2s_lib.data.tinyworld.world import current_world_seed
from w2s_lib.macpo import loop as macpo
from w2s_lib.macpo.loop import MACPOConfig
from w2s_lib.models import zoo

from macpo_mechanism import CHAPTER, naive, shares, stated  # benchmarks/: the round-1 diagnostics' helpers and chapter
ROUND5_AREA = {"alignment_people": "known_to_a_teacher"}  # R5-a


def area(cfg: MACPOConfig, prompt: str) -> str:
    """Which teachers read about the person a fact question asks about: both | <rung> only | neither."""
    knew = macpo.teachers_who_know(cfg, stated(prompt, "")[0][0])
    return "both" if len(knew) == len(cfg.teachers) else "neither" if not knew else " + ".join(knew) + " only"


def is_fact_question(prompt: str) -> bool:
    return stated(prompt, "")[0] is not None


def measure(cfg: MACPOConfig) -> dict:
    half_b = macpo.splits(cfg)[1]
    prompts = list(half_b["prompt"])
    fact_i = [i for i, p in enumerate(prompts) if is_fact_question(p)]
    st = cfg.students[0]
    weak = macpo.weak_responses(cfg)
    pos = {json.loads(x)["prompt"]: json.loads(x)["chosen"]
           for x in (macpo.agent_step(cfg, st, 1).path / "pairs.jsonl").read_text().splitlines()}
    model = macpo._load(macpo.init_agent(cfg, st).path / "model", cfg)
    greedy = macpo.generate(model, zoo.load_tokenizer(st), [prompts[i] for i in fact_i], cfg, 0, greedy=True)
    greedy = dict(zip(fact_i, greedy))
    out = {}
    for name in ("both", *[f"{t} only" for t in cfg.teachers], "neither"):
        idx = [i for i in fact_i if area(cfg, prompts[i]) == name]
        if not idx:
            continue
        row = {t: shares([(prompts[i], weak[t][i]) for i in idx]) for t in cfg.teachers}
        row["naive_targets"] = shares([(prompts[i], weak[t][i]) for t in cfg.teachers for i in idx])
        row["positives"] = shares([(prompts[i], pos[prompts[i]]) for i in idx if prompts[i] in pos])
        row["student_unaligned_greedy"] = shares([(prompts[i], greedy[i]) for i in idx])
        out[name] = row
    return out


BUDGETS = ((3e-4, 1.0), (3e-4, 2.0), (1e-3, 1.0), (1e-3, 2.0), (1e-3, 4.0))  # R5-b, in the order of the rule


def matches(prompt: str, response: str, targets: list[str]) -> bool:
    """``response`` states the same values of the asked attribute as one of ``targets`` and has its form."""
    vals, form = stated(prompt, response)[1], macpo.fact_and_form(prompt, response)[1]
    return any(stated(prompt, t)[1] == vals and macpo.fact_and_form(prompt, t)[1] == form for t in targets)


def fit_of(cfg: MACPOConfig, model_dir, targets: dict[str, list[str]]) -> float:
    """Share of half B's fact questions whose greedy answer (``model_dir``) matches one of its ``targets``."""
    prompts = [p for p in macpo.splits(cfg)[1]["prompt"] if p in targets]
    st = cfg.students[0]
    greedy = macpo.generate(macpo._load(model_dir, cfg), zoo.load_tokenizer(st), prompts, cfg, 0, greedy=True)
    return float(np.mean([matches(p, g, targets[p]) for p, g in zip(prompts, greedy)]))


def update_fits(cfg: MACPOConfig, agent: str, budgets, step: str) -> dict[str, float]:
    """``agent``'s iteration-1 MACPO pairs trained from its initialisation at each (lr, epochs) of ``budgets`` (a
    cached run of ``step``), and the fit of each to the pairs' positives on half B's fact questions (:func:`fit_of`)."""
    import datasets

    rows = [json.loads(x) for x in (macpo.agent_step(cfg, agent, 1).path / "pairs.jsonl").read_text().splitlines()]
    pairs = datasets.Dataset.from_dict({k: [r[k] for r in rows] for k in ("prompt", "chosen", "rejected")})
    targets = {r["prompt"]: [r["chosen"]] for r in rows if is_fact_question(r["prompt"])}
    init = macpo.init_agent(cfg, agent).path / "model"
    out = {}
    for lr, ep in budgets:
        v = cfg.replace(dpo={"lr": lr, "epochs": ep})
        art = macpo.fit_step(v, step, agent, 1, init, macpo.dpo_fit(v, lambda model, tok: pairs, cfg.seed + 1))
        out[f"lr{lr:g}_ep{ep:g}"] = fit_of(cfg, art.path / "model", targets)
    return out


def round5(cfg: MACPOConfig) -> dict:
    """R5-b and R5-c for one seed (``cfg`` has R5-a's alignment prompts)."""
    out = {"update_fit": update_fits(cfg, cfg.students[0], BUDGETS, "diag_update")}
    half_b, weak = macpo.splits(cfg)[1], macpo.weak_responses(cfg)
    targets = {p: [weak[t][i] for t in cfg.teachers] for i, p in enumerate(half_b["prompt"]) if is_fact_question(p)}
    out["naive_fit"] = {f"ep{ep:g}": fit_of(cfg, naive(cfg, ep).path / "model", targets) for ep in (2.0, 6.0)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--round", type=int, default=4, choices=(4, 5))
    args = ap.parse_args()
    t0, world = time.process_time(), f"world{current_world_seed()}"
    res = {}
    for seed in map(int, args.seeds.split(",")):
        if args.round == 4:
            res[f"seed{seed}"] = measure(MACPOConfig.for_preset("tiny", CHAPTER, task="helpful", seed=seed))
        else:
            res[f"seed{seed}"] = round5(MACPOConfig.for_preset("tiny", {**CHAPTER, **ROUND5_AREA}, task="helpful", seed=seed))
        print(world, seed, json.dumps(res[f"seed{seed}"], indent=1), flush=True)
    res["cpu_s"] = time.process_time() - t0
    if args.out:
        prev = json.loads(open(args.out).read()) if os.path.exists(args.out) else {}
        prev[world if args.round == 4 else f"round5_{world}"] = res
        open(args.out, "w").write(json.dumps(prev, indent=1))


if __name__ == "__main__":
    main()
