"""Claim C4 with its mechanism: unsupervised finetuning on unlabelled task text makes a concept salient,
and a weak-to-strong student then recovers more of the gap (Burns et al. 2024, §5.2.2, "improving concept
saliency").

**The task (a tiny world of its own, seeded by the world seed).** Short reviews ``"the sauce is not very
tasty."``; the label is the sentence's polarity. Two kinds of carrier word:

- *known* adjectives (the tiny world's sentiment lexicon: ``tasty``, ``awful``, …), whose polarity the
  pretrained encoder already represents;
- *slang*: ordinary, sentiment-neutral English words (``cobalt``, ``meadow``, …; single WordPiece tokens)
  that in this world carry a polarity — half of them praise, half of them blame. Which is which shows **only
  through co-occurrence in unlabelled text**: reviewers who use a slang word of praise also praise in their
  other sentences.

Splits (vocabulary shift): D_gt holds known-adjective sentences only, so no label ever says what a slang word
means; D_weak and the test split use slang in half of the sentences. Negation flips the polarity.

**The ladder.** Weak supervisor (``SlangConfig.weak``; tiny: ``minilm-l1``): a smaller pretrained model of
the same kind — the first layer of MiniLM, read by the same head on its frozen features, trained on D_gt —
as Burns' weak supervisors are. Like the bag of words of earlier revisions (still ``weak="bow"``, the smoke
default) it cannot read negation and is at chance on slang, so it errs systematically exactly where the
strong model *can* be right; unlike the bag of words, which has no feature at all for a word D_gt never
showed it and so labels every slang row ≈ 0.5 (mean |P(1) − 0.5| on slang test rows 0.03, world 0, 3 seeds),
its pretrained features place slang words somewhere, and its soft labels there are about three times as
decided (0.09; known rows 0.20) — a weak model that guesses, not one that abstains on half of D_weak.
Changed this round after the bag-of-words verdict had been seen (disclosed in chapter 13). Strong model: MiniLM (offline
all-MiniLM-L6-v2, truncated) read by a linear probe on its frozen mean-pooled features (the ceiling on D_gt's
ground truth, the student on D_weak's weak soft labels, chapter 10's probe and loss).

**Generative / self-supervised finetuning.** Before any weak-to-strong training the strong encoder is
finetuned on unlabelled reviews (pairs of sentences of one review, no labels) with the objective it was
pretrained with: in-batch contrastive sentence matching (all-MiniLM-L6-v2's training loss; the released
checkpoint has no masked-LM head — a masked-LM pass with a fresh head was tried first and, within a budget of
~100 s CPU, moved nothing: measured in the chapter's notes). Two sentences of one review share their polarity,
so matching them pulls a slang word's sentences towards the known words of its polarity: the concept
*polarity* becomes one salient direction that covers slang too. The ceiling gets the same pass (as in the
paper); the weak supervisor never does.

**Mechanism off (the control).** The same pass on unlabelled reviews whose two sentences have independent
polarities: the text is the same kind, the co-occurrence signal is gone.

The self-supervised pass is one per (world, arm) — a property of the strong model, like its pretraining,
cached — and the run seeds draw the splits and train the supervisor, the ceiling and the student.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from w2s_lib import metrics
from w2s_lib.core.artifacts import Artifact, cached_array, load_or_run
from w2s_lib.core.config import Config, TrainStage, knob
from w2s_lib.core.errors import W2SError
from w2s_lib.core.numerics import LossGuard, lr_hint
from w2s_lib.core.runtime import quiet_transformers

#: sentiment-neutral English words that are one WordPiece token each in MiniLM's uncased vocabulary
SLANG_POOL = ("amber", "cobalt", "violet", "olive", "ivory", "maroon", "indigo", "copper", "silver", "granite",
              "marble", "cedar", "maple", "willow", "coral", "slate", "canyon", "harbor", "meadow", "walnut",
              "orchid", "velvet", "basalt", "quartz")
ITEMS = ("sauce", "screen", "battery", "service", "coffee", "staff", "price", "menu", "case", "sound")
MODIFIERS = ("", "", "very ", "really ", "extremely ")
ARMS = ("none", "generative", "control")


@dataclass(frozen=True)
class SlangConfig(Config):
    """C4 on the slang task: weak bag-of-words → strong MiniLM probe, with / without a self-supervised pass."""

    world: int = knob(0, low=0, help="the slang world (which words praise); the notebook passes W2S_WORLD_SEED")
    strong: str = knob("minilm-l2", help="zoo name of the strong encoder (a MiniLM rung)")
    weak: str = knob("bow", added_later=True,
                     help="the weak supervisor: a smaller MiniLM rung (zoo name) read by the same head on its "
                          "frozen features, trained on D_gt (Burns: a smaller pretrained model of the same kind), "
                          "or 'bow' (a bag-of-words logistic regression: no features at all for unseen words)")
    n_gt: int = knob(4000, low=4, help="D_gt rows (known adjectives only)")
    n_weak: int = knob(4000, low=4, help="D_weak rows (half slang)")
    n_test: int = knob(2000, low=4, help="test rows (half slang)")
    neg_frac: float = knob(0.3, low=0.0, high=0.5, help="share of negated sentences")
    slang_frac: float = knob(0.5, low=0.0, high=1.0, help="share of D_weak / test sentences carried by slang")
    n_pairs: int = knob(800, low=8, help="unlabelled reviews (sentence pairs) for the self-supervised pass")
    ssl: TrainStage = knob(TrainStage(lr=3e-4, epochs=4.0, batch_size=32),
                           help="the self-supervised pass (AdamW; batch_size = in-batch negatives per step)")
    ssl_scale: float = knob(20.0, low=1.0, high=100.0, help="cosine-similarity scale (sentence-transformers' default)")
    weak_labels: str = knob("soft", choices=("hard", "soft"),
                            help="what the student trains on: the supervisor's chosen class ('hard': it commits, "
                                 "and errs, on slang) or its P(1) ('soft': ≈ 0.5 on every slang row — it abstains "
                                 "there, and the student learns to abstain)")
    head: TrainStage = knob(TrainStage(lr=1e-3, epochs=2.0, batch_size=32),
                            help="ceiling and student heads: Part I's tiny recipe (chapter 10; the official 2 epochs, "
                                 "batch 32, Adam, cosine)")

    SLUG = "slang"
    PRESET_VALUES = {
        "smoke": {"strong": "minilm-l1", "n_gt": 120, "n_weak": 120, "n_test": 120, "n_pairs": 64, "ssl.epochs": 1.0},
        "tiny": {"weak": "minilm-l1"},
        # colab / paper: the same offline task on the full 6-layer encoder (a GPU makes the pass cheap)
        "colab": {"strong": "minilm-l6", "n_gt": 2000, "n_weak": 2000, "n_test": 2000, "n_pairs": 4000},
        "paper": {"strong": "minilm-l6", "n_gt": 5000, "n_weak": 5000, "n_test": 5000, "n_pairs": 10000},
    }


@dataclass(frozen=True)
class SSLConfig(Config):
    """One cached self-supervised pass of ``strong`` over unlabelled reviews (``signal``: with co-occurrence)."""

    world: int = knob(0, low=0)
    strong: str = knob("minilm-l2")
    signal: bool = knob(True, help="the two sentences of a review share their polarity (False: the control)")
    n_pairs: int = knob(800, low=8)
    stage: TrainStage = knob(TrainStage(lr=3e-4, epochs=4.0, batch_size=32))
    scale: float = knob(20.0, low=1.0)

    SLUG = "ssl"


# ----------------------------------------------------------------------------- the slang world
def slang(world: int) -> dict[str, int]:
    """Slang word → polarity (+1 praise / −1 blame): half of :data:`SLANG_POOL` each, shuffled by ``world``."""
    words = list(SLANG_POOL)
    random.Random(f"slang:{world}").shuffle(words)
    return {w: (1 if i % 2 == 0 else -1) for i, w in enumerate(words)}


def known_words() -> dict[str, int]:
    from w2s_lib.data.tinyworld.lexicon import LEXICON

    return {w: (1 if s > 0 else -1) for w, s in sorted(LEXICON.items())}


def _sentence(rng: random.Random, word: str, negated: bool) -> str:
    return f"the {rng.choice(ITEMS)} is {'not ' if negated else ''}{rng.choice(MODIFIERS)}{word}."


def labelled_rows(world: int, split: str, n: int, seed: int, slang_frac: float, neg_frac: float) -> list[dict]:
    """``n`` rows ``text, label, kind`` (``known`` / ``slang``) of ``split`` (gt | weak | test)."""
    if split not in ("gt", "weak", "test"):
        raise W2SError(f"unknown split {split!r}; choose one of: gt, weak, test")
    rng = random.Random(f"slang-rows:{world}:{split}:{seed}")
    sl, kw = slang(world), known_words()
    share = 0.0 if split == "gt" else slang_frac
    rows = []
    for _ in range(n):
        negated = rng.random() < neg_frac
        kind = "slang" if rng.random() < share else "known"
        pool = sl if kind == "slang" else kw
        word = rng.choice(sorted(pool))
        rows.append({"text": _sentence(rng, word, negated), "label": int((pool[word] > 0) != negated),
                     "kind": kind})
    return rows


def unlabelled_pairs(world: int, n: int, signal: bool, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` unlabelled reviews of two sentences, each carried by a known or a slang word (never negated).
    ``signal``: both sentences share a polarity (what reveals the slang); else each draws its own."""
    rng = random.Random(f"slang-pairs:{world}:{signal}:{seed}")
    words = {**known_words(), **slang(world)}
    by_pol = {p: sorted(w for w, q in words.items() if q == p) for p in (1, -1)}
    out = []
    for _ in range(n):
        p1 = rng.choice((1, -1))
        p2 = p1 if signal else rng.choice((1, -1))
        out.append((_sentence(rng, rng.choice(by_pol[p1]), False), _sentence(rng, rng.choice(by_pol[p2]), False)))
    return out


# ----------------------------------------------------------------------------- the self-supervised pass
def _embed(model, tok, texts: list[str], rows=None):
    """Normalised mean-pooled sentence embeddings; ``rows`` (from :func:`reachable_rows`) maps token ids to
    the rows of a model whose input embedding holds only those rows."""
    import torch

    from w2s_lib.models.heads import pool_mean

    b = tok(list(texts), padding=True, truncation=True, max_length=64, return_tensors="pt")
    ids = b["input_ids"] if rows is None else rows[b["input_ids"]]
    h = model(input_ids=ids, attention_mask=b["attention_mask"]).last_hidden_state
    return torch.nn.functional.normalize(pool_mean(h, b["attention_mask"]), dim=-1)


@contextlib.contextmanager
def reachable_rows(model, tok, texts: list[str]):
    """Inside the block ``model``'s input embedding holds only the rows ``texts`` can reach (their tokens and
    the padding token); it yields the map token id → row (−1 elsewhere: an unreachable id fails loudly), for
    :func:`_embed`. On exit the rows are written back into the full table, which is put back.

    What it saves: a pass whose texts use a few dozen of the vocabulary's 30k tokens (the slang reviews: 71)
    would otherwise build a dense 30k-row gradient and step AdamW over every row at every step (about half of
    the pass's CPU). The result is the same to the bit: a row no text reaches has a zero gradient at every
    step, so AdamW (no weight decay) leaves it exactly as it was, and every reachable row sees the same
    arithmetic (AdamW is elementwise). The padding row keeps its value and gets no gradient, as ``padding_idx``
    says in both tables."""
    import torch

    full = model.get_input_embeddings()
    reach = {tok.pad_token_id, full.padding_idx} - {None}
    for ids in tok(list(texts), truncation=True, max_length=64)["input_ids"]:
        reach.update(ids)
    keep = torch.tensor(sorted(reach))
    rows = torch.full((full.num_embeddings,), -1, dtype=torch.long)
    rows[keep] = torch.arange(len(keep))
    pad = None if full.padding_idx is None else int(rows[full.padding_idx])
    # from_pretrained draws no random numbers (the pass's seeded dropout stream is untouched)
    part = torch.nn.Embedding.from_pretrained(full.weight.detach()[keep].clone(), freeze=False, padding_idx=pad)
    model.set_input_embeddings(part)
    try:
        yield rows
    finally:
        with torch.no_grad():
            full.weight[keep] = part.weight
        model.set_input_embeddings(full)


def contrastive_finetune(model, tok, pairs: list[tuple[str, str]], epochs: float, lr: float, batch: int,
                         scale: float, seed: int) -> list[float]:
    """In-batch contrastive matching of the two sentences of each unlabelled review (symmetric cross-entropy
    over ``scale ×`` cosine similarities; AdamW, cosine decay): all-MiniLM-L6-v2's own training objective.
    Trains ``model`` in place; returns the losses."""
    import torch

    if len(pairs) < 2:
        raise W2SError("the contrastive pass needs at least two pairs (one in-batch negative)")
    g = random.Random(seed)
    torch.manual_seed(seed)
    steps = max(1, math.ceil(epochs * math.ceil(len(pairs) / batch)))
    with reachable_rows(model, tok, [s for pair in pairs for s in pair]) as rows:  # the same weights, faster
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
        guard = LossGuard(lr_hint("lr", lr))
        order: list[int] = []
        losses = []
        model.train()
        for step in range(steps):
            while len(order) < batch:
                perm = list(range(len(pairs)))
                g.shuffle(perm)
                order += perm
            idx, order = order[:batch], order[batch:]
            a = _embed(model, tok, [pairs[i][0] for i in idx], rows)
            b = _embed(model, tok, [pairs[i][1] for i in idx], rows)
            sim = scale * a @ b.T
            target = torch.arange(len(idx))
            xent = torch.nn.functional.cross_entropy
            loss = (xent(sim, target) + xent(sim.T, target)) / 2
            for pg in opt.param_groups:
                pg["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
            guard(loss)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    model.eval()
    return losses


def ssl_backbone(sc: SSLConfig, force: bool = False):
    """The strong encoder after the self-supervised pass of ``sc`` (cached as a checkpoint)."""
    from w2s_lib.core.runtime import torch_threads
    from w2s_lib.models import zoo

    def compute(out_dir: Path) -> dict:
        with torch_threads(1):
            model, tok = zoo.load_backbone(sc.strong), zoo.load_tokenizer(sc.strong)
            t0 = time.process_time()
            losses = contrastive_finetune(model, tok, unlabelled_pairs(sc.world, sc.n_pairs, sc.signal),
                                          sc.stage.epochs, sc.stage.lr, sc.stage.batch_size, sc.scale, seed=sc.world)
            cpu = time.process_time() - t0
        with quiet_transformers():  # no "Writing model shards" bar in the book
            model.save_pretrained(out_dir / "model")
        return {"first_loss": losses[0], "last_loss": float(np.mean(losses[-5:])), "steps": len(losses),
                "cpu_seconds": round(cpu, 1)}

    art = load_or_run(sc, compute, force=force)
    from transformers import AutoModel

    from w2s_lib.models import zoo

    with quiet_transformers():
        return AutoModel.from_pretrained(art.path / "model").eval(), art


def sentence_space(world: int) -> list[str]:
    """Every distinct labelled sentence of the world (any item, modifier, negation, known or slang word):
    the splits draw from these, so one forward pass per arm covers every seed."""
    words = sorted({**known_words(), **slang(world)})
    return [f"the {item} is {neg}{mod}{w}." for w in words for item in ITEMS for neg in ("", "not ")
            for mod in sorted(set(MODIFIERS))]


@dataclass(frozen=True)
class SlangFeaturesConfig(Config):
    """Frozen mean-pooled features of one arm's encoder over :func:`sentence_space` (cached)."""

    world: int = knob(0, low=0)
    strong: str = knob("minilm-l2")
    arm: str = knob("none", choices=ARMS)
    ssl: str = knob("", help="run id of the self-supervised pass the arm reads ('' for the arm 'none')")

    SLUG = "slangfeats"


def ssl_config(cfg: SlangConfig, arm: str) -> SSLConfig | None:
    """The pass arm ``arm`` reads (None for ``none``)."""
    if arm == "none":
        return None
    return SSLConfig(preset=cfg.preset, world=cfg.world, strong=cfg.strong, signal=arm == "generative",
                     n_pairs=cfg.n_pairs, stage=cfg.ssl, scale=cfg.ssl_scale)


def features_config(cfg: SlangConfig, arm: str) -> SlangFeaturesConfig:
    sc = ssl_config(cfg, arm)
    return SlangFeaturesConfig(preset=cfg.preset, world=cfg.world, strong=cfg.strong, arm=arm,
                               ssl=sc.run_id if sc else "")


def arm_features(cfg: SlangConfig, arm: str, force: bool = False) -> tuple[dict[str, int], np.ndarray]:
    """``(row of each sentence, features)`` of :func:`sentence_space` under arm ``arm``'s encoder."""
    sc, fc = ssl_config(cfg, arm), features_config(cfg, arm)
    texts = sentence_space(cfg.world)

    def compute() -> np.ndarray:
        from w2s_lib.core.runtime import torch_threads
        from w2s_lib.models import zoo

        with torch_threads(1):
            model = zoo.load_backbone(cfg.strong) if sc is None else ssl_backbone(sc, force=force)[0]
            return _features(model, zoo.load_tokenizer(cfg.strong), texts)

    return {t: i for i, t in enumerate(texts)}, cached_array(fc, compute, force=force)


def _features(model, tok, texts: list[str]) -> np.ndarray:
    import torch

    with torch.no_grad():
        return np.concatenate([_embed(model, tok, texts[i:i + 256]).numpy() for i in range(0, len(texts), 256)])


# ----------------------------------------------------------------------------- one experiment
def _bow_weak(gt: list[dict], others: dict[str, list[dict]], seed: int) -> dict[str, np.ndarray]:
    """The weak supervisor: bag-of-words logistic regression on D_gt; P(1) on each split in ``others``."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    cv = CountVectorizer(token_pattern=r"[a-z]+")
    x = cv.fit_transform([r["text"] for r in gt])
    clf = LogisticRegression(C=1.0, max_iter=1000, random_state=seed).fit(x, [r["label"] for r in gt])
    return {k: clf.predict_proba(cv.transform([r["text"] for r in rows]))[:, 1] for k, rows in others.items()}


def weak_labels(cfg: SlangConfig, rows: list[dict[str, list[dict]]], seeds: list[int],
                force: bool = False) -> list[dict[str, np.ndarray]]:
    """Per seed (``rows[i]`` are seed ``seeds[i]``'s splits), the weak supervisor's ``P(1)`` on D_weak and
    test (``cfg.weak``): trained on D_gt's labels — a bag of words, or a smaller MiniLM rung's frozen features
    (never the self-supervised pass) read by the ceiling's head recipe."""
    if cfg.weak == "bow":
        return [_bow_weak(r["gt"], {"weak": r["weak"], "test": r["test"]}, s) for r, s in zip(rows, seeds)]
    index, feats = arm_features(cfg.replace(strong=cfg.weak), "none", force=force)
    f = [{k: feats[[index[x["text"]] for x in rs]] for k, rs in r.items()} for r in rows]
    p = _heads([x["gt"] for x in f], [[x["label"] for x in r["gt"]] for r in rows],
               [np.concatenate([x["weak"], x["test"]]) for x in f], cfg, seeds)
    n_weak = len(rows[0]["weak"])
    return [{"weak": q[:n_weak], "test": q[n_weak:]} for q in p]


def _heads(x_train: list, y_train: list, x_test: list, cfg: SlangConfig, seeds: list[int]) -> list[np.ndarray]:
    """Chapter 10's strong student / ceiling at tiny, one per seed, all in one batched fit: a zero-initialised
    linear head on standardised frozen features, trained by the official recipe (Adam, minibatch 32, 2 epochs,
    cosine decay, no warmup; lr 1e-3) on cross-entropy to the (soft) targets — not fit to convergence, so it moves
    along the directions the representation makes easy first and cannot reproduce every quirk of its labels.
    Each seed's head sees only its own rows, in its own order (the same fit as one seed alone)."""
    import torch

    from w2s_lib.core.artifacts import array_hash
    from w2s_lib.generalization.frozen import remembered, train_heads

    x_train, y_train, x_test = (np.stack([np.asarray(x, np.float32) for x in xs]) for xs in (x_train, y_train, x_test))
    # once per process: the hard-label run shares the soft run's weak supervisor and every arm's ceiling
    key = ("slang-heads", array_hash(x_train), array_hash(y_train), array_hash(x_test), cfg.head.lr, cfg.head.epochs,
           cfg.head.batch_size, tuple(int(s) for s in seeds))
    (p,) = remembered(key, lambda: train_heads(torch.as_tensor(x_train), torch.as_tensor(y_train),
                                               [torch.as_tensor(x_test)], lr=cfg.head.lr, epochs=cfg.head.epochs,
                                               batch_size=cfg.head.batch_size, seeds=list(seeds)))
    return list(p)


def _acc(p, rows, kind=None) -> float:
    keep = [i for i, r in enumerate(rows) if kind is None or r["kind"] == kind]
    return metrics.accuracy(np.asarray(p)[keep], np.asarray([rows[i]["label"] for i in keep]))


def _compute_seeds(cfg: SlangConfig, seeds: list[int], force: bool = False) -> dict[int, dict]:
    """The result of :func:`run_seed` for each of ``seeds``, every role's heads of all seeds in one batched fit."""
    rows = [{s: labelled_rows(cfg.world, s, n, seed, cfg.slang_frac, cfg.neg_frac)
             for s, n in (("gt", cfg.n_gt), ("weak", cfg.n_weak), ("test", cfg.n_test))} for seed in seeds]
    weak = weak_labels(cfg, rows, seeds, force=force)
    targets = [(w["weak"] > 0.5).astype(np.float32) if cfg.weak_labels == "hard" else w["weak"] for w in weak]
    out: dict[int, list] = {seed: [] for seed in seeds}
    for arm in ARMS:
        index, feats = arm_features(cfg, arm, force=force)
        f = [{s: feats[[index[x["text"]] for x in r[s]]] for s in r} for r in rows]
        ceilings = _heads([x["gt"] for x in f], [[x["label"] for x in r["gt"]] for r in rows],
                          [x["test"] for x in f], cfg, seeds)
        students = _heads([x["weak"] for x in f], targets, [x["test"] for x in f], cfg, seeds)
        for seed, r, w, ceiling, student in zip(seeds, rows, weak, ceilings, students):
            rec = {"seed": seed, "arm": arm}
            slang_rows = np.asarray([x["kind"] == "slang" for x in r["test"]])
            # imitation on slang: how often the student picks the supervisor's class where the supervisor knows nothing
            rec["w2s_agree_weak_slang"] = float(np.mean((student > 0.5)[slang_rows] == (w["test"] > 0.5)[slang_rows]))
            for name, p in (("weak", w["test"]), ("ceiling", ceiling), ("w2s", student)):
                for kind in (None, "known", "slang"):
                    rec[f"{name}_acc" + (f"_{kind}" if kind else "")] = _acc(p, r["test"], kind)
            rec["pgr"] = metrics.pgr(rec["weak_acc"], rec["w2s_acc"], rec["ceiling_acc"])
            out[seed].append(rec)
    return {seed: {"rows": [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
                            for r in recs]} for seed, recs in out.items()}


def run_seed(cfg: SlangConfig, seed: int, force: bool = False) -> Artifact:
    """One seed, all three arms (``none``: the pretrained encoder; ``generative``: after the pass with the
    co-occurrence signal; ``control``: after the pass without it): accuracies overall / on known / on slang
    sentences for weak, ceiling and student, and PGR. Cached."""
    return load_or_run(cfg.replace(seed=seed), lambda out_dir: _compute_seeds(cfg, [seed], force=force)[seed],
                       force=force)


def run(cfg: SlangConfig, seeds, force: bool = False):
    """Every seed × arm: one row each (see :func:`run_seed`). The seeds not cached yet are computed together
    (one batched fit per role and arm) and cached one run per seed."""
    import pandas as pd

    from w2s_lib.core import artifacts

    seeds = [int(s) for s in seeds]
    todo = [s for s in seeds if force or artifacts.load(cfg.replace(seed=s)) is None]
    fresh = _compute_seeds(cfg, todo, force=force) if len(todo) > 1 else {}
    rows = []
    for s in seeds:
        art = (load_or_run(cfg.replace(seed=s), lambda out_dir, s=s: fresh[s], force=force) if s in fresh
               else run_seed(cfg, s, force=force and s in todo))
        rows += art["rows"]
    return pd.DataFrame(rows).astype({"pgr": float})


def effects(table) -> "pd.DataFrame":  # noqa: F821
    """Per seed: PGR with the pass minus PGR without it, for the real pass (``generative``) and the control.
    A seed where an arm's PGR is undefined (its ceiling not above the weak model) gives NaN in that arm's
    column only. The registered rule (revised 2026-12-02, see chapter 13) compares each arm with ``none``
    over the seeds where *both* of its PGRs are defined: the control's seeds never gate the claim's."""
    p = table.pivot(index="seed", columns="arm", values="pgr")
    return p[["generative", "control"]].sub(p["none"], axis=0)
