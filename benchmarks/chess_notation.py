"""Chapter 14, choosing the world's move notation on ground-truth fits and held-out diagnostics only.

**Rule, written before anything was measured (2026-12-02, 21:15 UTC).** The chess chapter's weak rung errs
mostly in one salient way: a quiet king move (SAN answers start with the piece letter, king captures open a
quarter of the answers, so a small model learns the leading ``K`` and the square poorly), and students copy
that surface. In UCI (from-square, to-square) no piece letter comes first: to play a king move a model must
find its king's square in the position. For each notation (``san``: the chapter as it was; ``uci``) the
latent-skill (``search``) ladder is built at data seed 0 (same positions, same puzzles, same schedules; only
the moves' text differs) and each rung is fine-tuned on D_gt's true moves (the chapter's fits: 2 epochs,
lr 1e-3, seeds 0, 1, 2). Measured: each rung's zero-shot and GT-fit test accuracy; the GT fits' accuracy on
D_weak's true moves (held out from the fit; the weak and middle rungs); and the weak rung's errors on D_weak
by move class (moving piece × capture / quiet, :func:`w2s_lib.data.chess_puzzles.move_class`): the share of
its errors in its commonest class, the share that are quiet king moves, and the normalised entropy of the
classes. No student is trained; no PGR or bootstrap number is computed.

UCI becomes the chapter's notation if all hold: (1) latent skill: the zero-shot accuracy of ``chessgpt-m`` and
``chessgpt-l`` is at least the GT-fitted ``chessgpt-s``'s test accuracy; (2) a gap: GT-fit test accuracy of
``chessgpt-l`` minus ``chessgpt-s`` ≥ 0.10; (3) spread errors: the weak rung's commonest-class share of errors
*and* its quiet-king share of errors are both lower in UCI than in SAN. Otherwise the chapter keeps SAN.

Result (``chess_notation_results.json``; the rule's commit caf5b6a records 21:01 UTC, the time above was an
estimate): UCI zero-shot 0.14 / 0.19 / 0.44, GT-fitted 0.147 / 0.226 / 0.495 (SAN 0.63 / 0.82 / 0.87); the weak
rung's commonest error class (quiet king moves) 48 % of its errors (SAN 43 %): checks (1) and (2) pass, (3) fails,
so the chapter keeps SAN.

    python benchmarks/chess_notation.py --out benchmarks/chess_notation_results.json   # ~6 CPU-minutes cold
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter

import numpy as np

from w2s_lib.data import chess_puzzles as cp
from w2s_lib.generalization import chess
from w2s_lib.generalization.chess import ChessW2SConfig
from w2s_lib.models import chessgpt, tinygpt

SEEDS = (0, 1, 2)


def world(notation: str) -> ChessW2SConfig:
    chessgpt.CORPORA["search"] = {**chessgpt.CORPORA["search"], "notation": notation}
    return ChessW2SConfig.for_preset("tiny", {"lrs": (), "dataset": cp.DATASETS[notation]}, corpus="search")


def error_classes(fens, pred, ref) -> dict:
    errs = Counter(cp.move_class(f, p) for f, p, r in zip(fens, pred, ref) if p != r)
    n = sum(errs.values())
    top, k = errs.most_common(1)[0]
    ent = -sum(c / n * math.log(c / n) for c in errs.values()) / math.log(len(errs)) if len(errs) > 1 else 0.0
    return {"n_errors": n, "top_class": top, "top_share": k / n, "quiet_king_share": errs.get("K-", 0) / n,
            "entropy_norm": ent, "classes": dict(errs.most_common())}


def gt_diagnostics(cfg: ChessW2SConfig) -> dict:
    """The ladder's ground-truth diagnostics (no student): each rung's zero-shot accuracy, size and build time,
    its GT fits' test and held-out (D_weak) accuracy and time per seed, and the weak rung's error classes on
    D_weak; ``mean`` over seeds."""
    out = {"zero_shot": {}, "params": {}, "build_seconds": {}, "gt_test": {}, "gt_heldout": {}, "fit_seconds": {},
           "weak_errors": []}
    for m in cfg.ladder:
        meta = tinygpt.read_marker(chessgpt.model_dir(m, cfg.data_seed, micro=False, corpus=cfg.corpus))
        out["zero_shot"][m], out["params"][m] = meta["zero_shot_puzzle_acc"], meta["params"]
        out["build_seconds"][m] = meta["build_seconds"]
    for s in SEEDS:
        c = cfg.replace(seed=s)
        for m in cfg.ladder:
            fc, art = chess.fit(c, m, s)
            out["gt_test"].setdefault(m, []).append(art["acc"])
            out["fit_seconds"].setdefault(m, []).append(art["train_seconds"] + art["predict_seconds"])
            if art["label_acc"] is not None:
                out["gt_heldout"].setdefault(m, []).append(art["label_acc"])
            if m == cfg.ladder[0]:
                weak = chess._rows(fc)["weak_train"]
                out["weak_errors"].append(error_classes(weak["fen"], chess._moves_of(fc.run_id), weak["reference"]))
    out["mean"] = {"gt_test": {m: float(np.mean(v)) for m, v in out["gt_test"].items()},
                   "gt_heldout": {m: float(np.mean(v)) for m, v in out["gt_heldout"].items()},
                   **{k: float(np.mean([e[k] for e in out["weak_errors"]]))
                      for k in ("top_share", "quiet_king_share", "entropy_norm")}}
    return out


def measure(notation: str) -> dict:
    d = gt_diagnostics(world(notation))
    out = {"notation": notation, **{k: d[k] for k in ("zero_shot", "gt_test", "gt_heldout", "weak_errors", "mean")}}
    print(notation, json.dumps(out["zero_shot"]), json.dumps(out["mean"]), flush=True)
    return out


def decide(san: dict, uci: dict) -> dict:
    s, m, l = chessgpt.NAMES
    weak_ft = uci["mean"]["gt_test"][s]
    checks = {"latent_skill": uci["zero_shot"][m] >= weak_ft and uci["zero_shot"][l] >= weak_ft,
              "gap": uci["mean"]["gt_test"][l] - weak_ft >= 0.10,
              "spread_errors": uci["mean"]["top_share"] < san["mean"]["top_share"]
              and uci["mean"]["quiet_king_share"] < san["mean"]["quiet_king_share"]}
    return {**checks, "adopt_uci": all(checks.values())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="chess_notation_results.json")
    args = ap.parse_args()
    res = {n: measure(n) for n in ("san", "uci")}
    res["decision"] = decide(res["san"], res["uci"])
    print(json.dumps(res["decision"]))
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
