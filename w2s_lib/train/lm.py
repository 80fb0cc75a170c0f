"""Causal-LM primitives every paper's code shares: token and sequence log-probabilities.

One home for "how likely is this text under that model": reward heads that read an LM's own likelihood
(Part I), the search scorer's log π_tuned − log π_untuned (Part II), MACPO's perplexity-chosen positives
(Part III) and the DPO/SimPO margins of the deception chapter (Part IV) all call these.

:func:`answer_batch` is the batch of "learn the answer, not the prompt" fine-tuning: the chess ladder's
move-token pretraining and its fine-tuning on (position, move) pairs share it.
"""

from __future__ import annotations

import torch


def token_logprobs(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """``[B, T−1]``: log p(ids[t] | ids[<t]) from a causal LM's ``logits`` ``[B, T, V]`` (float32 softmax)."""
    return torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, input_ids[:, 1:, None])[..., 0]


def _padded_token_logprobs(model, sequences: list[list[int]], starts: list[int], pad_id: int, batch_size: int | None):
    """Per batch of ``batch_size`` sequences (all at once by default), right-padded with ``pad_id``:
    ``(logp [B, T−1], mask [B, T−1])`` — log p(ids[t] | ids[<t]) on the model's device (graph kept when gradients
    are on) and 1 where ``t ≥ starts[i]`` within the sequence (the tokens to sum), on the CPU."""
    step = batch_size or max(1, len(sequences))
    device = next(model.parameters()).device
    for lo in range(0, len(sequences), step):
        chunk, chunk_starts = sequences[lo:lo + step], starts[lo:lo + step]
        width = max(len(q) for q in chunk)
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        attn = torch.zeros_like(ids)
        mask = torch.zeros(len(chunk), width - 1) if width > 1 else torch.zeros(len(chunk), 0)
        for i, (q, s) in enumerate(zip(chunk, chunk_starts)):
            ids[i, :len(q)] = torch.tensor(q)
            attn[i, :len(q)] = 1
            mask[i, s - 1:len(q) - 1] = 1
        ids, attn = ids.to(device), attn.to(device)
        yield token_logprobs(model(input_ids=ids, attention_mask=attn).logits, ids), mask


def sequence_logprobs(model, sequences: list[list[int]], starts: list[int], pad_id: int = 0,
                      batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed log-probability of ``sequences[i][starts[i]:]`` given ``sequences[i][:starts[i]]``, and the
    number of tokens summed: ``(logp_sum [N], n_tokens [N])`` on the CPU.

    Right padding with ``pad_id`` (masked out of attention and of the sum), ``batch_size`` sequences per
    forward pass (all at once by default). The graph is kept when gradients are on (DPO margins); wrap
    the call in ``torch.no_grad()`` for scoring. ``starts[i] ≥ 1``: the first token has no prediction; a
    start at or past the end (a response truncated away) sums nothing.
    """
    if len(sequences) != len(starts):
        raise ValueError(f"{len(sequences)} sequences but {len(starts)} start positions")
    if any(s < 1 for s in starts):
        raise ValueError("every start must be ≥ 1: the first token has no prediction")
    sums, counts = [], []
    for lp, mask in _padded_token_logprobs(model, sequences, starts, pad_id, batch_size):
        mask = mask.to(lp.device)
        sums.append((lp * mask).sum(1).cpu() if not lp.requires_grad else (lp * mask).sum(1))
        counts.append(mask.sum(1).cpu())
    if not sums:
        return torch.zeros(0), torch.zeros(0)
    return torch.cat(sums), torch.cat(counts)


@torch.no_grad()
def response_token_logprobs(model, prompt_ids: list[int], responses: list[list[int]], batch_size: int = 32,
                            pad_id: int = 0) -> torch.Tensor:
    """``[N, max response length]``: log p(responses[i][t] | prompt, responses[i][<t]), zero past each response's
    end — one forward pass per batch, so every prefix's summed log-probability is a cumulative sum of a row
    (what :func:`sequence_logprobs` gives for the truncated response, up to float rounding)."""
    if not prompt_ids:
        raise ValueError("the prompt has no tokens: the first response token would have no prediction")
    start = len(prompt_ids)
    out = torch.zeros(len(responses), max((len(r) for r in responses), default=0))
    row = 0
    for lp, mask in _padded_token_logprobs(model, [prompt_ids + r for r in responses], [start] * len(responses),
                                           pad_id, batch_size):
        part = lp[:, start - 1:].cpu() * mask[:, start - 1:]
        out[row:row + len(part), : part.shape[1]] = part
        row += len(part)
    return out


def answer_batch(p_ids: list[list[int]], a_ids: list[list[int]], idx: list[int], pad_id: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows ``idx`` of (prompt, answer) token lists as one right-padded batch for a loss on the answers only:
    ``ids`` (prompt then answer, ``pad_id`` after) and ``labels`` (-100 except on the answer's tokens)."""
    width = max(len(p_ids[i]) + len(a_ids[i]) for i in idx)
    ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
    labels = torch.full_like(ids, -100)
    for r, i in enumerate(idx):
        lp, la = len(p_ids[i]), len(a_ids[i])
        ids[r, : lp + la] = torch.tensor(p_ids[i] + a_ids[i])
        labels[r, lp: lp + la] = ids[r, lp: lp + la]
    return ids, labels
