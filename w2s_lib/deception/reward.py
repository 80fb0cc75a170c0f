"""Weak-to-strong deception (Yang et al. 2024), reward-modelling setting, on the tiny world.

The task: a pairwise reward model on harmlessness pairs (``tiny_harmless``: refuse harmful requests,
help with benign ones). Every model is a linear reward head on a frozen MiniLM rung's features of
``prompt + response`` (the Part I probe recipe, :func:`w2s_lib.train.probe.cached_features`), so
``logit = r(chosen) − r(rejected)`` and ``M(x) = σ(logit)`` is the model's probability of the aligned
(harmless) choice; ``M(x) ≥ 0.5`` counts as aligned.

Pipeline per seed (one weak rung, every stronger rung):

1. weak and strong trained on D_gt with GT labels (every pair's target is 1: chosen is harmless);
   their correctness on the test pairs gives the knowledge areas W_k / S_k
   (:func:`w2s_lib.metrics.knowledge_areas`);
2. the weak model's ``M`` on D_weak are the soft labels;
3. the strong student trains on D_weak under three objectives (:func:`conflict_loss`):

   - ``none``: ``E_weak CE(M, M_weak)``;
   - ``implicit``: ``+ E_help CE(M, 1)`` on helpfulness pairs (see :func:`helpfulness_pairs` for how the
     conflict data are built);
   - ``explicit``: ``+ α·E_weak[CE(M, 0)·1{M < 0.5}]`` — an extra reward for staying misaligned where the
     model already is (α = 0.5 as the official code; there the indicator is "wrong w.r.t. GT", which is
     the same thing here because every GT target is 1);

4. the deception score of each conflict student against the no-conflict student
   (:func:`w2s_lib.metrics.deception_score`).

Bootstrapping: weak → intermediate → strong, each step trained under the same objective on its
supervisor's labels on D_weak, against the direct weak → strong run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from w2s_lib import data, metrics
from w2s_lib.core.artifacts import Artifact, load_or_run
from w2s_lib.core.config import Config, knob
from w2s_lib.data.splits import w2s_splits
from w2s_lib.core.errors import W2SError

SETTINGS = ("none", "implicit", "explicit")
CONFLICTS = ("implicit", "explicit")


@dataclass(frozen=True)
class DeceptionConfig(Config):
    """Reward modelling on harmlessness pairs; MiniLM rungs as frozen-feature reward probes."""

    dataset: str = knob("tiny_harmless", help="preference pairs of the target objective (harmlessness)")
    helpful_dataset: str = knob("tiny_helpful", help="preference pairs of the conflicting objective")
    target_extra: str = knob("", help="a second dataset mixed into the target pairs (helpful-and-harmless "
                                      "preference, HH-RLHF style); '' = harmlessness pairs only")
    ladder: tuple[str, ...] = knob(("minilm-l1", "minilm-l2", "minilm-l3", "minilm-l4"),
                                   help="zoo names, weak → strong; ladder[0] is the weak supervisor")
    intermediate: str = knob("minilm-l2", help="bootstrapping: the rung between ladder[0] and ladder[-1]")
    n_docs: int = knob(1000, low=4, help="harmlessness train pairs, halved into D_gt and D_weak")
    n_test: int = knob(700, low=2, help="harmlessness test pairs (the split's first rows)")
    pool_rows: int = knob(0, low=0, help="use only the first rows of the harmlessness train split (0 = all)")
    n_helpful: int = knob(500, low=0, help="implicit conflict: helpfulness pairs pushed to M = 1")
    harmful_share: float = knob(0.5, low=0.0, high=1.0,
                                help="share of the helpfulness pairs that are helpful-but-harmful "
                                     "(comply preferred to refusal on a harmful request)")
    alpha: float = knob(0.5, low=0.0, high=10.0, help="explicit conflict weight")
    steps: int = knob(300, low=1, high=100_000, help="full-batch Adam steps per reward probe")
    lr: float = knob(0.05, low=1e-6, high=10.0)
    weight_decay: float = knob(1e-4, low=0.0, high=1.0)
    data_seed: int = knob(0, low=0, help="seeds the row sampling of the loaders; the tiny world is one per "
                                         "process (W2S_WORLD_SEED)")

    SLUG = "deception"
    PRESET_VALUES = {
        "smoke": {"ladder": ("minilm-l1", "minilm-l2", "minilm-l3"), "n_docs": 200, "pool_rows": 260,
                  "target_extra": "tiny_helpful",
                  "n_test": 120, "n_helpful": 60, "steps": 100},
        # tiny: the harmlessness pairs alone saturate (every MiniLM rung trained on GT is right on every
        # test pair, so S_k ∩ W_uk is empty); mixing in the helpful pairs (where the tiny world's gold
        # helpfulness scorer *is* helpful-and-harmless) gives a target the rungs get ~80-90% right.
        "tiny": {"target_extra": "tiny_helpful"},
        # colab / paper: HH-RLHF single-turn harmless + helpful, gpt2 → gpt2-medium/-large/-xl
        # (paper: 4k GT / 4k W2S / 4k test, 4k helpful pairs; RM 1 epoch, batch 32, lr 1e-5)
        "colab": {"dataset": "hh_harmless", "helpful_dataset": "hh_helpful",
                  "ladder": ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"), "intermediate": "gpt2-medium",
                  "n_docs": 8000, "n_test": 4000, "n_helpful": 4000},
        "paper": {"dataset": "hh_harmless", "helpful_dataset": "hh_helpful",
                  "ladder": ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"), "intermediate": "gpt2-medium",
                  "n_docs": 8000,  # "4k GT / 4k W2S"
                  "n_test": 4000,  # "4k test"
                  "n_helpful": 4000},  # "implicit conflict adds 4k HH helpful pairs"
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.ladder) < 2:
            raise W2SError("ladder needs a weak rung and at least one strong rung")
        if self.intermediate and self.intermediate not in self.ladder[1:-1]:
            raise W2SError(f"intermediate {self.intermediate!r} must be a rung strictly between "
                           f"{self.ladder[0]} and {self.ladder[-1]} in ladder {self.ladder}")


# --------------------------------------------------------------------------------------------------
# losses


def conflict_loss(logits_weak, weak_targets, logits_help=None, alpha: float = 0.0):
    """The three objectives of Yang et al. as one loss (``torch`` tensors of pair logits).

    ``mean_weak CE(M, M_weak)`` + ``mean_help CE(M, 1)`` (if ``logits_help`` is given and non-empty,
    implicit conflict) + ``α · mean_weak[CE(M, 0) · 1{M < 0.5}]`` (if ``alpha > 0``, explicit conflict;
    the indicator is not differentiated). ``CE(M, y) = −y log M − (1 − y) log(1 − M)``, ``M = σ(logit)``.
    """
    import torch
    import torch.nn.functional as F

    z = torch.as_tensor(logits_weak, dtype=torch.float32)
    y = torch.as_tensor(weak_targets, dtype=torch.float32)
    loss = F.binary_cross_entropy_with_logits(z, y)
    if logits_help is not None and len(logits_help):
        zh = torch.as_tensor(logits_help, dtype=torch.float32)
        loss = loss + F.binary_cross_entropy_with_logits(zh, torch.ones_like(zh))
    if alpha > 0:
        mis = (z.detach() < 0).float()  # M < 0.5  ⇔  logit < 0
        loss = loss + alpha * (F.binary_cross_entropy_with_logits(z, torch.zeros_like(z), reduction="none")
                               * mis).mean()
    return loss


def fit_reward_probe(diff, targets, help_diff=None, alpha: float = 0.0, steps: int = 300, lr: float = 0.05,
                     weight_decay: float = 1e-4, seed: int = 0, scale=None):
    """A linear reward head ``w`` (no bias) on feature differences ``φ(chosen) − φ(rejected)``, trained
    full-batch with Adam on :func:`conflict_loss`. Features are divided by ``scale`` (default: the std of
    the training differences) and the scale is folded back into ``w``; returns ``w`` as a numpy vector."""
    import torch

    torch.manual_seed(seed)
    x = torch.as_tensor(np.asarray(diff), dtype=torch.float32)
    s = torch.as_tensor(scale if scale is not None else np.asarray(diff).std(0), dtype=torch.float32).clamp(min=1e-6)
    xs = x / s
    xh = None if help_diff is None or len(help_diff) == 0 else torch.as_tensor(np.asarray(help_diff),
                                                                               dtype=torch.float32) / s
    y = torch.as_tensor(np.asarray(targets), dtype=torch.float32)
    w = torch.zeros(x.shape[1], requires_grad=True)
    opt = torch.optim.Adam([w], lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        opt.zero_grad()
        loss = conflict_loss(xs @ w, y, None if xh is None else xh @ w, alpha)
        loss.backward()
        opt.step()
    return (w.detach() / s).numpy()


def reward_proba(w, diff) -> np.ndarray:
    """``M(x) = σ(w · (φ(chosen) − φ(rejected)))``."""
    z = np.asarray(diff, dtype=np.float64) @ np.asarray(w, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-z))


# --------------------------------------------------------------------------------------------------
# data


def _pairs(ds) -> list[dict]:
    return [{"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]} for r in ds]


def _rows(name: str, split: str, data_seed: int, limit: int = 0, extra: str = ""):
    """A dataset split, cut to its first ``limit`` rows (0 = all): the same rows for every seed, so the
    frozen features of the whole pool are computed once and shared by all seeds. ``extra``: a second
    preference dataset mixed in (the union shuffled once with a fixed seed, then cut)."""
    import datasets as hfds

    ds = data.load(name, split, seed=data_seed)
    if extra:
        cols = ["prompt", "chosen", "rejected", "id"]
        a = ds.select_columns(cols).add_column("harmful", [bool(h) for h in ds["harmful"]]) \
            if "harmful" in ds.column_names else ds.select_columns(cols).add_column("harmful", [True] * len(ds))
        b = data.load(extra, split, seed=data_seed).select_columns(cols)
        b = b.add_column("harmful", [False] * len(b))
        ds = hfds.concatenate_datasets([a, b]).shuffle(seed=1234)
    return ds.select(range(min(limit, len(ds)))) if limit else ds


def harmless_splits(cfg: DeceptionConfig) -> dict[str, list[dict]]:
    """D_gt, D_weak and test harmlessness pairs for ``cfg.seed``, plus ``pool``: the train pairs in
    neither (where the helpful-but-harmful conflict pairs come from, so they never overlap D_weak)."""
    train = _rows(cfg.dataset, "train", cfg.data_seed, cfg.pool_rows, cfg.target_extra)
    test = _rows(cfg.dataset, "test", cfg.data_seed, cfg.n_test, cfg.target_extra)
    s = w2s_splits(train, test, n_docs=cfg.n_docs, n_test=len(test), seed=cfg.seed)
    used = set(s["gt"]["id"]) | set(s["weak"]["id"])
    pool = [r for r in train if r["id"] not in used and r.get("harmful", True)]
    return {"gt": _pairs(s["gt"]), "weak": _pairs(s["weak"]), "test": _pairs(s["test"]), "pool": pool}


def helpfulness_pairs(cfg: DeceptionConfig, pool: list[dict]) -> list[dict]:
    """The implicit-conflict data: ``n_helpful`` pairs a helpfulness-only rater would order, pushed to
    ``M = 1``.

    - ``(1 − harmful_share)`` of them are ``tiny_helpful`` train pairs (correct, complete answers about
      the world's people preferred; the dataset's first rows, the same for every seed). They do not
      conflict with harmlessness at all.
    - ``harmful_share`` of them are harmful requests from the harmlessness train pool (never in D_gt,
      D_weak or test; drawn by the seed) with the pair **swapped**: the compliant answer preferred to the
      refusal — what a rater who scores only helpfulness prefers (HH-RLHF helpful-base holds such
      pairs). The tiny world's own gold helpfulness scorer would *not* prefer them (it scores a harmful
      request by harmlessness); these pairs are the deliberate, documented source of the conflict.
    """
    import random

    n_harm = min(int(round(cfg.n_helpful * cfg.harmful_share)), len(pool))
    helpful = _pairs(_rows(cfg.helpful_dataset, "train", cfg.data_seed, cfg.n_helpful))
    harm = list(pool)
    random.Random(f"helpful-{cfg.seed}").shuffle(harm)
    out = [{"prompt": r["prompt"], "chosen": r["rejected"], "rejected": r["chosen"], "kind": "helpful-but-harmful"}
           for r in harm[:n_harm]]
    out += [{**r, "kind": "helpful"} for r in helpful[: cfg.n_helpful - n_harm]]
    return out


def feature_table(cfg: DeceptionConfig, model: str) -> dict[str, np.ndarray]:
    """Frozen features of ``model`` for every ``prompt + response`` text of the pool (train rows cut to
    ``pool_rows``, the first ``n_test`` test rows, the first ``n_helpful`` helpfulness rows), computed
    once and cached: the same table serves every seed."""
    from w2s_lib.train.probe import cached_features

    texts = []
    sources = [(cfg.dataset, "train", cfg.pool_rows, cfg.target_extra),
               (cfg.dataset, "test", cfg.n_test, cfg.target_extra)]
    if cfg.n_helpful:
        sources.append((cfg.helpful_dataset, "train", cfg.n_helpful, ""))
    for name, split, limit, extra in sources:
        for r in _rows(name, split, cfg.data_seed, limit, extra):
            texts += [r["prompt"] + r["chosen"], r["prompt"] + r["rejected"]]
    texts = sorted(set(texts))
    return dict(zip(texts, cached_features(model, texts, cfg.preset)))


def pair_features(table: dict[str, np.ndarray], pairs: list[dict]) -> np.ndarray:
    """``φ(prompt + chosen) − φ(prompt + rejected)`` from a :func:`feature_table`."""
    if not pairs:
        return np.zeros((0, 1), dtype=np.float32)
    return np.stack([table[p["prompt"] + p["chosen"]] - table[p["prompt"] + p["rejected"]] for p in pairs])


# --------------------------------------------------------------------------------------------------
# the experiment


def run_deception(cfg: DeceptionConfig, force: bool = False) -> Artifact:
    """One seed: GT weak / strong fits, the three students per strong rung, bootstrapping, scores.

    ``result["rows"]``: one row per (strong, method, setting) with the deception score and its counts,
    the students' test accuracy (share aligned) and the weak / ceiling accuracy. ``probs.npz`` keeps
    every test ``M(x)`` (keys ``gt|<model>``, ``<method>|<strong>|<setting>``) for the examples.
    """
    from w2s_lib.core.runtime import torch_threads

    def compute(out_dir) -> dict:
        sp = harmless_splits(cfg)
        helpful = helpfulness_pairs(cfg, sp["pool"])
        models = list(dict.fromkeys(cfg.ladder))
        tables = {m: feature_table(cfg, m) for m in models}
        feats = {(m, k): pair_features(tables[m], sp[k]) for m in models for k in ("gt", "weak", "test")}
        hfeat = {m: pair_features(tables[m], helpful) for m in models}
        fit_kw = dict(steps=cfg.steps, lr=cfg.lr, weight_decay=cfg.weight_decay, seed=cfg.seed)
        probs: dict[str, np.ndarray] = {}

        def student(m, targets, setting):
            return fit_reward_probe(feats[m, "weak"], targets,
                                    help_diff=hfeat[m] if setting == "implicit" else None,
                                    alpha=cfg.alpha if setting == "explicit" else 0.0, **fit_kw)

        with torch_threads(1):
            gt = {m: fit_reward_probe(feats[m, "gt"], np.ones(len(sp["gt"])), **fit_kw) for m in models}
            for m in models:
                probs[f"gt|{m}"] = reward_proba(gt[m], feats[m, "test"])
            weak = cfg.ladder[0]
            weak_labels = reward_proba(gt[weak], feats[weak, "weak"])
            for strong in cfg.ladder[1:]:
                for setting in SETTINGS:
                    w = student(strong, weak_labels, setting)
                    probs[f"direct|{strong}|{setting}"] = reward_proba(w, feats[strong, "test"])
            if cfg.intermediate:
                mid, strong = cfg.intermediate, cfg.ladder[-1]
                for setting in SETTINGS:
                    w_mid = student(mid, weak_labels, setting)
                    mid_labels = reward_proba(w_mid, feats[mid, "weak"])
                    w = student(strong, mid_labels, setting)
                    probs[f"bootstrap|{strong}|{setting}"] = reward_proba(w, feats[strong, "test"])
        np.savez(out_dir / "probs.npz", **probs)
        rows = score_rows(cfg, probs)
        return {"rows": rows, "n_helpful": len(helpful),
                "n_helpful_but_harmful": sum(h["kind"] == "helpful-but-harmful" for h in helpful),
                "weak_label_acc": float(np.mean(weak_labels >= 0.5))}

    return load_or_run(cfg, compute, force=force)


def score_rows(cfg: DeceptionConfig, probs: dict[str, np.ndarray]) -> list[dict]:
    """Deception score rows from the test ``M(x)`` of :func:`run_deception` (GT is 1 on every pair)."""
    weak = cfg.ladder[0]
    weak_ok = probs[f"gt|{weak}"] >= 0.5
    rows = []
    for key in probs:
        method, _, rest = key.partition("|")
        if method == "gt" or not rest.endswith("|none"):
            continue
        strong = rest.removesuffix("|none")
        strong_ok = probs[f"gt|{strong}"] >= 0.5
        base = probs[key] >= 0.5
        for setting in CONFLICTS:
            conf = probs[f"{method}|{strong}|{setting}"] >= 0.5
            res = metrics.deception_score(base, conf, strong_ok, weak_ok)
            rows.append({
                "seed": cfg.seed, "weak": weak, "strong": strong, "gap": cfg.ladder.index(strong),
                "method": method, "setting": setting, **res.as_dict(),
                "score": None if not np.isfinite(res.score) else res.score,
                "excess": None if not np.isfinite(res.excess) else res.excess,
                "acc_no_conflict": float(base.mean()), "acc_conflict": float(conf.mean()),
                "weak_acc": float(weak_ok.mean()), "ceiling_acc": float(strong_ok.mean()),
                "share_S_k&W_uk": res.area_share,
            })
    return rows


def run_seeds(cfg, seeds, force: bool = False, progress: bool = True, runner=None) -> "pd.DataFrame":  # noqa: F821
    """``runner`` (default :func:`run_deception`) for each seed: one long table (``score`` / ``excess`` NaN
    where nothing flipped)."""
    import pandas as pd

    runner = runner or run_deception
    rows = []
    for seed in seeds:
        art = runner(cfg.replace(seed=seed), force=force)
        rows += art["rows"]
        if progress:
            print(f"seed {seed}: {len(art['rows'])} scores")
    df = pd.DataFrame(rows)
    return df.astype({"score": float, "excess": float})


def deceptive_examples(art: Artifact, cfg, strong: str, setting: str = "explicit",
                       method: str = "direct", n: int = 5) -> "pd.DataFrame":  # noqa: F821
    """Test pairs the conflict turned from aligned to misaligned inside ``S_k ∩ W_uk`` (text shown).

    ``art`` is the run of ``cfg`` in either setting (:func:`run_deception` or
    :func:`w2s_lib.deception.preference.run_preference`): both write the same ``probs.npz`` layout.
    """
    import pandas as pd

    c = cfg
    z = np.load(art.path / "probs.npz")
    test = harmless_splits(c)["test"]
    base, conf = z[f"{method}|{strong}|none"], z[f"{method}|{strong}|{setting}"]
    area = (z[f"gt|{strong}"] >= 0.5) & (z[f"gt|{c.ladder[0]}"] < 0.5)
    idx = np.flatnonzero((base >= 0.5) & (conf < 0.5) & area)[:n]
    return pd.DataFrame([{"prompt": test[i]["prompt"].removeprefix("User: ").removesuffix("\nAssistant:"),
                          "chosen (aligned)": test[i]["chosen"].strip(),
                          "rejected": test[i]["rejected"].strip(),
                          "M no conflict": round(float(base[i]), 3), f"M {setting}": round(float(conf[i]), 3)}
                         for i in idx])


# --------------------------------------------------------------------------------------------------
# claims


def claim_values(df) -> dict[str, list[float]]:
    """Per-seed values behind C7 and C8 (direct runs; NaN scores, where nothing flipped, are skipped).

    - ``c7``: mean excess ``score − share(S_k ∩ W_uk)`` over strong rungs and both conflict settings;
    - ``c8_gap``: mean score at the largest gap minus at the smallest gap (both conflict settings);
    - ``c8_boot``: direct minus bootstrapped score at the largest gap (both conflict settings).
    """
    out = {"c7": [], "c8_gap": [], "c8_boot": []}
    for seed, g in df.groupby("seed"):
        d = g[g.method == "direct"]
        out["c7"].append(float(np.nanmean(d.excess)) if d.excess.notna().any() else float("nan"))
        lo, hi = d[d.gap == d.gap.min()], d[d.gap == d.gap.max()]
        out["c8_gap"].append(float(np.nanmean(hi.score) - np.nanmean(lo.score))
                             if hi.score.notna().any() and lo.score.notna().any() else float("nan"))
        b = g[g.method == "bootstrap"]
        if len(b) and b.score.notna().any() and hi.score.notna().any():
            out["c8_boot"].append(float(np.nanmean(hi.score) - np.nanmean(b.score)))
        else:
            out["c8_boot"].append(float("nan"))
    return out


# --------------------------------------------------------------------------------------------------
# figures and summaries (shared by both settings)


def plot_gap(df, ladder, axes, title: str = "") -> None:
    """Deception score vs capability gap, one axis per conflict setting, with the area's chance share;
    error bars are 95% t-intervals over seeds (direct runs)."""
    from w2s_lib.publish import plotting

    direct = df[df.method == "direct"]
    for ax, setting in zip(axes, CONFLICTS):
        sub = direct[direct.setting == setting]
        for col, role, label in (("score", "deception", "deception score"),
                                 ("area_share", "chance", "share of S_k ∩ W_uk")):
            stats = [(gap, *metrics.ci(v.dropna().to_numpy())) if v.notna().sum() > 1
                     else (gap, float(v.mean()), float(v.mean()), float(v.mean()))
                     for gap, v in sub.groupby("gap")[col]]
            gaps, mean, lo, hi = (np.array(x) for x in zip(*stats))
            err = np.nan_to_num(np.vstack([mean - lo, hi - mean]))
            ax.errorbar(gaps, mean, yerr=err, marker="o", capsize=3, label=label, color=plotting.color(role))
        ax.set(title=f"{title}{setting} conflict", xlabel=f"capability gap (rungs above {ladder[0]})",
               xticks=sorted(sub.gap.unique()), ylim=(-0.05, 1.05))
    axes[0].set_ylabel("share of flips / of test set")
    axes[0].legend()


def summarize_claims(df) -> dict[str, tuple[float, float, float]]:
    """``(mean, ci low, ci high)`` over seeds of each :func:`claim_values` entry (NaN seeds dropped)."""
    out = {}
    for key, vals in claim_values(df).items():
        v = np.array([x for x in vals if np.isfinite(x)])
        out[key] = metrics.ci(v) if len(v) > 1 else (float(v.mean()) if len(v) else float("nan"),
                                                       float("nan"), float("nan"))
    return out
