"""The colab and paper presets of weak-to-strong search, run on local stand-ins along the real code path.

Stand-ins are tiny models saved under ``$W2S_LOCAL_HUB/models/<org>__<name>`` in the hub models' formats:
GPT-2-architecture causal LMs (the micro tiny GPTs) for gpt2-imdb / gpt2-large / gpt2-xl and the zephyr /
mistral-sft pair, a causal LM with *another* vocabulary and a chat template for Llama-3-70B-Instruct (so
the paper preset exercises the text re-tokenising path and chat formatting), and sequence classifiers for
the gold rewards (distilbert-imdb, the reward model). Datasets come from the fixture stand-ins.
"""

import shutil
from pathlib import Path

import pytest
import torch
from transformers import (AutoTokenizer, BertConfig, BertForSequenceClassification, GPT2Config,
                          GPT2LMHeadModel)

from w2s_lib.core.errors import W2SError
from w2s_lib.models import zoo
from w2s_lib.search import sample_n
from w2s_lib.search.experiment import (SearchConfig, gold_reward, method_names, results_frame, run_method,
                                       tune_scorer)

FIXTURE_DATASETS = Path(__file__).resolve().parent.parent / "data" / "fixtures" / "hub" / "datasets"
CHAT = "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"


def _hub_dir(root: Path, name: str) -> Path:
    return root / "models" / zoo.get_spec(name).hub_id.replace("/", "__")


def _copy_gpt(src: Path, dst: Path, chat: bool = False) -> None:
    shutil.copytree(src, dst)
    if chat:
        tok = AutoTokenizer.from_pretrained(dst)
        tok.chat_template = CHAT
        tok.save_pretrained(dst)


def _minilm_tokenizer(eos: bool = False):
    tok = AutoTokenizer.from_pretrained(zoo.minilm_dir())
    if eos:
        tok.eos_token = "[SEP]"
    return tok


def _classifier(dst: Path, num_labels: int, id2label: dict | None = None) -> None:
    tok = _minilm_tokenizer()
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, num_labels=num_labels, id2label=id2label)
    torch.manual_seed(0)
    BertForSequenceClassification(cfg).save_pretrained(dst)
    tok.save_pretrained(dst)


@pytest.fixture(scope="module")
def local_hub(tmp_path_factory, micro_zoo):
    root = tmp_path_factory.mktemp("hub")
    micro = micro_zoo[1]
    shutil.copytree(FIXTURE_DATASETS, root / "datasets")
    for name, rung, chat in (("gpt2-imdb", "tinygpt-xs", False), ("gpt2-large", "tinygpt-m", False),
                             ("gpt2-xl", "tinygpt-l", False), ("mistral-7b-sft-beta", "tinygpt-xs", True),
                             ("zephyr-7b-beta", "tinygpt-s", True)):
        _copy_gpt(micro[rung], _hub_dir(root, name), chat)
    # a base with another vocabulary (WordPiece) and its own chat template: the text path
    tok = _minilm_tokenizer(eos=True)
    tok.chat_template = CHAT.replace("<|assistant|>", "ASSISTANT:")
    torch.manual_seed(0)
    llama = _hub_dir(root, "llama-3-70b-instruct")
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=1, n_head=2, n_positions=256,
                               eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id)).save_pretrained(llama)
    tok.save_pretrained(llama)
    _classifier(_hub_dir(root, "distilbert-imdb"), 2, {0: "NEGATIVE", 1: "POSITIVE"})
    _classifier(_hub_dir(root, "oasst-rm-deberta"), 1)
    return root


@pytest.fixture
def hub_env(local_hub, monkeypatch):
    monkeypatch.setenv("W2S_LOCAL_HUB", str(local_hub))
    return local_hub


def test_colab_preset_runs_on_standins(hub_env):
    cfg = SearchConfig.for_preset("colab", {"n_prompts": 2, "max_new_tokens": 6, "tune_prompts": 4, "tune_samples": 3,
                                            "tuning.batch_size": 2, "tuning.epochs": 1.0, "bon": (4,), "cbs": (2, 2, 3)})
    assert cfg.gold == "distilbert-imdb" and cfg.bases == ("gpt2-large", "gpt2-xl") and not cfg.tuned
    assert tune_scorer(cfg).result["n_pairs"] >= 1  # DPO on gold-labelled pairs of gpt2-imdb's samples
    frame = results_frame([cfg])
    assert set(frame.method) == {"base", "bon-4", "eft-1", "cbs-2-2-3", "tuned"}
    assert frame.gold_mean.notna().all()
    cbs = frame[(frame.method == "cbs-2-2-3") & (frame.base == "gpt2-xl")].iloc[0]
    assert cbs.scorer_tokens_run > 0  # shared GPT-2 vocabulary: the incremental scorer path


def test_paper_preset_uses_the_ready_pair_chat_and_text_path(hub_env):
    cfg = SearchConfig.for_preset("paper", {"n_prompts": 2, "max_new_tokens": 4, "cbs": (2, 2, 2), "bon": (2,)})
    assert (cfg.small, cfg.tuned, cfg.chat, cfg.cbs) == ("mistral-7b-sft-beta", "zephyr-7b-beta", True, (2, 2, 2))
    assert tune_scorer(cfg).result == {"tuned": "zephyr-7b-beta", "untuned": "mistral-7b-sft-beta"}
    # another vocabulary: no EFT (it needs one), CBS re-tokenises the base's text for the pair
    assert method_names(cfg) == ["base", "bon-2", "cbs-2-2-2"]
    art = run_method(cfg, "llama-3-70b-instruct", "cbs-2-2-2")
    assert art.result["scorer_tokens_run"] > 0 and art.result["base_tokens_sampled"] > 0
    with pytest.raises(W2SError, match="share one vocabulary"):
        run_method(cfg, "llama-3-70b-instruct", "eft-1")


def test_model_gold_rewards(hub_env):
    imdb = gold_reward("distilbert-imdb")
    clf = zoo.load_sequence_classifier("distilbert-imdb")
    enc = imdb.tokenizer("A fine film. It was great", return_tensors="pt")
    with torch.no_grad():
        logits = clf(**enc).logits[0]
    assert imdb("A fine film.", " It was great") == pytest.approx(float(logits[1] - logits[0]), abs=1e-5)
    assert isinstance(gold_reward("oasst-rm-deberta")("Say hi.", "Hi!"), float)
    with pytest.raises(W2SError, match="unknown gold reward"):
        gold_reward("gpt-4-judge")


def test_offline_without_standins_fails_fast(monkeypatch):
    monkeypatch.delenv("W2S_LOCAL_HUB", raising=False)
    cfg = SearchConfig.for_preset("colab", {"n_prompts": 1})
    with pytest.raises(W2SError, match="hub is unreachable"):
        tune_scorer(cfg)


def test_sample_n_draws_independent_samples_in_one_batch(local_hub):
    path = _hub_dir(local_hub, "gpt2-xl")
    model = zoo.load_local_causal_lm(path)
    tok = AutoTokenizer.from_pretrained(path)
    texts = sample_n(model, tok, "Review: I bought this lamp last week. The", 6, max_new_tokens=8, seed=1)
    assert len(texts) == 6 and len(set(texts)) > 1
    assert texts == sample_n(model, tok, "Review: I bought this lamp last week. The", 6, max_new_tokens=8, seed=1)


def test_sft_tuning_alternative_raises_the_best_samples_likelihood(micro_zoo_env):
    from w2s_lib.search.scorer import response_logprob

    cfg = SearchConfig.for_preset("smoke", {"tune": "sft", "tune_prompts": 6, "tune_samples": 3, "tuning.batch_size": 2,
                                            "tuning.epochs": 3.0, "tuning.lr": 3e-3})
    assert cfg.run_id != cfg.replace(tune="dpo").run_id
    art = tune_scorer(cfg)
    pairs = __import__("datasets").load_dataset("json", data_files=str(art.path / "pairs.jsonl"), split="train")
    tok = zoo.load_tokenizer(cfg.small)
    before, after = zoo.load_causal_lm(cfg.small), zoo.load_local_causal_lm(art.path / "tuned")
    gain = []
    for p, c in zip(pairs["prompt"], pairs["chosen"]):
        ids = [tok(p, add_special_tokens=False)["input_ids"], [tok(c, add_special_tokens=False)["input_ids"]]]
        gain.append(float(response_logprob(after, *ids)[0] - response_logprob(before, *ids)[0]))
    assert sum(gain) / len(gain) > 0  # SFT on the gold-best samples made them more likely


def test_paper_preset_decodes_2048_tokens_and_colab_base_reads_the_imdb_template():
    assert SearchConfig.for_preset("paper").max_new_tokens == 2048
    colab = SearchConfig.for_preset("colab")
    assert colab.base_template == "Here is a movie review from imdb: {prompt}" and colab.small_template == "{prompt}"


def test_search_rumours_returns_one_row_per_prompt(micro_zoo_env):
    from w2s_lib.search import PairScorer
    from w2s_lib.search.experiment import search_rumours

    tok = zoo.load_tokenizer("tinygpt-xs")
    scorer = PairScorer(zoo.load_causal_lm("tinygpt-s"), zoo.load_causal_lm("tinygpt-xs"), tok)
    rows = search_rumours(zoo.load_causal_lm("tinygpt-l"), tok, scorer, method="cbs-2-2-3", n_prompts=3,
                          max_new_tokens=6)
    assert len(rows) == 3 and len({r["prompt"] for r in rows}) == 3
    assert {"id", "prompt", "response", "score", "finished", "entity", "harmful", "false_claims", "account"} <= set(rows[0])
    assert all(isinstance(r["false_claims"], int) for r in rows)
    base = search_rumours(zoo.load_causal_lm("tinygpt-l"), tok, None, method="base", n_prompts=3, max_new_tokens=6)
    assert [r["prompt"] for r in base] == [r["prompt"] for r in rows]
    with pytest.raises(W2SError, match="EFT is not a search"):
        search_rumours(zoo.load_causal_lm("tinygpt-l"), tok, scorer, method="eft-1")


def test_within_prompt_spearman_hand_case():
    import numpy as np

    from w2s_lib.search.experiment import _within_prompt_spearman

    scores = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [1.0, 1.0, 1.0]])
    gold = np.array([[0.0, 0.5, 1.0], [0.0, 0.5, 1.0], [0.0, 0.5, 1.0]])
    # +1 and −1; the third prompt's score does not vary, so it is left out
    assert _within_prompt_spearman(scores, gold) == pytest.approx(0.0)
    assert _within_prompt_spearman(scores[:1], gold[:1]) == pytest.approx(1.0)
    assert np.isnan(_within_prompt_spearman(scores[2:], gold[2:]))


def test_pair_check_reports_chunks_and_the_full_score(micro_zoo_env):
    from w2s_lib.search.experiment import pair_check

    cfg = SearchConfig.for_preset("smoke", {"tune_prompts": 6, "tune_samples": 3, "tuning.batch_size": 2,
                                            "max_new_tokens": 8, "cbs": (2, 2, 3)})
    r = pair_check(cfg, n_prompts=3, samples=3).result
    assert [c["chunk"] for c in r["chunks"]] == list(range(1, len(r["chunks"]) + 1))
    assert all(c["tokens"] == 3 * c["chunk"] for c in r["chunks"]) and 0 < r["chunks"][0]["open"] <= 1
    assert r["full"]["base_mean"] <= r["full"]["oracle_best"] and r["full"]["pair_pick"] <= r["full"]["oracle_best"]
    assert {"score", "gold", "mean_tokens"} <= set(r["length"]) and isinstance(r["tuned_alone"], float)


def test_the_pair_is_tuned_once_for_every_search_seed():
    from w2s_lib.search.experiment import _tune_cfg

    one, two = (SearchConfig.for_preset("smoke", seed=s) for s in (1, 2))
    assert one.run_id != two.run_id  # the searches differ by seed ...
    assert _tune_cfg(one).run_id == _tune_cfg(two).run_id and _tune_cfg(one).seed == 0  # ... their guide does not
    assert _tune_cfg(one).run_id != _tune_cfg(one.replace(tune_prompts=7)).run_id  # a tuning knob does change it


def test_chunk_sweep_runs_base_bon_and_cbs_per_chunk_length_on_held_out_prompts(micro_zoo_env):
    from w2s_lib.search.experiment import chunk_sweep

    # summaries: the sweep also reports each prompt's number of facts (the smoke preset's bios have none)
    cfg = SearchConfig.for_preset("smoke", {"tune_prompts": 6, "tune_samples": 3, "tuning.batch_size": 2,
                                            "max_new_tokens": 8, "cbs": (2, 2, 3), "prompts": "tiny_summaries",
                                            "gold": "faithfulness"})
    r = chunk_sweep(cfg, n_prompts=3, chunk_lens=(2, 4)).result
    assert list(r["methods"]) == ["base", "bon-4", "cbs-2-2-2", "cbs-2-2-4"]
    assert all(len(v["gold"]) == 3 == len(v["response_tokens"]) for v in r["methods"].values())
    assert len(r["n_facts"]) == 3 and set(r["n_facts"]) <= {2, 3, 4}
    # four candidates sample more base tokens per prompt than one
    assert r["methods"]["bon-4"]["tokens_per_prompt"] > r["methods"]["base"]["tokens_per_prompt"]
    with pytest.raises(W2SError, match="test prompts"):
        chunk_sweep(cfg, first_prompt=10_000)


def test_tune_pairs_pairs_ith_best_with_ith_worst(monkeypatch):
    """Hand case: golds 3, 1, 3, 0, 2, 2 → best vs worst is (sample 0, sample 3); two pairs add (2, 1);
    three pairs add (4, 5) only if the gold separates them (it does not: both 2)."""
    import datasets

    from w2s_lib.search import experiment

    texts = ["a", "b", "c", "d", "e", "f"]
    golds = {"a": 3.0, "b": 1.0, "c": 3.0, "d": 0.0, "e": 2.0, "f": 2.0}
    monkeypatch.setattr(experiment.data, "load", lambda *a, **k: datasets.Dataset.from_dict({"prompt": ["p"]}))
    monkeypatch.setattr(experiment, "sample_n_many", lambda *a, **k: [texts])
    monkeypatch.setattr(experiment, "gold_reward", lambda name: lambda p, t: golds[t])
    cfg = SearchConfig.for_preset("smoke", {"tune_samples": 6})
    pairs = lambda n: [(r["chosen"], r["rejected"]) for r in experiment._generate_pairs(cfg.replace(tune_pairs=n), None, None)]
    assert pairs(1) == [("a", "d")]  # as argmax / argmin: first index among ties
    assert pairs(2) == [("a", "d"), ("c", "b")]
    assert pairs(3) == [("a", "d"), ("c", "b")]  # e vs f: a tie carries no preference
    assert cfg.replace(tune_pairs=1).run_id == cfg.run_id  # the default keeps cached runs' ids


def test_length_controlled_pairs_compare_replies_of_one_sentence_count(monkeypatch):
    """Hand case: one-sentence replies a (gold 1), b (0); two-sentence c (3), d (2), e (2); three-sentence f (5).
    Any two: best f vs worst b. Same sentence count: a vs b, then c vs d; f alone makes no pair."""
    import datasets

    from w2s_lib.data.tinyworld import scorers
    from w2s_lib.search import experiment

    texts = ["A.", "B.", "C. C.", "D. D.", "E. E.", "F. F. F"]
    golds = dict(zip(texts, (1.0, 0.0, 3.0, 2.0, 2.0, 5.0)))
    monkeypatch.setattr(experiment.data, "load", lambda *a, **k: datasets.Dataset.from_dict({"prompt": ["p"]}))
    monkeypatch.setattr(experiment, "sample_n_many", lambda *a, **k: [texts])
    monkeypatch.setattr(experiment, "gold_reward", lambda name: lambda p, t: golds[t])
    cfg = SearchConfig.for_preset("smoke", {"tune_samples": 6})
    pairs = lambda c: [(r["chosen"], r["rejected"]) for r in experiment._generate_pairs(c, None, None)]
    assert pairs(cfg) == [("F. F. F", "B.")]
    assert pairs(cfg.replace(tune_match="sentences")) == [("A.", "B."), ("C. C.", "D. D.")]
    assert [scorers.n_sentences(t) for t in ("", "Hi", "A. B!\nC?", "x...")] == [0, 1, 3, 1]
    assert cfg.replace(tune_match="none").run_id == cfg.run_id  # the default keeps cached runs' ids


def test_prefix_matched_pairs_share_a_prefix_and_differ_in_the_next_sentence(monkeypatch):
    """Hand case, three prompts: one sample each gives the prefix (prompt i keeps its first i % 3 sentences);
    each prompt's continuations are cut after their first sentence and appended; the pair is best vs worst."""
    import datasets

    from w2s_lib.search import experiment

    calls = []

    def fake_sample(model, tok, prompts, n, **kw):
        calls.append((prompts, n, kw["max_new_tokens"]))
        if n == 1:  # the prefixes' samples
            return [[" P1. P2. P3."]] * len(prompts)
        return [[" Good. tail", " Bad. tail", ""]] * len(prompts)

    golds = lambda p, t: t.count("Good") - t.count("Bad")
    monkeypatch.setattr(experiment.data, "load",
                        lambda *a, **k: datasets.Dataset.from_dict({"prompt": ["p0", "p1", "p2"]}))
    monkeypatch.setattr(experiment, "sample_n_many", fake_sample)
    monkeypatch.setattr(experiment, "gold_reward", lambda name: golds)
    cfg = SearchConfig.for_preset("smoke", {"tune_samples": 3, "tune_match": "prefix"})
    rows = experiment._generate_pairs(cfg, None, None)
    assert [(r["chosen"], r["rejected"]) for r in rows] == [
        (" Good.", " Bad."), (" P1. Good.", " P1. Bad."), (" P1. P2. Good.", " P1. P2. Bad.")]
    # the continuations are sampled after each prompt's own prefix, a sentence's worth of tokens at most
    assert calls[1][0] == ["p0", "p1 P1.", "p2 P1. P2."] and calls[1][2] == experiment.CONTINUATION_TOKENS
    assert experiment.first_sentence(" A lives in Oslo. A has a cat.") == " A lives in Oslo."
    assert experiment.first_sentence(" A lives") == " A lives" and experiment.first_sentence("") == ""


def test_extension_pairs_continue_a_reply_by_its_best_next_sentence():
    """Hand case with a gold that counts distinct wanted words (job, city, pet) and costs one per "wrong": the reply
    " A job." is extended by the sampled sentence that adds most (" A city.", +1: first among equals with " A pet."),
    against a restatement of its own (" A job.", +0) and against the sampled sentence that adds least (" A wrong.", −1)."""
    from w2s_lib.search.experiment import extension_pairs

    def gold(prompt, text):
        return len({w for w in ("job", "city", "pet") if w in text}) - text.count("wrong")

    samples = [" A job. A city.", " A pet. A wrong.", " A job."]
    assert extension_pairs("p", " A job.", samples, gold) == [(" A job. A city.", " A job. A job."),
                                                              (" A job. A city.", " A job. A wrong.")]
    # nothing new to add: no pair; a reply with no sentence of its own is paired only against the worst sample
    assert extension_pairs("p", " A job. A city. A pet.", samples, gold) == []
    assert extension_pairs("p", "", samples, gold) == [(" A job.", " A wrong.")]


def test_tune_extend_adds_extension_pairs_of_the_best_distinct_samples(monkeypatch):
    """Hand case: samples " A job." (gold 1), " A city." (1), " A job." (1 again), "" (0): best vs worst, then
    with tune_extend=2 the two best *distinct* samples extended (the duplicate is not extended twice)."""
    import datasets

    from w2s_lib.search import experiment

    texts = [" A job.", " A city.", " A job.", ""]
    gold = lambda p, t: len({w for w in ("job", "city") if w in t})
    monkeypatch.setattr(experiment.data, "load", lambda *a, **k: datasets.Dataset.from_dict({"prompt": ["p"]}))
    monkeypatch.setattr(experiment, "sample_n_many", lambda *a, **k: [texts])
    monkeypatch.setattr(experiment, "gold_reward", lambda name: gold)
    cfg = SearchConfig.for_preset("smoke", {"tune_samples": 4})
    pairs = lambda c: [(r["chosen"], r["rejected"]) for r in experiment._generate_pairs(c, None, None)]
    assert pairs(cfg) == [(" A job.", "")]
    assert pairs(cfg.replace(tune_extend=2)) == [(" A job.", ""), (" A job. A city.", " A job. A job."),
                                                 (" A city. A job.", " A city. A city.")]
    assert cfg.replace(tune_extend=0).run_id == cfg.run_id  # the default keeps cached runs' ids
