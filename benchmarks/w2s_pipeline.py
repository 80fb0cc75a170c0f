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

Prints both wall times, the ratio, the ratio per trained model (the part that is not caching) and the
mean test-accuracy difference of the students. Usage::

    python benchmarks/w2s_pipeline.py            # defaults: minilm-l1,l2,l3; 240 docs; 1 epoch
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import numpy as np
import torch


def official_style_fit(name, texts, targets, args, seed, loss_name, loss_params=()):
    """One example per forward pass (no padding needed), logits stacked to ``batch_size`` for one
    loss / backward / optimiser step; returns a batched, unsorted predictor."""
    from w2s_lib.train.losses import get_loss
    from w2s_lib.train.classifier import build_model

    torch.manual_seed(seed)
    model, tok = build_model(name, args)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    n = len(texts)
    steps = math.ceil(n / args.batch_size) * int(args.epochs)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    loss_fn = get_loss(loss_name, **dict(loss_params))
    rng = np.random.default_rng(seed)
    step = 0
    for _ in range(int(args.epochs)):
        order = rng.permutation(n)
        for start in range(0, n, args.batch_size):
            idx = order[start:start + args.batch_size]
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
        for start in range(0, len(xs), args.batch_size):  # dataset order, padded to the batch's longest
            enc = tok(xs[start:start + args.batch_size], truncation=True, max_length=args.max_length,
                      padding="longest", return_tensors="pt")
            out.append(torch.softmax(model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits, 1)[:, 1])
        return torch.cat(out).numpy()

    return predict


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
    ap.add_argument("--ladder", default="minilm-l1,minilm-l2,minilm-l3")
    ap.add_argument("--n-docs", type=int, default=240)
    ap.add_argument("--n-test", type=int, default=200)
    ap.add_argument("--epochs", type=float, default=1.0)
    args = ap.parse_args(argv)
    os.environ["W2S_HOME"] = tempfile.mkdtemp(prefix="w2s-bench-")  # a cold cache: nothing reused from before

    from w2s_lib.generalization import pipeline as w2s
    from w2s_lib.train import classifier  # noqa: F401  (imports transformers' Trainer: a one-off cost outside both timings)

    cfg = w2s.W2SConfig.for_preset("tiny", {
        "ladder": tuple(args.ladder.split(",")), "n_docs": args.n_docs, "n_test": args.n_test, "mode": "full",
        "epochs": args.epochs, "lr": 2e-4, "max_length": 64, "batch_size": 32, "val_frac": 0.0,
        "freeze_embeddings": True})
    losses = ("xent", "logconf")
    print(f"workload: ladder {cfg.ladder}, {cfg.n_docs} docs, {cfg.n_test} test, losses {losses}, "
          f"full finetuning, {cfg.epochs} epoch(s), torch threads {torch.get_num_threads()}")

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


if __name__ == "__main__":
    main()
