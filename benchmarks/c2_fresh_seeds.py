"""Chapter 11, a replication on fresh seeds: is C2's failure in world 1 a lack of power or an absent effect?

Written and committed before running (2026-12-02 14:45 UTC). C2 as chapter 11 decides it (tiny preset, the
chapter's configuration and losses, ``w2s.confidence_gain_by_seed``, the registered rule through
``claims.evaluate``), but on seeds 10-19, which no chapter has run, in each world 0-3. This is a replication beside
the verdict, not a new verdict: the scorecard keeps the chapter's seeds 0-9 (``claims.evaluate`` records nothing).
Reading fixed beforehand: if world 1's ``gain_grows`` holds on the fresh seeds while it failed on 0-9, the failure
is at least partly power (the slope's per-seed noise); if it fails again, the growth is absent or too small there.

Result (`benchmarks/c2_fresh_seeds_results.jsonl`, about 7 s CPU per world on the chapters' caches): ``gain`` holds
in every world; ``gain_grows`` holds in worlds 0 (2.71 [1.50, 3.93]) and 2 (2.28 [0.96, 3.59]), fails in world 1
(0.50 [-0.50, 1.50]) as it did on seeds 0-9, and fails in world 3 (6.89 [-4.88, 18.65]), where seeds 0-9 held: seed
17's three capability gaps are 0.160 / 0.160 / 0.152, so its per-seed slope (52.3) divides by almost no spread.

    W2S_WORLD_SEED=1 python benchmarks/c2_fresh_seeds.py --out benchmarks/c2_fresh_seeds_results.jsonl  # one world

Run at commit 8a49834. C2's rule has changed since (its third version, registered 2026-12-02 15:38 UTC: pooled slope,
pairs with a gap ≥ 0.05, 20 seeds, chapter 11's extended ladder), so running this file now applies the new estimator to
the old three-pair ladder and seeds 10-19; its results file keeps what the old rule gave.
"""

from __future__ import annotations

import argparse
import json
import time

from w2s_lib.data.tinyworld.world import current_world_seed
from w2s_lib.generalization import pipeline as w2s
from w2s_lib.publish import claims

SEEDS = tuple(range(10, 20))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="append one JSON line with this world's result")
    args = ap.parse_args()
    t0 = time.process_time()
    cfg = w2s.W2SConfig.for_preset("tiny", {})
    table = w2s.loss_comparison(cfg, list(SEEDS), losses=("xent", "logconf"))
    eff = w2s.confidence_gain_by_seed(table).dropna()
    parts, holds, reason = claims.evaluate("C2", {k: eff[k].values for k in ("gain", "gain_grows")}, eff.index.tolist())
    out = {"world": current_world_seed(), "seeds": eff.index.tolist(), "holds": holds, "reason": reason,
           **{p.name: [round(p.estimate, 4), round(p.ci_low, 4), round(p.ci_high, 4)] for p in parts},
           "cpu_s": round(time.process_time() - t0, 1)}
    print(json.dumps(out))
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
