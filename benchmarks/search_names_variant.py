"""Chapter 20's pair-decision diagnostic in a variant world where every rung has read every person's name.

In the tiny world a weak rung never reads the names of the people whose facts it was not given, so the search
pair's untuned ``tinygpt-s`` finds a test person's name nearly impossible (log-probability ≈ −18 per mention,
``benchmarks/search_pair_decisions.py``) and the pair's score of a reply is mostly +5 to +9 per statement that
names the person. This variant asks whether that artefact is what keeps CBS from beating best-of-N: its
``tinygpt-s`` is pretrained on the world's corpus plus

- every person named three times in passing, no fact stated ("Gigen, Zobra and Steni are neighbours."), and
- for each person it has no facts of, the chat turn "Tell me about <them>." answered with such a line,

so asked about a stranger it names them (and says what it has read) instead of changing the subject. The
tokenizer and the bases (``tinygpt-m``, ``tinygpt-l``) are the real zoo's, linked into a scratch zoo; only
``tinygpt-s`` is rebuilt (same rung, seed and steps). Then the pair is tuned and measured exactly as
``search_pair_decisions.py`` does, once per ``--overrides`` entry. The world's own corpus is unchanged: this
is a measurement, not the chapter's world.

    W2S_WORLD_SEED=1 W2S_HOME=... python benchmarks/search_names_variant.py --out results.json \\
        --overrides '[{}, {"tune_match": "sentences"}]'
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import time
from pathlib import Path

MENTIONS = 3  # passing mentions per person


def variant_corpus(original):
    """``original`` (the world's ``corpus``) plus the name-only documents described above, reshuffled."""
    from w2s_lib.data.tinyworld import chat_prompt, world
    from w2s_lib.data.tinyworld.world import _rng

    def corpus(seed: int = 0, micro: bool = False, entities=None, heldout: bool = False) -> list[str]:
        docs = original(seed, micro, entities=entities, heldout=heldout)
        w = world(seed, micro)
        rng = _rng("names-variant", seed, micro, heldout)
        names = [e for e in w.entities for _ in range(MENTIONS)]
        rng.shuffle(names)
        docs += [f"{a}, {b} and {c} are neighbours." for a, b, c in zip(names[0::3], names[1::3], names[2::3])]
        if not heldout:
            known = set(w.entities if entities is None else entities)
            for e in w.entities:
                if e not in known:
                    a, b = rng.sample([x for x in w.entities if x != e], 2)
                    docs.append(chat_prompt(f"Tell me about {e}.") + f" {e}, {a} and {b} are neighbours.")
        random.Random(rng.random()).shuffle(docs)
        return docs

    return corpus


def build_variant_zoo(real_zoo: Path, scratch_zoo: Path, world_seed: int) -> dict:
    """The scratch zoo: the real tokenizer and bases linked in, ``tinygpt-s`` pretrained on the variant corpus."""
    from w2s_lib.data import tinyworld
    from w2s_lib.models import tinygpt as G

    tag = G.world_tag(world_seed)
    src, dst = real_zoo / tag, scratch_zoo / tag
    dst.mkdir(parents=True, exist_ok=True)
    for part in ("tokenizer", "tinygpt-m", "tinygpt-l"):
        if G.read_marker(src / part) is None:
            raise SystemExit(f"{src / part} is not built; run `w2s zoo build` for world {world_seed} first")
        if not (dst / part).exists():
            (dst / part).mkdir()
            for f in (src / part).iterdir():
                os.link(f, dst / part / f.name)
    if G.read_marker(dst / "tinygpt-s") is None:
        from transformers import AutoTokenizer

        original = tinyworld.corpus
        tinyworld.corpus = variant_corpus(original)
        try:
            G.build_rung("tinygpt-s", G.SIZES["tinygpt-s"], world_seed, False, dst, AutoTokenizer.from_pretrained(dst / "tokenizer"),
                         progress=False)
        finally:
            tinyworld.corpus = original
    meta = G.read_marker(dst / "tinygpt-s")
    return {k: meta[k] for k in ("fact_recall", "fact_recall_known", "heldout_perplexity", "build_seconds")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--overrides", default="[{}]", help="JSON list of SearchConfig overrides, one pair each")
    ap.add_argument("--out", help="write the results here as JSON")
    args = ap.parse_args()

    from w2s_lib.core.paths import home, zoo_dir
    from w2s_lib.core.runtime import torch_threads
    from w2s_lib.data.tinyworld.world import current_world_seed

    real_zoo, scratch = zoo_dir(), home() / "names-variant"
    os.environ["W2S_HOME"] = str(scratch)  # the variant's tuned pairs and runs stay apart from the real ones
    os.environ["W2S_ZOO_DIR"] = str(scratch / "zoo")
    spec = importlib.util.spec_from_file_location("decisions", Path(__file__).with_name("search_pair_decisions.py"))
    decisions = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(decisions)

    t = time.process_time()
    with torch_threads(1):
        rung = build_variant_zoo(real_zoo, scratch / "zoo", current_world_seed())
        runs = [{"world_seed": current_world_seed(), "overrides": o, "variant_tinygpt_s": rung, **decisions.measure(o)}
                for o in json.loads(args.overrides)]
    decisions.report({"runs": runs, "cpu_seconds": round(time.process_time() - t, 1)}, args.out)


if __name__ == "__main__":
    main()
