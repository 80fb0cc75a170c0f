"""Part II's long-response tasks (``tiny_bios``, ``tiny_bios_groups``, ``tiny_stories``) and their golds
(``scorers.bio_facts``, ``scorers.story_wanted``): hand-checkable cases."""

import pytest

from w2s_lib.data.tinyworld import scorers as S
from w2s_lib.data.tinyworld.lexicon import ATTRIBUTES
from w2s_lib.data.tinyworld.text import chat_prompt, group_request, statement
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


def test_bio_facts_scores_every_person_of_a_group_request():
    """"Tell me about A and B.": each sentence's values count for the first requested person it names; a value said
    of someone not requested is wrong; the open pairs are every person's wanted attributes."""
    w = world(0)
    a, b, c = w.entities[:3]
    head = chat_prompt(f"Tell me about {a} and {b}.")
    assert head == chat_prompt(group_request([a, b]))
    wanted = ("job", "city", "pet")
    right = lambda e, attr: statement(e, attr, w.facts[e][attr])  # noqa: E731
    # a's job and city, b's pet: 3 of 6 open pairs
    reply = f" {right(a, 'job')} {right(a, 'city')} {right(b, 'pet')}"
    assert S.bio_facts(head, reply, wanted=wanted) == pytest.approx(3 / 6)
    # b's true job said of a is a wrong value for a (unless they share it), not a right one for b
    swapped = f" {statement(a, 'job', w.facts[b]['job'])}"
    expected = 0.0 if w.facts[a]["job"] == w.facts[b]["job"] else -1 / 6
    assert S.bio_facts(head, reply + swapped, wanted=wanted) == pytest.approx(3 / 6 + expected)
    # c was not asked about: their (true) fact is a value said of someone else, wrong
    assert S.bio_facts(head, reply + f" {right(c, 'pet')}", wanted=wanted) == pytest.approx(2 / 6)
    # everything wanted about both: 6 / 6; one person's reply scores 1 for a one-person request
    full = " " + " ".join(right(e, attr) for e in (a, b) for attr in wanted)
    assert S.bio_facts(head, full, wanted=wanted) == pytest.approx(1.0)
    assert S.bio_facts(chat_prompt(f"Tell me about {a}."), full, wanted=wanted) == pytest.approx((3 - 3) / 3)


def test_group_corpus_docs_only_with_groups_and_only_about_known_people():
    import random

    from w2s_lib.data.tinyworld.text import corpus, group_bio, group_docs

    w = world(0, micro=True)
    known = w.entities[:6]
    plain = corpus(0, micro=True, entities=known)
    with_groups = corpus(0, micro=True, entities=known, groups=2)
    extra = sorted(set(with_groups) - set(plain))
    assert sorted(plain) == sorted(corpus(0, micro=True, entities=known, groups=0))
    assert extra and len(with_groups) == len(plain) + len(group_docs(w, known, random.Random(0), 2))
    for doc in extra:
        request, reply = doc.split("\nAssistant: ")
        people = [e for e in w.entities if e in request]
        assert 2 <= len(people) <= 4 and set(people) <= set(known)
        assert S.n_sentences(reply) == 3 * len(people)  # three true facts about each
        assert S.bio_facts(request + "\nAssistant:", " " + reply) >= 0.6 - 1e-9
    assert group_bio(w, known[:2], random.Random(1)).count(".") == 6


def test_tiny_bios_groups_splits_share_no_person():
    from w2s_lib import data
    from w2s_lib.data.tinyworld.tasks import BIOS_GROUP_SIZE

    train, test = data.load("tiny_bios_groups", "train", seed=0), data.load("tiny_bios_groups", "test", seed=0)
    single = {s: set(data.load("tiny_bios", s, seed=0)["entity"]) for s in ("train", "test")}
    assert len(test) >= 400 and len(train) >= 640  # the claim's prompts, held-out readings 200-399, the pair's tuning
    for split, rows in (("train", train), ("test", test)):
        assert len(set(rows["prompt"])) == len(rows)
        assert {e for ppl in rows["people"] for e in ppl} <= single[split]
        for row in rows.select(range(10)):
            assert len(set(row["people"])) == BIOS_GROUP_SIZE
            assert row["prompt"] == chat_prompt(group_request(row["people"]))


def test_story_wanted_counts_true_sentences_about_wanted_facts():
    """A story earns one per sentence that names the person and states their job, city or pet truly; a wrong value
    or a value said of someone else costs one; colour, food and fillers earn nothing; over STORY_TARGET, clipped."""
    from w2s_lib.data.tinyworld.text import STORY_SENTENCES, story_request

    w = world(0)
    e, other = w.entities[0], w.entities[1]
    f = w.facts[e]
    head = chat_prompt(story_request(e))
    say = lambda topic, value, k=0, who=e: STORY_SENTENCES[topic][k].format(e=who, v=value)  # noqa: E731
    n = S.STORY_TARGET
    two_wanted = f" {say('job', f['job'])} {say('pet', f['pet'], 1)} {say('food', f['food'])} {say('', '', 2)}"
    assert S.story_wanted(head, two_wanted) == pytest.approx(2 / n)
    # repeating a wanted fact in another sentence earns again (a story may dwell on the pet)
    assert S.story_wanted(head, two_wanted + f" {say('pet', f['pet'], 2)}") == pytest.approx(3 / n)
    # a wrong city costs one; a true value said of another person costs one
    assert S.story_wanted(head, two_wanted + f" {say('city', _wrong('city', f['city']))}") == pytest.approx(1 / n)
    assert S.story_wanted(head, two_wanted + f" {say('city', f['city'], who=other)}") == pytest.approx(1 / n)
    # clipped at 1; no person named in the request: 0
    many = " " + " ".join(say("job", f["job"], k % 3) for k in range(n + 3))
    assert S.story_wanted(head, many) == pytest.approx(1.0)
    assert S.story_wanted(chat_prompt("Tell me a story."), many) == 0.0


def test_tiny_stories_are_tiny_bios_rows_asking_for_a_story():
    from w2s_lib import data
    from w2s_lib.data.tinyworld.text import story_request

    for split in ("train", "test"):
        bios, stories = data.load("tiny_bios", split, seed=0), data.load("tiny_stories", split, seed=0)
        assert len(stories) == len(bios) and stories["entity"] == bios["entity"]
        for b, s in zip(bios.select(range(20)), stories.select(range(20))):
            assert s["prompt"].endswith(chat_prompt(story_request(s["entity"])))
            assert s["prompt"].rsplit("User:", 1)[0] == b["prompt"].rsplit("User:", 1)[0]  # the same earlier turn
