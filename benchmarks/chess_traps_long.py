"""Chapter 14, round 6 of choosing the world on ground-truth fits and held-out diagnostics only: round 5's
trap-rich world with the latent-skill ladder's upper rungs pretrained twice as long.

Round 5 (``benchmarks/chess_traps.py``) made the puzzles trap-rich (``chess_traps``: 40 % planted traps that the
one-ply grabber misses) and the latent-skill corpus equally trap-rich. It passed (t) grabber 0.574 and (b) gap
0.18 and failed (a) the latent top rung's GT fit 0.720 < the no-skill one's 0.633 + 0.10, (d) its 100-label fit
0.651 < 0.567 + 0.10, and (e) the weak rung's commonest error class (``Qx``, 34 %). Its probe (after the outcome)
found the latent top rung's skill on traps short of pretraining steps: 0.51 of the trap puzzles zero-shot at 900
steps, 0.61 at 1800 (the other puzzles 0.86 / 0.85).

**The candidate, decided from what is already measured, before measuring it:** ``long``: round 5's world
(both ladders' ``CORPORA`` with ``"traps": 0.4``, both answering ``chess_traps``) with the ``search`` ladder's
pretraining steps 30 / **600** / **1800** (were 30 / 300 / 900): the upper two rungs doubled, as in the probe for
the top rung and in the same ratio for the middle one, so compute still grows along the ladder; the weak rung
keeps its 30 steps, so the capability gap stays (round 2's notes: a weak rung given many steps learns the task and
leaves no gap). The no-skill (``greedy``) ladder is unchanged (its own schedule, the trap-rich puzzles).
Everything else as in round 5 (``p_best`` 1.0, SAN, BPE, move-token pretraining; fine-tuning lr 1e-3, batch 32,
2 epochs). Cost, measured and reported: the rungs' build seconds (round 5's probe: a doubled top rung costs
roughly +50 s CPU).

**Rule, written before measuring (2026-12-03, 06:54 UTC).** Data seed 0. Measured as in round 5
(``chess_format.ladder``, no student trained, no PGR or bootstrap number computed), for both ladders: zero-shot
puzzle accuracy per rung; GT fits on D_gt (800 puzzles, seeds 0-2): test accuracy and the weak rung's D_weak
errors; small-GT fits (100 GT puzzles, 16 epochs, seeds 0-2). The candidate passes when, on the seed means:

- (t) traps matter: the one-ply grabber's test accuracy (ties shared) ≤ 0.70;
- (a) latent skill: the ``search`` ladder's GT-fit test accuracy of ``chessgpt-m`` and of ``chessgpt-l`` each
  ≥ the ``greedy`` ladder's same rung + 0.10;
- (b) gap: the ``search`` ladder's GT-fit test accuracy ``chessgpt-l`` − ``chessgpt-s`` ≥ 0.10;
- (d) latent, not taught: the ``search`` ``chessgpt-l``'s small-GT fit ≥ the ``greedy`` ``chessgpt-l``'s
  small-GT fit + 0.10;
- (e') skill-shaped weak errors, replacing round 5's (e): of the ``search`` weak rung's D_weak errors on trap
  puzzles, ≥ 50 % are a grabber's move (``chess_puzzles.grabber_moves``; systematic, the error of a weaker player
  that sees one ply) **and** its commonest error class (``chess_puzzles.move_class``) counted over the errors
  that are *not* a grabber's move is ≤ 30 % of all its D_weak errors (no format shortcut, the denominator as in
  (e)). Each part on the mean over seeds 0-2.

Why (e) is replaced. (e) was written against rounds 1-4's errors — quiet king moves and other *format*
shortcuts (a position-blind prior over move texts), which students copy and which are not what a weaker player
gets wrong. In a trap-rich world the weaker player's characteristic error *is* a class: grabbing the bait, mostly
a queen capture. (e) therefore fails on exactly the error Burns et al.'s weak supervisors make. (e') keeps the
guard against format shortcuts (the commonest class outside the grabber's moves, same 30 % bound) and asks
positively for the mechanism (the weak rung's trap errors are mostly the grabber's move). Disclosure: the weak
rung is round 5's model (same corpus, same 30 steps; rebuilt under the candidate's corpus key, which hashes the
whole schedule), so its errors are round 5's up to CPU nondeterminism; the first part was already reported there
(66 % of its trap errors are grabs), the second part was not computed. The
checks that the longer steps can move are (a), (b) and (d).

Reported, not part of the rule: the rungs' build seconds (both ladders); the reported diagnostics of round 5
(``chess_traps.trap_report``: trap / other accuracy per GT fit, the weak rung's grab shares).

If it passes, the chapter adopts it as its world (both ladders trap-rich, the ``search`` steps above) and runs the
registered claim once per ``benchmarks/chess_claim.py``'s decision rule (5 seeds 0-4, data seeds 0 and 1) into
``benchmarks/chess_claim_v6_results.json``, whatever it shows. If it fails, the world stays as it is and the claim
is not run.

Result (``chess_traps_long_results.json``, data seed 0, run once as registered after the rule's commit 348a8cf,
06:54 UTC; 67 s CPU, the greedy ladder cached from round 5). Disclosure: a check of the candidate's cache paths
(``chessgpt.model_dir``, which builds a missing rung) built its weak and top rungs at 06:52-06:54, before the
commit; no number of theirs was read before the run. Seed means, s / m / l:

=====================  ===================  ==================  ===================  ==================
ladder                 zero-shot            GT fit (test)       small-GT fit (100)   GT fit on traps
=====================  ===================  ==================  ===================  ==================
no skill (``greedy``)  0.01 / 0.01 / 0.01   0.49 / 0.54 / 0.63  0.38 / 0.505 / 0.57  0.34 / 0.41 / 0.42
latent, 30/600/1800    0.55 / 0.71 / 0.75   0.54 / 0.70 / 0.75  0.55 / 0.66 / 0.68   0.38 / 0.49 / 0.60
=====================  ===================  ==================  ===================  ==================

Checks: (t) passes — the grabber 0.574; (a) passes — ``m`` 0.702 ≥ 0.541 + 0.10, ``l`` 0.753 ≥ 0.633 + 0.10
(margin 0.019); (b) passes — 0.753 − 0.539 = 0.21; (d) passes — 0.679 ≥ 0.567 + 0.10 (margin 0.012); (e') passes
— 66 % of the weak rung's D_weak trap errors are a grabber's move, and the commonest class outside the grabber's
moves is 16 % of its errors. **The candidate passes (narrowly on (a) and (d)): the chapter adopts it.** Cost
(the rungs' ``build_seconds``, one core, shared with another job): 0.6 / 14.9 / 69.0 s (corpus cached; round 5's
900-step top rung 59 s, the probe's 1800-step one 106 s under heavier sharing). GT fits on the other (non-trap)
puzzles: latent 0.65 / 0.85 / 0.86 (round 5: 0.65 / 0.86 / 0.85) — the longer steps added skill on traps only.

Adopted as chapter 14's world (``chessgpt.CORPORA``, ``ChessW2SConfig.dataset`` ``chess_traps``); the registered
claim, run once in it (``benchmarks/chess_claim.py``, ``chess_claim_v6_results.json``), holds at neither data
seed (bootstrap − direct −0.0435 and −0.021, both intervals below 0).

    python benchmarks/chess_traps_long.py --out benchmarks/chess_traps_long_results.json
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

import numpy as np

from w2s_lib import data
from w2s_lib.data import chess_puzzles as cp
from w2s_lib.generalization import chess
from w2s_lib.models import chessgpt, tinygpt

from chess_format import SEEDS, ladder  # noqa: E402  (benchmarks/ on sys.path when run as a script)
from chess_traps import TRAPS, config, grabber_accuracy, trap_flags, trap_report, use_world  # noqa: E402

LONG_STEPS = {"chessgpt-s": 30, "chessgpt-m": 600, "chessgpt-l": 1800}


def use_long_world() -> None:
    """Round 5's trap-rich world with the ``search`` ladder's steps :data:`LONG_STEPS`."""
    use_world(TRAPS)
    chessgpt.CORPORA["search"] = {**chessgpt.CORPORA["search"], "steps": dict(LONG_STEPS)}


def mechanism(cfg) -> dict:
    """Check (e')'s two parts from the weak rung's cached GT fits (seeds 0-2), and their per-seed values."""
    trap_grab, other_top, other_cls = [], [], []
    for s in SEEDS:
        fc, _ = chess.fit(cfg.replace(seed=s), cfg.ladder[0], s)
        weak = chess._rows(fc)["weak_train"]
        flags = trap_flags(weak["fen"], weak["reference"])
        errs = [(f, p, p in cp.grabber_sans(f), t) for p, r, f, t in
                zip(chess._moves_of(fc.run_id), weak["reference"], weak["fen"], flags) if p != r]
        on_traps = [g for _, _, g, t in errs if t]
        trap_grab.append(float(np.mean(on_traps)) if on_traps else float("nan"))
        cls = Counter(cp.move_class(f, p) for f, p, g, _ in errs if not g)
        top, k = cls.most_common(1)[0] if cls else ("-", 0)
        other_top.append(k / len(errs))
        other_cls.append({"top_class": top, "classes": dict(cls.most_common()), "n_errors": len(errs)})
    return {"trap_errors_grabber_share": trap_grab, "non_grab_top_share": other_top, "non_grab": other_cls,
            "mean": {"trap_errors_grabber_share": float(np.nanmean(trap_grab)),
                     "non_grab_top_share": float(np.mean(other_top))}}


def build_seconds(cfg) -> dict:
    return {m: tinygpt.read_marker(chessgpt.model_dir(m, cfg.data_seed, micro=False, corpus=cfg.corpus))
            ["build_seconds"] for m in cfg.ladder}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="chess_traps_long_results.json")
    args = ap.parse_args()
    s, m, l = chessgpt.NAMES
    use_long_world()
    res = {"candidate": "long", "search_steps": dict(LONG_STEPS)}
    for name, corpus in (("no skill", "greedy"), ("latent skill", "search")):
        cfg = config(corpus)
        r = ladder(cfg)
        r["build_seconds"] = build_seconds(cfg)
        r["report"] = trap_report(cfg)
        r["mechanism"] = mechanism(cfg)
        res[name] = r
        print(name, json.dumps(r["zero_shot"]), json.dumps(r["mean"]), json.dumps(r["build_seconds"]),
              json.dumps(r["mechanism"]["mean"]), json.dumps(r["report"]), flush=True)
    test = data.load(chessgpt.dataset_of("search"), "test", seed=0)
    res["grabber_test_acc"] = grabber_accuracy(test)
    gt, sm = res["latent skill"]["mean"]["gt_test"], res["latent skill"]["mean"]["small_gt_test"]
    off_gt, off_sm = res["no skill"]["mean"]["gt_test"], res["no skill"]["mean"]["small_gt_test"]
    mech = res["latent skill"]["mechanism"]["mean"]
    res["checks"] = {"traps_matter": res["grabber_test_acc"] <= 0.70,
                     "latent_skill": all(gt[k] >= off_gt[k] + 0.10 for k in (m, l)),
                     "gap": gt[l] - gt[s] >= 0.10,
                     "latent_not_taught": sm[l] >= off_sm[l] + 0.10,
                     "skill_shaped_errors": bool(mech["trap_errors_grabber_share"] >= 0.50
                                                 and mech["non_grab_top_share"] <= 0.30)}
    res["passes"] = all(res["checks"].values())
    use_world(0.0)
    print("grabber", res["grabber_test_acc"], json.dumps(res["checks"]), "passes:", res["passes"])
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
