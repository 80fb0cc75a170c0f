"""The W2S pipeline vs a loop in the style of the official code: time ratio and accuracy delta.

Same models, data, splits and hyperparameters (full finetuning, Adam, cosine, no warmup, batch 32); what
differs is only how the work is done:

- **library**: ``w2s.run_w2s`` — HF Trainer, dynamic padding, length bucketing, predictions sorted by length
  in batches, every fit cached and shared (weak/ceiling fits are trained once per rung for all pairs and
  all losses);
- **official-style loop** (openai/weak-to-strong ``weak_to_strong/train.py``): examples go through the
  model one at a time (the official ``minibatch_size_per_device`` default is 1) and their logits are
  stacked into a batch of 32 for one loss / backward / Adam step; prediction in batches of 32 in dataset
  order, each padded to its longest row (official ``eval_model_acc``); and no reuse across runs: the weak
  model and the ceiling are retrained for every (pair, loss), as one ``train_weak_to_strong.py``
  invocation does without a results folder (the official code can reload a trained model from
  ``save_path``; this baseline does not, which is what the "caching" share of the ratio measures).

Prints both times (CPU seconds, ``time.process_time``, and wall), the ratio, the ratio per trained model
(the part that is not caching) and the mean test-accuracy difference of the students.

``--mode head`` (default; the tiny preset's mode): the library trains zero-init linear heads on frozen
features, every seed in one batched fit, the features of each text computed once (one forward pass gives
every layer); the official-style loop runs the frozen backbone per example at every step (as the official
code runs its model), one seed and one (pair, loss) invocation at a time, retraining weak and ceiling each
time. One recipe difference remains in head mode: the library standardises each feature with its training rows
inside the head (so one learning rate serves the bag of words and every layer); the loop trains the head on the
raw pooled features, as a linear head on a model does — so student accuracies differ by more than RNG noise
there, and the ratio compares the work, not the numbers. ``--mode full`` times full fine-tuning as before. Usage::

    python benchmarks/w2s_pipeline.py                    # head mode: minilm-l1,l2,l4; 2 seeds; 200 docs
    python benchmarks/w2s_pipeline.py --mode full --ladder minilm-l1,minilm-l2,minilm-l3 --n-docs 240
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import numpy as np
import torch


def official_style_fit(name, texts, targets, args, seed, loss_name, loss_params=(), frozen=False):
    """One example per forward pass (no padding needed), logits stacked to ``batch_size`` for one
    loss / backward / optimiser step; returns a batched, unsorted predictor. ``frozen``: only the head
    trains (the backbone still runs on every example, as in the official loop)."""
    from w2s_lib.train.losses import get_loss
    from w2s_lib.train.classifier import build_model

    torch.manual_seed(seed)
    model, tok = build_model(name, args)
    model.train()
    if frozen:
        for n_, p in model.named_parameters():
            p.requires_grad_(n_.startswith("head"))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.stage.lr, weight_decay=0.0)
    n = len(texts)
    steps = math.ceil(n / args.stage.batch_size) * int(args.stage.epochs)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    loss_fn = get_loss(loss_name, **dict(loss_params))
    rng = np.random.default_rng(seed)
    step = 0
    for _ in range(int(args.stage.epochs)):
        order = rng.permutation(n)
        for start in range(0, n, args.stage.batch_size):
            idx = order[start:start + args.stage.batch_size]
            opt.zero_grad()
            logits_all, tgt_all = [], []
            for i in idx:
                enc = tok(texts[i], truncation=True, max_length=args.max_length, return_tensors="pt")
                logits_all.append(model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits)
                tgt_all.append(torch.tensor([[1 - targets[i], targets[i]]], dtype=torch.float32))
            # the loss sees the whole batch (logconf's threshold needs it); backward once per batch
            loss = loss_fn(torch.cat(logits_all), torch.cat(tgt_all), step / steps)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
    model.eval()

    @torch.no_grad()
    def predict(xs):
        out = []
        for start in range(0, len(xs), args.stage.batch_size):  # dataset order, padded to the batch's longest
            enc = tok(xs[start:start + args.stage.batch_size], truncation=True, max_length=args.max_length,
                      padding="longest", return_tensors="pt")
            out.append(torch.softmax(model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits, 1)[:, 1])
        return torch.cat(out).numpy()

    return predict


def official_style_head(cfg, losses, seeds):
    """The tiny preset's work (heads on frozen backbones, ceilings on D_weak's GT) done the official way."""
    from w2s_lib import metrics
    from w2s_lib.generalization import pipeline as w2s
    from w2s_lib.train.classifier import TrainArgs

    accs, fits = {}, 0
    for seed in seeds:
        rows = w2s.w2s_data(cfg.dataset, cfg.n_docs, cfg.n_test, seed, cfg.data_seed, cfg.val_frac, cfg.gt_domains)
        y_test = np.asarray(rows["test"]["label"])
        for loss in losses:
            c = cfg.replace(loss=loss)
            for i, weak in enumerate(c.ladder):
                for strong in c.ladder[i + 1:]:
                    a = TrainArgs(stage=c.train, max_length=c.max_length)
                    weak_fit = official_style_fit(weak, list(rows["gt_train"]["text"]),
                                                  np.asarray(rows["gt_train"]["label"], float), a, seed, "xent", frozen=True)
                    soft = weak_fit(list(rows["weak_train"]["text"]))
                    weak_fit(list(rows["test"]["text"]))
                    ceil_fit = official_style_fit(strong, list(rows["weak_train"]["text"]),
                                                  np.asarray(rows["weak_train"]["label"], float), a, seed, "xent", frozen=True)
                    ceil_fit(list(rows["test"]["text"]))
                    st = official_style_fit(strong, list(rows["weak_train"]["text"]), soft, a, seed, loss,
                                            c.loss_params(), frozen=True)
                    accs[(seed, loss, weak, strong)] = metrics.accuracy(st(list(rows["test"]["text"])), y_test)
                    fits += 3
    return accs, fits


def official_style(cfg, losses):
    from w2s_lib import metrics
    from w2s_lib.generalization import pipeline as w2s

    rows = w2s.w2s_data(cfg.dataset, cfg.n_docs, cfg.n_test, cfg.seed, cfg.data_seed, cfg.val_frac)
    y_test = np.asarray(rows["test"]["label"])
    accs, fits = {}, 0
    for loss in losses:
        c = cfg.replace(loss=loss)
        for i, weak in enumerate(c.ladder):
            for strong in c.ladder[i + 1:]:
                # one invocation of the official script per (pair, loss): weak and ceiling retrained each time
                wargs = c.train_args(weak, student=False)
                weak_fit = official_style_fit(weak, list(rows["gt_train"]["text"]),
                                              np.asarray(rows["gt_train"]["label"], float), wargs, c.seed, "xent")
                soft = weak_fit(list(rows["weak_train"]["text"]))
                weak_fit(list(rows["test"]["text"]))
                cargs = c.train_args(strong, student=False)
                ceil_fit = official_style_fit(strong, list(rows["gt_train"]["text"]),
                                              np.asarray(rows["gt_train"]["label"], float), cargs, c.seed, "xent")
                ceil_fit(list(rows["test"]["text"]))
                sargs = c.train_args(strong, student=True)
                st = official_style_fit(strong, list(rows["weak_train"]["text"]), soft, sargs, c.seed, loss,
                                        sargs.loss_params)
                accs[(loss, weak, strong)] = metrics.accuracy(st(list(rows["test"]["text"])), y_test)
                fits += 3
    return accs, fits


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", default="head", choices=("head", "full"))
    ap.add_argument("--ladder", default="minilm-l1,minilm-l2,minilm-l4")
    ap.add_argument("--n-docs", type=int, default=200)
    ap.add_argument("--n-test", type=int, default=100)
    ap.add_argument("--epochs", type=float, default=None, help="default: 2 (head), 1 (full)")
    ap.add_argument("--seeds", type=int, default=2, help="head mode: seeds (the library batches them)")
    args = ap.parse_args(argv)
    os.environ["W2S_HOME"] = tempfile.mkdtemp(prefix="w2s-bench-")  # a cold cache: nothing reused from before
    if args.mode == "head":
        return main_head(args)
    args.epochs = args.epochs or 1.0

    from w2s_lib.generalization import pipeline as w2s
    from w2s_lib.train import classifier  # noqa: F401  (imports transformers' Trainer: a one-off cost outside both timings)

    cfg = w2s.W2SConfig.for_preset("tiny", {
        "ladder": tuple(args.ladder.split(",")), "n_docs": args.n_docs, "n_test": args.n_test, "mode": "full",
        "train": {"epochs": args.epochs, "lr": 2e-4, "batch_size": 32}, "max_length": 64, "val_frac": 0.0,
        "freeze_embeddings": True})
    losses = ("xent", "logconf")
    print(f"workload: ladder {cfg.ladder}, {cfg.n_docs} docs, {cfg.n_test} test, losses {losses}, "
          f"full finetuning, {cfg.train.epochs} epoch(s), torch threads {torch.get_num_threads()}")

    from w2s_lib.core import paths

    t0 = time.perf_counter()
    ours = {}
    for loss in losses:
        df = w2s.run_w2s(cfg.replace(loss=loss), [cfg.seed], progress=False)
        ours.update({(loss, r.weak, r.strong): r.w2s_acc for r in df.itertuples()})
    t_ours = time.perf_counter() - t0
    n_ours = len(list(paths.runs_dir().glob("fit-*")))  # trained models (each cached fit once)
    print(f"library pipeline:      {t_ours:7.1f} s  ({n_ours} trained models)")

    t0 = time.perf_counter()
    theirs, n_theirs = official_style(cfg, losses)
    t_theirs = time.perf_counter() - t0
    print(f"official-style loop:   {t_theirs:7.1f} s  ({n_theirs} trained models)")
    diffs = [ours[k] - theirs[k] for k in ours]
    print(f"speed-up: {t_theirs / t_ours:.2f}x overall; per trained model {(t_theirs / n_theirs) / (t_ours / n_ours):.2f}x "
          f"(the rest is reuse of cached weak models and ceilings)")
    print(f"student test accuracy, library − loop: mean {np.mean(diffs):+.4f}, max |Δ| {np.max(np.abs(diffs)):.4f} "
          f"(over {len(ours)} students; same data and hyperparameters, different batching and RNG streams)")


def main_head(args):
    from w2s_lib.generalization import pipeline as w2s
    from w2s_lib.train import classifier  # noqa: F401  (one-off import cost outside both timings)

    cfg = w2s.W2SConfig.for_preset("tiny", {"ladder": tuple(args.ladder.split(",")), "n_docs": args.n_docs,
                                            "n_test": args.n_test, "train.epochs": args.epochs or 2.0})
    seeds, losses = list(range(args.seeds)), ("xent", "logconf")
    print(f"workload: ladder {cfg.ladder}, {cfg.n_docs} docs, {cfg.n_test} test, seeds {seeds}, losses {losses}, "
          f"mode head, {cfg.train.epochs} epochs, torch threads {torch.get_num_threads()}")
    from w2s_lib.generalization import frozen

    frozen._FITS.clear()
    c0, w0 = time.process_time(), time.perf_counter()
    ours = {}
    for loss in losses:
        df = w2s.run_w2s(cfg.replace(loss=loss), seeds, progress=False)
        ours.update({(r.seed, loss, r.weak, r.strong): r.w2s_acc for r in df.itertuples()})
    c_ours, w_ours = time.process_time() - c0, time.perf_counter() - w0
    # the heads actually trained: one batched fit (one head per seed) per distinct fit; the second loss's run
    # reuses the first's supervisors and ceilings (frozen.remembered), which the loop below trains again
    n_ours = len(seeds) * len(frozen._FITS)
    print(f"library pipeline:      {c_ours:7.1f} s CPU ({w_ours:6.1f} s wall; {n_ours} trained heads, features included)")
    c0, w0 = time.process_time(), time.perf_counter()
    theirs, n_theirs = official_style_head(cfg, losses, seeds)
    c_theirs, w_theirs = time.process_time() - c0, time.perf_counter() - w0
    print(f"official-style loop:   {c_theirs:7.1f} s CPU ({w_theirs:6.1f} s wall; {n_theirs} trained heads)")
    diffs = [ours[k] - theirs[k] for k in ours]
    print(f"speed-up (CPU): {c_theirs / c_ours:.2f}x end to end; per trained model "
          f"{(c_theirs / n_theirs) / (c_ours / n_ours):.2f}x")
    print(f"student test accuracy, library − loop: mean {np.mean(diffs):+.4f}, max |Δ| {np.max(np.abs(diffs)):.4f} "
          f"(over {len(ours)} students; same data and recipe, different batching and RNG streams)")


if __name__ == "__main__":
    main()
