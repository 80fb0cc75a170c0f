"""The numerics guard every training loop calls once per step.

A loop that diverges (learning rate too high, a bad loss weight) must not finish "successfully": its
predictions would be constant, the run would be cached as done and a chapter would report "no gap to
recover". :func:`check_loss` stops the run at the first non-finite loss, or at a loss that has exploded far
above where it started, with one line that names the knob to change. It raises inside the function
``load_or_run`` is computing, so nothing is cached.

Usage, one line in the loop (``guard`` remembers the first losses)::

    guard = LossGuard("lr=1.0 (lower it, e.g. -p lr=1e-4)")
    for step, batch in enumerate(batches):
        loss = ...
        guard(loss, step)

or statelessly ``check_loss(loss, step, knob_hint, reference=first_loss)``.
"""

from __future__ import annotations

import math
from typing import Any

from w2s_lib.core.errors import DivergedError

#: a loss this many times its starting value (and EXPLODE_MARGIN above it) has exploded
EXPLODE_FACTOR = 10.0
EXPLODE_MARGIN = 10.0
#: the starting value is the smallest of the first REFERENCE_STEPS losses
REFERENCE_STEPS = 5


def _as_float(loss: Any) -> float:
    if hasattr(loss, "detach"):  # a torch tensor: one scalar
        loss = loss.detach()
        loss = loss.float().mean().item() if loss.numel() != 1 else loss.item()
    return float(loss)


def check_loss(loss: Any, step: int, knob_hint: str, reference: float | None = None) -> float:
    """Return ``loss`` as a float, or raise :class:`DivergedError` when it is not finite or, given the
    ``reference`` (starting) loss, has exploded above ``max(EXPLODE_FACTOR × reference, reference + EXPLODE_MARGIN)``.

    ``knob_hint`` says what to change, e.g. ``"lr=1.0; lower it (e.g. -p lr=1e-4)"``.
    """
    value = _as_float(loss)
    if not math.isfinite(value):
        raise DivergedError(f"training diverged at step {step}: the loss is {value}; {knob_hint}. Nothing was cached")
    if reference is not None and math.isfinite(reference) and reference >= 0:
        limit = max(EXPLODE_FACTOR * reference, reference + EXPLODE_MARGIN)
        if value > limit:
            raise DivergedError(f"training diverged at step {step}: the loss rose from {reference:.3g} to {value:.3g}; "
                                f"{knob_hint}. Nothing was cached")
    return value


class LossGuard:
    """:func:`check_loss` with memory: the reference is the smallest of the first losses seen."""

    def __init__(self, knob_hint: str, reference_steps: int = REFERENCE_STEPS):
        self.knob_hint = knob_hint
        self.reference_steps = reference_steps
        self.reference: float | None = None
        self.seen = 0

    def __call__(self, loss: Any, step: int | None = None) -> float:
        step = self.seen if step is None else step
        value = check_loss(loss, step, self.knob_hint, self.reference if self.seen >= self.reference_steps else None)
        if self.seen < self.reference_steps:
            self.reference = value if self.reference is None else min(self.reference, value)
        self.seen += 1
        return value


def lr_hint(name: str, value: float) -> str:
    """The usual knob hint: ``"lower lr (now 1.0), e.g. -p lr=0.1"``."""
    return f"lower {name} (now {value:g}), e.g. -p {name}={value / 10:g}"


def guard_trainer(trainer, knob_hint: str):
    """Guard a Hugging Face / TRL ``Trainer``: every training step's loss goes through a :class:`LossGuard`
    (the trainer is returned, so the hook is one line: ``guard_trainer(Trainer(...), hint).train()``)."""
    guard = LossGuard(knob_hint)
    step_fn = trainer.training_step

    def training_step(*args, **kwargs):
        loss = step_fn(*args, **kwargs)
        guard(loss, trainer.state.global_step)
        return loss

    trainer.training_step = training_step
    return trainer
