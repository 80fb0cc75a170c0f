"""C4's slang task: the world, the splits, the unlabelled text with and without its signal, the effects."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from w2s_lib.core.errors import W2SError
from w2s_lib.generalization import generative as g


def _word(text: str) -> str:
    return re.sub(r"[.]$", "", text).split()[-1]


def test_slang_world_is_half_praise_half_blame_and_depends_on_the_world():
    a, b = g.slang(0), g.slang(1)
    assert set(a) == set(g.SLANG_POOL) and sum(v > 0 for v in a.values()) == len(a) // 2
    assert a == g.slang(0) and a != b
    assert not set(a) & set(g.known_words())  # slang words are not sentiment words


def test_gt_split_never_shows_slang_and_labels_follow_polarity_and_negation():
    sl, kw = g.slang(0), g.known_words()
    gt = g.labelled_rows(0, "gt", 200, seed=3, slang_frac=0.5, neg_frac=0.3)
    assert {r["kind"] for r in gt} == {"known"}
    test = g.labelled_rows(0, "test", 400, seed=3, slang_frac=0.5, neg_frac=0.3)
    assert {r["kind"] for r in test} == {"known", "slang"}
    for r in gt + test:
        pol = {**sl, **kw}[_word(r["text"])]
        assert r["label"] == int((pol > 0) != (" not " in r["text"]))
    assert g.labelled_rows(0, "test", 5, 3, 0.5, 0.3) == g.labelled_rows(0, "test", 5, 3, 0.5, 0.3)
    with pytest.raises(W2SError, match="split"):
        g.labelled_rows(0, "train", 5, 0, 0.5, 0.3)


def test_unlabelled_reviews_carry_the_signal_only_when_asked():
    words = {**g.known_words(), **g.slang(0)}

    def agree(pairs):
        return sum(words[_word(a)] == words[_word(b)] for a, b in pairs) / len(pairs)

    assert agree(g.unlabelled_pairs(0, 300, signal=True)) == 1.0
    assert 0.35 < agree(g.unlabelled_pairs(0, 300, signal=False)) < 0.65
    used = {_word(x) for p in g.unlabelled_pairs(0, 300, True) for x in p}
    assert set(g.slang(0)) <= used  # every slang word appears in the unlabelled text


def test_effects_are_per_seed_pgr_differences():
    table = pd.DataFrame([{"seed": s, "arm": a, "pgr": v} for s, vals in ((0, (0.1, 0.5, 0.2)), (1, (0.0, 0.3, -0.1)))
                          for a, v in zip(g.ARMS, vals)])
    eff = g.effects(table)
    assert eff["generative"].tolist() == pytest.approx([0.4, 0.3])
    assert eff["control"].tolist() == pytest.approx([0.1, -0.1])


def test_contrastive_pass_lowers_its_loss():
    from w2s_lib.models import zoo

    model, tok = zoo.load_backbone("minilm-l1"), zoo.load_tokenizer("minilm-l1")
    pairs = g.unlabelled_pairs(0, 16, signal=True)
    losses = g.contrastive_finetune(model, tok, pairs, epochs=6, lr=3e-4, batch=8, scale=20.0, seed=0)
    assert len(losses) == 12 and min(losses[-3:]) < losses[0]
    with pytest.raises(W2SError, match="two pairs"):
        g.contrastive_finetune(model, tok, pairs[:1], 1, 1e-4, 8, 20.0, 0)


def test_reachable_rows_train_the_same_weights():
    """AdamW on the rows the texts reach equals AdamW on the whole embedding table, to the bit."""
    import copy

    import torch

    from w2s_lib.models import zoo

    base, tok = zoo.load_backbone("minilm-l1"), zoo.load_tokenizer("minilm-l1")
    pairs = g.unlabelled_pairs(0, 12, signal=True)
    texts = [s for pair in pairs for s in pair]

    def steps(model, rows=None):
        torch.manual_seed(0)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
        model.train()
        for k in range(3):
            batch = pairs[4 * k: 4 * k + 4]
            a = g._embed(model, tok, [p[0] for p in batch], rows)
            b = g._embed(model, tok, [p[1] for p in batch], rows)
            loss = torch.nn.functional.cross_entropy(20 * a @ b.T, torch.arange(len(batch)))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return model

    full = steps(copy.deepcopy(base))
    part = copy.deepcopy(base)
    table = part.get_input_embeddings()
    with g.reachable_rows(part, tok, texts) as rows:
        assert part.get_input_embeddings().num_embeddings < table.num_embeddings
        assert int(rows[tok.pad_token_id]) >= 0 and int(rows.min()) == -1
        steps(part, rows)
    assert part.get_input_embeddings() is table
    want, got = full.state_dict(), part.state_dict()
    assert list(want) == list(got) and all(torch.equal(want[k], got[k]) for k in want)
    assert not torch.equal(want["embeddings.word_embeddings.weight"], base.state_dict()["embeddings.word_embeddings.weight"])


def test_presets_validate():
    for preset in ("smoke", "tiny", "colab", "paper"):
        cfg = g.SlangConfig.for_preset(preset)
        assert cfg.strong.startswith("minilm")
    with pytest.raises(W2SError):
        g.SlangConfig.for_preset("tiny", {"slang_frac": 2.0})


def test_sentence_space_holds_every_labelled_sentence_once():
    space = g.sentence_space(0)
    assert len(space) == len(set(space)) == len({**g.known_words(), **g.slang(0)}) * len(g.ITEMS) * 2 * 4
    rows = g.labelled_rows(0, "test", 300, seed=1, slang_frac=0.5, neg_frac=0.3)
    assert {r["text"] for r in rows} <= set(space)


def test_weak_supervisor_is_a_smaller_minilm_at_tiny_and_labels_from_its_own_features(tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.setenv("W2S_HOME", str(tmp_path))
    assert g.SlangConfig.for_preset("tiny").weak == "minilm-l1" and g.SlangConfig.for_preset("smoke").weak == "bow"
    cfg = g.SlangConfig.for_preset("smoke", {"weak": "minilm-l1", "n_gt": 40, "n_weak": 30, "n_test": 20})
    rows = {s: g.labelled_rows(0, s, n, 0, 0.5, 0.3) for s, n in (("gt", 40), ("weak", 30), ("test", 20))}
    (p,) = g.weak_labels(cfg, [rows], seeds=[0])
    assert p["weak"].shape == (30,) and p["test"].shape == (20,) and ((p["test"] > 0) & (p["test"] < 1)).all()
    assert not np.allclose(p["weak"], g.weak_labels(cfg.replace(weak="bow"), [rows], seeds=[0])[0]["weak"])
    assert cfg.run_id != cfg.replace(weak="bow").run_id  # a new supervisor never reuses the old runs


def test_an_undefined_control_pgr_leaves_the_claims_seeds_alone():
    nan = float("nan")
    table = pd.DataFrame([{"seed": s, "arm": a, "pgr": v} for s, vals in ((0, (0.1, 0.5, nan)), (1, (0.0, 0.3, 0.2)),
                                                                        (2, (nan, 0.4, 0.1)))
                          for a, v in zip(g.ARMS, vals)])
    eff = g.effects(table)
    assert eff["generative"].dropna().to_dict() == pytest.approx({0: 0.4, 1: 0.3})
    assert eff["control"].dropna().to_dict() == pytest.approx({1: 0.2})


def test_seeds_computed_together_match_each_seed_alone(tmp_path, monkeypatch):
    """`run` fits every uncached seed's heads in one batch; each seed's record is the one it gets alone."""
    cfg = g.SlangConfig.for_preset("smoke", {"weak": "minilm-l1", "n_gt": 40, "n_weak": 30, "n_test": 20, "n_pairs": 16})
    monkeypatch.setenv("W2S_HOME", str(tmp_path / "together"))
    together = g.run(cfg, [0, 1, 2])
    monkeypatch.setenv("W2S_HOME", str(tmp_path / "alone"))
    alone = pd.DataFrame([r for s in (0, 1, 2) for r in g.run_seed(cfg, s)["rows"]]).astype({"pgr": float})
    assert list(together.seed) == [0, 0, 0, 1, 1, 1, 2, 2, 2] and list(together.arm) == list(g.ARMS) * 3
    pd.testing.assert_frame_equal(together, alone, atol=1e-6)
    # a second call reads the cached runs, one per seed
    monkeypatch.setenv("W2S_HOME", str(tmp_path / "together"))
    pd.testing.assert_frame_equal(g.run(cfg, [2, 0]), together[together.seed.isin([2, 0])].sort_values("seed", key=lambda v: v.map({2: 0, 0: 1}), kind="stable").reset_index(drop=True))
