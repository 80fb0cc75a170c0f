"""train/lm.py on a random tiny GPT-2: the batched, padded log-probs equal one-at-a-time sums by hand."""

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from w2s_lib.train import lm


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=11, n_positions=16, n_embd=8, n_layer=1, n_head=2)).eval()


def _by_hand(model, seq, start):
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([seq])).logits[0].float()
    logp = torch.log_softmax(logits, -1)
    return sum(float(logp[t - 1, seq[t]]) for t in range(start, len(seq)))


def test_sequence_logprobs_equal_a_sum_by_hand_despite_padding_and_batching(model):
    seqs = [[1, 2, 3, 4, 5], [6, 7], [3, 3, 3, 9, 10, 1, 2]]
    starts = [2, 1, 4]
    with torch.no_grad():
        for batch in (None, 1, 2):
            total, n = lm.sequence_logprobs(model, seqs, starts, pad_id=0, batch_size=batch)
            assert n.tolist() == [3, 1, 3]
            for s, st, v in zip(seqs, starts, total.tolist()):
                assert v == pytest.approx(_by_hand(model, s, st), abs=1e-5)


def test_token_logprobs_shape_and_values(model):
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        lp = lm.token_logprobs(model(input_ids=ids).logits, ids)
    assert lp.shape == (1, 2)
    assert float(lp.sum()) == pytest.approx(_by_hand(model, [1, 2, 3], 1), abs=1e-5)


def test_bad_starts_are_clear_errors(model):
    with pytest.raises(ValueError, match="first token has no prediction"):
        lm.sequence_logprobs(model, [[1, 2]], [0])
    with torch.no_grad():  # a start past the end (a response truncated away) sums nothing
        total, n = lm.sequence_logprobs(model, [[1, 2]], [5])
    assert total.tolist() == [0.0] and n.tolist() == [0.0]
    with pytest.raises(ValueError, match="2 sequences but 1 start"):
        lm.sequence_logprobs(model, [[1, 2], [3]], [1])


def test_answer_batch_pads_right_and_labels_only_the_answers():
    from w2s_lib.train.lm import answer_batch

    p_ids, a_ids = [[5, 6], [7], [8, 9, 10]], [[1], [2, 3], [4]]
    ids, labels = answer_batch(p_ids, a_ids, [1, 0], pad_id=0)
    assert ids.tolist() == [[7, 2, 3], [5, 6, 1]]
    assert labels.tolist() == [[-100, 2, 3], [-100, -100, 1]]
    ids, labels = answer_batch(p_ids, a_ids, [2, 1], pad_id=0)
    assert ids.tolist() == [[8, 9, 10, 4], [7, 2, 3, 0]] and labels.tolist() == [[-100, -100, -100, 4], [-100, 2, 3, -100]]
