"""Preference optimisation and supervised fine-tuning of causal LMs through TRL.

One home for the TRL training the parts share: the tuned scorer of weak-to-strong search (DPO on pairs
labelled by a gold reward) and MACPO's agents and baselines. (The deception chapter's preference
alignment needs a per-pair conflict term TRL's losses do not carry, so it has its own short loop in
:mod:`w2s_lib.deception.preference`.) Both functions take a model object and return it trained; the reference model for
DPO is a frozen copy of the policy as it came in (TRL 1.x would otherwise try to reload it by name).
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import tempfile
import warnings

import datasets
import torch

from w2s_lib.core.errors import W2SError
from w2s_lib.core.numerics import guard_trainer, lr_hint
from w2s_lib.core.runtime import cached_package_checks, frozen_gc, train_in_bf16

PAIR_COLUMNS = ("prompt", "chosen", "rejected")


@contextlib.contextmanager
def quiet_training():
    """No trainer logs, progress bars or deprecation notes in the book's pages (restored afterwards)."""
    from transformers.utils import logging as hf_logging

    bars, hf_bars = datasets.utils.is_progress_bar_enabled(), hf_logging.is_progress_bar_enabled()
    tqdm_env = os.environ.get("TQDM_DISABLE")
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    os.environ["TQDM_DISABLE"] = "1"  # TRL's own bars (e.g. the reference pass of precompute_ref) read this
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        if tqdm_env is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = tqdm_env
        if bars:
            datasets.enable_progress_bars()
        if hf_bars:
            hf_logging.enable_progress_bar()


def _check_columns(ds: datasets.Dataset, needed: tuple[str, ...], what: str) -> None:
    missing = [c for c in needed if c not in ds.column_names]
    if missing:
        raise W2SError(f"{what} needs columns {list(needed)}; missing {missing} in {ds.column_names}")
    if len(ds) == 0:
        raise W2SError(f"{what} got an empty dataset")


def _common_args(output_dir: str, lr: float, epochs: float, batch_size: int, seed: int,
                 activation_checkpointing: bool) -> dict:
    return dict(
        output_dir=output_dir, learning_rate=lr, num_train_epochs=epochs,
        per_device_train_batch_size=batch_size, seed=seed, data_seed=seed, report_to=[], save_strategy="no",
        logging_strategy="no", disable_tqdm=True, use_cpu=not torch.cuda.is_available(),
        bf16=train_in_bf16(), fp16=False,  # the library's precision, not TRL's default (bf16=True)
        lr_scheduler_type="linear", warmup_steps=0,
        # TRL 1.x turns activation checkpointing on by default (through the deprecated alias, with a
        # warning); it recomputes every forward pass, which pays off only for models too large for memory,
        # so it is the caller's explicit choice here (off: measured ~25% faster on the tiny CPU models)
        activation_checkpointing=activation_checkpointing,
    )


def dpo_train(model, tokenizer, pairs: datasets.Dataset, *, beta: float = 0.1, lr: float = 5e-4,
              epochs: float = 3, batch_size: int = 32, max_length: int = 256, seed: int = 0,
              loss_type: str | list[str] = "sigmoid", ref_model=None, activation_checkpointing: bool = False,
              lr_knob: str = "dpo.lr", precompute_ref: bool = False):
    """DPO (TRL ``DPOTrainer``) of ``model`` on ``prompt, chosen, rejected`` pairs; returns the model.

    ``loss_type``: one TRL loss or a list of them, summed (e.g. ``["sigmoid", "sft"]``: DPO plus the NLL of
    the chosen responses). ``ref_model`` defaults to a frozen copy of ``model`` before training. ``lr_knob``: the caller's config
    name of ``lr``, for the one-line hint if the loss diverges. ``precompute_ref``: the reference model's
    log-probabilities of every pair are computed once before training (TRL's ``precompute_ref_log_probs``) instead
    of in every step — the same values batched otherwise (float-level differences), one reference pass instead of one
    per epoch.
    """
    from trl import DPOConfig, DPOTrainer

    _check_columns(pairs, PAIR_COLUMNS, "DPO")
    ref = ref_model if ref_model is not None else copy.deepcopy(model).eval()
    with tempfile.TemporaryDirectory(prefix="w2s-trl-") as out, quiet_training(), frozen_gc(), cached_package_checks():
        args = DPOConfig(**_common_args(out, lr, epochs, batch_size, seed, activation_checkpointing), beta=beta,
                         max_length=max_length, padding_free=False, precompute_ref_log_probs=precompute_ref,
                         loss_type=[loss_type] if isinstance(loss_type, str) else list(loss_type))
        trainer = guard_trainer(DPOTrainer(model=model, ref_model=ref, args=args,
                                           train_dataset=pairs.select_columns(list(PAIR_COLUMNS)),
                                           processing_class=tokenizer), lr_hint(lr_knob, lr))
        trainer.train()
    return trainer.model.eval()


def sft_train(model, tokenizer, examples: datasets.Dataset, *, lr: float = 5e-4, epochs: float = 3,
              batch_size: int = 32, max_length: int = 256, seed: int = 0, activation_checkpointing: bool = False,
              lr_knob: str = "sft.lr"):
    """Supervised fine-tuning on ``prompt, completion`` rows, loss on the completion only; returns the model."""
    from trl import SFTConfig, SFTTrainer

    _check_columns(examples, ("prompt", "completion"), "SFT")
    with tempfile.TemporaryDirectory(prefix="w2s-trl-") as out, quiet_training(), frozen_gc(), cached_package_checks():
        args = SFTConfig(**_common_args(out, lr, epochs, batch_size, seed, activation_checkpointing),
                         max_length=max_length, completion_only_loss=True, packing=False)
        trainer = guard_trainer(SFTTrainer(model=model, args=args,
                                           train_dataset=examples.select_columns(["prompt", "completion"]),
                                           processing_class=tokenizer), lr_hint(lr_knob, lr))
        trainer.train()
    return trainer.model.eval()
