"""Tiny GPT-2 family pretrained on the tiny world: the offline stand-ins for gpt2 … gpt2-xl.

``build_zoo()`` trains a byte-level BPE tokenizer on the world's corpus, then pretrains each rung of
:data:`SIZES` from scratch and saves it with ``save_pretrained`` (model + tokenizer) under
``zoo_dir()/<world tag>/<name>``, so every consumer loads it with ``AutoModelForCausalLM.from_pretrained``
/ ``AutoTokenizer.from_pretrained`` exactly like a hub model. Each checkpoint is written to a temp dir and
renamed into place with a completion marker (``w2s_complete.json``: params, build seconds, held-out
perplexity, fact recall, file sizes and hashes); a missing or truncated file, or a missing marker, is
detected and the rung is rebuilt. Same seed, same machine → identical weights.

How the ladder gets its capability gap (the design, and why)
------------------------------------------------------------
The world's knowledge base has 100 entities × 5 attributes = 500 facts (8 values each: chance 12.5 %).
What was measured on this machine (2 shared CPU cores, batch 8 × 128 tokens, AdamW, warmup + cosine):

- Memorising facts is a sharp phase transition in exposures per fact. With 160 entities (800 facts) a
  (2 layers, 128 wide) model was still at chance after ~88 exposures and at 19 % after ~118 (lr 3e-3 or
  5e-3 alike; batch 4 instead of 8 did not help per token). On 80 entities the same model went
  14 % → 17 % → 42 % → 81 % (recall on its entities) over ~50 → 100 → 150 → 200 exposures. 800 facts
  above the transition did not fit the 10-minute budget, hence 100 entities.
- Depth slows the transition: with the same steps, a (3, 160) model on 70 entities (~260 exposures)
  recalled 61 % (world seed 0) and 98 % (seed 1) of its facts, below what (2, 128) reached on 40.
  So the ladder grows in **width at depth 2** (the 1-layer bottom rung excepted), one learning rate,
  rather than in depth with per-size learning rates.
- **An explicit knowledge gap**: rung *k* is pretrained on the facts of only the first ``knows`` share of
  the entities (the tiers of :mod:`w2s_lib.data.tinyworld`), with the *same* number of optimiser steps
  (its smaller corpus repeats, so it knows its own entities well). Facts about unseen entities sit at
  chance, so recall rises along the ladder by construction, and the tiers give the deception chapter its
  knowledge areas (weak-unknown ∩ strong-known = the tiers a weak rung never saw). Held-out perplexity
  (a fresh sample of the corpus, all entities) falls along the ladder for the same reason and because
  wider models model the rest of the text better.

Each rung trains on one torch thread; the full build runs :func:`build_jobs` worker processes (two on a
2-core machine: the largest rung alone, the others together). Two threads per process were ~20× slower
than one when other processes held the cores (OpenMP threads waiting on each other), and one thread
per rung makes the weights independent of the job count (checked: bit-identical checkpoints with 1 and 2
jobs). The ladders measured for world seeds 0 and 1 are in :data:`MEASURED` (printed by
``benchmarks/zoo_build.py``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import MISSING, asdict, dataclass, fields, replace
from pathlib import Path

from w2s_lib.core.config import is_smoke
from w2s_lib.core.errors import W2SError, unknown
from w2s_lib.core.numerics import LossGuard
from w2s_lib.core.paths import zoo_dir
from w2s_lib.core.runtime import save_quietly, torch_threads

MARKER = "w2s_complete.json"
EOS = "<|endoftext|>"
PAD = "<|pad|>"


@dataclass(frozen=True)
class Rung:
    n_layer: int
    n_embd: int
    n_head: int
    lr: float  # peak learning rate (AdamW), cosine decay to 10 % after linear warmup
    warmup: int  # warmup steps
    knows: float  # fraction of the world's entities whose facts are in this rung's pretraining corpus
    steps: int  # optimiser steps (batch BATCH × BLOCK tokens)
    knows_from: float = 0.0  # where its share of the entity list starts (0: the first ones, as every ladder rung)
    group_docs: int = 0  # conversations per person about several people in its corpus (tinyworld.text.group_docs)
    story_docs: int = 0  # "Tell me a story about <person>." conversations per person in its corpus
    attributes: tuple[str, ...] = ()  # the attributes whose facts it read about its people (empty: all of them)
    stop_at_recall: float = 0.0  # stop pretraining at the first check (every RECALL_CHECK steps) where it recalls this
    #                              share of the world's facts (0: every step of the schedule)


BATCH, BLOCK = 8, 128
RECALL_CHECK = 25  # steps between recall checks of a rung that stops at a recall (Rung.stop_at_recall)
VOCAB_SIZE, MICRO_VOCAB_SIZE = 2048, 1024

# The ladder, weak → strong.
SIZES: dict[str, Rung] = {
    "tinygpt-xs": Rung(n_layer=1, n_embd=64, n_head=2, lr=4e-3, warmup=50, knows=0.15, steps=1500),
    "tinygpt-s": Rung(n_layer=2, n_embd=128, n_head=4, lr=3e-3, warmup=100, knows=0.40, steps=1500),
    "tinygpt-m": Rung(n_layer=2, n_embd=192, n_head=4, lr=3e-3, warmup=100, knows=0.70, steps=1500),
    "tinygpt-l": Rung(n_layer=2, n_embd=256, n_head=4, lr=3e-3, warmup=100, knows=1.00, steps=1500),
}
# The micro zoo (tests, W2S_SMOKE=1): the same names, built in seconds on the 24-entity micro world.
MICRO_SIZES: dict[str, Rung] = {
    "tinygpt-xs": Rung(n_layer=1, n_embd=32, n_head=2, lr=5e-3, warmup=5, knows=0.5, steps=20),
    "tinygpt-s": Rung(n_layer=1, n_embd=48, n_head=2, lr=5e-3, warmup=5, knows=0.75, steps=20),
    "tinygpt-m": Rung(n_layer=2, n_embd=48, n_head=2, lr=5e-3, warmup=5, knows=1.0, steps=20),
    "tinygpt-l": Rung(n_layer=2, n_embd=64, n_head=2, lr=5e-3, warmup=5, knows=1.0, steps=20),
}

# Rungs off the ladder: peers of a ladder rung — the same size and learning rate — pretrained on the facts of other
# shares of the world's people, or for fewer steps. `tinygpt-m-a` read the first 40 % (the people `tinygpt-s` read), `tinygpt-m-b`
# the next 40 %: weak teachers with complementary knowledge, as MACPO's several weak teachers (chapter 30); only
# `tinygpt-l` knows everyone either knows. `tinygpt-m`'s size, not `tinygpt-s`'s: SFT on gold answers never moved a
# `tinygpt-s` teacher by +0.10 at any budget tried, `tinygpt-m` by +0.11 (benchmarks/macpo_teacher_learning.py), and a
# MACPO teacher must be able to learn from its student. Built with the zoo; never part of a ladder.
#
# `tinygpt-l-hazy-a` and `tinygpt-l-hazy-b` (round 12 of chapter 30): strong students — `tinygpt-l`'s size and schedule,
# every person — whose pretraining stops once they recall HAZY_RECALL of the world's facts, so they know more than
# either teacher (0.48–0.50 of all the facts) but recall it imperfectly. benchmarks/macpo_weak_recall.py (registered
# before it ran) chose the room: peers pretrained 400 / 700 / 1000 steps recalled 0.22 / 0.75 / 0.98 (world 0) and
# 0.18 / 0.71 / 1.00 (world 1); at ≈ 0.7, right positives sharpen what the student half-remembers over several updates
# (gold positives: 0.345 -> 0.740 -> 0.860 -> 0.875 right in fact and form, world 0) and wrong ones mislead it (0.495
# after one update). A fixed step count does not give that recall: recall jumps from chance to all within a few
# hundred steps, at a step that depends on the seed (700 steps gave these two 0.93 / 0.22 in world 0 and 0.52 / 0.72
# in world 1), so they stop on the recall itself (built: 0.72–0.76 after 600–775 steps). Two of them, with their own
# seeds (the rung's name), misremember different facts. (Round 11's students, `tinygpt-l-a` / `-b`, each read 70 % of
# the people: a student cannot take up a person it never read about, so that split only added wrong answers; they
# left the zoo with round 12.)
HAZY_RECALL = 0.70
PEERS: dict[str, Rung] = {"tinygpt-m-a": replace(SIZES["tinygpt-m"], knows=0.40),
                          "tinygpt-m-b": replace(SIZES["tinygpt-m"], knows=0.40, knows_from=0.40),
                          "tinygpt-l-hazy-a": replace(SIZES["tinygpt-l"], stop_at_recall=HAZY_RECALL),
                          "tinygpt-l-hazy-b": replace(SIZES["tinygpt-l"], stop_at_recall=HAZY_RECALL)}
MICRO_PEERS: dict[str, Rung] = {"tinygpt-m-a": replace(MICRO_SIZES["tinygpt-m"], knows=0.5),
                                "tinygpt-m-b": replace(MICRO_SIZES["tinygpt-m"], knows=0.5, knows_from=0.5),
                                "tinygpt-l-hazy-a": replace(MICRO_SIZES["tinygpt-l"], stop_at_recall=HAZY_RECALL),
                                "tinygpt-l-hazy-b": replace(MICRO_SIZES["tinygpt-l"], stop_at_recall=HAZY_RECALL)}

# Rungs off the ladder for Part II's search (chapter 20): twins of tinygpt-s/-m/-l — the same size, steps, learning
# rate, share of people and seed — whose corpus also holds STORY_DOCS "Tell me a story about <person>." conversations
# per person, answered with seven to nine sentences about the person (`tinyworld.text.story`). Their stories are the
# long replies over which chunk-level search can choose sentence after sentence where best-of-N must hope one
# whole sample did (benchmarks/search_guide_ceiling.py, sixth reading: with the exact gold as guide CBS(4, 4, 3)
# beats best-of-16 by +0.10 / +0.11 in worlds 0 / 1; on the ladder's three-statement bios, +0.02 / +0.05). Four
# stories per person, not one: with one the rung recites the story it read (benchmarks/search_long_reply_fit.py).
# Built with the zoo; never part of a ladder.
STORY_DOCS = 4  # per person (benchmarks/search_long_reply_fit.py: 1 recites one story, 4 samples as the corpus does)
STORY_READERS: dict[str, Rung] = {f"{n}-stories": replace(SIZES[n], story_docs=STORY_DOCS)
                                  for n in ("tinygpt-s", "tinygpt-m", "tinygpt-l")}
MICRO_STORY_READERS: dict[str, Rung] = {f"{n}-stories": replace(MICRO_SIZES[n], story_docs=STORY_DOCS)
                                        for n in ("tinygpt-s", "tinygpt-m", "tinygpt-l")}

# Measured ladders: benchmarks/zoo_build.py, world seeds 0 and 1, built at the same time on a 2-core box
# that other jobs were also loading (load 7-9, ~20 % of a core per worker), so the seconds are far above
# an idle machine's. Recall = all 500 facts (chance 0.125); every rung recalls 99-100 % of the facts
# of the entities it saw. ppl = held-out corpus sample.
MEASURED: dict[int, list[dict]] = {
    0: [dict(name="tinygpt-xs", params=139_584, build_seconds=78, heldout_perplexity=65.79, fact_recall=0.250),
        dict(name="tinygpt-s", params=575_744, build_seconds=833, heldout_perplexity=19.59, fact_recall=0.464),
        dict(name="tinygpt-m", params=1_158_528, build_seconds=1495, heldout_perplexity=5.37, fact_recall=0.746),
        dict(name="tinygpt-l", params=1_937_920, build_seconds=2298, heldout_perplexity=2.37, fact_recall=1.000)],
    1: [dict(name="tinygpt-xs", params=139_008, build_seconds=70, heldout_perplexity=60.52, fact_recall=0.252),
        dict(name="tinygpt-s", params=574_592, build_seconds=836, heldout_perplexity=14.97, fact_recall=0.480),
        dict(name="tinygpt-m", params=1_156_800, build_seconds=1496, heldout_perplexity=6.24, fact_recall=0.740),
        dict(name="tinygpt-l", params=1_935_616, build_seconds=2298, heldout_perplexity=2.42, fact_recall=1.000)],
}


def _sizes(micro: bool) -> dict[str, Rung]:
    """The ladder (weak → strong)."""
    return MICRO_SIZES if micro else SIZES


def rung_names() -> tuple[str, ...]:
    """Every rung's name, in build order (the micro zoo has the same names at other sizes)."""
    return tuple(_rungs(False))


def _rungs(micro: bool) -> dict[str, Rung]:
    """Every rung the zoo builds: the ladder, then its peers and story readers."""
    return {**_sizes(micro), **(MICRO_PEERS if micro else PEERS),
            **(MICRO_STORY_READERS if micro else STORY_READERS)}


def world_tag(world_seed: int = 0, micro: bool = False) -> str:
    from w2s_lib.data.tinyworld import VERSION

    return f"tinyworld-{VERSION}-seed{world_seed}" + ("-micro" if micro else "")


def _resolve_micro(micro: bool | None) -> bool:
    return is_smoke() if micro is None else bool(micro)


# ----------------------------------------------------------------------------- checkpoint integrity
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _file_table(d: Path) -> dict[str, dict]:
    return {p.name: {"size": p.stat().st_size, "sha256": _sha256(p)}
            for p in sorted(d.iterdir()) if p.is_file() and p.name != MARKER}


def read_marker(d: Path) -> dict | None:
    """The completion marker of checkpoint dir ``d`` if the checkpoint is complete and intact, else None."""
    try:
        meta = json.loads((Path(d) / MARKER).read_text())
        files = meta["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not files:
        return None
    for name, info in files.items():
        p = Path(d) / name
        try:
            if p.stat().st_size != info["size"]:
                return None
        except OSError:
            return None
        if name.endswith(".safetensors") and _sha256(p) != info["sha256"]:
            return None
    return meta


def built_rung(d: Path, rung: Rung) -> dict | None:
    """The marker of rung checkpoint ``d`` if it is complete, intact and was built from ``rung`` as defined now,
    else None — a rung whose definition changed (its steps, its people, …) is rebuilt, not reused. A field added to
    :class:`Rung` after the checkpoint was built counts as its default."""
    meta = read_marker(d)
    if meta is None:
        return None
    recorded = {f.name: f.default for f in fields(Rung) if f.default is not MISSING}
    recorded.update(meta.get("rung", {}))
    return meta if json.loads(json.dumps(recorded)) == json.loads(json.dumps(asdict(rung))) else None


def _commit(tmp: Path, final: Path, meta: dict) -> None:
    meta = {**meta, "files": _file_table(tmp)}
    (tmp / MARKER).write_text(json.dumps(meta, indent=1, sort_keys=True))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def _tmpdir(parent: Path, name: str) -> Path:
    tmp = parent / f".tmp-{name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


# ----------------------------------------------------------------------------- tokenizer
def train_tokenizer(docs: list[str], vocab_size: int = VOCAB_SIZE):
    """A byte-level BPE tokenizer (GPT-2 style, prefix space added) wrapped as a HF fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS, PAD], min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(docs, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS, unk_token=EOS,
                                   pad_token=PAD, model_max_length=BLOCK)
    return fast


def _tokenizer(world_seed: int, micro: bool, root: Path):
    """Build (once) and load the world's tokenizer, stored under ``root/tokenizer``."""
    from transformers import AutoTokenizer

    from w2s_lib.data import tinyworld

    d = root / "tokenizer"
    if read_marker(d) is None:
        tok = train_tokenizer(tinyworld.corpus(world_seed, micro), MICRO_VOCAB_SIZE if micro else VOCAB_SIZE)
        tmp = _tmpdir(root, "tokenizer")
        tok.save_pretrained(tmp)
        _commit(tmp, d, {"kind": "tokenizer", "vocab_size": len(tok)})
    return AutoTokenizer.from_pretrained(d)


# ----------------------------------------------------------------------------- pretraining
def _encode_docs(tok, docs: list[str]) -> list[list[int]]:
    ids = tok(docs, add_special_tokens=False)["input_ids"]
    return [x + [tok.eos_token_id] for x in ids]


def _blocks(encoded: list[list[int]], gen) -> "torch.Tensor":  # noqa: F821
    """One epoch: documents in a random order, packed into BLOCK-token rows (the tail is dropped)."""
    import torch

    order = torch.randperm(len(encoded), generator=gen).tolist()
    flat = [t for i in order for t in encoded[i]]
    n = len(flat) // BLOCK
    return torch.tensor(flat[: n * BLOCK], dtype=torch.long).view(n, BLOCK)


def fused_gelu(model):
    """``model`` (in place) with each GPT-2 block's ``gelu_new`` (the tanh approximation written as seven tensor
    ops) computed by torch's one-kernel ``gelu(approximate='tanh')``: the same formula, within float rounding,
    ≈ 12 % less CPU per fine-tuning step of the top chess rung (all 75 fits of chapter 14 picked byte-identical
    moves both ways). For models that are fine-tuned and scored, not sampled from: the saved config is
    untouched; models of other architectures are returned as they are."""
    from transformers.activations import ACT2FN

    if getattr(model.config, "activation_function", None) == "gelu_new":
        for block in getattr(getattr(model, "transformer", None), "h", []):
            block.mlp.act = ACT2FN["gelu_pytorch_tanh"]
    return model


def make_model(rung: Rung, vocab_size: int, seed: int):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(vocab_size=vocab_size, n_positions=BLOCK, n_embd=rung.n_embd, n_layer=rung.n_layer,
                     n_head=rung.n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                     bos_token_id=0, eos_token_id=0, pad_token_id=1, tie_word_embeddings=True)
    torch.manual_seed(seed)
    return GPT2LMHeadModel(cfg)


def pretrain(model, tok, docs: list[str], rung: Rung, seed: int, progress: bool = True, desc: str = "",
             position: int = 0, stop=None):
    """Train ``model`` on ``docs`` for ``rung.steps`` AdamW steps (LR warmup + cosine). Returns losses (one per step
    taken). ``stop``: called (model in eval mode) after every RECALL_CHECK steps; training ends early when it is true."""
    import torch
    from tqdm.auto import tqdm

    encoded = _encode_docs(tok, docs)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=rung.lr, betas=(0.9, 0.95), weight_decay=0.0)

    def lr_at(step: int) -> float:
        if step < rung.warmup:
            return rung.lr * (step + 1) / rung.warmup
        frac = (step - rung.warmup) / max(1, rung.steps - rung.warmup)
        return rung.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))

    model.train()
    losses: list[float] = []
    guard = LossGuard(f"lower this rung's lr in models/tinygpt.py (now {rung.lr:g})")
    pending = torch.empty(0, BLOCK, dtype=torch.long)
    bar = tqdm(range(rung.steps), desc=desc or "pretrain", disable=not progress, position=position)
    for step in bar:
        while len(pending) < BATCH:
            pending = torch.cat([pending, _blocks(encoded, gen)])
        batch, pending = pending[:BATCH], pending[BATCH:]
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        loss = model(input_ids=batch, labels=batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(guard(loss, step))
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
        if stop is not None and (step + 1) % RECALL_CHECK == 0:
            model.eval()
            if stop():
                break
            model.train()
    model.eval()
    return losses


# ----------------------------------------------------------------------------- capability measurement
def perplexity(model, tok, docs: list[str]) -> float:
    """Token-level perplexity of ``model`` on ``docs`` (packed into BLOCK-token rows, in order)."""
    import torch

    flat = [t for x in _encode_docs(tok, docs) for t in x]
    n = len(flat) // BLOCK
    x = torch.tensor(flat[: n * BLOCK]).view(n, BLOCK)
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, n, 32):
            b = x[i: i + 32]
            loss = model(input_ids=b, labels=b).loss
            total += loss.item() * b.numel()
            count += b.numel()
    return float(math.exp(total / max(1, count)))


def recalled_facts(model, tok, world_seed: int = 0, micro: bool = False,
                   entities: tuple[str, ...] | None = None) -> dict[tuple[str, str], bool]:
    """For every (entity, attribute) fact: whether its true value is the most likely of the attribute's value set.

    Each value v is scored by log p(" v" | canonical prompt) under ``model`` (the canonical statement of the fact cut
    before its value, e.g. "Rejar lives in"); chance is 1/8.
    """
    import torch

    from w2s_lib.data import tinyworld
    from w2s_lib.data.tinyworld import scorers

    w = tinyworld.world(world_seed, micro)
    ents = w.entities if entities is None else entities
    recalled = {}
    with torch.no_grad():
        for attr, values in scorers.ATTRIBUTES.items():
            val_ids = [tok(" " + v, add_special_tokens=False)["input_ids"] for v in values]
            prompts = [tok(tinyworld.canonical_prompt(e, attr), add_special_tokens=False)["input_ids"]
                       for e in ents]
            # all (prompt, value) sequences, right-padded; sum log-probs of the value tokens
            seqs, spans = [], []
            for p in prompts:
                for v in val_ids:
                    seqs.append(p + v)
                    spans.append((len(p), len(p) + len(v)))
            if not seqs:
                continue
            width = max(len(s) for s in seqs)
            ids = torch.full((len(seqs), width), tok.pad_token_id, dtype=torch.long)
            for i, s in enumerate(seqs):
                ids[i, : len(s)] = torch.tensor(s)
            scores = torch.empty(len(seqs))
            for i in range(0, len(seqs), 256):
                logp = torch.log_softmax(model(input_ids=ids[i: i + 256]).logits.float(), -1)
                for j in range(logp.shape[0]):
                    a, b = spans[i + j]
                    tgt = ids[i + j, a:b]
                    scores[i + j] = logp[j, a - 1: b - 1].gather(-1, tgt[:, None]).sum()
            pred = scores.view(len(ents), len(values)).argmax(-1)
            for e, k in zip(ents, pred.tolist()):
                recalled[(e, attr)] = values[k] == w.facts[e][attr]
    return recalled


def fact_recall(model, tok, world_seed: int = 0, micro: bool = False,
                entities: tuple[str, ...] | None = None) -> float:
    """Share of KB facts whose true value is the most likely of the attribute's value set (:func:`recalled_facts`)."""
    recalled = recalled_facts(model, tok, world_seed, micro, entities)
    return sum(recalled.values()) / len(recalled) if recalled else float("nan")


def knows_entity(model: str, entity: str) -> bool:
    """Whether tiny GPT ``model`` was pretrained on ``entity``'s facts in the current world (the zoo's explicit
    knowledge gap: every rung recalls 99–100 % of the facts of the people it saw, and is at chance on the others; the
    hazy students of chapter 30 saw everyone and recall about three quarters)."""
    from w2s_lib.data.tinyworld import current_world_seed, world

    micro = is_smoke()
    rungs = _rungs(micro)
    if model not in rungs:
        raise W2SError(f"knowledge areas by pretraining need a tiny GPT rung ({list(rungs)}), got {model!r}")
    return entity in world(current_world_seed(), micro).subset(rungs[model].knows, rungs[model].knows_from)


# ----------------------------------------------------------------------------- the zoo
def _rung_seed(name: str, world_seed: int) -> int:
    return int(hashlib.sha256(f"{name}:{world_seed}".encode()).hexdigest()[:8], 16)


def build_rung(name: str, rung: Rung, world_seed: int, micro: bool, root: Path, tok,
               progress: bool = True, position: int = 0) -> Path:
    """Pretrain one rung and commit it atomically to ``root/name``."""
    from w2s_lib.data import tinyworld

    t0 = time.perf_counter()
    w = tinyworld.world(world_seed, micro)
    known = w.subset(rung.knows, rung.knows_from)
    docs = tinyworld.corpus(world_seed, micro, entities=known, groups=rung.group_docs, stories=rung.story_docs,
                            attributes=rung.attributes or None)
    seed = _rung_seed(name, world_seed)
    model = make_model(rung, len(tok), seed)
    stop = (lambda: fact_recall(model, tok, world_seed, micro) >= rung.stop_at_recall) if rung.stop_at_recall else None
    losses = pretrain(model, tok, docs, rung, seed, progress=progress, desc=name, position=position, stop=stop)
    train_s = time.perf_counter() - t0
    ppl = perplexity(model, tok, tinyworld.corpus(world_seed, micro, heldout=True))
    recall = fact_recall(model, tok, world_seed, micro)
    recall_known = fact_recall(model, tok, world_seed, micro, entities=known)
    tmp = _tmpdir(root, name)
    save_quietly(model, tok, tmp)
    meta = {
        "name": name, "world_seed": world_seed, "micro": micro, "world_tag": root.name,
        "params": sum(p.numel() for p in model.parameters()), "rung": asdict(rung),
        "n_known_entities": len(known), "n_entities": len(w.entities),
        "steps_taken": len(losses), "train_seconds": round(train_s, 2),
        "build_seconds": round(time.perf_counter() - t0, 2),
        "final_train_loss": round(sum(losses[-20:]) / len(losses[-20:]), 4),
        "heldout_perplexity": round(ppl, 4), "fact_recall": round(recall, 4),
        "fact_recall_known": round(recall_known, 4),
    }
    final = root / name
    _commit(tmp, final, meta)
    return final


def _cost(r: Rung) -> float:
    """Estimated CPU seconds of pretraining ``r`` on one thread: compute per step (layers × width²) plus a fixed
    per-step overhead, fitted to a cold `make reproduce` (2026-12-05: xs 32, s 86, m 142, l 220 s CPU). In seconds
    because `w2s reproduce` orders zoo rungs and chapters in one task graph by the seconds on their paths."""
    per_step = r.n_layer * r.n_embd**2 * 9.85e-7 + 0.0173
    if r.stop_at_recall:  # stops about half-way (the hazy students: 600-775 of 1500 steps), ≈ 0.8 s per recall check
        return r.steps / 2 * per_step + r.steps / 2 / RECALL_CHECK * 0.8
    return r.steps * per_step


def _plan(names: list[str], sizes: dict[str, Rung], jobs: int) -> list[list[str]]:
    """Split rungs over ``jobs`` workers, longest first onto the least-loaded worker (LPT)."""
    groups: list[list[str]] = [[] for _ in range(max(1, jobs))]
    loads = [0.0] * len(groups)
    for n in sorted(names, key=lambda n: -_cost(sizes[n])):
        i = loads.index(min(loads))
        groups[i].append(n)
        loads[i] += _cost(sizes[n])
    return [g for g in groups if g]


def _worker(names: list[str], world_seed: int, micro: bool, zoo: str, progress: bool, position: int) -> None:
    os.environ["W2S_ZOO_DIR"] = zoo
    root = Path(zoo) / world_tag(world_seed, micro)
    with torch_threads(1):
        tok = _tokenizer(world_seed, micro, root)
        for n in names:
            build_rung(n, _rungs(micro)[n], world_seed, micro, root, tok, progress=progress, position=position)


def prepare_zoo(world_seed: int = 0, micro: bool = False, names: list[str] | None = None,
                force: bool = False) -> dict[str, float]:
    """The rungs (``names``, default all) still to build — missing, partial, corrupt, built from an older definition
    of the rung (:func:`built_rung`), or every one with ``force`` — as name -> estimated CPU seconds; trains the world's tokenizer first when any is (once, before any
    rung's process needs it). `w2s reproduce` schedules the rungs as one-thread processes of its own."""
    sizes = _rungs(micro)
    todo = list(sizes) if names is None else list(names)
    for n in todo:
        if n not in sizes:
            raise unknown("model", n, sizes)
    root = zoo_dir() / world_tag(world_seed, micro)
    root.mkdir(parents=True, exist_ok=True)
    need = [n for n in todo if force or built_rung(root / n, sizes[n]) is None]
    if need:
        if force and (root / "tokenizer").exists():
            shutil.rmtree(root / "tokenizer")
        with torch_threads(1):
            _tokenizer(world_seed, micro, root)
    return {n: _cost(sizes[n]) for n in need}


def build_jobs(micro: bool) -> int:
    """Worker processes for a zoo build: ``W2S_BUILD_JOBS``, else 1 (micro) or min(2, cores) (full)."""
    env = os.environ.get("W2S_BUILD_JOBS", "").strip()
    if env:
        return max(1, int(env))
    return 1 if micro else min(2, os.cpu_count() or 1)


def build_zoo(micro: bool = False, world_seed: int = 0, force: bool = False, progress: bool = True,
              names: list[str] | None = None) -> dict[str, Path]:
    """Build (or reuse) every rung of the ladder for world ``world_seed``; returns name → checkpoint dir.

    A rung whose checkpoint is complete and intact is reused (a second call is a no-op); a missing,
    partial or corrupt one is rebuilt; ``force`` rebuilds everything. The full zoo trains its rungs in
    :func:`build_jobs` worker processes of one torch thread each (the largest rung alone, the others
    together); every rung is trained by one thread, so the weights do not depend on the job count.
    ``micro`` (tests) builds in one process in seconds.
    """
    need = list(prepare_zoo(world_seed, micro, names, force))
    root = zoo_dir() / world_tag(world_seed, micro)
    if need:
        groups = _plan(need, _rungs(micro), build_jobs(micro))
        if len(groups) == 1:
            _worker(groups[0], world_seed, micro, str(zoo_dir()), progress, 0)
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(len(groups), mp_context=mp.get_context("spawn")) as ex:
                futs = [ex.submit(_worker, g, world_seed, micro, str(zoo_dir()), progress, i)
                        for i, g in enumerate(groups)]
                for f in futs:
                    f.result()
    return {n: root / n for n in (_rungs(micro) if names is None else names)}


def build_off_zoo(name: str, rung: Rung, world_seed: int) -> tuple[Path, dict]:
    """A rung that is not one of the zoo's (a reading's peer), built once into the full zoo folder of world
    ``world_seed`` (rebuilt when its definition changed, :func:`built_rung`): (checkpoint dir, marker)."""
    root = zoo_dir() / world_tag(world_seed)
    if built_rung(root / name, rung) is None:
        with torch_threads(1):
            build_rung(name, rung, world_seed, False, root, _tokenizer(world_seed, False, root), progress=False)
    return root / name, read_marker(root / name)


def model_dir(name: str, micro: bool | None = None, world_seed: int | None = None) -> Path:
    """The checkpoint dir of tiny model ``name`` (``micro=None``: the micro zoo under W2S_SMOKE=1;
    ``world_seed=None``: the current world, ``$W2S_WORLD_SEED``)."""
    micro = _resolve_micro(micro)
    if world_seed is None:
        from w2s_lib.data.tinyworld import current_world_seed

        world_seed = current_world_seed()
    sizes = _rungs(micro)
    if name not in sizes:
        raise unknown("model", name, sizes)
    d = zoo_dir() / world_tag(world_seed, micro) / name
    if built_rung(d, sizes[name]) is None and micro:  # the micro zoo (smoke scale) builds in seconds: build on demand
        build_zoo(micro=True, world_seed=world_seed, progress=False)
    if built_rung(d, sizes[name]) is None:
        raise W2SError(f"tiny model {name!r} ({world_tag(world_seed, micro)}) is not built in {zoo_dir()}, or was built "
                       f"from an older definition of the rung; "
                       f"run `w2s zoo build` (or w2s_lib.models.tinygpt.build_zoo(micro={micro}, "
                       f"world_seed={world_seed}))")
    return d


def ladder_report(micro: bool | None = None, world_seed: int = 0) -> list[dict]:
    """Per rung (weak → strong): name, params, build seconds, held-out perplexity, fact recall."""
    micro = _resolve_micro(micro)
    rows = []
    for name in _sizes(micro):
        meta = read_marker(model_dir(name, micro, world_seed))
        rows.append({k: meta[k] for k in ("name", "params", "build_seconds", "heldout_perplexity",
                                          "fact_recall", "fact_recall_known", "n_known_entities",
                                          "n_entities")})
    return rows
