"""Part II's experiment: steer larger base models with a small tuned/untuned pair, judged by a gold reward.

Steps, each cached by its config (so a killed run resumes step-wise and chapters share results):

1. :func:`tune_scorer` — the *untuned* small model samples continuations of training prompts; a gold
   reward labels the best and the worst of each prompt's samples; DPO turns the untuned model into the
   *tuned* one (as the paper tunes gpt2-imdb on gold-labelled pairs).
2. :func:`run_method` — one decoding method (base, BoN-N, EFT-β, CBS(W,K,L), or the tuned small model
   itself) on one base model over the test prompts, with the gold reward of every response and the
   compute account.
"""

from __future__ import annotations

from dataclasses import dataclass

import datasets
import numpy as np
import torch

from .. import data
from ..artifacts import Artifact, atomic_write_json, load_or_run
from ..config import Config, knob
from ..data import scorers
from ..errors import W2SError
from ..models import zoo
from ..runtime import torch_threads
from .cbs import best_of_n, chunk_beam_search, sample
from .eft import eft_sample
from .scorer import PairScorer

#: gold rewards of a (prompt, response): exact scorers of the tiny world
GOLD = {
    "sentiment": lambda prompt, response: scorers.sentiment(response),
    "helpfulness": lambda prompt, response: scorers.helpfulness(prompt, response),
    "faithfulness": scorers.summary_faithfulness,
}


@dataclass(frozen=True)
class SearchConfig(Config):
    """Controlled-sentiment generation guided by a small pair (Zhou et al. §4.1, on the tiny world)."""

    prompts: str = knob("tiny_reviews", help="registry name of a prompts dataset")
    gold: str = knob("sentiment", choices=tuple(GOLD), help="gold reward of a (prompt, response)")
    small: str = knob("tinygpt-xs", help="the untuned small model; the tuned one is it after DPO")
    bases: tuple[str, ...] = knob(("tinygpt-s", "tinygpt-m", "tinygpt-l"), help="strong base models, weak → strong")
    n_prompts: int = knob(64, low=1, help="test prompts per method")
    max_new_tokens: int = knob(32, low=1, high=1024)
    temperature: float = knob(0.7, low=0.0, high=5.0)  # paper: T = 0.7
    top_k: int = knob(50, low=0)  # paper: top-k 50
    cbs: tuple[int, int, int] = knob((4, 4, 5), low=1, help="W, K, L of the headline CBS (paper: 4, 4, 5)")
    bon: tuple[int, ...] = knob((16,), low=1, help="best-of-N sizes (paper: 16 and 32)")
    eft_beta: float = knob(1.0, low=0.0, high=10.0)  # paper: β = 1
    # tuning the small model
    tune_prompts: int = knob(256, low=2, help="training prompts sampled for DPO pairs")
    tune_samples: int = knob(8, low=2, help="samples per training prompt; best vs worst by gold reward")
    dpo_beta: float = knob(0.1, low=0.0)
    dpo_lr: float = knob(5e-4, low=0.0)  # paper: lr 5e-4
    dpo_epochs: float = knob(3.0, low=0.0)  # paper: 3 epochs
    dpo_batch: int = knob(32, low=1)  # paper: batch 32

    SLUG = "w2s-search"
    PRESET_VALUES = {
        "smoke": {"n_prompts": 4, "max_new_tokens": 12, "bases": ("tinygpt-m", "tinygpt-l"), "tune_prompts": 16,
                  "tune_samples": 4, "dpo_epochs": 1.0, "dpo_batch": 8, "bon": (8,)},
        "tiny": {},
        # colab: gpt2-imdb untuned/DPO-tuned guiding gpt2-large/-xl on IMDB; 200 prompts, 50 new tokens (paper §4.1)
        "colab": {"prompts": "imdb", "small": "gpt2-imdb", "bases": ("gpt2-large", "gpt2-xl"), "n_prompts": 200,
                  "max_new_tokens": 50, "bon": (16, 32), "tune_prompts": 2000},
        # paper: as colab with the bigger bases; the gold reward is distilbert-imdb (logit(pos) − logit(neg))
        "paper": {"prompts": "imdb", "small": "gpt2-imdb", "bases": ("gpt2-large", "gpt2-xl"), "n_prompts": 200,
                  "max_new_tokens": 50, "bon": (16, 32), "tune_prompts": 10000},
    }


@dataclass(frozen=True)
class MethodConfig(Config):
    """One decoding method on one base model, over the first ``n_prompts`` test prompts."""

    search: str = knob("", help="run id of the SearchConfig this belongs to")
    base: str = knob("tinygpt-l")
    method: str = knob("base", help="base | bon-N | eft-B | cbs-W-K-L | tuned")

    SLUG = "search-method"


def _generate_pairs(cfg: SearchConfig, model, tok) -> datasets.Dataset:
    rows = data.load(cfg.prompts, "train", seed=cfg.seed)
    rows = rows.select(range(min(cfg.tune_prompts, len(rows))))
    gold = GOLD[cfg.gold]
    out = {"prompt": [], "chosen": [], "rejected": [], "chosen_gold": [], "rejected_gold": []}
    for i, prompt in enumerate(rows["prompt"]):
        res = [sample(model, tok, prompt, max_new_tokens=cfg.max_new_tokens, temperature=1.0, top_k=0,
                      seed=cfg.seed * 100_003 + i * cfg.tune_samples + j) for j in range(cfg.tune_samples)]
        golds = [gold(prompt, r.text) for r in res]
        hi, lo = int(np.argmax(golds)), int(np.argmin(golds))
        if golds[hi] > golds[lo]:  # a tie carries no preference
            for key, value in (("prompt", prompt), ("chosen", res[hi].text), ("rejected", res[lo].text),
                               ("chosen_gold", golds[hi]), ("rejected_gold", golds[lo])):
                out[key].append(value)
    if not out["prompt"]:
        raise W2SError("the untuned model's samples were all tied under the gold reward; raise tune_samples")
    return datasets.Dataset.from_dict(out)


def tune_scorer(cfg: SearchConfig, force: bool = False) -> Artifact:
    """DPO the small model on pairs of its own samples labelled by the gold reward; saves ``tuned/``."""
    from ..train.preference import dpo_train

    def compute(out_dir):
        torch.manual_seed(cfg.seed)
        tok = zoo.load_tokenizer(cfg.small)
        pairs = _generate_pairs(cfg, zoo.load_causal_lm(cfg.small), tok)
        tuned = dpo_train(zoo.load_causal_lm(cfg.small), tok, pairs, beta=cfg.dpo_beta, lr=cfg.dpo_lr,
                          epochs=cfg.dpo_epochs, batch_size=cfg.dpo_batch, seed=cfg.seed)
        tuned.save_pretrained(out_dir / "tuned")
        tok.save_pretrained(out_dir / "tuned")
        pairs.to_json(out_dir / "pairs.jsonl")
        return {"n_pairs": len(pairs), "chosen_gold": float(np.mean(pairs["chosen_gold"])),
                "rejected_gold": float(np.mean(pairs["rejected_gold"]))}

    with torch_threads(1):
        return load_or_run(_tune_cfg(cfg), compute, force=force)


def _tune_cfg(cfg: SearchConfig) -> SearchConfig:
    # the tuned scorer depends only on the small model, data and tuning knobs: share it across bases/methods
    return cfg.replace(bases=(), n_prompts=1, cbs=(1, 1, 1), bon=(1,), eft_beta=0.0)


def method_names(cfg: SearchConfig) -> list[str]:
    w, k, ln = cfg.cbs
    return ["base", *[f"bon-{n}" for n in cfg.bon], f"eft-{cfg.eft_beta:g}", f"cbs-{w}-{k}-{ln}"]


def _run_one(method: str, base, tok, prompt: str, scorer: PairScorer, cfg: SearchConfig, seed: int):
    kw = dict(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_k=cfg.top_k, seed=seed)
    kind, *args = method.split("-")
    if kind == "base" or kind == "tuned":
        return sample(base, tok, prompt, **kw)
    if kind == "bon":
        return best_of_n(base, tok, prompt, scorer, n=int(args[0]), **kw)
    if kind == "eft":
        return eft_sample(base, tok, prompt, scorer, beta=float(args[0]), **kw)
    if kind == "cbs":
        w, k, ln = (int(a) for a in args)
        return chunk_beam_search(base, tok, prompt, scorer, width=w, successors=k, chunk_len=ln, **kw)
    raise W2SError(f"unknown search method {method!r}; use base, tuned, bon-N, eft-BETA or cbs-W-K-L")


def run_method(cfg: SearchConfig, base: str, method: str, force: bool = False) -> Artifact:
    """``method`` on ``base`` ('tuned' runs the tuned small model alone); gold reward per prompt."""
    tuned_dir = tune_scorer(cfg).path / "tuned"
    mcfg = MethodConfig(preset=cfg.preset, seed=cfg.seed, search=_method_key(cfg), base=base, method=method)

    def compute(out_dir):
        tuned = zoo.load_local_causal_lm(tuned_dir)
        tok = zoo.load_tokenizer(cfg.small)
        scorer = PairScorer(tuned, zoo.load_causal_lm(cfg.small), tok)
        model, model_tok = (tuned, tok) if method == "tuned" else (zoo.load_causal_lm(base), zoo.load_tokenizer(base))
        prompts = data.load(cfg.prompts, "test", seed=cfg.seed).select(range(cfg.n_prompts))["prompt"]
        rows, gold = [], GOLD[cfg.gold]
        for i, prompt in enumerate(prompts):
            res = _run_one(method, model, model_tok, prompt, scorer, cfg, seed=cfg.seed * 1_000_003 + i)
            rows.append({"prompt": prompt, "response": res.text, "gold": gold(prompt, res.text), **res.account})
        atomic_write_json(out_dir / "responses.json", rows)
        golds = np.array([r["gold"] for r in rows])
        return {"gold_mean": float(golds.mean()), "gold_std": float(golds.std()),
                "base_tokens_sampled": int(sum(r["base_tokens_sampled"] for r in rows)),
                "scorer_tokens_run": int(sum(r["scorer_tokens_run"] for r in rows))}

    with torch_threads(1):
        return load_or_run(mcfg, compute, force=force)


def _method_key(cfg: SearchConfig) -> str:
    # what a method's result depends on: everything but the lists of bases and methods to run
    return cfg.replace(bases=(), bon=(1,), cbs=(1, 1, 1), eft_beta=0.0).run_id


def results_frame(cfgs: list[SearchConfig], bases: list[str] | None = None, methods: list[str] | None = None,
                  with_tuned: bool = True, force: bool = False):
    """Run (or load) every method on every base for every seed's config; one row per (seed, base, method)."""
    import pandas as pd

    rows = []
    for cfg in cfgs:
        for base in bases or cfg.bases:
            for method in methods or method_names(cfg):
                r = run_method(cfg, base, method, force=force).result
                rows.append({"seed": cfg.seed, "base": base, "method": method, **r})
        if with_tuned:
            r = run_method(cfg, cfg.small, "tuned", force=force).result
            rows.append({"seed": cfg.seed, "base": f"{cfg.small} (tuned)", "method": "tuned", **r})
    frame = pd.DataFrame(rows)
    frame["tokens_per_prompt"] = frame["base_tokens_sampled"] / cfgs[0].n_prompts
    return frame


def paired_gain(frame, method: str, baseline: str):
    """Per base: mean over seeds of (method − baseline) gold reward, with the 95% t-CI of that mean."""
    import pandas as pd

    from ..metrics import ci

    out = []
    for base, grp in frame[frame.method.isin([method, baseline])].groupby("base", sort=False):
        wide = grp.pivot(index="seed", columns="method", values="gold_mean")
        if method not in wide or baseline not in wide:
            continue
        diff = (wide[method] - wide[baseline]).to_numpy()
        mean, lo, hi = ci(diff) if len(diff) > 1 else (float(diff.mean()), float("nan"), float("nan"))
        out.append({"base": base, "comparison": f"{method} − {baseline}", "gain": mean, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(out)
