"""Weak-to-strong training losses (Burns et al. 2024 and the EleutherAI/w2s fork).

Every loss is a pure function ``loss(logits, targets, step_frac, **params) -> scalar tensor``:

- ``logits``: the student's class logits, shape ``(B, C)``, ``C >= 2``;
- ``targets``: the weak supervisor's soft labels, shape ``(B, C)``, rows are probabilities (sum to 1);
- ``step_frac``: the fraction of training done so far, in ``[0, 1]`` (only the losses with a warmup use it).

Each returns the mean over the batch and is differentiable with respect to ``logits``. Half-precision
logits are computed in float32 (as the official code does with ``logits.float()``); float64 stays float64.

Losses (``LOSSES``; ``get_loss(name)``):

- ``xent``: cross-entropy to the soft weak labels, ``-Σ_c w_c log p_c`` (official ``xent_loss``).
- ``logconf``: the auxiliary confidence loss, ``CE(p, (1-c)·w + c·ĥ)`` where ``ĥ`` is the student's own
  (detached) prediction hardened to one-hot with a batch threshold (official ``logconf_loss_fn``).
- ``product``: ``CE(p, t)`` with ``t ∝ p^β · w^α`` (detached) (official ``product_loss_fn``).
- ``kl``: ``KL(w ‖ p) = Σ_c w_c (log w_c − log p_c)`` (EleutherAI ``kl_divergence_loss``); equals
  ``xent − H(w)``, so it has the same gradient as ``xent`` and is 0 when the student matches the labels.
- ``entropy``: ``(1-c)·CE(w, p) + c·H(p)`` — xent plus an entropy *penalty* (a confidence bonus), ``c`` with
  the same warmup as ``logconf`` (EleutherAI's ``entropy`` = ``log_confidence_loss(harden=False)``).

Readings of the official code (openai/weak-to-strong ``weak_to_strong/loss.py``, EleutherAI/w2s
``w2s/loss.py``) are marked "best reading" below where the code leaves room for doubt.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import torch
import torch.nn.functional as F

from w2s_lib.core.errors import W2SError, unknown

__all__ = [
    "LOSSES",
    "entropy",
    "get_loss",
    "harden",
    "kl",
    "logconf",
    "logconf_coef",
    "product",
    "xent",
]


def _prepare(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Check shapes and bring both tensors to a common float dtype (half → float32)."""
    if not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise W2SError("losses take torch tensors: logits (B, C) and targets (B, C)")
    if logits.ndim != 2:
        raise W2SError(f"logits must have shape (B, C); got {tuple(logits.shape)}")
    if targets.shape != logits.shape:
        raise W2SError(
            f"targets must have the logits' shape {tuple(logits.shape)}; got {tuple(targets.shape)}"
            " (pass soft labels as class probabilities, one column per class)"
        )
    if logits.shape[0] == 0:
        raise W2SError("empty batch: logits have 0 rows")
    if logits.shape[1] < 2:
        raise W2SError(f"need at least 2 classes; got C = {logits.shape[1]}")
    dtype = logits.dtype if logits.dtype == torch.float64 else torch.float32
    return logits.to(dtype), targets.to(dtype)


def _soft_ce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``-Σ_c target_c · log softmax(logits)_c`` (= F.cross_entropy with probs)."""
    return -(target * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


# --------------------------------------------------------------------------------------------------
# xent


def xent(logits: torch.Tensor, targets: torch.Tensor, step_frac: float = 0.0) -> torch.Tensor:
    """Cross-entropy of the student's softmax to the soft weak labels, mean over the batch.

    ``step_frac`` is accepted for a uniform signature and ignored.
    """
    logits, targets = _prepare(logits, targets)
    return _soft_ce(logits, targets)


# --------------------------------------------------------------------------------------------------
# logconf


def logconf_coef(
    step_frac: float, alpha: float = 0.5, warmup_frac: float = 0.1, official_warmup: bool = False
) -> float:
    """The weight ``c`` of the student's hardened self-labels at ``step_frac``.

    - default (EleutherAI's fork, and what the paper describes): a linear ramp,
      ``c = alpha · min(1, step_frac / warmup_frac)`` (``c = alpha`` when ``warmup_frac <= 0``).
    - ``official_warmup=True`` reproduces openai/weak-to-strong exactly:
      ``coef = 1.0 if step_frac > warmup_frac else step_frac; c = coef · alpha``.
      That is the official code's warmup bug: during warmup ``c = alpha · step_frac`` (it forgets to divide
      by ``warmup_frac``), so ``c`` only reaches ``alpha · warmup_frac`` (0.05 at the defaults) and then
      jumps to ``alpha`` right after the end of warmup. Note the strict ``>``: at
      ``step_frac == warmup_frac`` the official value is still ``alpha · warmup_frac``.
    """
    step_frac = float(step_frac)
    if official_warmup:
        return float(alpha) * (1.0 if step_frac > warmup_frac else step_frac)
    if warmup_frac <= 0:
        return float(alpha)
    return float(alpha) * min(1.0, step_frac / float(warmup_frac))


def harden(probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Harden the student's class probabilities to one-hot labels (no gradient), shape ``(B, C)``.

    Binary (``C == 2``), exactly as official ``logconf_loss_fn`` (best reading, see below)::

        mean_weak = targets.mean(0)                      # the weak labels' class mix in the batch
        threshold = torch.quantile(probs[:, 0], mean_weak[1])
        hardened  = [probs[:, 0] >= threshold, probs[:, 0] < threshold]

    My reading: the quantile is taken of the student's **class-0** probability at the weak labels'
    **class-1** share ``q1``; examples whose ``P(0)`` is at or above that quantile become class 0, so about
    a ``1 − q1 = q0`` share of the batch is hardened to class 0 and ``q1`` to class 1 — the hardened mix
    matches the weak mix. (Equivalently, up to ties at the threshold: the quantile of ``P(1)`` at ``q0``,
    class 1 where ``P(1)`` exceeds it.) ``torch.quantile`` interpolates linearly, so without ties exactly
    ``ceil(q1 · (B − 1))`` examples become class 1 — within one example of the weak share ``q1 · B``; an
    example exactly at the threshold goes to class 0. A batch of one row always hardens to class 0 (the quantile of one value is that value); the
    official code does the same (EleutherAI instead uses ``q = 0.5`` for one row and a 32-row buffer of
    past predictions for the quantile — not reproduced here).

    ``C > 2`` (the official code asserts ``C == 2``): one-hot of the argmax, no threshold.
    """
    with torch.no_grad():
        probs = probs.detach()
        if probs.shape[1] == 2:
            q = targets.detach().to(probs.dtype).mean(dim=0)[1].clamp(0.0, 1.0)
            threshold = torch.quantile(probs[:, 0], q)
            is0 = probs[:, 0] >= threshold
            return torch.stack([is0, ~is0], dim=1).to(probs.dtype)
        return F.one_hot(probs.argmax(dim=-1), probs.shape[1]).to(probs.dtype)


def logconf(
    logits: torch.Tensor,
    targets: torch.Tensor,
    step_frac: float = 1.0,
    alpha: float = 0.5,
    warmup_frac: float = 0.1,
    official_warmup: bool = False,
) -> torch.Tensor:
    """Auxiliary confidence loss: ``CE(p, (1 − c)·w + c·ĥ)``, mean over the batch.

    ``w`` = weak soft labels, ``ĥ`` = :func:`harden` of the student's own detached probabilities, and
    ``c = logconf_coef(step_frac, alpha, warmup_frac, official_warmup)`` (linear ramp by default; the
    official code's jumpy warmup with ``official_warmup=True``). Since CE is linear in the target, this is
    ``(1 − c)·CE(p, w) + c·CE(p, ĥ)``, the talk's ``L_conf``. With ``c = 0`` it equals :func:`xent`.
    """
    logits, targets = _prepare(logits, targets)
    c = logconf_coef(step_frac, alpha, warmup_frac, official_warmup)
    hard = harden(torch.softmax(logits, dim=-1), targets)
    target = targets * (1.0 - c) + hard * c
    return _soft_ce(logits, target)


# --------------------------------------------------------------------------------------------------
# product


def product(
    logits: torch.Tensor,
    targets: torch.Tensor,
    step_frac: float = 1.0,
    alpha: float = 1.0,
    beta: float = 1.0,
    warmup_frac: float = 0.1,
) -> torch.Tensor:
    """Product loss: ``CE(p, t)`` with ``t = normalise(p^β · w^α)``, ``t`` detached, mean over the batch.

    ``alpha`` weighs the weak labels, ``beta`` the student (official defaults 1, 1). Best reading of the
    official ``product_loss_fn``: it stores ``warmup_frac`` but never uses it — there is no warmup on
    ``beta`` (or anything else), so ``step_frac`` and ``warmup_frac`` are accepted and ignored here too.
    ``beta = 0`` gives :func:`xent` (for ``alpha = 1``); ``alpha = 0`` gives a target equal to the
    student's own prediction, i.e. zero gradient. ``0^0 = 1`` as in ``torch.pow``.
    """
    logits, targets = _prepare(logits, targets)
    with torch.no_grad():
        preds = torch.softmax(logits, dim=-1)
        target = torch.pow(preds, beta) * torch.pow(targets, alpha)
        target = target / target.sum(dim=-1, keepdim=True)
    return _soft_ce(logits, target)


# --------------------------------------------------------------------------------------------------
# kl, entropy


def kl(logits: torch.Tensor, targets: torch.Tensor, step_frac: float = 0.0) -> torch.Tensor:
    """``KL(w ‖ p) = Σ_c w_c (log w_c − log p_c)``, mean over the batch (``0·log 0 = 0``).

    Same as EleutherAI's ``F.kl_div(log_softmax(logits), target, reduction="batchmean")``.
    ``step_frac`` is ignored.
    """
    logits, targets = _prepare(logits, targets)
    logp = torch.log_softmax(logits, dim=-1)
    return (torch.xlogy(targets, targets) - targets * logp).sum(dim=-1).mean()


def entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    step_frac: float = 1.0,
    alpha: float = 0.5,
    warmup_frac: float = 0.1,
    official_warmup: bool = False,
    detach_self: bool = False,
) -> torch.Tensor:
    """Xent plus an entropy penalty: ``(1 − c)·CE(p, w) + c·H(p)``, mean over the batch.

    ``H(p) = −Σ_c p_c log p_c`` is the student's own entropy; minimising it rewards confidence (a soft,
    un-hardened cousin of ``logconf``). ``c`` follows :func:`logconf_coef` (linear ramp by default).

    EleutherAI's ``entropy`` loss is ``log_confidence_loss(harden=False)``:
    ``CE(p, (1 − c)·w + c·p.detach())``. Its *value* equals the formula above, but because the self-target
    is detached the entropy term has no gradient there (its gradient is ``(1 − c)·∇xent``). The default
    here lets the gradient flow through ``H(p)``; ``detach_self=True`` reproduces EleutherAI's code exactly.
    """
    logits, targets = _prepare(logits, targets)
    c = logconf_coef(step_frac, alpha, warmup_frac, official_warmup)
    probs = torch.softmax(logits, dim=-1)
    if detach_self:
        return _soft_ce(logits, targets * (1.0 - c) + probs.detach() * c)
    logp = torch.log_softmax(logits, dim=-1)
    ent = -(probs * logp).sum(dim=-1).mean()
    return (1.0 - c) * _soft_ce(logits, targets) + c * ent


# --------------------------------------------------------------------------------------------------
# registry

LossFn = Callable[..., torch.Tensor]

LOSSES: dict[str, LossFn] = {
    "xent": xent,
    "logconf": logconf,
    "product": product,
    "kl": kl,
    "entropy": entropy,
}


def get_loss(name: str, **params) -> LossFn:
    """The loss called ``name``; with ``params``, the loss with those keyword arguments bound.

    ``get_loss("logconf", alpha=0.75)(logits, weak, step_frac)``. Unknown names or parameters raise
    :class:`W2SError`.
    """
    if name not in LOSSES:
        raise unknown("loss", name, LOSSES)
    fn = LOSSES[name]
    if not params:
        return fn
    allowed = [p for p in inspect.signature(fn).parameters if p not in ("logits", "targets", "step_frac")]
    for key in params:
        if not allowed:
            raise W2SError(f"loss {name!r} takes no parameters; got {key!r}")
        if key not in allowed:
            raise unknown(f"parameter of loss {name!r}", key, allowed)
    return functools.partial(fn, **params)
