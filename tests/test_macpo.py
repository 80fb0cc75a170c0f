"""MACPO on the micro zoo: positive selection, hard negatives, resume after a kill, the smoke pipeline."""

import json
import math
import time

import pytest

from w2s_lib import macpo
from w2s_lib.errors import W2SError
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
    return macpo.MACPOConfig.for_preset("smoke", {"n_labelled": 8, "n_test": 3, "max_new_tokens": 6, **kw})


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
    first = macpo.agent_step(cfg, cfg.agents[0], 1)  # finished before the kill: loaded, not retrained
    assert calls["n"] == 2
    counted = {"n": 0}

    def counting(*a, **k):
        counted["n"] += 1
        return orig(*a, **k)

    monkeypatch.setattr(preference, "dpo_train", counting)
    rows = macpo.run(cfg)
    # iteration 1 of agent 0 was cached; the rest of the 2 agents × 2 iterations ran now
    assert counted["n"] == len(cfg.agents) * cfg.iterations - 1
    assert macpo.agent_step(cfg, cfg.agents[0], 1).path == first.path
    assert len(rows) == len(cfg.agents) * (cfg.iterations + 1)


def test_smoke_pipeline_under_a_minute(micro):
    cfg = macpo.MACPOConfig.for_preset("smoke", seed=5)
    t = time.time()
    rows = macpo.run(cfg)
    naive, conf = macpo.naive_sft(cfg), macpo.confident_loss(cfg)
    elapsed = time.time() - t
    assert {r["iteration"] for r in rows} == set(range(cfg.iterations + 1))
    art = macpo.agent_step(cfg, "tinygpt-l", cfg.iterations)
    pairs = [json.loads(line) for line in (art.path / "pairs.jsonl").read_text().splitlines()]
    assert pairs and all(p["source"] != "tinygpt-l" for p in pairs)
    assert len(macpo.eval_rows(art)) == cfg.n_test
    assert "gold_mean" in naive.result and "gold_mean" in conf.result
    assert elapsed < 60, f"smoke MACPO took {elapsed:.0f} s"
