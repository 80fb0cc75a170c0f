"""The weak-to-strong pipeline: weak on D_gt → soft labels on D_weak → student on D_weak → ceiling on D_gt.

This module is the one home of that recipe. :func:`run_probe_w2s` is its cheapest form — every model
is a linear probe on its frozen backbone's cached features — which the orientation chapter uses to
compute a real PGR in seconds. The fine-tuned forms (full, LoRA) build on the same splits and metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import data, metrics
from .artifacts import Artifact, load_or_run
from .config import Config, knob
from .data.splits import w2s_splits
from .train.probe import cached_features, fit_probe, probe_proba


@dataclass(frozen=True)
class ProbeW2SConfig(Config):
    """Weak and strong are linear probes on frozen features; the student learns from weak soft labels."""

    dataset: str = knob("tiny_sentiment", help="registry name of a classification dataset")
    weak: str = knob("minilm-l1", help="zoo name of the weak backbone")
    strong: str = knob("minilm-l6", help="zoo name of the strong backbone")
    n_docs: int = knob(2000, low=4, help="training rows, split 50/50 into D_gt and D_weak")
    n_test: int = knob(1000, low=2, help="test rows (ground truth)")
    epochs: int = knob(300, low=1, high=100_000, help="full-batch Adam steps per probe")
    lr: float = knob(0.05, low=1e-6, high=10.0)

    SLUG = "probe-w2s"
    PRESET_VALUES = {
        "smoke": {"n_docs": 200, "n_test": 200, "epochs": 100},
        "tiny": {},
        # colab: gpt2 → gpt2-large on SciQ, frozen last-token features (a linear-probe W2S run)
        "colab": {"dataset": "sciq", "weak": "gpt2", "strong": "gpt2-large", "n_docs": 10000, "n_test": 2000},
        # paper: the official defaults n_docs = 20000, n_test_docs = 10000 (openai/weak-to-strong train_weak_to_strong.py)
        "paper": {"dataset": "sciq", "weak": "gpt2", "strong": "gpt2-xl", "n_docs": 20000, "n_test": 10000},
    }


def load_splits(dataset: str, n_docs: int, n_test: int, seed: int):
    """D_gt, D_weak and test of ``dataset`` as the official code splits them."""
    return w2s_splits(data.load(dataset, "train", seed=seed), data.load(dataset, "test", seed=seed),
                      n_docs=n_docs, n_test=n_test, seed=seed)


def run_probe_w2s(cfg: ProbeW2SConfig, force: bool = False) -> Artifact:
    """Weak, ceiling and W2S probes; accuracy, AUROC and PGR on the GT test split (cached)."""

    def compute(out_dir):
        splits = load_splits(cfg.dataset, cfg.n_docs, cfg.n_test, cfg.seed)
        feats = {(m, s): cached_features(m, list(splits[s]["text"]), cfg.preset)
                 for m in (cfg.weak, cfg.strong) for s in ("gt", "weak", "test")}
        gt_labels = np.asarray(splits["gt"]["label"], dtype=np.float32)
        test_labels = np.asarray(splits["test"]["label"])
        fit = lambda x, y: fit_probe(x, y, epochs=cfg.epochs, lr=cfg.lr, seed=cfg.seed)  # noqa: E731

        weak = fit(feats[cfg.weak, "gt"], gt_labels)
        weak_labels = probe_proba(weak, feats[cfg.weak, "weak"])  # soft labels P(1) on D_weak
        ceiling = fit(feats[cfg.strong, "gt"], gt_labels)
        student = fit(feats[cfg.strong, "weak"], weak_labels)
        probs = {name: probe_proba(head, feats[model, "test"]) for name, head, model in (
            ("weak", weak, cfg.weak), ("ceiling", ceiling, cfg.strong), ("w2s", student, cfg.strong))}
        np.savez(out_dir / "test_probs.npz", labels=test_labels, **probs)
        acc = {k: metrics.accuracy(p, test_labels) for k, p in probs.items()}
        auc = {k: metrics.auroc(p, test_labels) for k, p in probs.items()}
        return {
            **{f"acc_{k}": v for k, v in acc.items()},
            **{f"auroc_{k}": v for k, v in auc.items()},
            "weak_label_acc": metrics.accuracy(weak_labels, np.asarray(splits["weak"]["label"])),
            "pgr_acc": metrics.pgr(acc["weak"], acc["w2s"], acc["ceiling"]),
            "pgr_auroc": metrics.pgr(auc["weak"], auc["w2s"], auc["ceiling"]),
        }

    return load_or_run(cfg, compute, force=force)
