"""Part II's long-response task (``tiny_bios``) and its gold (``scorers.bio_facts``): hand-checkable cases."""

import pytest

from w2s_lib.data.tinyworld import scorers as S
from w2s_lib.data.tinyworld.lexicon import ATTRIBUTES
from w2s_lib.data.tinyworld.text import chat_prompt, statement
from w2s_lib.data.tinyworld.world import world


def _person():
    w = world(0)
    e = w.entities[0]
    return e, w.facts[e]


def _wrong(attribute, value):
    return next(v for v in ATTRIBUTES[attribute] if v != value)


def test_bio_facts_counts_open_attributes_only():
    e, f = _person()
    head = chat_prompt(f"Tell me about {e}.")
    given = f"{head} {statement(e, 'city', f['city'])}"  # city given: 4 open attributes
    # two right open facts, the given one restated (earns nothing): 2 / 4
    reply = f" {statement(e, 'job', f['job'])} {statement(e, 'pet', f['pet'])} {statement(e, 'city', f['city'])}"
    assert S.bio_facts(given, reply) == pytest.approx(2 / 4)
    # one wrong colour costs one right fact: (2 − 1) / 4
    bad = reply + f" {statement(e, 'colour', _wrong('colour', f['colour']))}"
    assert S.bio_facts(given, bad) == pytest.approx(1 / 4)
    # all five right on a bare prompt: 5 / 5; nothing said: 0
    full = " " + " ".join(statement(e, a, f[a]) for a in ATTRIBUTES)
    assert S.bio_facts(head, full) == pytest.approx(1.0)
    assert S.bio_facts(head, "") == 0.0
    # clipped at −1; no entity in the user turn: 0
    wrong_all = " " + " ".join(statement(e, a, _wrong(a, f[a])) for a in ATTRIBUTES)
    assert S.bio_facts(head, wrong_all + wrong_all.replace(e, e)) == pytest.approx(-1.0)
    assert S.bio_facts(chat_prompt("Tell me about nobody."), full) == 0.0
    # a true value in a sentence about someone else is a claim about someone else: wrong, (1 − 1) / 5
    other = world(0).entities[1]
    assert S.bio_facts(head, f" {statement(e, 'job', f['job'])} {statement(other, 'pet', f['pet'])}") == 0.0


def test_bio_facts_matches_helpfulness_on_a_bare_prompt():
    e, f = _person()
    head = chat_prompt(f"Tell me about {e}.")
    reply = f" {statement(e, 'job', f['job'])} {statement(e, 'food', _wrong('food', f['food']))}"
    assert S.bio_facts(head, reply) == pytest.approx(S.helpfulness(head, reply)) == pytest.approx(0.0)


def test_tiny_bios_splits_share_no_person_and_prompts_are_well_formed():
    from w2s_lib import data

    train, test = data.load("tiny_bios", "train", seed=0), data.load("tiny_bios", "test", seed=0)
    assert not (set(train["entity"]) | set(train["context"])) & (set(test["entity"]) | set(test["context"]) - {""})
    assert len(test) >= 240  # the claim's 200 prompts and held-out diagnostics after them
    for row in test.select(range(20)):
        assert row["prompt"].endswith(f"User: Tell me about {row['entity']}.\nAssistant:")
        assert (row["context"] == "") == (row["prompt"].count("User:") == 1)
        # the earlier turn states another person's facts: it earns the reply nothing
        assert S.bio_facts(row["prompt"], row["prompt"].rsplit("User:", 1)[0]) <= 0.0


def test_tiny_golds_read_the_current_world(monkeypatch):
    """The search's helpfulness and bio golds judge facts against the generated world in use
    (``W2S_WORLD_SEED``), not world 0's: a correct answer about a world-1 person scores full marks there."""
    from w2s_lib.data.tinyworld.text import answer
    from w2s_lib.data.tinyworld.world import QUESTIONS
    from w2s_lib.search.experiment import gold_reward

    monkeypatch.setenv("W2S_WORLD_SEED", "1")
    w = world(1)
    e = next(x for x in w.entities if x not in world(0).facts)  # a person only world 1 has
    prompt = chat_prompt(QUESTIONS["job"].format(e=e))
    assert gold_reward("helpfulness")(prompt, " " + answer(w, e, "job")) == pytest.approx(1.0)
    reply = " " + " ".join(statement(e, a, w.facts[e][a]) for a in ("job", "city", "pet"))
    assert gold_reward("bio_wanted")(chat_prompt(f"Tell me about {e}."), reply) == pytest.approx(1.0)
