"""The classification trainer: Hugging Face ``Trainer`` with a weak-to-strong loss.

One function, :func:`train_classifier`, trains every model of Part I — the weak supervisor and the
ceiling on ground truth, the student on weak soft labels — so accelerate, bf16, multi-GPU and LoRA come
from the ecosystem and the W2S-specific part is one method, :meth:`W2STrainer.compute_loss`, which calls
a :mod:`w2s_lib.train.losses` function with ``step_frac = global_step / max_steps``.

Hyperparameters live in :class:`TrainArgs`. :data:`OFFICIAL` holds openai/weak-to-strong's defaults:
Adam (AdamW with weight decay 0), cosine decay, no warmup, dropout off, batch 32, 2 epochs, max context
1024 tokens (longer examples are dropped there; truncated here, see ``max_length``).

Modes (``TrainArgs.mode``):

- ``full``  — every weight trains (the official code);
- ``lora``  — PEFT LoRA adapters on all linear layers of the backbone (EleutherAI/w2s), head trains fully;
- ``probe`` — a linear head on the backbone's frozen, cached features (:mod:`w2s_lib.train.probe`),
  trained full-batch with the same loss functions.

Heads (``TrainArgs.head``): ``linear`` = :class:`~w2s_lib.models.heads.Classifier` (zero-initialised, mean
pooling for encoders, last non-pad token for causal LMs); ``lm`` = :class:`LMHeadClassifier`: the class
logits are a causal LM's own next-token logits for two answer tokens (``" false"``, ``" true"`` by default)
at the last non-pad position. The design notes record why the second exists: a cold linear head could not
read out facts a tiny GPT demonstrably knew, while its next-token path could. ``loglik`` =
:class:`LogLikScorer`: the causal LM's own log-likelihood of the text (sum of next-token log-probs) — a
score, so it serves comparisons only (below).

Comparisons (reward modelling, Burns et al. §4.1.3 / Yang et al.): pass ``texts`` as ``(a, b)`` pairs and
the model is :class:`PairwiseComparison`: a reward ``r`` per text from the head above (``linear`` / ``lm``:
``logit_1 − logit_0``; ``loglik``: the log-likelihood) and class logits ``[r(b), r(a)]``, so
``P(a preferred) = σ(r(a) − r(b))`` and every loss of :mod:`w2s_lib.train.losses` applies unchanged (``xent`` to
soft weak labels = BCE on ``r(chosen) − r(rejected)``). Both texts of a batch go through one forward pass.

Speed: dynamic padding (:class:`SoftLabelCollator` pads each batch to its own longest row), length
bucketing (``train_sampling_strategy="group_by_length"``), prediction sorted by length; no checkpoints are
written (``save_strategy="no"``), nothing is reported (``report_to=[]``). The global thread count is left
alone at import.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import Trainer

from w2s_lib.core.config import TrainStage
from w2s_lib.core.errors import W2SError, unknown
from w2s_lib.core.numerics import LossGuard, guard_trainer, lr_hint
from w2s_lib.core.runtime import cached_package_checks, frozen_gc, train_in_bf16
from w2s_lib.train.losses import get_loss
from w2s_lib.train.lm import token_logprobs
from w2s_lib.models import tinygpt, zoo
from w2s_lib.models.heads import Classifier, pool_last_nonpad

MODES = ("full", "lora", "probe")
HEADS = ("linear", "lm", "loglik")


@dataclass(frozen=True)
class TrainArgs:
    """Hyperparameters of one classifier training run (all of them change results except batch sizes
    for prediction)."""

    # official: lr 5e-5 for gpt2 / gpt2-medium, 1e-5 for larger models; 2 epochs; batch 32; Adam, i.e. no
    # weight decay; no warmup
    stage: TrainStage = TrainStage(lr=5e-5, epochs=2.0, batch_size=32, weight_decay=0.0, warmup_ratio=0.0)
    max_length: int = 1024  # official: max context 1024
    scheduler: str = "cosine"  # official: cosine decay
    dropout: float = 0.0  # official: dropout off
    mode: str = "full"
    head: str = "linear"
    loss: str = "xent"
    loss_params: tuple[tuple[str, Any], ...] = ()  # e.g. (("alpha", 0.5), ("warmup_frac", 0.1))
    lora_r: int = 8
    lora_alpha: int = 16
    freeze_embeddings: bool = False  # tiny preset speed option: the (large) token embedding stays fixed
    answer_tokens: tuple[str, str] = (" false", " true")  # LM head: the tokens of class 0 and class 1
    suffix: str = ""  # appended to every text (e.g. an answer cue for the LM head)
    group_by_length: bool = True
    probe_steps: int = 300  # probe mode: full-batch Adam steps
    probe_lr: float = 0.05
    eval_batch_size: int = 128

    def __post_init__(self):
        if self.mode not in MODES:
            raise unknown("training mode", self.mode, MODES)
        if self.head not in HEADS:
            raise unknown("head", self.head, HEADS)
        get_loss(self.loss, **dict(self.loss_params))  # validates name and parameters


#: openai/weak-to-strong defaults (train_weak_to_strong.py / weak_to_strong/train.py)
OFFICIAL = TrainArgs()


# --------------------------------------------------------------------------------------------------
# models


def _dropout_off(model: nn.Module, p: float = 0.0) -> None:
    """Set every dropout probability (modules and config floats) to ``p``."""
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = p
    cfg = getattr(model, "config", None)
    for key in ("hidden_dropout_prob", "attention_probs_dropout_prob", "resid_pdrop", "embd_pdrop",
                "attn_pdrop", "attention_dropout", "hidden_dropout", "dropout"):
        if cfg is not None and isinstance(getattr(cfg, key, None), float):
            setattr(cfg, key, p)


class LMHeadClassifier(nn.Module):
    """Class logits = the causal LM's next-token logits of ``token_ids`` at the last non-pad position.

    Only the rows of the output embedding for the answer tokens are computed (``(B, 2)``, not
    ``(B, T, V)``). Forward signature and output as :class:`~w2s_lib.models.heads.Classifier`.
    """

    def __init__(self, lm: nn.Module, token_ids: list[int]):
        super().__init__()
        self.lm = lm
        self.config = lm.config
        self.register_buffer("token_ids", torch.tensor(token_ids, dtype=torch.long), persistent=False)

    @property
    def backbone(self) -> nn.Module:
        return self.lm

    def features(self, input_ids, attention_mask) -> torch.Tensor:
        hidden = self.lm.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return pool_last_nonpad(hidden, attention_mask)

    def forward(self, input_ids=None, attention_mask=None, labels=None, **_):
        from transformers.modeling_outputs import SequenceClassifierOutput

        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        h = self.features(input_ids, attention_mask)
        out = self.lm.get_output_embeddings()
        w = out.weight[self.token_ids]
        logits = h.to(w.dtype) @ w.T
        if getattr(out, "bias", None) is not None:
            logits = logits + out.bias[self.token_ids]
        return SequenceClassifierOutput(logits=logits)


class LogLikScorer(nn.Module):
    """A text's score = the causal LM's log-likelihood of it: ``Σ_t log p(x_t | x_<t)`` over its non-pad
    tokens (the first token, which has no context, is not scored). No new parameters: the knowledge the
    LM stores is read through its own next-token path. For two texts with a common prefix (a prompt and
    two replies, or a statement and its twin with another value) the prefix's terms cancel in
    ``r(a) − r(b)``, which leaves the log-prob of what differs — e.g. of the stated value."""

    def __init__(self, lm: nn.Module):
        super().__init__()
        self.lm = lm
        self.config = lm.config

    @property
    def backbone(self) -> nn.Module:
        return self.lm

    def reward(self, input_ids, attention_mask) -> torch.Tensor:
        logp = token_logprobs(self.lm(input_ids=input_ids, attention_mask=attention_mask).logits, input_ids)
        return (logp * attention_mask[:, 1:].to(logp.dtype)).sum(dim=1)

    def forward(self, input_ids=None, attention_mask=None, **_):
        raise W2SError("head='loglik' scores texts for comparisons only; give (a, b) text pairs "
                       "(a preference dataset, or pairing='twins'), or use head='lm' / 'linear'")


def text_reward(scorer: nn.Module, input_ids, attention_mask) -> torch.Tensor:
    """A scalar reward per text: :meth:`LogLikScorer.reward`, or ``logit_1 − logit_0`` of a 2-class head."""
    if hasattr(scorer, "reward"):
        return scorer.reward(input_ids, attention_mask)
    logits = scorer(input_ids=input_ids, attention_mask=attention_mask).logits
    return logits[:, 1] - logits[:, 0]


class PairwiseComparison(nn.Module):
    """Which of two texts is preferred: class logits ``[r(b), r(a)]`` for a batch that stacks the ``a``
    texts over the ``b`` texts (``2B`` rows, see :class:`SoftLabelCollator`), so that
    ``softmax(logits)[:, 1] = σ(r(a) − r(b))`` — the reward model's logit ``r(chosen) − r(rejected)``."""

    def __init__(self, scorer: nn.Module):
        super().__init__()
        self.scorer = scorer
        self.config = scorer.config

    @property
    def backbone(self) -> nn.Module:
        return self.scorer.backbone

    def forward(self, input_ids=None, attention_mask=None, labels=None, **_):
        from transformers.modeling_outputs import SequenceClassifierOutput

        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if input_ids.shape[0] % 2:
            raise W2SError(f"a comparison batch stacks a- over b-texts (2B rows); got {input_ids.shape[0]} rows")
        r = text_reward(self.scorer, input_ids, attention_mask)
        half = input_ids.shape[0] // 2
        return SequenceClassifierOutput(logits=torch.stack([r[half:], r[:half]], dim=1))


def answer_token_ids(tokenizer, answer_tokens: tuple[str, str]) -> list[int]:
    """The single token id of each answer string; a string that is not one token is an error."""
    ids = []
    for text in answer_tokens:
        toks = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(toks) != 1:
            raise W2SError(f"answer token {text!r} is {len(toks)} tokens for this tokenizer ({toks}); "
                           "pick answer_tokens that are one token each")
        ids.append(toks[0])
    if ids[0] == ids[1]:
        raise W2SError(f"answer tokens {answer_tokens} map to the same id")
    return ids


def build_model(name: str, args: TrainArgs, backbone: nn.Module | None = None, pairs: bool = False):
    """A fresh classifier on zoo model ``name`` and its tokenizer (right padding).

    ``backbone``: an already loaded (e.g. generatively fine-tuned) backbone to use instead — the bare
    transformer for a linear head, the causal LM for the LM and log-likelihood heads. ``pairs``: wrap it
    in :class:`PairwiseComparison` (a reward model over text pairs).
    """
    spec = zoo.get_spec(name)
    tok = zoo.load_tokenizer(name)
    tok.padding_side = "right"
    if args.head in ("lm", "loglik"):
        if spec.kind != zoo.CAUSAL:
            raise W2SError(f"head={args.head!r} needs a causal LM; {name!r} is an encoder (use head='linear')")
        lm = backbone if backbone is not None else tinygpt.fused_gelu(zoo.load_causal_lm(name))
        if args.head == "lm":
            model = LMHeadClassifier(lm, answer_token_ids(tok, args.answer_tokens))
        else:
            model = LogLikScorer(lm)
    else:
        bb = backbone if backbone is not None else zoo.load_backbone(name)
        model = Classifier(bb, 2, "mean" if spec.kind == zoo.ENCODER else "last")
    _dropout_off(model, args.dropout)
    if args.freeze_embeddings:
        emb = model.backbone.get_input_embeddings()
        for p in emb.parameters():
            p.requires_grad_(False)
    if args.mode == "lora":
        model = _add_lora(model, args)
    if pairs:
        model = PairwiseComparison(model)
    elif args.head == "loglik":
        raise W2SError("head='loglik' scores comparisons only: give (a, b) text pairs (a preference dataset, "
                       "or pairing='twins'), or use head='lm' / 'linear'")
    return model, tok


def _add_lora(model: nn.Module, args: TrainArgs) -> nn.Module:
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=0.0, target_modules="all-linear")
    if isinstance(model, (LMHeadClassifier, LogLikScorer)):
        model.lm = get_peft_model(model.lm, cfg)  # "all-linear" leaves the output layer alone
        # the answer-token rows are read from the frozen output embedding; LoRA adapts the body
    else:
        model.backbone = get_peft_model(model.backbone, cfg)  # the head stays fully trainable
    return model


# --------------------------------------------------------------------------------------------------
# data


class SoftLabelCollator:
    """Pads each batch to its own longest row (``DataCollatorWithPadding``) and turns the soft label
    ``P(1)`` of each row into a ``(B, 2)`` float target; drops the ``length`` column used for bucketing.
    Comparison rows (with ``input_ids_b``) become ``2B`` sequences: every ``a`` text, then every ``b``."""

    def __init__(self, tokenizer):
        from transformers import DataCollatorWithPadding

        self.pad = DataCollatorWithPadding(tokenizer, padding="longest", return_tensors="pt")

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        p1 = torch.tensor([float(r["soft_label"]) for r in rows], dtype=torch.float32)
        seqs = [{"input_ids": r["input_ids"], "attention_mask": r["attention_mask"]} for r in rows]
        if rows and "input_ids_b" in rows[0]:
            seqs += [{"input_ids": r["input_ids_b"], "attention_mask": r["attention_mask_b"]} for r in rows]
        batch = self.pad(seqs)
        batch["labels"] = torch.stack([1 - p1, p1], dim=1)
        return dict(batch)


def is_pairs(texts) -> bool:
    """Whether ``texts`` are ``(a, b)`` comparisons rather than single strings (all of one kind)."""
    kinds = {isinstance(t, (tuple, list)) for t in texts}
    if len(kinds) > 1:
        raise W2SError("texts mix single strings and (a, b) pairs")
    if kinds == {True} and any(len(t) != 2 for t in texts):
        raise W2SError("a comparison is a pair of two texts (a, b)")
    return kinds == {True}


def _tokenize(tok, texts: list, args: TrainArgs) -> list[dict]:
    """Token ids of every text, or of both sides of every ``(a, b)`` pair (keys ``*_b``); ``length`` is
    the longer side (what bucketing and length-sorted prediction read)."""
    def enc(xs):
        e = tok([t + args.suffix for t in xs], truncation=True, max_length=args.max_length, add_special_tokens=True)
        return [{"input_ids": ids, "attention_mask": m} for ids, m in zip(e["input_ids"], e["attention_mask"])]

    if not is_pairs(texts):
        return [{**r, "length": len(r["input_ids"])} for r in enc(texts)]
    rows = enc([a for a, _ in texts])
    for r, b in zip(rows, enc([b for _, b in texts])):
        r.update(input_ids_b=b["input_ids"], attention_mask_b=b["attention_mask"],
                 length=max(len(r["input_ids"]), len(b["input_ids"])))
    return rows


def _train_dataset(tok, texts: list, soft_labels, args: TrainArgs):
    import datasets

    rows = _tokenize(tok, texts, args)
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    return datasets.Dataset.from_dict({**cols, "soft_label": [float(p) for p in soft_labels]})


# --------------------------------------------------------------------------------------------------
# the trainer


class W2STrainer(Trainer):
    """``Trainer`` whose loss is a :mod:`w2s_lib.train.losses` function of the soft targets, called with
    ``step_frac = global_step / max_steps`` (what ``logconf``'s warmup reads)."""

    def __init__(self, *a, w2s_loss=None, **kw):
        super().__init__(*a, **kw)
        self.w2s_loss = w2s_loss
        self.loss_log: list[float] = []

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        targets = inputs.pop("labels")
        outputs = model(**inputs)
        step_frac = self.state.global_step / max(1, self.state.max_steps)
        loss = self.w2s_loss(outputs.logits, targets.to(outputs.logits.device), step_frac)
        if model.training:
            self.loss_log.append(float(loss.detach()))
        return (loss, outputs) if return_outputs else loss


def quiet(trainer: Trainer) -> Trainer:
    """No end-of-training metrics dict printed into the book's pages (``disable_tqdm`` installs a printer)."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    return trainer


def training_arguments(args: TrainArgs, seed: int, out_dir: str, n_rows: int):
    """The ``TrainingArguments`` of a run: official defaults mapped onto HF names."""
    from transformers import TrainingArguments

    use_cuda = torch.cuda.is_available()
    return TrainingArguments(
        output_dir=out_dir,
        learning_rate=args.stage.lr,
        num_train_epochs=args.stage.epochs,
        per_device_train_batch_size=args.stage.batch_size,
        per_device_eval_batch_size=args.eval_batch_size,
        weight_decay=args.stage.weight_decay,
        optim="adamw_torch",
        lr_scheduler_type=args.scheduler,
        warmup_steps=int(round(args.stage.warmup_ratio * math.ceil(n_rows / args.stage.batch_size) * args.stage.epochs)),
        train_sampling_strategy="group_by_length" if args.group_by_length else "random",
        length_column_name="length",
        remove_unused_columns=False,
        save_strategy="no",
        eval_strategy="no",
        logging_strategy="no",
        report_to=[],
        disable_tqdm=True,
        seed=seed,
        data_seed=seed,
        dataloader_num_workers=0,
        bf16=train_in_bf16(),
        use_cpu=not use_cuda,
    )


@dataclass
class FittedClassifier:
    """A trained classifier: ``predict_proba(texts)`` gives ``P(label = 1)``."""

    name: str
    args: TrainArgs
    model: nn.Module | None = None
    tokenizer: Any = None
    probe: nn.Module | None = None
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    preset: str = "tiny"
    features: Any = None  # probe mode: texts -> frozen features (default: cached_features of the texts)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        if self.probe is not None:
            feats = _features(self.name, texts, self.args, self.preset, self.features)
            with torch.no_grad():
                logits = self.probe(torch.as_tensor(feats, dtype=torch.float32))
            return torch.softmax(logits.float(), dim=1)[:, 1].numpy()
        return predict_proba(self.model, self.tokenizer, texts, self.args)


@torch.no_grad()
def predict_proba(model: nn.Module, tok, texts: list[str], args: TrainArgs = OFFICIAL) -> np.ndarray:
    """``P(label = 1)`` for every text; batches are formed in length order (little padding), the
    result is in the input order."""
    if not texts:
        return np.zeros(0, dtype=np.float32)
    model.eval()
    rows = _tokenize(tok, list(texts), args)
    order = np.argsort([r["length"] for r in rows], kind="stable")
    device = next(model.parameters()).device
    collate = SoftLabelCollator(tok)
    out = np.empty(len(rows), dtype=np.float32)
    for start in range(0, len(rows), args.eval_batch_size):
        idx = order[start:start + args.eval_batch_size]
        batch = collate([{**rows[i], "soft_label": 0.0} for i in idx])
        logits = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)).logits
        out[idx] = torch.softmax(logits.float(), dim=1)[:, 1].cpu().numpy()
    return out


def _features(name: str, texts: list[str], args: TrainArgs, preset: str, lookup=None) -> np.ndarray:
    if lookup is not None:
        return lookup(list(texts))
    from w2s_lib.train.probe import cached_features

    return cached_features(name, [t + args.suffix for t in texts], preset)


def _fit_probe(name: str, texts: list[str], soft_labels, args: TrainArgs, seed: int, preset: str,
               features=None) -> FittedClassifier:
    """Probe mode: a zero-initialised linear head on cached frozen features, full-batch Adam with the
    chosen W2S loss (standardised features, folded back into the head as in :func:`probe.fit_probe`)."""
    started = time.time()
    torch.manual_seed(seed)
    x = torch.as_tensor(_features(name, texts, args, preset, features), dtype=torch.float32)
    mean, std = x.mean(0), x.std(0).clamp(min=1e-6)
    xs = (x - mean) / std
    p1 = torch.as_tensor(np.asarray(soft_labels, dtype=np.float32))
    targets = torch.stack([1 - p1, p1], dim=1)
    head = nn.Linear(x.shape[1], 2)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    opt = torch.optim.Adam(head.parameters(), lr=args.probe_lr, weight_decay=args.stage.weight_decay)
    loss_fn = get_loss(args.loss, **dict(args.loss_params))
    log, guard = [], LossGuard(lr_hint("probe_lr", args.probe_lr))
    for step in range(args.probe_steps):
        opt.zero_grad()
        loss = loss_fn(head(xs), targets, step / args.probe_steps)
        loss.backward()
        opt.step()
        log.append(guard(loss, step))
    with torch.no_grad():
        w = head.weight / std
        head.bias -= (w * mean).sum(1)
        head.weight.copy_(w)
    return FittedClassifier(name, args, probe=head, losses=log, seconds=time.time() - started, preset=preset,
                            features=features)


def train_classifier(name: str, texts: list, soft_labels, args: TrainArgs = OFFICIAL, seed: int = 0,
                     backbone: nn.Module | None = None, preset: str = "tiny", features=None) -> FittedClassifier:
    """Train a classifier on zoo model ``name`` with targets ``soft_labels`` (``P(1)`` per text: 0/1 for
    ground truth, the weak model's probabilities for a student). Deterministic for ``seed``.
    ``texts`` of ``(a, b)`` pairs train a reward model (:class:`PairwiseComparison`, ``P(1) = P(a ≻ b)``).

    ``backbone``: start from this (e.g. generatively fine-tuned) backbone; ``features`` (probe mode): a
    function texts → frozen features, e.g. a lookup into features cached once for a whole dataset."""
    soft_labels = np.asarray(soft_labels, dtype=np.float32)
    if len(texts) != len(soft_labels):
        raise W2SError(f"got {len(texts)} texts but {len(soft_labels)} labels")
    if len(texts) == 0:
        raise W2SError("no training rows")
    if np.any((soft_labels < 0) | (soft_labels > 1)) or not np.all(np.isfinite(soft_labels)):
        raise W2SError("soft labels must be probabilities P(1) in [0, 1]")
    pairs = is_pairs(texts)
    if args.mode == "probe":
        if pairs:
            raise W2SError("comparisons (text pairs) train the model itself: use mode='full' or 'lora', not 'probe'")
        return _fit_probe(name, list(texts), soft_labels, args, seed, preset, features)

    import tempfile

    from transformers import set_seed

    started = time.time()
    set_seed(seed)
    model, tok = build_model(name, args, backbone, pairs=pairs)
    train_ds = _train_dataset(tok, list(texts), soft_labels, args)
    with tempfile.TemporaryDirectory(prefix="w2s-trainer-") as tmp:
        trainer = W2STrainer(
            model=model,
            args=training_arguments(args, seed, tmp, len(texts)),
            train_dataset=train_ds,
            data_collator=SoftLabelCollator(tok),
            processing_class=tok,
            w2s_loss=get_loss(args.loss, **dict(args.loss_params)),
        )
        quiet(guard_trainer(trainer, lr_hint("train.lr", args.stage.lr)))
        with frozen_gc(), cached_package_checks():
            trainer.train()
    model.eval()
    return FittedClassifier(name, args, model=model, tokenizer=tok, losses=trainer.loss_log,
                            seconds=time.time() - started, preset=preset)


def args_dict(args: TrainArgs) -> dict[str, Any]:
    return asdict(args)


__all__ = ["FittedClassifier", "HEADS", "LMHeadClassifier", "LogLikScorer", "MODES", "OFFICIAL", "PairwiseComparison",
           "SoftLabelCollator", "TrainArgs", "W2STrainer", "answer_token_ids", "build_model", "is_pairs",
           "predict_proba", "text_reward", "train_classifier", "training_arguments"]
