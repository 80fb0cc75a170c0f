"""Linear probes on cached frozen features.

The cheapest way to put a model on a weak-to-strong ladder: run its frozen backbone once over the texts
(cached by model, dataset and rows), then train only a linear head. Probes take soft targets, so the
same function trains a weak model on GT, a student on weak labels, or a ceiling on GT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from w2s_lib.core.artifacts import cached_array, texts_hash
from w2s_lib.core.config import Config, knob
from w2s_lib.core.numerics import LossGuard, lr_hint
from w2s_lib.train.losses import xent


@dataclass(frozen=True)
class FeaturesConfig(Config):
    """Frozen pooled features of ``model`` over a given list of texts (identified by their hash)."""

    model: str = knob("minilm-l6", help="zoo name of the frozen backbone")
    texts_hash: str = knob("", help="sha256 of the texts, so the cache key follows the data")
    max_length: int = knob(128, low=8, high=4096)
    batch_size: int = knob(64, low=1, affects_result=False)

    SLUG = "features"


def cached_features(model: str, texts: list[str], preset: str = "tiny", force: bool = False) -> np.ndarray:
    """Pooled features of ``texts`` under frozen ``model``, computed once and cached."""
    from w2s_lib.models.heads import encode

    cfg = FeaturesConfig(preset=preset, model=model, texts_hash=texts_hash(texts))
    return cached_array(cfg, lambda: encode(model, list(texts), batch_size=cfg.batch_size,
                                            max_length=cfg.max_length).numpy(), force=force)


def fit_probe(features: np.ndarray, soft_targets: np.ndarray, epochs: int = 300, lr: float = 0.05,
              weight_decay: float = 1e-4, seed: int = 0) -> torch.nn.Linear:
    """A linear head trained full-batch with Adam on cross-entropy to soft targets P(1).

    Features are standardised inside the probe (mean/std folded into the weights), so one learning
    rate works across backbones.
    """
    torch.manual_seed(seed)
    x = torch.as_tensor(features, dtype=torch.float32)
    mean, std = x.mean(0), x.std(0).clamp(min=1e-6)
    xs = (x - mean) / std
    p1 = torch.as_tensor(soft_targets, dtype=torch.float32)
    targets = torch.stack([1 - p1, p1], dim=1)
    head = torch.nn.Linear(x.shape[1], 2)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    opt = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    guard = LossGuard(lr_hint("probe_lr", lr))
    for step in range(epochs):
        opt.zero_grad()
        loss = xent(head(xs), targets, step / epochs)
        guard(loss, step)
        loss.backward()
        opt.step()
    with torch.no_grad():  # fold the standardisation into the head
        w = head.weight / std
        head.bias -= (w * mean).sum(1)
        head.weight.copy_(w)
    return head


@torch.no_grad()
def probe_proba(head: torch.nn.Linear, features: np.ndarray) -> np.ndarray:
    """P(label = 1) under the probe."""
    logits = head(torch.as_tensor(features, dtype=torch.float32))
    return torch.softmax(logits, dim=1)[:, 1].numpy()


def learning_curve(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                   sizes: list[int], seed: int = 0, **fit_kw) -> list[float]:
    """Test accuracy of probes fit on the first ``n`` training rows, for each ``n`` in ``sizes``."""
    from w2s_lib.metrics import accuracy

    out = []
    for n in sizes:
        head = fit_probe(train_x[:n], train_y[:n], seed=seed, **fit_kw)
        out.append(accuracy(probe_proba(head, test_x), test_y))
    return out
