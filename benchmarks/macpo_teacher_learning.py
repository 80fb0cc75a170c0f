"""Chapter 30, a diagnostic after the verdict: why do MACPO's weak teachers barely improve?

The chapter's own tables show the teachers' positives (the strong student's samples they find most plausible)
scoring far above the teachers' own samples on the alignment prompts (gold 0.52-0.69 against 0.18-0.49, world 0),
yet the teachers' test reward moves little (C6's ``teachers_improve`` +0.027 [-0.014, 0.066]). So: is the limit
what the positives carry, how the teachers are trained on them, or what a tiny teacher can learn in one update?

Written before running (2026-12-02 14:05 UTC). World 0, helpful task, the chapter's configuration (unaligned
student, reworded test), seeds 0-2, each teacher (``tinygpt-s``, ``tinygpt-m``) from its SFT initialisation. Test
gold reward (the chapter's reworded test, greedy) after:

- ``init``: the SFT initialisation (MACPO's iteration 0; cached by the chapter);
- ``macpo``: MACPO's iteration 1 (DPO + the positive's NLL on its pairs; cached by the chapter);
- ``sft_positives``: SFT on the very positives of that iteration-1 update (no negatives), the update's own budget
  (lr ``dpo.lr`` = 3e-4, 1 epoch, batch 16: 13 steps);
- ``sft_oracle``: SFT on the gold answers to the same alignment prompts (the dataset's ``chosen``, which MACPO
  never sees), the same budget;
- ``sft_oracle_3ep``: the same for 3 epochs (39 steps).

Reading, fixed beforehand (mean over seeds and teachers; "gains" = at least +0.05 over ``init``):
``sft_oracle`` does not gain -> one update of this size cannot teach a tiny teacher these facts (budget / capacity
limit); ``sft_oracle`` gains but ``sft_positives`` does not -> the positives' content is the limit;
``sft_positives`` gains but ``macpo`` does not -> the DPO pair (its negatives, its loss) is the limit.

Result (`benchmarks/macpo_teacher_learning_results.json`, 40 s CPU on the chapter's cache): gains over ``init``,
mean of both teachers, ``macpo`` −0.024, ``sft_positives`` −0.026, ``sft_oracle`` +0.029, ``sft_oracle_3ep``
+0.020: even the gold answers do not move the teachers by 0.05 — by the reading above, a budget / capacity limit.
Per teacher: ``tinygpt-s`` +0.045 / +0.070 / +0.024 / −0.019, ``tinygpt-m`` −0.093 / −0.122 / +0.033 / +0.059 —
the stronger teacher is hurt by the student's samples, which are below its own greedy answers.

    python benchmarks/macpo_teacher_learning.py --out benchmarks/macpo_teacher_learning_results.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np

from w2s_lib.macpo import loop as macpo
from w2s_lib.macpo.loop import MACPOConfig

from macpo_mechanism import chapter_cfg  # benchmarks/: the chapter as these readings ran (round 2's update and teachers)

SEEDS = (0, 1, 2)


def sft_arm(cfg: MACPOConfig, teacher: str, name: str, targets, epochs: float) -> float:
    """SFT of the teacher's initialisation on (half B prompt, target) with the MACPO update's lr and batch."""
    stage = dataclasses.replace(cfg.sft, lr=cfg.dpo.lr, epochs=epochs, batch_size=cfg.dpo.batch_size)
    variant = cfg.replace(sft=stage)
    prompts = macpo.splits(cfg)[1]["prompt"]
    init = macpo.init_agent(cfg, teacher).path / "model"
    art = macpo.fit_step(variant, f"diag_{name}", teacher, 0, init,
                         macpo.sft_fit(variant, lambda model, tok: (prompts, targets(prompts)), cfg.seed + 1))
    return art.result["gold_mean"]


def positives(cfg: MACPOConfig, teacher: str):
    rows = [json.loads(line) for line in (macpo.agent_step(cfg, teacher, 1).path / "pairs.jsonl").read_text().splitlines()]
    chosen = {r["prompt"]: r["chosen"] for r in rows}
    return lambda prompts: [chosen.get(p, "") for p in prompts]  # prompts without a pair are dropped by sft_fit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    t0, rows = time.process_time(), []
    for seed in SEEDS:
        cfg = chapter_cfg(seed)
        half_b = macpo.splits(cfg)[1]
        oracle = dict(zip(half_b["prompt"], half_b["chosen"]))
        for teacher in cfg.teachers:
            row = {"seed": seed, "teacher": teacher,
                   "init": macpo.init_agent(cfg, teacher).result["gold_mean"],
                   "macpo": macpo.agent_step(cfg, teacher, 1).result["gold_mean"],
                   "sft_positives": sft_arm(cfg, teacher, "sft_positives", positives(cfg, teacher), 1.0),
                   "sft_oracle": sft_arm(cfg, teacher, "sft_oracle", lambda ps: [oracle[p] for p in ps], 1.0),
                   "sft_oracle_3ep": sft_arm(cfg, teacher, "sft_oracle_3ep", lambda ps: [oracle[p] for p in ps], 3.0)}
            rows.append(row)
            print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
    arms = ("macpo", "sft_positives", "sft_oracle", "sft_oracle_3ep")
    gains = {a: float(np.mean([r[a] - r["init"] for r in rows])) for a in arms}
    by_teacher = {t: {a: float(np.mean([r[a] - r["init"] for r in rows if r["teacher"] == t])) for a in arms}
                  for t in dict.fromkeys(r["teacher"] for r in rows)}
    out = {"rows": rows, "gain_over_init": gains, "gain_over_init_by_teacher": by_teacher,
           "cpu_s": round(time.process_time() - t0, 1)}
    print(json.dumps({k: v for k, v in out.items() if k != "rows"}, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
