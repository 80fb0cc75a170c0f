"""Tests for w2s_lib.train.losses: each loss against a plain-Python/numpy re-derivation, plus hand cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from w2s_lib.core.errors import W2SError
from w2s_lib.train.losses import LOSSES, entropy, get_loss, harden, kl, logconf, logconf_coef, product, xent

# ---------------------------------------------------------------------------------------------------
# independent reference implementations (plain Python loops over rows, float64)


def ref_softmax(row):
    m = max(row)
    e = [math.exp(v - m) for v in row]
    s = sum(e)
    return [v / s for v in e]


def ref_ce(logits, target):
    """mean_i  -Σ_c target[i][c] · log softmax(logits[i])_c"""
    total = 0.0
    for lrow, trow in zip(logits, target):
        m = max(lrow)
        lse = m + math.log(sum(math.exp(v - m) for v in lrow))
        total += -sum(t * (v - lse) for t, v in zip(trow, lrow))
    return total / len(logits)


def ref_coef(step_frac, alpha, warmup_frac, official):
    if official:
        if step_frac <= warmup_frac:  # the official code's branch: `1.0 if step_frac > warmup_frac else step_frac`
            return alpha * step_frac
        return alpha
    return alpha * min(1.0, step_frac / warmup_frac)


def ref_quantile(values, q):
    """Linear-interpolation quantile (numpy/torch default), written out."""
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (pos - lo) * (xs[hi] - xs[lo])


def ref_harden(logits, weak):
    probs = [ref_softmax(r) for r in logits]
    C = len(logits[0])
    if C == 2:
        q1 = sum(w[1] for w in weak) / len(weak)
        thr = ref_quantile([p[0] for p in probs], q1)
        return [[1.0, 0.0] if p[0] >= thr else [0.0, 1.0] for p in probs]
    out = []
    for p in probs:
        k = max(range(C), key=lambda c: p[c])
        out.append([1.0 if c == k else 0.0 for c in range(C)])
    return out


def ref_logconf(logits, weak, step_frac, alpha=0.5, warmup_frac=0.1, official=False):
    c = ref_coef(step_frac, alpha, warmup_frac, official)
    hard = ref_harden(logits, weak)
    target = [[(1 - c) * w + c * h for w, h in zip(wr, hr)] for wr, hr in zip(weak, hard)]
    return ref_ce(logits, target)


def ref_product(logits, weak, alpha=1.0, beta=1.0):
    target = []
    for lrow, wrow in zip(logits, weak):
        p = ref_softmax(lrow)
        t = [(pc**beta) * (wc**alpha) for pc, wc in zip(p, wrow)]
        s = sum(t)
        target.append([v / s for v in t])
    return ref_ce(logits, target)


def ref_kl(logits, weak):
    total = 0.0
    for lrow, wrow in zip(logits, weak):
        p = ref_softmax(lrow)
        total += sum(w * (math.log(w) - math.log(pc)) for w, pc in zip(wrow, p) if w > 0)
    return total / len(logits)


def ref_entropy(logits, weak, step_frac, alpha=0.5, warmup_frac=0.1):
    c = ref_coef(step_frac, alpha, warmup_frac, False)
    h = 0.0
    for lrow in logits:
        p = ref_softmax(lrow)
        h += -sum(pc * math.log(pc) for pc in p)
    h /= len(logits)
    return (1 - c) * ref_ce(logits, weak) + c * h


def random_case(seed, B, C):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(B, C))
    weak = rng.dirichlet(np.ones(C), size=B)
    return logits, weak


def T(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


CASES = [(0, 8, 2), (1, 13, 2), (2, 32, 2), (3, 5, 3), (4, 17, 3)]

# ---------------------------------------------------------------------------------------------------
# random cases vs the references


@pytest.mark.parametrize("seed,B,C", CASES)
def test_xent_matches_reference(seed, B, C):
    lg, w = random_case(seed, B, C)
    assert xent(T(lg), T(w)).item() == pytest.approx(ref_ce(lg.tolist(), w.tolist()), rel=1e-10)
    # and torch's own soft-target cross-entropy (what the official xent_loss calls)
    assert xent(T(lg), T(w)).item() == pytest.approx(torch.nn.functional.cross_entropy(T(lg), T(w)).item())


@pytest.mark.parametrize("seed,B,C", CASES)
@pytest.mark.parametrize("step_frac", [0.0, 0.05, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("official", [False, True])
def test_logconf_matches_reference(seed, B, C, step_frac, official):
    lg, w = random_case(seed, B, C)
    got = logconf(T(lg), T(w), step_frac, alpha=0.5, warmup_frac=0.1, official_warmup=official).item()
    want = ref_logconf(lg.tolist(), w.tolist(), step_frac, 0.5, 0.1, official)
    assert got == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize("seed,B,C", CASES)
def test_harden_matches_reference(seed, B, C):
    lg, w = random_case(seed, B, C)
    got = harden(torch.softmax(T(lg), -1), T(w)).numpy()
    np.testing.assert_array_equal(got, np.array(ref_harden(lg.tolist(), w.tolist())))


@pytest.mark.parametrize("seed,B,C", CASES)
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (0.5, 2.0), (2.0, 0.5), (1.0, 0.0)])
def test_product_matches_reference(seed, B, C, alpha, beta):
    lg, w = random_case(seed, B, C)
    got = product(T(lg), T(w), 0.5, alpha=alpha, beta=beta).item()
    assert got == pytest.approx(ref_product(lg.tolist(), w.tolist(), alpha, beta), rel=1e-10)


@pytest.mark.parametrize("seed,B,C", CASES)
def test_kl_matches_reference(seed, B, C):
    lg, w = random_case(seed, B, C)
    w[0] = 0.0
    w[0, 0] = 1.0  # a hard row with zeros: 0 log 0 = 0
    assert kl(T(lg), T(w)).item() == pytest.approx(ref_kl(lg.tolist(), w.tolist()), rel=1e-10)
    # EleutherAI's form
    ours = kl(T(lg), T(w)).item()
    theirs = torch.nn.functional.kl_div(torch.log_softmax(T(lg), -1), T(w), reduction="batchmean").item()
    assert ours == pytest.approx(theirs, rel=1e-10)


@pytest.mark.parametrize("seed,B,C", CASES)
@pytest.mark.parametrize("step_frac", [0.0, 0.05, 1.0])
def test_entropy_matches_reference(seed, B, C, step_frac):
    lg, w = random_case(seed, B, C)
    got = entropy(T(lg), T(w), step_frac).item()
    assert got == pytest.approx(ref_entropy(lg.tolist(), w.tolist(), step_frac), rel=1e-10)


# ---------------------------------------------------------------------------------------------------
# hand cases


def test_warmup_values_official_vs_linear():
    # alpha = 0.5, warmup 10% of training
    assert logconf_coef(0.05, 0.5, 0.1) == pytest.approx(0.25)
    assert logconf_coef(0.1, 0.5, 0.1) == pytest.approx(0.5)
    assert logconf_coef(0.5, 0.5, 0.1) == pytest.approx(0.5)
    assert logconf_coef(0.05, 0.5, 0.1, official_warmup=True) == pytest.approx(0.025)
    assert logconf_coef(0.1, 0.5, 0.1, official_warmup=True) == pytest.approx(0.05)  # strict '>' in the official code
    assert logconf_coef(0.1000001, 0.5, 0.1, official_warmup=True) == pytest.approx(0.5)  # the jump
    assert logconf_coef(0.5, 0.5, 0.1, official_warmup=True) == pytest.approx(0.5)
    assert logconf_coef(0.3, 0.75, 0.0) == pytest.approx(0.75)


def test_logconf_with_zero_coef_equals_xent():
    lg, w = random_case(7, 9, 2)
    x = xent(T(lg), T(w)).item()
    assert logconf(T(lg), T(w), 0.0).item() == pytest.approx(x)  # linear ramp at step 0
    assert logconf(T(lg), T(w), 0.7, alpha=0.0).item() == pytest.approx(x)
    assert logconf(T(lg), T(w), 0.0, official_warmup=True).item() == pytest.approx(x)


def test_hardening_reproduces_weak_class_mix_even_split():
    p0 = torch.tensor([0.9, 0.6, 0.3, 0.1], dtype=torch.float64)
    probs = torch.stack([p0, 1 - p0], 1)
    weak = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    # quantile of P(0) at the weak class-1 share 0.5 = 0.45 -> the two most class-0 examples are class 0
    hard = harden(probs, weak)
    np.testing.assert_array_equal(hard.numpy(), [[1, 0], [1, 0], [0, 1], [0, 1]])
    assert hard[:, 0].mean().item() == pytest.approx(weak[:, 0].mean().item())


def test_hardening_reproduces_weak_class_mix_skewed():
    p0 = torch.tensor([0.4, 0.95, 0.2, 0.8, 0.5], dtype=torch.float64)
    probs = torch.stack([p0, 1 - p0], 1)
    weak = torch.tensor([[0.9, 0.1], [0.7, 0.3], [0.8, 0.2], [0.6, 0.4], [1.0, 0.0]], dtype=torch.float64)
    # weak class mix: 80% class 0, 20% class 1. quantile(P0, 0.2) = 0.2 + 0.8·(0.4 − 0.2) = 0.36
    hard = harden(probs, weak)
    np.testing.assert_array_equal(hard[:, 1].numpy(), [0, 0, 1, 0, 0])
    assert hard[:, 0].mean().item() == pytest.approx(0.8)
    # the student here is unsure on every example, yet only the least class-0 one is hardened to class 1
    assert (p0 < 0.5).sum().item() == 2


@pytest.mark.parametrize("seed,B", [(0, 7), (1, 16), (2, 33), (3, 64)])
def test_hardened_class_mix_within_one_example_of_weak_mix(seed, B):
    lg, w = random_case(seed, B, 2)
    hard = harden(torch.softmax(T(lg), -1), T(w))
    q1 = w[:, 1].mean()
    n1 = hard[:, 1].sum().item()
    assert n1 == math.ceil(q1 * (B - 1))
    assert abs(n1 - q1 * B) < 1


def test_hardening_multiclass_is_argmax_and_one_row_binary_is_class0():
    probs = torch.tensor([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    np.testing.assert_array_equal(harden(probs, torch.full((2, 3), 1 / 3)).numpy(), [[0, 1, 0], [1, 0, 0]])
    one = torch.tensor([[0.1, 0.9]])
    np.testing.assert_array_equal(harden(one, torch.tensor([[0.0, 1.0]])).numpy(), [[1, 0]])  # official quirk


def test_logconf_hand_value():
    # logits 0 -> p = (0.5, 0.5) for every row; CE to any target row is log 2
    lg = torch.zeros(4, 2, dtype=torch.float64)
    w = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.3, 0.7]], dtype=torch.float64)
    assert logconf(lg, w, 1.0).item() == pytest.approx(math.log(2))
    # p = (0.25, 0.75) everywhere: all P(0) tie at the threshold, so all harden to class 0 (>=)
    lg = torch.tensor([[0.0, math.log(3)]] * 2, dtype=torch.float64)
    w = torch.tensor([[0.5, 0.5], [0.5, 0.5]], dtype=torch.float64)
    c = 0.5
    target0 = (1 - c) * 0.5 + c * 1.0
    want = -(target0 * math.log(0.25) + (1 - target0) * math.log(0.75))
    assert logconf(lg, w, 1.0).item() == pytest.approx(want)


def test_product_hand_cases():
    # student uniform, alpha = beta = 1: target = weak labels; loss = log 2
    lg = torch.zeros(1, 2, dtype=torch.float64, requires_grad=True)
    w = torch.tensor([[0.8, 0.2]], dtype=torch.float64)
    loss = product(lg, w)
    assert loss.item() == pytest.approx(math.log(2))
    loss.backward()
    np.testing.assert_allclose(lg.grad.numpy(), [[0.5 - 0.8, 0.5 - 0.2]])
    # weak uniform: target = the student's own prediction -> loss = H(p), zero gradient
    lg = torch.tensor([[0.0, math.log(3)]], dtype=torch.float64, requires_grad=True)
    loss = product(lg, torch.tensor([[0.5, 0.5]], dtype=torch.float64))
    assert loss.item() == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))
    loss.backward()
    np.testing.assert_allclose(lg.grad.numpy(), [[0.0, 0.0]], atol=1e-12)
    # p = (0.25, 0.75), w = (0.6, 0.4): target ∝ (0.15, 0.30) = (1/3, 2/3)
    lg = torch.tensor([[0.0, math.log(3)]], dtype=torch.float64)
    want = -(1 / 3 * math.log(0.25) + 2 / 3 * math.log(0.75))
    assert product(lg, torch.tensor([[0.6, 0.4]], dtype=torch.float64)).item() == pytest.approx(want)
    # beta = 0, alpha = 1 is xent; step_frac has no effect (no warmup in the official code)
    lg, w = random_case(5, 6, 3)
    assert product(T(lg), T(w), 0.0, beta=0.0).item() == pytest.approx(xent(T(lg), T(w)).item())
    assert product(T(lg), T(w), 0.01).item() == pytest.approx(product(T(lg), T(w), 0.9).item())


def test_kl_is_xent_minus_weak_entropy_and_zero_at_match():
    lg, w = random_case(11, 7, 3)
    h_w = float(np.mean(-(w * np.log(w)).sum(1)))
    assert kl(T(lg), T(w)).item() == pytest.approx(xent(T(lg), T(w)).item() - h_w)
    assert kl(T(np.log(w)), T(w)).item() == pytest.approx(0.0, abs=1e-12)


def test_entropy_eleuther_detached_form_same_value_scaled_gradient():
    lg, w = random_case(12, 10, 2)
    step = 1.0
    c = logconf_coef(step)
    a = T(lg, grad=True)
    b = T(lg, grad=True)
    x = T(lg, grad=True)
    la = entropy(a, T(w), step)
    lb = entropy(b, T(w), step, detach_self=True)
    assert la.item() == pytest.approx(lb.item())
    la.backward()
    lb.backward()
    xent(x, T(w)).backward()
    np.testing.assert_allclose(b.grad.numpy(), (1 - c) * x.grad.numpy(), atol=1e-12)
    assert not np.allclose(a.grad.numpy(), b.grad.numpy())  # ours pushes on the entropy too


# ---------------------------------------------------------------------------------------------------
# gradients


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("C", [2, 3])
def test_gradient_flows_and_matches_finite_differences(name, C):
    lg, w = random_case(21 + C, 6, C)
    x = T(lg, grad=True)
    loss = LOSSES[name](x, T(w), 0.5)
    assert loss.ndim == 0
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    if name == "product":
        # the target ∝ p^β·w^α is detached, so the gradient is (softmax − target)/B with the target held
        # fixed (finite differences would also move the target and do not apply)
        p = np.array([ref_softmax(r) for r in lg.tolist()])
        t = p * w
        t /= t.sum(1, keepdims=True)
        np.testing.assert_allclose(x.grad.numpy(), (p - t) / len(lg), atol=1e-12)
    else:
        # logconf's hardened target is piecewise constant in the logits, so finite differences apply
        assert torch.autograd.gradcheck(lambda z: LOSSES[name](z, T(w), 0.5), (T(lg, grad=True),), eps=1e-6)


def test_logconf_gradient_is_softmax_minus_target():
    lg, w = random_case(31, 8, 2)
    x = T(lg, grad=True)
    logconf(x, T(w), 1.0).backward()
    c = 0.5
    hard = np.array(ref_harden(lg.tolist(), w.tolist()))
    target = (1 - c) * w + c * hard
    p = np.array([ref_softmax(r) for r in lg.tolist()])
    np.testing.assert_allclose(x.grad.numpy(), (p - target) / len(lg), atol=1e-12)


def test_half_precision_is_computed_in_float32():
    lg, w = random_case(3, 4, 2)
    out = xent(torch.tensor(lg, dtype=torch.bfloat16), torch.tensor(w, dtype=torch.bfloat16))
    assert out.dtype == torch.float32


# ---------------------------------------------------------------------------------------------------
# registry and input validation


def test_registry_and_get_loss():
    assert set(LOSSES) == {"xent", "logconf", "product", "kl", "entropy"}
    assert get_loss("xent") is xent
    lg, w = random_case(0, 8, 2)
    f = get_loss("logconf", alpha=0.75, official_warmup=True)
    assert f(T(lg), T(w), 0.05).item() == pytest.approx(
        logconf(T(lg), T(w), 0.05, alpha=0.75, official_warmup=True).item()
    )
    with pytest.raises(W2SError, match="unknown loss 'hinge'"):
        get_loss("hinge")
    with pytest.raises(W2SError, match="alpha"):
        get_loss("logconf", alpah=0.75)
    with pytest.raises(W2SError, match="no parameters"):
        get_loss("xent", alpha=1.0)


def test_bad_shapes_raise_user_errors():
    with pytest.raises(W2SError, match="shape"):
        xent(torch.zeros(4, 2), torch.zeros(4, 3))
    with pytest.raises(W2SError, match=r"\(B, C\)"):
        xent(torch.zeros(4), torch.zeros(4))
    with pytest.raises(W2SError, match="empty"):
        logconf(torch.zeros(0, 2), torch.zeros(0, 2), 0.5)
    with pytest.raises(W2SError, match="2 classes"):
        kl(torch.zeros(3, 1), torch.ones(3, 1))
    with pytest.raises(W2SError, match="tensors"):
        xent(np.zeros((2, 2)), np.zeros((2, 2)))
