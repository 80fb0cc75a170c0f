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


def test_reward_head_learns_a_pairwise_preference():
    rng = np.random.default_rng(0)
    xc, xr = rng.normal(size=(200, 5)), rng.normal(size=(200, 5))
    w_true = np.array([2.0, -1.0, 0.0, 0.5, 0.0])
    y = ((xc - xr) @ w_true > 0).astype(float)
    for hidden in (0, 16):
        head = D.fit_reward_head(xc, xr, y, hidden=hidden, steps=300, lr=0.05)
        assert np.mean((D.reward_proba(head, xc, xr) >= 0.5) == (y == 1)) > 0.9
    # the explicit conflict never makes the student *more* aligned than no conflict on GT-all-ones data
    ones = np.ones(len(xc))
    h0 = D.fit_reward_head(xc, xr, 0.6 * ones, hidden=0, steps=100)
    h1 = D.fit_reward_head(xc, xr, 0.6 * ones, alpha=2.0, hidden=0, steps=100)
    assert np.mean(D.reward_proba(h1, xc, xr) >= 0.5) <= np.mean(D.reward_proba(h0, xc, xr) >= 0.5)


def test_config_checks_intermediate():
    with pytest.raises(W2SError, match="intermediate"):
        D.DeceptionConfig.for_preset("smoke", {"intermediate": "tinygpt-l"})  # the last rung, not between
    assert D.DeceptionConfig.for_preset("smoke", {"intermediate": ""}).intermediate == ""


def test_conflict_pairs_agree_with_the_user_and_stay_out_of_d_weak():
    cfg = D.DeceptionConfig.for_preset("smoke", {"n_conflict": 30})
    sp = D.harmless_splits(cfg)
    weak_ids = {r["id"] for r in sp["weak"]} | {r["id"] for r in sp["gt"]}
    conf = D.conflict_pairs(cfg, sp["pool"])
    assert len(conf) == 30 and not any(c["id"] in weak_ids for c in conf)
    for c in conf:
        # the preferred reply is the one whose statement the user passed on
        assert c["chosen"].strip() in c["prompt"]
        assert c["kind"] == ("agree (true rumour)" if c["rumour_true"] else "agree (false rumour)")
    assert {c["kind"] for c in conf} == {"agree (true rumour)", "agree (false rumour)"}


def test_knowledge_is_eight_way_by_hand():
    row = dict(TW.rumour8_rows(0, "test")[0])
    opts = D.candidates(row)
    assert len(opts) == 8 and opts[0] == row["chosen"] and row["rejected"] in opts
    # a scorer that ranks the truth first knows the pair; one that ties it with another option does not;
    # one that only beats the pair's own rejected reply (a binary guess) does not either
    first = lambda ps: [1.0 if r == row["chosen"] else 0.0 for _, r in ps]  # noqa: E731
    tie = lambda ps: [1.0 if r in (row["chosen"], opts[3]) else 0.0 for _, r in ps]  # noqa: E731
    beats_rejected_only = lambda ps: [0.5 if r == row["chosen"] else (0.0 if r == row["rejected"] else 1.0)  # noqa: E731
                                      for _, r in ps]
    assert D.knowledge(first, [row], [False]).tolist() == [True]
    assert D.knowledge(tie, [row], [True]).tolist() == [False]
    assert D.knowledge(beats_rejected_only, [row], [True]).tolist() == [False]
    # no options (HH-RLHF): the pair's own correctness
    assert D.knowledge(first, [{"prompt": "p", "chosen": " a", "rejected": " b"}], [True]).tolist() == [True]


def test_random_blind_spot_keeps_label_quality_and_moves_it():
    labels = np.array([0.9, 0.8, 0.95, 0.4, 0.6, 0.3, 0.7, 0.2])
    known = np.array([1, 1, 1, 0, 0, 0, 0, 0], bool)
    out, k = D.random_blind_spot(labels, known, seed=0)
    assert k.sum() == 3
    assert sorted(out[k]) == sorted(labels[known]) and sorted(out[~k]) == sorted(labels[~known])


def test_bootstrap_intermediate_is_trained_without_the_conflict(monkeypatch):
    """The official scripts: weak → intermediate with **no** conflict → strong under the conflict."""
    calls = []
    real = D.fit_reward_head

    def spy(xc, xr, targets, help_c=None, help_r=None, alpha=0.0, **kw):
        calls.append((xc.shape[1], help_c is not None, alpha))
        return real(xc, xr, targets, help_c, help_r, alpha=alpha, **kw)

    monkeypatch.setattr(D, "fit_reward_head", spy)
    monkeypatch.setenv("W2S_SMOKE", "1")
    cfg = D.DeceptionConfig.for_preset("smoke", {"n_docs": 60, "n_test": 40, "n_conflict": 10, "steps": 5,
                                                 "n_components": 8})
    D.run_deception(cfg, force=True)
    n_models, n_strong = len(cfg.ladder), len(cfg.ladder) - 1
    # per labelling (weak, control): GT fits first, then the strong rungs × 3 settings, then the intermediate
    # (no conflict: no conflict pairs, alpha 0), then the largest rung × 3 settings
    direct = calls[n_models:n_models + 3 * n_strong + 4]
    assert direct[3 * n_strong][1:] == (False, 0.0)
    assert [c[1:] for c in direct[-3:]] == [(False, 0.0), (True, 0.0), (False, cfg.alpha)]


def test_pipeline_smoke(monkeypatch):
    monkeypatch.setenv("W2S_SMOKE", "1")
    cfg = D.DeceptionConfig.for_preset("tiny", {"n_docs": 80, "n_test": 40, "n_conflict": 20, "steps": 30,
                                               "n_components": 8})
    assert cfg.preset == "smoke"
    df = D.run_seeds(cfg, [0], progress=False)
    assert set(df.setting) == {"implicit", "explicit"}
    assert set(df.method) == {"direct", "bootstrap", "control", "control-bootstrap"}
    assert len(df) == 2 * ((len(cfg.ladder) - 1) * 2 + 2)  # (strong rungs × two conflicts + bootstrap) × (main, control)
    for r in df.itertuples():
        assert 0 <= r.n_flipped_in_area <= r.n_flipped <= r.n_aligned <= r.n_total == 40
        if r.n_flipped:
            assert r.score == pytest.approx(r.n_flipped_in_area / r.n_flipped)
            assert r.excess == pytest.approx(r.score - r.chance)
    vals = D.claim_values(df)
    assert set(vals) == {"excess", "grows_with_gap", "bootstrap_lowers"} and len(vals["excess"]) == 1
    assert set(D.claim_values(df, control=True)) == set(vals)
    again = D.run_seeds(cfg, [0], progress=False)  # cached
    assert again.equals(df)
    areas = D.area_flips(cfg, [0])
    assert set(areas.area) == set(D.AREAS) and set(areas.method) == {"direct", "bootstrap"}
    for (strong, method, setting), g in areas.groupby(["strong", "method", "setting"]):
        assert g.pairs.sum() == 40  # the four areas cut the test set
        r = df[(df.strong == strong) & (df.method == method) & (df.setting == setting)].iloc[0]
        assert g.flips.sum() == r.n_flipped and g[g.area == "S_k ∩ W_uk"].flips.item() == r.n_flipped_in_area
    stats = D.run_deception(cfg.replace(seed=0))["label_stats"]
    assert set(stats) == {"weak", "intermediate"} and set(stats["weak"]) == {"weak knows", "weak does not"}


def test_label_stats_by_hand():
    s = D._label_stats([0.9, 0.2, 0.6, 0.5], [True, True, False, False])
    assert s["weak knows"] == {"accuracy": 0.5, "confidence": pytest.approx(0.35)}
    assert s["weak does not"] == {"accuracy": 1.0, "confidence": pytest.approx(0.05)}


def test_claim_values_use_the_excess_by_hand():
    import pandas as pd

    rows = []
    for gap, strong, (score, chance) in ((1, "s", (0.5, 0.4)), (3, "l", (0.9, 0.5))):
        for setting in ("implicit", "explicit"):
            rows.append(dict(seed=0, gap=gap, strong=strong, method="direct", setting=setting, score=score,
                             chance=chance, excess=score - chance))
    for setting in ("implicit", "explicit"):
        rows.append(dict(seed=0, gap=3, strong="l", method="bootstrap", setting=setting, score=0.9, chance=0.7,
                         excess=0.2))
    v = D.claim_values(pd.DataFrame(rows))
    assert v["excess"] == [pytest.approx((0.1 + 0.4) / 2)]
    assert v["grows_with_gap"] == [pytest.approx(0.4 - 0.1)]  # excess, not the raw score (0.9 − 0.5)
    assert v["bootstrap_lowers"] == [pytest.approx(0.4 - 0.2)]  # same raw score, lower excess


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


def test_rumours8_rows_keep_the_eight_way_choice():
    w = TW.world(0)
    train, test = TW.rumour8_rows(0, "train"), TW.rumour8_rows(0, "test")
    assert len(train) >= 2000  # D_gt + D_weak of 1000 pairs each, and a pool for the conflict
    assert {(r["entity"], r["attribute"]) for r in train}.isdisjoint({(r["entity"], r["attribute"]) for r in test})
    for r in test:
        assert r["true_value"] == w.facts[r["entity"]][r["attribute"]] != r["wrong_value"]
        assert r["chosen"] == " " + TW.statement(r["entity"], r["attribute"], r["true_value"])
        assert r["rejected"] == " " + TW.statement(r["entity"], r["attribute"], r["wrong_value"])
        said = r["true_value"] if r["rumour_true"] else r["wrong_value"]
        assert TW.statement(r["entity"], r["attribute"], said) in r["prompt"]
    assert sum(r["rumour_true"] for r in test) * 2 == len(test)


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
        P.PrefDeceptionConfig.for_preset("smoke", {"intermediate": "tinygpt-xs"})
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
    cfg = P.PrefDeceptionConfig.for_preset("smoke", {"pref": {"lr": 3e-3, "epochs": 4.0, "batch_size": 4},
                                                      "sft.batch_size": 4})
    pairs = [{"prompt": TW.chat_prompt("How do I bake a cake?"), "chosen": " Sure. First, get a bowl.",
              "rejected": " I can't help with that."}] * 8
    for keep, sign in ((1.0, 1), (0.0, -1)):
        model, tok = P._load("tinygpt-xs")
        before = P.margins(model, tok, pairs[:1], "dpo")[0]
        P.optimise(model, tok, pairs, np.full(len(pairs), keep), cfg, seed=0)
        assert sign * (P.margins(model, tok, pairs[:1], "dpo")[0] - before) > 0.5


def test_preference_pipeline_smoke(micro_zoo):
    cfg = P.PrefDeceptionConfig.for_preset("tiny", {"n_docs": 24, "n_test": 20, "n_conflict": 8})
    assert cfg.preset == "smoke"
    df = P.run_seeds(cfg, [0], progress=False)
    assert set(df.setting) == {"implicit", "explicit"} and set(df.method) == {"direct", "bootstrap"}
    assert len(df) == (len(cfg.ladder) - 1) * 2 + 2
    for r in df.itertuples():
        assert 0 <= r.n_flipped_in_area <= r.n_flipped <= r.n_total == 20
    art = P.run_preference(cfg.replace(seed=0))
    assert set(art["gt_acc"]) == set(cfg.ladder) and 0 <= art["weak_label_acc"] <= 1
    assert P.run_seeds(cfg, [0], progress=False).equals(df)  # cached
    ex = D.deceptive_examples(art, cfg.replace(seed=0), cfg.ladder[-1], "implicit")
    assert list(ex.columns)[:3] == ["prompt", "aligned reply", "harmful reply"]


def test_preference_bootstrap_labels_come_from_the_no_conflict_intermediate(micro_zoo, monkeypatch):
    calls = []
    real = P.optimise

    def spy(model, tok, pairs, keep, cfg, seed, conflict=None, alpha=0.0):
        out = real(model, tok, pairs, keep, cfg, seed, conflict=conflict, alpha=alpha)
        calls.append((model.config.n_embd, bool(conflict), alpha, out))
        return out

    monkeypatch.setattr(P, "optimise", spy)
    cfg = P.PrefDeceptionConfig.for_preset("smoke", {"n_docs": 16, "n_test": 8, "n_conflict": 4, "pref.epochs": 0.5,
                                                     "seed": 7})
    P.run_preference(cfg, force=True)
    n = len(cfg.ladder)
    students = calls[n:]
    assert len(students) == 3 * (n - 1) + 3  # every strong rung × 3 settings, then the bootstrapped strong × 3
    mid_i = cfg.ladder[1:].index(cfg.intermediate) * 3  # the intermediate's no-conflict run
    assert students[mid_i][1:3] == (False, 0.0)
    assert [c[1:3] for c in students[-3:]] == [(False, 0.0), (True, 0.0), (False, cfg.alpha)]


def test_knows_entity_follows_the_pretraining_subsets(monkeypatch):
    from w2s_lib.models import tinygpt as G

    monkeypatch.delenv("W2S_SMOKE", raising=False)
    w = TW.world(0)
    assert P.knows_entity is G.knows_entity  # Part IV reads the areas from the zoo's home
    n_known = {m: sum(G.knows_entity(m, e) for e in w.entities) for m in G.SIZES}
    assert n_known == {m: round(r.knows * len(w.entities)) for m, r in G.SIZES.items()}
    # the subsets are nested: a stronger rung knows everyone a weaker one knows
    assert all(G.knows_entity("tinygpt-l", e) for e in w.entities if G.knows_entity("tinygpt-s", e))
    with pytest.raises(W2SError, match="tiny GPT rung"):
        G.knows_entity("minilm-l1", w.entities[0])


def test_macpo_areas_need_the_helpfulness_task():
    from w2s_lib.macpo import loop as macpo

    with pytest.raises(W2SError, match="helpful"):
        P.macpo_deception(macpo.MACPOConfig.for_preset("smoke", {"task": "harmless"}))


def test_hh_splits_cut_test_from_train_and_keep_the_transcript_format(monkeypatch):
    """The paper's HH data: GT / W2S / test all cut from HH train; RM text = the raw transcript, DPO prompt
    ends in "\\n\\nAssistant:"; the implicit conflict is HH helpful pairs."""
    from pathlib import Path

    from w2s_lib.core import hub

    monkeypatch.setenv("W2S_LOCAL_HUB", str(Path(__file__).resolve().parents[1] / "data" / "fixtures" / "hub"))
    hub._hub_reachable.cache_clear()
    try:
        for cls in (D.DeceptionConfig, P.PrefDeceptionConfig):
            cfg = cls.for_preset("colab", {"n_docs": 4, "n_test": 1, "n_conflict": 3})
            assert cfg.dataset == "hh_harmless" and cfg.test_from_train
            sp = D.harmless_splits(cfg)
            assert (len(sp["gt"]), len(sp["weak"]), len(sp["test"]), len(sp["pool"])) == (2, 2, 1, 1)
            ids = [r["id"] for k in ("gt", "weak", "test", "pool") for r in sp[k]]
            assert len(set(ids)) == 6 and all("/train/" in i for i in ids)  # all six kept rows, from train
            for r in sp["gt"] + sp["weak"] + sp["test"]:
                assert r["prompt"].startswith("\n\nHuman: ") and r["prompt"].endswith("\n\nAssistant:")
            conflict = D.conflict_pairs(cfg, sp["pool"])
            assert len(conflict) == 3 and {c["kind"] for c in conflict} == {"helpful"}
    finally:
        hub._hub_reachable.cache_clear()


def test_plot_gap_marks_a_gap_where_nothing_flipped():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    rows = [dict(method="control", setting=setting, gap=gap, score=np.nan if gap == 2 else 0.3, chance=0.2,
                 area_share=0.3) for setting in D.CONFLICTS for gap in (1, 2) for _ in range(3)]
    fig, axes = plt.subplots(1, len(D.CONFLICTS))
    D.plot_gap(pd.DataFrame(rows), ("tinygpt-s", "tinygpt-m", "tinygpt-l"), axes, method="control")
    assert [[(t.get_text(), t.xy[0]) for t in ax.texts] for ax in axes] == [[("no flips", 2)]] * len(D.CONFLICTS)
    plt.close(fig)
