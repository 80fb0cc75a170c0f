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
from w2s_lib.train.lm import response_token_logprobs, sequence_logprobs


def same_vocabulary(tok_a, tok_b) -> bool:
    return tok_a is tok_b or tok_a.get_vocab() == tok_b.get_vocab()


@torch.no_grad()
def response_logprob(model, prompt_ids: list[int], responses: list[list[int]], batch_size: int = 32) -> torch.Tensor:
    """Σ log p(response | prompt) per response, by full forward passes (no cache; right padding)."""
    total, _ = sequence_logprobs(model, [prompt_ids + r for r in responses], [len(prompt_ids)] * len(responses),
                                 pad_id=0, batch_size=batch_size)
    return total


def joint_response_ids(tokenizer, prompt_text: str, response: str, eos: bool) -> tuple[list[int], list[int]]:
    """(prompt ids, response ids) as the official scorer tokenises them: prompt + response *jointly*; the
    prompt part is the longest common prefix with the prompt tokenised alone (a BPE merge across the
    boundary moves into the response), and a finished response gets the EOS token appended."""
    alone = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    joint = tokenizer(prompt_text + response, add_special_tokens=False)["input_ids"]
    if eos:
        joint = joint + [tokenizer.eos_token_id]
    n = 0
    while n < min(len(alone), len(joint)) and alone[n] == joint[n]:
        n += 1
    return joint[:n], joint[n:]


class IncrementalScore:
    """Running score of rows that advance in lockstep with the large model (same token ids); rows may
    belong to different prompts (``prompts``: each prompt's ids in the pair's own template).

    The pair reads lazily: :meth:`step` only records the tokens, and they go through the two models in one
    forward pass of T tokens when a score is asked for (at a chunk boundary, T = L) — the same log-ratios as
    T one-token passes up to float rounding, at a fraction of the cost (each pass reads the whole KV cache).
    """

    def __init__(self, tuned, untuned, prompts: list[list[int]], rows_per_prompt: int, reserve: int = 0):
        self.tuned, self.untuned = CachedLM(tuned), CachedLM(untuned)
        self.tuned.prefill_many(prompts, rows_per_prompt, reserve)
        self.untuned.prefill_many(prompts, rows_per_prompt, reserve)
        self._scores = torch.zeros(len(prompts) * rows_per_prompt)
        self._pending: list[tuple[torch.Tensor, torch.Tensor]] = []  # (tokens, active) per step not yet read

    def step(self, tokens: torch.Tensor, active: torch.Tensor) -> None:
        """Record one token per row; ``active``: the token counts in the row's score (False after its EOS)."""
        self._pending.append((tokens, active))

    def _read(self) -> None:
        if not self._pending:
            return
        tokens = torch.stack([t for t, _ in self._pending], 1)
        active = torch.stack([a for _, a in self._pending], 1)
        self._pending = []
        delta = self.tuned.steps(tokens) - self.untuned.steps(tokens)
        self._scores += torch.where(active, delta, torch.zeros_like(delta)).sum(1)

    @property
    def scores(self) -> torch.Tensor:
        """Each row's score: Σ over its tokens so far of log π_tuned − log π_untuned."""
        self._read()
        return self._scores

    def eos_term(self, eos: int) -> torch.Tensor:
        """log π_tuned(EOS | row) − log π_untuned(EOS | row): what ending each row here would add."""
        self._read()
        return self.tuned.last_logprobs[:, eos] - self.untuned.last_logprobs[:, eos]

    def select(self, indices: torch.Tensor) -> None:
        self._read()
        self.tuned.select(indices)
        self.untuned.select(indices)
        self._scores = self._scores.index_select(0, indices)


class PairScorer:
    """A small tuned/untuned pair sharing one tokenizer.

    ``template``: how the pair reads the raw prompt (``{prompt}``: as it is; the official IMDB setting
    gives the base a zero-shot template and the pair the raw prompt). ``chat``: on the text path the pair
    reads the (templated) prompt as one user turn in its own chat template (instruction-tuned pairs such as
    zephyr / mistral-sft), whatever template the large model used.
    """

    def __init__(self, tuned, untuned, tokenizer, chat: bool = False, template: str = "{prompt}"):
        self.tuned, self.untuned, self.tokenizer = tuned.eval(), untuned.eval(), tokenizer
        self.chat, self.template = chat, template
        self.tokens_run = 0

    def prompt_text(self, prompt: str) -> str:
        """The pair's input text for the raw ``prompt``."""
        return format_prompt(self.tokenizer, prompt, self.chat, self.template)

    def score_texts(self, prompt: str, responses: list[str], eos: bool | list[bool] = False) -> torch.Tensor:
        """The score of each text response to the raw ``prompt``, tokenised as the official scorer does
        (:func:`joint_response_ids`); ``eos`` (one flag or one per response): the response has ended, so
        its score includes the EOS token's log-ratio."""
        flags = [eos] * len(responses) if isinstance(eos, bool) else list(eos)
        text = self.prompt_text(prompt)
        pairs = [joint_response_ids(self.tokenizer, text, r, bool(e)) for r, e in zip(responses, flags)]
        out = torch.zeros(len(pairs))
        by_prompt: dict[tuple, list[int]] = {}
        for i, (p, _) in enumerate(pairs):
            by_prompt.setdefault(tuple(p), []).append(i)
        for p, idx in by_prompt.items():
            out[idx] = self.score_ids(list(p), [pairs[i][1] for i in idx])
        return out

    def score_ids(self, prompt_ids: list[int], responses: list[list[int]]) -> torch.Tensor:
        self.tokens_run += 2 * sum(len(prompt_ids) + len(r) for r in responses)
        return response_logprob(self.tuned, prompt_ids, responses) - response_logprob(self.untuned, prompt_ids, responses)

    def token_ratios(self, prompt_ids: list[int], responses: list[list[int]]) -> torch.Tensor:
        """``[N, max response length]``: log π_tuned − log π_untuned of each response token (zero past a response's
        end), so the score of every prefix is a cumulative sum — one pass where :meth:`score_ids` on each prefix
        would take one per prefix (the same scores up to float rounding)."""
        self.tokens_run += 2 * sum(len(prompt_ids) + len(r) for r in responses)
        return (response_token_logprobs(self.tuned, prompt_ids, responses)
                - response_token_logprobs(self.untuned, prompt_ids, responses))

    def prompt_ids(self, prompt: str) -> list[int]:
        return self.tokenizer(self.prompt_text(prompt), add_special_tokens=False)["input_ids"]

    def incremental(self, prompts: list[str], rows_per_prompt: int, reserve: int = 0) -> IncrementalScore:
        """The cached path for raw ``prompts`` (the base must share the pair's vocabulary); ``reserve``: the
        tokens the rows will add."""
        return IncrementalScore(self.tuned, self.untuned, [self.prompt_ids(p) for p in prompts], rows_per_prompt,
                                reserve)
