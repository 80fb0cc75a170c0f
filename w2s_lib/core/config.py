"""Presets and configs: one switch, four scales, every value checked.

A config is a frozen dataclass. Its fields carry metadata (``knob``) saying what values are allowed and
whether the field changes results (``batch_size`` for inference does not, ``lr`` does). A config is
built for a preset and then overridden::

    cfg = NaiveW2SConfig.for_preset("tiny", {"lr": 1e-4})

Presets:

- ``smoke`` — seconds; what tests and nbval run (selected by ``W2S_SMOKE=1`` when a notebook asks for
  ``tiny``), on the micro zoo.
- ``tiny`` — offline, 2 CPU cores, minutes; the book's default and what ``make reproduce`` runs.
- ``colab`` — one consumer GPU, hub models and datasets.
- ``paper`` — the paper's own settings; every value quotes its source in a comment.

``run_id`` = a readable slug + a short hash of the fields that change results, so two configs that
would compute the same thing share one cached artifact.

Configs compose: a field typed as a :class:`Section` (a frozen dataclass of knobs, e.g. :class:`TrainStage`,
the one training vocabulary — ``lr``, ``epochs``, ``batch_size``, ``weight_decay``, ``warmup_ratio``, and
``beta`` for preference stages) is validated like the config's own fields and overridden by dotted name::

    cfg = MACPOConfig.for_preset("tiny", {"dpo.lr": 1e-5, "sft": {"epochs": 2.0}})
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import json
import math
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from w2s_lib.core.errors import W2SError, unknown

PRESETS = ("smoke", "tiny", "colab", "paper")


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")

#: the largest seed numpy / torch accept (``np.random.default_rng`` and ``torch.manual_seed`` take 0 … 2**32 - 1)
MAX_SEED = 2**32 - 1


def env_flag(name: str) -> bool:
    """A boolean environment variable, read strictly: ``1/true/yes/on`` or ``0/false/no/off`` (or unset).

    Anything else (``W2S_SMOKE=maybe``) is a one-line error, never silently false.
    """
    raw = os.environ.get(name, "")
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise W2SError(f"environment variable {name}={raw!r} is not a boolean; set it to 1 or 0 (or unset it)")


WORLD_SEED_ENV = "W2S_WORLD_SEED"


def current_world_seed() -> int:
    """The world the registry's ``tiny_*`` datasets and the zoo use: ``$W2S_WORLD_SEED``, default 0.

    One world per process, so the datasets and the tiny GPT family (pretrained on that world) always
    agree; a run's own ``seed`` only samples rows and initialises models. (Read here, beside the other
    environment switches, so checking it imports no dataset code.)
    """
    raw = os.environ.get(WORLD_SEED_ENV, "0").strip() or "0"
    if not raw.isdigit():
        raise W2SError(f"{WORLD_SEED_ENV} must be a non-negative integer, got {raw!r}")
    return int(raw)


def is_smoke() -> bool:
    """True when tests ask for the smoke scale (``W2S_SMOKE=1``): the micro zoo, a few hundred rows."""
    return env_flag("W2S_SMOKE")


def parse_overrides(overrides: Any) -> dict[str, Any]:
    """``overrides`` as a dict. A notebook run by papermill's own CLI may receive it as text
    (``-p overrides '{"n_docs": 400}'``): JSON or a Python literal is parsed here."""
    if overrides is None:
        return {}
    if isinstance(overrides, str):
        text = overrides.strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError:
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                raise W2SError(f"overrides {overrides!r} is not a dict; write it as JSON, e.g. "
                               '\'{"n_docs": 400}\'') from None
        overrides = value
    if not isinstance(overrides, Mapping):
        raise W2SError(f"overrides must be a dict like {{'lr': 1e-4}}, got {overrides!r}")
    bad = [k for k in overrides if not isinstance(k, str)]
    if bad:
        raise W2SError(f"override names must be strings, got {bad[0]!r}")
    return dict(overrides)


def resolve_preset(preset: str) -> str:
    """Validate ``preset``; under ``W2S_SMOKE=1`` the tiny preset runs at smoke scale."""
    if preset not in PRESETS:
        raise unknown("preset", preset, PRESETS)
    return "smoke" if preset == "tiny" and is_smoke() else preset


def seeds_for(preset: str, seeds: list[int] | tuple[int, ...]) -> list[int]:
    """The seeds a chapter runs: all of them, except at smoke scale, where two exercise every code path
    (confidence intervals included) in a fraction of the time."""
    seeds = list(seeds)
    return seeds[:2] if resolve_preset(preset) == "smoke" else seeds


def knob(
    default: Any = dataclasses.MISSING,
    *,
    help: str = "",
    choices: tuple | None = None,
    low: float | None = None,
    high: float | None = None,
    affects_result: bool = True,
    default_factory: Any = dataclasses.MISSING,
    added_later: bool = False,
) -> Any:
    """A config field with its allowed values. ``low``/``high`` are inclusive bounds.

    ``added_later``: a field added after runs were cached; it enters the run id only when set away from
    its default, so every run cached before it existed keeps its id (and is not recomputed).
    """
    meta = {"help": help, "choices": choices, "low": low, "high": high, "affects_result": affects_result,
            "added_later": added_later}
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints(cls)``, resolved once per class: a config's annotations are strings (postponed
    evaluation) that every construction, ``replace`` and section check would otherwise ``eval`` again — a
    chapter that reads its cached steps builds thousands of configs (≈ 3 ms each). Do not mutate the result."""
    return typing.get_type_hints(cls)


def _type_ok(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if tp is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_type_ok(v, args[0]) for v in value)
        return len(args) == len(value) and all(_type_ok(v, a) for v, a in zip(value, args))
    if origin is dict:
        return isinstance(value, dict)
    return isinstance(value, tp)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


@dataclass(frozen=True)
class Section:
    """A group of knobs a config composes (one field of the config, typed as the section's class).

    Validated with the config (errors name ``Config.field.knob``), hashed into the run id as a nested dict,
    built from a dict where a config arrives as JSON (papermill parameters, a cached ``config.json``) and
    overridden by dotted name (``{"dpo.lr": 1e-5}``) or by a partial dict (``{"dpo": {"lr": 1e-5}}``).
    """

    def check(self, owner: str) -> None:
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            _check_value(owner, f, hints[f.name], getattr(self, f.name))

    def merged(self, owner: str, changes: Mapping[str, Any]):
        names = {f.name for f in dataclasses.fields(self)}
        for key in changes:
            if key not in names:
                raise unknown(f"override for {owner}:", key, names)
        return dataclasses.replace(self, **{k: _tuples(v) for k, v in changes.items()})


@dataclass(frozen=True)
class TrainStage(Section):
    """One optimisation stage: the training vocabulary every config shares (Adam-family optimiser, linear or
    cosine schedule as the stage's trainer documents). ``epochs`` may be fractional; ``beta`` is the
    preference loss's inverse temperature (DPO β) and is ignored by supervised stages."""

    lr: float = knob(1e-4, low=1e-8, high=10.0, help="peak learning rate")
    epochs: float = knob(1.0, low=0.0, high=1000.0, help="passes over the stage's data (fractions allowed)")
    batch_size: int = knob(8, low=1, high=65536, help="examples per optimiser step")
    weight_decay: float = knob(0.0, low=0.0, high=1.0)
    warmup_ratio: float = knob(0.0, low=0.0, high=1.0, help="share of steps with a linear warm-up")
    beta: float = knob(0.1, low=1e-4, high=100.0, help="preference stages: DPO/SimPO β")


@dataclass(frozen=True)
class Config:
    """Base of every experiment config: a preset, a seed, validation, and a run id."""

    preset: str = knob("tiny", choices=PRESETS, help="scale: smoke, tiny, colab or paper")
    seed: int = knob(0, low=0, high=MAX_SEED, help="random seed of this run")

    SLUG: ClassVar[str] = "run"
    #: preset name -> field values that differ from the dataclass defaults
    PRESET_VALUES: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            # lists from JSON / papermill become tuples (nested ones too) so configs stay hashable
            if isinstance(value, list) or (isinstance(value, tuple) and any(isinstance(v, list) for v in value)):
                value = _tuples(value)
                object.__setattr__(self, f.name, value)
            section = _section_class(hints[f.name])
            if section is not None:  # a composed section: from a dict (JSON) or as given, checked knob by knob
                if isinstance(value, Mapping):
                    value = section().merged(f"{type(self).__name__}.{f.name}", value)
                    object.__setattr__(self, f.name, value)
                if not isinstance(value, section):
                    raise W2SError(f"{type(self).__name__}.{f.name} must be a {section.__name__} or a dict of its "
                                   f"knobs, got {value!r}")
                value.check(f"{type(self).__name__}.{f.name}")
                continue
            _check_value(type(self).__name__, f, hints[f.name], value)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def for_preset(cls, preset: str, overrides: Mapping[str, Any] | None = None, **more: Any):
        """The config of ``preset`` with ``overrides`` applied (each one validated)."""
        preset = resolve_preset(preset)
        return cls.preset_values(preset).replace(**{**parse_overrides(overrides), **more})

    @classmethod
    def preset_values(cls, preset: str):
        """The config of ``preset`` exactly as :data:`PRESET_VALUES` states it (no smoke substitution)."""
        return cls(preset=preset).replace(**cls.PRESET_VALUES.get(preset, {}))

    def replace(self, **overrides: Any):
        """A copy with ``overrides`` applied; ``section.knob`` names (or a partial dict) reach into sections."""
        names = {f.name for f in dataclasses.fields(self)}
        hints = _hints(type(self))
        direct: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {}
        for key, value in overrides.items():
            head, dot, rest = key.partition(".")
            if head not in names:
                homes = [n for n in names if _section_class(hints[n]) is not None
                         and key in {g.name for g in dataclasses.fields(_section_class(hints[n]))}]
                if homes:  # a knob of a section, named bare: say where it lives
                    raise W2SError(f"{type(self).__name__} keeps {key!r} in its {homes[0]!r} section; write "
                                   f"{homes[0]}.{key}=… (e.g. {{'{homes[0]}.{key}': …}})")
                raise unknown(f"override for {type(self).__name__}:", key, names)
            section = _section_class(hints[head])
            if dot and section is None:
                raise W2SError(f"{type(self).__name__}.{head} has no knobs to set; write {head}=… instead of {key}=…")
            if dot:
                nested.setdefault(head, {})[rest] = value
            elif section is not None and isinstance(value, Mapping):
                nested.setdefault(head, {}).update(value)
            else:
                direct[key] = value
        for head, changes in nested.items():
            base = direct.get(head, getattr(self, head))
            direct[head] = base.merged(f"{type(self).__name__}.{head}", changes)
        return dataclasses.replace(self, **direct)

    # -- identity -----------------------------------------------------------------------------
    def result_fields(self) -> dict[str, Any]:
        """The fields that change results, as plain JSON values."""
        return {
            f.name: _result_jsonable(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.metadata.get("affects_result", True)
            and not (f.metadata.get("added_later") and getattr(self, f.name) == f.default)
        }

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def flat_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` with each section's knobs as ``section.knob`` entries (tables, overrides)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Section):
                out.update({f"{f.name}.{g.name}": _jsonable(getattr(value, g.name)) for g in dataclasses.fields(value)})
            else:
                out[f.name] = _jsonable(value)
        return out

    @property
    def run_id(self) -> str:
        blob = json.dumps({"kind": type(self).__name__, **self.result_fields()}, sort_keys=True)
        digest = hashlib.sha256(blob.encode()).hexdigest()[:10]
        return f"{self.SLUG}-{self.preset}-s{self.seed}-{digest}"


def _section_class(tp: Any) -> type[Section] | None:
    return tp if isinstance(tp, type) and issubclass(tp, Section) else None


def _tuples(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_tuples(v) for v in value)
    return value


def _check_value(owner: str, f: dataclasses.Field, tp: Any, value: Any) -> None:
    meta = f.metadata
    if not _type_ok(value, tp):
        raise W2SError(
            f"{owner}.{f.name} must be of type {_type_name(tp)}, got {value!r} ({type(value).__name__})"
        )
    choices = meta.get("choices")
    items = value if isinstance(value, tuple) else (value,)  # tuple fields: every item is checked
    for item in items:
        if choices is not None and item not in choices:
            raise W2SError(f"{owner}.{f.name} = {item!r} is not allowed; choose one of: {', '.join(map(str, choices))}")
        low, high = meta.get("low"), meta.get("high")
        if isinstance(item, float) and not math.isfinite(item):
            raise W2SError(f"{owner}.{f.name} = {item!r} is not a finite number; give a real value, e.g. "
                           f"{f.default if isinstance(f.default, (int, float)) else 0.1!r}")
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            if (low is not None and item < low) or (high is not None and item > high):
                span = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
                raise W2SError(f"{owner}.{f.name} = {item!r} is out of range; allowed range is {span}")


def _result_jsonable(value: Any) -> Any:
    """:func:`_jsonable`, leaving out a section's knobs that do not change results (as for a config's own)."""
    if isinstance(value, Section):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.metadata.get("affects_result", True)}
    return _jsonable(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Section):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one ``key=value`` from the command line; the value is a Python literal or a plain string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not all(part.isidentifier() for part in key.split(".")):
        raise W2SError(f"malformed parameter {text!r}; write it as key=value, e.g. -p seed=1 or -p train.lr=1e-4")
    raw = raw.strip()
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw  # a bare word is a string: -p preset=tiny
    return key, value
