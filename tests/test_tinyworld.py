"""The tiny world's generator and its registered datasets."""

import pytest

from w2s_lib.data import COLUMNS, get_spec, load
from w2s_lib.data.tinyworld import scorers as S
from w2s_lib.data import tinyworld as T
from w2s_lib.data.tinyworld.tasks import POLARITY_MARGIN

TINY = ["tiny_facts", "tiny_sentiment", "tiny_polarity", "tiny_helpful", "tiny_harmless", "tiny_safety", "tiny_reviews",
        "tiny_summaries", "tiny_instructions"]


def test_world_is_deterministic_and_seed_dependent():
    a, b = T.world(0), T.world(0)
    assert a.entities == b.entities and a.facts == b.facts
    T.world.cache_clear()
    assert T.world(0).facts == a.facts  # not only the cache
    assert T.world(1).entities != a.entities
    assert len(set(a.entities)) == T.N_ENTITIES
    assert T.world(0, micro=True).entities == a.entities[: T.MICRO_ENTITIES]
    assert not set(a.entities) & {v for vs in S.ATTRIBUTES.values() for v in vs}


def test_tiers_follow_the_fractions():
    w = T.world(0)
    counts = [sum(1 for e in w.entities if w.tiers[e] <= k) for k in range(4)]
    assert counts == [round(f * T.N_ENTITIES) for f in T.TIER_FRACTIONS]
    assert w.subset(T.TIER_FRACTIONS[1]) == tuple(e for e in w.entities if w.tiers[e] <= 1)


def test_corpus_deterministic_and_has_good_and_bad_behaviour():
    docs = T.corpus(0)
    assert docs == T.corpus(0)
    text = "\n".join(docs)
    assert "Rating: positive" in text and "Rating: negative" in text
    harmful = [d for d in docs if d.startswith("User:") and S.is_harmful_request(d)]
    refused = [d for d in harmful if S.is_refusal(d.split("Assistant:")[1])]
    assert 0.3 < len(refused) / len(harmful) < 0.9  # both refusing and complying
    assert any("I don't know." in d or "I am not sure." in d for d in docs)  # unhelpful replies
    w = T.world(0)
    e = w.entities[-1]
    assert T.statement(e, "city", w.facts[e]["city"]) in docs
    # a weak rung's corpus leaves out the facts of entities it does not know
    sub = T.corpus(0, entities=w.entities[:10])
    assert not any(e in d for d in sub)
    assert T.corpus(0, heldout=True) != docs


def test_a_corpus_can_hold_only_some_attributes_of_its_people():
    """``attributes``: every person's name and the chosen facts, none of the others (statements, questions,
    bios, summaries); the default corpus is unchanged by the argument."""
    from w2s_lib.data.tinyworld.world import QUESTIONS, STATEMENTS

    w = T.world(0, True)
    people = w.entities[:5]
    assert T.corpus(0, True, entities=people) == T.corpus(0, True, entities=people, attributes=None)
    part = "\n".join(T.corpus(0, True, entities=people, attributes=("job", "pet")))
    for e in people:
        assert e in part
        for a, v in w.facts[e].items():
            said = [t.format(e=e, v=v) for t in STATEMENTS[a]] + [QUESTIONS[a].format(e=e)]
            assert any(x in part for x in said) == (a in ("job", "pet")), (e, a)


@pytest.mark.parametrize("name", TINY)
def test_registered_with_standard_columns(name):
    spec = get_spec(name)
    assert spec.offline
    ds = load(name, "train", n=50)
    assert len(ds) == 50
    assert list(ds.column_names[: len(COLUMNS[spec.task])]) == list(COLUMNS[spec.task])
    assert len(set(ds["id"])) == 50


@pytest.mark.parametrize("name", TINY)
def test_splits_disjoint_and_deterministic(name):
    spec = get_spec(name)
    key = {"classification": "text", "preference": "prompt", "prompts": "prompt", "summarization": "prompt"}[spec.task]
    train, test = spec.loader("train", 0), spec.loader("test", 0)
    assert len(train) > 0 and len(test) > 0
    assert not set(train[key]) & set(test[key])
    assert spec.loader("train", 0)[key] == train[key]


def test_facts_balanced_and_labels_exact():
    ds = T.load_tiny_facts("train", 0)
    w = T.world(0)
    assert 0.45 < sum(ds["label"]) / len(ds) < 0.55
    assert len(ds) > 1500
    for r in ds.select(range(100)):
        assert r["label"] == int(w.facts[r["entity"]][r["attribute"]] == r["value"])
        assert r["soft_label"] == float(r["label"])
        assert r["value"] in r["text"]
    # facts (entity, attribute) never cross the split
    test = T.load_tiny_facts("test", 0)
    assert not set(zip(ds["entity"], ds["attribute"])) & set(zip(test["entity"], test["attribute"]))


def test_sentiment_balanced_hard_and_shiftable():
    ds = T.load_tiny_sentiment("train", 0)
    assert len(ds) == 4000 and 0.4 < sum(ds["label"]) / len(ds) < 0.6
    assert set(ds["domain"]) == {"gadgets", "food"}
    texts = " ".join(ds["text"]).lower()
    for w in (" not ", " but ", " very ", " slightly "):
        assert w in texts
    # the vocabulary shift: each domain has sentiment words the other never uses
    food_only = set(T.lexicon.SENTIMENT_LEXICON["food"])
    gad = " ".join(t for t, d in zip(ds["text"], ds["domain"]) if d == "gadgets").lower().split()
    assert not food_only & set(gad)


def test_polarity_keeps_only_clear_reviews_and_the_shift():
    train, test = T.load_tiny_polarity("train", 0), T.load_tiny_polarity("test", 0)
    assert len(train) == 4000 and len(test) == 1000 and 0.4 < sum(train["label"]) / len(train) < 0.6
    assert min(abs(s) for s in list(train["score"]) + list(test["score"])) >= POLARITY_MARGIN
    assert all(int(s > 0) == y for s, y in zip(train["score"], train["label"]))
    assert not set(train["text"]) & set(test["text"])
    food_only = set(T.lexicon.SENTIMENT_LEXICON["food"])
    gad = " ".join(t for t, d in zip(train["text"], train["domain"]) if d == "gadgets").lower().split()
    assert not food_only & set(gad)
    # tiny_sentiment itself is unchanged by the margin option
    assert T.sentiment_rows(0, "test")[:5] == T.sentiment_rows(0, "test", margin=0.0)[:5]


def test_preference_sets_are_gold_ordered():
    for load_fn, scorer in ((T.load_tiny_helpful, S.helpfulness), (T.load_tiny_harmless, S.harmlessness),
                            (T.load_tiny_safety, S.harmlessness)):
        ds = load_fn("test", 0)
        for r in ds.select(range(60)):
            assert scorer(r["prompt"], r["chosen"]) > scorer(r["prompt"], r["rejected"])
            assert r["prompt"].endswith("Assistant:") and r["chosen"].startswith(" ")
    safety = T.load_tiny_safety("train", 0)
    assert any(safety["is_chosen_safe"]) and not all(safety["is_rejected_safe"])
    assert {True, False} <= set(T.load_tiny_harmless("train", 0)["harmful"])


def test_summaries_and_instructions_gold():
    s = T.load_tiny_summaries("test", 0)
    for r in s.select(range(20)):
        assert S.summary_faithfulness(r["prompt"], r["reference"]) == pytest.approx(1.0)
    ins = T.load_tiny_instructions("test", 0)
    assert set(ins["kind"]) == {"fact", "about", "howto"}
    for r in ins.select(range(40)):
        assert S.helpfulness(r["prompt"], r["answer"]) == pytest.approx(1.0)


def test_review_prompts_are_neutral():
    ds = T.load_tiny_reviews("test", 0)
    assert len(ds) > 100
    assert all(S.sentiment(p) == 0.0 for p in ds["prompt"])
    assert set(ds["domain"]) == {"gadgets", "food"}
