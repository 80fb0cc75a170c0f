"""How many group conversations per person a rung must read before it answers "Tell me about A, B and C.".

The third ceiling reading (``search_guide_ceiling.py --prompts tiny_bios_groups``) found ``tinygpt-l-groups``, whose
corpus held one group conversation per person, not answering the request: its replies start with any one of the
three, go on about people nobody asked about, or give a how-to (base gold −0.51 / −0.41 in worlds 0 / 1). Whether
chunk-level search beats best-of-N on long replies cannot be read off a base that does not write them, so the
world is fixed first, on a ground-truth diagnostic and not on the claim.

**Fit rule, registered before it ran** (2026-12-04 night): for ``per_person`` in (1, 4, 8), ``tinygpt-l-groups``
pretrained with that many group conversations per person (nothing else changes: size, steps, seed, people), its
own samples (T 0.7, top-k 50, 80 new tokens, one per prompt) on held-out test requests 400–599 (after the ceiling
reading's 200–399) are read for **follows**: the requested people are the people the reply's sentences name, in the
request's order, and nobody else. ``tinyworld``'s ``GROUP_DOCS`` becomes the smallest ``per_person`` whose follows
share is at least 0.8 in both worlds (then the ceiling reading's third rule is applied again, unchanged, to the
rebuilt rungs); if none is, the largest's readings are reported and the world is left as it is. Also reported: the
base's mean gold (``bio_wanted``) and the rung's fact recall (every fact, chance 0.125).

    W2S_WORLD_SEED=1 python benchmarks/search_group_docs_fit.py --out world1.json

Result (``search_group_docs_fit_results.json``): **follows 0.0 at 1, 4 and 8 conversations per person in both worlds**
(base gold −0.44 / −0.69 / −0.55 in world 0, −0.39 / −0.77 / −0.59 in world 1; fact recall 0.996–1.0). The rung names
one of the requested people — any one — writes three facts about them, then goes on about someone nobody asked
about: a two-layer model of this size does not learn to take the *next* name from the request. The world is left
as it is; the long replies of Part II are stories about one person instead (``search_guide_ceiling.py``, fourth
reading). The rung is built here, in a temporary directory, at every setting.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

PROMPTS = range(400, 600)
PER_PERSON = (1, 4, 8)


def follows(prompt: str, reply: str, kb) -> bool:
    """The reply's sentences name exactly the requested people, in the request's order (first mentions)."""
    from w2s_lib.data.tinyworld import scorers

    wanted = scorers._entities_in(scorers._last_user_turn(prompt), kb)
    named = list(dict.fromkeys(t for s in scorers._SENTENCE.split(reply or "")
                               for t in re.findall(r"[A-Z][a-z]+", s) if t in kb))
    return named == wanted


def main() -> None:
    from search_pair_decisions import report
    from w2s_lib import data
    from w2s_lib.core.runtime import torch_threads
    from w2s_lib.data.tinyworld import scorers
    from w2s_lib.data.tinyworld.world import current_world_seed
    from w2s_lib.models import tinygpt, zoo
    from w2s_lib.search.cbs import search_many
    from w2s_lib.search.experiment import gold_reward

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="write the result here as JSON")
    args = ap.parse_args()
    t0 = time.process_time()
    ws = current_world_seed()
    kb = scorers._kb(ws)
    gold = gold_reward("bio_wanted")
    prompts = data.load("tiny_bios_groups", "test", seed=1).select(PROMPTS)["prompt"]
    name = "tinygpt-l-groups"
    tok = zoo.load_tokenizer("tinygpt-l")
    result = {"world_seed": ws, "prompts": [PROMPTS.start, PROMPTS.stop], "rung": name, "per_person": {}}
    with tempfile.TemporaryDirectory() as tmp, torch_threads(1):
        for k in PER_PERSON:
            t = time.process_time()
            rung = replace(tinygpt.SIZES["tinygpt-l"], group_docs=k)
            d = tinygpt.build_rung(name, rung, ws, False, Path(tmp), tok, progress=False)
            model = zoo.load_local_causal_lm(d)
            res = search_many(model, tok, prompts, None, width=1, successors=1, chunk_len=None,
                              seeds=list(range(len(prompts))), max_new_tokens=80, temperature=0.7, top_k=50)
            marker = tinygpt.read_marker(d)
            result["per_person"][str(k)] = {
                "follows": round(float(np.mean([follows(p, r.text, kb) for p, r in zip(prompts, res)])), 3),
                "base_gold": round(float(np.mean([gold(p, r.text) for p, r in zip(prompts, res)])), 3),
                "fact_recall": marker["fact_recall"], "heldout_perplexity": marker["heldout_perplexity"],
                "example": prompts[0] + res[0].text, "cpu_seconds": round(time.process_time() - t, 1)}
            shutil.rmtree(d)
            print(k, result["per_person"][str(k)], flush=True)
    ok = [k for k in PER_PERSON if result["per_person"][str(k)]["follows"] >= 0.8]
    result["smallest_passing"] = min(ok) if ok else None
    result["cpu_seconds"] = round(time.process_time() - t0, 1)
    report(result, args.out)


if __name__ == "__main__":
    main()
