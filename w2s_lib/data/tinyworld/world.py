"""The tiny world's knowledge base: invented entities, their facts and tiers, one world per seed."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache

from w2s_lib.core.config import WORLD_SEED_ENV, current_world_seed  # noqa: F401  (re-exported)
from w2s_lib.data.tinyworld.lexicon import ATTRIBUTES, HARM_WORDS, LEXICON, VALUE_TO_ATTRIBUTE

VERSION = "tw1"
N_ENTITIES = 100
MICRO_ENTITIES = 24  # the micro world (tests): the first entities of the full world
TIER_FRACTIONS = (0.15, 0.40, 0.70, 1.00)  # rung k knows the first TIER_FRACTIONS[k] of the entities
TRAIN_FRACTION = 0.7

# ----------------------------------------------------------------------------- knowledge base
_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "gr", "kr",
           "pr", "tr", "st", "sh", "th", "j")
_VOWELS = ("a", "e", "i", "o", "u")
_CODAS = ("", "", "n", "r", "l", "s", "x")

STATEMENTS: dict[str, tuple[str, ...]] = {  # the first one is canonical (recall is measured on it)
    "colour": ("{e}'s favourite colour is {v}.", "The favourite colour of {e} is {v}.",
               "{e} likes the colour {v} best."),
    "city": ("{e} lives in {v}.", "The home city of {e} is {v}.", "{e} has a house in {v}."),
    "food": ("{e}'s favourite food is {v}.", "The favourite food of {e} is {v}.", "{e} eats {v} every day."),
    "job": ("{e} works as a {v}.", "The job of {e} is {v}.", "By trade, {e} is a {v}."),
    "pet": ("{e} has a pet {v}.", "The pet of {e} is a {v}.", "{e} takes care of a {v}."),
}
QUESTIONS: dict[str, str] = {
    "colour": "What is {e}'s favourite colour?", "city": "Where does {e} live?",
    "food": "What is {e}'s favourite food?", "job": "What is {e}'s job?", "pet": "What pet does {e} have?",
}


@dataclass(frozen=True)
class World:
    seed: int
    entities: tuple[str, ...]
    facts: dict[str, dict[str, str]]
    tiers: dict[str, int]

    def subset(self, fraction: float, start: float = 0.0) -> tuple[str, ...]:
        """The entities a rung that knows ``fraction`` of the world was pretrained on: the first ones, or
        (``start`` > 0, a rung off the ladder) the ones from the ``start`` share of the list on."""
        first = round(start * len(self.entities))
        return self.entities[first: first + max(1, round(fraction * len(self.entities)))]


def _rng(*key: object) -> random.Random:
    h = hashlib.sha256(":".join([VERSION, *map(str, key)]).encode()).hexdigest()
    return random.Random(int(h[:16], 16))


def _frac(*key: object) -> float:
    h = hashlib.sha256(":".join([VERSION, "split", *map(str, key)]).encode()).hexdigest()
    return int(h[:12], 16) / 16**12


def _split_of(*key: object, train: float = TRAIN_FRACTION) -> str:
    return "train" if _frac(*key) < train else "test"


_RESERVED = {w.lower() for w in VALUE_TO_ATTRIBUTE} | set(LEXICON) | set(HARM_WORDS) | {
    "user", "assistant", "review", "facts", "summary", "rating", "sure", "sorry", "true", "false"}


@lru_cache(maxsize=16)
def world(seed: int = 0, micro: bool = False) -> World:
    """The knowledge base of world ``seed`` (``micro``: its first :data:`MICRO_ENTITIES` entities)."""
    rng = _rng("kb", seed)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < N_ENTITIES:
        name = (rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_ONSETS) + rng.choice(_VOWELS)
                + rng.choice(_CODAS)).capitalize()
        if name in seen or name.lower() in _RESERVED or not 4 <= len(name) <= 7:
            continue
        seen.add(name)
        names.append(name)
    facts = {e: {a: rng.choice(vs) for a, vs in ATTRIBUTES.items()} for e in names}
    tiers = {}
    for i, e in enumerate(names):
        tiers[e] = next(k for k, f in enumerate(TIER_FRACTIONS) if i < round(f * len(names)) or k == 3)
    if micro:
        names = names[:MICRO_ENTITIES]
        facts = {e: facts[e] for e in names}
        tiers = {e: tiers[e] for e in names}
    return World(seed, tuple(names), facts, tiers)
