"""Step-wise decoding on the public Cache API of current transformers.

:class:`CachedLM` keeps one ``DynamicCache`` for a batch of rows that all advance in lockstep (every
row is the same prompt plus its own continuation, so no padding is ever needed). It exposes the three
operations weak-to-strong search is made of:

- ``prefill(prompt_ids, n_rows)`` — run the prompt once and copy its cache to ``n_rows`` rows;
- ``step(tokens)`` — feed one token per row, returning the log-probability each row's model gave it
  (``steps`` feeds T tokens per row in one forward pass: the scorer's read of a whole chunk);
- ``select(indices)`` — keep / duplicate rows (``Cache.reorder_cache``), e.g. the top-W beams × K.

It also counts the tokens it ran through the model, which is how methods are compared at a matched
compute budget. The model may sit on any device; the next-token distributions come back on the CPU,
where sampling, scoring and beam bookkeeping happen (a few rows × vocabulary per step).

:func:`sample_continuations` is plain batched sampling (or greedy decoding) of many prompts with the same
preallocated cache, each row leaving the batch at its EOS: MACPO's sampler.
"""

from __future__ import annotations

import inspect

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from w2s_lib.core.errors import W2SError


def apply_template(template: str, prompt: str) -> str:
    """``template`` with ``{prompt}`` replaced by the raw prompt (other braces are left alone)."""
    if "{prompt}" not in template:
        raise W2SError(f"a prompt template must contain '{{prompt}}', got {template!r}")
    return template.replace("{prompt}", prompt)


def format_prompt(tokenizer, prompt: str, chat: bool = False, template: str = "{prompt}") -> str:
    """The model's input text for the raw ``prompt``: ``template`` filled with it, as it is or as one user
    turn in the tokenizer's chat template."""
    prompt = apply_template(template, prompt)
    if not chat:
        return prompt
    if not getattr(tokenizer, "chat_template", None):
        raise W2SError(f"chat=True needs a tokenizer with a chat template; {tokenizer.name_or_path!r} has none "
                       "(use an instruction-tuned model or chat=False)")
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                generator: torch.Generator | list[torch.Generator] | None = None) -> torch.Tensor:
    """One token per row from ``logits`` (rows × vocab) with temperature, top-k and nucleus filtering.

    Sampling is by inverse CDF: one uniform number per row, drawn from ``generator``; a *list* of
    generators splits the rows into equal consecutive blocks, one per generator (one block per prompt of a
    batched search), so each block gets exactly the numbers it would get sampled alone, while the filtering
    and the CDF run once for the whole batch. ``temperature <= 0`` here means greedy (argmax); the search
    functions map the official code's "temperature 0 = no temperature warper = T 1" onto this (see
    :func:`search_temperature`).
    """
    if temperature <= 0:
        return logits.argmax(-1)
    logits = filter_logits(logits, temperature, top_k, top_p)
    gens = generator if isinstance(generator, (list, tuple)) else [generator]
    if logits.shape[0] % len(gens):
        raise W2SError(f"{logits.shape[0]} rows do not split into {len(gens)} equal blocks, one per generator")
    block = logits.shape[0] // len(gens)
    return draw(logits, torch.cat([torch.rand(block, generator=g) for g in gens]))


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """``logits`` / temperature with top-k and nucleus filtering (−∞ outside); ``temperature`` > 0."""
    logits = logits / temperature
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        drop = cum - sorted_logits.softmax(-1) > top_p  # keep the smallest prefix with mass ≥ top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    return logits


def draw(logits: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """One token per row of (filtered) ``logits`` by inverse CDF at the uniform numbers ``u`` (one per row)."""
    cdf = logits.float().softmax(-1).cumsum(-1)
    idx = torch.searchsorted(cdf, (u[:, None] * cdf[:, -1:]).contiguous(), right=True).squeeze(-1)
    return idx.clamp(max=logits.shape[-1] - 1)


def search_temperature(temperature: float | None, greedy: bool = False) -> float:
    """The sampling temperature the search uses: the official code adds a temperature warper only when
    ``temperature`` is truthy, so 0 (or None) samples at T = 1; ``greedy=True`` asks for argmax (returned
    as 0, which :func:`sample_next` reads as greedy)."""
    if greedy:
        return 0.0
    return float(temperature) if temperature else 1.0


class PreallocatedLayer(DynamicLayer):
    """A ``DynamicLayer`` whose keys and values live in a buffer with room to grow: a decoding step writes
    one position in place instead of copying the whole cache (``torch.cat``), and grows the buffer by
    ``grow`` positions at a time. ``keys`` / ``values`` are views of the filled part.

    A reorder copies the filled part's rows into a second buffer kept for the purpose, which becomes the cache
    while the first becomes the spare: on the CPU a freshly allocated buffer per reorder costs several times the
    copy itself in page faults (a 1600-row, 90-position cache of 4 heads × 32: 59 → 11 ms per reorder; one seed
    of chapter 20's CBS 15.6 → 14.1 s CPU, the same outputs). On an accelerator, whose allocator reuses memory, a
    reorder allocates as before (no second buffer held)."""

    grow = 32
    _alloc: tuple[torch.Tensor, torch.Tensor] | None = None  # the storage behind buf_k / buf_v (rows may be fewer)
    _spare: tuple[torch.Tensor, torch.Tensor] | None = None

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        new = key_states.shape[-2]
        if not self.is_initialized:
            self.device, self.is_initialized, self.n = key_states.device, True, 0
            self.buf_k = key_states.new_empty(*key_states.shape[:-2], new + self.grow, key_states.shape[-1])
            self.buf_v = value_states.new_empty(*value_states.shape[:-2], new + self.grow, value_states.shape[-1])
            self._alloc = (self.buf_k, self.buf_v)
        if self.n + new > self.buf_k.shape[-2]:
            extra = new + self.grow
            self.buf_k = torch.cat([self.buf_k[..., : self.n, :], self.buf_k.new_empty(*self.buf_k.shape[:-2], extra,
                                                                                        self.buf_k.shape[-1])], -2)
            self.buf_v = torch.cat([self.buf_v[..., : self.n, :], self.buf_v.new_empty(*self.buf_v.shape[:-2], extra,
                                                                                        self.buf_v.shape[-1])], -2)
            self._alloc = (self.buf_k, self.buf_v)
        self.buf_k[..., self.n: self.n + new, :] = key_states
        self.buf_v[..., self.n: self.n + new, :] = value_states
        self.n += new
        self.keys, self.values = self.buf_k[..., : self.n, :], self.buf_v[..., : self.n, :]
        return self.keys, self.values

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        if not self.is_initialized:
            return
        idx = beam_idx.to(self.buf_k.device)
        if self.buf_k.device.type != "cpu":
            self.buf_k, self.buf_v = self.buf_k.index_select(0, idx), self.buf_v.index_select(0, idx)
            self._alloc = (self.buf_k, self.buf_v)
        else:
            rows, shape = len(idx), self.buf_k.shape
            spare = self._spare
            if spare is None or spare[0].shape[0] < rows or spare[0].shape[1:] != shape[1:]:
                spare = (self.buf_k.new_empty(rows, *shape[1:]), self.buf_v.new_empty(rows, *shape[1:]))
            k, v = spare[0][:rows], spare[1][:rows]
            torch.index_select(self.buf_k[..., : self.n, :], 0, idx, out=k[..., : self.n, :])
            torch.index_select(self.buf_v[..., : self.n, :], 0, idx, out=v[..., : self.n, :])
            self._spare, self._alloc = self._alloc, spare
            self.buf_k, self.buf_v = k, v
        self.keys, self.values = self.buf_k[..., : self.n, :], self.buf_v[..., : self.n, :]

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self.reorder_cache(torch.as_tensor(indices).view(-1) if not isinstance(indices, slice)
                           else torch.arange(self.buf_k.shape[0])[indices])

    def crop(self, tokens_to_remove: int) -> None:
        raise NotImplementedError("PreallocatedLayer does not crop")

    def batch_repeat_interleave(self, repeats: int) -> None:
        self.reorder_cache(torch.arange(self.buf_k.shape[0]).repeat_interleave(repeats))


def left_padded(prompts: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token-id lists as one left-padded batch: ``(ids, attention mask, position ids)``, each ``(B, max len)``;
    a row's positions count its own tokens from 0 (padding gets 0)."""
    width = max(len(p) for p in prompts)
    ids = torch.zeros(len(prompts), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):] = torch.tensor(p)
        mask[i, width - len(p):] = 1
    return ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)


def _preallocated_cache(config, reserve: int = 0) -> DynamicCache:
    """A ``DynamicCache`` of :class:`PreallocatedLayer` (full attention only; any other layer type keeps the
    library's own); ``reserve``: positions to leave room for after the first update (the new tokens a search
    will add), so the buffer never has to grow."""
    cache = DynamicCache(config=config)
    cache.layers = [PreallocatedLayer() if type(layer) is DynamicLayer else layer for layer in cache.layers]
    for layer in cache.layers:
        if isinstance(layer, PreallocatedLayer) and reserve > layer.grow:
            layer.grow = reserve
    return cache


class CachedLM:
    """A causal LM advanced row-wise with a reusable KV cache (see module docstring).

    Rows may continue *different* prompts (:meth:`prefill_many`): prompts are left-padded to one length,
    and an attention mask plus explicit position ids keep every row exactly what it would be alone.
    """

    def __init__(self, model):
        self.model = model
        self.cache: DynamicCache | None = None
        self.last_logprobs: torch.Tensor | None = None  # rows × vocab, for the next token
        self.tokens_run = 0  # tokens pushed through the model (compute account)
        self.mask: torch.Tensor | None = None  # rows × length (0 = left padding)
        self.pos: torch.Tensor | None = None  # rows: the position id of each row's next token
        # transformers renamed `past_key_values` to `cache` during 5.x; use whichever this version takes
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"

    @torch.no_grad()
    def prefill(self, prompt_ids: torch.Tensor, n_rows: int) -> None:
        """Run the prompt (1-D ids) once, then copy its cache to ``n_rows`` identical rows."""
        self.prefill_many([list(map(int, prompt_ids.view(-1)))], n_rows)

    @torch.no_grad()
    def prefill_many(self, prompts: list[list[int]], rows_per_prompt: int, reserve: int = 0) -> None:
        """Run each prompt once (left-padded into one batch), then give each ``rows_per_prompt`` rows:
        prompt i owns rows ``i·R … i·R + R − 1``. ``reserve``: the tokens the rows will add (the cache is
        allocated with room for them)."""
        if any(not p for p in prompts):
            raise W2SError("a prompt tokenised to no tokens; give the search some text to continue")
        ids, mask, pos = left_padded(prompts)
        self.cache = _preallocated_cache(self.model.config, reserve)
        dev = self.model.device
        out = self.model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=pos.to(dev),
                         use_cache=True, **{self._cache_kw: self.cache})
        self.tokens_run += sum(len(p) for p in prompts)
        rows = torch.arange(len(prompts)).repeat_interleave(rows_per_prompt)
        self.cache.reorder_cache(rows.to(dev))  # public API: copy each prompt's cache to its rows
        self.mask, self.pos = mask[rows], torch.tensor([len(p) for p in prompts])[rows]
        self.last_logprobs = out.logits[:, -1].float().log_softmax(-1).cpu()[rows]

    @torch.no_grad()
    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed one token per row; return log p(token) under the state before it."""
        return self.steps(tokens.view(-1, 1)).squeeze(1)

    @torch.no_grad()
    def steps(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed T tokens per row (``tokens``: rows × T) in one forward pass; return rows × T log p of each
        token under the state before it (what T calls of :meth:`step` return, up to float rounding)."""
        n_new = tokens.shape[1]
        first = self.last_logprobs.gather(1, tokens[:, :1])
        dev = self.model.device
        self.mask = torch.cat([self.mask, torch.ones(len(tokens), n_new, dtype=torch.long)], 1)
        pos = self.pos.view(-1, 1) + torch.arange(n_new)
        logits = self.model(input_ids=tokens.to(dev), attention_mask=self.mask.to(dev), position_ids=pos.to(dev),
                            use_cache=True, **{self._cache_kw: self.cache}).logits
        self.pos = self.pos + n_new
        self.tokens_run += tokens.numel()
        logprobs = logits.float().log_softmax(-1).cpu()
        self.last_logprobs = logprobs[:, -1]
        return torch.cat([first, logprobs[:, :-1].gather(2, tokens[:, 1:, None]).squeeze(2)], 1)

    def select(self, indices: torch.Tensor) -> None:
        """Keep rows ``indices`` (repeats allowed, rows may be dropped) in the cache and the next-token
        distribution."""
        self.cache.reorder_cache(indices.to(self.model.device))
        self.last_logprobs = self.last_logprobs.index_select(0, indices)
        self.mask, self.pos = self.mask.index_select(0, indices), self.pos.index_select(0, indices)


@torch.no_grad()
def sample_continuations(model, prompts: list[list[int]], max_new_tokens: int, eos_token_id: int | None,
                         temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                         generator: torch.Generator | None = None) -> list[list[int]]:
    """One continuation per prompt (token ids), decoded in one left-padded batch with a KV cache and cut
    before the first ``eos_token_id`` (which is not returned).

    ``temperature <= 0``: greedy (argmax of the logits); otherwise temperature, top-k and nucleus
    filtering as in :func:`sample_next`, one uniform number per live row per step from ``generator`` (the
    global RNG is not touched). A row leaves the batch at its EOS, so every step runs the model on the
    unfinished rows only; rows never interact (attention mask and per-row position ids), so each row's
    logits are what it would get decoded alone, up to float rounding.
    """
    if any(not p for p in prompts):
        raise W2SError("a prompt tokenised to no tokens; give the model some text to continue")
    out: list[list[int]] = [[] for _ in prompts]
    if not prompts or max_new_tokens < 1:
        return out
    dev = model.device
    ids, mask, pos = left_padded(prompts)
    cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    cache = _preallocated_cache(model.config)
    logits = model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=pos.to(dev), use_cache=True,
                   logits_to_keep=1, **{cache_kw: cache}).logits[:, -1].float().cpu()
    rows = torch.arange(len(prompts))  # the prompt each live row belongs to
    nxt = mask.sum(-1)  # position id of each live row's next token
    for t in range(max_new_tokens):
        tokens = sample_next(logits, temperature, top_k, top_p, generator)
        for r, tok in zip(rows.tolist(), tokens.tolist()):
            out[r].append(tok)
        if t == max_new_tokens - 1:
            break
        if eos_token_id is not None:
            live = tokens != eos_token_id
            if not live.all():
                if not live.any():
                    break
                keep = live.nonzero().squeeze(1)
                cache.reorder_cache(keep.to(dev))
                rows, mask, nxt, tokens = rows[keep], mask[keep], nxt[keep], tokens[keep]
        mask = torch.cat([mask, torch.ones(len(rows), 1, dtype=torch.long)], 1)
        logits = model(input_ids=tokens.view(-1, 1).to(dev), attention_mask=mask.to(dev),
                       position_ids=nxt.view(-1, 1).to(dev), use_cache=True, logits_to_keep=1,
                       **{cache_kw: cache}).logits[:, -1].float().cpu()
        nxt = nxt + 1
    if eos_token_id is not None:
        out = [r[:r.index(eos_token_id)] if eos_token_id in r else r for r in out]
    return out
