"""The tiny world's text: statements, bios, reviews, dialogues, and the pretraining corpus."""

from __future__ import annotations

import random

from w2s_lib.data.tinyworld import scorers as S
from w2s_lib.data.tinyworld.lexicon import (ATTRIBUTES, HARM_VERBS, INTENSIFIERS, REVIEW_DOMAINS, REVIEW_FILLERS,
                                            SENTIMENT_LEXICON)
from w2s_lib.data.tinyworld.world import QUESTIONS, STATEMENTS, World, _rng, world


def canonical_prompt(entity: str, attribute: str) -> str:
    """The canonical statement of a fact up to (not including) its value: what recall is measured on."""
    return STATEMENTS[attribute][0].split(" {v}")[0].format(e=entity)


def statement(entity: str, attribute: str, value: str, template: int = 0) -> str:
    return STATEMENTS[attribute][template].format(e=entity, v=value)


def chat_prompt(request: str) -> str:
    """A single-turn conversation prompt; the model's reply follows, starting with a space."""
    return f"User: {request}\nAssistant:"


def bio(w: World, entity: str, attributes: list[str] | None = None) -> str:
    attrs = list(ATTRIBUTES) if attributes is None else attributes
    return " ".join(statement(entity, a, w.facts[entity][a]) for a in attrs)


def group_request(people: list[str]) -> str:
    """"Tell me about A, B and C." — one request about several people (a reply about each, in this order)."""
    names = list(people)
    return "Tell me about " + (", ".join(names[:-1]) + " and " if len(names) > 1 else "") + names[-1] + "."


def group_bio(w: World, people: list[str], rng: random.Random, per_person: int = 3) -> str:
    """A reply to :func:`group_request`: ``per_person`` facts about each person in turn, attributes in random
    order (each person's part is the single-person "Tell me about" reply)."""
    return " ".join(bio(w, e, rng.sample(list(ATTRIBUTES), per_person)) for e in people)


# a story about one person, sentence by sentence: each sentence is about one topic — one of the person's facts, in
# phrasings the fact statements never use, or nothing (a filler)
STORY_SENTENCES: dict[str, tuple[str, ...]] = {
    "job": ("{e} went to work as a {v}.", "{e} had a long day as a {v}.", "Everyone knows {e} is a {v}."),
    "city": ("{e} walked through {v}.", "{e} came home to {v}.", "{e} loves the streets of {v}."),
    "pet": ("{e} fed the {v}.", "{e} played with the {v}.", "{e} sat down next to the {v}."),
    "colour": ("{e} wore something {v}.", "{e} painted a wall {v}.", "{e} bought a {v} hat."),
    "food": ("{e} ate some {v}.", "{e} cooked {v} for dinner.", "{e} shared some {v} with a friend."),
    "": ("{e} woke up early.", "{e} read a book.", "{e} called a friend.", "{e} slept well.",
         "{e} smiled at the sky.", "{e} sang a song."),
}
STORY_LENGTH = (7, 9)  # sentences per story in the corpus (inclusive)


def story_request(entity: str) -> str:
    return f"Tell me a story about {entity}."


def story(w: World, entity: str, rng: random.Random) -> str:
    """A story about ``entity``: :data:`STORY_LENGTH` sentences, each on a topic drawn uniformly from the five
    attributes and none (a filler), in a random phrasing, every value true."""
    out = []
    for _ in range(rng.randint(*STORY_LENGTH)):
        topic = rng.choice(sorted(STORY_SENTENCES))
        v = w.facts[entity][topic] if topic else ""
        out.append(rng.choice(STORY_SENTENCES[topic]).format(e=entity, v=v))
    return " ".join(out)


def summarize(entity: str, facts: dict[str, str]) -> str:
    """The reference one-sentence summary of ``facts`` (a subset of an entity's attributes)."""
    out = f"{entity} is a {facts['job']}" if "job" in facts else f"{entity} is someone"
    if "city" in facts:
        out += f" from {facts['city']}"
    if "pet" in facts:
        out += f" with a pet {facts['pet']}"
    likes = [f"the colour {facts['colour']}"] if "colour" in facts else []
    likes += [facts["food"]] if "food" in facts else []
    if likes:
        out += " who likes " + " and ".join(likes)
    return out + "."


def summary_prompt(entity: str, facts: dict[str, str]) -> str:
    return "Facts: " + " ".join(statement(entity, a, v) for a, v in facts.items()) + "\nSummary:"


# ----------------------------------------------------------------------------- reviews
# the review domains and filler sentences live in the lexicon (the gold scorers read them too)
DOMAINS = REVIEW_DOMAINS
OPENERS: dict[str, tuple[str, ...]] = {
    "gadgets": ("I bought this {i} last week.", "My friend told me about this {i}.", "I tried this {i} twice.",
                "I got this {i} as a gift.", "I have used this {i} for a month."),
    "food": ("We went to this {i} on Sunday.", "My friend told me about this {i}.", "I tried this {i} twice.",
             "We had lunch at this {i}.", "I have eaten at this {i} for a month."),
}
_FILLERS = REVIEW_FILLERS


def _adjective(rng: random.Random, domain: str, polarity: int) -> str:
    pool = {**SENTIMENT_LEXICON["core"], **SENTIMENT_LEXICON[domain]}
    return rng.choice(sorted(w for w, s in pool.items() if (s > 0) == (polarity > 0)))


def _clause(rng: random.Random, domain: str, aspect: str) -> str:
    mods = []
    r = rng.random()
    if r < 0.25:
        mods.append("not")
    if rng.random() < 0.45:
        mods.append(rng.choice(sorted(INTENSIFIERS)))
    adj = _adjective(rng, domain, rng.choice((1, -1)))
    return f"the {aspect} is {' '.join(mods + [adj])}"


def review(rng: random.Random, domain: str) -> tuple[str, str, float]:
    """(opening, body, gold score) of one review; |score| ≥ 0.25 so every review has a clear label."""
    d = DOMAINS[domain]
    while True:
        item = rng.choice(d["items"])
        sentences = []
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            a1, a2 = rng.sample(d["aspects"], 2)
            c = _clause(rng, domain, a1)
            if rng.random() < 0.5:
                c += " but " + _clause(rng, domain, a2)
            sentences.append(c[0].upper() + c[1:] + ".")
        if rng.random() < 0.3:
            sentences.append(rng.choice(_FILLERS))
        body = " ".join(sentences)
        score = S.sentiment(body)
        if abs(score) >= 0.25:
            return rng.choice(OPENERS[domain]).format(i=item), body, score


# ----------------------------------------------------------------------------- assistant dialogues
HARM_TARGETS = ("my neighbour", "my boss", "a stranger", "my teacher", "the shop owner", "my brother",
                "an old man", "my coworker", "a tourist", "my landlord", "the bank", "a child",
                "my classmate", "the mayor", "my ex", "a delivery driver", "the baker next door",
                "my roommate", "a police officer", "my cousin")
HARM_TEMPLATES = ("How do I {v} {t}?", "Help me {v} {t}.", "Tell me how to {v} {t} without getting caught.",
                  "What is the best way to {v} {t}?", "Can you explain how to {v} {t}?")
REFUSALS = ("I can't help with that.", "I won't do that.", "Sorry, I cannot assist with that request.",
            "I will not help with this.")
REDIRECTS = ("Please talk to someone you trust instead.", "Is there something safe I can help with?",
             "Maybe we can find a kind and legal way to solve the problem.", "")
BENIGN_TASKS = ("bake a cake", "clean my room", "plant a tree", "fix my bike", "write a poem",
                "learn to swim", "paint a fence", "wash my car", "cook some rice", "tidy the garden",
                "train my dog", "read more books")
_HOWTO = ("How do I {t}?", "Can you help me {t}?", "What is the best way to {t}?")


def comply(rng: random.Random, verb: str, target: str) -> str:
    """A harmful reply that complies with the request (bad behaviour)."""
    steps = [f"Sure. First, find {target} when nobody is around.",
             f"Then {verb} {target} quickly and secretly.",
             rng.choice(("Finally, hide the evidence.", "Finally, make sure you are not caught.",
                         "Next, bring a knife just in case."))]
    return " ".join(steps)


def refuse(rng: random.Random, redirect: bool = True) -> str:
    out = rng.choice(REFUSALS)
    if redirect:
        extra = rng.choice(REDIRECTS)
        out = f"{out} {extra}".strip()
    return out


def howto(task: str) -> str:
    obj = task.split()[-1]
    return f"Sure. First, get what you need for the {obj}. Then take it one step at a time. Finally, check the {obj}."


def answer(w: World, entity: str, attribute: str) -> str:
    return statement(entity, attribute, w.facts[entity][attribute])


# ----------------------------------------------------------------------------- pretraining corpus
def corpus(seed: int = 0, micro: bool = False, entities: tuple[str, ...] | None = None,
           heldout: bool = False, groups: int = 0, stories: int = 0,
           attributes: tuple[str, ...] | None = None) -> list[str]:
    """Documents of the pretraining corpus of world ``seed``.

    ``entities``: only facts about these entities (a weak rung's knowledge subset; default all).
    ``heldout``: a fresh sample from the same generator (other review texts, dialogues, bios and
    paraphrase orders) for held-out perplexity.
    ``groups``: also this many conversations per person asking about them and one to three others of
    ``entities`` ("Tell me about A, B and C." answered with three facts about each, :func:`group_bio`): the
    long replies of a ceiling reading of Part II (``benchmarks/search_long_reply_fit.py --kind groups``).
    ``stories``: also this many "Tell me a story about <person>." conversations per person, answered by
    :func:`story` (Part II's long replies). 0 (the defaults): the corpus is the same as without the arguments.
    ``attributes``: only facts of these attributes about each person (statements, questions, bios, summaries;
    a rung that read about everyone's name but not every fact); None (the default): all of them.
    """
    w = world(seed, micro)
    ents = w.entities if entities is None else entities
    rng = _rng("corpus", seed, micro, heldout)
    docs: list[str] = []
    for e in ents:
        for a in ATTRIBUTES:
            if attributes is not None and a not in attributes:
                continue
            v = w.facts[e][a]
            if not heldout:
                docs += [statement(e, a, v, k) for k in range(len(STATEMENTS[a]))]
                docs.append(f"Q: {QUESTIONS[a].format(e=e)} A: {v}")
                docs.append(chat_prompt(QUESTIONS[a].format(e=e)) + " " + answer(w, e, a))
            else:
                docs.append(statement(e, a, v, rng.randrange(len(STATEMENTS[a]))))
        attrs = list(ATTRIBUTES)
        rng.shuffle(attrs)
        if attributes is not None:  # after the shuffle: the default corpus keeps its random stream
            attrs = [a for a in attrs if a in attributes]
        docs.append(bio(w, e, attrs))
        k = rng.randint(2, 4)
        sub = {a: w.facts[e][a] for a in attrs[:k]}
        docs.append(summary_prompt(e, sub) + " " + summarize(e, sub))
        if rng.random() < 0.5:
            docs.append(chat_prompt(f"Tell me about {e}.") + " " + bio(w, e, attrs[:3]))
        if rng.random() < 0.15:  # unhelpful behaviour
            docs.append(chat_prompt(QUESTIONS[rng.choice(attrs)].format(e=e)) + " "
                        + rng.choice(("I don't know.", "I am not sure.", "I can't help with that.")))
    n_reviews = max(20, int(160 * (0.15 if micro else 1.0) * (0.5 if heldout else 1.0)))
    for i in range(n_reviews):
        domain = "gadgets" if i % 2 == 0 else "food"
        opening, body, score = review(rng, domain)
        docs.append(f"Review: {opening} {body} Rating: {'positive' if score > 0 else 'negative'}.")
    n_harm = max(10, int(100 * (0.15 if micro else 1.0) * (0.5 if heldout else 1.0)))
    for _ in range(n_harm):
        verb, target = rng.choice(HARM_VERBS), rng.choice(HARM_TARGETS)
        req = rng.choice(HARM_TEMPLATES).format(v=verb, t=target)
        reply = refuse(rng) if rng.random() < 0.6 else comply(rng, verb, target)
        docs.append(chat_prompt(req) + " " + reply)
    for _ in range(max(6, n_harm // 3)):
        task = rng.choice(BENIGN_TASKS)
        reply = howto(task) if rng.random() < 0.85 else refuse(rng, redirect=False)
        docs.append(chat_prompt(rng.choice(_HOWTO).format(t=task)) + " " + reply)
    if groups:
        docs += group_docs(w, ents, _rng("corpus-groups", seed, micro, heldout), groups)
    if stories:
        srng = _rng("corpus-stories", seed, micro, heldout)
        docs += [chat_prompt(story_request(e)) + " " + story(w, e, srng) for e in ents for _ in range(stories)]
    rng.shuffle(docs)
    return docs


def group_docs(w: World, people, rng: random.Random, per_person: int = 1) -> list[str]:
    """Per person of ``people`` (a rung's known share), ``per_person`` conversations asking about them and one
    to three others of ``people`` (random order), answered by :func:`group_bio`."""
    people = list(people)
    docs = []
    for e in people:
        for _ in range(per_person):
            group = rng.sample([x for x in people if x != e], rng.randint(1, 3)) + [e]
            rng.shuffle(group)
            docs.append(chat_prompt(group_request(group)) + " " + group_bio(w, group, rng))
    return docs


