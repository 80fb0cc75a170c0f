"""Chapter 30: does the number of weak teachers matter? (the paper: more weak teachers → better results)

The chapter's section *Does the number of weak teachers matter?* leaves this off by default for the CPU budget
(``teacher_counts = []``). This reading runs it once, at the chapter's settings (round 10, helpful task, the
claim's five seeds), with 1 teacher (``tinygpt-m-a``), 2 (``tinygpt-m-a`` and ``tinygpt-m-b``: the chapter's own
runs, read from their cache) and 3 (+ ``tinygpt-s``) and the same student.

Rule, registered before it ran (2026-12-05, this file's first commit): per world, "more teachers help" holds if the
student's gold on the helpful test at the last iteration is higher with 2 teachers than with 1 *and* with 3 than
with 2, each difference paired over seeds × test prompts with its 95% paired-bootstrap CI above zero (the rule of
C6's parts). Reported for worlds 0 and 1 with the teachers' mean gold at the last iteration beside it. Nothing in
the chapter's settings changes whatever the result; the chapter cites it.

What to expect from the world's design (written before the run): with one teacher, the people only ``tinygpt-m-b``
read about join those no teacher knows, where the student's answers rest on its own knowledge (it answers those
facts at test on 0.88 / 0.78 at iteration 1, worlds 0 / 1); ``tinygpt-s`` knows fewer people than either peer.

Result (``macpo_teacher_count_results.json``; ≈ 1036 s CPU per world, both at once): **the rule is not met** in either
world. The student's last-iteration gold with 1 / 2 / 3 teachers: 0.791 / 0.947 / 0.958 (world 0), 0.435 / 0.876 /
0.884 (world 1). 2 − 1: **+0.155 [+0.076, +0.240]** and **+0.442 [+0.320, +0.570]**; 3 − 2: +0.011 [−0.024, +0.049]
and +0.008 [−0.041, +0.057]. The second teacher matters a great deal — with one, the student's only positives are
that teacher's answers, wrong where it did not read about the person — and the third, a smaller rung that knows
fewer people than either peer, adds nothing measurable. Teachers' mean gold at the last iteration: 0.527 / 0.750 /
0.676 and 0.172 / 0.576 / 0.588.

    W2S_HOME=<chapter 30's cache> W2S_WORLD_SEED=1 python benchmarks/macpo_teacher_count.py --out world1.json
"""

from __future__ import annotations

import argparse
import time

import numpy as np

TEACHER_SETS = {1: ("tinygpt-m-a",), 2: ("tinygpt-m-a", "tinygpt-m-b"), 3: ("tinygpt-s", "tinygpt-m-a", "tinygpt-m-b")}
# chapter 30's overrides, and round 10's one student (the tiny preset has two since round 11): the configs it ran
CHAPTER = {"student_init": "unaligned", "test_set": "reworded", "students": ("tinygpt-l",)}


def main() -> None:
    from search_pair_decisions import report
    from w2s_lib import metrics
    from w2s_lib.core.runtime import torch_threads
    from w2s_lib.data.tinyworld.world import current_world_seed
    from w2s_lib.macpo import loop as macpo
    from w2s_lib.macpo.loop import MACPOConfig

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--out", help="write the result here as JSON")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    t0 = time.process_time()
    result = {"world_seed": current_world_seed(), "seeds": seeds, "counts": {}}
    student_gold, teachers_gold = {}, {}
    with torch_threads(1):
        for n, teachers in TEACHER_SETS.items():
            per_seed, teach = [], []
            for s in seeds:
                cfg = MACPOConfig.for_preset("tiny", CHAPTER, task="helpful", seed=s, teachers=teachers)
                rows = macpo.run(cfg)
                last = cfg.iterations
                per_seed.append([r["gold"] for r in macpo.eval_rows(macpo.agent_step(cfg, cfg.students[0], last))])
                teach.append(np.mean([r["gold_mean"] for r in rows if r["agent"] in teachers and r["iteration"] == last]))
                print(n, s, np.mean(per_seed[-1]), teach[-1], flush=True)
            student_gold[n], teachers_gold[n] = np.array(per_seed, float), np.array(teach)
            result["counts"][n] = {"teachers": list(teachers), "student_gold": round(float(student_gold[n].mean()), 4),
                                   "teachers_gold": round(float(teachers_gold[n].mean()), 4)}
    parts = {}
    for a, b in ((2, 1), (3, 2), (3, 1)):
        mean, lo, hi, se = metrics.paired_bootstrap_ci(student_gold[a] - student_gold[b])
        parts[f"{a} - {b}"] = {"mean": round(mean, 4), "ci": [round(lo, 4), round(hi, 4)], "above_zero": bool(lo > 0)}
    result["student_differences"] = parts
    result["more_teachers_help"] = parts["2 - 1"]["above_zero"] and parts["3 - 2"]["above_zero"]
    result["cpu_seconds"] = round(time.process_time() - t0, 1)
    report(result, args.out)


if __name__ == "__main__":
    main()
