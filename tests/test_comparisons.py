"""Comparisons: the pairwise reward model (logit = r(a) − r(b)), the LM log-likelihood score, and the
comparison views of preference data and of true/false twin statements (micro zoo, seconds)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from w2s_lib import data
from w2s_lib.generalization import pipeline as w2s
from w2s_lib.core.config import TrainStage
from w2s_lib.core.errors import W2SError
from w2s_lib.train import classifier as C

LOGLIK = C.TrainArgs(head="loglik", stage=TrainStage(lr=3e-3, epochs=4, batch_size=4), max_length=32)


def test_loglik_score_is_the_sum_of_next_token_log_probs(micro_zoo_env):
    model, tok = C.build_model("tinygpt-xs", LOGLIK, pairs=True)
    lm = model.scorer.lm
    text = "User: Where does Bado live?\nAssistant: Bado lives in Paris."
    ids = tok(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = lm(input_ids=ids).logits[0].double()
        logp = torch.log_softmax(logits, dim=-1)
        want = sum(float(logp[t - 1, ids[0, t]]) for t in range(1, ids.shape[1]))  # by hand, token by token
        got = model.scorer.reward(ids, torch.ones_like(ids))
    assert float(got[0]) == pytest.approx(want, rel=1e-4, abs=1e-3)


def test_pair_probability_is_sigmoid_of_the_reward_difference_and_padding_free(micro_zoo_env):
    model, tok = C.build_model("tinygpt-xs", LOGLIK, pairs=True)
    pairs = [("Q: a b c", "Q: a b d e f g"), ("Bado lives in Paris.", "Bado lives in Rome."), ("x", "x y")]
    args = C.TrainArgs(head="loglik", eval_batch_size=2)  # batches mix lengths: padding must not matter
    p = C.predict_proba(model, tok, pairs, args)
    for (a, b), got in zip(pairs, p):
        r = []
        for t in (a, b):
            enc = tok(t, return_tensors="pt")
            with torch.no_grad():
                r.append(float(model.scorer.reward(enc["input_ids"], enc["attention_mask"])[0]))
        assert got == pytest.approx(1 / (1 + np.exp(-(r[0] - r[1]))), abs=1e-4)
    swapped = C.predict_proba(model, tok, [(b, a) for a, b in pairs], args)
    assert np.allclose(p + swapped, 1.0, atol=1e-5)  # symmetric: P(a ≻ b) = 1 − P(b ≻ a)


def test_linear_head_reward_model_starts_indifferent(micro_zoo_env):
    model, tok = C.build_model("tinygpt-xs", C.TrainArgs(head="linear"), pairs=True)
    p = C.predict_proba(model, tok, [("good reply", "a much worse and longer reply")])
    assert p[0] == pytest.approx(0.5)  # zero-initialised head: r = 0 for every text


def test_loglik_needs_pairs_and_probe_needs_single_texts(micro_zoo_env):
    with pytest.raises(W2SError, match="comparisons only"):
        C.build_model("tinygpt-xs", LOGLIK)
    with pytest.raises(W2SError, match="probe"):
        C.train_classifier("tinygpt-xs", [("a", "b")], [1.0], C.TrainArgs(mode="probe"))
    with pytest.raises(W2SError, match="mix"):
        C.train_classifier("tinygpt-xs", [("a", "b"), "c"], [1.0, 0.0], LOGLIK)
    with pytest.raises(W2SError, match="causal"):
        C.build_model("minilm-l1", LOGLIK, pairs=True)


def test_reward_model_learns_a_preference(micro_zoo_env):
    # prefer one colour word over another (one token each): the untrained model is indifferent
    from w2s_lib.data.tinyworld.scorers import ATTRIBUTES

    liked, other = ATTRIBUTES["colour"][:2]
    pairs, labels = [], []
    for i, word in enumerate(["apple", "river", "stone", "cloud", "table", "lamp", "house", "music"]):
        good, bad = f"The colour of the {word} is {liked}.", f"The colour of the {word} is {other}."
        pairs.append((good, bad) if i % 2 else (bad, good))
        labels.append(float(i % 2))
    fit = C.train_classifier("tinygpt-xs", pairs, labels, LOGLIK, seed=0)
    acc = float(np.mean((fit.predict_proba(pairs) > 0.5) == np.asarray(labels, bool)))
    assert acc == 1.0
    assert fit.losses[-1] < 0.5 * fit.losses[0]


def test_preference_rows_become_balanced_comparisons():
    src = data.load("tiny_helpful", "test")
    rows = w2s.comparison_rows(src)
    assert len(rows) == len(src) and 0.35 < np.mean(rows["label"]) < 0.65
    by_id = {r["id"]: r for r in src}
    for r in rows.select(range(40)):
        s = by_id[r["id"]]
        chosen, rejected = s["prompt"] + s["chosen"], s["prompt"] + s["rejected"]
        assert (r["text"], r["text_b"]) == ((chosen, rejected) if r["label"] else (rejected, chosen))
        assert r["soft_label"] == float(r["label"])
    assert w2s.comparison_rows(src)["label"] == rows["label"]  # the order coin is fixed per row, not random


def test_twins_differ_only_in_the_value_and_the_true_side_is_labelled():
    src = data.load("tiny_facts", "test")
    rows = w2s.comparison_rows(src, "twins")
    assert len(rows) == int(np.sum(src["label"]))  # every true statement has its false twin
    facts = {r["text"]: r for r in src}
    for r in rows.select(range(60)):
        a, b = facts[r["text"]], facts[r["text_b"]]
        true, false = (a, b) if r["label"] else (b, a)
        assert true["label"] == 1 and false["label"] == 0
        assert true["entity"] == false["entity"] and true["attribute"] == false["attribute"]
        assert true["text"].replace(true["value"], "#") == false["text"].replace(false["value"], "#")
    with pytest.raises(W2SError, match="twins"):
        w2s.comparison_rows(data.load("tiny_sentiment", "test"), "twins")
    with pytest.raises(W2SError, match="comparisons need"):
        w2s.comparison_rows(data.load("tiny_sentiment", "test"))


def test_pipeline_rows_and_task_text_for_comparisons():
    rows = w2s.w2s_data("tiny_helpful", 40, 20, seed=1, val_frac=0.1)
    assert "text_b" in rows["weak_train"].column_names
    pairs = w2s.texts_of(rows["weak_train"])
    assert all(isinstance(p, tuple) and len(p) == 2 for p in pairs)
    text = w2s.task_text(rows["gt_train"], rows["weak_train"])
    every = {t for k in ("gt_train", "weak_train") for p in w2s.texts_of(rows[k]) for t in p}
    assert set(text) == every and len(text) == len(every)  # both sides, once each, no labels
    assert w2s.texts_of(w2s.w2s_data("tiny_sentiment", 20, 10, seed=1)["test"])[0].__class__ is str


def test_late_fields_keep_earlier_run_ids():
    c = w2s.W2SConfig.for_preset("tiny")
    assert "pairing" not in c.result_fields() and "pairing" not in w2s._fit_cfg(c, "minilm-l2", None, 0).result_fields()
    assert c.replace(pairing="twins").run_id != c.run_id
    fc = w2s._fit_cfg(c.replace(pairing="twins"), "minilm-l2", None, 0)
    assert fc.result_fields()["pairing"] == "twins"


def test_reward_model_run_with_generative_finetuning_reads_both_sides(micro_zoo_env, monkeypatch):
    calls = []
    real = w2s.generative_finetune

    def spy(model, texts, *a, **kw):
        calls.append(list(texts))
        return real(model, texts, *a, **kw)

    monkeypatch.setattr(w2s, "generative_finetune", spy)
    cfg = w2s.W2SConfig.for_preset("smoke", {"dataset": "tiny_helpful", "ladder": ("tinygpt-xs",), "mode": "full",
                                             "head": "loglik", "n_docs": 16, "n_test": 8, "train.epochs": 1.0,
                                             "train.batch_size": 4, "train.lr": 1e-3, "generative_epochs": 1.0,
                                             "gt_domains": ()})  # the smoke preset's sentiment domain shift
    fc, art = w2s.fit_gt(cfg, "tinygpt-xs", 0)
    rows = w2s._fit_data(fc)
    assert calls == [w2s.task_text(rows["gt_train"], rows["weak_train"])]
    assert 0.0 <= art["acc"] <= 1.0 and art["n_train"] == len(rows["gt_train"])
    preds = np.load(art.path / "preds.npz")
    assert preds["test"].shape == (len(rows["test"]),)


def test_zero_shot_scores_the_untrained_rungs_on_the_test_split(micro_zoo_env):
    cfg = w2s.comparison_config("reward", "smoke", {"ladder": ("tinygpt-xs",)})
    got = w2s.zero_shot(cfg, seed=2)
    test = w2s.w2s_data(cfg.dataset, cfg.n_docs, cfg.n_test, 2, pairing=cfg.pairing)["test"]
    model, tok = C.build_model("tinygpt-xs", C.TrainArgs(head="loglik"), pairs=True)
    p = C.predict_proba(model, tok, w2s.texts_of(test))
    assert list(got.index) == ["tinygpt-xs"]
    assert got["tinygpt-xs"] == pytest.approx(float(np.mean((p > 0.5) == np.asarray(test["label"], bool))))


def test_comparison_configs_per_preset(monkeypatch):
    monkeypatch.delenv("W2S_SMOKE", raising=False)  # the micro-zoo fixture of this module sets it (tiny → smoke)
    tiny = w2s.comparison_config("knowledge", "tiny")
    assert (tiny.dataset, tiny.pairing, tiny.head, tiny.mode) == ("tiny_facts", "twins", "loglik", "full")
    assert tiny.ladder == ("tinygpt-xs", "tinygpt-s", "tinygpt-m", "tinygpt-l")
    assert w2s.comparison_config("reward", "tiny").dataset == "tiny_helpful"
    assert w2s.comparison_config("knowledge", "paper") == w2s.W2SConfig.for_preset("paper")  # the official sciq sweep
    paper_rm = w2s.comparison_config("reward", "paper")
    assert (paper_rm.dataset, paper_rm.train.epochs, paper_rm.train.lr) == ("hh_helpful", 1.0, 1e-5)
    assert w2s.comparison_config("reward", "tiny", {"train.lr": 1e-4}).train.lr == 1e-4
    with pytest.raises(W2SError):
        w2s.comparison_config("chess", "tiny")
    with pytest.raises(W2SError):
        w2s.comparison_config("reward", "tiny", {"nope": 1})


def test_probe_mode_refuses_comparisons_before_any_work():
    cfg = w2s.W2SConfig.for_preset("smoke", {"dataset": "tiny_helpful", "ladder": ("minilm-l1",), "mode": "probe",
                                             "n_docs": 20, "n_test": 10})
    with pytest.raises(W2SError, match="probe"):
        w2s.fit_gt(cfg, "minilm-l1", 0)
