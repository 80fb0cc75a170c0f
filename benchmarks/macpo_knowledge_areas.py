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

    python benchmarks/macpo_knowledge_areas.py --out benchmarks/macpo_knowledge_areas_results.json
    W2S_WORLD_SEED=1 python benchmarks/macpo_knowledge_areas.py --out benchmarks/macpo_knowledge_areas_results.json
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from w2s_lib.data.tinyworld import scorers
from w2s_lib.data.tinyworld.world import current_world_seed
from w2s_lib.macpo import loop as macpo
from w2s_lib.macpo.loop import MACPOConfig
from w2s_lib.models import tinygpt, zoo

CHAPTER = {"student_init": "unaligned", "test_set": "reworded"}


def area(entity: str, teachers: tuple[str, ...]) -> str:
    """Which teachers read about ``entity`` in pretraining: both | <rung> only | neither."""
    w = scorers.world(current_world_seed())
    knew = [t for t in teachers if entity in w.subset(tinygpt.SIZES[t].knows)]
    return "both" if len(knew) == len(teachers) else "neither" if not knew else " + ".join(knew) + " only"


def entity_of(prompt: str) -> str | None:
    return scorers._entity_in(scorers._last_user_turn(prompt), scorers.world(current_world_seed()).facts)


def shares(pairs) -> dict:
    v = [macpo.fact_and_form(p, r) for p, r in pairs]
    return {"right_fact": float(np.mean([f for f, _ in v])) if v else float("nan"),
            "both": float(np.mean([f and g for f, g in v])) if v else float("nan"), "n": len(v)}


def measure(cfg: MACPOConfig) -> dict:
    half_b = macpo.splits(cfg)[1]
    prompts = list(half_b["prompt"])
    fact_i = [i for i, p in enumerate(prompts) if "Tell me about" not in p and entity_of(p)]
    st = cfg.students[0]
    weak = macpo.weak_responses(cfg)
    pos = {json.loads(x)["prompt"]: json.loads(x)["chosen"]
           for x in (macpo.agent_step(cfg, st, 1).path / "pairs.jsonl").read_text().splitlines()}
    model = macpo._load(macpo.init_agent(cfg, st).path / "model", cfg)
    greedy = macpo.generate(model, zoo.load_tokenizer(st), [prompts[i] for i in fact_i], cfg, 0, greedy=True)
    greedy = dict(zip(fact_i, greedy))
    out = {}
    for name in ("both", *[f"{t} only" for t in cfg.teachers], "neither"):
        idx = [i for i in fact_i if area(entity_of(prompts[i]), cfg.teachers) == name]
        if not idx:
            continue
        row = {t: shares([(prompts[i], weak[t][i]) for i in idx]) for t in cfg.teachers}
        row["naive_targets"] = shares([(prompts[i], weak[t][i]) for t in cfg.teachers for i in idx])
        row["positives"] = shares([(prompts[i], pos[prompts[i]]) for i in idx if prompts[i] in pos])
        row["student_unaligned_greedy"] = shares([(prompts[i], greedy[i]) for i in idx])
        out[name] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None)
    ap.add_argument("--seeds", default="0,1")
    args = ap.parse_args()
    t0, world = time.process_time(), f"world{current_world_seed()}"
    res = {}
    for seed in map(int, args.seeds.split(",")):
        res[f"seed{seed}"] = measure(MACPOConfig.for_preset("tiny", CHAPTER, task="helpful", seed=seed))
        print(world, seed, json.dumps(res[f"seed{seed}"], indent=1), flush=True)
    res["cpu_s"] = time.process_time() - t0
    if args.out:
        prev = json.loads(open(args.out).read()) if os.path.exists(args.out) else {}
        prev[world] = res
        open(args.out, "w").write(json.dumps(prev, indent=1))


if __name__ == "__main__":
    main()
