"""Classification heads on any backbone in the zoo.

:class:`Classifier` = backbone + pooling + a linear head initialised to zero (as the official
weak-to-strong code does, so every student starts at P = 0.5). Pooling:

- ``mean`` — attention-masked mean of the last hidden states (how all-MiniLM-L6-v2 was trained);
- ``last`` — the last *non-pad* token, found from the attention mask. The official code looked for the
  first token id 0 instead, which is a real token in GPT-2's vocabulary ('!'); we use the mask, which
  works for left or right padding and any pad id.

The forward signature matches Hugging Face models (``input_ids``, ``attention_mask``, ``labels``) and
returns ``SequenceClassifierOutput``, so the ``Trainer`` and PEFT treat it like any HF classifier.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from w2s_lib.core.errors import unknown
from w2s_lib.models import zoo

POOLINGS = ("mean", "last")


def pool_last_nonpad(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The hidden state of each row's last position whose attention mask is 1 (left or right padding)."""
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    last = (attention_mask.long() * positions).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def pool_mean(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class Classifier(nn.Module):
    def __init__(self, backbone: nn.Module, num_labels: int = 2, pooling: str = "mean"):
        super().__init__()
        if pooling not in POOLINGS:
            raise unknown("pooling", pooling, POOLINGS)
        self.backbone = backbone
        self.pooling = pooling
        self.config = backbone.config  # PEFT and the Trainer look here
        self.head = nn.Linear(backbone.config.hidden_size, num_labels)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def features(self, input_ids, attention_mask) -> torch.Tensor:
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        pool = pool_mean if self.pooling == "mean" else pool_last_nonpad
        return pool(hidden, attention_mask)

    def forward(self, input_ids=None, attention_mask=None, labels=None, **_) -> SequenceClassifierOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        feats = self.features(input_ids, attention_mask)
        return SequenceClassifierOutput(logits=self.head(feats.to(self.head.weight.dtype)))


def load_classifier(name: str, num_labels: int = 2, dtype=None) -> tuple[Classifier, object]:
    """A zero-initialised classifier on model ``name`` and its tokenizer (mean pooling for encoders,
    last-non-pad-token pooling for causal LMs)."""
    spec = zoo.get_spec(name)
    pooling = "mean" if spec.kind == zoo.ENCODER else "last"
    backbone = zoo.load_backbone(name, dtype=dtype)
    return Classifier(backbone, num_labels, pooling), zoo.load_tokenizer(name)


@torch.no_grad()
def encode(name: str, texts: list[str], batch_size: int = 64, max_length: int = 128) -> torch.Tensor:
    """Frozen pooled features of ``texts`` under backbone ``name`` (for probes and similarity)."""
    model, tok = load_classifier(name)
    model.eval()
    out = []
    for start in range(0, len(texts), batch_size):
        batch = tok(texts[start:start + batch_size], padding=True, truncation=True,
                    max_length=max_length, return_tensors="pt")
        out.append(model.features(batch["input_ids"], batch["attention_mask"]))
    return torch.cat(out) if out else torch.empty(0, model.config.hidden_size)
