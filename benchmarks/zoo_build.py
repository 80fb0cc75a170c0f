"""Benchmark: build the tiny-GPT zoo for one world seed; print time, peak memory and the ladder.

    python benchmarks/zoo_build.py --world-seed 0            # full zoo into a fresh temp dir
    python benchmarks/zoo_build.py --micro                   # the micro zoo of the tests
    python benchmarks/zoo_build.py --zoo-dir ~/.cache/w2s-book/zoo --world-seed 1

Prints, per rung: parameters, build seconds, held-out perplexity, fact recall over all KB facts and
over the facts the rung was pretrained on; then the total wall time and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--world-seed", type=int, default=0)
    ap.add_argument("--micro", action="store_true")
    ap.add_argument("--zoo-dir", type=Path, default=None, help="default: a fresh temp dir (a cold build)")
    ap.add_argument("--force", action="store_true", help="rebuild even if the checkpoints exist")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)

    zoo = args.zoo_dir or Path(tempfile.mkdtemp(prefix="w2s-zoo-bench-"))
    os.environ["W2S_ZOO_DIR"] = str(zoo)
    t0 = time.perf_counter()
    from w2s_lib.models import tinygpt as G

    G.build_zoo(micro=args.micro, world_seed=args.world_seed, force=args.force, progress=not args.no_progress)
    wall = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest worker
    import torch

    print(f"\nzoo {G.world_tag(args.world_seed, args.micro)} in {zoo}  (worker processes: "
          f"{G.build_jobs(args.micro)} x 1 torch thread, cores: {os.cpu_count()}, torch {torch.__version__})")
    hdr = f"{'rung':<12}{'params':>10}{'build s':>9}{'ppl':>8}{'recall':>8}{'known':>7}{'recall(known)':>15}"
    print(hdr)
    print("-" * len(hdr))
    for r in G.ladder_report(micro=args.micro, world_seed=args.world_seed):
        print(f"{r['name']:<12}{r['params']:>10,}{r['build_seconds']:>9.1f}{r['heldout_perplexity']:>8.3f}"
              f"{r['fact_recall']:>8.3f}{r['n_known_entities']:>4}/{r['n_entities']:<3}"
              f"{r['fact_recall_known']:>14.3f}")
    print(f"total wall time {wall:.1f} s (incl. imports, tokenizer, evaluation); peak RSS: main {rss_mb:.0f} MB, "
          f"largest worker {child_mb:.0f} MB (all processes together <= {rss_mb + G.build_jobs(args.micro) * child_mb:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
