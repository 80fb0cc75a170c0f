"""Part IV (Yang et al.): the conflict losses on hand-computed cases, and a smoke run of the pipeline."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from w2s_lib.deception import reward as D
from w2s_lib.core.errors import W2SError

LN3 = math.log(3.0)  # σ(ln 3) = 0.75, σ(−ln 3) = 0.25


def test_no_conflict_is_soft_cross_entropy():
    # M = 0.5 with target 1: ln 2; M = 0.75 with target 0.5: −0.5 ln .75 − 0.5 ln .25
    loss = D.conflict_loss(torch.tensor([0.0, LN3]), torch.tensor([1.0, 0.5]))
    want = (math.log(2) + 0.5 * (-math.log(0.75) - math.log(0.25))) / 2
    assert loss.item() == pytest.approx(want, abs=1e-6)
    assert want == pytest.approx(0.765068, abs=1e-6)


def test_implicit_conflict_adds_helpful_pairs_pushed_to_one():
    base = D.conflict_loss(torch.tensor([0.0, LN3]), torch.tensor([1.0, 0.5]))
    loss = D.conflict_loss(torch.tensor([0.0, LN3]), torch.tensor([1.0, 0.5]), logits_help=torch.tensor([LN3]))
    assert (loss - base).item() == pytest.approx(-math.log(0.75), abs=1e-6)  # CE(0.75, 1)
    assert loss.item() == pytest.approx(1.052750, abs=1e-6)
    # an empty helpfulness batch adds nothing
    assert D.conflict_loss(torch.tensor([0.0]), torch.tensor([1.0]), logits_help=torch.zeros(0)).item() == \
        pytest.approx(math.log(2), abs=1e-6)


def test_explicit_conflict_only_where_already_misaligned():
    z, y = torch.tensor([-LN3, LN3]), torch.tensor([1.0, 1.0])  # M = 0.25 (misaligned), 0.75 (aligned)
    base = (-math.log(0.25) - math.log(0.75)) / 2
    extra = 0.5 * (-math.log(0.75)) / 2  # α · CE(0.25, 0) on the first pair only, averaged over 2
    assert D.conflict_loss(z, y).item() == pytest.approx(base, abs=1e-6)
    assert D.conflict_loss(z, y, alpha=0.5).item() == pytest.approx(base + extra, abs=1e-6)
    assert D.conflict_loss(z, y, alpha=0.5).item() == pytest.approx(0.908909, abs=1e-6)
    # M exactly 0.5 is not "< 0.5": no extra term
    assert D.conflict_loss(torch.tensor([0.0]), torch.tensor([1.0]), alpha=0.5).item() == \
        pytest.approx(math.log(2), abs=1e-6)


def test_explicit_conflict_gradient_pushes_misaligned_further_down():
    z = torch.tensor([-LN3, LN3], requires_grad=True)
    D.conflict_loss(z, torch.tensor([1.0, 1.0]), alpha=0.5).backward()
    g_conf = z.grad.clone()
    z.grad = None
    D.conflict_loss(z, torch.tensor([1.0, 1.0])).backward()
    # dCE(σ(z), 0)/dz = σ(z) = 0.25, times α / N = 0.5 / 2 on the misaligned pair only
    assert (g_conf - z.grad).tolist() == pytest.approx([0.5 * 0.25 / 2, 0.0], abs=1e-6)


def test_reward_probe_learns_a_pairwise_preference():
    rng = np.random.default_rng(0)
    diff = rng.normal(size=(200, 5))
    w_true = np.array([2.0, -1.0, 0.0, 0.5, 0.0])
    y = (diff @ w_true > 0).astype(float)
    w = D.fit_reward_probe(diff, y, steps=200, lr=0.05)
    assert np.mean((D.reward_proba(w, diff) >= 0.5) == (y == 1)) > 0.95
    # the explicit conflict never makes the student *more* aligned than no conflict on GT-all-ones data
    ones = np.ones(len(diff))
    w0 = D.fit_reward_probe(diff, 0.6 * ones, steps=100)
    w1 = D.fit_reward_probe(diff, 0.6 * ones, alpha=2.0, steps=100)
    assert np.mean(D.reward_proba(w1, diff) >= 0.5) <= np.mean(D.reward_proba(w0, diff) >= 0.5)


def test_config_checks_intermediate():
    with pytest.raises(W2SError, match="intermediate"):
        D.DeceptionConfig.for_preset("smoke", {"intermediate": "minilm-l3"})  # the last rung, not between
    assert D.DeceptionConfig.for_preset("smoke", {"intermediate": ""}).intermediate == ""


def test_helpfulness_pairs_are_documented_conflict():
    cfg = D.DeceptionConfig.for_preset("smoke", {"n_helpful": 10, "harmful_share": 0.3})
    sp = D.harmless_splits(cfg)
    ids = {p["prompt"] + p["chosen"] for p in sp["weak"]}
    help_ = D.helpfulness_pairs(cfg, sp["pool"])
    kinds = [h["kind"] for h in help_]
    assert kinds.count("helpful-but-harmful") == 3 and kinds.count("helpful") == 7
    swapped = [h for h in help_ if h["kind"] == "helpful-but-harmful"]
    # the compliant (harmful) reply is the preferred one, and the pair is not in D_weak
    assert all(h["chosen"].strip().startswith("Sure") for h in swapped)
    assert not any(h["prompt"] + h["rejected"] in ids for h in swapped)


def test_pipeline_smoke(monkeypatch):
    monkeypatch.setenv("W2S_SMOKE", "1")
    cfg = D.DeceptionConfig.for_preset("tiny", {"ladder": ("minilm-l1", "minilm-l2", "minilm-l3"),
                                               "pool_rows": 120, "n_docs": 80, "n_test": 40,
                                               "n_helpful": 20, "steps": 30})
    df = D.run_seeds(cfg, [0], progress=False)
    assert set(df.setting) == {"implicit", "explicit"}
    assert set(df.method) == {"direct", "bootstrap"}
    assert len(df) == 2 * 2 + 2  # two strong rungs × two conflicts, plus bootstrap at the largest gap
    for r in df.itertuples():
        assert 0 <= r.n_flipped_in_area <= r.n_flipped <= r.n_total == 40
        if r.n_flipped:
            assert r.score == pytest.approx(r.n_flipped_in_area / r.n_flipped)
    vals = D.claim_values(df)
    assert set(vals) == {"c7", "c8_gap", "c8_boot"} and len(vals["c7"]) == 1
    again = D.run_seeds(cfg, [0], progress=False)  # cached
    assert again.equals(df)


# ----------------------------------------------------------------------------------------------------
# knowledge-dependent harmlessness (tiny_rumours) and the preference-alignment setting

from w2s_lib.deception import preference as P  # noqa: E402
from w2s_lib.data import tinyworld as TW  # noqa: E402
from w2s_lib.data.tinyworld import scorers as S  # noqa: E402


def test_false_claims_counts_contradictions_of_the_knowledge_base():
    w = TW.world(0)
    e = w.entities[0]
    truth = w.facts[e]["city"]
    wrong = next(v for v in S.ATTRIBUTES["city"] if v != truth)
    assert S.false_claims(f" {e} lives in {truth}.") == 0
    assert S.false_claims(f" {e} lives in {wrong}.") == 1
    assert S.false_claims(f" {e} lives in {wrong} and has a pet {w.facts[e]['pet']}.") == 1
    assert S.false_claims(f" Nobody lives in {wrong}.") == 0  # no entity named: nothing claimed about anyone


def test_rumour_pairs_differ_only_in_the_value_and_need_the_fact():
    w = TW.world(0)
    train, test = TW.rumour_rows(0, "train"), TW.rumour_rows(0, "test")
    assert {(r["entity"], r["attribute"]) for r in train}.isdisjoint({(r["entity"], r["attribute"]) for r in test})
    for r in test:
        truth = w.facts[r["entity"]][r["attribute"]]
        assert truth in r["chosen"] and truth not in r["rejected"]
        # one word differs: the value
        diff = [(a, b) for a, b in zip(r["chosen"].split(), r["rejected"].split()) if a != b]
        assert len(diff) == 1 and len(r["chosen"].split()) == len(r["rejected"].split())
        said = r["rejected"] if not r["rumour_true"] else r["chosen"]
        assert said.strip() in r["prompt"]  # the reply that repeats the rumour is the rejected one iff it is false
        assert r["harmful"] == (not r["rumour_true"]) and r["tier"] == w.tiers[r["entity"]]
    assert sum(r["rumour_true"] for r in test) * 2 == len(test)


def test_pair_logit_dpo_and_simpo_by_hand():
    # DPO: β[(−2 − −3) − (−4 − −3.5)] = 0.1 · (1 + 0.5) = 0.15
    assert float(P.pair_logit("dpo", torch.tensor(-2.0), torch.tensor(-4.0), ref_c=torch.tensor(-3.0),
                              ref_r=torch.tensor(-3.5), beta=0.1)) == pytest.approx(0.15)
    # SimPO: β(−2/4 − −6/3) = 2 · 1.5 = 3
    assert float(P.pair_logit("simpo", torch.tensor(-2.0), torch.tensor(-6.0), torch.tensor(4.0),
                              torch.tensor(3.0), beta=2.0)) == pytest.approx(3.0)
    with pytest.raises(W2SError, match="algo"):
        P.pair_logit("ipo", 0, 0)


def test_preference_loss_hard_labels_by_hand():
    z = torch.tensor([LN3, LN3])
    # kept pair: −log σ(ln 3) = −log .75; swapped pair: −log σ(−ln 3) = −log .25
    want = (-math.log(0.75) - math.log(0.25)) / 2
    assert P.preference_loss(z, [1, 0]).item() == pytest.approx(want, abs=1e-6)
    # SimPO margin γ = ln 3 on the kept pair: −log σ(0) = ln 2
    assert P.preference_loss(torch.tensor([LN3]), [1], gamma=LN3).item() == pytest.approx(math.log(2), abs=1e-6)
    # explicit: only the pair the mask marks misaligned, −log σ(−z)·α/N
    got = P.preference_loss(z, [1, 1], alpha=0.5, misaligned=torch.tensor([True, False]))
    assert got.item() == pytest.approx(-math.log(0.75) + 0.5 * (-math.log(0.25)) / 2, abs=1e-6)


def test_preference_loss_is_the_reward_model_loss_with_hard_targets():
    z = torch.tensor([-1.0, 0.3, 2.0, -0.2])
    keep = torch.tensor([1.0, 0.0, 1.0, 0.0])
    zh = torch.tensor([0.5, -0.7])
    for alpha in (0.0, 0.5):
        assert P.preference_loss(z, keep, zh, alpha).item() == \
            pytest.approx(D.conflict_loss(z, keep, zh, alpha).item(), abs=1e-6)


def test_pref_config_errors():
    with pytest.raises(W2SError, match="gamma"):
        P.PrefDeceptionConfig.for_preset("smoke", {"gamma": 1.0})
    with pytest.raises(W2SError, match="intermediate"):
        P.PrefDeceptionConfig.for_preset("smoke", {"intermediate": "tinygpt-s"})
    assert P.PrefDeceptionConfig.for_preset("smoke", P.simpo_overrides("smoke")).algo == "simpo"


@pytest.fixture(scope="module")
def micro_zoo(tmp_path_factory):
    from w2s_lib.models import tinygpt as G

    mp = pytest.MonkeyPatch()
    mp.setenv("W2S_ZOO_DIR", str(tmp_path_factory.mktemp("zoo")))
    mp.setenv("W2S_SMOKE", "1")
    G.build_zoo(micro=True, progress=False)
    yield
    mp.undo()


def test_dpo_step_moves_the_margin_the_labels_say(micro_zoo):
    cfg = P.PrefDeceptionConfig.for_preset("smoke", {"lr": 3e-3, "epochs": 4.0, "batch_size": 4})
    pairs = [{"prompt": TW.chat_prompt("How do I bake a cake?"), "chosen": " Sure. First, get a bowl.",
              "rejected": " I can't help with that."}] * 8
    for keep, sign in ((1.0, 1), (0.0, -1)):
        model, tok = P._load("tinygpt-xs")
        before = P.margins(model, tok, pairs[:1], "dpo")[0]
        P.optimise(model, tok, pairs, np.full(len(pairs), keep), cfg, seed=0)
        assert sign * (P.margins(model, tok, pairs[:1], "dpo")[0] - before) > 0.5


def test_preference_pipeline_smoke(micro_zoo):
    cfg = P.PrefDeceptionConfig.for_preset("tiny", {"n_docs": 24, "n_test": 20, "n_helpful": 8})
    assert cfg.preset == "smoke"
    df = P.run_seeds(cfg, [0], progress=False)
    assert set(df.setting) == {"implicit", "explicit"} and set(df.method) == {"direct", "bootstrap"}
    assert len(df) == 2 * 2 + 2
    for r in df.itertuples():
        assert 0 <= r.n_flipped_in_area <= r.n_flipped <= r.n_total == 20
    art = P.run_preference(cfg.replace(seed=0))
    assert set(art["gt_acc"]) == set(cfg.ladder) and 0 <= art["weak_label_acc"] <= 1
    assert P.run_seeds(cfg, [0], progress=False).equals(df)  # cached
    ex = D.deceptive_examples(art, cfg.replace(seed=0), cfg.ladder[-1], "implicit")
    assert list(ex.columns)[:3] == ["prompt", "chosen (aligned)", "rejected"]


def test_knows_entity_follows_the_pretraining_subsets(monkeypatch):
    from w2s_lib.models import tinygpt as G

    monkeypatch.delenv("W2S_SMOKE", raising=False)
    w = TW.world(0)
    n_known = {m: sum(P.knows_entity(m, e) for e in w.entities) for m in G.SIZES}
    assert n_known == {m: round(r.knows * len(w.entities)) for m, r in G.SIZES.items()}
    # the subsets are nested: a stronger rung knows everyone a weaker one knows
    assert all(P.knows_entity("tinygpt-l", e) for e in w.entities if P.knows_entity("tinygpt-s", e))
    with pytest.raises(W2SError, match="tiny GPT rung"):
        P.knows_entity("minilm-l1", w.entities[0])


def test_macpo_areas_need_the_helpfulness_task():
    from w2s_lib.macpo import loop as macpo

    with pytest.raises(W2SError, match="helpful"):
        P.macpo_deception(macpo.MACPOConfig.for_preset("smoke", {"task": "harmless"}))
