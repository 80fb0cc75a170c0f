"""Chapter 14, round 4 of choosing the world on ground-truth fits and held-out diagnostics only: a skill the
strong rungs hold *latently* because their corpus mixes an expert with a systematic novice.

Rounds 2 and 3 (``benchmarks/chess_world.py``, ``chess_format.py``) left nothing to elicit: the corpus annotates
every position with the expert's (the criterion's) move, so a strong rung's zero-shot accuracy already equals its
GT-fine-tuned accuracy (0.88 / 0.92 vs 0.88 / 0.91), and fine-tuning on weak labels can only destroy skill. In
Burns et al. a pretrained model has seen expert play but by default imitates the commoner, average play;
fine-tuning elicits the expert mode. Here the latent-skill (``search``) corpus keeps its 4000 clear positions
(the same positions, the same expert moves) but each position's move is the expert's with probability ``q`` and
otherwise a *systematic novice*'s (``chess_puzzles.novice_move``, rule ``approach``: move the most valuable piece,
the king last, to the square nearest the enemy king without capturing, promoting or mating). The novice's move
depends on the position but is never a puzzle's answer (a quiet move wins nothing), so with ``q`` < 0.5 the
corpus's mode in every position is the novice's move: a rung that learned the corpus well answers the novice's
move zero-shot, while the expert's move is a minority mode that a "one-bit" fine-tuning shift can elicit. (A
uniformly random novice would not do: its mass is spread over the legal moves and the argmax stays the expert's.)

**Rule, written before measuring (2026-12-03, 06:12 UTC).** Candidates (``chessgpt.CORPORA["search"]`` plus
``"novice": "approach", "q": q``), each on the ``search`` ladder at data seed 0, everything else as in round 2's
world (SAN, BPE, move-token pretraining, 30 / 300 / 900 steps, fine-tuning lr 1e-3, batch 32, 2 epochs):

- ``q0.25``: the expert on a quarter of the positions;
- ``q0.4``: the expert on 40 % of them.

Measured per candidate, no student trained, no PGR or bootstrap number computed (``chess_format.ladder``):
zero-shot puzzle accuracy per rung; GT fits on D_gt (800 puzzles, seeds 0-2): test accuracy, the weak rung's
errors on the held-out D_weak by move class; *small-GT* fits (100 GT puzzles, 16 epochs = 64 steps, seeds 0-2)
of every rung; and, once, the small-GT fit of the no-skill (``greedy``) ladder's top rung. A candidate passes
when, on the seed means:

- (a) unexpressed: zero-shot of ``chessgpt-m`` and ``chessgpt-l`` ≤ their own GT-fit test accuracy − 0.15;
- (b) gap: GT-fit test accuracy ``chessgpt-l`` − ``chessgpt-s`` ≥ 0.10;
- (c) elicitable: ``chessgpt-l``'s small-GT fit recovers ≥ 50 % of (its GT-fit accuracy − its zero-shot) and
  beats ``chessgpt-s``'s full GT fit;
- (d) latent, not taught: ``chessgpt-l``'s small-GT fit ≥ the no-skill ladder's ``chessgpt-l`` small-GT fit
  + 0.10 (what 100 labels elicit is skill the rung held, not what they teach a format-literate rung: round 3's
  no-skill top rung reached 0.69 from them, so round 3's form of this check, "the no-skill fit stays below the
  weak rung's ceiling", would test the weak rung rather than the elicitation);
- (e) spread errors: the weak rung's commonest error class ≤ 30 % of its D_weak errors.

Reported, not part of the rule: the corpus's share of expert moves; the share of the GT-fit weak rung's D_weak
errors that are the novice's move; each rung's zero-shot agreement with the novice on the test puzzles; and the
zero-shot weak rung's accuracy with every puzzle scored under one fixed prompt (position-blindness, as round 3's
probe).

Among passing candidates the chapter adopts the one with the highest (c) recovery share of ``chessgpt-l`` as its
latent-skill world (``CORPORA["search"]`` gains the novice and its ``q``; the ``greedy`` ladder stays the
mechanism-off arm), and then runs the registered claim once per ``benchmarks/chess_claim.py``'s decision rule
(5 seeds, data seeds 0 and 1) into ``benchmarks/chess_claim_v4_results.json``, whatever it shows. If none passes,
the world stays as it is and the claim is not run.

Result (``chess_elicit_results.json``, data seed 0, run once as registered; the rule's commit dd2691c records
06:12 UTC; a first run crashed in the reported diagnostics — the novice has no quiet move in a few D_weak
positions — before printing a candidate's line, and was rerun on the same cached fits after that fix, nothing else
changed). Zero-shot s / m / l, GT-fit test accuracy s / m / l (3 seeds), small-GT fit of l, its recovery share,
the weak rung's commonest error class (share of its D_weak errors):

==========  ===================  ===================  ========  ========  ==============  =========================
candidate   zero-shot            GT fit               small l   recovery  top error       fails
==========  ===================  ===================  ========  ========  ==============  =========================
``q0.25``   0.02 / 0.01 / 0.08   0.19 / 0.56 / 0.70   0.50      0.68      quiet king 44 %  (d), (e)
``q0.4``    0.04 / 0.06 / 0.22   0.25 / 0.66 / 0.78   0.51      0.52      quiet king 56 %  (d), (e)
==========  ===================  ===================  ========  ========  ==============  =========================

The no-skill ladder's top rung reached **0.69** from the same 100 GT puzzles. **No candidate passes: the world
stays as it is and the claim is not run** (round 2's world and registered results stand).

What the numbers say (read after the outcome, not part of the rule). The mixture does make the skill latent —
(a), (b), (c) pass for both: zero-shot near 0 (the rungs answer with a quiet move), a wide gap over the weak rung,
and 100 GT puzzles recover 52-68 % of the top rung's ceiling. But it also costs the skill itself: the top rung's
GT-fit ceiling falls from 0.91 (expert-only corpus) to 0.70 / 0.78, and its small-GT fit (0.50 / 0.51) stays
*below* what 100 labels teach the no-skill ladder (0.69, most of the one-ply grabber that scores 0.97 on these
puzzles): the novice's quiet-move mode is a prior the few labels must first undo. (d) could pass only with a
top-rung ceiling well above 0.79. And the weak rung (GT fit 0.19 / 0.25, far below round 2's 0.68) errs mostly
with *quiet king moves* (44 % / 56 % of its errors) — round 2's salient shortcut back, now taught by the novice's
quiet moves and the BPE's merged piece tokens — while only 10 % / 9 % of its errors are the novice's own move.
Diagnostics (``report``): the corpora's expert shares 0.27 / 0.41; the rungs' zero-shot agreement with the
novice 0.16-0.26 (q0.25) and 0.12-0.17 (q0.4); the zero-shot weak rung under one fixed prompt 0.015 / 0.03
(it is no longer a text prior that scores 0.69 — it has no skill at all).

Probe (``--probe``, run after the outcome, candidate ``q0.4``; nothing adopted): the top rung pretrained twice as
long (1800 steps) scores zero-shot 0.27, GT fit 0.79 (0.78 at 900 steps), 100-label fit 0.58 (0.51) — the
ceiling is capped by the mixture, not by the schedule; the 100-label fit for 32 epochs instead of 16 falls to
0.43 (it overfits the 100 puzzles), so the elicitation is not short of steps either. A mixture with a minority
expert leaves the top rung less skill than it can be elicited from; what 100 labels teach any format-literate
rung (the one-ply grabber, 0.97 on these puzzles) stays the bar — the puzzle generator, with more positions where
grabbing loses, remains the lever rounds 3 and 4 point to.

The script starts from the chapter's *current* world (``chessgpt.CORPORA``), which round 6 changed (trap-rich
corpora, 30 / 600 / 1800 steps): to rerun this round as measured, check out f48448d (the commit of its result).

    python benchmarks/chess_elicit.py --out benchmarks/chess_elicit_results.json   # ~4 CPU-minutes cold
    python benchmarks/chess_elicit.py --out benchmarks/chess_elicit_results.json --probe
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from w2s_lib import data
from w2s_lib.data import chess_puzzles as cp
from w2s_lib.generalization import chess
from w2s_lib.generalization.chess import ChessW2SConfig
from w2s_lib.models import chessgpt, tinygpt

from chess_format import add_probe, ladder  # noqa: E402  (benchmarks/ on sys.path when run as a script)

NOVICE = "approach"
CANDIDATES = {"q0.25": 0.25, "q0.4": 0.4}
SEARCH = dict(chessgpt.CORPORA["search"])


def world(q: float) -> dict:
    """``CORPORA["search"]`` of candidate ``q``."""
    return {**SEARCH, "novice": NOVICE, "q": q}


def novice_san(fen: str) -> str | None:
    """The novice's move in position ``fen`` in SAN (None when it has no quiet move)."""
    import chess as pychess

    board = pychess.Board(fen)
    move = cp.novice_move(board, NOVICE)
    return board.san(move) if move is not None else None


def report(cfg: ChessW2SConfig, r: dict) -> dict:
    """The diagnostics reported beside the rule (see the module doc); the candidate's corpus is in place."""
    ds = cfg.data_seed
    c = chessgpt.CORPORA["search"]
    lines = cp.position_corpus(ds, c["positions"], c["p_best"], False, clear_only=True)
    mixed = chessgpt.pretraining_lines(ds, False, "search")
    out = {"corpus_expert_share": float(np.mean([a == b for a, b in zip(lines, mixed)]))}
    weak_errs = []
    for s in range(len(r["weak_errors"])):
        fc, _ = chess.fit(cfg.replace(seed=s), chessgpt.NAMES[0], s)
        weak = chess._rows(fc)["weak_train"]
        nov = [novice_san(f) for f in weak["fen"]]
        errs = [(p, n) for p, n, ref in zip(chess._moves_of(fc.run_id), nov, weak["reference"]) if p != ref]
        weak_errs.append(float(np.mean([p == n for p, n in errs])) if errs else float("nan"))
    out["weak_errors_novice_share"] = float(np.mean(weak_errs))
    test = data.load("chess_puzzles", "test", seed=ds)
    legal, ref = [list(x) for x in test["legal"]], list(test["reference"])
    nov = [novice_san(f) for f in test["fen"]]
    out["zero_shot_novice_agreement"] = {}
    for name in chessgpt.NAMES:
        model, tok = chessgpt.load(name, ds, False, "search")
        pred = chessgpt.predict_moves(model, tok, list(test["prompt"]), legal)
        out["zero_shot_novice_agreement"][name] = float(np.mean([p == n for p, n in zip(pred, nov)]))
        if name == chessgpt.NAMES[0]:
            fixed = chessgpt.predict_moves(model, tok, [test["prompt"][0]] * len(ref), legal)
            out["weak_fixed_prompt"] = float(np.mean([p == t for p, t in zip(fixed, ref)]))
    return out


def probe(q: float = 0.4, data_seed: int = 0) -> dict:
    """Read after the rule's outcome, not part of it (nothing here is adopted): for candidate ``q``, is the top
    rung under-trained on the mixture (its zero-shot, GT-fit and small-GT-fit test accuracy when pretrained
    twice as long), and is the small-GT fit short of steps (the same 100 GT puzzles for 32 epochs, 128 steps)?"""
    from chess_format import SEEDS, SMALL

    l = chessgpt.NAMES[-1]
    out = {}
    base = world(q)
    variants = {"top rung 2x steps": {**base, "steps": {**base["steps"], l: 2 * base["steps"][l]}},
                "small fit 32 epochs": base}
    for name, corpus in variants.items():
        chessgpt.CORPORA["search"] = corpus
        small = {**SMALL, "train.epochs": 2 * SMALL["train.epochs"]} if name.startswith("small") else SMALL
        cfg = ChessW2SConfig.for_preset("tiny", {"lrs": ()}, corpus="search", data_seed=data_seed)
        scfg = ChessW2SConfig.for_preset("tiny", {"lrs": (), **small, "corpus": "search", "data_seed": data_seed})
        r = {"zero_shot": tinygpt.read_marker(chessgpt.model_dir(l, data_seed, False, "search"))["zero_shot_puzzle_acc"],
             "small_gt_test": float(np.mean([chess.fit(scfg.replace(seed=s), l, s)[1]["acc"] for s in SEEDS]))}
        if not name.startswith("small"):
            r["gt_test"] = float(np.mean([chess.fit(cfg.replace(seed=s), l, s)[1]["acc"] for s in SEEDS]))
        out[name] = r
        print(name, json.dumps(r), flush=True)
    chessgpt.CORPORA["search"] = SEARCH
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="chess_elicit_results.json")
    ap.add_argument("--probe", action="store_true", help="only add probe()'s diagnostics to --out")
    args = ap.parse_args()
    if args.probe:
        add_probe(args.out, probe)
        return
    s, m, l = chessgpt.NAMES
    res = {"no skill": ladder(ChessW2SConfig.for_preset("tiny", {"lrs": ()}, corpus="greedy"), small_only=True)}
    no_skill_small = res["no skill"]["mean"]["small_gt_test"][l]
    print("no skill", json.dumps(res["no skill"]["zero_shot"]), json.dumps(res["no skill"]["mean"]), flush=True)
    for name, q in CANDIDATES.items():
        chessgpt.CORPORA["search"] = world(q)
        cfg = ChessW2SConfig.for_preset("tiny", {"lrs": ()}, corpus="search")
        r = ladder(cfg)
        zs, gt, sm = r["zero_shot"], r["mean"]["gt_test"], r["mean"]["small_gt_test"]
        r["recovery_l"] = (sm[l] - zs[l]) / (gt[l] - zs[l]) if gt[l] > zs[l] else float("nan")
        r["checks"] = {"unexpressed": all(zs[k] <= gt[k] - 0.15 for k in (m, l)),
                       "gap": gt[l] - gt[s] >= 0.10,
                       "elicitable": bool(r["recovery_l"] >= 0.5 and sm[l] > gt[s]),
                       "latent_not_taught": sm[l] >= no_skill_small + 0.10,
                       "spread_errors": r["mean"]["weak_top_share"] <= 0.30}
        r["passes"] = all(r["checks"].values())
        r["report"] = report(cfg, r)
        res[name] = r
        print(name, json.dumps(zs), json.dumps(r["mean"]), round(r["recovery_l"], 3), json.dumps(r["checks"]),
              json.dumps(r["report"]), flush=True)
    chessgpt.CORPORA["search"] = SEARCH
    passing = [n for n in CANDIDATES if res[n]["passes"]]
    res["adopted"] = max(passing, key=lambda n: res[n]["recovery_l"]) if passing else None
    print("adopted:", res["adopted"])
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
