"""Chapter 11, exploratory (after the verdicts, registered nowhere): C2's growth part with a better-conditioned slope.

The per-seed least-squares slope divides by a seed's own spread of capability gaps, which can vanish (world 3,
seed 17: gaps 0.160 / 0.160 / 0.152, slope 52). The within-seed pooled slope divides every seed's covariance by the
*mean* within-seed gap variance instead, so a seed without spread adds about 0; its per-seed terms average to the
pooled (fixed-effects) slope, and their t-interval is its CI. Run on seeds 0-9 and 10-19 of one world:

    W2S_WORLD_SEED=1 python benchmarks/c2_pooled_slope.py

Seen (2026-12-02, this machine; worlds 0 / 1 / 2 / 3, seeds 0-9 then 10-19): 1.89 [0.60, 3.18], 2.23 [1.33, 3.13] /
0.18 [-0.77, 1.13], 0.36 [-0.55, 1.27] / 2.15 [1.55, 2.76], 1.98 [1.02, 2.93] / 1.08 [-0.53, 2.69], 0.74 [-2.37,
3.86]: above 0 in worlds 0 and 2 on both seed sets, not in worlds 1 and 3 on either. A candidate rule for the next
registered run, not a verdict.
"""

from __future__ import annotations

import numpy as np

from w2s_lib import metrics
from w2s_lib.data.tinyworld.world import current_world_seed
from w2s_lib.generalization import pipeline as w2s


def pooled_slope_terms(table) -> np.ndarray:
    """Per seed: Σ_pairs (gap − its seed mean)(gain − its seed mean) / mean over seeds of Σ_pairs (gap − mean)²
    (every pair, no minimum gap: as computed before the rule that now uses it was registered)."""
    g = w2s.confidence_gain_by_pair(table)
    return metrics.pooled_slope_terms(g["capability_gap"], g["gain"], g["seed"])[1]


def main() -> None:
    cfg = w2s.W2SConfig.for_preset("tiny", {})
    for seeds in (range(10), range(10, 20)):
        table = w2s.loss_comparison(cfg, list(seeds), losses=("xent", "logconf"))
        m, lo, hi = metrics.t_ci(pooled_slope_terms(table))
        print(f"world {current_world_seed()}, seeds {seeds.start}-{seeds.stop - 1}: "
              f"within-seed pooled slope {m:.2f} [{lo:.2f}, {hi:.2f}]")


if __name__ == "__main__":
    main()
