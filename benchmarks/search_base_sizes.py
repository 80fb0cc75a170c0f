"""Does the search's gain grow with the base's size? CBS and best-of-16 on every base of chapter 20's tiny preset.

The paper's controlled-sentiment figure shows the guided gain growing with the base model. Chapter 20 runs its
claim on the strongest base only (its CPU budget); this reading, taken after the claim runs (2026-12-04 night,
the fourth machine, no rule: a diagnostic), decodes the claim's test prompts 0–99 for the first two seeds (1, 2)
with each base of the preset (``tinygpt-m-stories``, ``tinygpt-l-stories``) alone, with best-of-16 and with
CBS(4, 4, 3), guided by the chapter's tuned pair, and reports each method's mean gold per base with CBS − base and
CBS − best-of-16 (paired over seeds × prompts: mean ± standard error). Run it in the ``W2S_HOME`` of a chapter-20
run to reuse its pair and the strongest base's searches:

    W2S_HOME=... W2S_WORLD_SEED=1 python benchmarks/search_base_sizes.py --out world1.json

Result (``search_base_sizes_results.json``): CBS − base **+0.171 ± 0.027** on ``tinygpt-m-stories`` and **+0.286 ±
0.023** on ``tinygpt-l-stories`` in world 0; **−0.066 ± 0.034** and **+0.315 ± 0.022** in world 1 (CBS − best-of-16
+0.068 / +0.160 and −0.168 / +0.198). The gain grows with the base. On the middle rung it is small or negative:
``tinygpt-m`` read about the people of tier 2 but not those of tier 3 (half the test people), and steering it
towards sentences about their job, city and pet makes it state more facts it does not know — wrong values, which
the gold charges.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

SEEDS = (1, 2)


def main() -> None:
    from search_pair_decisions import report
    from w2s_lib.data.tinyworld.world import current_world_seed
    from w2s_lib.search.experiment import SearchConfig, per_prompt_gold

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="write the result here as JSON")
    args = ap.parse_args()
    t = time.process_time()
    cfgs = [SearchConfig.for_preset("tiny", {}, seed=s) for s in SEEDS]
    cbs, bon = f"cbs-{'-'.join(map(str, cfgs[0].cbs))}", f"bon-{cfgs[0].bon[0]}"
    result = {"world_seed": current_world_seed(), "seeds": list(SEEDS), "prompts": cfgs[0].n_prompts, "bases": {}}
    tuned = per_prompt_gold(cfgs, cfgs[0].small, "tuned")
    for base in cfgs[0].bases:
        g = {m: per_prompt_gold(cfgs, base, m) for m in ("base", bon, cbs)}
        row = {m: round(float(v.mean()), 3) for m, v in g.items()}
        for name, other in (("cbs_minus_base", g["base"]), ("cbs_minus_bon", g[bon]), ("cbs_minus_small_tuned", tuned)):
            d = (g[cbs] - other).ravel()
            row[name] = [round(float(d.mean()), 3), round(float(d.std(ddof=1) / np.sqrt(d.size)), 3)]
        result["bases"][base] = row
    result["small_tuned_alone"] = round(float(tuned.mean()), 3)
    result["cpu_seconds"] = round(time.process_time() - t, 1)
    report(result, args.out)


if __name__ == "__main__":
    main()
