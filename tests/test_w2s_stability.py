"""Part I's ladder claim (C1) must not depend on the machine's thread count: same verdict, same sign."""

from __future__ import annotations

import time

import numpy as np
import torch

from w2s_lib.generalization import pipeline as w2s
from w2s_lib.publish import claims

SEEDS = list(range(10))


def _c1(threads: int):
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        cfg = w2s.W2SConfig.for_preset("smoke")
        med = w2s.median_pgr_by_seed(w2s.run_w2s(cfg, SEEDS, progress=False))
        ctrl = w2s.median_pgr_by_seed(w2s.run_w2s(cfg.replace(strong_init="random"), SEEDS, progress=False))
    finally:
        torch.set_num_threads(old)
    med, ctrl = med.fillna(0.0), ctrl.fillna(0.0)
    parts, holds, _ = claims.evaluate("C1", {"pgr": med.values}, SEEDS)
    cparts, choldst, _ = claims.evaluate("C1", {"pgr": ctrl.values}, SEEDS)
    return holds, parts[0].estimate, choldst, cparts[0].estimate


def test_c1_verdict_is_the_same_with_one_and_two_threads():
    t0 = time.process_time()
    one, two = _c1(1), _c1(2)
    assert one[0] == two[0] and one[2] == two[2]  # verdicts, claim and mechanism-off arm
    assert np.sign(one[1]) == np.sign(two[1]) and np.sign(one[3]) == np.sign(two[3])
    assert abs(one[1] - two[1]) < 0.05
    assert time.process_time() - t0 < 120  # CPU seconds (features cached after the first call)
