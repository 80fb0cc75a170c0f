"""The tiny GPT-2 zoo: micro build, HF round trip, caching, corruption recovery, errors."""

import json
from dataclasses import replace

import pytest
import torch

from w2s_lib.core.errors import W2SError
from w2s_lib.models import tinygpt as G


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    mp = pytest.MonkeyPatch()
    mp.setenv("W2S_ZOO_DIR", str(root))
    mp.setenv("W2S_HOME", str(root / "home"))
    paths = G.build_zoo(micro=True, progress=False)
    yield root, paths
    mp.undo()


def test_ladder_names_ordered():
    assert list(G.SIZES) == ["tinygpt-xs", "tinygpt-s", "tinygpt-m", "tinygpt-l"]
    assert list(G.MICRO_SIZES) == list(G.SIZES)
    params = [r.n_layer * r.n_embd**2 for r in G.SIZES.values()]
    assert params == sorted(params)
    assert [r.knows for r in G.SIZES.values()] == sorted(r.knows for r in G.SIZES.values())


def test_tokenizer_single_token_names_and_values():
    from w2s_lib.data.tinyworld import scorers as S
    from w2s_lib.data import tinyworld as T

    tok = G.train_tokenizer(T.corpus(0), G.VOCAB_SIZE)  # the full world's tokenizer
    w = T.world(0)
    assert all(len(tok(" " + e, add_special_tokens=False)["input_ids"]) == 1 for e in w.entities)
    assert all(len(tok(" " + v, add_special_tokens=False)["input_ids"]) == 1
               for vs in S.ATTRIBUTES.values() for v in vs)
    assert tok.eos_token == G.EOS and tok.pad_token == G.PAD and tok.pad_token_id != tok.eos_token_id
    text = "User: Where does Rejar live?\nAssistant: Rejar lives in Paris."
    assert tok.decode(tok(text)["input_ids"]).strip() == text


def test_micro_build_round_trips_through_auto_classes(zoo):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root, paths = zoo
    assert set(paths) == set(G.MICRO_SIZES) | set(G.MICRO_PEERS) | set(G.MICRO_STORY_READERS)  # ladder, peers, twins
    for name, d in paths.items():
        assert d == G.model_dir(name, micro=True)
        assert d.parent.name == G.world_tag(0, micro=True)
        model = AutoModelForCausalLM.from_pretrained(d)
        tok = AutoTokenizer.from_pretrained(d)
        ids = tok("Review: I bought this lamp last week. The screen is", return_tensors="pt")
        out = model.generate(**ids, max_new_tokens=5, do_sample=False, pad_token_id=tok.pad_token_id)
        assert out.shape[1] == ids["input_ids"].shape[1] + 5 or tok.eos_token_id in out[0].tolist()
    report = G.ladder_report(micro=True)
    assert [r["name"] for r in report] == list(G.MICRO_SIZES)
    for r in report:
        assert r["params"] > 0 and r["heldout_perplexity"] > 1 and 0 <= r["fact_recall"] <= 1
        assert r["build_seconds"] > 0
    assert [r["params"] for r in report] == sorted(r["params"] for r in report)


def test_smoke_env_selects_micro(zoo, monkeypatch):
    monkeypatch.setenv("W2S_SMOKE", "1")
    assert G.model_dir("tinygpt-l") == zoo[1]["tinygpt-l"]


def test_second_build_is_a_noop(zoo):
    root, paths = zoo
    before = {n: (p / "model.safetensors").stat().st_mtime_ns for n, p in paths.items()}
    G.build_zoo(micro=True, progress=False)
    assert before == {n: (p / "model.safetensors").stat().st_mtime_ns for n, p in paths.items()}


def test_truncated_checkpoint_is_detected_and_rebuilt_identically(zoo):
    root, paths = zoo
    d = paths["tinygpt-xs"]
    f = d / "model.safetensors"
    good = f.read_bytes()
    f.write_bytes(good[: len(good) // 2])
    assert G.read_marker(d) is None
    assert G.model_dir("tinygpt-xs", micro=True) == d  # the micro zoo rebuilds a broken rung on demand
    assert G.read_marker(d) is not None
    assert f.read_bytes() == good  # deterministic: the rebuild gives identical weights
    # a missing marker (a build killed before its rename) also counts as not built
    (d / G.MARKER).unlink()
    assert G.read_marker(d) is None
    G.build_zoo(micro=True, progress=False, names=["tinygpt-xs"])
    assert json.loads((d / G.MARKER).read_text())["name"] == "tinygpt-xs"
    assert not list(root.glob("*/.tmp-*"))


def test_a_rung_built_from_an_older_definition_is_rebuilt(zoo, monkeypatch):
    """The marker records the rung's definition: a rung whose definition has changed since it was built (here its
    steps) is stale, not reused; a field added to Rung after the build counts as its default (old zoos stay valid)."""
    from dataclasses import replace as _replace

    root, paths = zoo
    d, rung = paths["tinygpt-xs"], G.MICRO_SIZES["tinygpt-xs"]
    assert G.built_rung(d, rung) is not None
    assert G.built_rung(d, _replace(rung, steps=rung.steps + 1)) is None
    meta = json.loads((d / G.MARKER).read_text())
    del meta["rung"]["stop_at_recall"]  # as written before the field existed
    (d / G.MARKER).write_text(json.dumps(meta))
    assert G.built_rung(d, rung) is not None
    monkeypatch.setitem(G.MICRO_SIZES, "tinygpt-xs", _replace(rung, steps=rung.steps + 1))
    assert G.prepare_zoo(0, True, ["tinygpt-xs"]) == {"tinygpt-xs": G._cost(G.MICRO_SIZES["tinygpt-xs"])}
    monkeypatch.setitem(G.MICRO_SIZES, "tinygpt-xs", rung)
    assert G.prepare_zoo(0, True, ["tinygpt-xs"]) == {}


def test_errors(zoo, tmp_path, monkeypatch):
    with pytest.raises(W2SError, match="unknown model 'gpt5'"):
        G.model_dir("gpt5", micro=True)
    monkeypatch.setenv("W2S_ZOO_DIR", str(tmp_path / "empty"))
    with pytest.raises(W2SError, match="w2s zoo build"):  # the full zoo is never built behind your back
        G.model_dir("tinygpt-s", micro=False)
    with pytest.raises(W2SError):
        G.build_zoo(micro=True, names=["nope"])


def test_fact_recall_is_exact_for_an_oracle(zoo):
    """An 'oracle' that puts all mass on the true value recalls 100%; uniform logits are at chance."""
    from transformers import AutoTokenizer

    from w2s_lib.data import tinyworld as T

    tok = AutoTokenizer.from_pretrained(zoo[1]["tinygpt-xs"])
    w = T.world(0, micro=True)
    prompt_to_val = {}
    for e in w.entities:
        for a, v in w.facts[e].items():
            prompt_to_val[tuple(tok(T.canonical_prompt(e, a), add_special_tokens=False)["input_ids"])] = \
                tok(" " + v, add_special_tokens=False)["input_ids"][0]

    class Oracle(torch.nn.Module):
        def forward(self, input_ids):
            logits = torch.zeros(*input_ids.shape, len(tok))
            for i, row in enumerate(input_ids.tolist()):
                for j in range(1, len(row) + 1):
                    v = prompt_to_val.get(tuple(row[:j]))
                    if v is not None:
                        logits[i, j - 1, v] = 10.0
            return type("Out", (), {"logits": logits})()

    assert G.fact_recall(Oracle(), tok, 0, micro=True) == 1.0
    # per fact: an oracle that forgot one person's facts recalls every fact but those (ties go to the first value)
    forgotten = w.entities[0]
    for a in w.facts[forgotten]:
        del prompt_to_val[tuple(tok(T.canonical_prompt(forgotten, a), add_special_tokens=False)["input_ids"])]
    recalled = G.recalled_facts(Oracle(), tok, 0, micro=True)
    first = {a: vs[0] for a, vs in T.scorers.ATTRIBUTES.items()}
    assert recalled == {(e, a): e != forgotten or v == first[a] for e in w.entities for a, v in w.facts[e].items()}
    assert G.fact_recall(Oracle(), tok, 0, micro=True) == sum(recalled.values()) / len(recalled) < 1.0


def test_pretraining_stops_at_the_first_check_where_the_rule_says_so():
    """A rung that stops on recall: the rule is asked every RECALL_CHECK steps, in eval mode, and training ends at
    the first check where it is true (here the second), not at the end of the schedule."""
    from dataclasses import replace as _replace

    rung = _replace(G.MICRO_SIZES["tinygpt-xs"], steps=4 * G.RECALL_CHECK)
    docs = ["Rejar lives in Paris. Volin keeps a cat."] * 200
    tok = G.train_tokenizer(docs, vocab_size=300)
    model = G.make_model(rung, len(tok), 0)
    asked = []

    def stop():
        asked.append(model.training)
        return len(asked) == 2

    losses = G.pretrain(model, tok, docs, rung, 0, progress=False, stop=stop)
    assert len(losses) == 2 * G.RECALL_CHECK and asked == [False, False] and not model.training
    assert len(G.pretrain(model, tok, docs, rung, 0, progress=False)) == rung.steps


def test_cli_builds_only_the_named_rung(tmp_path, monkeypatch, capsys):
    from w2s_lib import cli

    monkeypatch.setenv("W2S_ZOO_DIR", str(tmp_path))
    assert cli.main(["zoo", "build", "--micro", "--rung", "tinygpt-xs", "--quiet"]) == 0
    root = tmp_path / G.world_tag(0, micro=True)
    built = sorted(p.name for p in root.iterdir() if G.read_marker(p) is not None)
    assert built == ["tinygpt-xs", "tokenizer"]
    assert "tinygpt-xs:" in capsys.readouterr().out


def test_fused_gelu_is_the_same_function_in_one_kernel():
    from transformers.activations import ACT2FN

    rung = G.Rung(n_layer=2, n_embd=32, n_head=2, lr=1e-3, warmup=1, knows=1.0, steps=1)
    model = G.make_model(rung, 64, seed=0).eval()
    ids = torch.randint(0, 64, (3, 11))
    with torch.no_grad():
        before = model(input_ids=ids).logits
        assert G.fused_gelu(model) is model
        after = model(input_ids=ids).logits
    assert all(type(b.mlp.act) is type(ACT2FN["gelu_pytorch_tanh"]) for b in model.transformer.h)
    assert model.config.activation_function == "gelu_new"  # what is saved stays the checkpoint's
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-6)
    other = G.make_model(rung, 64, seed=0)
    other.config.activation_function = "relu"
    kept = [b.mlp.act for b in other.transformer.h]
    assert [b.mlp.act for b in G.fused_gelu(other).transformer.h] == kept


def test_peer_rungs_are_a_ladder_rung_pretrained_on_other_people_or_for_fewer_steps(monkeypatch):
    """`tinygpt-m-a` / `-b`: tinygpt-m's architecture and schedule, the first 40 and the next 40 people (of 100);
    `tinygpt-l-hazy-a` / `-b`: tinygpt-l's architecture and schedule, every person, stopped at HAZY_RECALL, own seeds."""
    from w2s_lib.data.tinyworld import world

    monkeypatch.delenv("W2S_SMOKE", raising=False)
    monkeypatch.setenv("W2S_WORLD_SEED", "0")
    for name, peer in G.PEERS.items():
        size, share, stop = ("tinygpt-m", 0.40, 0.0) if name.startswith("tinygpt-m-") else ("tinygpt-l", 1.0, G.HAZY_RECALL)
        m = G.SIZES[size]
        assert (peer.n_layer, peer.n_embd, peer.lr, peer.steps, peer.knows, peer.stop_at_recall) == \
            (m.n_layer, m.n_embd, m.lr, m.steps, share, stop)
    assert 0.50 < G.HAZY_RECALL < 1  # above what either teacher recalls of the world (0.48-0.50), below all of it
    people = world(0).entities
    read = {r: {e for e in people if G.knows_entity(r, e)}
            for r in ("tinygpt-s", "tinygpt-m-a", "tinygpt-m-b", "tinygpt-l", "tinygpt-l-hazy-a", "tinygpt-l-hazy-b")}
    assert read["tinygpt-m-a"] == read["tinygpt-s"] == set(people[:40]) and read["tinygpt-m-b"] == set(people[40:80])
    assert read["tinygpt-l"] == read["tinygpt-l-hazy-a"] == read["tinygpt-l-hazy-b"] == set(people)
    # the two strong students of chapter 30 differ only in their seed (their name), so they misremember differently
    assert G._rung_seed("tinygpt-l-hazy-a", 0) != G._rung_seed("tinygpt-l-hazy-b", 0)
    assert not set(G.PEERS) & set(G.SIZES)  # off the ladder: ladders and their reports stay weak → strong


def test_story_readers_are_ladder_twins_whose_corpus_adds_stories():
    """`tinygpt-{s,m,l}-stories`: the ladder rung's architecture, schedule and people, only the corpus differs."""
    for name, rung in G.STORY_READERS.items():
        twin = G.SIZES[name.removesuffix("-stories")]
        assert rung.story_docs == G.STORY_DOCS > 0 and not twin.story_docs
        assert replace(rung, story_docs=0) == twin
    assert set(G.STORY_READERS) <= set(G._rungs(False)) and not set(G.STORY_READERS) & set(G.SIZES)
