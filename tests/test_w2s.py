"""The W2S pipeline: splits, caching, step-wise resume, no GT leakage, PGR bookkeeping (smoke sizes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from w2s_lib.generalization import pipeline as w2s
from w2s_lib.core.errors import W2SError
from w2s_lib.train import classifier as C

REAL_TRAIN = C.train_classifier
SMALL = {"ladder": ("minilm-l1", "minilm-l2"), "n_docs": 60, "n_test": 30, "mode": "probe", "probe_steps": 50,
         "gt_domains": (), "ceiling_data": "d_gt", "crossfit": False, "val_frac": 0.1, "train.lr": 2e-4}


def cfg(**kw):
    return w2s.W2SConfig.for_preset("smoke", {**SMALL, **kw})


class Killed(Exception):
    """Stands for a crash / kill in the middle of a run."""


class Counter:
    """Wraps train_classifier, counting calls and recording the soft labels of each."""

    def __init__(self, monkeypatch, fail_on_student=False):
        self.calls, self.labels = [], []
        real = REAL_TRAIN

        def wrapped(name, texts, soft_labels, args, **kw):
            if fail_on_student and args.loss != "xent":
                raise Killed("killed")
            self.calls.append((name, args.loss))
            self.labels.append(np.asarray(soft_labels))
            return real(name, texts, soft_labels, args, **kw)

        monkeypatch.setattr(C, "train_classifier", wrapped)


def test_presets_quote_the_official_values():
    p = w2s.W2SConfig.for_preset("paper")
    assert (p.train.batch_size, p.train.epochs, p.n_docs, p.n_test, p.max_length) == (32, 2.0, 20000, 10000, 1024)
    assert p.lr_of("gpt2") == 5e-5 and p.lr_of("gpt2-medium") == 5e-5 and p.lr_of("gpt2-large") == 1e-5
    assert w2s.W2SConfig.for_preset("colab").ladder == ("gpt2", "gpt2-medium", "gpt2-large")
    assert len(w2s.W2SConfig.for_preset("tiny").ladder) >= 3  # bootstrapping needs an intermediate rung
    with pytest.raises(W2SError):
        w2s.W2SConfig.for_preset("tiny", {"lrs": (1e-5,)})


def test_splits_are_disjoint_and_domain_shift_respected():
    rows = w2s.w2s_data("tiny_sentiment", 200, 50, seed=3, val_frac=0.1, gt_domains=("gadgets",))
    ids = {k: set(v["id"]) for k, v in rows.items()}
    keys = list(ids)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            assert not ids[a] & ids[b], (a, b)
    assert set(rows["gt_train"]["domain"]) == {"gadgets"}
    assert set(rows["weak_train"]["domain"]) == set(rows["test"]["domain"]) == {"food"}
    assert len(rows["weak_val"]) == 10 and len(rows["gt_train"]) == 90


def test_student_trains_and_validates_on_weak_labels_only(monkeypatch):
    c = cfg(loss="logconf")
    counter = Counter(monkeypatch)
    gt_fc, gt_art = w2s.fit_gt(c, "minilm-l1", 0)
    st_fc, st_art = w2s.fit_student(c, "minilm-l2", gt_fc, 0)
    rows = w2s._fit_data(st_fc)
    preds = np.load(gt_art.path / "preds.npz")
    gt_labels, student_labels = counter.labels
    assert np.array_equal(gt_labels, np.asarray(rows["gt_train"]["label"], np.float32))
    assert np.array_equal(student_labels, preds["weak_train"])  # the weak model's soft labels …
    assert not np.array_equal(student_labels, np.asarray(rows["weak_train"]["label"], np.float32))  # … not GT
    assert ((student_labels > 0) & (student_labels < 1)).any()  # soft, not hardened
    assert st_fc.supervisor == gt_fc.run_id
    assert w2s.supervisor_labels(st_fc)["weak_val"].tolist() == preds["weak_val"].tolist()
    # validation agreement is measured against the weak labels of D_weak's validation rows
    student_val = np.load(st_art.path / "preds.npz")["weak_val"]
    agree = float(np.mean((student_val > 0.5) == (preds["weak_val"] > 0.5)))
    assert st_art["val_agreement"] == pytest.approx(agree)
    assert counter.calls == [("minilm-l1", "xent"), ("minilm-l2", "logconf")]


def test_pipeline_caches_and_shares_baselines(monkeypatch):
    counter = Counter(monkeypatch)
    df = w2s.run_w2s(cfg(), seeds=[10, 11], progress=False)
    assert len(df) == 2 and set(df["weak"]) == {"minilm-l1"} and set(df["strong"]) == {"minilm-l2"}
    first = len(counter.calls)
    assert first == 2 * 3  # per seed: 2 GT fits + 1 student
    again = w2s.run_w2s(cfg(), seeds=[10, 11], progress=False)
    assert len(counter.calls) == first  # second call trains nothing
    assert again.equals(df)
    w2s.run_w2s(cfg(loss="logconf"), seeds=[10, 11], progress=False)
    assert len(counter.calls) == first + 2  # another loss: only the students train, baselines are shared
    r = df.iloc[0]
    assert r["pgr_acc"] == pytest.approx((r["w2s_acc"] - r["weak_acc"]) / (r["ceiling_acc"] - r["weak_acc"])) \
        or not np.isfinite(r["pgr_acc"])


def test_killed_run_resumes_stepwise(monkeypatch):
    c = cfg(loss="product", seed=5)
    killer = Counter(monkeypatch, fail_on_student=True)
    with pytest.raises(Killed):
        w2s.run_w2s(c, seeds=[5], progress=False)
    assert killer.calls == [("minilm-l1", "xent"), ("minilm-l2", "xent")]  # both GT fits finished
    resumed = Counter(monkeypatch)
    df = w2s.run_w2s(c, seeds=[5], progress=False)
    assert resumed.calls == [("minilm-l2", "product")]  # only the missing step ran
    assert len(df) == 1


def test_bootstrap_chain_uses_previous_rung_labels(monkeypatch):
    c = cfg(ladder=("minilm-l1", "minilm-l2", "minilm-l3"))
    df = w2s.run_bootstrap(c, seeds=[0])
    assert set(df["method"]) == {"direct", "bootstrap", "chain"}
    c0 = c.replace(seed=0)
    g1, _ = w2s.fit_gt(c0, "minilm-l1", 0)
    s2, _ = w2s.fit_student(c0, "minilm-l2", g1, 0)
    s3, _ = w2s.fit_student(c0, "minilm-l3", s2, 0)
    assert s3.supervisor == s2.run_id and s2.supervisor == g1.run_id


def test_summarize_claim_describes_but_never_decides():
    s = w2s.summarize_claim([0.3, 0.35, 0.4])
    assert s["value"] == pytest.approx(0.35) and s["n"] == 3 and "holds" not in s  # verdicts: claims.decide


def test_generative_finetuning_changes_the_encoder_but_not_the_shape():
    from w2s_lib.models import zoo

    texts = ["the screen is very good", "the soup is not bad", "the staff is rude but the coffee is great"] * 4
    before = zoo.load_backbone("minilm-l1")
    after = w2s.generative_finetune("minilm-l1", texts, epochs=1.0, lr=1e-3, seed=0, head="linear",
                                    max_length=16, batch_size=4)
    assert type(after).__name__ == type(before).__name__
    a = dict(after.named_parameters())
    changed = [n for n, p in before.named_parameters() if n in a and not torch.equal(p, a[n])]
    assert changed  # the MLM pass moved the encoder's weights


def test_a_repeated_generative_pass_is_a_copy_of_the_first(monkeypatch):
    """A rung's ground-truth fit and its students ask for the same pass: it runs once per process, each caller
    gets weights of its own, and passes beyond the parameter budget are dropped oldest first."""
    made = []

    def fake_pass(model, texts, epochs, lr, seed, head, max_length, batch_size):
        torch.manual_seed(seed)
        made.append((model, seed))
        return torch.nn.Linear(4, 4)

    monkeypatch.setattr(w2s, "_generative_pass", fake_pass)
    monkeypatch.setattr(w2s, "_GENERATIVE_PASSES", type(w2s._GENERATIVE_PASSES)())
    monkeypatch.setattr(w2s, "GENERATIVE_PASS_PARAMS", 40)  # two 20-parameter passes
    args = dict(texts=["a b", "c d"], epochs=1.0, lr=1e-3, head="linear")
    first = w2s.generative_finetune("minilm-l1", seed=0, **args)
    with torch.no_grad():
        first.weight.add_(1.0)  # the first caller trains its copy further: the kept pass must not move
    again = w2s.generative_finetune("minilm-l1", seed=0, **args)
    assert made == [("minilm-l1", 0)] and again is not first
    assert torch.equal(again.weight + 1.0, first.weight)
    w2s.generative_finetune("minilm-l1", seed=1, **args)  # another seed: another pass
    w2s.generative_finetune("minilm-l1", seed=2, **args)  # over the budget: seed 0's pass is dropped
    w2s.generative_finetune("minilm-l1", seed=0, **args)
    assert made == [("minilm-l1", 0), ("minilm-l1", 1), ("minilm-l1", 2), ("minilm-l1", 0)]


def test_generative_finetuning_is_for_the_strong_side_only(monkeypatch, tmp_path):
    """With generative finetuning the weak supervisors are the very same runs as without it (same labels);
    students and ceilings are generatively finetuned."""
    from w2s_lib.core.artifacts import Artifact

    seen = []

    def fake_run_fit(fc, force=False):
        seen.append(fc)
        out = tmp_path / fc.run_id
        out.mkdir(exist_ok=True)
        n = 20
        v = 0.1 + 0.8 * (int(fc.run_id[-6:], 16) % 1000) / 1000  # distinct labels per fit
        np.savez(out / "preds.npz", weak_train=np.full(n - 2, v), weak_val=np.full(2, v), test=np.full(n, v))
        return Artifact(path=out, result={"acc": 0.5 + 0.1 * len(fc.model), "auroc": 0.6, "label_acc": 0.5},
                        config=fc.to_dict())

    monkeypatch.setattr(w2s, "run_fit", fake_run_fit)
    ladder = ("tinygpt-xs", "tinygpt-s", "tinygpt-m")
    base = w2s.W2SConfig.for_preset("smoke", {**SMALL, "ladder": ladder, "mode": "full", "n_docs": 40, "n_test": 20})
    w2s.run_w2s(base, seeds=[3], progress=False)
    plain = {(f.model, f.supervisor == ""): f.run_id for f in seen}
    seen.clear()
    w2s.run_w2s(base.replace(generative_epochs=1.0), seeds=[3], progress=False)
    weak_runs = {f.run_id for f in seen if f.supervisor == "" and f.generative_epochs == 0}
    assert weak_runs == {plain[("tinygpt-xs", True)], plain[("tinygpt-s", True)]}  # the same supervisors
    students = [f for f in seen if f.supervisor]
    assert len(students) == 3 and all(f.generative_epochs == 1.0 for f in students)
    assert {f.supervisor for f in students} == weak_runs
    ceilings = {f.model for f in seen if f.supervisor == "" and f.generative_epochs == 1.0}
    assert ceilings == {"tinygpt-s", "tinygpt-m"}  # the bottom rung is never a ceiling


# ---------------------------------------------------------------- the ladder protocol and mode='head'
def test_ladder_protocol_pairs_and_chain_on_a_hand_fit():
    """A fake fit: each rung's test predictions are fixed; students copy their labels' mean shift."""
    from w2s_lib.generalization.ladder import CEILING, SUPERVISOR, Preds, bootstrap_chain, ladder_pairs

    y = np.array([1, 1, 0, 0])
    calls = []

    def fit(rung, targets, crossfit=False):
        calls.append((rung, targets if isinstance(targets, str) else "labels", crossfit))
        good = {"a": [0.9, 0.2, 0.8, 0.1], "b": [0.9, 0.9, 0.8, 0.1], "c": [0.9, 0.9, 0.1, 0.1]}[rung]
        return Preds(weak=np.array([[0.7, 0.3]]), test=np.array([good]))

    rows = ladder_pairs(["a", "b", "c"], fit, y, seeds=[7])
    assert [(r["weak"], r["strong"], r["gap"]) for r in rows] == [("a", "b", 1), ("a", "c", 2), ("b", "c", 1)]
    r = rows[1]  # a (acc 0.5) supervises c; c's student = c's ceiling = 1.0 -> PGR 1
    assert (r["weak_acc"], r["w2s_acc"], r["ceiling_acc"], r["pgr_acc"]) == (0.5, 1.0, 1.0, 1.0)
    assert r["correction"] == 1.0 and r["inheritance"] == 0.0 and r["agreement"] == 0.5
    calls.clear()
    boot = bootstrap_chain(["a", "b", "c"], fit, y, seeds=[7], crossfit=True)
    assert set(x["method"] for x in boot) == {"direct", "bootstrap", "chain"}
    assert ("b", "labels", True) in calls and ("c", "labels", False) in calls  # only intermediates cross-fit
    # each link against its own supervisor: b (acc 0.75) repeats one of a's two errors; c corrects all of b's
    chain_b = next(x for x in boot if x["method"] == "chain")
    assert (chain_b["strong"], chain_b["sup_acc"], chain_b["w2s_acc"], chain_b["inheritance"]) == ("b", 0.5, 0.75, 0.5)
    final = next(x for x in boot if x["method"] == "bootstrap")
    assert (final["link_sup_acc"], final["link_inheritance"]) == (0.75, 0.0)


def test_supervisor_only_rungs_supervise_and_are_never_strong():
    from w2s_lib.generalization.ladder import CEILING, SUPERVISOR, Preds, bootstrap_chain, ladder_pairs, split_rung

    y = np.array([1, 0])
    calls = []

    def fit(rung, targets, crossfit=False):
        calls.append((rung, targets if isinstance(targets, str) else "labels"))
        return Preds(weak=np.array([[0.6, 0.4]]), test=np.array([[0.9, 0.1]]))

    rows = ladder_pairs(["a@10", "a", "b@all", "b", "c"], fit, y, seeds=[0])
    assert [(r["weak"], r["strong"]) for r in rows] == [("a@10", "a"), ("a@10", "b"), ("a@10", "c"), ("a", "b"),
                                                        ("a", "c"), ("b@all", "b"), ("b@all", "c"), ("b", "c")]
    assert not any(r.endswith("@10") or r.endswith("@all") for r, t in calls if t != SUPERVISOR)
    assert ("a@10", CEILING) not in calls and ("b@all", CEILING) not in calls
    assert split_rung("bow@200") == ("bow", 200) and split_rung("bow@all") == ("bow", None) == split_rung("bow")
    for bad in ("bow@", "bow@1", "@200", "bow@x"):
        with pytest.raises(W2SError, match="supervisor-only rung"):
            split_rung(bad)
    with pytest.raises(W2SError, match="strongest rung"):
        ladder_pairs(["a", "b@10"], fit, y, seeds=[0])
    with pytest.raises(W2SError, match="only the first"):
        bootstrap_chain(["a", "b@10", "c"], fit, y, seeds=[0])


def test_head_mode_supervisor_only_rungs_train_on_the_first_rows_of_d_gt(monkeypatch):
    from w2s_lib.generalization import frozen
    from w2s_lib.generalization.ladder import CEILING, SUPERVISOR

    c = _head_cfg(ladder=("bow@20", "minilm-l1@all", "minilm-l2"))
    seen = []
    real = frozen.train_heads
    monkeypatch.setattr(frozen, "train_heads", lambda x, t, *a, **k: seen.append(tuple(x.shape)) or real(x, t, *a, **k))
    fit = w2s.ladder_fit(c, seeds=[0, 1])
    n_gt = fit.idx["gt_train"].shape[1]
    fit("bow@20", SUPERVISOR)
    assert seen[-1][:2] == (2, 20)
    full, alias = fit("minilm-l1", SUPERVISOR), fit("minilm-l1@all", SUPERVISOR)
    assert seen[-1][:2] == (2, n_gt) and np.array_equal(full.test, alias.test)  # @all is the rung's own fit
    with pytest.raises(W2SError, match="supervisor-only"):
        fit("bow@20", CEILING)
    with pytest.raises(W2SError, match="raise n_docs"):
        fit(f"bow@{n_gt + 1}", SUPERVISOR)
    rows = w2s.run_w2s(c, seeds=[0], progress=False)
    assert [(r.weak, r.strong) for r in rows.itertuples()] == [("bow@20", "minilm-l2"), ("minilm-l1@all", "minilm-l2")]
    with pytest.raises(W2SError, match="need mode='head'"):
        w2s.W2SConfig.for_preset("smoke", {"ladder": ("bow@20", "minilm-l2"), "mode": "probe"})


def _head_cfg(**kw):
    return w2s.W2SConfig.for_preset("smoke", kw)


def test_head_mode_runs_all_seeds_at_once_and_a_seed_does_not_depend_on_its_batch():
    c = _head_cfg()
    both = w2s.run_w2s(c, seeds=[0, 1], progress=False)
    alone = w2s.run_w2s(c, seeds=[1], progress=False)
    assert len(both) == 2 * 3 and set(both["gap"]) == {1, 2}
    a = both[both.seed == 1].reset_index(drop=True)[["w2s_acc", "weak_acc", "ceiling_acc"]]
    b = alone.reset_index(drop=True)[["w2s_acc", "weak_acc", "ceiling_acc"]]
    assert np.allclose(a.values, b.values, atol=0.011)  # float sums may differ in the last bit, not the fit
    assert {"inheritance", "correction", "agreement", "w2s_ece", "weak_label_acc"} <= set(both.columns)
    assert np.isfinite(w2s.pooled_median_pgr(both)) or both["pgr_acc"].isna().all()


def test_head_mode_bow_never_sees_the_shifted_words():
    """The weak family learns sentiment words only from its own (gadget) rows: a food-only word has weight 0."""
    import torch

    from w2s_lib.generalization.frozen import bow_features, train_heads

    texts = ["the screen is good", "the screen is bad", "the soup is tasty"]
    x = torch.as_tensor(bow_features(texts))[None]
    (p,) = train_heads(x[:, :2], torch.tensor([[1.0, 0.0]]), [x[:, 2:]], lr=0.1, epochs=20, batch_size=2)
    assert p[0, 0] == pytest.approx(0.5, abs=1e-6)  # "tasty" unseen, "the/soup/is" carry no label signal


def test_head_fits_are_trained_once_per_process_and_a_change_of_any_input_trains_anew(monkeypatch, tmp_path):
    """A fit asked for again — chapter 11's loss arms share their supervisors and ceilings, each arm its own
    HeadFit — returns the first fit's predictions (copies) instead of training again; other targets, another
    loss, other seeds or another W2S_HOME train a new head."""
    from w2s_lib.generalization import frozen
    from w2s_lib.generalization.ladder import SUPERVISOR

    monkeypatch.setattr(frozen, "_FITS", frozen.OrderedDict())
    calls = []
    real = frozen.train_heads
    monkeypatch.setattr(frozen, "train_heads", lambda *a, **k: calls.append(k["loss"]) or real(*a, **k))
    c = _head_cfg()
    first = w2s.ladder_fit(c, seeds=[0, 1])("minilm-l1", SUPERVISOR)
    again = w2s.ladder_fit(c.replace(loss="logconf"), seeds=[0, 1])("minilm-l1", SUPERVISOR)  # a new HeadFit
    assert len(calls) == 1 and np.array_equal(first.test, again.test)
    again.test[:] = -1  # the caller's copy
    fit = w2s.ladder_fit(c, seeds=[0, 1])
    assert np.array_equal(fit("minilm-l1", SUPERVISOR).test, first.test) and len(calls) == 1
    labels = (first.weak > 0.5).astype(np.float32)
    fit("minilm-l2", labels)
    fit("minilm-l2", labels)
    assert calls == ["xent", "xent"]
    w2s.ladder_fit(c.replace(loss="logconf"), seeds=[0, 1])("minilm-l2", labels)  # another loss
    fit("minilm-l2", 1 - labels)  # other targets
    w2s.ladder_fit(c, seeds=[1, 0])("minilm-l1", SUPERVISOR)  # other seeds (in another order)
    assert calls == ["xent", "xent", "logconf", "xent", "xent"]
    monkeypatch.setenv("W2S_HOME", str(tmp_path / "other"))  # another home caches its own features: trained there
    w2s.ladder_fit(c, seeds=[0, 1])("minilm-l1", SUPERVISOR)
    assert len(calls) == 6 and list((tmp_path / "other" / "runs").glob("layerfeats-*"))


def test_head_crossfit_k_folds_label_each_row_with_a_head_that_did_not_train_on_it(monkeypatch):
    from w2s_lib.generalization import frozen

    fit = w2s.ladder_fit(_head_cfg(crossfit_folds=5), seeds=[0])
    heads = []

    def fake_train(self, rung, init, train_key, targets, predict_keys, loss, extra_seed):
        train = set(self.idx[train_key][0].tolist())
        for k in predict_keys:
            if not isinstance(k, str):  # a fold's held-out rows
                assert not train & set(np.asarray(k)[0].tolist())
        heads.append(train)
        return [np.full((1, (self.idx[k] if isinstance(k, str) else np.asarray(k)).shape[1]), float(len(heads)))
                for k in predict_keys]

    monkeypatch.setattr(frozen.HeadFit, "_train", fake_train)
    n = fit.idx["weak_train"].shape[1]
    p = fit("minilm-l2", np.full((1, n), 0.5, dtype=np.float32), crossfit=True)
    assert len(heads) == 1 + 5 and all(len(h) == n - n // 5 for h in heads[1:])
    assert sorted(np.unique(p.weak).tolist()) == [2.0, 3.0, 4.0, 5.0, 6.0]  # every row from a fold head
    assert np.all(p.test == 1.0)  # test predictions from the head trained on all of D_weak


def test_head_mode_crossfit_and_controls_are_head_only():
    with pytest.raises(W2SError, match="head"):
        w2s.run_bootstrap(cfg(ladder=("minilm-l1", "minilm-l2", "minilm-l3"), crossfit=True), seeds=[0])
    with pytest.raises(W2SError, match="head"):
        w2s.run_w2s(cfg(strong_init="random"), seeds=[0], progress=False)


def test_confidence_gain_by_seed_on_a_hand_table():
    import pandas as pd

    # one seed, three pairs; baselines (weak, ceiling) shared by both losses, PGR = (w2s − weak)/(ceiling − weak)
    pairs = [("a", "b", 0.6, 0.7), ("a", "c", 0.6, 0.8), ("b", "c", 0.7, 0.8)]  # capability gaps 0.1, 0.2, 0.1
    w2s_acc = {"xent": (0.62, 0.64, 0.72), "logconf": (0.64, 0.72, 0.73)}  # PGR gains 0.2, 0.4, 0.1
    rows = [{"seed": 0, "loss": loss, "weak": w, "strong": s, "weak_acc": wa, "ceiling_acc": ca, "w2s_acc": acc,
             "pgr_acc": (acc - wa) / (ca - wa)}
            for loss, accs in w2s_acc.items() for (w, s, wa, ca), acc in zip(pairs, accs)]
    by_pair = w2s.confidence_gain_by_pair(pd.DataFrame(rows))
    assert by_pair["acc_gain"].tolist() == pytest.approx([0.02, 0.08, 0.01])
    assert by_pair["capability_gap"].tolist() == pytest.approx([0.1, 0.2, 0.1])
    eff = w2s.confidence_gain_by_seed(pd.DataFrame(rows))
    # medians over pairs: xent PGR (0.2, 0.2, 0.2) → 0.2; logconf (0.4, 0.6, 0.3) → 0.4
    assert eff.loc[0, "gain"] == pytest.approx(0.2)
    # gains 0.2 and 0.1 at gap 0.1, 0.4 at gap 0.2: slope = (0.4 − 0.15) / (0.2 − 0.1) = 2.5
    assert eff.loc[0, "gain_grows"] == pytest.approx(2.5)
    # pairs below the minimum gap leave both effects: with min_gap 0.15 only (a, c) is left -> gain 0.4,
    # and one pair has no slope
    eff = w2s.confidence_gain_by_seed(pd.DataFrame(rows), min_gap=0.15)
    assert eff.loc[0, "gain"] == pytest.approx(0.4) and np.isnan(eff.loc[0, "gain_grows"])
    # a second seed with the same gaps and twice the gains (logconf PGR 0.6, 1.0, 0.4 against xent's 0.2):
    # the pooled terms are 2.5 and 5 (each seed's covariance over the mean within-seed gap variance)
    doubled = {("a", "b"): 0.6, ("a", "c"): 1.0, ("b", "c"): 0.4}
    seed1 = [{**r, "seed": 1, "pgr_acc": doubled[r["weak"], r["strong"]] if r["loss"] == "logconf" else r["pgr_acc"]}
             for r in rows]
    eff = w2s.confidence_gain_by_seed(pd.DataFrame(rows + seed1))
    assert eff["gain_grows"].tolist() == pytest.approx([2.5, 5.0])


def test_layer_features_of_a_text_do_not_depend_on_its_batch_or_position(monkeypatch, tmp_path):
    """Length-sorted batching: each text's features are what it gets in any order, returned in input order."""
    from w2s_lib.generalization.frozen import layer_features

    texts = ["a short one.", "this review is a good deal longer than the first one, and it rambles on.",
             "mid length review text here.", "ok"] * 3 + ["the last text, of medium length."]
    monkeypatch.setenv("W2S_HOME", str(tmp_path / "a"))
    f = layer_features(texts, "random", preset="smoke", model="minilm-l2")
    monkeypatch.setenv("W2S_HOME", str(tmp_path / "b"))
    order = np.random.default_rng(0).permutation(len(texts))
    g = layer_features([texts[i] for i in order], "random", preset="smoke", model="minilm-l2")
    assert f.shape == (3, len(texts), f.shape[-1])
    np.testing.assert_allclose(g, f[:, order], atol=1e-5)
    np.testing.assert_allclose(f[:, 0], f[:, 4], atol=1e-5)  # the same text twice, in different batches


def test_train_heads_foreach_adam_equals_the_default_loop(monkeypatch):
    """train_heads steps Adam with foreach=True for speed; it must give the default single-tensor loop's
    weights bit for bit (weight decay on and off)."""
    from w2s_lib.generalization import frozen

    g = torch.Generator().manual_seed(0)
    x, y, test = torch.randn(3, 70, 5, generator=g), torch.rand(3, 70, generator=g), [torch.randn(3, 9, 5, generator=g)]
    adam = torch.optim.Adam
    for wd in (0.0, 0.01):
        fast = frozen.train_heads(x, y, test, lr=1e-2, epochs=2.0, batch_size=16, weight_decay=wd)
        monkeypatch.setattr(frozen.torch.optim, "Adam", lambda params, **kw: adam(params, **{**kw, "foreach": False}))
        slow = frozen.train_heads(x, y, test, lr=1e-2, epochs=2.0, batch_size=16, weight_decay=wd)
        monkeypatch.setattr(frozen.torch.optim, "Adam", adam)
        assert all(np.array_equal(a, b) for a, b in zip(fast, slow))
