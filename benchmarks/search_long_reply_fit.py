"""How much of a long-reply document type a rung must read before it writes such replies the way its corpus does.

Part II's long replies come from documents only the search's rung twins read (``tinygpt.Rung.group_docs`` /
``story_docs``). Whether chunk-level search beats best-of-N on them cannot be read off a base that does not write
them, so each world is fixed first, on a ground-truth diagnostic of the base's own samples and not on the claim:
the rung ``tinygpt-l``'s twin is pretrained with ``per_person`` in (1, 4, 8) such documents per person (nothing
else changes: size, steps, seed, people) in a temporary directory, and its samples (T 0.7, top-k 50, 80 new tokens)
on held-out test requests after the ceiling readings' 200–399 are read.

**Groups** (``--kind groups``; registered before it ran, 2026-12-04 night). The third ceiling reading
(``search_guide_ceiling.py --prompts tiny_bios_groups``) found ``tinygpt-l-groups`` with one group conversation per
person not answering "Tell me about A, B and C." (base gold −0.51 / −0.41). Rule: one sample per request 400–599,
read for **follows** (the people the reply's sentences name are the requested ones, in the request's order, and
nobody else); ``group_docs`` becomes the smallest ``per_person`` whose follows share is at least 0.8 in both worlds,
else the world is left as it is. Result (results file, key ``groups``): **follows 0.0 at 1, 4 and 8 in both worlds**
(base gold −0.44 / −0.69 / −0.55 in world 0, −0.39 / −0.77 / −0.59 in world 1; fact recall 0.996–1.0). The rung names
one of the requested people — any one — writes three facts about them, then goes on about someone nobody asked
about: a two-layer model of this size does not learn to take the *next* name from the request. Left as it is.

**Stories** (``--kind stories``; registered before it ran, 2026-12-04 night). The fourth and fifth ceiling readings
(``tiny_stories``, ``tinygpt-l-stories`` with one story per person) found the base writing the person's facts
(values true 0.99) but chunk-level search gaining little even with the exact gold as guide; the guided search's
candidates were copies of each other (16 rows, 1–5 distinct texts at a chunk boundary): with one story per person,
read some thirty times in pretraining, the rung recites *that* story rather than sampling from the corpus's
stories (topics drawn at random, sentence by sentence), and a search has nothing to choose between. Rule: 16
samples per request 400–449, read for **variety**: the share of distinct topic sequences (the topic of each of the
first four sentences: an attribute whose value it states, or none) among the 16, averaged over requests (a rung
that had learned the corpus's distribution: ≈ 1; one that recites: near 1/16). ``STORY_DOCS`` becomes the smallest
``per_person`` whose variety is at least 0.5 in both worlds and whose stories stay about the person (every named
sentence names only them) on at least 0.8 of samples with at least 0.9 of the stated values true; then the ceiling
reading's rule is applied again, unchanged (fifth reading's instrument: ties broken at random), to the rebuilt
rungs. If none is, the largest's readings are reported and the world is left as it is.

    W2S_WORLD_SEED=1 python benchmarks/search_long_reply_fit.py --kind stories --out world1.json

Result (results file, key ``stories``): variety **0.81 / 0.67** (worlds 0 / 1) with one story per person, **0.98 /
0.99** with four, 0.99 / 0.99 with eight; on the person 0.97–1.0 and values true 0.996–1.0 throughout; base gold 0.46 /
0.39, 0.47 / 0.40, 0.45 / 0.45. By the rule one story per person passes (0.5 was too low a bar: the corpus's own
variety is ≈ 1), so the world stays; ``search_guide_ceiling.py``'s sixth reading, registered after these readings,
tries four.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

PER_PERSON = (1, 4, 8)
KINDS = {  # task, rung field, held-out requests, samples per request
    "groups": ("tiny_bios_groups", "group_docs", range(400, 600), 1),
    "stories": ("tiny_stories", "story_docs", range(400, 450), 16),
}


def follows(prompt: str, reply: str, kb) -> bool:
    """The reply names exactly the requested people, in the request's order (first mentions)."""
    from w2s_lib.data.tinyworld import scorers

    return scorers._entities_in(reply, kb) == scorers._entities_in(scorers._last_user_turn(prompt), kb)


def topics(reply: str, n: int = 4) -> tuple[str, ...]:
    """The topic of each of the first ``n`` sentences: the attribute whose value it states, or "" (a filler)."""
    from w2s_lib.data.tinyworld import scorers

    pieces = [x for x in scorers._SENTENCE.split(reply or "") if x.strip()][:n]
    return tuple(",".join(sorted(scorers.values_mentioned(x))) for x in pieces)


def read_groups(prompts, samples, kb, gold, world_seed: int) -> dict:
    texts = [s[0] for s in samples]
    return {"follows": round(float(np.mean([follows(p, t, kb) for p, t in zip(prompts, texts)])), 3),
            "base_gold": round(float(np.mean([gold(p, t) for p, t in zip(prompts, texts)])), 3)}


def read_stories(prompts, samples, kb, gold, world_seed: int) -> dict:
    from search_guide_ceiling import story_diagnostics

    flat_p = [p for p, s in zip(prompts, samples) for _ in s]
    flat_t = [t for s in samples for t in s]
    return {"variety": round(float(np.mean([len({topics(t) for t in s}) / len(s) for s in samples])), 3),
            **story_diagnostics(flat_p, flat_t, world_seed),
            "base_gold": round(float(np.mean([gold(p, t) for p, t in zip(flat_p, flat_t)])), 3)}


def passes(kind: str, r: dict) -> bool:
    if kind == "groups":
        return r["follows"] >= 0.8
    return r["variety"] >= 0.5 and r["on_person"] >= 0.8 and r["values_true"] >= 0.9


def main() -> None:
    from search_pair_decisions import report
    from w2s_lib import data
    from w2s_lib.core.runtime import torch_threads
    from w2s_lib.data.tinyworld import scorers
    from w2s_lib.data.tinyworld.world import current_world_seed
    from w2s_lib.models import tinygpt, zoo
    from w2s_lib.search.cbs import sample_n_many
    from w2s_lib.search.experiment import gold_reward

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kind", choices=sorted(KINDS), required=True)
    ap.add_argument("--out", help="write the result here as JSON")
    args = ap.parse_args()
    task, field, rows, n = KINDS[args.kind]
    t0 = time.process_time()
    ws = current_world_seed()
    kb = scorers._kb(ws)
    gold = gold_reward("bio_wanted" if args.kind == "groups" else "story_wanted")
    prompts = data.load(task, "test", seed=1).select(rows)["prompt"]
    name = f"tinygpt-l-{args.kind}"
    tok = zoo.load_tokenizer("tinygpt-l")
    read = read_groups if args.kind == "groups" else read_stories
    result = {"world_seed": ws, "kind": args.kind, "prompts": [rows.start, rows.stop], "samples": n, "rung": name,
              "per_person": {}}
    with tempfile.TemporaryDirectory() as tmp, torch_threads(1):
        for k in PER_PERSON:
            t = time.process_time()
            rung = replace(tinygpt.SIZES["tinygpt-l"], **{field: k})
            if tinygpt._rungs(False).get(name) == rung:  # the zoo's rung: same name, seed and corpus, same weights
                d = tinygpt.model_dir(name)
            else:
                d = tinygpt.build_rung(name, rung, ws, False, Path(tmp), tok, progress=False)
            samples = sample_n_many(zoo.load_local_causal_lm(d), tok, prompts, n, max_new_tokens=80, temperature=0.7,
                                    top_k=50, seeds=list(range(len(prompts))))
            marker = tinygpt.read_marker(d)
            result["per_person"][str(k)] = {**read(prompts, samples, kb, gold, ws), "fact_recall": marker["fact_recall"],
                                            "heldout_perplexity": marker["heldout_perplexity"],
                                            "example": prompts[0] + samples[0][0],
                                            "cpu_seconds": round(time.process_time() - t, 1)}
            if Path(tmp) in d.parents:
                shutil.rmtree(d)
            print(k, result["per_person"][str(k)], flush=True)
    ok = [k for k in PER_PERSON if passes(args.kind, result["per_person"][str(k)])]
    result["smallest_passing"] = min(ok) if ok else None
    result["cpu_seconds"] = round(time.process_time() - t0, 1)
    report(result, args.out)


if __name__ == "__main__":
    main()
