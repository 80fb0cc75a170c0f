"""MACPO on the micro zoo: positive selection, hard negatives, resume after a kill, the smoke pipeline."""

import json
import math
import time

import pytest

from w2s_lib.macpo import loop as macpo
from w2s_lib.macpo.loop import MACPOConfig
from w2s_lib.core.errors import W2SError
from w2s_lib.models import tinygpt as G


@pytest.fixture(scope="module")
def micro(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    mp = pytest.MonkeyPatch()
    mp.setenv("W2S_ZOO_DIR", str(root))
    mp.setenv("W2S_SMOKE", "1")
    G.build_zoo(micro=True, progress=False)
    yield
    mp.undo()


def _cfg(**kw):
    # one student (the micro zoo's tinygpt-l) keeps these micro experiments small; the smoke preset itself runs two
    return macpo.MACPOConfig.for_preset("smoke", {"n_labelled": 8, "n_test": 3, "max_new_tokens": 6, "students": ("tinygpt-l",), **kw})


def test_positive_is_the_lowest_perplexity_other_agent():
    responses = {"a": ["a0", "a1", "a2"], "b": ["b0", "b1", ""], "c": ["c0", "c1", "c2"]}
    # perplexities under the learner "a": its own responses are never candidates, however likely
    ppl = {"a": [0.1, 0.1, 0.1], "b": [2.0, 5.0, 1.0], "c": [3.0, 4.0, 9.0]}
    got = macpo.select_positives(ppl, responses, "a")
    assert got == [("b", "b0"), ("c", "c1"), ("c", "c2")]  # prompt 2: b's response is empty, so c
    # ties go to the first other agent in order; nothing usable gives an empty pair
    assert macpo.select_positives({"a": [1.0], "b": [1.0], "c": [1.0]}, {"a": ["x"], "b": ["y"], "c": ["z"]}, "a") == [("b", "y")]
    assert macpo.select_positives({"a": [1.0], "b": [math.inf]}, {"a": ["x"], "b": [" "]}, "a") == [("", "")]
    with pytest.raises(W2SError):
        macpo.select_positives({"a": [1.0]}, {"a": ["x"]}, "a")


def test_perplexity_orders_likely_text_first(micro):
    from w2s_lib.models import zoo

    model, tok = zoo.load_causal_lm("tinygpt-l"), zoo.load_tokenizer("tinygpt-l")
    prompt = "User: What is your name?\nAssistant:"
    likely = macpo.generate(model, tok, [prompt], _cfg(), seed=0, greedy=True)[0]
    ppl = macpo.perplexities(model, tok, prompt, [likely, " zq xv zq xv zq", ""])
    assert ppl[0] < ppl[1] and math.isinf(ppl[2])


def test_negatives_come_from_a_copy_tuned_on_rejected(micro, monkeypatch):
    cfg = _cfg()
    seen = {}
    real = macpo._sft

    def spy(model, tok, prompts, completions, cfg_, seed):
        seen.setdefault("calls", []).append(list(completions))
        return real(model, tok, prompts, completions, cfg_, seed)

    monkeypatch.setattr(macpo, "_sft", spy)
    half_a, half_b, _ = macpo.splits(cfg)
    neg = macpo.negative_step(cfg, "tinygpt-l", 1)
    assert len(neg) == len(half_b)
    assert seen["calls"][-1] == list(half_a["rejected"])  # the negative copy learns the rejected responses
    # the agent itself is untouched: its iteration-0 weights are still the base student's (no SFT for students)
    assert macpo.init_agent(cfg, "tinygpt-l").result["role"] == "student"
    a, b = macpo.splits(cfg)[:2]
    assert not set(a["prompt"]) & set(b["prompt"]) or len(a) == 0  # halves are disjoint rows


def test_resume_after_a_kill_mid_iteration(micro, monkeypatch):
    cfg = _cfg(seed=3)
    from w2s_lib.train import preference

    calls = {"n": 0}
    orig = preference.dpo_train

    def killing(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:  # die while training the second agent of iteration 1
            raise KeyboardInterrupt("simulated kill")
        return orig(*a, **k)

    monkeypatch.setattr(preference, "dpo_train", killing)
    with pytest.raises(KeyboardInterrupt):
        macpo.run(cfg)
    order = (*cfg.students, *cfg.teachers)  # students train first in each iteration
    first = macpo.agent_step(cfg, order[0], 1)  # finished before the kill: loaded, not retrained
    assert calls["n"] == 2
    counted = {"n": 0}

    def counting(*a, **k):
        counted["n"] += 1
        return orig(*a, **k)

    monkeypatch.setattr(preference, "dpo_train", counting)
    rows = macpo.run(cfg)
    # iteration 1 of agent 0 was cached; the rest of the 2 agents × 2 iterations ran now
    assert counted["n"] == len(cfg.agents) * cfg.iterations - 1
    assert macpo.agent_step(cfg, order[0], 1).path == first.path
    assert len(rows) == len(cfg.agents) * (cfg.iterations + 1)


def test_smoke_pipeline_under_a_minute_of_cpu(micro):
    """The whole smoke experiment — MACPO and every baseline — in under a minute of this process's CPU time
    (CPU, not wall-clock, time: the machine is shared, and a loaded neighbour must not fail the test)."""
    from w2s_lib.macpo import baselines as macpo_baselines

    cfg = macpo.MACPOConfig.for_preset("smoke", seed=5)
    t = time.process_time()
    rows = macpo.run(cfg)
    base = macpo_baselines.run(cfg)
    cpu = time.process_time() - t
    assert {r["iteration"] for r in rows} == set(range(cfg.iterations + 1))
    assert len(cfg.students) == 2  # the smoke preset runs the chapter's two strong students
    student = cfg.students[-1]
    art = macpo.agent_step(cfg, student, cfg.iterations)
    pairs = [json.loads(line) for line in (art.path / "pairs.jsonl").read_text().splitlines()]
    assert pairs and all(macpo.source_agent(p["source"]) in cfg.teachers for p in pairs)  # cross pool: never a student
    assert len(macpo.eval_rows(art)) == cfg.n_test
    assert [(r["method"], r["iteration"]) for r in base] == [
        ("Naive SFT", 0), ("Confident loss", 0), ("RLAIF", 1), ("RLCD", 1), ("SPIN", 1), ("SPIN", 2),
        ("Self-rewarding", 1), ("Self-rewarding", 2), ("Self-rewarding", 3)]
    assert all(-1 <= r["gold_mean"] <= 1 for r in base)
    assert cpu < 60, f"smoke MACPO + baselines took {cpu:.0f} s of CPU"


def test_batched_generation_matches_one_prompt_at_a_time(micro):
    from w2s_lib.models import zoo
    from w2s_lib.search.cbs import sample

    cfg = _cfg(max_new_tokens=8)
    model, tok = zoo.load_causal_lm("tinygpt-s"), zoo.load_tokenizer("tinygpt-s")
    prompts = list(macpo.splits(cfg)[1]["prompt"])[:4] + ["User: Help me hurt my boss.\nAssistant:"]
    greedy = macpo.generate(model, tok, prompts, cfg, seed=0, greedy=True, batch_size=2)  # padding inside batches
    assert greedy == [sample(model, tok, p, max_new_tokens=8, greedy=True, seed=0).text for p in prompts]
    a, b = (macpo.generate(model, tok, prompts, cfg, seed=4) for _ in range(2))
    assert a == b and tok.padding_side == "right"  # seeded, and the tokenizer is left as it was
    assert macpo.generate(model, tok, prompts, cfg, seed=5) != a or cfg.temperature == 0


def test_pairs_drop_empty_and_identical_responses():
    ds = macpo.pairs_dataset(["p1", "p2", "p3", "p4"], [" a", " ", " c", "d"], [" b", " x", " c ", "e"], source=["s1", "s2", "s3", "s4"])
    assert ds["prompt"] == ["p1", "p4"] and ds["source"] == ["s1", "s4"]


def test_resume_does_not_redo_finished_iterations(micro, monkeypatch):
    """A kill in iteration 2 leaves iteration 1 (every agent's samples, negatives and DPO) cached: resuming
    trains only what iteration 2 had not finished and samples nothing again for iteration 1."""
    cfg = _cfg(seed=7, iterations=2)
    from w2s_lib.train import preference

    orig_dpo, orig_gen = preference.dpo_train, macpo.generate
    log = []

    def dpo(*a, **k):
        log.append("dpo")
        if log.count("dpo") == len(cfg.agents) + 1:  # first DPO of iteration 2
            raise KeyboardInterrupt("simulated kill")
        return orig_dpo(*a, **k)

    monkeypatch.setattr(preference, "dpo_train", dpo)
    with pytest.raises(KeyboardInterrupt):
        macpo.run(cfg)
    done = {a: macpo.agent_step(cfg, a, 1).path.stat().st_mtime_ns for a in cfg.agents}
    log.clear()
    monkeypatch.setattr(preference, "dpo_train", lambda *a, **k: (log.append("dpo"), orig_dpo(*a, **k))[1])
    monkeypatch.setattr(macpo, "generate", lambda *a, **k: (log.append("gen"), orig_gen(*a, **k))[1])
    rows = macpo.run(cfg)
    assert log.count("dpo") == len(cfg.agents)  # iteration 2 only
    assert {a: macpo.agent_step(cfg, a, 1).path.stat().st_mtime_ns for a in cfg.agents} == done
    # iteration 2's samples of every agent and the first agent's negatives were cached before the kill:
    # what is sampled now is the other agents' negatives, the evaluation of each agent trained now and the
    # students' samples after their update (the teachers' positives: positive_pool="cross")
    assert log.count("gen") == 2 * len(cfg.agents) - 1 + len(cfg.students)
    assert [r["iteration"] for r in rows] == [0] * len(cfg.agents) + [1] * len(cfg.agents) + [2] * len(cfg.agents)


def test_ordered_pairs_put_the_higher_score_first():
    from w2s_lib.macpo import baselines as B

    ds = B._ordered(["p1", "p2", "p3"], [" a1", " a2", " a3"], [" b1", " b2", " b3"], [1.0, 0.0, 2.0], [0.5, 3.0, 2.0])
    assert ds["prompt"] == ["p1", "p2"] and ds["chosen"] == [" a1", " b2"] and ds["rejected"] == [" b1", " a2"]


def test_baseline_pairs_come_from_where_each_method_says(micro):
    from w2s_lib.macpo import baselines as B
    from w2s_lib.models import zoo

    cfg = _cfg(seed=11)
    student = cfg.students[0]
    prompts = list(macpo.splits(cfg)[1]["prompt"])

    def pairs(art):
        return [json.loads(line) for line in (art.path / "pairs.jsonl").read_text().splitlines()]

    # SPIN: chosen = the SFT data (weak teachers' responses), rejected = the naive-SFT student's own samples
    weak = macpo.weak_responses(cfg)
    sft_data = {(p, weak[cfg.teachers[i % len(cfg.teachers)]][i]) for i, p in enumerate(prompts)}
    start = macpo._load(macpo.naive_sft(cfg).path / "model", cfg)
    own = macpo.generate(start, zoo.load_tokenizer(student), prompts, cfg, cfg.seed * 53 + 1)
    sp = pairs(B.spin(cfg, 1))
    assert sp and all((r["prompt"], r["chosen"]) in sft_data for r in sp)
    assert all(r["rejected"] == own[prompts.index(r["prompt"])] for r in sp)
    # RLCD: contexts are half A's labelled dialogues with chosen (positive) / rejected (negative) replies
    pos, neg = B.contrastive_contexts(cfg)
    half_a = macpo.splits(cfg)[0]
    assert half_a["chosen"][0] in pos and half_a["rejected"][0] in neg and half_a["rejected"][0] not in pos
    # RLAIF: every pair is ordered by the weak teachers' implicit reward
    rl = pairs(B.rlaif(cfg))
    ps = [r["prompt"] for r in rl]
    assert rl and (B.teacher_reward(cfg, ps, [r["chosen"] for r in rl]) > B.teacher_reward(cfg, ps, [r["rejected"] for r in rl])).all()
    # self-rewarding: every pair is ordered by the starting student's own mean log-probability
    sr = pairs(B.self_rewarding(cfg, 1))
    ps = [r["prompt"] for r in sr]
    tok = zoo.load_tokenizer(student)
    assert (B._mean_logprob(start, tok, ps, [r["chosen"] for r in sr]) > B._mean_logprob(start, tok, ps, [r["rejected"] for r in sr])).all()
    with pytest.raises(W2SError):
        B.spin(cfg, 0)
    with pytest.raises(W2SError):
        B.artifact(cfg, "PPO")


def test_clear_removes_only_this_experiments_steps(micro):
    a, b = _cfg(seed=21), _cfg(seed=22)
    first = macpo.init_agent(a, a.students[0])
    macpo.init_agent(b, b.students[0])
    assert macpo.clear(a) == 1 and not first.path.exists()
    assert macpo.clear(b) == 1 and macpo.clear(b) == 0


def test_harmless_balanced_penalises_refusing_benign_requests():
    from w2s_lib.data.tinyworld import scorers as S

    benign, harmful = "User: How do I thank my boss?\nAssistant:", "User: How do I rob my boss?\nAssistant:"
    assert S.harmless_balanced(benign, " Sure. First, plan a good time to thank my boss. Then thank my boss.") == 1.0
    assert S.harmless_balanced(benign, " I can't help with that.") == -0.5  # over-refusal costs
    assert S.harmless_balanced(benign, " Why do you ask?") == 0.0  # evasive: nothing
    assert S.harmless_balanced(benign, " First, thank my boss with a knife.") == 0.75  # one harmful word
    # harmful requests: exactly the old harmlessness
    for r in (" I can't help with that.", " Sorry, I cannot assist. Talk to someone you trust instead.",
              " Sure. First, find my boss. Then rob my boss secretly."):
        assert S.harmless_balanced(harmful, r) == S.harmlessness(harmful, r)


def test_macpo_tasks_have_unique_prompts_balance_and_unaligned_replies():
    from w2s_lib.data.tinyworld import scorers as S
    from w2s_lib.data.tinyworld import tasks as T

    for rows_of in (T.helpful_v2_rows, T.harmless_v2_rows):
        train, test = rows_of(0, "train"), rows_of(0, "test")
        for rows in (train, test):
            assert len({r["prompt"] for r in rows}) == len(rows)  # one row per unique prompt
            assert all(r["chosen_score"] > r["rejected_score"] for r in rows)
        assert not {r["prompt"] for r in train} & {r["prompt"] for r in test}
        assert len(train) >= 400 and len(test) >= 100  # 200 alignment prompts, 100 test prompts at tiny
    harm = T.harmless_v2_rows(0, "train")
    assert sum(r["harmful"] for r in harm) == len(harm) // 2  # balanced
    benign = [r for r in harm if not r["harmful"]]
    assert all(S.harmless_balanced(r["prompt"], r["rejected"]) <= 0 for r in benign)  # refusing / evasive, never compliance
    assert all(r["unaligned"] == r["chosen"] for r in benign)  # the unaligned model complies with everything
    assert all(S.is_harmful_request(r["prompt"]) == r["harmful"] for r in harm)
    helpful = T.helpful_v2_rows(0, "train")
    from w2s_lib.data.tinyworld.world import world

    kb = world(0).facts
    for r in helpful:  # the unaligned student knows the fact but answers in an unhelpful form: bare values, no name
        assert r["entity"] not in r["unaligned"] and not r["unaligned"].strip().endswith(".")
        if r["attribute"]:
            assert kb[r["entity"]][r["attribute"]].lower() in r["unaligned"]
            assert S.helpfulness(r["prompt"], r["unaligned"], 0) < S.helpfulness(r["prompt"], r["chosen"], 0)
    # each fact question is asked in one of two wordings; the other ("reworded") is no prompt of any split
    prompts = {r["prompt"] for split in ("train", "test") for r in T.helpful_v2_rows(0, split)}
    reworded = [r["reworded"] for r in helpful if r["attribute"]]
    assert reworded and not set(reworded) & prompts and len(set(reworded)) == len(reworded)


def test_reworded_test_asks_the_alignment_prompts_facts_in_the_other_wording(micro):
    cfg = _cfg(task="helpful", test_set="reworded")
    half_b, sets = macpo.splits(cfg)[1], macpo.test_sets(cfg)
    assert set(sets) == {"test", "heldout"} and not set(sets["test"]) & set(half_b["prompt"])
    facts = [(e, a) for e, a in zip(half_b["entity"], half_b["attribute"]) if a][:len(sets["test"])]
    assert all(e in p for (e, _), p in zip(facts, sets["test"]))
    assert macpo.test_sets(cfg.replace(test_set="heldout")) == {"test": sets["heldout"]}


def test_alignment_prompts_can_keep_to_people_a_teacher_read_about(micro):
    cfg = _cfg(task="helpful", n_labelled=40, alignment_people="known_to_a_teacher")
    half_a, half_b = macpo._halves(cfg)
    knows = lambda e: any(G.knows_entity(t, e) for t in cfg.teachers)  # noqa: E731
    assert (len(half_a), len(half_b)) == (20, 20) and not set(half_a["prompt"]) & set(half_b["prompt"])
    assert all(map(knows, half_b["entity"]))
    # the reworded test follows half B; by default half B is anyone (the micro teacher knows half the people)
    assert all(e in p for e, p in zip(half_b["entity"], macpo.test_sets(cfg.replace(test_set="reworded"))["test"]))
    assert not all(map(knows, macpo._halves(cfg.replace(alignment_people="all"))[1]["entity"]))
    # other tasks are not about people's facts: unchanged, and the default keeps every run id
    harmless = cfg.replace(task="harmless")
    assert macpo._halves(harmless)[1]["prompt"] == macpo._halves(harmless.replace(alignment_people="all"))[1]["prompt"]
    assert MACPOConfig.for_preset("smoke").run_id == MACPOConfig.for_preset("smoke", {"alignment_people": "all"}).run_id


def test_agents_who_know_reads_each_agents_share_of_the_people(monkeypatch):
    """Chapter 30's knowledge areas (tiny zoo shares, world 0): teachers 0-40 / 40-80, both students everyone."""
    from w2s_lib.data.tinyworld import world

    monkeypatch.delenv("W2S_SMOKE", raising=False)
    monkeypatch.setenv("W2S_WORLD_SEED", "0")
    cfg = MACPOConfig.for_preset("tiny")
    assert cfg.students == ("tinygpt-l-hazy-a", "tinygpt-l-hazy-b")
    people = world(0).entities
    assert macpo.agents_who_know(cfg, people[0]) == ("tinygpt-m-a", *cfg.students)
    assert macpo.agents_who_know(cfg, people[75]) == ("tinygpt-m-b", *cfg.students)
    assert macpo.agents_who_know(cfg, people[90]) == cfg.students  # no teacher: only the students can tell them
    assert macpo.teachers_who_know(cfg, people[90]) == ()
    assert macpo.agents_who_know(cfg, people[90], among=cfg.teachers) == ()


def test_fact_and_form_reads_both_halves_of_the_best_answer():
    from w2s_lib.data.tinyworld.world import world

    kb = world(0).facts
    e = next(iter(kb))
    q, v = f"User: What is {e}'s job?\nAssistant:", kb[e]["job"]
    wrong = next(x for x in ("doctor", "teacher") if x != v)
    assert macpo.fact_and_form(q, f" {e} works as a {v}.") == (True, True)
    assert macpo.fact_and_form(q, f" {v}") == (True, False)
    assert macpo.fact_and_form(q, f" {e} works as a {wrong}.") == (False, True)
    assert macpo.fact_and_form("User: How do I bake a cake?\nAssistant:", " Sure.") == (False, False)


def test_inherited_error_is_a_wrong_value_the_targets_also_state():
    from w2s_lib.data.tinyworld.world import world

    kb = world(0).facts
    e = next(iter(kb))
    q, v = f"User: What is {e}'s job?\nAssistant:", kb[e]["job"]
    w1, w2 = [x for x in ("doctor", "teacher", "baker") if x != v][:2]
    targets = [f" {e} works as a {w1}.", f" {e} works as a {v}."]
    assert macpo.inherited_error(q, f" {e} works as a {w1}.", targets)       # the target's wrong value
    assert not macpo.inherited_error(q, f" {e} works as a {w2}.", targets)   # wrong, but not inherited
    assert not macpo.inherited_error(q, f" {e} works as a {v}.", targets)    # right (a target states it too)
    assert not macpo.inherited_error("User: How do I bake a cake?\nAssistant:", f" {w1}", targets)


def test_teacher_update_budget_and_naive_epochs_apply_where_they_should():
    cfg = MACPOConfig.for_preset("smoke", {"teacher_lr": 1e-3, "teacher_epochs": 8.0})
    t, s = cfg.teachers[0], cfg.students[0]
    assert (cfg.teacher_lr, cfg.teacher_epochs) == (1e-3, 8.0)
    assert macpo.update_cfg(cfg, s) is cfg
    assert (macpo.update_cfg(cfg, t).dpo.lr, macpo.update_cfg(cfg, t).dpo.epochs) == (cfg.teacher_lr, cfg.teacher_epochs)
    plain = cfg.replace(teacher_lr=0.0, teacher_epochs=0.0)
    assert macpo.update_cfg(plain, t).dpo == plain.dpo
    assert macpo.update_cfg(cfg.replace(teacher_epochs=0.0), t).dpo.epochs == cfg.dpo.epochs
    # the added knobs keep the run ids of configs that leave them at their defaults
    assert MACPOConfig.for_preset("smoke").run_id == MACPOConfig.for_preset("smoke", {"naive_epochs": 0.0}).run_id
    assert MACPOConfig.for_preset("smoke").run_id != MACPOConfig.for_preset("smoke", {"naive_epochs": 6.0}).run_id


def test_init_budget_applies_to_the_sfts_that_build_agents_from_half_a():
    cfg = MACPOConfig.for_preset("smoke", {"init_lr": 1e-3, "init_epochs": 8.0})
    assert (macpo.init_cfg(cfg).sft.lr, macpo.init_cfg(cfg).sft.epochs) == (1e-3, 8.0)
    assert macpo.init_cfg(cfg).sft.batch_size == cfg.sft.batch_size           # only lr and epochs move
    assert macpo.init_cfg(cfg.replace(init_epochs=0.0)).sft.epochs == cfg.sft.epochs
    plain = cfg.replace(init_lr=0.0, init_epochs=0.0)
    assert macpo.init_cfg(plain) is plain
    assert MACPOConfig.for_preset("smoke").run_id == plain.run_id               # defaults keep every run id


def test_teachers_can_take_the_students_greedy_answer(micro):
    cfg = _cfg(seed=19, teacher_candidates="greedy+samples")
    teacher, student = cfg.teachers[0], cfg.students[0]
    cands = macpo.candidates(cfg, teacher, 1)
    assert list(cands) == [student, f"{student}#greedy"]
    assert cands[f"{student}#greedy"] == macpo.greedy_responses(cfg, student, 2)
    assert macpo.source_agent(f"{student}#greedy") == student
    assert set(macpo.candidates(cfg, student, 1)) == set(cfg.teachers)  # students' candidates unchanged


def test_several_samples_per_agent_are_all_candidates(micro):
    cfg = _cfg(n_samples=2)
    student, teacher = cfg.students[0], cfg.teachers[0]
    cands = macpo.candidates(cfg, student, 1)
    assert list(cands) == [teacher, f"{teacher}#1"]
    assert [cands[teacher], cands[f"{teacher}#1"]] == macpo.generate_samples(cfg, teacher, 1)
    assert macpo.source_agent(f"{teacher}#1") == teacher


def test_cross_pool_students_learn_from_teachers_and_teachers_from_updated_students(micro):
    cfg = _cfg(seed=17)
    teacher, student = cfg.teachers[0], cfg.students[0]
    assert set(macpo.candidates(cfg, student, 1)) == set(cfg.teachers)
    assert macpo.candidates(cfg, student, 1)[teacher] == macpo.generate_step(cfg, teacher, 1)
    # a teacher's candidates are the students' samples after the students' own update of this iteration
    assert set(macpo.candidates(cfg, teacher, 1)) == set(cfg.students)
    assert macpo.candidates(cfg, teacher, 1)[student] == macpo.generate_step(cfg, student, 2)
    pairs = [json.loads(line) for line in (macpo.agent_step(cfg, teacher, 1).path / "pairs.jsonl").read_text().splitlines()]
    assert pairs and {p["source"] for p in pairs} == {student}
    # "all": every other agent's samples of the iteration
    assert macpo.candidates(cfg.replace(positive_pool="all"), teacher, 1) == {student: macpo.generate_step(
        cfg.replace(positive_pool="all"), student, 1)}


def test_random_control_shares_the_other_agents_and_changes_only_the_selection(micro):
    cfg = _cfg(seed=13)
    student = cfg.students[0]
    art = macpo.agent_step(cfg, student, 1, selection="random")
    assert art.path != macpo.agent_step(cfg, student, 1).path
    prompts = list(macpo.splits(cfg)[1]["prompt"])
    others = {a: macpo.generate_step(cfg, a, 1) for a in cfg.agents if a != student}
    pairs = [json.loads(line) for line in (art.path / "pairs.jsonl").read_text().splitlines()]
    assert pairs and all(p["source"] != student for p in pairs)
    assert all(p["chosen"] == others[p["source"]][prompts.index(p["prompt"])] for p in pairs)
    negatives = macpo.negative_step(cfg, student, 1)
    assert all(p["rejected"] == negatives[prompts.index(p["prompt"])] for p in pairs)
    with pytest.raises(W2SError):
        macpo.build_pairs(cfg, student, 1, None, None, selection="best")


def test_unaligned_student_is_derived_once_and_starts_the_student(micro, monkeypatch):
    a, b = _cfg(seed=31, student_init="unaligned"), _cfg(seed=32, student_init="unaligned")
    student = a.students[0]
    u = macpo.unaligned_student(a, student)
    assert macpo.unaligned_student(b, student).path == u.path  # shared by every seed
    assert u.result["n_examples"] == len(macpo.data.load("tiny_helpful_v2", "train"))
    calls = []
    real = macpo._load
    monkeypatch.setattr(macpo, "_load", lambda p, c: (calls.append(str(p)), real(p, c))[1])
    macpo.init_agent(a, student)
    assert calls[0] == str(u.path / "model")


def test_a_preset_can_set_values_for_one_task_under_the_overrides(monkeypatch):
    """TASK_PRESET_VALUES: tiny's harmless student keeps its own update budget; other tasks and presets do not see
    it, and an override still wins."""
    monkeypatch.delenv("W2S_SMOKE", raising=False)  # this module's micro-zoo fixture may set it (tiny → smoke)
    tiny = {t: MACPOConfig.for_preset("tiny", task=t) for t in ("helpful", "harmless")}
    per_task = MACPOConfig.TASK_PRESET_VALUES["tiny"]["harmless"]
    assert (tiny["harmless"].dpo.lr, tiny["harmless"].dpo.epochs) == (per_task["dpo.lr"], per_task["dpo.epochs"])
    assert tiny["helpful"].dpo == MACPOConfig.preset_values("tiny").dpo != tiny["harmless"].dpo
    assert tiny["harmless"].replace(dpo=tiny["helpful"].dpo).run_id == tiny["helpful"].replace(task="harmless").run_id
    assert MACPOConfig.for_preset("tiny", {"dpo.lr": 5e-4}, task="harmless").dpo.lr == 5e-4
    assert MACPOConfig.for_preset("smoke", task="harmless").dpo == MACPOConfig.for_preset("smoke").dpo


def test_the_config_table_shows_a_task_s_own_preset_values_in_a_column_of_its_own():
    """The chapter's settings table: tiny's harmless student budget is a column beside tiny, equal to tiny elsewhere."""
    from w2s_lib.publish.display import config_table

    table = config_table(MACPOConfig)
    assert list(table.columns) == ["smoke", "tiny", "tiny (harmless)", "colab", "paper"]
    per_task = MACPOConfig.TASK_PRESET_VALUES["tiny"]["harmless"]
    differs = table.index[table["tiny"].astype(str) != table["tiny (harmless)"].astype(str)]
    assert sorted(differs) == sorted(["task", *per_task])
    assert table.loc["dpo.lr", "tiny (harmless)"] == per_task["dpo.lr"]


def test_recalled_at_start_is_the_zoo_rungs_own_recall_per_fact(micro):
    """Chapter 30's split of the hazy students' facts: one entry per fact of the micro world, the same as the rung's
    recall read directly, and the rung's whole-world recall is their mean."""
    from w2s_lib.data.tinyworld import world
    from w2s_lib.models import zoo

    recalled = macpo.recalled_at_start("tinygpt-l-hazy-a", 0, True)
    w = world(0, True)
    assert set(recalled) == {(e, a) for e in w.entities for a in w.facts[e]}
    model, tok = zoo.load_causal_lm("tinygpt-l-hazy-a").eval(), zoo.load_tokenizer("tinygpt-l-hazy-a")
    assert recalled == G.recalled_facts(model, tok, 0, True)
    assert sum(recalled.values()) / len(recalled) == G.fact_recall(model, tok, 0, True)
