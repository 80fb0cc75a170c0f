"""Where chapter 20's small pair decides, and what CBS and best-of-N write under it, in the current generated
world (``W2S_WORLD_SEED``).

Two held-out readings (``tiny_bios`` test prompts after the claim's; the chapter's tiny pair, tuned once):

- **Statement openings** (prompts 200–239): the pair's log-ratio log π_tuned − log π_untuned, token by token,
  of each relation's canonical opening about the asked person ("Shilir works as a", "Shilir's favourite
  colour is"), first statement of the reply. Per relation, the mean over prompts at the person's *name*
  token, at the *commitment* token right after it (``'s`` / ``lives`` / ``works`` / ``has``: where a sampled
  reply chooses its relation) and over the rest of the opening. CBS selects on a partial score, so a
  preference the pair only expresses after the commitment token reaches its selections a chunk late.
- **Reply shapes** (prompts 200–259, the chapter's ``chunk_sweep`` streams): for the strongest base alone,
  best-of-16 and CBS(4, 4, 3), the mean gold, sentences, distinct wanted facts stated correctly (job, city,
  pet), distinct other facts, and restatements (a value already stated about the person) per reply.

Two readings put those numbers in scale:

- **The person's name** (replies of the strongest base alone): the log-probability each small model gives the
  asked name where the reply names the person (per mention), and the pair's score of a reply split into its
  name tokens and the rest. The test people are ones ``tinygpt-s`` never read about, so its untuned form
  finds their names nearly impossible, and every statement naming them adds to the score.
- **The gold as the guide**: base, best-of-16 and CBS(4, 4, 3) with the gold reward itself scoring the partial
  replies (text path, same streams): what the search gains over best-of-N when its guide is exact — whether
  the task rewards chunk-level search at all, apart from what a small pair learns.

``--overrides`` measures another pair the same way (e.g. ``'{"tune_samples": 16, "tune_pairs": 4}'``: four DPO
pairs per training prompt from 16 samples instead of one from 8).

    W2S_WORLD_SEED=1 W2S_HOME=... python benchmarks/search_pair_decisions.py --out results.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

WANTED = ("job", "city", "pet")


@torch.no_grad()
def token_logprobs(scorer, prompt_ids: list[int], response_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """log π_tuned and log π_untuned of each response token."""
    from w2s_lib.train import lm

    ids = torch.tensor([prompt_ids + response_ids])
    tuned, untuned = (lm.token_logprobs(m(ids).logits, ids)[0, len(prompt_ids) - 1:].numpy()
                      for m in (scorer.tuned, scorer.untuned))
    return tuned, untuned


def token_logratio(scorer, prompt_ids: list[int], response_ids: list[int]) -> np.ndarray:
    tuned, untuned = token_logprobs(scorer, prompt_ids, response_ids)
    return tuned - untuned


class GoldGuide:
    """The gold reward as a search guide: scores partial text replies exactly (the text path's interface).

    ``tie_break``: add a draw of uniform noise below the gold's resolution to each score, so that candidates the
    gold cannot yet tell apart (most partial replies: a chunk that has not stated a value yet) are kept at random,
    as a pair's continuous score would keep them, rather than by their row order (``torch.topk`` keeps the first
    rows of a tie, so the kept beams all descend from one parent and the search loses its width)."""

    tokenizer = None
    tokens_run = 0

    def __init__(self, gold, tie_break: bool = False, seed: int = 0):
        self.gold = gold
        self.gen = torch.Generator().manual_seed(seed) if tie_break else None

    def score_texts(self, prompt: str, responses: list[str], eos=False) -> torch.Tensor:
        scores = torch.tensor([self.gold(prompt, r) for r in responses], dtype=torch.float)
        if self.gen is not None:  # the golds step by 1/8 or more: 1e-3 never reorders two scores that differ
            scores = scores + 1e-3 * torch.rand(len(responses), generator=self.gen)
        return scores


def name_reading(scorer, tok, prompt: str, entity: str, text: str) -> tuple[list[tuple[float, float]], float, float]:
    """Per mention of ``entity`` in the reply ``text``: (log π_tuned, log π_untuned) of its name tokens; and the
    pair's log-ratio of the reply summed over the name tokens and over the rest."""
    from w2s_lib.search.scorer import joint_response_ids

    pi, ri = joint_response_ids(tok, scorer.prompt_text(prompt), text, eos=False)
    if not ri:
        return [], 0.0, 0.0
    lps = token_logprobs(scorer, pi, ri)
    name = tok(" " + entity, add_special_tokens=False)["input_ids"]
    mask = np.zeros(len(ri), bool)
    mentions = []
    i = 0
    while i < len(ri):
        if ri[i:i + len(name)] == name:
            span = slice(i, i + len(name))
            mask[span] = True
            mentions.append((float(lps[0][span].sum()), float(lps[1][span].sum())))
            i += len(name)
        else:
            i += 1
    ratio = lps[0] - lps[1]
    return mentions, float(ratio[mask].sum()), float(ratio[~mask].sum())


def reply_shape(text: str, entity: str, facts: dict[str, str]) -> dict[str, int]:
    """Sentences, distinct correct wanted / other facts about ``entity``, and restated values, of one reply."""
    from w2s_lib.data.tinyworld import scorers

    said: set[tuple[str, str]] = set()
    out = {"sentences": 0, "wanted_facts": 0, "other_facts": 0, "restated": 0}
    for sentence in scorers._SENTENCE.split(text or ""):
        if not sentence.strip():
            continue
        out["sentences"] += 1
        if entity not in sentence:
            continue
        for a, values in scorers.values_mentioned(sentence).items():
            for v in values:
                if (a, v) in said:
                    out["restated"] += 1
                    continue
                said.add((a, v))
                if facts[a].lower() == v:
                    out["wanted_facts" if a in WANTED else "other_facts"] += 1
    return out


def measure(overrides: dict) -> dict:
    from w2s_lib import data
    from w2s_lib.data.tinyworld import scorers
    from w2s_lib.data.tinyworld.world import STATEMENTS, current_world_seed
    from w2s_lib.models import zoo
    from w2s_lib.search.cbs import search_many
    from w2s_lib.search.experiment import SearchConfig, _guide, gold_reward, heldout_seeds, method_shape, run_prompts, tune_scorer
    from w2s_lib.search.scorer import joint_response_ids

    cfg = SearchConfig.for_preset("tiny", overrides, seed=1)
    _, tok, scorer = _guide(cfg, tune_scorer(cfg))
    test = data.load(cfg.prompts, "test", seed=cfg.seed)
    kb = scorers._kb(current_world_seed())

    openings: dict[str, dict[str, list[float]]] = {a: {"name": [], "commitment": [], "rest": []} for a in STATEMENTS}
    rows = test.select(range(200, 240))
    for prompt, entity in zip(rows["prompt"], rows["entity"]):
        for a in STATEMENTS:
            text = " " + STATEMENTS[a][0].split(" {v}")[0].format(e=entity)
            pi, ri = joint_response_ids(tok, scorer.prompt_text(prompt), text, eos=False)
            d = token_logratio(scorer, pi, ri)
            n_name = len(tok(" " + entity, add_special_tokens=False)["input_ids"])
            openings[a]["name"].append(float(d[:n_name].sum()))
            openings[a]["commitment"].append(float(d[n_name]))
            openings[a]["rest"].append(float(d[n_name + 1:].sum()))
    out = {"openings": {a: {k: round(float(np.mean(v)), 2) for k, v in parts.items()} for a, parts in openings.items()}}
    commit = {a: np.array(openings[a]["commitment"]) for a in STATEMENTS}
    whole = {a: sum(np.array(openings[a][k]) for k in ("commitment", "rest")) for a in STATEMENTS}
    for label, score in (("commitment", commit), ("whole_opening", whole)):
        wanted = np.mean([score[a] for a in WANTED], axis=0)
        other = np.mean([score[a] for a in STATEMENTS if a not in WANTED], axis=0)
        out[f"wanted_minus_other_{label}"] = round(float((wanted - other).mean()), 2)

    rows = test.select(range(200, 260))
    prompts, entities = rows["prompt"], rows["entity"]
    seeds = heldout_seeds(cfg, len(prompts))  # the chunk sweep's streams
    base = cfg.bases[-1]
    model, model_tok = zoo.load_causal_lm(base), zoo.load_tokenizer(base)
    gold = gold_reward(cfg.gold)

    def mean_gold(res) -> float:
        return round(float(np.mean([gold(p, r.text) for p, r in zip(prompts, res)])), 3)

    w, k, ln = cfg.cbs
    methods = ("base", f"bon-{w * k}", f"cbs-{w}-{k}-{ln}")
    out["replies"], replies = {}, {}
    for method in methods:
        res = replies[method] = run_prompts(cfg, method, model, model_tok, prompts, scorer, seeds)
        shapes = [reply_shape(r.text, e, kb[e]) for r, e in zip(res, entities)]
        out["replies"][method] = {"gold": mean_gold(res),
                                  **{key: round(float(np.mean([s[key] for s in shapes])), 2) for key in shapes[0]}}

    readings = [name_reading(scorer, tok, p, e, r.text) for p, e, r in zip(prompts, entities, replies["base"])]
    mentions = [m for ms, _, _ in readings for m in ms]
    out["name"] = {"mentions_per_reply": round(len(mentions) / len(readings), 2),
                   "logprob_per_mention_tuned": round(float(np.mean([m[0] for m in mentions])), 2),
                   "logprob_per_mention_untuned": round(float(np.mean([m[1] for m in mentions])), 2),
                   "score_per_reply_name_tokens": round(float(np.mean([r[1] for r in readings])), 2),
                   "score_per_reply_other_tokens": round(float(np.mean([r[2] for r in readings])), 2)}

    out["gold_guided"] = {"base": out["replies"]["base"]["gold"]}  # the base alone takes no guide
    for method in methods[1:]:
        gw, gk, gl = method_shape(method)
        res = search_many(model, model_tok, prompts, GoldGuide(gold), width=gw, successors=gk, chunk_len=gl,
                          seeds=seeds, max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature,
                          top_k=cfg.top_k, incremental=False)
        out["gold_guided"][method] = mean_gold(res)
    return out


def main() -> None:
    from w2s_lib.core.runtime import torch_threads
    from w2s_lib.data.tinyworld.world import current_world_seed

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--overrides", default="{}", help="SearchConfig overrides of the pair measured, as JSON")
    ap.add_argument("--out", help="write the result here as JSON")
    args = ap.parse_args()
    overrides = json.loads(args.overrides)
    t = time.process_time()
    with torch_threads(1):
        result = {"world_seed": current_world_seed(), "overrides": overrides, **measure(overrides)}
    result["cpu_seconds"] = round(time.process_time() - t, 1)
    report(result, args.out)


def reading_args(doc: str, task: tuple[str, ...] = ()) -> argparse.Namespace:
    """The command line of a registered reading: ``--seeds`` (default 0,1) and ``--out`` (a JSON file); with
    ``task``, a ``--task`` among those names (default the first)."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--out", help="write the result here as JSON")
    if task:
        ap.add_argument("--task", default=task[0], choices=task)
    return ap.parse_args()


def report(result: dict, out: str | None) -> None:
    """Print ``result`` as JSON, and write it to ``out`` when given."""
    print(json.dumps(result, indent=1))
    if out:
        with open(out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
