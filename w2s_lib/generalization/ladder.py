"""The ladder protocol: every (weak < strong) pair of a ladder, and the bootstrap chain, over one fit callable.

Burns et al.'s experiments share one shape whatever trains the models (a probe, a fine-tuned encoder, a
chess GPT, a reward model): each rung is fit on ground truth once — as a *supervisor* of the stronger rungs
and as its own *ceiling* — and every pair (weak < strong) trains the strong rung on the weak rung's soft
labels. Bootstrapping walks the ladder: rung k+1 trains on rung k's labels. This module owns that shape;
the caller owns training, through one callable::

    fit(rung: str, targets, crossfit: bool = False) -> Preds

- ``targets == SUPERVISOR``: the rung trained on ground truth as a weak supervisor (official: on D_gt);
- ``targets == CEILING``: the rung trained on ground truth as the ceiling the pair is measured against
  (official: the same fit as the supervisor; a vocabulary-shifted setup trains it on D_weak's GT);
- ``targets`` an array ``(S, n_weak)`` of soft labels ``P(1)`` on D_weak: a student.

``Preds.weak`` holds ``P(1)`` on the D_weak rows (the labels a stronger rung trains on) and ``Preds.test``
on the test rows, both with a leading *seed* axis ``S`` — one fit call serves every seed, so a caller can
vectorise across seeds (or loop; the protocol does not care). With ``crossfit=True`` the D_weak
predictions must be *cross-fitted*: each row labelled by a model that did not train on it (k-fold), which
is what lets an intermediate of a bootstrap chain correct its supervisor rather than echo it.

The records carry accuracy, AUROC and PGR per (seed, pair), and the error metrics of
:mod:`w2s_lib.metrics` (error inheritance, correction rate, agreement with the supervisor, ECE), all on
the test rows. Chess (``generalization/chess.py``) and reward modelling can pass their own ``fit``.

**Supervisor-only rungs** (``"<rung>@<n>"``, ``"<rung>@all"``): the rung trained on the first ``n``
ground-truth rows only — a weaker supervisor of the same model, so the weak side of the capability gap can vary
by data as well as by size — or on all of them (``@all``: the rung's own supervisor fit). Such a rung is a
supervisor and never a strong rung: :func:`ladder_pairs` pairs it with every later rung that is not
supervisor-only, and gives it no ceiling.

**Predictions that are choices.** A generative task (chess: the move a model picks) has no ``P(1)``:
pass ``scoring=CHOICES`` and the arrays of :class:`Preds` (and the ``targets`` a student gets) hold the
chosen answers (e.g. moves as strings); a prediction is right when it *equals* the reference, two models
agree when they pick the same answer, and the records carry the accuracy-based columns only (no AUROC /
ECE). The default ``scoring=BINARY`` is the ``P(1)`` protocol above.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from w2s_lib import metrics
from w2s_lib.core.errors import W2SError

SUPERVISOR = "supervisor"
CEILING = "ceiling"


@dataclass(frozen=True)
class Preds:
    """``P(1)`` of one fit on D_weak rows and on test rows, shape ``(S, n)`` (S = seeds)."""

    weak: np.ndarray
    test: np.ndarray


Fit = Callable[..., Preds]

#: What the arrays of :class:`Preds` hold: ``P(1)`` of a binary task, or chosen answers (see the module doc).
BINARY, CHOICES = "binary", "choices"


def _check(p: Preds, n_seeds: int, n_test: int, what: str, scoring: str = BINARY) -> Preds:
    if scoring not in (BINARY, CHOICES):
        raise W2SError(f"unknown scoring {scoring!r}; choose {BINARY!r} (P(1) arrays) or {CHOICES!r} (answers)")
    dtype = float if scoring == BINARY else object
    w, t = np.asarray(p.weak, dtype=dtype), np.asarray(p.test, dtype=dtype)
    if t.shape != (n_seeds, n_test) or w.ndim != 2 or w.shape[0] != n_seeds:
        raise W2SError(f"fit({what}) returned weak {w.shape} / test {t.shape}; expected (S={n_seeds}, n) "
                       f"and test (S, {n_test})")
    return Preds(w, t)


def _acc(p, y, scoring: str) -> float:
    return metrics.accuracy(p, y) if scoring == BINARY else float(np.mean(np.asarray(p) == np.asarray(y)))


def _inheritance(student, supervisor, y, scoring: str) -> float:
    if scoring == BINARY:
        return metrics.error_inheritance(student, supervisor, y)
    st, sp, y = np.asarray(student), np.asarray(supervisor), np.asarray(y)
    wrong = sp != y
    return float(np.mean(st[wrong] != y[wrong])) if wrong.any() else float("nan")


def choice_record(weak: Preds, ceiling: Preds, student: Preds, y_test, s: int) -> dict:
    """:func:`pair_record` for predictions that are choices (``scoring=CHOICES``): accuracies, PGR, and
    agreement / error inheritance / correction, a choice being right where it equals the reference."""
    y = np.asarray(y_test)[s] if np.ndim(y_test) == 2 else np.asarray(y_test)
    wa, sa, ca = (_acc(p.test[s], y, CHOICES) for p in (weak, student, ceiling))
    inh = _inheritance(student.test[s], weak.test[s], y, CHOICES)
    return {"weak_acc": wa, "w2s_acc": sa, "ceiling_acc": ca, "pgr_acc": float(metrics.pgr(wa, sa, ca)),
            "agreement": float(np.mean(student.test[s] == weak.test[s])), "inheritance": inh,
            "correction": 1.0 - inh}


def supervisor_only(rung: str) -> bool:
    """``"<rung>@<n>"``: the rung trained on only ``n`` ground-truth rows, a supervisor and never a strong rung."""
    return "@" in rung


def split_rung(rung: str) -> tuple[str, int | None]:
    """``"bow@200"`` → ``("bow", 200)``; ``"bow@all"`` and ``"bow"`` → ``("bow", None)`` (every ground-truth
    row). A malformed size is an error."""
    if not supervisor_only(rung):
        return rung, None
    base, _, size = rung.partition("@")
    if base and size == "all":
        return base, None
    if not base or not size.isdigit() or int(size) < 2:
        raise W2SError(f"rung {rung!r}: a supervisor-only rung is '<rung>@<rows>' (rows ≥ 2) or '<rung>@all', "
                       f"e.g. 'bow@200'")
    return base, int(size)


def _record(scoring: str):
    return pair_record if scoring == BINARY else choice_record


def _scores(p_test: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    return metrics.accuracy(p_test, y), metrics.auroc(p_test, y)


def pair_record(weak: Preds, ceiling: Preds, student: Preds, y_test: np.ndarray, s: int) -> dict:
    """One (seed ``s``, pair) row: accuracies, AUROCs, PGRs and the error metrics on the test rows."""
    y = np.asarray(y_test)[s] if np.ndim(y_test) == 2 else np.asarray(y_test)
    wa, wu = _scores(weak.test[s], y)
    sa, su = _scores(student.test[s], y)
    ca, cu = _scores(ceiling.test[s], y)
    return {"weak_acc": wa, "w2s_acc": sa, "ceiling_acc": ca, "weak_auroc": wu, "w2s_auroc": su,
            "ceiling_auroc": cu, "pgr_acc": float(metrics.pgr(wa, sa, ca)), "pgr_auroc": float(metrics.pgr(wu, su, cu)),
            "agreement": metrics.agreement(student.test[s], weak.test[s]),
            "inheritance": metrics.error_inheritance(student.test[s], weak.test[s], y),
            "correction": metrics.correction_rate(student.test[s], weak.test[s], y),
            "w2s_ece": metrics.ece(student.test[s], y), "weak_ece": metrics.ece(weak.test[s], y)}


def ladder_pairs(rungs: Sequence[str], fit: Fit, y_test, seeds: Sequence[int], scoring: str = BINARY) -> list[dict]:
    """Every (weak < strong) pair of ``rungs`` (weak → strong) for every seed: one record per (seed, pair)
    with ``seed, weak, strong, gap`` (rung distance) and :func:`pair_record`'s columns.

    ``y_test``: the test labels, ``(n_test,)`` shared by all seeds or ``(S, n_test)``; ``scoring``: what
    the predictions are (:data:`BINARY` ``P(1)``, or :data:`CHOICES`)."""
    rungs, seeds = list(rungs), list(seeds)
    if len(rungs) < 2:
        raise W2SError(f"a ladder needs at least two rungs; got {rungs}")
    for r in rungs:
        split_rung(r)
    if supervisor_only(rungs[-1]):
        raise W2SError(f"the strongest rung {rungs[-1]!r} is supervisor-only ('@'); end the ladder with a full rung")
    n_test = np.shape(y_test)[-1]
    sup = {m: _check(fit(m, SUPERVISOR), len(seeds), n_test, f"{m}, supervisor", scoring) for m in rungs[:-1]}
    ceil = {m: _check(fit(m, CEILING), len(seeds), n_test, f"{m}, ceiling", scoring)
            for m in rungs[1:] if not supervisor_only(m)}
    record = _record(scoring)
    out = []
    for i, weak in enumerate(rungs[:-1]):
        for j in range(i + 1, len(rungs)):
            strong = rungs[j]
            if supervisor_only(strong):
                continue
            student = _check(fit(strong, sup[weak].weak), len(seeds), n_test, f"{strong} on {weak}'s labels",
                             scoring)
            for s, seed in enumerate(seeds):
                out.append({"seed": seed, "weak": weak, "strong": strong, "gap": j - i,
                            **record(sup[weak], ceil[strong], student, y_test, s)})
    return out


def bootstrap_chain(rungs: Sequence[str], fit: Fit, y_test, seeds: Sequence[int], crossfit: bool = True,
                    y_weak=None, scoring: str = BINARY) -> list[dict]:
    """Bootstrapping M1 → M2 → … → Mn (each rung trained on the previous rung's labels on D_weak;
    intermediates relabel D_weak cross-fitted when ``crossfit``) vs direct supervision M1 → Mn.

    Records: ``method`` ``direct`` / ``bootstrap`` (the final students, :func:`pair_record` columns against
    M1 and Mn's ceiling) and ``chain`` (each intermediate's test accuracy, and with ``y_weak`` — D_weak's GT,
    ``(n_weak,)`` or ``(S, n_weak)``, for reporting only — the accuracy of the labels it passes on). Each link
    of the chain is also scored against its own supervisor (the rung before it): ``sup_acc`` and
    ``inheritance`` on ``chain`` rows, ``link_sup_acc`` and ``link_inheritance`` on the ``bootstrap`` row."""
    rungs, seeds = list(rungs), list(seeds)
    if len(rungs) < 3:
        raise W2SError(f"bootstrapping needs at least three rungs (an intermediate); got {rungs}")
    if any(supervisor_only(r) for r in rungs[1:]):
        raise W2SError(f"bootstrapping trains every rung after the first: only the first may be '@' (got {rungs})")
    n_test = np.shape(y_test)[-1]
    first = _check(fit(rungs[0], SUPERVISOR), len(seeds), n_test, f"{rungs[0]}, supervisor", scoring)
    ceiling = _check(fit(rungs[-1], CEILING), len(seeds), n_test, f"{rungs[-1]}, ceiling", scoring)
    direct = _check(fit(rungs[-1], first.weak), len(seeds), n_test, "direct", scoring)
    record = _record(scoring)
    labels, chain = first.weak, []
    for k, m in enumerate(rungs[1:]):
        last = k == len(rungs) - 2
        p = _check(fit(m, labels, crossfit=crossfit and not last), len(seeds), n_test, f"chain {m}", scoring)
        chain.append((m, p))
        labels = p.weak
    out = []
    for s, seed in enumerate(seeds):
        yw = None if y_weak is None else (np.asarray(y_weak)[s] if np.ndim(y_weak) == 2 else np.asarray(y_weak))
        y = np.asarray(y_test)[s] if np.ndim(y_test) == 2 else np.asarray(y_test)
        sups = [first] + [p for _, p in chain[:-1]]  # each link's supervisor: the rung before it
        for method, st in (("direct", direct), ("bootstrap", chain[-1][1])):
            rec = {"seed": seed, "method": method, "weak": rungs[0], "strong": rungs[-1],
                   **record(first, ceiling, st, y_test, s)}
            if yw is not None:
                rec["weak_label_acc"] = _acc(first.weak[s], yw, scoring)
            if method == "bootstrap":
                rec["link_sup_acc"] = _acc(sups[-1].test[s], y, scoring)
                rec["link_inheritance"] = _inheritance(st.test[s], sups[-1].test[s], y, scoring)
            out.append(rec)
        for (m, p), sup in zip(chain[:-1], sups):
            rec = {"seed": seed, "method": "chain", "weak": rungs[0], "strong": m,
                   "w2s_acc": _acc(p.test[s], y, scoring), "sup_acc": _acc(sup.test[s], y, scoring),
                   "inheritance": _inheritance(p.test[s], sup.test[s], y, scoring)}
            if yw is not None:
                rec["label_acc"] = _acc(p.weak[s], yw, scoring)
            out.append(rec)
    return out
