"""Weak-to-strong search on the micro zoo: equivalences with plain sampling and full recomputation, and the
official decoding rules (EOS term at the final selection, joint tokenisation, templates, temperature 0,
deduplicated ended beams, batching across prompts)."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from w2s_lib.core.errors import W2SError
from w2s_lib.search import PairScorer, best_of_n, chunk_beam_search, eft_sample, sample, search_many
from w2s_lib.search.cbs import dedupe_finished
from w2s_lib.search.decoding import CachedLM, sample_continuations, sample_next, search_temperature
from w2s_lib.search.scorer import joint_response_ids, response_logprob

PROMPT = "Review: I bought this lamp last week. The"
PROMPTS = [PROMPT, "Review: We had lunch at this cafe. The sauce is", "Review: Hi. The"]


@pytest.fixture(scope="module")
def models(micro_zoo):
    paths = micro_zoo[1]
    load = lambda n: AutoModelForCausalLM.from_pretrained(paths[n]).eval()  # noqa: E731
    tok = AutoTokenizer.from_pretrained(paths["tinygpt-xs"])
    return {"base": load("tinygpt-l"), "tuned": load("tinygpt-s"), "untuned": load("tinygpt-xs"), "tok": tok}


def _ratio(models, prompt_ids, responses):
    return (response_logprob(models["tuned"], prompt_ids, responses)
            - response_logprob(models["untuned"], prompt_ids, responses))


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


def test_preallocated_cache_grows_and_reorders_as_the_dynamic_cache(models):
    """Past the buffer's first capacity (prompt + 32 positions) and through reorders, CachedLM's preallocated
    cache gives bit-identical next-token log-probs to the library's DynamicCache (torch.cat per step)."""
    from transformers import DynamicCache

    import w2s_lib.search.decoding as decoding

    base, tok = models["base"], models["tok"]
    prompts = [tok(p, add_special_tokens=False)["input_ids"] for p in PROMPTS]
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(5, 60, (45, 6), generator=gen)
    keeps = {10: torch.tensor([5, 5, 0, 1, 3, 2]), 33: torch.tensor([1, 0, 4, 4, 2, 5])}

    def run(cache_factory):
        old, decoding._preallocated_cache = decoding._preallocated_cache, cache_factory
        try:
            lm, out = CachedLM(base), []
            lm.prefill_many(prompts, 2)
            for t in range(len(tokens)):
                lm.step(tokens[t])
                if t in keeps:
                    lm.select(keeps[t])
                out.append(lm.last_logprobs)
            return torch.stack(out)
        finally:
            decoding._preallocated_cache = old

    assert isinstance(decoding._preallocated_cache(base.config).layers[0], decoding.PreallocatedLayer)
    assert torch.equal(run(decoding._preallocated_cache), run(lambda config, reserve=0: DynamicCache(config=config)))


def test_steps_of_several_tokens_match_one_token_steps(models):
    """T tokens in one ``steps`` call (the pair's lazy read at a chunk boundary) give what T ``step`` calls
    give, through left-padded prompts of three lengths, a reorder that drops and repeats rows and a cache
    that outgrows its first buffer."""
    base, tok = models["base"], models["tok"]
    prompts = [tok(p, add_special_tokens=False)["input_ids"] for p in PROMPTS]
    many, single = CachedLM(base), CachedLM(base)
    for lm in (many, single):
        lm.prefill_many(prompts, 2)
    gen = torch.Generator().manual_seed(0)
    for t in range(16):
        if t == 7:
            for lm in (many, single):
                lm.select(torch.tensor([5, 5, 0, 1, 3, 2]))
        tokens = torch.randint(5, 60, (6, 3), generator=gen)
        got = many.steps(tokens)
        alone = torch.stack([single.step(tokens[:, j]) for j in range(3)], 1)
        torch.testing.assert_close(got, alone, atol=2e-5, rtol=1e-5)
        torch.testing.assert_close(many.last_logprobs, single.last_logprobs, atol=2e-5, rtol=1e-5)


def test_preallocated_layer_reorders_into_its_spare_buffer_as_a_dynamic_layer_does():
    """Reorders that drop, repeat and add rows, each followed by updates that outgrow the buffer: the layer that
    copies into a kept spare buffer holds exactly what transformers' DynamicLayer (a fresh index_select) holds."""
    from transformers.cache_utils import DynamicLayer

    from w2s_lib.search.decoding import PreallocatedLayer

    gen = torch.Generator().manual_seed(0)
    ours, ref = PreallocatedLayer(), DynamicLayer()
    rows, storages = 6, set()
    plan = [(5, None), (3, [5, 5, 0, 1]), (20, [3, 2, 1, 0, 0, 1, 2]), (1, [6, 0]), (30, [0, 1, 1, 0, 1, 0]), (2, None)]
    for new, keep in plan:
        if keep is not None:
            ours.reorder_cache(torch.tensor(keep))
            ref.reorder_cache(torch.tensor(keep))
            rows = len(keep)
            storages.add(ours.buf_k.untyped_storage().data_ptr())
        k, v = (torch.randn(rows, 2, new, 4, generator=gen) for _ in range(2))
        got, want = ours.update(k, v), ref.update(k, v)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    assert len(storages) < 4  # buffers were reused, not allocated per reorder


def test_left_padded_prompts_match_each_prompt_alone(models):
    base, tok = models["base"], models["tok"]
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in PROMPTS]
    assert len({len(i) for i in ids}) == 3  # three lengths: the batch is padded
    lm = CachedLM(base)
    lm.prefill_many(ids, 2)
    steps = torch.tensor([[5, 6, 7, 8, 9, 10], [11, 12, 13, 14, 15, 16]]).T  # rows × 2 steps
    for j in range(2):
        lm.step(steps[:, j])
    lm.select(torch.tensor([5, 4, 1]))  # drop rows, keep a mix of prompts
    with torch.no_grad():
        for got, (p, r) in zip(lm.last_logprobs, [(2, 5), (2, 4), (0, 1)]):
            ref = base(input_ids=torch.tensor([ids[p] + steps[r].tolist()])).logits[0, -1].float().log_softmax(-1)
            torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)


def test_batched_search_equals_one_prompt_at_a_time(models):
    scorer = PairScorer(models["tuned"], models["untuned"], models["tok"])
    kw = dict(width=2, successors=3, chunk_len=3, max_new_tokens=10, temperature=0.9, top_k=20)
    many = search_many(models["base"], models["tok"], PROMPTS, scorer, seeds=[4, 5, 6], **kw)
    for p, s, got in zip(PROMPTS, (4, 5, 6), many):
        one = chunk_beam_search(models["base"], models["tok"], p, scorer, seed=s, **kw)
        assert got.response_ids == one.response_ids
        assert got.score == pytest.approx(one.score, abs=1e-4)
        assert got.account == one.account


def test_final_score_includes_the_eos_term_for_every_row(models):
    """Hand check: the returned score is Σ log-ratio of the response *plus EOS*, whether it ended or was cut."""
    tok, scorer = models["tok"], PairScorer(models["tuned"], models["untuned"], models["tok"])
    prompt_ids = tok(PROMPT, add_special_tokens=False)["input_ids"]
    cut = 0
    for seed, max_new in ((3, 3), (4, 3), (5, 3), (3, 9)):  # 3 tokens: mostly cut by the length limit
        res = chunk_beam_search(models["base"], tok, PROMPT, scorer, width=2, successors=2, chunk_len=3,
                                max_new_tokens=max_new, seed=seed, incremental=True)
        with_eos = float(_ratio(models, prompt_ids, [res.response_ids + [tok.eos_token_id]])[0])
        assert res.score == pytest.approx(with_eos, abs=1e-3)
        if not res.finished:
            cut += 1
            without = float(_ratio(models, prompt_ids, [res.response_ids])[0])
            assert res.score != pytest.approx(without, abs=1e-3)  # the EOS term is really there
    assert cut >= 1  # the rule was checked on a row cut off by the length limit


def test_bon_picks_the_max_score_sample_with_eos_terms(models):
    tok, scorer = models["tok"], PairScorer(models["tuned"], models["untuned"], models["tok"])
    n = 6
    res = best_of_n(models["base"], tok, PROMPT, scorer, n=n, max_new_tokens=8, seed=5)
    prompt_ids = tok(PROMPT, add_special_tokens=False)["input_ids"]
    assert res.account["base_tokens_sampled"] <= n * 8
    # replay the batch sampling, then score every candidate with EOS appended (ended or cut)
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
    all_scores = _ratio(models, prompt_ids, [s + [tok.eos_token_id] for s in seqs])
    assert res.score == pytest.approx(float(all_scores.max()), abs=1e-3)
    assert res.response_ids == seqs[int(all_scores.argmax())]


def test_text_path_and_cached_path_agree_on_the_eos_term(models):
    """The same token ids scored both ways, ended and not ended, give the same numbers."""
    tok, scorer = models["tok"], PairScorer(models["tuned"], models["untuned"], models["tok"])
    text = " screen is good. Rating: positive."
    ids = tok(PROMPT + text, add_special_tokens=False)["input_ids"][len(tok(PROMPT, add_special_tokens=False)["input_ids"]):]
    inc = scorer.incremental([PROMPT], 1)
    for t in ids:
        inc.step(torch.tensor([t]), torch.tensor([True]))
    cached_open = float(inc.scores[0])
    cached_ended = cached_open + float(inc.eos_term(tok.eos_token_id)[0])
    assert float(scorer.score_texts(PROMPT, [text], eos=False)[0]) == pytest.approx(cached_open, abs=1e-3)
    assert float(scorer.score_texts(PROMPT, [text], eos=True)[0]) == pytest.approx(cached_ended, abs=1e-3)


def test_text_path_tokenises_prompt_and_response_jointly(models):
    tok = models["tok"]
    prompt, response = "Review: The screen is gre", "at."
    p, r = joint_response_ids(tok, prompt, response, eos=False)
    assert tok.convert_ids_to_tokens(p) == ["ĠReview", ":", "ĠThe", "Ġscreen", "Ġis"]  # the common prefix
    assert tok.convert_ids_to_tokens(r) == ["Ġgreat", "."]  # the merged word moved into the response
    assert tok.convert_ids_to_tokens(tok(response, add_special_tokens=False)["input_ids"])[0] != "Ġgreat"
    p2, r2 = joint_response_ids(tok, prompt, response, eos=True)
    assert p2 == p and r2 == r + [tok.eos_token_id]


def test_incremental_and_text_paths_pick_by_their_own_definitions(models):
    scorer = PairScorer(models["tuned"], models["untuned"], models["tok"])
    kw = dict(width=2, successors=2, chunk_len=3, max_new_tokens=9, seed=3)
    slow = chunk_beam_search(models["base"], models["tok"], PROMPT, scorer, incremental=False, **kw)
    # the text path's final score is the scorer applied to the returned text, as an ended response
    assert slow.score == pytest.approx(float(scorer.score_texts(PROMPT, [slow.text], eos=True)[0]), abs=1e-3)


def test_templates_per_model(models):
    """The base reads its template; the pair reads its own (hand check against direct computation)."""
    tok = models["tok"]
    tpl = "Here is a review: {prompt}"
    got = sample(models["base"], tok, PROMPT, max_new_tokens=6, seed=2, base_template=tpl)
    ref = sample(models["base"], tok, "Here is a review: " + PROMPT, max_new_tokens=6, seed=2)
    assert got.response_ids == ref.response_ids
    pair = PairScorer(models["tuned"], models["untuned"], tok, template="Rate: {prompt}")
    ids = tok("Rate: " + PROMPT, add_special_tokens=False)["input_ids"]
    resp = tok(" screen is good.", add_special_tokens=False)["input_ids"]
    assert float(pair.score_texts(PROMPT, [" screen is good."])[0]) == pytest.approx(
        float(_ratio(models, ids, [resp])[0]), abs=1e-3)
    with pytest.raises(W2SError, match="must contain"):
        sample(models["base"], tok, PROMPT, base_template="no slot")


def test_temperature_zero_is_one_and_greedy_is_an_option(models):
    assert search_temperature(0) == 1.0 and search_temperature(None) == 1.0 and search_temperature(0.7) == 0.7
    assert search_temperature(0.7, greedy=True) == 0.0
    tok = models["tok"]
    t0 = sample(models["base"], tok, PROMPT, max_new_tokens=8, seed=1, temperature=0, top_k=0)
    t1 = sample(models["base"], tok, PROMPT, max_new_tokens=8, seed=1, temperature=1.0, top_k=0)
    assert t0.response_ids == t1.response_ids  # the official reading: no temperature warper = T 1
    g = sample(models["base"], tok, PROMPT, max_new_tokens=8, seed=1, greedy=True)
    ref = _reference_sample(models["base"], tok, PROMPT, 8, 0, temperature=0.0)
    assert g.response_ids == [t for t in ref if t != tok.eos_token_id]


def test_ended_beams_are_deduplicated():
    scores = torch.tensor([3.0, 3.0, 2.0, 1.0, 3.0])
    responses = torch.tensor([[1, 2, 0], [1, 2, 0], [1, 3, 4], [5, 6, 7], [1, 2, 0]])
    finished = torch.tensor([True, True, False, False, False])
    out = dedupe_finished(scores, responses, finished)
    # row 1 repeats ended row 0: out; row 4 is the same ids but not ended (eos 0 is not ended here): kept
    assert out.tolist() == [3.0, float("-inf"), 2.0, 1.0, 3.0]
    assert sorted(torch.topk(out, 2).indices.tolist()) == [0, 4]


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
    with pytest.raises(W2SError, match="one seed per prompt"):
        search_many(models["base"], models["tok"], PROMPTS, scorer, seeds=[1, 2])


def test_batched_eft_equals_one_prompt_at_a_time(models):
    from w2s_lib.search import eft_many

    scorer = PairScorer(models["tuned"], models["untuned"], models["tok"])
    many = eft_many(models["base"], models["tok"], PROMPTS, scorer, beta=1.0, max_new_tokens=8, seeds=[1, 2, 3])
    for p, s, got in zip(PROMPTS, (1, 2, 3), many):
        one = eft_sample(models["base"], models["tok"], p, scorer, beta=1.0, max_new_tokens=8, seed=s)
        assert got.response_ids == one.response_ids and got.score == pytest.approx(one.score, abs=1e-4)
        prompt_ids = models["tok"](p, add_special_tokens=False)["input_ids"]
        ids = one.response_ids + ([models["tok"].eos_token_id] if one.finished else [])
        assert one.score == pytest.approx(float(_ratio(models, prompt_ids, [ids])[0]), abs=1e-3)


def test_sample_continuations_greedy_equals_hf_generate(models):
    """Greedy decoding of a left-padded batch (three prompt lengths) gives HF ``generate``'s greedy tokens."""
    base, tok = models["base"], models["tok"]
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in PROMPTS]
    ours = sample_continuations(base, ids, 12, eos_token_id=None, temperature=0.0)
    for p, got in zip(ids, ours):
        ref = base.generate(torch.tensor([p]), attention_mask=torch.ones(1, len(p), dtype=torch.long), do_sample=False,
                            max_new_tokens=12, pad_token_id=0, eos_token_id=None)[0, len(p):].tolist()
        assert got == ref


def test_sample_continuations_cut_at_eos_and_rows_leave(models):
    """Hand-checkable EOS cases. Greedy: declare row 0's first token EOS; row 0 comes back empty (it leaves the
    batch at once) and every other row is what it was, cut before that token if it reaches it. Sampled, one row:
    declare a token the row reaches mid-way EOS; the row stops right before it (same seed, same draws)."""
    base, tok = models["base"], models["tok"]
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in PROMPTS]
    full = sample_continuations(base, ids, 10, eos_token_id=None, temperature=0.0)
    eos = full[0][0]
    cut = sample_continuations(base, ids, 10, eos_token_id=eos, temperature=0.0)
    assert cut[0] == []
    for got, ref in zip(cut, full):
        assert got == (ref[:ref.index(eos)] if eos in ref else ref)
    for seed in range(20):
        seq = sample_continuations(base, ids[:1], 10, None, generator=torch.Generator().manual_seed(seed))[0]
        k = next((k for k in range(1, len(seq)) if seq[k] not in seq[:k]), None)
        if k is not None:
            break
    assert k is not None
    assert sample_continuations(base, ids[:1], 10, seq[k], generator=torch.Generator().manual_seed(seed))[0] == seq[:k]


def test_sample_continuations_sampling_is_seeded_and_matches_recomputation(models):
    """One prompt: the cached sampler draws exactly what a sampler recomputing the whole sequence each step draws
    from the same seeded generator (temperature and top-k included); the global RNG is not touched."""
    base, tok = models["base"], models["tok"]
    p = tok(PROMPT, add_special_tokens=False)["input_ids"]
    state = torch.random.get_rng_state()
    got = sample_continuations(base, [p], 10, tok.eos_token_id, temperature=0.7, top_k=5,
                               generator=torch.Generator().manual_seed(3))[0]
    assert torch.equal(torch.random.get_rng_state(), state)
    ref = _reference_sample(base, tok, PROMPT, 10, 3, temperature=0.7, top_k=5)
    assert got == [t for t in ref if t != tok.eos_token_id]
    batch = [tok(q, add_special_tokens=False)["input_ids"] for q in PROMPTS] * 2
    a, b = (sample_continuations(base, batch, 10, tok.eos_token_id, temperature=1.0,
                                 generator=torch.Generator().manual_seed(5)) for _ in range(2))
    assert a == b and all(len(r) <= 10 and tok.eos_token_id not in r for r in a)


def test_token_ratios_sum_to_every_prefix_score(models):
    """The pair check reads each prefix's score as a cumulative sum of one pass's per-token log-ratios: it must
    equal the score of the prefix truncated and scored by itself (responses of different lengths, one empty)."""
    scorer = PairScorer(models["tuned"], models["untuned"], models["tok"])
    prompt_ids = scorer.prompt_ids(PROMPT)
    responses = [models["tok"](t, add_special_tokens=False)["input_ids"]
                 for t in (" lamp is bright and the base is heavy.", " light is ok.", "")]
    ratios = scorer.token_ratios(prompt_ids, responses)
    assert ratios.shape == (3, len(responses[0]))
    for row, r in zip(ratios, responses):
        assert torch.all(row[len(r):] == 0)
        for t in range(1, len(r) + 1):
            assert float(row[:t].sum()) == pytest.approx(float(_ratio(models, prompt_ids, [r[:t]])[0]), abs=1e-4)
