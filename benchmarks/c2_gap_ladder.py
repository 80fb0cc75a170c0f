"""Chapter 11: a gap axis for C2 chosen on ground truth alone — weak supervisors graded by data.

C2's second part asks whether the confidence loss gains more at larger weak-strong capability gaps. The tiny
ladder (bow, MiniLM-3, MiniLM-4) gives three pairs in two clusters on that axis (MiniLM-3 → MiniLM-4 at
0.07-0.09, both bag-of-words pairs at 0.18-0.24), so a slope over them is ill-conditioned (chapter 11). This
script measures, on ground truth only (supervisor test accuracy and the strong rungs' ceilings; no student is
trained, no confidence loss is run), the capability gaps that *supervisor-only* rungs ``"<rung>@<rows>"`` — the
same model trained on the first ``rows`` rows of D_gt — add to the axis, in worlds 0-3, seeds 0-9:

    for w in 0 1 2 3; do W2S_WORLD_SEED=$w W2S_HOME=<that world's cache> python benchmarks/c2_gap_ladder.py; done

Each run appends one JSON line per world to ``benchmarks/c2_gap_ladder_results.jsonl`` (``--out``).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from w2s_lib import metrics
from w2s_lib.data.tinyworld.world import current_world_seed
from w2s_lib.generalization import pipeline as w2s
from w2s_lib.generalization.ladder import CEILING, SUPERVISOR

SEEDS = list(range(10))
WEAK = ("bow", "minilm-l1", "minilm-l2", "minilm-l3")
ROWS = (25, 50, 100, 200, 400, None)
STRONG = ("minilm-l3", "minilm-l4")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="benchmarks/c2_gap_ladder_results.jsonl")
    args = ap.parse_args()
    cfg = w2s.W2SConfig.for_preset("tiny", {})
    fit = w2s.ladder_fit(cfg, SEEDS)
    y = fit.y["test"]

    def acc(p) -> list[float]:
        return [metrics.accuracy(p.test[i], y[i]) for i in range(len(SEEDS))]

    ceilings = {m: acc(fit(m, CEILING)) for m in STRONG}
    weak = {}
    for rung in WEAK:
        for rows in ROWS:
            name = rung if rows is None else f"{rung}@{rows}"
            weak[name] = acc(fit(name, SUPERVISOR))
    gaps = {f"{w} -> {s}": float(np.mean(np.subtract(ceilings[s], a))) for w, a in weak.items() for s in STRONG}
    rec = {"world": current_world_seed(), "seeds": SEEDS,
           "ceiling": {m: float(np.mean(v)) for m, v in ceilings.items()},
           "weak_acc": {m: float(np.mean(v)) for m, v in weak.items()},
           "weak_acc_sd": {m: float(np.std(v, ddof=1)) for m, v in weak.items()}, "gap": gaps}
    print(json.dumps(rec, indent=1))
    with open(args.out, "a") as f:
        f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
