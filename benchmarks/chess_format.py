"""Chapter 14, round 3 of choosing the world on ground-truth fits and held-out diagnostics only: a latent skill
that is *there but not expressed* in the puzzles' format.

Round 2 (``benchmarks/chess_world.py``, ``chess_claim.py``) left nothing to elicit: the strong rungs' zero-shot
accuracy on the puzzles (0.88 / 0.92) already equalled their GT-fine-tuned accuracy (0.88 / 0.91), because the
pretraining corpus *is* the puzzle format. In Burns et al. a pretrained model holds the skill latently but does
not express it in the task's format; fine-tuning, even on weak labels, mostly elicits it. Here the latent-skill
(``search``) corpus keeps its positions and moves but writes each position in another surface format
(``chess_puzzles.in_format``); the rungs still answer puzzles in the puzzles' own format.

**Rule, written before measuring (2026-12-02, 21:46 UTC).** Candidates (``chessgpt.CORPORA["search"]["format"]``),
each on the ``search`` ladder at data seed 0, everything else as in round 2's world (``p_best`` 1.0, SAN, BPE,
30 / 300 / 900 steps, fine-tuning lr 1e-3, batch 32):

- ``puzzle``: round 2's world (the reference: expected to fail (a));
- ``swap``: same piece tokens, the side to move first, black's pieces first, cue ``best:``;
- ``squares``: each piece written square first (``g1K``, black lower case) in square order, cue ``best:``.

Measured per candidate, no student trained, no PGR or bootstrap number computed: zero-shot puzzle accuracy per
rung; GT fits on D_gt (800 puzzles, 2 epochs = 50 steps; seeds 0-2): test accuracy, the weak rung's errors on
the held-out D_weak by move class; *small-GT* fits on 100 GT puzzles (``n_docs`` 200) for 16 epochs (64 optimiser
steps, about a full fit's 50), seeds 0-2, test accuracy — for the ``search`` candidate and for the ``greedy`` (no-skill)
ladder's top rung. A candidate passes when, on the seed means:

- (a) unexpressed: zero-shot of ``chessgpt-m`` and ``chessgpt-l`` ≤ their own GT-fit test accuracy − 0.15;
- (b) gap: GT-fit test accuracy ``chessgpt-l`` − ``chessgpt-s`` ≥ 0.10;
- (c) elicitable: ``chessgpt-l``'s small-GT fit recovers ≥ 50 % of (its GT-fit accuracy − its zero-shot) and
  beats ``chessgpt-s``'s full GT fit; while the no-skill ladder's ``chessgpt-l`` small-GT fit stays below that
  same ``chessgpt-s`` GT fit (few labels do not create the skill);
- (d) spread errors: the weak rung's commonest error class ≤ 30 % of its D_weak errors.

Among passing candidates the chapter adopts the one with the highest (c) recovery share of ``chessgpt-l``. If
none passes, the world stays as it is and the claim is not run.

Result (``chess_format_results.json``, data seed 0; zero-shot s / m / l, GT-fit test accuracy s / m / l (3 seeds),
small-GT fit of l, its recovery share, the weak rung's commonest error class):

============  ===================  ===================  ========  ========  =====  ==============================
candidate     zero-shot            GT fit               small l   recovery  top    fails
============  ===================  ===================  ========  ========  =====  ==============================
``puzzle``    0.69 / 0.88 / 0.92   0.68 / 0.88 / 0.91   0.81      —         0.18   (a), (c)
``swap``      0.69 / 0.63 / 0.64   0.67 / 0.89 / 0.88   0.75      0.45      0.18   (c): recovery, no-skill 0.69
``squares``   0.73 / 0.80 / 0.68   0.74 / 0.88 / 0.86   0.77      0.52      0.21   (a): m's zero-shot 0.80
============  ===================  ===================  ========  ========  =====  ==============================

The no-skill ladder's top rung (zero-shot 0.005) reached **0.69** from 100 GT puzzles — above ``swap``'s weak
ceiling (0.67), below ``squares``' (0.74). **No candidate passes: the world stays as it is and the claim is not
run** (round 2's world and registered results stand).

Read after the outcome (``--probe``, not part of the rule): a one-ply grabber (mate, else the biggest capture)
scores **0.97** on the test puzzles, so the two-ply criterion that defines the latent skill rarely decides a test
puzzle; and the weak rung is *position-blind*: scoring every puzzle under one fixed prompt gives the same accuracy
(0.69 / 0.69 / 0.73 against zero-shot 0.69 / 0.69 / 0.73) — a prior over the legal moves' texts. So the weak
supervisor's errors are those of a move-text prior, which any student imitates as easily as the truth, and 100
labels teach any format-literate rung most of the grabber (the no-skill 0.69).

    python benchmarks/chess_format.py --out benchmarks/chess_format_results.json   # ~4 CPU-minutes cold
    python benchmarks/chess_format.py --out benchmarks/chess_format_results.json --probe
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from w2s_lib.generalization import chess
from w2s_lib.generalization.chess import ChessW2SConfig
from w2s_lib.models import chessgpt, tinygpt

from chess_notation import error_classes  # noqa: E402  (benchmarks/ on sys.path when run as a script)

SEEDS = (0, 1, 2)
CANDIDATES = ("puzzle", "swap", "squares")
SEARCH = dict(chessgpt.CORPORA["search"])
SMALL = {"n_docs": 200, "train.epochs": 16.0}  # 100 GT puzzles, 64 steps (a full 2-epoch fit of 800: 50)


def ladder(cfg: ChessW2SConfig, small_only: bool = False) -> dict:
    out = {"zero_shot": {}, "gt_test": {}, "small_gt_test": {}, "weak_errors": []}
    for m in cfg.ladder:
        meta = tinygpt.read_marker(chessgpt.model_dir(m, cfg.data_seed, micro=False, corpus=cfg.corpus))
        out["zero_shot"][m] = meta["zero_shot_puzzle_acc"]
    small = ChessW2SConfig.for_preset("tiny", {"lrs": (), **SMALL, "corpus": cfg.corpus, "data_seed": cfg.data_seed,
                                              "dataset": cfg.dataset})
    for s in SEEDS:
        for m in cfg.ladder:
            if not small_only:
                fc, art = chess.fit(cfg.replace(seed=s), m, s)
                out["gt_test"].setdefault(m, []).append(art["acc"])
                if m == cfg.ladder[0]:
                    weak = chess._rows(fc)["weak_train"]
                    out["weak_errors"].append(
                        error_classes(weak["fen"], chess._moves_of(fc.run_id), weak["reference"]))
            if m == cfg.ladder[-1] or not small_only:
                _, art = chess.fit(small.replace(seed=s), m, s)
                out["small_gt_test"].setdefault(m, []).append(art["acc"])
    out["mean"] = {k: {m: float(np.mean(v)) for m, v in out[k].items()} for k in ("gt_test", "small_gt_test")}
    if out["weak_errors"]:
        out["mean"]["weak_top_share"] = float(np.mean([e["top_share"] for e in out["weak_errors"]]))
    return out


def probe(data_seed: int = 0) -> dict:
    """Two diagnostics read after the rule's outcome (not part of it): the test accuracy of the one-ply grabber
    (``chess_puzzles.greedy_score``: mate, else the biggest capture; ties shared), and the weak rung's accuracy
    when every puzzle is scored under one fixed prompt (a position-blind prior over the legal moves' texts)."""
    import chess as pychess

    from w2s_lib import data
    from w2s_lib.data import chess_puzzles as cp

    test = data.load("chess_puzzles", "test", seed=data_seed)
    legal, ref = [list(x) for x in test["legal"]], list(test["reference"])
    acc, tops = [], []
    for fen, r in zip(test["fen"], ref):
        b = pychess.Board(fen)
        sc = {b.san(m): cp.greedy_score(b, m) for m in b.legal_moves}
        top = [m for m, v in sc.items() if v == max(sc.values())]
        acc.append((r in top) / len(top))
        tops.append(top)
    out = {"grabber_test_acc": float(np.mean(acc))}
    for name in CANDIDATES:
        chessgpt.CORPORA["search"] = dict(SEARCH) if name == "puzzle" else {**SEARCH, "format": name}
        model, tok = chessgpt.load(chessgpt.NAMES[0], data_seed, False, "search")
        pred = chessgpt.predict_moves(model, tok, list(test["prompt"]), legal)
        fixed = chessgpt.predict_moves(model, tok, [test["prompt"][0]] * len(ref), legal)
        out[name] = {"weak_zero_shot": float(np.mean([p == r for p, r in zip(pred, ref)])),
                     "weak_fixed_prompt": float(np.mean([p == r for p, r in zip(fixed, ref)])),
                     "weak_agrees_with_grabber": float(np.mean([p in t for p, t in zip(pred, tops)]))}
    chessgpt.CORPORA["search"] = SEARCH
    return out


def add_probe(path: str, probe) -> dict:
    """Add ``probe()``'s diagnostics (read after a round's outcome, not part of its rule) to the results file
    ``path`` under ``"probe"``; returns them. Shared by the rounds' ``--probe`` flags."""
    with open(path) as f:
        res = json.load(f)
    res["probe"] = probe()
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    return res["probe"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="chess_format_results.json")
    ap.add_argument("--probe", action="store_true", help="only add probe()'s diagnostics to --out")
    args = ap.parse_args()
    if args.probe:
        print(json.dumps(add_probe(args.out, probe)))
        return
    s, m, l = chessgpt.NAMES
    res = {"no skill": ladder(ChessW2SConfig.for_preset("tiny", {"lrs": ()}, corpus="greedy"), small_only=True)}
    print("no skill", json.dumps(res["no skill"]["zero_shot"]), json.dumps(res["no skill"]["mean"]), flush=True)
    for name in CANDIDATES:
        chessgpt.CORPORA["search"] = dict(SEARCH) if name == "puzzle" else {**SEARCH, "format": name}
        r = ladder(ChessW2SConfig.for_preset("tiny", {"lrs": ()}, corpus="search"))
        zs, gt, sm = r["zero_shot"], r["mean"]["gt_test"], r["mean"]["small_gt_test"]
        r["recovery_l"] = (sm[l] - zs[l]) / (gt[l] - zs[l]) if gt[l] > zs[l] else float("nan")
        r["checks"] = {"unexpressed": all(zs[k] <= gt[k] - 0.15 for k in (m, l)),
                       "gap": gt[l] - gt[s] >= 0.10,
                       "elicitable": bool(r["recovery_l"] >= 0.5 and sm[l] > gt[s]
                                          and res["no skill"]["mean"]["small_gt_test"][l] < gt[s]),
                       "spread_errors": r["mean"]["weak_top_share"] <= 0.30}
        r["passes"] = all(r["checks"].values())
        res[name] = r
        print(name, json.dumps(zs), json.dumps(r["mean"]), round(r["recovery_l"], 3), json.dumps(r["checks"]),
              flush=True)
    chessgpt.CORPORA["search"] = SEARCH
    passing = [n for n in CANDIDATES if res[n]["passes"]]
    res["adopted"] = max(passing, key=lambda n: res[n]["recovery_l"]) if passing else None
    print("adopted:", res["adopted"])
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
