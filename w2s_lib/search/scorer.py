"""The small-model score of weak-to-strong search.

    score(y≤t | x) = Σ log π_tuned(y≤t | x) − Σ log π_untuned(y≤t | x)

summed over the whole partial response: the log-likelihood ratio of a small tuned model and its
untuned twin, an implicit dense reward (Zhou et al., 2024). Two ways to compute it:

- :meth:`PairScorer.score_texts` — the general path: candidates are *text*, re-tokenised with the small
  models' tokenizer, so the large model may have another vocabulary or be a black box.
- :meth:`PairScorer.incremental` — the fast path when the large model shares the tokenizer: the small
  models follow the same token ids chunk by chunk with their own KV caches, so a chunk never rescores
  the prefix.
"""

from __future__ import annotations

import torch

from w2s_lib.search.decoding import CachedLM, format_prompt


def same_vocabulary(tok_a, tok_b) -> bool:
    return tok_a is tok_b or tok_a.get_vocab() == tok_b.get_vocab()


@torch.no_grad()
def response_logprob(model, prompt_ids: list[int], responses: list[list[int]], batch_size: int = 32) -> torch.Tensor:
    """Σ log p(response | prompt) per response, by full forward passes (no cache; right padding)."""
    out = []
    for start in range(0, len(responses), batch_size):
        chunk = responses[start:start + batch_size]
        seqs = [prompt_ids + r for r in chunk]
        width = max(len(s) for s in seqs)
        ids = torch.zeros(len(seqs), width, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = torch.tensor(s)
            mask[i, :len(s)] = 1
        ids = ids.to(model.device)
        logp = model(input_ids=ids, attention_mask=mask.to(model.device)).logits.float().log_softmax(-1)
        # p(ids[t] | ids[<t]), gathered where the model runs: only these rows × tokens come back to the CPU
        token_logp = logp[:, :-1].gather(2, ids[:, 1:].unsqueeze(-1)).squeeze(-1).cpu()
        for i, r in enumerate(chunk):
            p = len(prompt_ids)
            out.append(token_logp[i, p - 1:p - 1 + len(r)].sum())
    return torch.stack(out) if out else torch.zeros(0)


class IncrementalScore:
    """Running score of W·K rows that advance in lockstep with the large model (same token ids)."""

    def __init__(self, tuned, untuned, prompt_ids: torch.Tensor, n_rows: int):
        self.tuned, self.untuned = CachedLM(tuned), CachedLM(untuned)
        self.tuned.prefill(prompt_ids, n_rows)
        self.untuned.prefill(prompt_ids, n_rows)
        self.scores = torch.zeros(n_rows)

    def step(self, tokens: torch.Tensor, active: torch.Tensor) -> None:
        delta = self.tuned.step(tokens) - self.untuned.step(tokens)
        self.scores += torch.where(active, delta, torch.zeros_like(delta))

    def select(self, indices: torch.Tensor) -> None:
        self.tuned.select(indices)
        self.untuned.select(indices)
        self.scores = self.scores.index_select(0, indices)

    @property
    def tokens_run(self) -> int:
        return self.tuned.tokens_run + self.untuned.tokens_run


class PairScorer:
    """A small tuned/untuned pair sharing one tokenizer.

    ``chat``: on the text path the pair reads the prompt as one user turn in its own chat template
    (instruction-tuned pairs such as zephyr / mistral-sft), whatever template the large model used.
    """

    def __init__(self, tuned, untuned, tokenizer, chat: bool = False):
        self.tuned, self.untuned, self.tokenizer = tuned.eval(), untuned.eval(), tokenizer
        self.chat = chat
        self.tokens_run = 0

    def score_texts(self, prompt: str, responses: list[str]) -> torch.Tensor:
        """The score of each text response to ``prompt`` (re-tokenised with the scorer's tokenizer)."""
        prompt_ids = self.tokenizer(format_prompt(self.tokenizer, prompt, self.chat), add_special_tokens=False)["input_ids"]
        resp_ids = [self.tokenizer(r, add_special_tokens=False)["input_ids"] for r in responses]
        return self.score_ids(prompt_ids, resp_ids)

    def score_ids(self, prompt_ids: list[int], responses: list[list[int]]) -> torch.Tensor:
        self.tokens_run += 2 * sum(len(prompt_ids) + len(r) for r in responses)
        return response_logprob(self.tuned, prompt_ids, responses) - response_logprob(self.untuned, prompt_ids, responses)

    def incremental(self, prompt_ids: torch.Tensor, n_rows: int) -> IncrementalScore:
        return IncrementalScore(self.tuned, self.untuned, prompt_ids, n_rows)
