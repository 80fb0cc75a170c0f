"""DPO and SFT through TRL on the micro zoo: the trained model moves the way the data says."""

import datasets
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from w2s_lib.core.errors import W2SError
from w2s_lib.search.scorer import response_logprob
from w2s_lib.train.preference import dpo_train, sft_train

PROMPT = "Review: The screen is"
GOOD, BAD = " great.", " awful."


@pytest.fixture(scope="module")
def micro(micro_zoo):
    return micro_zoo[1]["tinygpt-xs"]


def _margin(model, tok):
    p = tok(PROMPT, add_special_tokens=False)["input_ids"]
    g, b = (tok(x, add_special_tokens=False)["input_ids"] for x in (GOOD, BAD))
    lp = response_logprob(model, p, [g, b])
    return float(lp[0] - lp[1])


def test_dpo_raises_the_chosen_margin(micro):
    tok = AutoTokenizer.from_pretrained(micro)
    model = AutoModelForCausalLM.from_pretrained(micro)
    before = _margin(model, tok)
    pairs = datasets.Dataset.from_dict({"prompt": [PROMPT] * 16, "chosen": [GOOD] * 16, "rejected": [BAD] * 16})
    model = dpo_train(model, tok, pairs, beta=0.1, lr=1e-3, epochs=2, batch_size=8)
    assert _margin(model, tok) > before + 0.5


def test_dpo_with_a_precomputed_reference_trains_the_same_model(micro, monkeypatch):
    from trl import DPOTrainer

    tok = AutoTokenizer.from_pretrained(micro)
    pairs = datasets.Dataset.from_dict({"prompt": [PROMPT] * 16, "chosen": [GOOD] * 16, "rejected": [BAD] * 16})
    passes, real = [], DPOTrainer._precompute_ref_logps
    monkeypatch.setattr(DPOTrainer, "_precompute_ref_logps", lambda self, *a: passes.append(1) or real(self, *a))
    trained = []
    for pre in (False, True):
        trained.append(dpo_train(AutoModelForCausalLM.from_pretrained(micro), tok, pairs, beta=0.1, lr=1e-3,
                                 epochs=2, batch_size=8, precompute_ref=pre))
        assert len(passes) == int(pre)                               # the reference pass runs only when asked
    base = AutoModelForCausalLM.from_pretrained(micro)
    for (name, a), b, c in zip(trained[0].named_parameters(), trained[1].parameters(), base.parameters()):
        assert torch.allclose(a, b, atol=1e-5), name                 # same updates, reference read once
    assert any(not torch.allclose(a, c) for a, c in zip(trained[0].parameters(), base.parameters()))  # it trained


def test_sft_learns_the_completion(micro):
    tok = AutoTokenizer.from_pretrained(micro)
    model = AutoModelForCausalLM.from_pretrained(micro)
    before = _margin(model, tok)
    rows = datasets.Dataset.from_dict({"prompt": [PROMPT] * 16, "completion": [GOOD] * 16})
    model = sft_train(model, tok, rows, lr=5e-3, epochs=3, batch_size=8)
    assert _margin(model, tok) > before + 0.5


def test_trainings_leave_no_output_folder_behind(micro, tmp_path, monkeypatch):
    # TRL wants an output folder even with saving off; one per training, never removed, left thousands of empty
    # w2s-trl-* folders in the temp dir over a few reproduces
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    tok = AutoTokenizer.from_pretrained(micro)
    model = AutoModelForCausalLM.from_pretrained(micro)
    dpo_train(model, tok, datasets.Dataset.from_dict({"prompt": [PROMPT] * 4, "chosen": [GOOD] * 4,
                                                      "rejected": [BAD] * 4}), epochs=1, batch_size=4)
    sft_train(model, tok, datasets.Dataset.from_dict({"prompt": [PROMPT] * 4, "completion": [GOOD] * 4}),
              epochs=1, batch_size=4)
    assert list(tmp_path.iterdir()) == []


def test_bad_columns_are_one_line_errors(micro):
    tok = AutoTokenizer.from_pretrained(micro)
    model = AutoModelForCausalLM.from_pretrained(micro)
    with pytest.raises(W2SError, match="missing \\['rejected'\\]"):
        dpo_train(model, tok, datasets.Dataset.from_dict({"prompt": ["a"], "chosen": ["b"]}))
    with pytest.raises(W2SError, match="empty dataset"):
        sft_train(model, tok, datasets.Dataset.from_dict({"prompt": [], "completion": []}))


@pytest.mark.parametrize("config", ["DPOConfig", "SFTConfig"])
def test_trl_trainings_run_in_fp32_on_the_cpu(config, monkeypatch):
    # TRL 1.x configs default to bf16=True, which transformers 5.25 / accelerate 1.16 honour on the CPU as bf16
    # autocast (DPO six times slower, other weights); the precision is the library's choice, not the release's
    import torch
    import trl

    from w2s_lib.train.preference import _common_args

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    args = getattr(trl, config)(**_common_args("unused", 1e-3, 1.0, 8, 0, False))
    assert (args.bf16, args.fp16, args.use_cpu) == (False, False, True)
