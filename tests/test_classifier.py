"""The classification trainer (HF Trainer + W2S loss): real training on the smallest models, seconds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from w2s_lib.core.config import TrainStage
from w2s_lib.core.errors import W2SError
from w2s_lib.models.heads import pool_last_nonpad
from w2s_lib.train import classifier as C

TEXTS = ["a wonderful great day", "truly excellent and nice", "great great fine", "nice and lovely food",
         "a terrible awful day", "truly bad and poor", "awful awful rude", "poor and nasty food"] * 4
LABELS = ([1] * 4 + [0] * 4) * 4
FAST = C.TrainArgs(stage=TrainStage(lr=1e-3, epochs=3, batch_size=8), max_length=16, freeze_embeddings=True)


def test_official_defaults():
    a = C.OFFICIAL
    assert (a.stage.lr, a.stage.epochs, a.stage.batch_size, a.max_length) == (5e-5, 2.0, 32, 1024)
    assert (a.stage.weight_decay, a.scheduler, a.stage.warmup_ratio, a.dropout) == (0.0, "cosine", 0.0, 0.0)
    targs = C.training_arguments(a, 0, "/tmp/unused", 64)
    assert targs.optim == "adamw_torch" and targs.weight_decay == 0.0 and targs.warmup_steps == 0
    assert targs.lr_scheduler_type == "cosine" and targs.report_to == [] and targs.save_strategy == "no"
    assert targs.train_sampling_strategy == "group_by_length"


def test_bad_args_fail_early():
    with pytest.raises(W2SError):
        C.TrainArgs(mode="qlora")
    with pytest.raises(W2SError):
        C.TrainArgs(loss="xent", loss_params=(("alpha", 0.5),))
    with pytest.raises(W2SError):
        C.train_classifier("minilm-l1", ["a", "b"], [0.5], FAST)
    with pytest.raises(W2SError):
        C.train_classifier("minilm-l1", ["a"], [1.5], FAST)


def test_zero_init_head_starts_at_one_half_and_dropout_is_off():
    model, tok = C.build_model("minilm-l1", C.OFFICIAL)
    assert all(m.p == 0.0 for m in model.modules() if isinstance(m, nn.Dropout))
    p = C.predict_proba(model, tok, TEXTS[:5])
    assert np.allclose(p, 0.5)


def test_collator_pads_dynamically_and_builds_soft_targets():
    _, tok = C.build_model("minilm-l1", C.OFFICIAL)
    rows = C._tokenize(tok, ["short", "a much longer sentence than the first one"], C.OFFICIAL)
    batch = C.SoftLabelCollator(tok)([{**rows[0], "soft_label": 0.25}, {**rows[1], "soft_label": 1.0}])
    assert batch["input_ids"].shape[1] == len(rows[1]["input_ids"])  # the batch's own longest row
    assert torch.allclose(batch["labels"], torch.tensor([[0.75, 0.25], [0.0, 1.0]]))


def test_trainer_learns_calls_the_loss_with_step_frac_and_is_deterministic(monkeypatch):
    seen = []
    real = C.get_loss

    def recording(name, **params):
        fn = real(name, **params)

        def wrapped(logits, targets, step_frac):
            seen.append(step_frac)
            assert targets.shape == logits.shape and torch.allclose(targets.sum(1), torch.ones(len(targets)))
            return fn(logits, targets, step_frac)
        return wrapped

    monkeypatch.setattr(C, "get_loss", recording)
    fit = C.train_classifier("minilm-l1", TEXTS, LABELS, FAST, seed=0)
    assert fit.losses[0] == pytest.approx(np.log(2), abs=1e-4)  # zero head: P = 0.5
    assert np.mean(fit.losses[-3:]) < 0.5 * fit.losses[0]
    steps = 3 * len(TEXTS) // 8
    assert seen[0] == 0.0 and seen[-1] == pytest.approx((steps - 1) / steps)
    assert seen == sorted(seen)
    p = fit.predict_proba(TEXTS[:8])
    assert ((p > 0.5) == np.array(LABELS[:8], bool)).all()
    again = C.train_classifier("minilm-l1", TEXTS, LABELS, FAST, seed=0).predict_proba(TEXTS[:8])
    assert np.array_equal(p, again)


def test_prediction_sorted_by_length_keeps_input_order():
    fit = C.train_classifier("minilm-l1", TEXTS[:8], LABELS[:8], dataclasses.replace(FAST, stage=dataclasses.replace(FAST.stage, epochs=1.0)))
    texts = ["great", "a terrible awful day with more words in it", "nice", "poor and nasty food indeed"]
    batched = C.predict_proba(fit.model, fit.tokenizer, texts, fit.args)
    single = np.concatenate([C.predict_proba(fit.model, fit.tokenizer, [t], fit.args) for t in texts])
    assert np.allclose(batched, single, atol=1e-5)


def test_soft_targets_and_logconf_train():
    soft = np.where(np.array(LABELS) == 1, 0.8, 0.2)
    args = C.TrainArgs(**{**FAST.__dict__, "loss": "logconf", "loss_params": (("alpha", 0.5),)})
    fit = C.train_classifier("minilm-l1", TEXTS, soft, args, seed=1)
    assert np.isfinite(fit.losses).all() and len(fit.losses) == 12


def test_lora_trains_adapters_and_head_only():
    args = C.TrainArgs(**{**FAST.__dict__, "mode": "lora", "lora_r": 2, "freeze_embeddings": False})
    model, _ = C.build_model("minilm-l1", args)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n or n.startswith("head.") for n in trainable)
    assert any(n.startswith("head.") for n in trainable)
    fit = C.train_classifier("minilm-l1", TEXTS, LABELS, dataclasses.replace(args, stage=dataclasses.replace(args.stage, lr=3e-3)), seed=0)
    assert np.mean(fit.losses[-3:]) < fit.losses[0]


def test_probe_mode_uses_frozen_features_and_the_loss():
    args = C.TrainArgs(mode="probe", probe_steps=100, loss="product")
    fit = C.train_classifier("minilm-l2", TEXTS, LABELS, args, seed=0)
    assert fit.model is None and fit.probe is not None
    assert fit.losses[-1] < fit.losses[0]
    p = fit.predict_proba(TEXTS[:8])
    assert ((p > 0.5) == np.array(LABELS[:8], bool)).mean() >= 0.75


def test_lm_head_classifier_reads_the_answer_token_logits(micro_zoo_env):
    from w2s_lib.models import zoo

    args = C.TrainArgs(head="lm", answer_tokens=(" Rating: negative", " Rating: positive"))
    with pytest.raises(W2SError, match="one token"):
        C.build_model("tinygpt-xs", args)
    tok = zoo.load_tokenizer("tinygpt-xs")
    # two answer strings that are one token each in the world's tokenizer
    vocab = [t for t in (" positive", " negative", " true", " false", " yes", " no")
             if len(tok(t, add_special_tokens=False)["input_ids"]) == 1]
    assert len(vocab) >= 2
    answers = (vocab[1], vocab[0])
    model, tok = C.build_model("tinygpt-xs", C.TrainArgs(head="lm", answer_tokens=answers))
    ids = C.answer_token_ids(tok, answers)
    assert model.token_ids.tolist() == ids == [tok(a, add_special_tokens=False)["input_ids"][0] for a in answers]
    batch = tok(["Review: the food is good.", "Review: bad"], padding=True, return_tensors="pt")
    with torch.no_grad():
        got = model(**batch).logits
        full = model.lm(**batch).logits
    want = pool_last_nonpad(full, batch["attention_mask"])[:, ids]
    assert torch.allclose(got, want, atol=1e-4)
    with pytest.raises(W2SError, match="causal"):
        C.build_model("minilm-l1", C.TrainArgs(head="lm"))
