"""Mode ``head``: Part I's tiny ladder — zero-initialised linear heads on frozen features, trained the way the
official code trains a whole model (Adam, minibatch 32, 2 epochs, cosine decay, no warmup), vectorised across
seeds — and the weak family of that ladder, a bag-of-n-grams classifier.

Why a head trained for two epochs and not a probe fit to convergence: a probe fit to convergence on weak
labels reproduces them as closely as its features allow — nothing in it can overrule a label. A head that
takes a fixed small number of minibatch steps from zero (the official recipe) moves along the directions
the pretrained representation makes easy first, which is the mechanism Burns et al. name for weak-to-strong
generalisation: the strong model's prior, not the labels, decides the rows where the weak supervisor errs.

Features (cached per model, dataset and world through :func:`~w2s_lib.core.artifacts.cached_array`):

- ``minilm-lK``: mean-pooled hidden state of layer K of all-MiniLM-L6-v2 — every layer from one forward
  pass (the truncated rung's output equals the full model's hidden state K);
- ``minilm-lK`` with ``init="random"``: the same architecture randomly initialised (the strong model
  *without* its pretrained knowledge: the mechanism-off arm);
- ``bow``: counts of the unigrams and bigrams of the dataset (the weak family: it learns sentiment words only
  from its own training rows, so on a vocabulary-shifted D_gt it cannot know the other domain's words).

Every fit serves all seeds at once: inputs ``(S, n, d)``, one weight tensor ``(S, d, 2)``, one batched
matrix product per step; each seed draws its own minibatch order from its own generator, so a seed's result
does not depend on which other seeds share the batch.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from w2s_lib.core import paths
from w2s_lib.core.artifacts import array_hash, cached_array, texts_hash
from w2s_lib.core.config import knob
from w2s_lib.core.errors import W2SError
from w2s_lib.core.numerics import LossGuard, lr_hint
from w2s_lib.generalization.ladder import CEILING, SUPERVISOR, Preds, split_rung, supervisor_only
from w2s_lib.train.losses import get_loss
from w2s_lib.train.probe import FeaturesConfig

INITS = ("pretrained", "random")
BOW = "bow"

#: heads already trained in this process, by everything a fit depends on (:meth:`HeadFit._train`): the arms of
#: a chapter share their supervisors and ceilings (chapter 11's three losses train the same baselines), and a
#: repeated fit returns the first one's predictions instead of training it again — the same numbers bit for bit.
_FITS: OrderedDict = OrderedDict()
_FITS_KEPT = 256  # predictions are (seeds × rows) floats: a few hundred fits are a few MB


def remembered(key: tuple, fit: Callable[[], list[np.ndarray]]) -> list[np.ndarray]:
    """``fit()``'s predictions for ``key`` — everything the fit depends on — trained once in this process
    (:data:`_FITS`); callers get copies. The key starts with the run cache's home: a process that moves to
    another ``W2S_HOME`` (a test, a notebook) caches the features of its fits there anew."""
    key = (str(paths.runs_dir()), *key)
    if key not in _FITS:
        _FITS[key] = fit()
        while len(_FITS) > _FITS_KEPT:
            _FITS.popitem(last=False)
    _FITS.move_to_end(key)
    return [p.copy() for p in _FITS[key]]


@dataclass(frozen=True)
class LayerFeaturesConfig(FeaturesConfig):
    """Mean-pooled features of every layer of ``model`` over a list of texts (identified by their hash)."""

    model: str = knob("minilm-l6", help="zoo name of the full encoder (its layers are the rungs)")
    max_length: int = knob(64, low=8, high=4096)
    batch_size: int = knob(128, low=1, affects_result=False)
    init: str = knob("pretrained", choices=INITS, help="'random': the architecture with random weights")

    SLUG = "layerfeats"


def layer_features(texts: list[str], init: str = "pretrained", max_length: int = 64, preset: str = "tiny",
                   model: str = "minilm-l6") -> np.ndarray:
    """``(L + 1, N, d)``: the mean-pooled embedding output (0) and every layer's output (1…L) of ``model``."""
    from w2s_lib.models import zoo
    from w2s_lib.models.heads import pool_mean
    cfg = LayerFeaturesConfig(preset=preset, model=model, init=init, texts_hash=texts_hash(texts),
                              max_length=max_length)

    def compute() -> np.ndarray:
        from transformers import AutoModel

        tok = zoo.load_tokenizer(model)
        if init == "random":
            torch.manual_seed(0)
            net = AutoModel.from_config(zoo._config(model)).eval()
        else:
            net = zoo.load_backbone(model)
        # batches of similar length: in dataset order 1.7× as many tokens are padding-wide (tiny_polarity)
        lengths = [len(ids) for ids in tok(texts, truncation=True, max_length=max_length)["input_ids"]]
        order = np.argsort(lengths, kind="stable")
        out = []
        with torch.no_grad():
            for s in range(0, len(texts), cfg.batch_size):
                b = tok([texts[i] for i in order[s:s + cfg.batch_size]], padding=True, truncation=True,
                        max_length=max_length, return_tensors="pt")
                hs = net(input_ids=b["input_ids"], attention_mask=b["attention_mask"], output_hidden_states=True).hidden_states
                out.append(torch.stack([pool_mean(h, b["attention_mask"]) for h in hs]).numpy())
        sorted_feats = np.concatenate(out, axis=1)
        feats = np.empty_like(sorted_feats)
        feats[:, order] = sorted_feats
        return feats

    return cached_array(cfg, compute)


def bow_features(texts: list[str], ngrams: int = 2) -> np.ndarray:
    """Counts of every lower-cased word n-gram (n ≤ ``ngrams``) that occurs in ``texts``: ``(N, V)``."""
    grams = []
    for t in texts:
        w = re.findall(r"[a-z']+", t.lower())
        g = list(w)
        for n in range(2, ngrams + 1):
            g += ["_".join(w[i:i + n]) for i in range(len(w) - n + 1)]
        grams.append(g)
    vocab = {g: i for i, g in enumerate(sorted({x for gs in grams for x in gs}))}
    x = np.zeros((len(texts), len(vocab)), dtype=np.float32)
    for i, gs in enumerate(grams):
        for g in gs:
            x[i, vocab[g]] += 1
    return x


def train_heads(x: torch.Tensor, targets: torch.Tensor, predict: list[torch.Tensor], *, lr: float, epochs: float,
                batch_size: int, loss: str = "xent", loss_params: tuple = (), weight_decay: float = 0.0,
                seeds: list[int] | None = None) -> list[np.ndarray]:
    """Train one zero-initialised linear head per seed on ``x`` ``(S, n, d)`` with soft targets ``P(1)``
    ``(S, n)``; return ``P(1)`` on each tensor of ``predict`` ``(S, m, d)``.

    The official recipe: Adam, minibatches of ``batch_size``, ``epochs`` passes, cosine decay to 0 over all
    steps, no warmup; the loss is any of :mod:`w2s_lib.train.losses` with ``step_frac``. Features are
    standardised with each seed's training rows (constant columns — e.g. words a bag of words never saw —
    keep weight 0).
    """
    S, n, d = x.shape
    mu = x.mean(1, keepdim=True)
    sd = x.std(1, keepdim=True)
    sd = torch.where(sd < 1e-6, torch.ones_like(sd), sd)
    xs = (x - mu) / sd
    t = torch.stack([1 - targets, targets], dim=-1).float()
    w = torch.zeros(S, d, 2, requires_grad=True)
    b = torch.zeros(S, 1, 2, requires_grad=True)
    # foreach: the same per-element Adam arithmetic as the default single-tensor loop on the CPU (bit for bit),
    # without its per-step Python overhead (about half of a head fit's CPU at tiny)
    opt = torch.optim.Adam([w, b], lr=lr, weight_decay=weight_decay, foreach=True)
    guard = LossGuard(lr_hint("lr", lr))
    per_epoch = math.ceil(n / batch_size)
    total = max(1, math.ceil(per_epoch * epochs))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.5 * (1 + math.cos(math.pi * k / total)))
    fn = None if loss == "xent" else get_loss(loss, **dict(loss_params))
    gens = [torch.Generator().manual_seed(int(s)) for s in (seeds if seeds is not None else range(S))]
    # a minibatch is rows of the flattened (S·n, ·) inputs: one index_select, ~10× cheaper than a gather
    # over an index expanded to (S, batch, d), and the same rows
    flat_x, flat_t, offset = xs.reshape(S * n, d), t.reshape(S * n, 2), torch.arange(S)[:, None] * n
    step = 0
    while step < total:
        perm = torch.stack([torch.randperm(n, generator=g) for g in gens])
        for start in range(0, n, batch_size):
            if step >= total:
                break
            rows = (perm[:, start:start + batch_size] + offset).reshape(-1)
            xb = flat_x.index_select(0, rows).view(S, -1, d)
            tb = flat_t.index_select(0, rows).view(S, -1, 2)
            logits = torch.bmm(xb, w) + b
            if fn is None:
                value = -(tb * torch.log_softmax(logits, -1)).sum(-1).mean(1).sum()
            else:
                value = sum(fn(logits[s], tb[s], step / total) for s in range(S))
            guard(value)
            opt.zero_grad()
            value.backward()
            opt.step()
            sched.step()
            step += 1
    with torch.no_grad():  # arrays of their own: a view would keep a torch storage alive with the heap around it
        return [torch.softmax(torch.bmm((p - mu) / sd, w) + b, -1)[..., 1].numpy().copy() for p in predict]


class HeadFit:
    """The ladder protocol's ``fit`` (:mod:`w2s_lib.generalization.ladder`) for ``mode='head'``: every seed
    of ``seeds`` at once. Supervisors train on D_gt; ceilings on ``cfg.ceiling_data`` (D_gt as the official
    code, or D_weak's ground truth when D_gt is vocabulary-shifted); students on D_weak with the labels given.
    ``cfg.strong_init='random'`` gives ceilings and students a randomly initialised backbone (supervisors stay
    pretrained: the same labels, a student without the latent knowledge)."""

    def __init__(self, cfg, seeds, rows: list[dict], every: list[str]):
        """``rows``: per seed, the pipeline's splits (``gt_train``, ``weak_train``, ``test`` with ``text`` and
        ``label``); ``every``: every text of the dataset (the feature cache covers all of them when the seeds
        touch most of them)."""
        self.cfg, self.seeds = cfg, [int(s) for s in seeds]
        keys = ("gt_train", "weak_train", "test")
        # each split's columns as lists, in one slice (iterating a datasets column reads row by row)
        rows = [{k: r[k][:] if hasattr(r[k], "column_names") else r[k] for k in keys} for r in rows]
        used = {t for r in rows for k in keys for t in r[k]["text"]}
        # encode the whole dataset once (one cache entry for every seed set) when the seeds touch most of it
        texts = every if 2 * len(used) >= len(every) else [t for t in every if t in used]
        layers = [int(m.group(1)) for m in (re.fullmatch(r"minilm-l(\d)", split_rung(r)[0]) for r in cfg.ladder) if m]
        self._encoder = f"minilm-l{max(layers)}" if layers else "minilm-l6"
        self._row = {t: i for i, t in enumerate(texts)}
        self._texts = texts
        self._texts_key = texts_hash(texts)
        self._feats: dict[tuple[str, str], torch.Tensor] = {}
        self.idx = {k: np.stack([[self._row[t] for t in r[k]["text"]] for r in rows])
                    for k in ("gt_train", "weak_train", "test")}
        self.y = {k: np.stack([np.asarray(r[k]["label"]) for r in rows]) for k in ("gt_train", "weak_train", "test")}
        for k, v in self.idx.items():
            if v.shape[1] == 0:
                raise W2SError(f"mode='head' needs rows in {k}; check n_docs / n_test / gt_domains")

    def features(self, rung: str, init: str) -> torch.Tensor:
        key = (rung, "pretrained" if rung == BOW else init)
        if key not in self._feats:
            if rung == BOW:
                f = bow_features(self._texts)
            else:
                m = re.fullmatch(r"minilm-l(\d)", rung)
                if not m:
                    raise W2SError(f"mode='head' takes the rungs 'bow' and 'minilm-l1'…'minilm-l6'; got {rung!r}")
                k = int(m.group(1))
                f = layer_features(self._texts, init, self.cfg.max_length, self.cfg.preset,
                                   model=self._encoder if k <= int(self._encoder[-1]) else rung)[k]
            self._feats[key] = torch.as_tensor(f)
        return self._feats[key]

    def _train(self, rung, init, train_key, targets, predict_keys, loss, extra_seed: str):
        c = self.cfg
        salt = zlib.crc32(extra_seed.encode()) % 100_000
        seeds = [s * 100_003 + salt for s in self.seeds]
        loss_params = c.loss_params() if loss != "xent" else ()
        predict_idx = [self.idx[k] if isinstance(k, str) else np.asarray(k) for k in predict_keys]
        init = "pretrained" if rung == BOW else init
        key = (rung, init, self._encoder, c.max_length, c.preset, self._texts_key, array_hash(self.idx[train_key]),
               array_hash(np.asarray(targets, dtype=np.float32)), tuple(array_hash(i) for i in predict_idx),
               c.train.lr, c.train.epochs, c.train.batch_size, c.train.weight_decay, loss, loss_params, tuple(seeds))

        def fit() -> list[np.ndarray]:
            f = self.features(rung, init)
            return train_heads(f[torch.as_tensor(self.idx[train_key])], torch.as_tensor(targets, dtype=torch.float32),
                               [f[torch.as_tensor(i)] for i in predict_idx], lr=c.train.lr, epochs=c.train.epochs,
                               batch_size=c.train.batch_size, loss=loss, loss_params=loss_params,
                               weight_decay=c.train.weight_decay, seeds=seeds)

        return remembered(key, fit)

    def __call__(self, rung: str, targets, crossfit: bool = False) -> Preds:
        c = self.cfg
        if supervisor_only(rung):  # the rung trained on the first `rows` rows of D_gt (all of them: `@all`)
            base, rows = split_rung(rung)
            if not (isinstance(targets, str) and targets == SUPERVISOR):
                raise W2SError(f"rung {rung!r} is supervisor-only ('@'): it has no ceiling and trains no student")
            if rows is None:
                return self(base, SUPERVISOR)
            n_gt = self.idx["gt_train"].shape[1]
            if rows > n_gt:
                raise W2SError(f"rung {rung!r} asks for {rows} D_gt rows but D_gt has {n_gt}; lower the size or "
                               f"raise n_docs")
            self.idx["_head"] = self.idx["gt_train"][:, :rows]
            pw, pt = self._train(base, "pretrained", "_head", self.y["gt_train"][:, :rows].astype(np.float32),
                                 ["weak_train", "test"], "xent", f"{rung}/{targets}")
            return Preds(pw, pt)
        if isinstance(targets, str):
            if targets == SUPERVISOR or (targets == CEILING and c.ceiling_data == "d_gt"):
                init = "pretrained" if targets == SUPERVISOR else c.strong_init
                pw, pt = self._train(rung, init, "gt_train", self.y["gt_train"].astype(np.float32),
                                     ["weak_train", "test"], "xent", f"{rung}/{targets}")
                return Preds(pw, pt)
            if targets == CEILING:
                pw, pt = self._train(rung, c.strong_init, "weak_train", self.y["weak_train"].astype(np.float32),
                                     ["weak_train", "test"], "xent", f"{rung}/ceiling-weak")
                return Preds(pw, pt)
            raise W2SError(f"unknown fit target {targets!r}")
        targets = np.asarray(targets, dtype=np.float32)
        pw, pt = self._train(rung, c.strong_init, "weak_train", targets, ["weak_train", "test"], c.loss, f"{rung}/student")
        if not crossfit:
            return Preds(pw, pt)
        # cross-fitted relabelling: each of k folds of D_weak labelled by a head trained on the other k − 1
        # (k = 2: two halves, as before; more folds train each relabelling head on more of D_weak)
        n = targets.shape[1]
        k = int(c.crossfit_folds)
        order = np.stack([np.random.default_rng(s).permutation(n) for s in self.seeds])
        bounds = np.linspace(0, n, k + 1).astype(int)
        out = np.empty_like(pw)
        saved = self.idx["weak_train"]
        for f in range(k):
            bb = order[:, bounds[f]:bounds[f + 1]]
            a = np.concatenate([order[:, :bounds[f]], order[:, bounds[f + 1]:]], axis=1)
            self.idx["_fold"] = np.take_along_axis(saved, a, 1)
            (p,) = self._train(rung, c.strong_init, "_fold", np.take_along_axis(targets, a, 1),
                               [np.take_along_axis(saved, bb, 1)], c.loss, f"{rung}/fold" if k == 2 else f"{rung}/fold{f}")
            np.put_along_axis(out, bb, p, 1)
        return Preds(out, pt)
