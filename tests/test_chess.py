"""Chess puzzles (python-chess), the chess GPT ladder, and weak-to-strong on them (micro scale)."""

from __future__ import annotations

import json

import chess
import numpy as np
import pytest

from w2s_lib.generalization import chess as cw
from w2s_lib import data
from w2s_lib.data import chess_puzzles as cp
from w2s_lib.core.errors import W2SError
from w2s_lib.models import chessgpt, tinygpt


def _board(white: str, black: str, turn: bool = chess.WHITE) -> chess.Board:
    b = chess.Board(None)
    for color, spec in ((chess.WHITE, white), (chess.BLACK, black)):
        for p in spec.split():
            b.set_piece_at(chess.parse_square(p[1:]), chess.Piece.from_symbol(p[0] if color else p[0].lower()))
    b.turn = turn
    assert b.is_valid()
    return b


# ----------------------------------------------------------------------------- the criterion
def test_hanging_queen_is_a_puzzle():
    b = _board("Ka1 Nc3", "Kh8 Qd5")
    assert b.san(cp.best_move(b)) == "Nxd5"


def test_defended_piece_is_not_a_puzzle():
    # Qxd5 wins a rook but exd5 wins the queen back: -4; no other move wins anything
    b = _board("Ka1 Qd1", "Kh8 Rd5 Pe6")
    assert cp.move_scores(b)[chess.Move.from_uci("d1d5")] == 5 - 9
    assert cp.best_move(b) is None


def test_back_rank_mate_is_found_and_scored_as_mate():
    b = _board("Kg1 Ra1", "Kg8 Pf7 Pg7 Ph7")
    move = cp.best_move(b)
    assert b.san(move) == "Ra8#" and cp.move_scores(b)[move] == cp.MATE


def test_a_move_that_allows_mate_scores_minus_mate():
    # black threatens ...Ra1# whenever nothing can block the back rank: the knight on e4 can (Nd2 → b1)
    b = chess.Board("r5k1/8/8/8/4N3/8/5PPP/6K1 w - - 0 1")
    scores = cp.move_scores(b)
    assert scores[chess.Move.from_uci("e4d6")] == -cp.MATE  # the knight strays: ...Ra1#
    assert scores[chess.Move.from_uci("g1h1")] == -cp.MATE
    assert scores[chess.Move.from_uci("h2h3")] == 0  # luft
    assert scores[chess.Move.from_uci("e4d2")] == 0  # ...Ra1+ Nb1
    assert cp.best_move(b) is None


def test_decisive_scores_give_the_full_searchs_answer_on_random_positions():
    import random

    rng, seen = random.Random(11), 0
    while seen < 150:
        board = cp.random_position(rng)
        if not cp._may_be_puzzle(board):
            continue
        seen += 1
        full, quick = cp.move_scores(board), cp.decisive_scores(board)
        assert set(full) == set(quick)
        assert all(quick[m] >= s for m, s in full.items())  # exact, or an upper bound
        assert cp.best_move(board, quick) == cp.best_move(board, full)
        move = cp.best_move(board, full)
        if move is not None:
            assert quick[move] == full[move]  # the answer itself is always searched


def test_score_ceiling_bounds_every_move_score():
    b = chess.Board("r5k1/8/8/8/4N3/8/5PPP/6K1 w - - 0 1")
    assert all(cp.score_ceiling(b, m) >= s for m, s in cp.move_scores(b).items())


@pytest.fixture(scope="module")
def puzzles():
    return cp.generate_puzzles(60, seed=5, split="train")


def test_every_answer_is_legal_and_uniquely_best_by_exhaustive_search(puzzles):
    for row in puzzles:
        board = chess.Board(row["fen"])
        move = chess.Move.from_uci(row["uci"])
        assert move in board.legal_moves
        assert board.san(move) == row["reference"]
        assert sorted(board.san(m) for m in board.legal_moves) == row["legal"]
        scores = cp.move_scores(board)
        assert len(scores) == board.legal_moves.count()  # every legal move scored
        others = [s for m, s in scores.items() if m != move]
        assert scores[move] >= cp.MIN_GAIN
        assert all(scores[move] - s >= cp.MARGIN for s in others)
        board.push(move)
        assert board.is_checkmate() == (row["kind"] == "mate")
        assert row["prompt"].startswith("white: K") and row["prompt"].endswith(":")


def test_puzzles_are_deterministic_per_seed_and_distinct(puzzles):
    assert cp.generate_puzzles(60, seed=5, split="train") == puzzles
    other = cp.generate_puzzles(60, seed=6, split="train")
    assert [r["fen"] for r in other] != [r["fen"] for r in puzzles]
    assert len({r["fen"].split()[0] for r in puzzles}) == len(puzzles)


def test_registered_dataset_has_standard_columns_and_disjoint_splits(monkeypatch, tmp_path):
    monkeypatch.setenv("W2S_HOME", str(tmp_path))
    monkeypatch.setenv("W2S_SMOKE", "1")
    cp.puzzle_rows.cache_clear()
    try:
        train, test = data.load("chess_puzzles", "train"), data.load("chess_puzzles", "test")
        assert data.get_spec("chess_puzzles").task == "completion"
        for col in ("prompt", "reference", "id", "legal", "fen", "kind"):
            assert col in train.column_names
        assert len(train) == cp.MICRO_PUZZLES["train"] and len(test) == cp.MICRO_PUZZLES["test"]
        assert not {f.split()[0] for f in train["fen"]} & {f.split()[0] for f in test["fen"]}
        assert any((tmp_path / "chess" / "data").glob("*-test.json"))  # cached on disk
    finally:
        cp.puzzle_rows.cache_clear()


def test_bad_split_and_game_count_fail_with_one_line():
    with pytest.raises(W2SError, match="unknown split"):
        cp.generate_puzzles(1, 0, "validation")
    with pytest.raises(W2SError, match="n_games"):
        cp.game_corpus(0, 0)


def test_games_are_lines_in_the_puzzle_format():
    games = cp.game_corpus(1, 5)
    assert games == cp.game_corpus(1, 5)
    for g in games:
        for line in g.splitlines():
            position, _, move = line.rpartition(": ")
            assert position.startswith("white: ") and " move " in position and move


# ----------------------------------------------------------------------------- the micro ladder and W2S
@pytest.fixture(scope="module")
def micro_home(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("W2S_HOME", str(tmp_path_factory.mktemp("chess-home")))
    mp.setenv("W2S_SMOKE", "1")
    cp.puzzle_rows.cache_clear()
    yield
    cp.puzzle_rows.cache_clear()
    mp.undo()


def test_micro_ladder_builds_atomically_and_rebuilds_a_corrupt_rung(micro_home):
    dirs = chessgpt.build_ladder(micro=True)
    assert list(dirs) == list(chessgpt.MICRO_SIZES)
    for d in dirs.values():
        meta = tinygpt.read_marker(d)
        assert meta is not None and 0.0 <= meta["zero_shot_puzzle_acc"] <= 1.0
    params = [tinygpt.read_marker(d)["params"] for d in dirs.values()]
    assert params == sorted(params)
    weights = dirs["chessgpt-s"] / "model.safetensors"
    blob = weights.read_bytes()
    weights.write_bytes(blob[: len(blob) // 2])  # a truncated checkpoint is not complete
    assert tinygpt.read_marker(dirs["chessgpt-s"]) is None
    chessgpt.model_dir("chessgpt-s", micro=True)
    assert weights.read_bytes() == blob  # rebuilt, bit-identical (same seed)


def test_missing_rungs_lists_the_rungs_to_pretrain_and_force_rebuilds(tmp_path, monkeypatch):
    monkeypatch.setenv("W2S_HOME", str(tmp_path))
    need = chessgpt.missing_rungs(0, micro=True, corpus="search")
    assert list(need) == list(chessgpt.MICRO_SIZES) and all(s > 0 for s in need.values())
    assert not (tmp_path / "chess").exists()  # asking writes nothing
    chessgpt.build_ladder(0, micro=True, names=["chessgpt-s"], corpus="search")
    assert list(chessgpt.missing_rungs(0, micro=True, corpus="search")) == ["chessgpt-m", "chessgpt-l"]
    root = chessgpt.ladder_root(0, micro=True, corpus="search")
    stamp = (root / "chessgpt-s" / "model.safetensors").stat().st_mtime_ns
    chessgpt.build_ladder(0, micro=True, names=["chessgpt-s"], corpus="search", force=True)
    assert (root / "chessgpt-s" / "model.safetensors").stat().st_mtime_ns != stamp  # --force rebuilds


def test_a_resized_rung_is_rebuilt_and_its_fits_get_a_new_key(micro_home, monkeypatch):
    old_tag = chessgpt.model_tag("chessgpt-m", micro=True)
    old_fit = cw._fit_cfg(cw.ChessW2SConfig.for_preset("smoke"), "chessgpt-m", None, 0).run_id
    rung = chessgpt.MICRO_SIZES["chessgpt-m"]
    monkeypatch.setitem(chessgpt.MICRO_SIZES, "chessgpt-m", tinygpt.Rung(**{**rung.__dict__, "steps": rung.steps + 1}))
    assert chessgpt.model_tag("chessgpt-m", micro=True) != old_tag
    assert cw._fit_cfg(cw.ChessW2SConfig.for_preset("smoke"), "chessgpt-m", None, 0).run_id != old_fit
    meta = tinygpt.read_marker(chessgpt.model_dir("chessgpt-m", micro=True))
    assert meta["rung"]["steps"] == rung.steps + 1
    monkeypatch.undo()
    assert tinygpt.read_marker(chessgpt.model_dir("chessgpt-m", micro=True))["rung"]["steps"] == rung.steps


def test_prompt_and_answer_tokenize_as_in_pretraining(micro_home):
    _, tok = chessgpt.load("chessgpt-s", micro=True)
    row = data.load("chess_puzzles", "test")[0]
    whole = tok(row["prompt"] + cp.answer_text(row["reference"]), add_special_tokens=False)["input_ids"]
    parts = (tok(row["prompt"], add_special_tokens=False)["input_ids"]
             + tok(cp.answer_text(row["reference"]), add_special_tokens=False)["input_ids"])
    assert whole == parts


def test_finetuning_on_the_answers_teaches_them(micro_home):
    model, tok = chessgpt.load("chessgpt-l", micro=True)
    rows = data.load("chess_puzzles", "train").select(range(24))
    before = chessgpt.puzzle_accuracy(model, tok, rows)
    losses = cw.finetune(model, tok, list(rows["prompt"]), list(rows["reference"]), lr=1e-2, epochs=30,
                         batch_size=8, seed=0)
    assert losses[-1] < losses[0]
    assert chessgpt.puzzle_accuracy(model, tok, rows) > max(before, 0.5)


def test_w2s_pairs_and_bootstrap_at_smoke(micro_home):
    cfg = cw.ChessW2SConfig.for_preset("smoke", {"n_docs": 40, "n_test": 20})
    pairs = cw.run_pairs(cfg, [0])
    assert len(pairs) == 3 and set(pairs["gap"]) == {1, 2}
    for col in ("weak_acc", "w2s_acc", "ceiling_acc", "agreement"):
        assert pairs[col].between(0, 1).all()
    # the protocol's records are the cached fits' own accuracies
    _, top_gt = cw.fit(cfg, cfg.ladder[-1], 0)
    assert (pairs[pairs.strong == cfg.ladder[-1]]["ceiling_acc"] == top_gt["acc"]).all()
    boot = cw.run_bootstrap(cfg, [0])
    assert set(boot["method"]) == {"direct", "bootstrap", "chain"}
    direct = boot[boot.method == "direct"].iloc[0]
    same = pairs[(pairs.weak == cfg.ladder[0]) & (pairs.strong == cfg.ladder[-1])].iloc[0]
    assert direct["w2s_acc"] == same["w2s_acc"]  # the direct student is the cached largest-gap pair
    # the bootstrapped top rung trained on the mid rung's cross-fitted moves, the direct one on the weak model's:
    # two mid students, one per half of D_weak, each labelling only the half it did not train on
    weak_fc = cw.fit(cfg, cfg.ladder[0], 0)[0]
    (fa, a), (fb, b) = (cw.fit(cfg, cfg.ladder[1], 0, weak_fc, half=h) for h in (0, 1))
    assert a["n_train"] == b["n_train"] == 10
    fc_top, top = cw.fit(cfg, cfg.ladder[-1], 0, (fa, fb))
    assert top["n_train"] == 20 and fc_top.supervisor == f"{fa.run_id}+{fb.run_id}"
    assert boot[boot.method == "bootstrap"].iloc[0]["w2s_acc"] == top["acc"]
    moves_a = json.loads((a.path / "preds.json").read_text())["weak"]
    moves_b = json.loads((b.path / "preds.json").read_text())["weak"]
    labels = cw.supervisor_moves(fc_top)
    assert labels[0::2] == moves_b[0::2] and labels[1::2] == moves_a[1::2]  # never labelled in-sample
    # each half picks moves only where they are read: the rows it did not train on, and the test puzzles for half 0
    assert moves_a[0::2] == [None] * 10 and moves_b[1::2] == [None] * 10 and None not in labels
    assert json.loads((b.path / "preds.json").read_text())["test"] == [] and b["acc"] is None
    assert len(json.loads((a.path / "preds.json").read_text())["test"]) == 20 and a["acc"] is not None
    # the top rung never labels for another rung: its fits skip D_weak (a third of a fit's CPU)
    assert fc_top.predict_weak is False and json.loads((top.path / "preds.json").read_text())["weak"] == []
    assert "imitation" not in top.result and top["label_acc"] is None
    assert moves_a and all(cw.fit(cfg, m, 0)[0].predict_weak for m in cfg.ladder[:-1])
    mid = boot[boot.method == "chain"].iloc[0]  # the cross-fitted labels' accuracy on D_weak
    ref = cw.references(cfg, [0])[0][0]
    assert mid["label_acc"] == pytest.approx(np.mean([x == y for x, y in zip(labels, ref)]))
    # in-sample relabelling stays available (cross_fit=False): the mid student trained on all of D_weak
    plain = cw.run_bootstrap(cfg.replace(cross_fit=False), [0])
    fc_mid, _ = cw.fit(cfg, cfg.ladder[1], 0, weak_fc)
    _, top_plain = cw.fit(cfg, cfg.ladder[-1], 0, fc_mid)
    assert plain[plain.method == "bootstrap"].iloc[0]["w2s_acc"] == top_plain["acc"]


def test_trap_errors_split_the_cached_students_accuracy_at_smoke(micro_home):
    cfg = cw.ChessW2SConfig.for_preset("smoke", {"n_docs": 40, "n_test": 20})
    table = cw.trap_errors(cfg, [0]).set_index("model")
    assert list(table.index) == [f"weak ({cfg.ladder[0]})", "direct", "bootstrap", f"ceiling ({cfg.ladder[-1]})"]
    test = cw._rows(cw.fit(cfg, cfg.ladder[0], 0)[0])["test"]
    trap = np.array([r not in cp.grabber_sans(f) for r, f in zip(test["reference"], test["fen"])])
    assert 0 < trap.sum() < len(trap)  # the smoke puzzles hold traps and others
    # traps and the rest, weighed by their counts, give back each cached run's own test accuracy
    boot = cw.run_bootstrap(cfg, [0]).set_index("method")
    for name, acc in (("direct", boot.loc["direct", "w2s_acc"]), ("bootstrap", boot.loc["bootstrap", "w2s_acc"]),
                      (f"weak ({cfg.ladder[0]})", boot.loc["direct", "weak_acc"])):
        row = table.loc[name]
        assert row.acc_traps * trap.sum() + row.acc_other * (~trap).sum() == pytest.approx(acc * len(trap))
    assert table["grabs_on_traps"].between(0, 1).all()


def test_ladder_protocol_scores_moves_as_choices():
    from w2s_lib.generalization.ladder import CHOICES, Preds, ladder_pairs

    y = np.array([["e4", "Nf3", "Qxd5", "Kh1"]], dtype=object)
    picks = {"a": ["e4", "d4", "Qxd5", "Kg1"], "b": ["e4", "Nf3", "Qd1", "Kh1"]}

    def fit(rung, targets, crossfit=False):
        test = picks[rung] if isinstance(targets, str) else ["e4", "d4", "Qxd5", "Kh1"]  # b's student
        return Preds(weak=np.array([["x", "y"]], dtype=object), test=np.array([test], dtype=object))

    (r,) = ladder_pairs(["a", "b"], fit, y, seeds=[0], scoring=CHOICES)
    assert (r["weak_acc"], r["w2s_acc"], r["ceiling_acc"]) == (0.5, 0.75, 0.75) and r["pgr_acc"] == 1.0
    assert r["agreement"] == 0.75 and r["inheritance"] == 0.5 and r["correction"] == 0.5  # repeats d4, fixes Kg1
    assert "w2s_auroc" not in r
    with pytest.raises(W2SError, match="scoring"):
        ladder_pairs(["a", "b"], fit, y, seeds=[0], scoring="moves")


def test_the_two_chess_ladders_differ_only_in_their_games(micro_home):
    lines_g = chessgpt.pretraining_lines(0, True, "greedy")
    lines_s = chessgpt.pretraining_lines(0, True, "search")
    assert lines_g != lines_s and all(x.startswith("white: ") for x in lines_s)
    assert chessgpt.ladder_root(0, True, "greedy") != chessgpt.ladder_root(0, True, "search")
    assert chessgpt.model_tag("chessgpt-s", 0, True, "greedy") != chessgpt.model_tag("chessgpt-s", 0, True, "search")
    with pytest.raises(W2SError, match="corpus"):
        chessgpt.ladder_root(0, True, "random")


def test_the_search_player_never_hangs_its_queen_when_it_plays_its_best():
    import random

    import chess

    board = chess.Board("4k3/8/8/3r4/8/8/3Q4/4K3 w - - 0 1")  # Qxd5 wins the rook; Qd3/Qd4 etc. hang it
    moves = {board.san(cp.policy_move(board, random.Random(i), 1.0, "search")) for i in range(20)}
    assert moves == {"Qxd5"}
    with pytest.raises(W2SError, match="player"):
        cp.policy_move(board, random.Random(0), 1.0, "oracle")


def test_config_rejects_bad_input():
    with pytest.raises(W2SError, match="at least two"):
        cw.ChessW2SConfig(ladder=("chessgpt-s",))
    with pytest.raises(W2SError, match="lrs"):
        cw.ChessW2SConfig(lrs=(1e-3,))
    with pytest.raises(W2SError, match="out of range"):
        cw.ChessW2SConfig.for_preset("tiny", {"train.lr": -1.0})
    with pytest.raises(W2SError, match="unknown chess model"):
        chessgpt.model_dir("chessgpt-xxl", micro=True)


def test_tiny_runs_at_the_lr_rules_rates_and_its_mechanism_off_arm_at_its_own():
    cfg = cw.ChessW2SConfig.preset_values("tiny")  # as stated (W2S_SMOKE may stand smoke in for tiny)
    assert cfg.lrs == cw.RULE_LRS["search"] and cfg.lr_of("chessgpt-m") == 3e-4
    off = cfg.mechanism_off()
    assert (off.corpus, off.lrs) == ("greedy", cw.RULE_LRS["greedy"]) and off.lr_of("chessgpt-l") == 1e-3
    assert off.replace(corpus="search", lrs=cfg.lrs) == cfg  # nothing else differs between the arms
    own = cfg.replace(lrs=(1e-3, 1e-3, 1e-3)).mechanism_off()  # rates not from the rule are kept
    assert own.lrs == (1e-3, 1e-3, 1e-3)
    smoke = cw.ChessW2SConfig.preset_values("smoke").mechanism_off()
    assert smoke.lrs == () and smoke.lr_of("chessgpt-s") == 3e-3


def _bootstrap_rows(direct: list[float], boot: list[float]):
    import pandas as pd

    rows = [{"seed": s, "method": m, "w2s_acc": a, "pgr_acc": a - 0.5}
            for s, (d, b) in enumerate(zip(direct, boot)) for m, a in (("direct", d), ("bootstrap", b))]
    return pd.DataFrame(rows + [{"seed": 0, "method": "chain", "w2s_acc": 0.9, "pgr_acc": 0.4}])


def test_bootstrap_gains_are_paired_by_seed_with_a_t_interval():
    # differences 0.02, 0.04, 0.06: mean 0.04, sd 0.02, se 0.02/sqrt(3), t_{0.975, 2} = 4.302653
    arm = _bootstrap_rows([0.50, 0.60, 0.70], [0.52, 0.64, 0.76])
    g = cw.bootstrap_gains({"skill": arm}).loc["skill"]
    half = 4.302653 * 0.02 / 3 ** 0.5
    assert g["gain"] == pytest.approx(0.04) and g["per_seed"] == pytest.approx([0.02, 0.04, 0.06])
    assert (g["lo"], g["hi"]) == (pytest.approx(0.04 - half, abs=1e-6), pytest.approx(0.04 + half, abs=1e-6))
    assert g["pgr_bootstrap"] == pytest.approx(0.14) and g["pgr_direct"] == pytest.approx(0.10)
    undefined = arm.assign(pgr_acc=float("nan"))  # a ceiling below its weak rung: PGR undefined, gains still paired
    g = cw.bootstrap_gains({"skill": undefined}).loc["skill"]
    assert g["gain"] == pytest.approx(0.04) and np.isnan(g["pgr_bootstrap"]) and np.isnan(g["pgr_direct"])


def test_the_chess_rule_needs_the_gain_with_skill_and_none_without():
    # gains 0.03 / 0.04 / 0.05: lower end 0.04 − 4.303 · 0.01 / √3 = 0.015 > 0; gains 0.1 / −0.1 / 0: mean 0
    up, level = _bootstrap_rows([0.5, 0.6, 0.7], [0.53, 0.64, 0.75]), _bootstrap_rows([0.5, 0.6, 0.7], [0.6, 0.5, 0.7])
    gains = cw.bootstrap_gains({"skill": up, "no skill": level, "skill again": up})
    assert cw.bootstrap_claim_holds(gains, skill="skill", no_skill="no skill")
    assert not cw.bootstrap_claim_holds(gains, skill="no skill", no_skill="skill")
    assert not cw.bootstrap_claim_holds(gains, skill="skill", no_skill="skill again")  # the control shows it too


def test_ci_table_leaves_out_undefined_pgr():
    import pandas as pd

    df = pd.DataFrame({"pair": ["a", "a", "a", "b", "b"], "pgr": [0.1, 0.3, float("nan"), float("nan"), float("nan")]})
    t = cw.ci_table(df, "pair", "pgr")
    assert t.loc["a", "mean"] == pytest.approx(0.2) and t.loc["a", "lo"] < 0.2 < t.loc["a", "hi"]
    assert t.loc["b"].isna().all()


def test_search_ladder_trains_longer_and_compute_grows_along_it(monkeypatch):
    steps = [chessgpt.rung_of(n, corpus="search").steps for n in chessgpt.NAMES]
    assert steps == sorted(steps) and steps[0] < steps[-1]
    assert [chessgpt.rung_of(n, corpus="greedy").steps for n in chessgpt.NAMES] == [r.steps for r in chessgpt.SIZES.values()]
    assert chessgpt.rung_of("chessgpt-l", micro=True, corpus="search") == chessgpt.MICRO_SIZES["chessgpt-l"]
    # the steps are part of the weights' identity: a new schedule never reuses fits of the old one
    before = chessgpt.model_tag("chessgpt-l", corpus="search")
    longer = {**chessgpt.CORPORA["search"], "steps": {**chessgpt.CORPORA["search"]["steps"], "chessgpt-l": 9999}}
    monkeypatch.setitem(chessgpt.CORPORA, "search", longer)
    assert chessgpt.model_tag("chessgpt-l", corpus="search") != before


# ----------------------------------------------------------------------------- notation
def test_uci_notation_writes_from_and_to_squares():
    b = _board("Ka1 Nc3 Pe7", "Kh8 Qd5")
    assert cp.move_text(b, chess.Move.from_uci("c3d5"), "san") == "Nxd5"
    assert cp.move_text(b, chess.Move.from_uci("c3d5"), "uci") == "c3d5"
    assert cp.move_text(b, chess.Move.from_uci("e7e8q"), "uci") == "e7e8q"
    assert cp.parse_move(b, "Nxd5") == cp.parse_move(b, "c3d5") == chess.Move.from_uci("c3d5")
    with pytest.raises(W2SError, match="legal"):
        cp.parse_move(b, "a1a3")  # a king does not move two squares
    with pytest.raises(W2SError, match="notation"):
        cp.move_text(b, chess.Move.from_uci("c3d5"), "lan")


def test_a_prompt_reads_back_as_its_position():
    b = _board("Kg1 Rd1 Pa2", "Kg8 Qd5", turn=chess.BLACK)
    text = cp.prompt(b)
    assert text == "white: Kg1 Rd1 Pa2 black: Kg8 Qd5 move black:"
    assert cp.board_of(text).fen() == b.fen()
    with pytest.raises(W2SError, match="not a chess prompt"):
        cp.board_of("hello")


def test_corpus_lines_and_puzzle_rows_convert_to_uci():
    line = "white: Ka1 Nc3 black: Kh8 Qd5 move white: Nxd5\n"
    assert cp.to_notation(line, "uci") == "white: Ka1 Nc3 black: Kh8 Qd5 move white: c3d5\n"
    assert cp.to_notation(line, "san") == line
    b = _board("Ka1 Nc3", "Kh8 Qd5")
    row = {"fen": b.fen(), "uci": "c3d5", "reference": "Nxd5", "legal": sorted(b.san(m) for m in b.legal_moves)}
    u = cp.in_notation(row, "uci")
    assert u["reference"] == "c3d5" and u["san"] == "Nxd5" and "a1b1" in u["legal"] and "Nxd5" not in u["legal"]
    assert len(u["legal"]) == len(row["legal"])


def test_move_class_names_the_piece_and_whether_it_captures():
    b = _board("Ka1 Nc3", "Kh8 Qd5")
    assert cp.move_class(b.fen(), "Nxd5") == cp.move_class(b.fen(), "c3d5") == "Nx"
    assert cp.move_class(b.fen(), "a1b1") == "K-"


def test_a_chess_rung_refuses_puzzles_in_another_notation():
    cfg = cw.ChessW2SConfig.for_preset("tiny", {"dataset": "chess_puzzles_uci"})
    with pytest.raises(W2SError, match="notation|answer in"):
        cw._fit_cfg(cfg, cfg.ladder[0], None, 0)
    # the adopted world (round 6): both ladders answer the trap-rich puzzles, the chapter's default dataset
    assert chessgpt.dataset_of("search") == chessgpt.dataset_of("greedy") == cp.TRAPS_DATASET
    assert cw.ChessW2SConfig().dataset == cp.TRAPS_DATASET


def test_a_char_vocabulary_spells_every_move_out(monkeypatch):
    tok = tinygpt.train_tokenizer(["white: Kg1 Rd1 black: Kg8 Qd5 move white: Rxd5\n"] * 5, chessgpt.CHAR_VOCAB)
    assert tok.tokenize(" Kxe4\n") == ["Ġ", "K", "x", "e", "4", "Ċ"]
    assert tok.tokenize(" Ke4\n") == ["Ġ", "K", "e", "4", "Ċ"]  # a token a character: no move merges with the prompt's pieces
    monkeypatch.setitem(chessgpt.CORPORA, "search", {**chessgpt.CORPORA["search"], "vocab": chessgpt.CHAR_VOCAB})
    assert chessgpt.vocab_size("search", micro=False) == chessgpt.CHAR_VOCAB
    assert chessgpt.vocab_size("greedy", micro=True) == chessgpt.MICRO_VOCAB_SIZE


def test_corpus_lines_rewrite_into_other_surface_formats():
    line = "white: Kg1 Qd1 black: Kg8 Pa7 move white: Qd8+\n"
    assert cp.in_format(line, "puzzle") == line
    assert cp.in_format(line, "swap") == "white to play; black Kg8 Pa7; white Kg1 Qd1; best: Qd8+\n"
    # square order a1 (0) … h8 (63): d1 (3), g1 (6), a7 (48), g8 (62); black in lower case
    assert cp.in_format(line, "squares") == "white to play; d1Q g1K a7p g8k; best: Qd8+\n"
    black = "white: Kh1 black: Ka8 Rb2 move black: Rb1+\n"
    assert cp.in_format(black, "squares") == "black to play; h1K b2r a8k; best: Rb1+\n"
    for fmt in cp.FORMATS:  # the move still follows the last colon (what move-token pretraining cuts at)
        out = cp.in_format(line, fmt)
        assert out[out.rindex(":") + 1:] == " Qd8+\n"
    with pytest.raises(W2SError, match="unknown format"):
        cp.in_format(line, "fen")
    with pytest.raises(W2SError, match="not a chess corpus line"):
        cp.in_format("hello: e4\n", "swap")


# ----------------------------------------------------------------------------- the mixed-player corpus
def test_the_novice_brings_its_biggest_piece_nearest_the_enemy_king_without_capturing():
    # the queen (not the king) moves; Qxd5 captures and is excluded; of its quiet squares h5 is nearest h8
    # (Chebyshev 3; g4 and d4 are 4): a check, but no mate
    board = _board("Ka1 Qd1", "Kh8 Rd5")
    assert board.san(cp.novice_move(board)) == "Qh5+"
    assert cp.best_move(board) == chess.Move.from_uci("d1d5")  # the puzzle's answer is the capture


def test_the_novice_never_mates_and_breaks_ties_by_manhattan_distance():
    # Ra8# mates (the puzzle's answer); every a-file square is 6 from g8 (Chebyshev), a7 is nearest by Manhattan
    board = _board("Kg1 Ra1", "Kg8 Pf7 Pg7 Ph7")
    assert board.san(cp.best_move(board)) == "Ra8#"
    assert board.san(cp.novice_move(board)) == "Ra7"
    with pytest.raises(W2SError, match="unknown novice"):
        cp.novice_move(board, "random")


def test_a_lone_king_novice_walks_towards_the_enemy_king():
    board = _board("Ka1", "Kh8 Ph3", turn=chess.WHITE)
    assert board.san(cp.novice_move(board)) == "Kb2"  # b2 is 6 from h8 (Chebyshev), a2 and b1 are 7


def test_the_mixed_corpus_keeps_the_positions_and_gives_the_novice_about_1_minus_q(micro_home):
    plain = cp.position_corpus(0, 200, 1.0, True, clear_only=True)
    mixed = cp.position_corpus(0, 200, 1.0, True, clear_only=True, novice="approach", q=0.4)
    head = [ln.rpartition(":")[0] for ln in plain]
    assert head == [ln.rpartition(":")[0] for ln in mixed]  # the same positions, in the same order
    expert = np.mean([a == b for a, b in zip(plain, mixed)])
    assert 0.3 < expert < 0.5  # binomial(200, 0.4): ± 3.5 standard deviations
    for ln, p in zip(mixed, plain):  # every changed line holds the novice's move, never the expert's
        if ln != p:
            board = cp.board_of(ln.rpartition(":")[0] + ":")
            assert ln.endswith(cp.answer_text(board.san(cp.novice_move(board))))
    cp.position_corpus.cache_clear()
    assert cp.position_corpus(0, 200, 1.0, True, clear_only=True, novice="approach", q=0.4) == mixed  # from disk
    for f in cp.data_dir().glob("*approach*"):
        f.unlink()
    cp.position_corpus.cache_clear()
    assert cp.position_corpus(0, 200, 1.0, True, clear_only=True, novice="approach", q=0.4) == mixed  # deterministic
    with pytest.raises(W2SError, match="unknown novice"):
        cp.position_corpus(0, 10, 1.0, True, clear_only=True, novice="random", q=0.4)
    with pytest.raises(W2SError, match="probability"):
        cp.position_corpus(0, 10, 1.0, True, clear_only=True, novice="approach", q=1.5)


def test_a_novice_corpus_is_a_new_ladder_with_new_keys(monkeypatch):
    root, tag = chessgpt.ladder_root(0, False, "search"), chessgpt.model_tag("chessgpt-l", corpus="search")
    monkeypatch.setitem(chessgpt.CORPORA, "search", {**chessgpt.CORPORA["search"], "novice": "approach", "q": 0.4})
    root4, tag4 = chessgpt.ladder_root(0, False, "search"), chessgpt.model_tag("chessgpt-l", corpus="search")
    assert root4 != root and tag4 != tag
    monkeypatch.setitem(chessgpt.CORPORA, "search", {**chessgpt.CORPORA["search"], "q": 0.25})
    assert chessgpt.ladder_root(0, False, "search") != root4
    assert chessgpt.model_tag("chessgpt-l", corpus="search") != tag4


# ----------------------------------------------------------------------------- trap-rich puzzles (round 5)
def test_a_trap_the_grabber_takes_a_defended_rook_and_the_criterion_wins_a_bishop():
    # Qxd5 grabs the rook (5) but exd5 (or Bxd5) takes the queen back: -4; Bxe4 wins the bishop clean: +3
    b = _board("Kg1 Qa2 Bb1", "Kh8 Rd5 Pe6 Be4")
    scores = cp.move_scores(b)
    assert scores[b.parse_san("Qxd5")] == 5 - 9 and scores[b.parse_san("Bxe4")] == 3
    assert b.san(cp.best_move(b)) == "Bxe4"
    assert [b.san(m) for m in cp.grabber_moves(b)] == ["Qxd5"] and cp.grabber_sans(b.fen()) == {"Qxd5"}
    assert cp.is_trap(b, b.parse_san("Bxe4")) and not cp.is_trap(b, b.parse_san("Qxd5"))


def test_no_trap_where_the_answer_is_the_biggest_capture():
    b = _board("Ka1 Nc3", "Kh8 Qd5")
    assert not cp.is_trap(b, cp.best_move(b))


def test_the_bait_goes_where_grabbing_it_loses_and_planting_it_makes_the_trap():
    import random

    base = _board("Kg1 Qa2 Bb1", "Kh8 Pe6 Be4")  # Bxe4 wins a bishop (+3)
    move = cp.best_move(base)
    scores = cp.move_scores(base)
    options = cp.bait_options(base, move, scores[move])
    assert (chess.D5, chess.ROOK) in options  # the queen attacks d5; e6 and e4 defend it
    assert all(base.piece_at(sq) is None and base.attackers(chess.BLACK, sq) for sq, _ in options)
    assert not cp.bait_options(_board("Kg1 Bb1", "Kh8 Pe6 Be4"), move, 3)  # no rook or queen to take a bait
    assert set(options) == {(sq, bait) for sq in (chess.G2, chess.D5, chess.A8) for bait in (chess.ROOK, chess.QUEEN)}
    # only the rook on d5 leaves a clear answer the grabber misses: a queen there, or a bait on a8, attacks our
    # queen; one on g2 gives check — so every trap planted here is that one
    found = [cp.planted_trap(base, move, scores, random.Random(k)) for k in range(20)]
    assert any(found)
    for board, answer, tscores in filter(None, found):
        assert board.piece_at(chess.D5) == chess.Piece(chess.ROOK, chess.BLACK) and board.san(answer) == "Bxe4"
        assert cp.is_trap(board, answer) and cp.best_move(board, cp.move_scores(board)) == answer
    mate = _board("Kg1 Ra1", "Kg8 Pf7 Pg7 Ph7")  # a mate is never a trap: the grabber mates too
    assert cp.planted_trap(mate, cp.best_move(mate), cp.move_scores(mate), random.Random(0)) is None


def test_trap_slots_hold_the_share_in_every_prefix():
    for share in (0.0, 0.25, 0.4, 1.0):
        slots = [cp.trap_slot(i, share) for i in range(100)]
        assert all(abs(sum(slots[:n]) - share * n) < 1 for n in range(1, 101))


def test_trap_rich_puzzles_are_verified_puzzles_with_the_trap_share(micro_home):
    rows = cp.puzzle_rows(0, "test", True, cp.TRAP_SHARE)
    assert len(rows) == cp.MICRO_PUZZLES["test"]
    traps = []
    for r in rows:
        b = chess.Board(r["fen"])
        assert b.san(cp.best_move(b, cp.move_scores(b))) == r["reference"]  # the criterion, by full search
        traps.append(cp.is_trap(b, b.parse_san(r["reference"])))
    assert np.mean(traps) >= cp.TRAP_SHARE  # the planted ones, and the rare natural traps
    train = {r["fen"].split(" ")[0] for r in cp.puzzle_rows(0, "train", True, cp.TRAP_SHARE)}
    assert not train & {r["fen"].split(" ")[0] for r in rows}
    plain = cp.puzzle_rows(0, "test", True)
    assert np.mean([cp.is_trap(chess.Board(r["fen"]), chess.Move.from_uci(r["uci"])) for r in plain]) < 0.1
    assert len(data.load(cp.TRAPS_DATASET, "test", seed=0)) == len(rows)
    with pytest.raises(W2SError, match="share of trap puzzles"):
        cp.puzzle_rows(0, "test", True, 1.5)


def test_a_trap_rich_corpus_holds_the_trap_share_and_needs_clear_positions(micro_home):
    lines = cp.position_corpus(0, 200, 1.0, True, clear_only=True, traps=cp.TRAP_SHARE)
    traps = []
    for ln in lines:
        head, _, move = ln.rstrip("\n").rpartition(": ")
        b = cp.board_of(head + ":")
        traps.append(cp.is_trap(b, b.parse_san(move)))
    assert np.mean(traps) >= cp.TRAP_SHARE
    assert cp.position_corpus(0, 200, 1.0, True, clear_only=True) != lines  # the plain corpus keeps its file
    with pytest.raises(W2SError, match="clear_only"):
        cp.position_corpus(0, 10, 1.0, True, traps=0.4)


def test_trap_rich_and_plain_ladders_are_different_ladders_answering_their_own_puzzles(monkeypatch):
    keys = {c: (chessgpt.ladder_root(0, False, c), chessgpt.model_tag("chessgpt-l", corpus=c)) for c in chessgpt.CORPORA}
    assert chessgpt.dataset_of("search") == cp.TRAPS_DATASET  # the adopted world (round 6)
    for c in chessgpt.CORPORA:
        monkeypatch.setitem(chessgpt.CORPORA, c, {k: v for k, v in chessgpt.CORPORA[c].items() if k != "traps"})
        assert chessgpt.dataset_of(c) == cp.DATASETS[chessgpt.NOTATION]
        new = (chessgpt.ladder_root(0, False, c), chessgpt.model_tag("chessgpt-l", corpus=c))
        assert new[0] != keys[c][0] and new[1] != keys[c][1]
    monkeypatch.setitem(chessgpt.CORPORA, "search", {**chessgpt.CORPORA["search"], "traps": 0.3})
    with pytest.raises(W2SError, match="trap share"):
        chessgpt.dataset_of("search")
