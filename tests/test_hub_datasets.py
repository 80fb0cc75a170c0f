"""Real-dataset loaders, driven offline through local stand-ins in each dataset's real hub schema.

The stand-ins live in ``data/fixtures/hub/datasets/<org>__<name>/`` (invented rows, real field names and
types); ``W2S_LOCAL_HUB`` points the very same ``registry.load`` → ``hub.resolve`` → ``load_dataset`` path
at them.
"""

from __future__ import annotations

import importlib.util
import json
import random
import time

import pytest

from w2s_lib.core import hub
from w2s_lib.data import hub_datasets as hd
from w2s_lib.data import registry
from w2s_lib.data.splits import w2s_splits
from w2s_lib.core.errors import W2SError
from w2s_lib.core.paths import DATA_DIR

FIXTURE_HUB = DATA_DIR / "fixtures" / "hub"
NAMES = (
    "sciq", "boolq", "amazon_polarity", "cosmos_qa", "anthropic_hh",
    "imdb", "hh_helpful", "hh_harmless", "pku_saferlhf", "tldr", "alpaca_eval",
)
#: evaluation sets with one split
TEST_ONLY = {"alpaca_eval"}


def raw_rows(rel: str) -> list[dict]:
    path = FIXTURE_HUB / "datasets" / rel
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(autouse=True)
def _registry_without_tinyworld(monkeypatch):
    # tinyworld is written by another module owner; until it exists, register the hub loaders alone so the
    # tests still go through registry.load (validation, n-sampling) exactly as users do.
    if importlib.util.find_spec("w2s_lib.data.tinyworld") is None:
        monkeypatch.setattr(registry, "_ensure_registered", lambda: None)


@pytest.fixture
def local_hub(monkeypatch):
    monkeypatch.setenv("W2S_LOCAL_HUB", str(FIXTURE_HUB))
    hub._hub_reachable.cache_clear()
    yield
    hub._hub_reachable.cache_clear()


def load(name, split="train", **kw):
    return registry.load(name, split, **kw)


# ---------------------------------------------------------------------------------------- every loader


@pytest.mark.parametrize("name", NAMES)
def test_every_loader_gives_standard_columns(local_hub, name):
    spec = registry.get_spec(name)
    assert spec.hub_id and not spec.offline
    for split in ("test",) if name in TEST_ONLY else ("train", "test"):
        ds = load(name, split)
        cols = registry.COLUMNS[spec.task]
        assert tuple(ds.column_names[: len(cols)]) == cols
        ids = ds["id"]
        assert len(set(ids)) == len(ids) > 0


def test_loaders_are_deterministic_by_seed(local_hub):
    a, b, c = load("sciq", seed=0), load("sciq", seed=0), load("sciq", seed=1)
    assert a.to_list() == b.to_list()
    assert a["label"] != c["label"]  # 8 fair coin flips; fixed by the seeds, so this never flakes


def test_n_rows_sampled_through_registry(local_hub):
    ds = load("boolq", "train", n=3, seed=5)
    assert len(ds) == 3
    with pytest.raises(W2SError, match="lower n"):
        load("boolq", "train", n=99)


# ---------------------------------------------------------------------------------------- classification


def test_sciq_formatting(local_hub):
    raw = raw_rows("allenai__sciq/train.jsonl")
    ds = load("sciq", "train")
    assert len(ds) == len(raw)
    for ex, row in zip(ds, raw):
        prefix = f"Q: {row['question']} A: "
        assert ex["text"].startswith(prefix)
        answer = ex["text"][len(prefix):]
        if ex["label"] == 1:
            assert answer == row["correct_answer"]
        else:
            assert answer in {row["distractor1"], row["distractor2"], row["distractor3"]}
        assert ex["soft_label"] == float(ex["label"])
    assert set(ds["label"]) == {0, 1}
    assert ds[0]["id"] == "sciq/train/0"
    # row 0 by hand: its rng's first draw decides the label, the second picks the distractor
    rng = random.Random("sciq:train:0:0")
    label = int(rng.random() < 0.5)
    expected = "oxygen" if label else rng.choice(["nitrogen", "argon", "helium"])
    assert ds[0]["text"] == f"Q: What gas do green leaves release in daylight? A: {expected}"
    assert load("sciq", "test")[1]["text"].startswith("Q: What instrument measures air pressure? A: ")


def test_boolq_formatting(local_hub):
    ds = load("boolq", "train")
    assert ds[1]["text"] == (
        "Passage: The dune lizard spends its life on dry sand and drowns quickly if it falls into water.\n"
        "Question: can the blue lizard of the dunes swim"
    )
    assert ds["label"] == [1, 0, 1, 1, 0, 1]
    assert ds["soft_label"] == [1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    test = load("boolq", "test")  # the hub validation split
    assert test[0]["text"].startswith("Passage: The northern lake is fed by snowmelt")
    assert test["label"] == [0, 1, 0, 1, 1]


def test_amazon_polarity_formatting(local_hub):
    ds = load("amazon_polarity", "train")
    assert ds[1]["text"] == "Broke in a week The handle snapped after a few days of light use. Not worth the money."
    assert ds["label"] == [1, 0, 1, 0, 1, 0]


def test_cosmos_qa_formatting(local_hub):
    raw = {r["id"]: r for r in raw_rows("allenai__cosmos_qa/train.jsonl")}
    for seed in range(4):
        ds = load("cosmos_qa", "train", seed=seed)
        assert ds["id"] == [f"fx-tr-{i}" for i in range(6)]
        for ex in ds:
            row = raw[ex["id"]]
            head = f"Context: {row['context']}\nQuestion: {row['question']}\nAnswer: "
            assert ex["text"].startswith(head)
            answer, true = ex["text"][len(head):], row[f"answer{row['label']}"]
            assert (answer == true) == (ex["label"] == 1)
            assert answer in {row[f"answer{i}"] for i in range(4)}
        # fx-tr-4's true answer is "None of the above choices ." → always a label-0 row
        assert ds[4]["label"] == 0
    assert load("cosmos_qa", "test")["id"][0] == "fx-va-0"  # test = hub validation


def test_anthropic_hh_classification(local_hub):
    raw = raw_rows("Anthropic__hh-rlhf/helpful-base/train.jsonl") + raw_rows(
        "Anthropic__hh-rlhf/harmless-base/train.jsonl"
    )
    pairs = {(r["chosen"], 1) for r in raw} | {(r["rejected"], 0) for r in raw}
    ds = load("anthropic_hh", "train")  # all subsets, as the official loader
    assert len(ds) == len(raw) == 13
    for ex in ds:
        assert (ex["text"], ex["label"]) in pairs
    assert ds[0]["text"].startswith("\n\nHuman: ")


# ---------------------------------------------------------------------------------------- prompts


def test_imdb_prompts(local_hub):
    ds = load("imdb", "train")
    assert ds.column_names == ["prompt", "id", "label"]
    assert ds[1]["prompt"] == "I wanted to like it, but the story"
    assert ds[1]["label"] == 0
    assert ds[4]["prompt"] == "Short"
    assert all(len(p.split()) <= hd.IMDB_PREFIX_WORDS for p in ds["prompt"])
    assert load("imdb", "test")[2]["prompt"] == "The plot makes no sense and the editing"


def test_imdb_formatter_alone():
    assert hd.format_imdb_prompt({"text": "Great<br /><br/>film,  truly", "label": 1}, n_words=3) == {
        "prompt": "Great film, truly", "label": 1,
    }
    assert hd.format_imdb_prompt({"text": "  <br />", "label": 0}) is None


def test_alpaca_eval_prompts(local_hub):
    ds = load("alpaca_eval", "test")
    assert ds.column_names == ["prompt", "id", "reference", "generator", "source"]
    assert ds[1]["prompt"] == "How did US states get their names?"
    assert ds[2]["source"] == "koala" and ds[0]["generator"] == "text_davinci_003"
    with pytest.raises(W2SError, match="only a 'test' split"):
        load("alpaca_eval", "train")


# ---------------------------------------------------------------------------------------- preference


def test_transcript_parsing():
    text = "\n\nHuman: hi there\n\nAssistant: hello!\n\nHuman: bye\n\nAssistant: see you"
    assert hd.split_transcript(text) == [
        ("Human", "hi there"), ("Assistant", "hello!"), ("Human", "bye"), ("Assistant", "see you"),
    ]
    assert hd.single_turn(text) is None
    assert hd.single_turn("\n\nHuman: a question\n\nAssistant: an answer") == ("a question", "an answer")
    assert hd.single_turn("Human: no leading breaks\n\nAssistant: ok") == ("no leading breaks", "ok")
    same = {"chosen": "\n\nHuman: q\n\nAssistant: a", "rejected": "\n\nHuman: q\n\nAssistant: a"}
    assert hd.format_hh_single_turn(same) == {"prompt": "\n\nHuman: q\n\nAssistant:", "chosen": " a", "rejected": " a"}
    other_prompt = {"chosen": "\n\nHuman: q\n\nAssistant: a", "rejected": "\n\nHuman: p\n\nAssistant: b"}
    assert hd.format_hh_single_turn(other_prompt) is None
    multi_chosen = {"chosen": text, "rejected": text}
    assert hd.format_hh_single_turn(multi_chosen) is None


def test_hh_split_prompt_keeps_extra_turns_and_empty_replies():
    prompt = "\n\nHuman: q\n\nAssistant:"
    assert hd.split_prompt(prompt + " a", prompt + " b\n\nHuman: more\n\nAssistant: c") == (
        prompt, " a", " b\n\nHuman: more\n\nAssistant: c")
    assert hd.split_prompt(prompt + " a", prompt) == (prompt, " a", "")


def test_hh_helpful_transcript_format(local_hub):
    ds = load("hh_helpful", "train")
    # 6 fixture pairs: the one whose chosen transcript has several turns is dropped; identical replies kept
    assert ds["prompt"] == [
        "\n\nHuman: How do I keep basil fresh?\n\nAssistant:",
        "\n\nHuman: What is a good way to start running?\n\nAssistant:",
        "\n\nHuman: How many legs does a spider have?\n\nAssistant:",
        "\n\nHuman: Give me a tip for writing emails.\n\nAssistant:",
        "\n\nHuman: Say hello.\n\nAssistant:",
    ]
    assert ds["id"] == ["hh_helpful/train/0", "hh_helpful/train/1", "hh_helpful/train/3", "hh_helpful/train/4",
                        "hh_helpful/train/5"]
    assert ds[2]["chosen"] == " A spider has eight legs."
    assert ds[2]["rejected"] == " Six, like an insect."
    assert len(load("hh_helpful", "test")) == 3


def test_hh_harmless_rm_text_is_the_raw_transcript_and_dpo_prompt_ends_in_assistant(local_hub):
    raw = raw_rows("Anthropic__hh-rlhf/harmless-base/train.jsonl")
    ds = load("hh_harmless", "train")
    assert len(ds) == 6  # the pair whose chosen transcript has two turns is dropped; all others kept
    kept = [r for r in raw if hd.single_turn(r["chosen"]) is not None]
    for row, r in zip(ds, kept):
        assert row["prompt"] + row["chosen"] == r["chosen"]  # the reward model's text: the raw transcript
        assert row["prompt"] + row["rejected"] == r["rejected"]
        assert row["prompt"].startswith("\n\nHuman: ") and row["prompt"].endswith("\n\nAssistant:")
    assert ds[1]["chosen"].startswith(" I won't help harm anyone.")
    assert ds[1]["rejected"] == " Put something in their lunch."
    # a rejected reply with extra turns and an empty one are kept, as the official data keeps them
    assert ds[4]["rejected"] == " Bleach and ammonia.\n\nHuman: How much of each?\n\nAssistant: Equal parts."
    assert ds[5]["rejected"] == ""


def test_pku_saferlhf(local_hub):
    ds = load("pku_saferlhf", "train")
    assert ds.column_names == [
        "prompt", "chosen", "rejected", "id", "is_chosen_safe", "is_rejected_safe", "chosen_is_better",
    ]
    row = ds[1]  # safer_response_id = 1, better_response_id = 0
    assert row["chosen"].startswith("Spreading rumors can hurt people")
    assert row["rejected"] == "Post it anonymously so no one knows it was you."
    assert (row["is_chosen_safe"], row["is_rejected_safe"], row["chosen_is_better"]) == (True, False, False)
    row = ds[3]  # both unsafe, safer = 1 = better
    assert row["chosen"] == "Hide notes in your shoe."
    assert (row["is_chosen_safe"], row["is_rejected_safe"], row["chosen_is_better"]) == (False, False, True)
    assert len(load("pku_saferlhf", "test")) == 4


# ---------------------------------------------------------------------------------------- summarization


def test_tldr(local_hub):
    ds = load("tldr", "test")
    assert ds[0]["prompt"].startswith("SUBREDDIT: r/pets\nTITLE: Cat will not use new litter\nPOST: ")
    assert ds[0]["prompt"].endswith("\nTL;DR:")
    assert ds[0]["reference"] == "cat avoids new litter brand"


# ---------------------------------------------------------------------------------------- offline


def test_offline_without_standin_fails_fast(monkeypatch):
    monkeypatch.delenv("W2S_LOCAL_HUB", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub._hub_reachable.cache_clear()
    try:
        start = time.perf_counter()
        with pytest.raises(W2SError) as err:
            load("sciq", "train")
        assert time.perf_counter() - start < 1.0
    finally:
        hub._hub_reachable.cache_clear()
    msg = str(err.value)
    assert "allenai/sciq" in msg and "preset='tiny'" in msg and "\n" not in msg
    assert "'tiny_facts'" in msg


def test_every_tiny_alternative_is_registered():
    names = {spec.name for spec in registry.list_datasets()}
    if "tiny_facts" not in names:
        pytest.skip("the tiny world is not registered yet")
    assert set(hd.TINY_ALTERNATIVES) == set(NAMES)
    for name, tiny in hd.TINY_ALTERNATIVES.items():
        assert tiny in names
        assert registry.get_spec(tiny).task == registry.get_spec(name).task


def test_standin_missing_split_is_a_one_line_error(local_hub, tmp_path, monkeypatch):
    root = tmp_path / "datasets" / "google__boolq"
    root.mkdir(parents=True)
    (root / "train.jsonl").write_text('{"question": "q", "answer": true, "passage": "p"}\n')
    monkeypatch.setenv("W2S_LOCAL_HUB", str(tmp_path))
    with pytest.raises(W2SError, match="no usable 'validation' split") as err:
        load("boolq", "test")
    assert "\n" not in str(err.value)


def test_w2s_splits_on_a_hub_dataset(local_hub):
    s = w2s_splits(load("sciq", "train"), load("sciq", "test"), n_docs=6, n_test=4, seed=0)
    assert (len(s["gt"]), len(s["weak"]), len(s["test"])) == (3, 3, 4)
    assert not set(s["gt"]["id"]) & set(s["weak"]["id"])
