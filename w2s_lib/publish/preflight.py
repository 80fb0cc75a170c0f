"""Check everything a chapter run needs before a kernel starts.

``w2s run`` used to start papermill first and let the notebook discover a misspelt dataset, an offline hub
or an unbuilt zoo: the message came after progress bars, with a ``…failed.ipynb`` written. Here every
parameter is checked against the notebook's ``parameters`` cell (types kept: a tuple stays a sequence, a
boolean is ``True``/``False`` and nothing else), the chapter's config is built, and every dataset and model
it names is resolved (registry, hub reachability for hub names, zoo presence for the tiny GPT family), so
a mistake is one line and nothing is written.

Papermill writes only JSON-like values faithfully (a tuple becomes its ``str``); :func:`to_papermill`
turns tuples into lists on the way in, and :class:`~w2s_lib.core.config.Config` turns them back.
"""

from __future__ import annotations

import ast
import math
from typing import Any

from w2s_lib.core import paths
from w2s_lib.core.config import MAX_SEED, PRESETS, Config, parse_overrides, resolve_preset
from w2s_lib.core.errors import W2SError, unknown

#: config fields that name a registry dataset ('' allowed where the field is optional)
DATASET_FIELDS = ("dataset", "prompts", "helpful_dataset", "target_extra")
#: config fields that name one model, or a sequence of models
MODEL_FIELDS = ("model", "small", "tuned", "base", "intermediate")
MODEL_LIST_FIELDS = ("ladder", "bases", "teachers", "students")
#: size knobs checked against the dataset's splits when the user sets them
SIZE_FIELDS = {"n_docs": "train", "n_test": "test"}


# -- notebook parameters ------------------------------------------------------------------------------
def _default(raw: str) -> Any:
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return None


def _kind(value: Any) -> str:
    return type(value).__name__


def _check_text(name: str, value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise W2SError(f"parameter {name} = {value!r} is not valid UTF-8 text; retype it") from None


def check_value(name: str, value: Any, default: Any, where: str) -> Any:
    """``value`` for the notebook parameter ``name`` whose default is ``default``: the same kind, or one line."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise W2SError(f"parameter {name} of {where} must be True or False, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise W2SError(f"parameter {name} of {where} must be an integer, got {value!r} ({_kind(value)})")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise W2SError(f"parameter {name} of {where} must be a number, got {value!r} ({_kind(value)})")
        if not math.isfinite(value):
            raise W2SError(f"parameter {name} of {where} = {value!r} is not a finite number")
        if value < 0:
            raise W2SError(f"parameter {name} of {where} = {value!r} must not be negative")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise W2SError(f"parameter {name} of {where} must be text, got {value!r} ({_kind(value)})")
        _check_text(name, value)
        return value
    if isinstance(default, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            raise W2SError(f"parameter {name} of {where} must be a list like {list(default)!r}, got {value!r}")
        if default:
            proto = default[0]
            for item in value:
                check_value(f"{name}[…]", item, proto, where)
        return list(value)
    if isinstance(default, dict):
        return parse_overrides(value)
    return value


def check_seeds(seeds: Any, where: str) -> list[int]:
    if not isinstance(seeds, (list, tuple)) or not seeds or not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in seeds):
        raise W2SError(f"seeds of {where} must be a non-empty list of integers in [0, {MAX_SEED}], got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise W2SError(f"seeds of {where} repeat a seed ({list(seeds)!r}); list each seed once")
    return list(seeds)


def to_papermill(value: Any) -> Any:
    """``value`` in the types papermill writes faithfully (tuples → lists, recursively)."""
    if isinstance(value, (list, tuple)):
        return [to_papermill(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_papermill(v) for k, v in value.items()}
    return value


# -- what a config names ------------------------------------------------------------------------------
def check_dataset(name: str, resolve: bool = True) -> None:
    from w2s_lib import data
    from w2s_lib.core import hub

    if not isinstance(name, str):
        return
    _check_text("dataset", name)
    spec = data.get_spec(name)
    if resolve and not spec.offline:
        hub.resolve("datasets", spec.hub_id, "preset='tiny' (offline tiny_* datasets, see `w2s list datasets`)")


def check_model(name: str, resolve: bool = True) -> None:
    from w2s_lib.models import zoo

    if not isinstance(name, str):
        return
    _check_text("model", name)
    from w2s_lib.generalization.frozen import BOW
    from w2s_lib.models import chessgpt

    if name in chessgpt.NAMES or name == BOW:
        return  # chess rungs are trained by their chapter; the bag-of-words rung is fit from the data
    spec = zoo.get_spec(name)
    if not resolve:
        return
    if spec.family == "tinygpt":
        from w2s_lib.models import tinygpt

        micro = tinygpt._resolve_micro(None)
        if micro:
            return  # the micro zoo builds on demand in seconds
        tinygpt.model_dir(name, micro=False)  # one line naming `w2s zoo build` when it is not built
        return
    zoo.model_path(name)  # minilm: the offline package; hub names: reachable or a local stand-in


def _names(cfg: Config) -> tuple[list[str], list[str]]:
    values = {k: getattr(cfg, k) for k in cfg.to_dict()}
    datasets = [values[f] for f in DATASET_FIELDS if f in values and values[f] != ""]
    models = [values[f] for f in MODEL_FIELDS if f in values and values[f] != ""]
    models += [name for f in MODEL_LIST_FIELDS if f in values for name in values[f]]
    return datasets, models


def check_names(cfg: Config) -> None:
    """Every dataset and model name ``cfg`` gives is known (nothing resolved: no zoo, no hub)."""
    datasets, models = _names(cfg)
    for name in datasets:
        check_dataset(name, resolve=False)
    for name in models:
        check_model(name, resolve=False)


def check_config(cfg: Config, overridden: set[str] = frozenset(), min_rungs: int = 2) -> None:
    """Resolve every dataset and model ``cfg`` names; check sizes the user set against the data."""
    values = {k: getattr(cfg, k) for k in cfg.to_dict()}
    datasets, models = _names(cfg)
    check_names(cfg)  # names first: a typo is reported before an unbuilt zoo or an offline hub
    for name in datasets:
        check_dataset(name)
    for name in models:
        check_model(name)
    if "ladder" in values and len(values["ladder"]) < min_rungs:
        raise W2SError(f"{type(cfg).__name__}.ladder has {len(values['ladder'])} model(s); a weak-to-strong "
                       f"ladder needs at least {min_rungs} (weak → strong), e.g. ladder=['minilm-l1','minilm-l2']")
    if "dataset" in values and overridden & set(SIZE_FIELDS):
        _check_sizes(values["dataset"], {k: values[k] for k in SIZE_FIELDS if k in overridden and k in values})


def _check_sizes(dataset: str, sizes: dict[str, int]) -> None:
    from w2s_lib import data

    for knob, split in SIZE_FIELDS.items():
        if knob in sizes:
            rows = len(data.load(dataset, split))
            if sizes[knob] > rows:
                raise W2SError(f"{knob}={sizes[knob]} is more than the {rows} rows of {dataset!r} {split!r}; "
                               f"lower {knob} (at most {rows})")


def check_home() -> None:
    paths.check_home()


def check_env() -> None:
    """The environment variables a run reads, each checked strictly (one line naming the variable)."""
    import os

    from w2s_lib.core.config import current_world_seed, env_flag

    for flag in ("W2S_SMOKE", "HF_HUB_OFFLINE"):
        env_flag(flag)
    current_world_seed()  # W2S_WORLD_SEED: a non-negative integer
    local_hub = os.environ.get("W2S_LOCAL_HUB")
    if local_hub and not os.path.isdir(local_hub):
        raise W2SError(f"W2S_LOCAL_HUB={local_hub!r} is not a directory; point it at the folder of local "
                       f"stand-ins (models/, datasets/) or unset it")


def check_preset(preset: Any) -> str:
    if preset not in PRESETS:
        raise unknown("preset", preset, PRESETS)
    resolve_preset(preset)  # a bad W2S_SMOKE fails here
    return preset
