"""Chapter 14, round 5 of choosing the world on ground-truth fits and held-out diagnostics only: puzzles in which
the two-ply criterion — the skill that should separate the rungs — decides the answer.

Rounds 2-4 (``benchmarks/chess_world.py``, ``chess_format.py``, ``chess_elicit.py``) converge on one diagnosis:
the puzzles do not need the skill that separates the rungs. A one-ply grabber (mate, else the biggest capture)
scores 0.97 on the test puzzles; only about 1 % of generated puzzles are *traps* (the grabber's move is not the
answer: the bigger capture is defended and loses material); 100 GT puzzles teach the no-skill ladder's top rung
0.69; and the weak rung is a position-blind prior over move texts whose errors students copy.

Here the puzzles are trap-rich (``chess_puzzles.TRAP_SHARE`` = 0.4 of them, the registered dataset
``chess_traps``): every slot ``trap_slot`` marks (2 in 5) holds a *planted trap* (``chess_puzzles.planted_trap``):
a random puzzle whose answer wins material gets a bait — a rook or queen of the side not to move, on a square
it defends and the side to move attacks only with pieces too valuable to win by taking it, worth more than the
answer wins — and is kept when the criterion still gives a unique, clear answer that the grabber misses. The
criterion (``MIN_GAIN``, ``MARGIN``) is unchanged. The latent-skill corpus's 4000 clear positions get the *same*
trap share (decided before measuring): that corpus is drawn from the puzzles' own distribution (clear positions
annotated by the criterion's move) since round 2, and its purpose is to teach two-ply play where it differs from
grabbing — with 1 % traps the expert's corpus is, on 99 % of its lines, the grabber's. The no-skill (``greedy``)
ladder keeps its games and answers the same trap-rich puzzles. Generation (data seed 0, one CPU core, measured
while building the option, before this rule): 2000 trap-rich puzzles 16 s and the 4000-position corpus 29 s
(the plain puzzles: 3.3 s; the plain corpus: 36 s in the book's notes).

**Rule, written before measuring (2026-12-03, 06:36 UTC).** One candidate, ``traps0.4``: both ladders'
``CORPORA`` entries gain ``"traps": 0.4`` (the ``search`` corpus trap-rich, both ladders answering
``chess_traps``); everything else as in round 2's world (``p_best`` 1.0, SAN, BPE, move-token pretraining,
30 / 300 / 900 steps; fine-tuning lr 1e-3, batch 32, 2 epochs). Data seed 0. Measured (``chess_format.ladder``,
no student trained, no PGR or bootstrap number computed), for **both** ladders: zero-shot puzzle accuracy per
rung; GT fits on D_gt (800 puzzles, seeds 0-2): test accuracy, and the weak rung's errors on the held-out D_weak
by move class; small-GT fits (100 GT puzzles, 16 epochs, seeds 0-2) of every rung. The candidate passes when,
on the seed means:

- (t) traps matter: the one-ply grabber's test accuracy (ties shared) ≤ 0.70;
- (a) latent skill: the ``search`` ladder's GT-fit test accuracy of ``chessgpt-m`` and of ``chessgpt-l`` each
  ≥ the ``greedy`` ladder's same rung + 0.10;
- (b) gap: the ``search`` ladder's GT-fit test accuracy ``chessgpt-l`` − ``chessgpt-s`` ≥ 0.10;
- (d) latent, not taught: the ``search`` ``chessgpt-l``'s small-GT fit ≥ the ``greedy`` ``chessgpt-l``'s
  small-GT fit + 0.10;
- (e) spread errors: the ``search`` weak rung's commonest error class ≤ 30 % of its D_weak errors.

Reported, not part of the rule: the share of trap puzzles among test and D_weak; every GT fit's test accuracy
on the trap and on the other puzzles; the share of the ``search`` weak rung's D_weak errors that are a grabber's
move, overall and on trap puzzles (systematic weak errors, as in Burns et al.).

If it passes, the chapter adopts it as its world (``CORPORA`` as above, ``ChessW2SConfig.dataset``
``chess_traps``) and runs the registered claim once per ``benchmarks/chess_claim.py``'s decision rule (5 seeds,
data seeds 0 and 1; its code reads the adopted world) into ``benchmarks/chess_claim_v5_results.json``, whatever
it shows. If it fails, the world stays as it is and the claim is not run.

Result (``chess_traps_results.json``, data seed 0, run once as registered; the rule's commit c738e8f records
06:36 UTC; 230 s CPU cold, both ladders built). A bug in a *reported* diagnostic (each fit's test predictions
were compared with the test split in load order, not the fit's own order: trap / other accuracies near 0) was
fixed after the run and the report recomputed from the same cached fits (``--report``); the checks did not use
it. Seed means, s / m / l:

=====================  ===================  ==================  ===================  ==================
ladder                 zero-shot            GT fit (test)       small-GT fit (100)   GT fit on traps
=====================  ===================  ==================  ===================  ==================
no skill (``greedy``)  0.01 / 0.01 / 0.01   0.49 / 0.54 / 0.63  0.38 / 0.505 / 0.57  0.34 / 0.41 / 0.42
latent (``search``)    0.55 / 0.69 / 0.715  0.54 / 0.69 / 0.72  0.55 / 0.66 / 0.65   0.38 / 0.44 / 0.54
=====================  ===================  ==================  ===================  ==================

Checks: (t) passes — the grabber scores 0.574 (41 % of the test puzzles are traps); (a) **fails** — ``m`` 0.688
≥ 0.541 + 0.10 but ``l`` 0.720 < 0.633 + 0.10; (b) passes — 0.720 − 0.539 = 0.18; (d) **fails** — the latent
top rung's 100-label fit 0.651 < the no-skill one's 0.567 + 0.10; (e) **fails** — the weak rung's commonest
error class is a queen capture (``Qx``), 34 % of its D_weak errors (``Rx`` next, ~19 %). **The candidate does
not pass: the world stays as it is and the claim is not run.**

Reported: 40 % of D_weak is traps; 40 % of the latent weak rung's D_weak errors are a grabber's move, **66 %** of
its errors on trap puzzles (the no-skill weak rung: 35 % and 61 %); GT fits on the other (non-trap) puzzles:
no skill 0.60 / 0.64 / 0.79, latent 0.65 / 0.86 / 0.85.

What the numbers say (read after the outcome, not part of the rule). The traps do what they were built for on
the *supervisor's* side: the weak rung's errors are now the systematic error of a weaker player — two thirds of
its trap errors grab the defended piece, and its commonest error class is the queen grab (so (e), written
against round 1-4's format shortcuts, fails on the very error Burns et al.'s weak supervisors make). But the
latent-skill ladder holds too little of the two-ply skill where it matters: its top rung answers 0.51 of the
trap puzzles zero-shot (probe: s / m 0.41 / 0.43; the non-trap puzzles 0.65 / 0.87 / 0.86), although 40 % of
its 4000 pretraining lines were traps annotated by the expert; fine-tuning on 800 GT puzzles moves it to 0.54,
while the *no-skill* ladder learns 0.42 on traps from those same labels (0.34 for its weak rung: seeing the bait
defended is partly learnable from 320 labelled traps). So the strong rung's margin over what labels teach is
+0.09 overall, +0.12 on traps — short of (a) and (d)'s 0.10 on the whole set. Probe (``--probe``, after the
outcome, nothing adopted): the same top rung pretrained twice as long (1800 steps) answers **0.61** of the trap
puzzles zero-shot (0.51 at 900 steps) and 0.85 of the others (0.86): its skill on traps is short of pretraining
compute, not of data. Trap-rich puzzles are a necessary part of a test in which the skill separates the rungs,
not a sufficient one; the ladder's pretraining on them is the lever this round points to (untested: no GT fit or
rule was run on the longer-trained rung).

The script starts from the chapter's *current* world (``chessgpt.CORPORA``), which round 6 changed (trap-rich
corpora, 30 / 600 / 1800 steps): to rerun this round as measured, check out 4059c06 (the commit of its result).

    python benchmarks/chess_traps.py --out benchmarks/chess_traps_results.json   # ~4 CPU-minutes cold
    python benchmarks/chess_traps.py --out benchmarks/chess_traps_results.json --report   # the reported part only
    python benchmarks/chess_traps.py --out benchmarks/chess_traps_results.json --probe    # zero-shot on traps
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from w2s_lib import data
from w2s_lib.data import chess_puzzles as cp
from w2s_lib.generalization import chess
from w2s_lib.generalization.chess import ChessW2SConfig
from w2s_lib.models import chessgpt

from chess_format import SEEDS, add_probe, ladder  # noqa: E402  (benchmarks/ on sys.path when run as a script)

TRAPS = cp.TRAP_SHARE
ORIGINAL = {k: dict(v) for k, v in chessgpt.CORPORA.items()}


def use_world(traps: float) -> None:
    """Both ladders' corpora with trap share ``traps`` (0: the chapter's world as it was)."""
    for k, v in ORIGINAL.items():
        chessgpt.CORPORA[k] = {**v, "traps": traps} if traps else dict(v)


def config(corpus: str) -> ChessW2SConfig:
    return ChessW2SConfig.for_preset("tiny", {"lrs": ()}, corpus=corpus, dataset=chessgpt.dataset_of(corpus))


def trap_flags(fens, refs) -> list[bool]:
    """Per puzzle: is its answer a trap for the grabber (``chess_puzzles.is_trap``)."""
    import chess as pychess

    out = []
    for fen, ref in zip(fens, refs):
        board = pychess.Board(fen)
        out.append(cp.is_trap(board, board.parse_san(ref)))
    return out


def grabber_accuracy(rows) -> float:
    """The one-ply grabber's accuracy on puzzle ``rows`` (a tie among its top moves shares the point)."""
    return float(np.mean([(r in g) / len(g) for r, g in zip(rows["reference"], map(cp.grabber_sans, rows["fen"]))]))


def trap_report(cfg: ChessW2SConfig) -> dict:
    """The diagnostics reported beside the rule (see the module doc), from the cached GT fits of ``cfg``'s ladder."""
    out = {"gt_test_traps": {}, "gt_test_other": {}}
    weak_all, weak_traps, weak_share = [], [], []
    for s in SEEDS:
        for m in cfg.ladder:
            fc, _ = chess.fit(cfg.replace(seed=s), m, s)
            test = chess._rows(fc)["test"]  # the fit's own test rows (their order is the predictions')
            t_test = np.array(trap_flags(test["fen"], test["reference"]))
            out["test_trap_share"] = float(t_test.mean())
            hit = np.array([p == r for p, r in zip(chess._preds_of(fc.run_id)["test"], test["reference"])])
            out["gt_test_traps"].setdefault(m, []).append(float(hit[t_test].mean()))
            out["gt_test_other"].setdefault(m, []).append(float(hit[~t_test].mean()))
            if m == cfg.ladder[0]:
                weak = chess._rows(fc)["weak_train"]
                flags = trap_flags(weak["fen"], weak["reference"])
                weak_share.append(float(np.mean(flags)))
                errs = [(p in cp.grabber_sans(f), t) for p, r, f, t in
                        zip(chess._moves_of(fc.run_id), weak["reference"], weak["fen"], flags) if p != r]
                weak_all.append(float(np.mean([g for g, _ in errs])))
                weak_traps.append(float(np.mean([g for g, t in errs if t])) if any(t for _, t in errs) else np.nan)
    for k in ("gt_test_traps", "gt_test_other"):
        out[k] = {m: float(np.mean(v)) for m, v in out[k].items()}
    out.update(weak_trap_share=float(np.mean(weak_share)), weak_errors_grabber_share=float(np.mean(weak_all)),
               weak_trap_errors_grabber_share=float(np.nanmean(weak_traps)))
    return out


def probe(data_seed: int = 0) -> dict:
    """Read after the rule's outcome, not part of it (nothing here is adopted): each rung's *zero-shot* test
    accuracy on the trap and on the other puzzles, for both ladders — did pretraining put the two-ply skill
    where it matters into the rungs, before any fine-tuning? — and the same for the latent ladder's top rung
    pretrained twice as long (is its skill on traps short of steps?)."""
    use_world(TRAPS)
    test = data.load(chessgpt.dataset_of("search"), "test", seed=data_seed)
    flags = np.array(trap_flags(test["fen"], test["reference"]))

    def split_acc(name: str, corpus: str) -> dict:
        model, tok = chessgpt.load(name, data_seed, False, corpus)
        pred = chessgpt.predict_moves(model, tok, list(test["prompt"]), [list(x) for x in test["legal"]])
        hit = np.array([p == r for p, r in zip(pred, test["reference"])])
        return {"traps": float(hit[flags].mean()), "other": float(hit[~flags].mean())}

    out = {}
    for name, corpus in (("no skill", "greedy"), ("latent skill", "search")):
        out[name] = {m: split_acc(m, corpus) for m in chessgpt.NAMES}
        print(name, json.dumps(out[name]), flush=True)
    l = chessgpt.NAMES[-1]
    search = chessgpt.CORPORA["search"]
    chessgpt.CORPORA["search"] = {**search, "steps": {**search["steps"], l: 2 * search["steps"][l]}}
    out["latent skill, top rung 2x steps"] = split_acc(l, "search")
    print("top rung 2x steps", json.dumps(out["latent skill, top rung 2x steps"]), flush=True)
    use_world(0.0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="chess_traps_results.json")
    ap.add_argument("--report", action="store_true",
                    help="only recompute the reported diagnostics (trap_report, from the cached fits) into --out")
    ap.add_argument("--probe", action="store_true", help="only add probe()'s diagnostics to --out")
    args = ap.parse_args()
    s, m, l = chessgpt.NAMES
    if args.probe:
        add_probe(args.out, probe)
        return
    use_world(TRAPS)
    if args.report:
        with open(args.out) as f:
            res = json.load(f)
        for name, corpus in (("no skill", "greedy"), ("latent skill", "search")):
            res[name]["report"] = trap_report(config(corpus))
            print(name, json.dumps(res[name]["report"]), flush=True)
        use_world(0.0)
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)
        return
    res = {"candidate": f"traps{TRAPS}"}
    for name, corpus in (("no skill", "greedy"), ("latent skill", "search")):
        cfg = config(corpus)
        r = ladder(cfg)
        r["report"] = trap_report(cfg)
        res[name] = r
        print(name, json.dumps(r["zero_shot"]), json.dumps(r["mean"]), json.dumps(r["report"]), flush=True)
    test = data.load(chessgpt.dataset_of("search"), "test", seed=0)
    res["grabber_test_acc"] = grabber_accuracy(test)
    gt, sm = res["latent skill"]["mean"]["gt_test"], res["latent skill"]["mean"]["small_gt_test"]
    off_gt, off_sm = res["no skill"]["mean"]["gt_test"], res["no skill"]["mean"]["small_gt_test"]
    res["checks"] = {"traps_matter": res["grabber_test_acc"] <= 0.70,
                     "latent_skill": all(gt[k] >= off_gt[k] + 0.10 for k in (m, l)),
                     "gap": gt[l] - gt[s] >= 0.10,
                     "latent_not_taught": sm[l] >= off_sm[l] + 0.10,
                     "spread_errors": res["latent skill"]["mean"]["weak_top_share"] <= 0.30}
    res["passes"] = all(res["checks"].values())
    use_world(0.0)
    print("grabber", res["grabber_test_acc"], json.dumps(res["checks"]), "passes:", res["passes"])
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
