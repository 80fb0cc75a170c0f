"""Process-level knobs, applied inside the calls that need them (never at import time)."""

from __future__ import annotations

import contextlib
import functools
import gc


def train_in_bf16() -> bool:
    """The library's training precision (asked at call time): bf16 on a GPU that supports it, else fp32 —
    never a trainer release's default (TRL 1.x's ``bf16=True`` runs as bf16 autocast on the CPU from
    transformers 5.25 / accelerate 1.16: DPO six times slower, and other weights)."""
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


@contextlib.contextmanager
def torch_threads(n: int):
    """Run the block with ``n`` intra-op torch threads, then restore the previous number.

    Token-by-token decoding of small models is latency-bound: one thread is as fast as two on an idle
    machine and many times faster on a busy one (measured: 5.9 ms vs 267 ms per step of a micro GPT
    with the other core loaded).
    """
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


@contextlib.contextmanager
def quiet_transformers():
    """No transformers progress bars (loading, writing shards) or 'unused weights' notes in the block: the
    book's pages show what a chapter computes, not its checkpoints' I/O."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def save_quietly(model, tokenizer, path) -> None:
    """``save_pretrained`` of a model and its tokenizer inside :func:`quiet_transformers`."""
    with quiet_transformers():
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)


@contextlib.contextmanager
def frozen_gc():
    """The objects alive now are left out of garbage collections until the block ends (``gc.freeze``).

    ``Trainer.train`` starts with ``accelerator.free_memory()``, a full ``gc.collect()`` that walks every
    object of the process: in a notebook that holds datasets, tokenizers and data frames it cost ≈ 0.2–1.4 s
    per training call, 3–5% of chapter 30, ≈ 0.3 s per reward-model fit of chapter 13. Freezing the objects
    that existed before the trainer makes that collection walk only the trainer's own; nothing is freed
    later than it would be otherwise except cycles among the frozen objects, which the next collection
    after the block finds. Garbage collection never changes a number a run computes."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextlib.contextmanager
def cached_package_checks():
    """accelerate's ``is_peft_available()`` (and its other package checks) reads the installed packages'
    metadata on every call (``importlib.metadata``, ≈ 4.5 ms), and TRL asks it on every DPO step and
    every trainer set-up: 25 calls per training, ≈ 2 s CPU per seed of chapter 30. Inside the block each
    package is looked up once; accelerate's function is put back afterwards."""
    try:
        from accelerate.utils import imports as acc_imports
    except ImportError:
        yield
        return
    original = getattr(acc_imports, "_is_package_available", None)
    if original is None:
        yield
        return
    acc_imports._is_package_available = functools.lru_cache(maxsize=None)(original)
    try:
        yield
    finally:
        acc_imports._is_package_available = original
