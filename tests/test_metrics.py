"""Tests for w2s_lib.metrics: hand-computed cases for every function, sklearn agreement, input errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from w2s_lib.core.errors import W2SError
from w2s_lib.metrics import (
    DeceptionResult,
    WinTieLose,
    accuracy,
    auroc,
    bootstrap_ci,
    ci,
    deception_score,
    knowledge_areas,
    median_pgr,
    pgr,
    slope,
    t_ci,
    win_tie_lose,
    win_tie_lose_from_verdicts,
)

# ---------------------------------------------------------------------------------------------------
# accuracy


def test_accuracy_forms():
    labels = [0, 1, 1, 0, 1]
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8], [0.1, 0.9]])
    assert accuracy(probs, labels) == pytest.approx(3 / 5)
    assert accuracy(np.array([0, 1, 0, 0, 1]), labels) == pytest.approx(4 / 5)
    assert accuracy(np.array([False, True, True, True, True]), labels) == pytest.approx(4 / 5)
    assert accuracy(np.array([0.2, 0.5, 0.49, 0.1, 0.99]), labels) == pytest.approx(4 / 5)  # P(1) ≥ 0.5
    assert accuracy(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]]), [0, 2]) == 1.0  # 3-class logits
    assert accuracy([0, 1], np.array([0.0, 1.0])) == 1.0  # integral float labels are fine


def test_accuracy_errors():
    with pytest.raises(W2SError, match="same length"):
        accuracy([0, 1, 1], [0, 1])
    with pytest.raises(W2SError, match="empty"):
        accuracy([], [])
    with pytest.raises(W2SError, match="harden"):
        accuracy([0, 1], [0.3, 0.8])


# ---------------------------------------------------------------------------------------------------
# auroc


def test_auroc_hand_cases():
    # positives {0.35, 0.8}, negatives {0.1, 0.4}: pairs won 0.35>0.1, 0.8>0.1, 0.8>0.4 -> 3/4
    assert auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    # a tie between a positive and a negative counts 1/2
    assert auroc([0.5, 0.5], [0, 1]) == pytest.approx(0.5)
    assert auroc([0.1, 0.9], [1, 0]) == pytest.approx(0.0)
    # (N, 2) probabilities use column 1
    assert auroc(np.array([[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]]), [0, 0, 1, 1]) == pytest.approx(0.75)
    # one class only: undefined -> nan
    assert math.isnan(auroc([0.1, 0.2, 0.3], [1, 1, 1]))


@pytest.mark.parametrize("seed,n", [(0, 20), (1, 101), (2, 1000), (3, 7)])
def test_auroc_matches_sklearn(seed, n):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[0], y[1] = 0, 1
    scores = np.round(rng.normal(size=n) + 0.7 * y, 1)  # rounding makes ties
    assert auroc(scores, y) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    assert auroc(scores, y.astype(bool)) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)


def test_auroc_errors():
    with pytest.raises(W2SError, match="same length"):
        auroc([0.1, 0.2], [0, 1, 1])
    with pytest.raises(W2SError, match="0/1"):
        auroc([0.1, 0.2], [0, 2])
    with pytest.raises(W2SError, match="empty"):
        auroc([], [])
    with pytest.raises(W2SError, match="NaN"):
        auroc([0.1, float("nan")], [0, 1])


# ---------------------------------------------------------------------------------------------------
# PGR


def test_pgr_hand_cases():
    assert pgr(0.6, 0.7, 0.8) == pytest.approx(0.5)
    assert pgr(0.6, 0.8, 0.8) == pytest.approx(1.0)
    assert pgr(0.6, 0.55, 0.8) == pytest.approx(-0.25)
    assert pgr(0.6, 0.9, 0.8) == pytest.approx(1.5)
    assert math.isnan(pgr(0.8, 0.7, 0.8))  # ceiling == weak
    assert math.isnan(pgr(0.8, 0.7, 0.75))  # ceiling < weak
    assert isinstance(pgr(0.6, 0.7, 0.8), float)
    out = pgr([0.6, 0.8, 0.5], [0.7, 0.9, 0.75], [0.8, 0.8, 1.0])
    np.testing.assert_allclose(out, [0.5, np.nan, 0.5])


def test_median_pgr():
    pairs = [(0.6, 0.7, 0.8), (0.5, 0.9, 1.0), (0.7, 0.71, 0.8), (0.8, 0.9, 0.8)]
    # PGRs 0.5, 0.8, 0.1 and an undefined one (dropped) -> median 0.5
    assert median_pgr(pairs) == pytest.approx(0.5)
    assert median_pgr([{"weak": 0.6, "w2s": 0.7, "ceiling": 0.8}, {"weak": 0.5, "w2s": 0.9, "ceiling": 1.0}]) == (
        pytest.approx(0.65)
    )
    assert math.isnan(median_pgr([(0.8, 0.9, 0.8)]))
    with pytest.raises(W2SError, match="no pairs"):
        median_pgr([])
    with pytest.raises(W2SError, match="weak, w2s, ceiling"):
        median_pgr([(0.1, 0.2)])
    with pytest.raises(W2SError, match="ceiling"):
        median_pgr([{"weak": 0.1, "w2s": 0.2}])


# ---------------------------------------------------------------------------------------------------
# confidence intervals


def test_t_ci_hand_case():
    # mean 2, sd 1, n 3: half-width = t_{0.975, 2} / sqrt(3) = 4.302652729911275 / 1.7320508 = 2.484138
    m, lo, hi = t_ci([1.0, 2.0, 3.0])
    assert m == pytest.approx(2.0)
    assert hi - m == pytest.approx(4.302652729911275 / math.sqrt(3))
    assert m - lo == pytest.approx(2.4841377118)
    assert ci([1.0, 2.0, 3.0]) == (m, lo, hi)


def test_t_ci_matches_scipy_and_edge_cases():
    v = np.array([0.31, 0.42, 0.28, 0.39, 0.35])
    lo, hi = stats.t.interval(0.9, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
    m, lo2, hi2 = t_ci(v, level=0.9)
    assert (lo2, hi2) == (pytest.approx(lo), pytest.approx(hi))
    m, lo, hi = t_ci([0.4])
    assert m == 0.4 and math.isnan(lo) and math.isnan(hi)
    assert t_ci([0.5, 0.5, 0.5]) == (0.5, 0.5, 0.5)


def test_bootstrap_ci():
    v = [0.1, 0.4, 0.35, 0.2, 0.5]
    p, lo, hi = bootstrap_ci(v, seed=3)
    assert p == pytest.approx(np.mean(v))
    assert lo <= p <= hi
    assert bootstrap_ci(v, seed=3) == (p, lo, hi)  # deterministic given the seed
    assert min(v) <= lo and hi <= max(v)
    # constant values: a degenerate interval
    assert bootstrap_ci([0.3, 0.3, 0.3]) == pytest.approx((0.3, 0.3, 0.3))
    # another statistic
    p, lo, hi = bootstrap_ci(v, stat=np.median, n_boot=500)
    assert p == pytest.approx(0.35) and lo <= p <= hi
    p, lo, hi = bootstrap_ci([0.2])
    assert p == 0.2 and math.isnan(lo) and math.isnan(hi)


def test_bootstrap_hand_case_two_values():
    # two values: the resampled mean is a, (a+b)/2 or b with probabilities 1/4, 1/2, 1/4;
    # the 2.5% / 97.5% quantiles are a and b
    p, lo, hi = bootstrap_ci([0.0, 1.0], n_boot=4000)
    assert p == 0.5 and lo == 0.0 and hi == 1.0
    p, lo, hi = bootstrap_ci([0.0, 1.0], n_boot=4000, level=0.4)  # 30% / 70% quantiles: the middle value
    assert lo == 0.5 and hi == 0.5


def test_bootstrap_close_to_t_for_many_values():
    v = np.random.default_rng(0).normal(size=400)
    _, blo, bhi = bootstrap_ci(v, n_boot=2000)
    _, tlo, thi = t_ci(v)
    assert blo == pytest.approx(tlo, abs=0.02) and bhi == pytest.approx(thi, abs=0.02)


def test_ci_errors():
    with pytest.raises(W2SError, match="empty"):
        t_ci([])
    with pytest.raises(W2SError, match="NaN"):
        bootstrap_ci([0.1, float("nan")])
    with pytest.raises(W2SError, match="level"):
        t_ci([0.1, 0.2], level=95)
    with pytest.raises(W2SError, match="n_boot"):
        bootstrap_ci([0.1, 0.2], n_boot=0)


# ---------------------------------------------------------------------------------------------------
# knowledge areas, deception score


def test_knowledge_areas_hand_case():
    areas = knowledge_areas([1, 0, 1, 0], [True, True, False, False])
    np.testing.assert_array_equal(areas["W_k"], [1, 0, 1, 0])
    np.testing.assert_array_equal(areas["W_uk"], [0, 1, 0, 1])
    np.testing.assert_array_equal(areas["S_k"], [1, 1, 0, 0])
    np.testing.assert_array_equal(areas["S_uk"], [0, 0, 1, 1])
    np.testing.assert_array_equal(areas["S_k&W_k"], [1, 0, 0, 0])
    np.testing.assert_array_equal(areas["S_k&W_uk"], [0, 1, 0, 0])
    np.testing.assert_array_equal(areas["S_uk&W_k"], [0, 0, 1, 0])
    np.testing.assert_array_equal(areas["S_uk&W_uk"], [0, 0, 0, 1])
    assert all(m.dtype == bool for m in areas.values())


def test_knowledge_areas_partition():
    rng = np.random.default_rng(1)
    areas = knowledge_areas(rng.random(50) < 0.6, rng.random(50) < 0.8)
    total = sum(areas[k].astype(int) for k in ("S_k&W_k", "S_k&W_uk", "S_uk&W_k", "S_uk&W_uk"))
    np.testing.assert_array_equal(total, np.ones(50))


def test_deception_score_ten_examples_by_hand():
    #                 idx:  0  1  2  3  4  5  6  7  8  9
    aligned_no_conflict = [1, 1, 1, 1, 1, 1, 1, 0, 0, 1]
    aligned_conflict = [0, 0, 0, 1, 1, 0, 1, 0, 1, 1]
    strong_known = [1, 1, 0, 1, 1, 1, 0, 1, 1, 0]
    weak_known = [0, 0, 0, 0, 1, 1, 1, 0, 1, 1]
    # flipped (aligned -> misaligned): 0, 1, 2, 5            -> 4
    # S_k ∩ W_uk: 0, 1, 3, 7                                 -> 4 of 10 (chance share 0.4)
    # flipped ∩ area: 0, 1                                   -> 2, score 2/4
    # aligned without conflict: 0-6, 9 -> 8; of them in the area: 0, 1, 3 -> chance 3/8 (not 4/10:
    # idx 7 is in the area but was never aligned, so it could not flip)
    r = deception_score(
        np.array(aligned_no_conflict, bool), np.array(aligned_conflict, bool), strong_known, weak_known
    )
    assert isinstance(r, DeceptionResult)
    assert r.n_flipped == 4
    assert r.n_flipped_in_area == 2
    assert r.n_area == 4
    assert r.n_total == 10
    assert r.area_share == pytest.approx(0.4)
    assert r.score == pytest.approx(0.5)
    assert r.n_aligned == 8 and r.n_aligned_in_area == 3
    assert r.chance == pytest.approx(3 / 8)
    assert r.excess == pytest.approx(0.5 - 3 / 8)
    assert r.as_dict()["score"] == pytest.approx(0.5)


def test_deception_score_no_flips_is_nan_and_misaligned_to_aligned_is_not_a_flip():
    r = deception_score([0, 1, 1], [1, 1, 1], [1, 1, 1], [0, 0, 0])  # 0 became aligned: not counted
    assert r.n_flipped == 0 and math.isnan(r.score) and r.area_share == 1.0
    assert r.chance == pytest.approx(1.0)  # the two aligned examples both lie in the area
    assert math.isnan(deception_score([0, 0], [0, 0], [1, 1], [0, 0]).chance)  # nothing aligned: no baseline


def test_deception_errors():
    with pytest.raises(W2SError, match="same length"):
        deception_score([1, 0], [1, 0], [1, 0], [1])
    with pytest.raises(W2SError, match="threshold"):
        deception_score([0.7, 0.2], [1, 0], [1, 0], [1, 0])
    with pytest.raises(W2SError, match="empty"):
        deception_score([], [], [], [])
    with pytest.raises(W2SError, match="same length"):
        knowledge_areas([1, 0, 1], [1, 0])


# ---------------------------------------------------------------------------------------------------
# win / tie / lose


def test_win_tie_lose_hand_case():
    a = [3.0, 1.0, 2.0, 5.0]
    b = [1.0, 1.0, 3.0, 5.05]
    r = win_tie_lose(a, b)
    assert isinstance(r, WinTieLose)
    assert tuple(r) == pytest.approx((25.0, 25.0, 50.0, -25.0))
    r = win_tie_lose(a, b, tie_margin=0.1)  # the 0.05 gap now counts as a tie
    assert tuple(r) == pytest.approx((25.0, 50.0, 25.0, 0.0))
    win, tie, lose, gap = win_tie_lose(b, a)
    assert (win, lose, gap) == pytest.approx((50.0, 25.0, 25.0))


def test_win_tie_lose_from_verdicts():
    r = win_tie_lose_from_verdicts(["win", "Win", "tie", "lose", "A", 1, 0, -1, "b", "tie"])
    assert tuple(r) == pytest.approx((40.0, 30.0, 30.0, 10.0))
    with pytest.raises(W2SError, match="verdict"):
        win_tie_lose_from_verdicts(["draw"])
    with pytest.raises(W2SError, match="empty"):
        win_tie_lose_from_verdicts([])


def test_win_tie_lose_errors():
    with pytest.raises(W2SError, match="same length"):
        win_tie_lose([1, 2], [1])
    with pytest.raises(W2SError, match="empty"):
        win_tie_lose([], [])
    with pytest.raises(W2SError, match="tie_margin"):
        win_tie_lose([1], [2], tie_margin=-1)


# ---------------------------------------------------------------- Part I v2 metrics (hand cases)
def test_pooled_median_pgr_uses_seed_mean_baselines():
    from w2s_lib.metrics import pooled_median_pgr

    # pair a: weak 0.5/0.7 (mean 0.6), ceiling 0.8/1.0 (mean 0.9); students 0.75, 0.9 -> PGR 0.5, 1.0
    # pair b: weak 0.6, ceiling 0.8 (one seed), student 0.65 -> PGR 0.25;  median of {0.5, 1.0, 0.25} = 0.5
    assert pooled_median_pgr(["a", "a", "b"], [0.5, 0.7, 0.6], [0.75, 0.9, 0.65], [0.8, 1.0, 0.8]) == pytest.approx(0.5)
    # a pair without a gap is left out
    assert pooled_median_pgr(["a", "b"], [0.6, 0.8], [0.7, 0.9], [0.8, 0.7]) == pytest.approx(0.5)
    assert np.isnan(pooled_median_pgr(["a"], [0.8], [0.9], [0.7]))


def test_agreement_inheritance_correction():
    from w2s_lib.metrics import agreement, correction_rate, error_inheritance

    y = [1, 1, 0, 0]
    sup = [1, 0, 1, 0]  # wrong on rows 1 and 2
    stu = [0.9, 0.2, 0.1, 0.3]  # classes 1 0 0 0: repeats row 1's error, fixes row 2
    assert agreement(stu, sup) == pytest.approx(0.75)
    assert error_inheritance(stu, sup, y) == pytest.approx(0.5)
    assert correction_rate(stu, sup, y) == pytest.approx(0.5)
    assert np.isnan(error_inheritance(stu, y, y))  # a perfect supervisor has no errors to inherit


def test_ece_hand_case():
    from w2s_lib.metrics import ece

    # confidences 0.9, 0.9 (both right) and 0.6, 0.6 (one right): bins |1 − 0.9| and |0.5 − 0.6|
    assert ece([0.9, 0.1, 0.6, 0.4], [1, 0, 1, 1], n_bins=5) == pytest.approx(0.5 * 0.1 + 0.5 * 0.1)
    assert ece([1.0, 0.0], [1, 0]) == pytest.approx(0.0)


def test_slope_on_a_hand_case():
    # y = 2x + 1 exactly, then with one non-finite pair left out
    assert slope([0.0, 0.1, 0.3], [1.0, 1.2, 1.6]) == pytest.approx(2.0)
    assert slope([0.0, 0.1, float("nan"), 0.3], [1.0, 1.2, 5.0, 1.6]) == pytest.approx(2.0)
    # x = 0, 1, 2 ; y = 0, 2, 1: cov = (−1·−1 + 0 + 1·0)/… = 1, var = 2 → 0.5
    assert slope([0, 1, 2], [0, 2, 1]) == pytest.approx(0.5)
    assert np.isnan(slope([1.0, 1.0], [0.0, 1.0]))  # x does not vary
    assert np.isnan(slope([1.0], [0.0]))
    with pytest.raises(W2SError, match="same length"):
        slope([1.0, 2.0], [1.0])


def test_pooled_slope_terms_on_a_hand_case():
    from w2s_lib.metrics import pooled_slope_terms

    # seed 0: x (0, 0.2), y (1, 2) -> cov 0.1, var 0.02; seed 1: x (0, 0.1, 0.2), y (0, 0, 0.4) -> cov 0.04,
    # var 0.02; V = mean var = 0.02 -> terms 5 and 2, pooled slope (0.1 + 0.04) / 0.04 = 3.5 = their mean
    g, t = pooled_slope_terms([0, 0.2, 0, 0.1, 0.2, 0.5], [1, 2, 0, 0, 0.4, float("nan")], [0, 0, 1, 1, 1, 2])
    assert g.tolist() == [0, 1]  # seed 2 has one finite row: dropped
    assert t == pytest.approx([5.0, 2.0])
    assert t.mean() == pytest.approx(3.5)
    # a seed without spread adds 0 (a per-seed slope would be undefined)
    g, t = pooled_slope_terms([0.1, 0.1, 0, 0.2], [0, 1, 0, 0.2], ["a", "a", "b", "b"])
    assert t == pytest.approx([0.0, 2.0])
    with pytest.raises(W2SError, match="one length"):
        pooled_slope_terms([0, 1], [0, 1], [0])
