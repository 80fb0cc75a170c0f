"""Weak-to-strong search on the micro zoo: equivalences with plain sampling and full recomputation."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from w2s_lib.core.errors import W2SError
from w2s_lib.search import PairScorer, best_of_n, chunk_beam_search, eft_sample, sample
from w2s_lib.search.decoding import CachedLM, sample_next
from w2s_lib.search.scorer import response_logprob

PROMPT = "Review: I bought this lamp last week. The"


@pytest.fixture(scope="module")
def models(micro_zoo):
    paths = micro_zoo[1]
    load = lambda n: AutoModelForCausalLM.from_pretrained(paths[n]).eval()  # noqa: E731
    tok = AutoTokenizer.from_pretrained(paths["tinygpt-xs"])
    return {"base": load("tinygpt-l"), "tuned": load("tinygpt-s"), "untuned": load("tinygpt-xs"), "tok": tok}


def _reference_sample(model, tok, prompt, n, seed, **kw):
    """Plain sampling that recomputes the whole sequence every step (no cache)."""
    gen = torch.Generator().manual_seed(seed)
    ids = tok(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    out = []
    for _ in range(n):
        logp = model(input_ids=ids).logits[:, -1].float().log_softmax(-1)
        t = sample_next(logp, generator=gen, **kw)
        out.append(int(t))
        if int(t) == tok.eos_token_id:
            break
        ids = torch.cat([ids, t.view(1, 1)], 1)
    return out


def test_cbs_1_1_inf_equals_plain_sampling(models):
    kw = dict(temperature=0.7, top_k=50, top_p=1.0)
    for seed in (0, 1, 2):
        got = sample(models["base"], models["tok"], PROMPT, max_new_tokens=12, seed=seed, **kw)
        ref = _reference_sample(models["base"], models["tok"], PROMPT, 12, seed, **kw)
        eos = models["tok"].eos_token_id
        assert got.response_ids == [t for t in ref if t != eos][:len(got.response_ids)]
        assert len(got.response_ids) == len([t for t in ref if t != eos])


def test_cache_reordering_matches_recomputation(models):
    base, tok = models["base"], models["tok"]
    prompt = torch.tensor(tok(PROMPT, add_special_tokens=False)["input_ids"])
    lm = CachedLM(base)
    lm.prefill(prompt, 3)
    rows = torch.tensor([[5, 6], [7, 8], [9, 10]])
    for j in range(2):
        lm.step(rows[:, j])
    keep = torch.tensor([2, 2, 0])
    lm.select(keep)
    with torch.no_grad():
        full = torch.cat([prompt.expand(3, -1), rows[keep]], 1)
        ref = base(input_ids=full).logits[:, -1].float().log_softmax(-1)
    torch.testing.assert_close(lm.last_logprobs, ref, atol=1e-4, rtol=1e-4)


def test_incremental_score_equals_full_rescoring(models):
    scorer = PairScorer(models["tuned"], models["untuned"], models["tok"])
    fast = chunk_beam_search(models["base"], models["tok"], PROMPT, scorer, width=2, successors=2, chunk_len=3,
                             max_new_tokens=9, seed=3, incremental=True)
    slow = chunk_beam_search(models["base"], models["tok"], PROMPT, scorer, width=2, successors=2, chunk_len=3,
                             max_new_tokens=9, seed=3, incremental=False)
    prompt_ids = models["tok"](PROMPT, add_special_tokens=False)["input_ids"]
    direct = float(response_logprob(models["tuned"], prompt_ids, [fast.response_ids])[0]
                   - response_logprob(models["untuned"], prompt_ids, [fast.response_ids])[0])
    assert fast.score == pytest.approx(direct, abs=1e-3)
    # the text path re-tokenises decoded text (BPE may split it differently from the sampled ids), so it
    # is checked against its own definition: the scorer applied to the returned text
    assert slow.score == pytest.approx(float(scorer.score_texts(PROMPT, [slow.text])[0]), abs=1e-3)


def test_bon_picks_the_max_score_sample(models):
    tok, scorer = models["tok"], PairScorer(models["tuned"], models["untuned"], models["tok"])
    n = 6
    res = best_of_n(models["base"], tok, PROMPT, scorer, n=n, max_new_tokens=8, seed=5)
    # the same N samples, drawn as one batch with the same generator, scored one by one
    cand = chunk_beam_search(models["base"], tok, PROMPT, scorer, width=n, successors=1, chunk_len=None,
                             max_new_tokens=8, seed=5)
    prompt_ids = tok(PROMPT, add_special_tokens=False)["input_ids"]
    assert res.response_ids == cand.response_ids
    assert res.account["base_tokens_sampled"] <= n * 8
    all_scores = []
    # re-derive every candidate by replaying the batch sampling
    lm = CachedLM(models["base"])
    gen = torch.Generator().manual_seed(5)
    lm.prefill(torch.tensor(prompt_ids), n)
    seqs, done = [[] for _ in range(n)], torch.zeros(n, dtype=torch.bool)
    for _ in range(8):
        t = sample_next(lm.last_logprobs, 0.7, 50, 1.0, gen)
        t = torch.where(done, torch.full_like(t, tok.eos_token_id), t)
        lm.step(t)
        for i in range(n):
            if not done[i] and int(t[i]) != tok.eos_token_id:
                seqs[i].append(int(t[i]))
        done |= t == tok.eos_token_id
        if done.all():
            break
    all_scores = (response_logprob(models["tuned"], prompt_ids, seqs) - response_logprob(models["untuned"], prompt_ids, seqs))
    assert res.score == pytest.approx(float(all_scores.max()), abs=1e-3)
    assert res.response_ids == seqs[int(all_scores.argmax())]


def test_eft_beta_zero_equals_base(models):
    scorer = PairScorer(models["tuned"], models["untuned"], models["tok"])
    for seed in (0, 4):
        eft = eft_sample(models["base"], models["tok"], PROMPT, scorer, beta=0.0, max_new_tokens=10, seed=seed)
        base = sample(models["base"], models["tok"], PROMPT, max_new_tokens=10, seed=seed)
        assert eft.response_ids == base.response_ids


def test_cbs_account_and_errors(models):
    scorer = PairScorer(models["tuned"], models["untuned"], models["tok"])
    res = chunk_beam_search(models["base"], models["tok"], PROMPT, scorer, width=2, successors=3, chunk_len=4,
                            max_new_tokens=8, seed=0)
    assert res.account["base_tokens_sampled"] <= 2 * 3 * 8 and res.account["scorer_tokens_run"] > 0
    with pytest.raises(W2SError, match="width W must be a positive integer"):
        chunk_beam_search(models["base"], models["tok"], PROMPT, scorer, width=0)
    with pytest.raises(W2SError, match="needs a scorer"):
        chunk_beam_search(models["base"], models["tok"], PROMPT, None, width=2, successors=2)
    with pytest.raises(W2SError, match="prompt is empty"):
        sample(models["base"], models["tok"], "")
