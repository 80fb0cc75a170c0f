"""The tiny world: a generated universe with exact gold answers, the offline default of every chapter.

Deterministic by (world seed, :data:`VERSION`). One world holds

- a **knowledge base**: :data:`N_ENTITIES` invented people (two-syllable names that the world's BPE
  tokenizer learns as one token each) with five attributes (colour, city, food, job, pet), each drawn from
  eight values (:data:`~w2s_lib.data.tinyworld.lexicon.ATTRIBUTES`). Entity order is random per seed; an entity's
  **tier** (0–3) is its position in that order cut at :data:`TIER_FRACTIONS`, and rung *k* of the tiny
  GPT ladder is pretrained on the facts of tiers ≤ *k* only (the weak models' explicit knowledge gap);
- a **pretraining corpus** (:func:`corpus`): facts in several paraphrases, Q/A lines, short bios,
  fact summaries, product and restaurant reviews with a rating, and assistant dialogues with benign and
  harmful requests answered both well (correct / refusing harm) and badly (unsure, over-refusing,
  complying with harm), so models can later be steered either way;
- **task datasets** registered under ``tiny_*`` names (see the registrations at the bottom), with
  train/test splits that share no fact, entity, request or review text;
- **exact gold scorers** in :mod:`w2s_lib.data.tinyworld.scorers`, written against the same grammar.

Conversation format everywhere: ``"User: <request>\\nAssistant:"`` and a reply that starts with a space.

Modules, leaf first: ``lexicon`` (word lists) → ``world`` (knowledge base) → ``scorers`` (gold
judges) → ``text`` (grammar, corpus) → ``tasks`` (registered datasets); this package re-exports their names.
"""

from w2s_lib.data.tinyworld import lexicon, scorers  # noqa: F401
from w2s_lib.data.tinyworld.world import (  # noqa: F401
    MICRO_ENTITIES,
    N_ENTITIES,
    QUESTIONS,
    STATEMENTS,
    TIER_FRACTIONS,
    TRAIN_FRACTION,
    VERSION,
    WORLD_SEED_ENV,
    World,
    _CODAS,
    _ONSETS,
    _RESERVED,
    _VOWELS,
    _frac,
    _rng,
    _split_of,
    current_world_seed,
    world,
)
from w2s_lib.data.tinyworld.text import (  # noqa: F401
    BENIGN_TASKS,
    DOMAINS,
    HARM_TARGETS,
    HARM_TEMPLATES,
    OPENERS,
    REDIRECTS,
    REFUSALS,
    _FILLERS,
    _HOWTO,
    _adjective,
    _clause,
    answer,
    bio,
    canonical_prompt,
    chat_prompt,
    comply,
    corpus,
    group_bio,
    group_docs,
    group_request,
    howto,
    refuse,
    review,
    statement,
    story,
    story_request,
    summarize,
    summary_prompt,
)
from w2s_lib.data.tinyworld.tasks import (  # noqa: F401
    RUMOUR8_WRONG,
    RUMOUR_TEMPLATES,
    _PREF,
    _benign_requests,
    _check_split,
    _ds,
    _fact_pairs,
    _requests,
    _scored,
    _sentiment_texts,
    _split_facts,
    facts_rows,
    harmless_rows,
    helpful_rows,
    load_tiny_facts,
    load_tiny_harmless,
    load_tiny_helpful,
    load_tiny_instructions,
    load_tiny_reviews,
    load_tiny_rumours,
    load_tiny_rumours8,
    load_tiny_safety,
    load_tiny_polarity,
    load_tiny_sentiment,
    load_tiny_summaries,
    load_tiny_bios,
    load_tiny_bios_groups,
    load_tiny_stories,
    rumour8_rows,
    rumour_rows,
    safety_rows,
    sentiment_rows,
)
