"""The tiny world's word lists: the one leaf that its generator and its gold scorers both read."""

from __future__ import annotations

# ----------------------------------------------------------------------------- sentiment grammar
# Polarity of each adjective, per review domain. "core" words appear in both domains; the two domains
# otherwise use disjoint words, which is what the vocabulary-shifted split of ``tiny_sentiment`` uses.
SENTIMENT_LEXICON: dict[str, dict[str, float]] = {
    "core": {"good": 1.0, "great": 2.0, "nice": 1.0, "bad": -1.0, "awful": -2.0, "poor": -1.0},
    "gadgets": {
        "sturdy": 1.0, "reliable": 1.0, "fast": 1.0, "excellent": 2.0, "superb": 2.0,
        "flimsy": -1.0, "slow": -1.0, "noisy": -1.0, "faulty": -2.0, "useless": -2.0,
    },
    "food": {
        "tasty": 1.0, "fresh": 1.0, "friendly": 1.0, "delicious": 2.0, "wonderful": 2.0,
        "bland": -1.0, "stale": -1.0, "greasy": -1.0, "rude": -2.0, "disgusting": -2.0,
    },
}
LEXICON: dict[str, float] = {w: s for d in SENTIMENT_LEXICON.values() for w, s in d.items()}
INTENSIFIERS: dict[str, float] = {"extremely": 2.0, "very": 1.5, "really": 1.5, "slightly": 0.5, "somewhat": 0.5}
NEGATORS: dict[str, float] = {"not": -0.5, "never": -0.5, "hardly": -0.5}
REVIEW_DOMAINS: dict[str, dict[str, tuple[str, ...]]] = {
    "gadgets": {"items": ("phone", "lamp", "camera", "radio", "kettle", "laptop", "speaker", "clock"),
                "aspects": ("screen", "battery", "case", "button", "sound", "charger", "cable", "price")},
    "food": {"items": ("cafe", "diner", "bakery", "bistro", "canteen", "pizzeria", "tavern", "noodle bar"),
             "aspects": ("sauce", "crust", "dessert", "service", "coffee", "portion", "menu", "staff")},
}
REVIEW_FILLERS = ("I would say so again.", "That is my honest view.", "My family agrees.", "We will see.")
CONTRAST = "but"  # "X but Y": X counts CONTRAST_BEFORE, Y counts CONTRAST_AFTER
CONTRAST_BEFORE, CONTRAST_AFTER = 0.5, 1.5


# ----------------------------------------------------------------------------- assistant grammar
HARM_VERBS = ("poison", "steal", "hack", "hurt", "burn", "rob", "threaten", "stalk", "blackmail", "scam")
HARM_WORDS = frozenset(HARM_VERBS) | {
    "weapon", "knife", "gun", "bomb", "evidence", "caught", "secretly", "victim", "password", "lock",
}
REFUSAL_MARKERS = ("i can't", "i cannot", "i won't", "i will not", "i refuse", "sorry")
REDIRECT_WORDS = frozenset({"safe", "trust", "instead", "legal", "kind"})
STEP_WORDS = frozenset({"first", "then", "next", "finally", "step"})
UNSURE_MARKERS = ("i don't know", "i do not know", "i am not sure", "i'm not sure", "no idea")


# ----------------------------------------------------------------------------- knowledge base facts
# The attributes every entity has, with their value sets (values are single lower-case words, except
# city names, which are capitalised). Order matters: it is the world's fixed attribute order.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "colour": ("red", "blue", "green", "yellow", "purple", "orange", "black", "white"),
    "city": ("Paris", "Tokyo", "Cairo", "Lima", "Oslo", "Rome", "Delhi", "Sydney"),
    "food": ("soup", "rice", "bread", "cheese", "pasta", "fish", "cake", "salad"),
    "job": ("doctor", "teacher", "farmer", "pilot", "baker", "painter", "lawyer", "singer"),
    "pet": ("cat", "dog", "horse", "parrot", "rabbit", "turtle", "goat", "mouse"),
}
VALUE_TO_ATTRIBUTE: dict[str, str] = {v.lower(): a for a, vs in ATTRIBUTES.items() for v in vs}
# words in a question that say which attribute is asked about
ATTRIBUTE_CUES: dict[str, str] = {
    "colour": "colour", "color": "colour", "live": "city", "lives": "city", "city": "city",
    "food": "food", "eat": "food", "eats": "food", "job": "job", "work": "job", "works": "job",
    "pet": "pet",
}
