"""Chapter 14's claim in the new world: bootstrapping beats direct supervision at the largest gap on the
latent-skill chess ladder, and not on the ladder without latent skill.

**Registered before running (2026-12-02, ~21:20 UTC), before any student of the new world was trained.**

The world (chosen on ground-truth fits and held-out diagnostics only: ``benchmarks/chess_notation.py`` then
``benchmarks/chess_world.py``, candidate ``clean``): the latent-skill ladder's corpus is 4000 clear positions
annotated by the two-ply player that always plays the criterion's move (``p_best`` 1.0; it was 0.8); SAN; the
byte-level BPE tokenizer; everything else as before (architectures, 30 / 300 / 900 pretraining steps, fine-tuning
lr 1e-3, 2 epochs, batch 32, cross-fitted bootstrapping through ``chessgpt-m``). The mechanism-off ladder
(``greedy``) is unchanged.

Seeds: **5 run seeds (0-4)** at tiny. A fit costs 2-4 s, a seed about 45 s for both ladders, while building the
ladders and data costs about 200 s cold whatever the seeds (so the chapter cannot reach 150 s with any seed
count); 5 seeds give a t-interval with 4 degrees of freedom (critical value 2.78 instead of 4.30 with 3) for
about 90 s more than 3; 10 seeds would add another ~225 s. The notebook's ``seeds`` become ``[0, 1, 2, 3, 4]``.

What runs, once each, nothing tuned in between: chapter 14 at tiny as committed (``w2s run 14``), at data
seed 0, then at data seed 1 (``-p data_seed=1``: new puzzles, new corpora, new ladders) as the replication;
then this script, which reads the same cached fits and writes ``chess_claim_results.json``.

Decision, per data seed: the claim **holds** when on the latent-skill ladder the mean over seeds of
bootstrap − direct test accuracy (``chessgpt-s`` → ``chessgpt-l``) is > 0 with its 95 % t-interval
(``metrics.t_ci``) above 0, **and** on the greedy ladder the same interval is not above 0 (the effect absent
without latent skill). It is **replicated** when it holds at data seed 0 and at data seed 1. Reported whatever
they are, not part of the decision: naive median PGR over the pairs (per-seed medians, t-interval), PGR at the
largest gap, bootstrap and direct PGR, the chain's label accuracy, and the weak rung's quiet-king share.

Result, run once as registered (``chess_claim_results.json``; the registration commit 7348270 records
21:17 UTC, the time above was an estimate): latent skill, bootstrap − direct −0.0015 [−0.027, +0.024] at data
seed 0 (does not hold) and +0.047 [+0.033, +0.061] at data seed 1 (holds); no skill −0.485 [−0.543, −0.427] and
−0.481 [−0.559, −0.403]. **Not replicated.** Naive median PGR −0.305 [−0.483, −0.127] and −0.111 [−0.154, −0.068].

**Round 6 registration (2026-12-03, 06:56 UTC), before any student of that world was trained.** The world
chosen by ``benchmarks/chess_traps_long.py`` (passed its rule on ground-truth fits and held-out diagnostics only):
both ladders trap-rich (``traps`` 0.4, both answer ``chess_traps``), the latent-skill ladder pretrained 30 / 600 /
1800 steps; everything else as above. The same code, seeds (0-4), data seeds (0 and 1) and decision rule, run
once into ``chess_claim_v6_results.json`` (``--out``), whatever it shows; then chapter 14 at tiny.

Result in the round-6 world, run once as registered (``chess_claim_v6_results.json``; registration commit
575603e, 06:56 UTC; 630 s CPU, data seed 1's puzzles, corpora and ladders built from nothing): latent skill,
bootstrap − direct **−0.0435 [−0.053, −0.034]** at data seed 0 and **−0.021 [−0.034, −0.008]** at data seed 1
(does not hold at either: bootstrapping is *worse* than direct supervision, with intervals below 0); no skill
−0.318 [−0.400, −0.236] and −0.445 [−0.497, −0.392]. **Not replicated (holds at neither data seed).** Direct
``s``→``l`` 0.506 / 0.580 against the weak rung's 0.540 / 0.605 and the top rung's GT fit 0.755 / 0.819;
bootstrapped 0.463 / 0.559; the middle students' labels on D_weak 0.559 / 0.577 correct. Naive median PGR
−0.240 [−0.311, −0.168] and −0.124 [−0.205, −0.043].

**Round 6 with ground-truth-chosen rates (registered 2026-12-03, see the commit's time, before running).**
``benchmarks/chess_lr_rule.py``'s rule, applied once to the round-6 world (``chess_lr_rule_v6_results.json``),
chose per-rung rates from D_weak accuracy of GT fits: (1e-4, 3e-4, 1e-4) on the latent-skill ladder. Its own
3-seed report at data seed 0 showed naive median PGR +0.61 to +0.65 and bootstrap − direct +0.011 with them, so
this is not a blind run of the chapter's claim: it is the registered *replication* of that report. The same code,
seeds (0-4), data seeds (0 and 1) and decision rule as above, each ladder at the rates its own ladder's rule chose
(``--lrs-from``: the procedure, not the numbers, is shared by the mechanism-off arm), into
``chess_claim_v6_lr_results.json``, whatever it shows. Caveat written now: the rule's held-out differences between
rates are ≤ 0.005 on the latent ladder (noise-sized), and at 1e-4 a fit barely moves a rung from its zero-shot
play, which on this ladder already equals its ceiling; a positive PGR there means the students keep their skill,
not that weak labels elicit it. Chapter 14 does not change in this session.

Result, run once as registered (``chess_claim_v6_lr_results.json``; registration commit 43f4ee6, 10:26:08 UTC; run
10:26:56–10:34 UTC, ≈ 7.5 CPU-minutes with data seed 1's ladders already built): latent skill, bootstrap − direct
**+0.011 [+0.0006, +0.021]** at data seed 0 and **+0.024 [+0.019, +0.029]** at data seed 1 (holds at both); no skill
(rates (3e-3, 3e-3, 1e-3)) −0.264 [−0.329, −0.198] and −0.094 [−0.111, −0.076]. **Replicated.** Naive median PGR
+0.642 [+0.544, +0.740] and +0.742 [+0.614, +0.871]; direct ``s``→``l`` 0.715 / 0.772 against the weak rung's 0.549
/ 0.601 and the top rung's GT fit 0.752 / 0.812; bootstrapped 0.726 / 0.796; the middle students' labels on D_weak
0.680 / 0.668 correct (the weak rung's own GT fit labels them ≈ 0.59). Read after the outcome: the top rung's
zero-shot play (0.7525 at data seed 0) is above both students, so weak labels still cost skill; they cost less when
they come through the middle rung, whose students label D_weak better than the weak rung does. That is Burns'
bootstrapping mechanism (better intermediate supervisors) without the elicitation his students show.

    python benchmarks/chess_claim.py --out benchmarks/chess_claim_results.json      # the round-2 world (as run)
    python benchmarks/chess_claim.py --out benchmarks/chess_claim_v6_results.json   # the adopted round-6 world
    python benchmarks/chess_claim.py --lrs-from benchmarks/chess_lr_rule_v6_results.json \
        --out benchmarks/chess_claim_v6_lr_results.json                             # round 6, GT-chosen rates
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from w2s_lib import metrics
from w2s_lib.generalization import chess
from w2s_lib.generalization.chess import ChessW2SConfig
from w2s_lib.models import chessgpt

SEEDS = (0, 1, 2, 3, 4)
DATA_SEEDS = (0, 1)


def one(cfg: ChessW2SConfig) -> dict:
    boot = chess.run_bootstrap(cfg, SEEDS)
    final = boot[boot.method != "chain"].pivot_table(index="seed", columns="method", values=["w2s_acc", "pgr_acc"])
    gain = (final["w2s_acc"]["bootstrap"] - final["w2s_acc"]["direct"]).to_numpy()
    m, lo, hi = metrics.t_ci(gain)
    chain = boot[boot.method == "chain"]
    out = {"bootstrap_minus_direct": [float(m), float(lo), float(hi)], "per_seed": gain.tolist(),
           "bootstrap_acc": float(final["w2s_acc"]["bootstrap"].mean()),
           "direct_acc": float(final["w2s_acc"]["direct"].mean()),
           "pgr_bootstrap": float(final["pgr_acc"]["bootstrap"].mean()),
           "pgr_direct": float(final["pgr_acc"]["direct"].mean()),
           "chain_label_acc": float(chain["label_acc"].mean()) if "label_acc" in chain else None}
    if cfg.corpus == "search":
        pairs = chess.run_pairs(cfg, SEEDS)
        med = pairs.groupby("seed")["pgr_acc"].median().to_numpy()
        out["naive_median_pgr"] = [float(x) for x in metrics.t_ci(med)]
        out["naive_pairs"] = pairs.groupby(["weak", "strong"], sort=False)[
            ["weak_acc", "w2s_acc", "ceiling_acc", "pgr_acc", "inheritance"]].mean().reset_index().to_dict("records")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="chess_claim_results.json")
    ap.add_argument("--lrs-from", default=None, help="a chess_lr_rule.py result: each ladder at its chosen rates")
    args = ap.parse_args()
    res = {"world": {k: dict(v) for k, v in chessgpt.CORPORA.items()}}
    chosen = {}
    if args.lrs_from:
        with open(args.lrs_from) as f:
            chosen = {corpus: tuple(r["chosen_lrs"]) for corpus, r in json.load(f).items()}
        res["lrs"] = chosen
    for ds in DATA_SEEDS:
        cfg = ChessW2SConfig.for_preset("tiny", {"lrs": (), "data_seed": ds})
        off = cfg.replace(corpus="greedy")
        cfg, off = (c.replace(lrs=chosen[c.corpus]) if c.corpus in chosen else c for c in (cfg, off))
        r = {"latent skill": one(cfg), "no skill": one(off)}
        r["holds"] = bool(r["latent skill"]["bootstrap_minus_direct"][1] > 0
                          and not r["no skill"]["bootstrap_minus_direct"][1] > 0)
        res[f"data_seed {ds}"] = r
        print(ds, json.dumps({k: r[k]["bootstrap_minus_direct"] for k in ("latent skill", "no skill")}), r["holds"],
              flush=True)
    res["replicated"] = all(res[f"data_seed {ds}"]["holds"] for ds in DATA_SEEDS)
    print("replicated:", res["replicated"])
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1, default=float)


if __name__ == "__main__":
    main()
