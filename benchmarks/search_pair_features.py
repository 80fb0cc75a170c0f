"""What chapter 20's small pair actually scores: its log-ratio split by kind of token, in the current generated
world (``W2S_WORLD_SEED``), for the chapter's pair and for a length-controlled one.

The bios gold counts the wanted facts (job, city, pet) a reply states correctly. A reply is a few statements
"<Name> works as a pilot.", so the pair's score of a reply is the sum of its log-ratios on the person's *name*
tokens (one run per statement), the *relation* words ("works as", "lives in": which fact a statement gives —
the preference a small pair can learn without knowing the person), the *value* ("pilot": knowledge the small
model lacks for the test people), punctuation and the EOS term. Per kind: the mean within-prompt Spearman
correlation of that part of the score with the gold, and with the number of wanted facts stated; and the gold of
the pair's pick of 16 by the whole score and by the relation part alone.

Candidates (each `tinygpt-s` tuned once, seed 0, as the chapter's tiny preset otherwise):

- ``chapter``: the tiny preset's pair (DPO on the best vs the worst of 8 samples per training prompt);
- ``length-controlled``: DPO pairs only between samples with the same number of sentences
  (``tune_match='sentences'``), so that "say one more statement" cannot be what separates chosen from rejected.

Held-out prompts 200–239 of ``tiny_bios`` test, 16 `tinygpt-l` samples each (the chapter's ``pair_check``
streams); ``--sweep`` also runs the chapter's ``chunk_sweep`` (prompts 200–259: base, best-of-16, CBS(4, 4, 3)
and (4, 4, 5)) with each pair.

    W2S_WORLD_SEED=1 W2S_HOME=... python benchmarks/search_pair_features.py --sweep --out results.json
"""

from __future__ import annotations

import argparse
import json
import re
import time

import numpy as np
import torch

CANDIDATES = {"chapter": {}, "length-controlled": {"tune_match": "sentences"}}
KINDS = ("name", "relation", "value", "punct", "eos")
WANTED = ("job", "city", "pet")


def token_kind(piece: str, entity: str, is_eos: bool) -> str:
    from w2s_lib.data.tinyworld.lexicon import VALUE_TO_ATTRIBUTE

    s = piece.strip()
    if is_eos:
        return "eos"
    if s.lower() in VALUE_TO_ATTRIBUTE:
        return "value"
    if s and entity.startswith(s) or (s and s in entity):
        return "name"
    return "punct" if re.fullmatch(r"[\W_]*", s) else "relation"


@torch.no_grad()
def token_logprobs(model, prompt_ids: list[int], response_ids: list[int]) -> np.ndarray:
    from w2s_lib.train import lm

    ids = torch.tensor([prompt_ids + response_ids])
    return lm.token_logprobs(model(ids).logits, ids)[0, len(prompt_ids) - 1:].numpy()


def within_spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    rs = [spearmanr(x, y)[0] for x, y in zip(a, b) if np.ptp(x) > 1e-9 and np.ptp(y) > 1e-9]
    return round(float(np.mean(rs)), 3) if rs else float("nan")


def measure(overrides: dict, sweep: bool) -> dict:
    from w2s_lib import data
    from w2s_lib.data.tinyworld import scorers
    from w2s_lib.data.tinyworld.world import current_world_seed
    from w2s_lib.models import zoo
    from w2s_lib.search.cbs import sample_n_many
    from w2s_lib.search.experiment import SearchConfig, _guide, chunk_sweep, gold_reward, tune_scorer
    from w2s_lib.search.scorer import joint_response_ids

    cfg = SearchConfig.for_preset("tiny", overrides, seed=1)
    tuning = tune_scorer(cfg)
    tuned, tok, scorer = _guide(cfg, tuning)
    rows = data.load(cfg.prompts, "test", seed=cfg.seed).select(range(200, 240))
    prompts, entities = rows["prompt"], rows["entity"]
    base = cfg.bases[-1]
    texts = sample_n_many(zoo.load_causal_lm(base), zoo.load_tokenizer(base), prompts, 16,
                          max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_k=cfg.top_k,
                          seeds=[10_000_019 + cfg.seed * 1_000_003 + i for i in range(len(prompts))])
    gold, kb = gold_reward(cfg.gold), scorers._kb(current_world_seed())
    parts = {k: np.zeros((len(prompts), 16)) for k in KINDS}
    g, n_wanted = np.zeros((len(prompts), 16)), np.zeros((len(prompts), 16))
    for i, (p, e, ts) in enumerate(zip(prompts, entities, texts)):
        for j, t in enumerate(ts):
            pi, ri = joint_response_ids(tok, scorer.prompt_text(p), t, eos=True)
            d = token_logprobs(scorer.tuned, pi, ri) - token_logprobs(scorer.untuned, pi, ri)
            for k, tid in enumerate(ri):
                parts[token_kind(tok.decode([tid]), e, tid == tok.eos_token_id)][i, j] += d[k]
            g[i, j] = gold(p, t)
            n_wanted[i, j] = sum(1 for a in WANTED if a in scorers.values_mentioned(t))
    total = sum(parts.values())
    rows_ = np.arange(len(prompts))
    out = {"tuning": tuning.result, "base_mean": round(float(g.mean()), 3),
           "oracle_best_of_16": round(float(g.max(1).mean()), 3),
           "pick_of_16": round(float(g[rows_, total.argmax(1)].mean()), 3),
           "pick_of_16_by_relation_part": round(float(g[rows_, parts["relation"].argmax(1)].mean()), 3),
           "total": {"spearman_gold": within_spearman(total, g), "spearman_n_wanted": within_spearman(total, n_wanted)},
           "by_kind": {k: {"mean": round(float(v.mean()), 2), "within_prompt_sd": round(float(v.std(1).mean()), 2),
                           "spearman_gold": within_spearman(v, g), "spearman_n_wanted": within_spearman(v, n_wanted)}
                       for k, v in parts.items()}}
    if sweep:
        cs = chunk_sweep(cfg).result["methods"]
        bon = np.array(cs["bon-16"]["gold"])
        out["chunk_sweep_minus_bon16"] = {m: [round(float((np.array(v["gold"]) - bon).mean()), 3),
                                              round(float((np.array(v["gold"]) - bon).std(ddof=1) / np.sqrt(len(bon))), 3)]
                                          for m, v in cs.items() if m != "bon-16"}
        out["chunk_sweep_bon16_mean"] = round(float(bon.mean()), 3)
    return out


def main() -> None:
    from w2s_lib.core.runtime import torch_threads
    from w2s_lib.data.tinyworld.world import current_world_seed

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sweep", action="store_true", help="also run CBS vs best-of-16 on held-out prompts")
    ap.add_argument("--only", choices=list(CANDIDATES), action="append", help="measure only these candidates")
    ap.add_argument("--out", help="write the result here as JSON")
    args = ap.parse_args()
    result = {"world_seed": current_world_seed()}
    with torch_threads(1):
        for name in args.only or CANDIDATES:
            t = time.process_time()
            result[name] = measure(CANDIDATES[name], args.sweep)
            result[name]["cpu_seconds"] = round(time.process_time() - t, 1)
            print(name, json.dumps(result[name]), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
