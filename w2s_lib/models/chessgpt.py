"""A chess GPT ladder: tiny GPT-2 models pretrained on generated games, the strong and weak models of
the chess chapter ("models that have seen chess in pretraining").

The corpus is :func:`w2s_lib.data.chess_puzzles.game_corpus`: games from random few-piece positions
played by a noisy two-ply player, one line per ply (the position in the puzzles' own text format, then
the move played). Every line is encoded on its own (a leading space, then an end-of-text token), so a
puzzle prompt is tokenized exactly as the positions the models saw.

The machinery is the tiny GPT family's (:mod:`w2s_lib.models.tinygpt`): its :class:`~tinygpt.Rung`
configs, byte-level BPE tokenizer, model builder, pretraining loop (AdamW, warmup + cosine, batches of
packed 128-token rows), and its atomic checkpoint commit with a completion marker. The ladder lives in
``$W2S_HOME/chess/<tag>/<name>`` (not the shared zoo), is built on demand the first time a chapter asks
for it and reused after that; a missing or corrupt rung is rebuilt.

The capability gap comes from scale the way a real ladder's does: a wider, deeper rung that is also
trained for more optimiser steps (compute grows along the ladder). The marker records each rung's
zero-shot puzzle accuracy (the legal move with the highest log-probability, see :func:`predict_moves`).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .. import paths
from ..config import is_smoke
from ..errors import W2SError, unknown
from ..runtime import torch_threads
from . import tinygpt
from .tinygpt import Rung

VERSION = "cg1"
VOCAB_SIZE, MICRO_VOCAB_SIZE = 1024, 512
# games in the pretraining corpus; moves are the two-ply best with probability P_BEST, else random
N_GAMES, MICRO_GAMES, P_BEST, MAX_PLIES = 2000, 60, 0.7, 8

# The ladder, weak → strong (`knows` is unused here: every rung sees the whole corpus).
SIZES: dict[str, Rung] = {
    "chessgpt-s": Rung(n_layer=1, n_embd=48, n_head=2, lr=3e-3, warmup=30, knows=1.0, steps=150),
    "chessgpt-m": Rung(n_layer=2, n_embd=96, n_head=4, lr=3e-3, warmup=50, knows=1.0, steps=400),
    "chessgpt-l": Rung(n_layer=3, n_embd=160, n_head=4, lr=2e-3, warmup=80, knows=1.0, steps=800),
}
MICRO_SIZES: dict[str, Rung] = {
    "chessgpt-s": Rung(n_layer=1, n_embd=16, n_head=2, lr=5e-3, warmup=3, knows=1.0, steps=8),
    "chessgpt-m": Rung(n_layer=1, n_embd=32, n_head=2, lr=5e-3, warmup=3, knows=1.0, steps=12),
    "chessgpt-l": Rung(n_layer=2, n_embd=32, n_head=2, lr=5e-3, warmup=3, knows=1.0, steps=16),
}
NAMES = tuple(SIZES)


def _sizes(micro: bool) -> dict[str, Rung]:
    return MICRO_SIZES if micro else SIZES


def ladder_root(seed: int = 0, micro: bool = False) -> Path:
    return paths.home() / "chess" / f"chessgpt-{VERSION}-seed{seed}{'-micro' if micro else ''}"


def pretraining_lines(seed: int, micro: bool) -> list[str]:
    """The corpus as the models see it: one document per ply line (its trailing newline kept)."""
    from ..data import chess_puzzles as cp

    games = cp.game_corpus(seed, MICRO_GAMES if micro else N_GAMES, P_BEST, MAX_PLIES)
    return [line + "\n" for g in games for line in g.splitlines()]


# ----------------------------------------------------------------------------- scoring moves
def encode_candidates(tok, prompts: list[str], candidates: list[list[str]]):
    """Token ids of every (prompt, answer) pair: (ids per sequence, answer spans, owner puzzle index)."""
    from ..data.chess_puzzles import answer_text

    p_ids = tok(list(prompts), add_special_tokens=False)["input_ids"]
    flat = sorted({c for cs in candidates for c in cs})
    c_ids = dict(zip(flat, tok([answer_text(c) for c in flat], add_special_tokens=False)["input_ids"]))
    seqs, spans, owner = [], [], []
    for i, (p, cs) in enumerate(zip(p_ids, candidates)):
        for c in cs:
            seqs.append(p + c_ids[c])
            spans.append((len(p), len(p) + len(c_ids[c])))
            owner.append(i)
    return seqs, spans, owner


def candidate_logprobs(model, tok, prompts: list[str], candidates: list[list[str]],
                       batch_size: int = 256) -> list[np.ndarray]:
    """log p(answer | prompt) of every candidate move (summed over its tokens), one array per puzzle."""
    import torch

    if len(prompts) != len(candidates):
        raise W2SError(f"{len(prompts)} prompts but {len(candidates)} candidate lists")
    seqs, spans, owner = encode_candidates(tok, prompts, candidates)
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))  # similar lengths per batch: less padding
    scores = np.empty(len(seqs), dtype=np.float64)
    pad = tok.pad_token_id
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        for s in range(0, len(order), batch_size):
            idx = order[s: s + batch_size]
            width = max(len(seqs[i]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            for r, i in enumerate(idx):
                ids[r, : len(seqs[i])] = torch.tensor(seqs[i])
            logits = model(input_ids=ids.to(device), attention_mask=(ids != pad).long().to(device)).logits
            logp = torch.log_softmax(logits.float(), -1).cpu()
            for r, i in enumerate(idx):
                a, b = spans[i]
                scores[i] = logp[r, a - 1: b - 1].gather(-1, ids[r, a:b, None]).sum().item()
    out: list[list[float]] = [[] for _ in prompts]
    for i, o in enumerate(owner):
        out[o].append(scores[i])
    return [np.asarray(x) for x in out]


def predict_moves(model, tok, prompts: list[str], candidates: list[list[str]], batch_size: int = 256) -> list[str]:
    """The candidate (legal move) with the highest log-probability, per puzzle."""
    lps = candidate_logprobs(model, tok, prompts, candidates, batch_size)
    return [cs[int(np.argmax(lp))] for cs, lp in zip(candidates, lps)]


def puzzle_accuracy(model, tok, rows) -> float:
    """Share of puzzles (rows with ``prompt``, ``legal``, ``reference``) whose best move the model ranks first."""
    pred = predict_moves(model, tok, list(rows["prompt"]), [list(x) for x in rows["legal"]])
    return float(np.mean([p == r for p, r in zip(pred, rows["reference"])]))


# ----------------------------------------------------------------------------- the ladder
def _rung_seed(name: str, seed: int) -> int:
    return int(hashlib.sha256(f"chess:{name}:{seed}".encode()).hexdigest()[:8], 16)


def _tokenizer(seed: int, micro: bool, root: Path):
    from transformers import AutoTokenizer

    d = root / "tokenizer"
    if tinygpt.read_marker(d) is None:
        tok = tinygpt.train_tokenizer(pretraining_lines(seed, micro), MICRO_VOCAB_SIZE if micro else VOCAB_SIZE)
        tmp = tinygpt._tmpdir(root, "tokenizer")
        tok.save_pretrained(tmp)
        tinygpt._commit(tmp, d, {"kind": "tokenizer", "vocab_size": len(tok)})
    return AutoTokenizer.from_pretrained(d)


def build_rung(name: str, seed: int = 0, micro: bool = False, progress: bool = False) -> Path:
    """Pretrain rung ``name`` on the game corpus of ``seed`` and commit it atomically; returns its dir."""
    from .. import data

    sizes = _sizes(micro)
    if name not in sizes:
        raise unknown("chess model", name, sizes)
    rung = sizes[name]
    root = ladder_root(seed, micro)
    root.mkdir(parents=True, exist_ok=True)
    with torch_threads(1):
        tok = _tokenizer(seed, micro, root)
        t0 = time.perf_counter()
        model = tinygpt.make_model(rung, len(tok), _rung_seed(name, seed))
        losses = tinygpt.pretrain(model, tok, pretraining_lines(seed, micro), rung, _rung_seed(name, seed),
                                  progress=progress, desc=name)
        train_s = time.perf_counter() - t0
        test = data.load("chess_puzzles", "test", seed=seed)
        acc = puzzle_accuracy(model, tok, test)
    tmp = tinygpt._tmpdir(root, name)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    meta = {"name": name, "seed": seed, "micro": micro, "params": sum(p.numel() for p in model.parameters()),
            "rung": asdict(rung), "train_seconds": round(train_s, 2),
            "build_seconds": round(time.perf_counter() - t0, 2),
            "final_train_loss": round(float(np.mean(losses[-20:])), 4),
            "zero_shot_puzzle_acc": round(acc, 4), "n_test_puzzles": len(test)}
    tinygpt._commit(tmp, root / name, meta)
    return root / name


def model_dir(name: str, seed: int = 0, micro: bool | None = None) -> Path:
    """The checkpoint dir of chess rung ``name``, built first when missing (``micro=None``: under W2S_SMOKE=1)."""
    micro = is_smoke() if micro is None else bool(micro)
    if name not in _sizes(micro):
        raise unknown("chess model", name, _sizes(micro))
    d = ladder_root(seed, micro) / name
    if tinygpt.read_marker(d) is None:
        build_rung(name, seed, micro)
    return d


def build_ladder(seed: int = 0, micro: bool | None = None, names=None) -> dict[str, Path]:
    """Every rung (or ``names``), built when missing; name → checkpoint dir."""
    micro = is_smoke() if micro is None else bool(micro)
    return {n: model_dir(n, seed, micro) for n in (names or _sizes(micro))}


def ladder_report(seed: int = 0, micro: bool | None = None) -> list[dict]:
    """Per rung (weak → strong): params, build seconds, final pretraining loss, zero-shot puzzle accuracy."""
    rows = []
    for name, d in build_ladder(seed, micro).items():
        meta = tinygpt.read_marker(d)
        rows.append({k: meta[k] for k in ("name", "params", "build_seconds", "final_train_loss",
                                          "zero_shot_puzzle_acc")})
    return rows


def load(name: str, seed: int = 0, micro: bool | None = None):
    """(model, tokenizer) of a chess rung, or of a zoo causal LM (colab / paper presets) by its zoo name."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if name in SIZES:
        d = model_dir(name, seed, micro)
        return AutoModelForCausalLM.from_pretrained(d), AutoTokenizer.from_pretrained(d)
    from . import zoo

    if zoo.get_spec(name).kind != zoo.CAUSAL:
        raise W2SError(f"the chess task needs a causal LM; {name!r} is an encoder")
    tok = zoo.load_tokenizer(name)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return zoo.load_causal_lm(name), tok
