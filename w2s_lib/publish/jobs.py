"""Chapters and their independent cached runs as jobs on a cluster scheduler (submitit).

The library does not schedule anything itself: `submitit <https://github.com/facebookincubator/submitit>`_
submits to SLURM (``executor="slurm"``) or starts local processes (``executor="local"``, what the tests
use). What this module adds is *what* to submit:

- a **plan** per chapter (:data:`PLANNERS`): the chapter's expensive cached runs as :class:`Task` s, each
  one :func:`~w2s_lib.core.artifacts.load_or_run` call keyed by its config's run id, with the run ids it
  reads (a student reads its supervisor's labels). The plan mirrors the chapter's parameters cell, so the
  notebook, run afterwards, finds every run cached and only assembles tables, figures and claims;
- :func:`run_tasks`: a plan in **stages** (a task waits for the runs it reads), each stage one job array;
  runs already finished are not submitted, so a resubmitted sweep picks up where the last one stopped
  (a killed job leaves no finished-looking run: the store writes atomically);
- :func:`submit_reproduce`: the runs of every chosen chapter (shared runs submitted once), then each chapter
  notebook as a job, the scorecard last, then the book built here.

Every job writes into the one shared run store (``$W2S_HOME/runs``, on a file system all nodes see) and
its log into ``$W2S_HOME/jobs/<sweep>/``. A failed job is reported with its error line and its log path.
Several GPUs inside one job stay HF Trainer / TRL: with ``gpus_per_job > 1`` the job's runs start as the
ranks of ``accelerate launch`` with ``configs/accelerate/multi_gpu.yaml`` (data-parallel).

A plan builds its run ids with the chapter modules' own config builders (``pipeline._fit_cfg``,
``chess._fit_cfg``, ``experiment._tune_cfg`` / ``_method_key``, and for Part I's ``mode='head'`` the feature
runs of :class:`~w2s_lib.generalization.frozen.HeadFit`); ``tests/test_jobs.py`` checks each plan against the
run ids that the chapter's functions compute, so a change there that a plan misses fails a test.

In ``mode='head'`` (Part I's tiny/smoke default) the heads of every rung and every seed are one batched
in-process fit that is not a cached run at all: the only cached (and expensive) runs are the frozen encoder's
layer features, one run per (encoder, init, texts). Such a plan is therefore short — one or two feature runs
— and the notebook, run afterwards, trains the heads itself (seconds).
"""

from __future__ import annotations

import functools
import os
import shutil
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from w2s_lib.core import artifacts, paths
from w2s_lib.core.config import Config, seeds_for
from w2s_lib.core.errors import W2SError, unknown

EXECUTORS = ("local", "slurm")
#: environment variables a job needs to see the same store, zoo, world and scale as the submitter
ENV_PREFIXES = ("W2S_", "HF_", "TRANSFORMERS_", "TOKENIZERS_", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                "PYTHONPATH", "ACCELERATE_")


# --------------------------------------------------------------------------------------------------
# tasks and plans

@dataclass(frozen=True)
class Task:
    """One cached run: ``fn()`` computes (or loads) the artifact of ``config``; ``after`` lists the run ids
    it reads, which must be finished first. ``fn`` must be picklable (a module-level function or a
    :func:`functools.partial` of one): it travels to the job."""

    config: Config
    fn: Callable[[], Any]
    after: tuple[str, ...] = ()
    label: str = ""

    @property
    def run_id(self) -> str:
        return self.config.run_id

    def done(self) -> bool:
        return artifacts.load(self.config) is not None


def dedupe(tasks: Iterable[Task]) -> list[Task]:
    """One task per run id (the first one seen); chapters share runs (GT fits, baselines)."""
    out: dict[str, Task] = {}
    for t in tasks:
        out.setdefault(t.run_id, t)
    return list(out.values())


def stages(tasks: Iterable[Task]) -> list[list[Task]]:
    """Tasks in dependency levels: a task's level is one more than that of the runs it reads (dependencies
    outside the plan count as given). Raises on a cycle."""
    tasks = dedupe(tasks)
    by_id = {t.run_id: t for t in tasks}
    level: dict[str, int] = {}

    def depth(rid: str, seen: tuple[str, ...] = ()) -> int:
        if rid in level:
            return level[rid]
        if rid in seen:
            raise W2SError(f"the plan has a dependency cycle through run {rid}")
        deps = [d for d in by_id[rid].after if d in by_id]
        level[rid] = 1 + max((depth(d, seen + (rid,)) for d in deps), default=-1)
        return level[rid]

    for t in tasks:
        depth(t.run_id)
    out: list[list[Task]] = [[] for _ in range(1 + max(level.values(), default=-1))]
    for t in tasks:
        out[level[t.run_id]].append(t)
    return out


def _head_features(cfg, seeds: tuple[int, ...], init: str) -> None:
    """The body of a ``mode='head'`` feature task: the frozen encoder's layer features (one cached run)
    exactly as :class:`~w2s_lib.generalization.frozen.HeadFit` asks for them in the chapter."""
    from w2s_lib.generalization import pipeline as w2s

    fit = w2s.ladder_fit(cfg, list(seeds))
    fit.features(next(r for r in _bases(cfg.ladder) if r != _BOW), init)


_BOW = "bow"  # frozen.BOW: the bag-of-words rung has no cached features


def _bases(rungs: Iterable[str]) -> list[str]:
    """The models behind ladder rungs (a supervisor-only ``"bow@100"`` is the bag of words)."""
    from w2s_lib.generalization.ladder import split_rung

    return [split_rung(r)[0] for r in rungs]


def head_plan(cfg, seeds: Sequence[int], inits: Iterable[str]) -> list[Task]:
    """The cached runs of a ``mode='head'`` chapter arm: the layer features of the frozen encoder for each
    of ``inits`` (``pretrained`` for supervisors, ``cfg.strong_init`` for ceilings and students) over the
    texts :class:`~w2s_lib.generalization.frozen.HeadFit` encodes for ``seeds``. The heads themselves (all
    rungs, all seeds, one batched fit) are not cached runs: the notebook trains them in process."""
    from w2s_lib.generalization import frozen
    from w2s_lib.generalization import pipeline as w2s
    from w2s_lib.core.artifacts import texts_hash

    if not any(r != _BOW for r in _bases(cfg.ladder)):
        return []
    fit = w2s.ladder_fit(cfg, list(seeds))  # loads the rows (cheap); encodes nothing
    tasks = []
    for init in dict.fromkeys(inits):
        fc = frozen.LayerFeaturesConfig(preset=cfg.preset, model=fit._encoder, init=init,
                                        texts_hash=texts_hash(fit._texts), max_length=cfg.max_length)
        tasks.append(Task(fc, functools.partial(_head_features, cfg, tuple(int(s) for s in seeds), init), (),
                          f"{cfg.dataset}: {init} {fit._encoder} features, {len(fit._texts)} texts"))
    return dedupe(tasks)


def _head_inits(cfg, supervisors: Sequence[str], strong: Sequence[str]) -> list[str]:
    """The feature inits a head-mode arm reads: supervisors are pretrained, ceilings and students
    ``cfg.strong_init``; the bag-of-words rung reads no features."""
    out = ["pretrained"] if any(r != _BOW for r in _bases(supervisors)) else []
    return out + ([cfg.strong_init] if any(r != _BOW for r in _bases(strong)) else [])


def ladder_plan(cfg, seeds: Sequence[int]) -> list[Task]:
    """The runs of :func:`~w2s_lib.generalization.pipeline.run_w2s` (also ``ladder_table`` and
    ``loss_comparison``): per seed every rung fitted on GT, and a student per (weak < strong) pair, each
    after its supervisor. In probe mode the first seed's GT fit of a model computes the frozen features all
    seeds share, so the other seeds' fits of that model wait for it (instead of encoding the data again).
    In head mode: the feature runs (:func:`head_plan`)."""
    from w2s_lib.generalization import pipeline as w2s

    if cfg.mode == "head":
        return head_plan(cfg, seeds, _head_inits(cfg, cfg.ladder[:-1], cfg.ladder[1:]))
    tasks: list[Task] = []
    first: dict[str, str] = {}
    for seed in seeds:
        c = cfg.replace(seed=seed)
        plain = c.replace(generative_epochs=0.0)  # supervisors never get generative finetuning
        sup = {m: w2s._fit_cfg(plain, m, None, seed) for m in c.ladder[:-1]}
        gts = [(plain, m, sup[m]) for m in c.ladder[:-1]]
        gts += [(c, m, w2s._fit_cfg(c, m, None, seed)) for m in c.ladder[1:]]
        gen = f" +gen{c.generative_epochs:g}" if c.generative_epochs else ""
        for run_cfg, m, fc in gts:
            key = f"{m}|{run_cfg.generative_epochs}"
            after = (first[key],) if c.mode == "probe" and key in first and first[key] != fc.run_id else ()
            first.setdefault(key, fc.run_id)
            extra = gen if run_cfg is c else ""
            tasks.append(Task(fc, functools.partial(w2s.fit_gt, run_cfg, m, seed), after,
                              f"{c.dataset}: gt {m}{extra} s{seed}"))
        for i, weak in enumerate(c.ladder[:-1]):
            for strong in c.ladder[i + 1:]:
                fc = w2s._fit_cfg(c, strong, sup[weak], seed)
                tasks.append(Task(fc, functools.partial(w2s.fit_student, c, strong, sup[weak], seed),
                                  (sup[weak].run_id,), f"{c.dataset}: {weak}→{strong} {c.loss}{gen} s{seed}"))
    return dedupe(tasks)


def bootstrap_plan(cfg, seeds: Sequence[int]) -> list[Task]:
    """The runs of :func:`~w2s_lib.generalization.pipeline.run_bootstrap` (``ladder.bootstrap_chain``): M1
    (the first supervisor) and Mn's ceiling on GT, the chain M1 → M2 → … (each link after the previous one)
    and the direct student. In head mode: the feature runs (:func:`head_plan`)."""
    from w2s_lib.generalization import pipeline as w2s

    if cfg.mode == "head":
        return head_plan(cfg, seeds, _head_inits(cfg, cfg.ladder[:1], cfg.ladder[1:]))
    tasks: list[Task] = []
    for seed in seeds:
        c = cfg.replace(seed=seed)
        plain = c.replace(generative_epochs=0.0)
        first = w2s._fit_cfg(plain, c.ladder[0], None, seed)
        tasks.append(Task(first, functools.partial(w2s.fit_gt, plain, c.ladder[0], seed), (),
                          f"{c.dataset}: gt {c.ladder[0]} s{seed}"))
        ceiling = w2s._fit_cfg(c, c.ladder[-1], None, seed)
        tasks.append(Task(ceiling, functools.partial(w2s.fit_gt, c, c.ladder[-1], seed), (),
                          f"{c.dataset}: gt {c.ladder[-1]} s{seed}"))
        sup = first
        for m in c.ladder[1:]:
            fc = w2s._fit_cfg(c, m, sup, seed)
            tasks.append(Task(fc, functools.partial(w2s.fit_student, c, m, sup, seed), (sup.run_id,),
                              f"{c.dataset}: chain →{m} s{seed}"))
            sup = fc
        direct = w2s._fit_cfg(c, c.ladder[-1], first, seed)
        tasks.append(Task(direct, functools.partial(w2s.fit_student, c, c.ladder[-1], first, seed), (first.run_id,),
                          f"{c.dataset}: direct {c.ladder[0]}→{c.ladder[-1]} s{seed}"))
    return dedupe(tasks)


def chess_plan(cfg, seeds: Sequence[int]) -> list[Task]:
    """The runs of chapter 14 (:mod:`w2s_lib.generalization.chess`: ``ladder_table``, ``run_pairs``,
    ``run_bootstrap``): per seed every rung fine-tuned on GT, a student per (weak < strong) pair after its
    supervisor, and the bootstrapping chain (:func:`chess_bootstrap_plan`)."""
    from w2s_lib.generalization import chess as C

    tasks: list[Task] = []
    for seed in seeds:
        c = cfg.replace(seed=seed)
        gt = {m: C._fit_cfg(c, m, None, seed) for m in c.ladder}
        tasks += [Task(fc, functools.partial(C.fit, c, m, seed), (), f"gt {m} s{seed}") for m, fc in gt.items()]
        for i, weak in enumerate(c.ladder[:-1]):
            for strong in c.ladder[i + 1:]:
                tasks.append(Task(C._fit_cfg(c, strong, gt[weak], seed),
                                  functools.partial(C.fit, c, strong, seed, gt[weak]), (gt[weak].run_id,),
                                  f"{weak}→{strong} s{seed}"))
    return dedupe(tasks + chess_bootstrap_plan(cfg, seeds))


def chess_bootstrap_plan(cfg, seeds: Sequence[int]) -> list[Task]:
    """The runs of :func:`~w2s_lib.generalization.chess.run_bootstrap`: the first and last rungs on GT, the
    chain (with ``cross_fit`` each intermediate is two half-students, each after the previous link, and
    the next link after both halves), the top of the chain and the direct student."""
    from w2s_lib.generalization import chess as C

    tasks: list[Task] = []
    for seed in seeds:
        c = cfg.replace(seed=seed)
        first, top = C._fit_cfg(c, c.ladder[0], None, seed), C._fit_cfg(c, c.ladder[-1], None, seed)
        tasks += [Task(fc, functools.partial(C.fit, c, m, seed), (), f"gt {m} s{seed}")
                  for m, fc in ((c.ladder[0], first), (c.ladder[-1], top))]
        sup = first
        for m in c.ladder[1:-1]:
            reads = tuple(f.run_id for f in (sup if isinstance(sup, tuple) else (sup,)))
            if c.cross_fit:
                halves = tuple(C._fit_cfg(c, m, sup, seed, h) for h in (0, 1))
                tasks += [Task(fc, functools.partial(C.fit, c, m, seed, sup, half=h), reads,
                               f"chain →{m} half {h} s{seed}") for h, fc in enumerate(halves)]
                sup = halves
            else:
                fc = C._fit_cfg(c, m, sup, seed)
                tasks.append(Task(fc, functools.partial(C.fit, c, m, seed, sup), reads, f"chain →{m} s{seed}"))
                sup = fc
        reads = tuple(f.run_id for f in (sup if isinstance(sup, tuple) else (sup,)))
        tasks.append(Task(C._fit_cfg(c, c.ladder[-1], sup, seed), functools.partial(C.fit, c, c.ladder[-1], seed, sup),
                          reads, f"chain →{c.ladder[-1]} s{seed}"))
        tasks.append(Task(C._fit_cfg(c, c.ladder[-1], first, seed),
                          functools.partial(C.fit, c, c.ladder[-1], seed, first), (first.run_id,),
                          f"direct {c.ladder[0]}→{c.ladder[-1]} s{seed}"))
    return dedupe(tasks)


def search_plan(cfgs, bases: Sequence[str] | None = None, methods: Sequence[str] | None = None,
                with_tuned: bool = True) -> list[Task]:
    """The runs of :func:`~w2s_lib.search.experiment.results_frame` (same arguments): per config the tuned
    scorer, then every method on every base (and the tuned small model alone), each after the tuning."""
    from w2s_lib.search import experiment as S

    tasks: list[Task] = []
    for c in cfgs:
        tune = S._tune_cfg(c)
        tasks.append(Task(tune, functools.partial(S.tune_scorer, c), (), f"tune {c.small} {c.prompts} s{c.seed}"))
        runs = [(b, m) for b in bases or c.bases for m in methods or S.method_names(c, b)]
        runs += [(c.small, "tuned")] if with_tuned else []
        for base, method in runs:
            mcfg = S.MethodConfig(preset=c.preset, seed=c.seed, search=S._method_key(c), base=base, method=method)
            tasks.append(Task(mcfg, functools.partial(S.run_method, c, base, method), (tune.run_id,),
                              f"{method} on {base} {c.prompts} s{c.seed}"))
    return dedupe(tasks)


# Each planner mirrors its notebook's parameters cell: (preset, parameters with the notebook's defaults) → tasks.

def _w2s_cfg(preset: str, p: dict, **more):
    from w2s_lib.generalization.pipeline import W2SConfig

    return W2SConfig.for_preset(preset, p.get("overrides") or {}, **more)


#: chapter 00's learning curves: frozen features of these models on the first seed's D_gt and test rows
CURVE_MODELS = ("minilm-l1", "minilm-l2", "minilm-l4", "minilm-l6")


def _curve_rows(cfg, split: str) -> list[str]:
    from w2s_lib.generalization.pipeline import w2s_data

    return list(w2s_data(cfg.dataset, cfg.n_docs, cfg.n_test, cfg.seed)[split]["text"])  # as the notebook


def _curve_features(cfg, split: str, model: str) -> None:
    from w2s_lib.train.probe import cached_features

    cached_features(model, _curve_rows(cfg, split), cfg.preset)


def _plan_00(preset: str, p: dict) -> list[Task]:
    from w2s_lib.core.artifacts import texts_hash
    from w2s_lib.train.probe import FeaturesConfig

    cfg = _w2s_cfg(preset, p, seed=p.get("seed", 0))
    pair = cfg.replace(ladder=(cfg.ladder[0], cfg.ladder[-1]), lrs=(cfg.lrs[0], cfg.lrs[-1]) if cfg.lrs else ())
    tasks = ladder_plan(pair, [cfg.seed])
    for split in ("gt_train", "test"):
        h = texts_hash(_curve_rows(cfg, split))
        tasks += [Task(FeaturesConfig(preset=cfg.preset, model=m, texts_hash=h),
                       functools.partial(_curve_features, cfg, split, m), (), f"{cfg.dataset}: {m} features, {split}")
                  for m in CURVE_MODELS]
    return dedupe(tasks)


def _ladder_table_plan(cfg, seeds: Sequence[int]) -> list[Task]:
    """``ladder_table``: cached modes read the GT fits ``ladder_plan`` lists; head mode fits every rung as
    supervisor (pretrained) and as ceiling (``strong_init``)."""
    if cfg.mode == "head":
        return head_plan(cfg, seeds, _head_inits(cfg, cfg.ladder, cfg.ladder))
    return []


def _plan_10(preset: str, p: dict) -> list[Task]:
    cfg, seeds = _w2s_cfg(preset, p), p["seeds"]
    tasks = _ladder_table_plan(cfg, seeds) + ladder_plan(cfg, seeds)
    if cfg.mode == "head":  # the mechanism-off arm and the lr 1e-2 check (notebook 10, head mode only)
        tasks += ladder_plan(cfg.replace(strong_init="random"), seeds) + ladder_plan(cfg.replace(train={"lr": 1e-2}), seeds)
    return dedupe(tasks)


def _plan_11(preset: str, p: dict) -> list[Task]:
    from w2s_lib.generalization.pipeline import gap_ladder

    cfg, seeds = gap_ladder(_w2s_cfg(preset, p), p.get("overrides")), p["seeds"]
    arms = [cfg.replace(loss=loss) for loss in ("xent", "logconf", "product")]
    if cfg.mode == "head":  # random-init students, xent and logconf
        arms += [cfg.replace(strong_init="random", loss=loss) for loss in ("xent", "logconf")]
    return dedupe(t for c in arms for t in ladder_plan(c, seeds))


def _plan_12(preset: str, p: dict) -> list[Task]:
    cfg, seeds = _w2s_cfg(preset, p), p["seeds"]
    tasks = bootstrap_plan(cfg, seeds)
    if cfg.mode == "head":  # in-sample relabelling and the random-init arm (notebook 12, head mode only)
        tasks += bootstrap_plan(cfg.replace(crossfit=False), seeds)
        tasks += bootstrap_plan(cfg.replace(strong_init="random"), seeds)
    return dedupe(tasks)


def _plan_13(preset: str, p: dict) -> list[Task]:
    """C4 on the slang task (the two self-supervised passes, each arm's features of every sentence, then per
    seed one cached run of all three arms, soft and hard weak labels) and reward modelling (naive and with generative finetuning, and its ladder table)."""
    from w2s_lib.data.tinyworld.world import current_world_seed
    from w2s_lib.generalization import generative as G
    from w2s_lib.generalization.pipeline import comparison_config

    seeds, rm_seeds = seeds_for(preset, p["seeds"]), seeds_for(preset, p["rm_seeds"])
    cfg = G.SlangConfig.for_preset(preset, {"world": current_world_seed(), **dict(p.get("overrides") or {})})
    ssl = [G.ssl_config(cfg, arm) for arm in ("generative", "control")]
    tasks = [Task(sc, functools.partial(G.ssl_backbone, sc), (), f"slang: ssl pass signal={sc.signal}") for sc in ssl]
    feats = [G.features_config(cfg, arm) for arm in G.ARMS]  # each arm's features of every sentence, after its pass
    tasks += [Task(fc, functools.partial(G.arm_features, cfg, fc.arm), (fc.ssl,) if fc.ssl else (),
                   f"slang: features {fc.arm}") for fc in feats]
    for c in (cfg, cfg.replace(weak_labels="hard")):  # the chapter's soft-label claim and its hard-label variant
        tasks += [Task(c.replace(seed=s), functools.partial(G.run_seed, c, s), tuple(fc.run_id for fc in feats),
                       f"slang: arms {c.weak_labels} s{s}") for s in seeds]
    reward = comparison_config("reward", preset, p.get("rm_overrides"))
    epochs = float(p.get("generative_epochs", 1.0))
    return dedupe(tasks + ladder_plan(reward.replace(generative_epochs=0.0), rm_seeds)
                  + ladder_plan(reward.replace(generative_epochs=epochs), rm_seeds))


def _plan_14(preset: str, p: dict) -> list[Task]:
    from w2s_lib.generalization.chess import ChessW2SConfig

    cfg = ChessW2SConfig.for_preset(preset, p.get("overrides") or {})
    seeds = seeds_for(preset, p["seeds"])
    off = cfg.replace(corpus="greedy")  # the mechanism-off ladder: bootstrapping only
    return dedupe(chess_plan(cfg, seeds) + chess_bootstrap_plan(off, seeds))


#: chapter 20's sweep of search budgets on the largest base, and its other tasks (run on the first seed)
SEARCH_SWEEP = ("base", "bon-4", "cbs-2-2-5", "bon-{bon}", "cbs-2-8-5", "cbs-4-4-5", "cbs-8-2-5", "cbs-4-4-2",
                "cbs-4-4-10")
SEARCH_TASKS = (("tiny_instructions", "helpfulness"), ("tiny_summaries", "faithfulness"))


def _plan_20(preset: str, p: dict) -> list[Task]:
    from w2s_lib.search.experiment import SearchConfig

    cfgs = [SearchConfig.for_preset(preset, p.get("overrides") or {}, seed=s) for s in seeds_for(preset, p["seeds"])]
    cfg, big = cfgs[0], cfgs[0].bases[-1]
    bon, cbs = f"bon-{cfg.bon[0]}", f"cbs-{'-'.join(map(str, cfg.cbs))}"
    tasks = search_plan(cfgs)
    tasks += search_plan(cfgs, [big], [m.format(bon=cfg.bon[0]) for m in SEARCH_SWEEP], with_tuned=False)
    for prompts, gold in SEARCH_TASKS:
        tasks += search_plan([cfg.replace(prompts=prompts, gold=gold)], [big], ["base", bon, cbs])
    return dedupe(tasks)


#: chapter key -> planner(preset, parameters) -> tasks. A chapter without one runs as a single job.
PLANNERS: dict[str, Callable[[str, dict], list[Task]]] = {
    "00": _plan_00, "10": _plan_10, "11": _plan_11, "12": _plan_12, "13": _plan_13, "14": _plan_14,
    "20": _plan_20,
}


def chapter_plan(name: str, preset: str = "tiny", params: dict | None = None) -> list[Task]:
    """The independent cached runs of chapter ``name`` at ``preset`` with the notebook's ``params``
    (validated as ``w2s run`` validates them; missing ones take the notebook's defaults). A chapter without
    a planner has an empty plan (it runs whole, as one job)."""
    from w2s_lib.publish import book

    nb = book.get_notebook(name)
    given = book.split_parameters(nb, preset, dict(params or {}))
    planner = PLANNERS.get(nb.key)
    if planner is None:
        return []
    defaults = {k: _literal(v) for k, v in book.notebook_parameters(nb).items()}
    return planner(preset, {**defaults, **given})


def _literal(text: Any) -> Any:
    """papermill reports a parameter's default as its source text (``"[0, 1, 2]"``, ``"list(range(10))"``)."""
    import ast

    if not isinstance(text, str):
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    try:  # list(range(n)) and the like: no names but these, no builtins
        tree = ast.parse(text, mode="eval")
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        if names <= {"list", "range", "tuple"} and not any(isinstance(n, ast.Attribute) for n in ast.walk(tree)):
            return eval(compile(tree, "<parameter>", "eval"), {"__builtins__": {}},  # noqa: S307
                        {"list": list, "range": range, "tuple": tuple})
    except (ValueError, SyntaxError, TypeError):
        pass
    return text


# --------------------------------------------------------------------------------------------------
# executing a plan with submitit

@dataclass(frozen=True)
class JobOptions:
    """Where and how jobs run. ``max_jobs`` caps the jobs of one stage (runs are dealt round-robin into at
    most that many jobs, each running its share one after another); ``None`` = one job per run on SLURM,
    one per CPU core at most for local processes."""

    executor: str = "local"
    partition: str | None = None
    gpus_per_job: int = 0
    cpus_per_job: int | None = None
    mem_gb: float | None = None
    timeout_min: int = 240
    max_jobs: int | None = None
    array_parallelism: int | None = None  # SLURM: how many of an array run at once
    folder: Path | None = None  # logs and pickles; default $W2S_HOME/jobs/<time>-<name>

    @property
    def job_limit(self) -> int | None:
        """Jobs per stage: ``max_jobs``, else one per run (SLURM queues them), or one per CPU core (local)."""
        return self.max_jobs or (os.cpu_count() or 1 if self.executor == "local" else None)

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS + ("debug",):
            raise unknown("executor", self.executor, EXECUTORS)
        for name in ("gpus_per_job", "cpus_per_job", "timeout_min", "max_jobs", "array_parallelism"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < (0 if name == "gpus_per_job" else 1)):
                raise W2SError(f"--{name.replace('_', '-')} must be a positive integer, got {v!r}")
        if self.executor == "slurm" and shutil.which("sbatch") is None:
            raise W2SError("--executor slurm needs SLURM's sbatch on this machine (a cluster login node); "
                           "use --executor local to run the jobs here")


@dataclass
class JobReport:
    """What became of one job: ``state`` is ``done``, ``failed`` or ``blocked`` (a run it reads failed)."""

    name: str
    job_id: str
    state: str
    runs: list[str]
    log: str = ""
    error: str = ""

    def line(self) -> str:
        where = f" (log: {self.log})" if self.log else ""
        err = f": {self.error}" if self.error else ""
        return f"job {self.job_id} [{self.name}] {self.state}{err}{where}"


@dataclass
class Sweep:
    """The reports of one submission, in order."""

    reports: list[JobReport] = field(default_factory=list)

    @property
    def failed(self) -> list[JobReport]:
        return [r for r in self.reports if r.state != "done"]

    def raise_for_failures(self) -> None:
        if self.failed:
            raise W2SError(f"{len(self.failed)} of {len(self.reports)} jobs did not finish (listed above with their "
                           f"logs); submit the same command again to retry them: finished runs are reused")


def job_env() -> dict[str, str]:
    """The environment a job needs (store, zoo, world, scale, offline switches), with ``W2S_HOME`` made
    explicit so that every job writes into the submitter's store."""
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}
    env["W2S_HOME"] = str(paths.home())
    return env


def _apply_env(env: dict[str, str]) -> None:
    os.environ.update(env)


class _Requeueable:
    """A job body that submitit requeues when the scheduler signals a time-out or a pre-emption (SLURM sends
    the signal ahead of the kill): the requeued job calls it again with the same tasks, and the runs finished
    before the signal load from the store. A job killed without warning is left to resubmission."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def checkpoint(self, *args: Any):
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, *args)


def _run_chunk(tasks: list[Task], env: dict[str, str]) -> list[dict]:
    """The body of a runs job: each task in turn; every failure is collected, the first one re-raised
    (after the others ran) with the failed run ids."""
    _apply_env(env)
    done, failed = [], []
    for t in tasks:
        started = time.process_time()
        try:
            t.fn()
        except Exception as exc:  # noqa: BLE001  (reported per run, then raised)
            traceback.print_exc()
            failed.append(f"{t.label or t.run_id}: {type(exc).__name__}: {exc}")
            continue
        done.append({"run_id": t.run_id, "cpu_seconds": round(time.process_time() - started, 2)})
        print(f"done {t.label} ({t.run_id}) in {done[-1]['cpu_seconds']} s CPU", flush=True)
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(tasks)} runs failed; first: {failed[0]}")
    return done


#: the accelerate config of a job with several GPUs (HF Trainer / TRL data-parallel inside the job)
ACCELERATE_CONFIG = paths.REPO_ROOT / "configs" / "accelerate" / "multi_gpu.yaml"


def _run_chunk_launched(tasks: list[Task], env: dict[str, str], processes: int) -> list[dict]:
    """The body of a runs job with several GPUs: the same tasks in ``processes`` ranks started by
    ``accelerate launch`` (see :data:`ACCELERATE_CONFIG`), so that HF Trainer / TRL train data-parallel.
    Every rank computes each run into its own temporary directory; the store keeps the first one finished
    (:func:`~w2s_lib.core.artifacts.load_or_run`), the ranks' results being the same run. Training that is
    not Trainer-based (the linear probes of the tiny preset) gains nothing from it: one GPU per job there."""
    import subprocess
    import sys
    import tempfile

    import cloudpickle

    _apply_env(env)
    config = Path(env.get("W2S_ACCELERATE_CONFIG") or ACCELERATE_CONFIG)
    with tempfile.TemporaryDirectory(prefix="w2s-job-") as tmp:
        spec = Path(tmp) / "tasks.pkl"
        spec.write_bytes(cloudpickle.dumps((tasks, env)))
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config),
               "--num_processes", str(processes), "-m", "w2s_lib.publish.jobs", str(spec)]
        print("launching:", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    missing = [t.label or t.run_id for t in tasks if not t.done()]
    if missing:
        raise RuntimeError(f"{len(missing)} of {len(tasks)} runs did not finish under accelerate; first: {missing[0]}")
    return [{"run_id": t.run_id} for t in tasks]


def _run_notebooks(stems: list[str], preset: str, env: dict[str, str]) -> list[str]:
    """The body of a chapter job: each notebook executed by papermill into ``book/chapters/``."""
    _apply_env(env)
    from w2s_lib.publish import book

    out = []
    for stem in stems:
        started = time.time()
        out.append(str(book.run(stem, preset, output=book.CHAPTER_DIR / f"{stem}.ipynb", progress=False)))
        print(f"done {stem} in {time.time() - started:.0f} s", flush=True)
    return out


def _executor(opts: JobOptions, name: str):
    try:
        import submitit
    except ImportError:
        raise W2SError("submitting jobs needs the `submitit` package: pip install submitit") from None
    folder = opts.folder or paths.home() / "jobs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
    ex = submitit.AutoExecutor(folder=Path(folder) / "%j", cluster=opts.executor)
    params: dict[str, Any] = {"name": f"w2s-{name}", "timeout_min": opts.timeout_min, "stderr_to_stdout": True,
                              "gpus_per_node": opts.gpus_per_job}
    if opts.cpus_per_job:
        params["cpus_per_task"] = opts.cpus_per_job
    if opts.mem_gb:
        params["mem_gb"] = opts.mem_gb
    if opts.executor == "slurm":
        if opts.partition:
            params["slurm_partition"] = opts.partition
        if opts.array_parallelism:
            params["slurm_array_parallelism"] = opts.array_parallelism
    ex.update_parameters(**params)
    return ex


def _chunks(tasks: list, max_jobs: int | None) -> list[list]:
    """``tasks`` dealt round-robin into at most ``max_jobs`` lists (``None``: one each)."""
    n = len(tasks) if max_jobs is None else max(1, min(max_jobs, len(tasks)))
    return [tasks[i::n] for i in range(n) if tasks[i::n]]


def _error_line(exc: BaseException) -> str:
    """One line saying why a job failed: the job's own exception, or that it produced no result at all."""
    if "has not produced any output" in str(exc):  # submitit: no result pickle, no exception either
        state = str(exc).split("(state: ", 1)[-1].split(")", 1)[0]
        return f"no result: the job was killed, pre-empted or ran out of time (scheduler state {state})"
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    picked = [ln for ln in lines if "Error" in ln or "failed" in ln]
    return (picked[-1] if picked else lines[-1] if lines else type(exc).__name__)[:300]


def _collect(jobs, names: list[str], runs: list[list[str]], log) -> list[JobReport]:
    """Wait for ``jobs``; one report each, printed as they finish."""
    reports: list[JobReport | None] = [None] * len(jobs)
    pending = set(range(len(jobs)))
    while pending:
        for i in sorted(pending):
            job = jobs[i]
            if not job.done():
                continue
            pending.discard(i)
            logfile = str(job.paths.stdout)
            try:
                job.result()
                rep = JobReport(names[i], str(job.job_id), "done", runs[i], logfile)
            except Exception as exc:  # noqa: BLE001  (submitit raises Failed/UncompletedJobError)
                rep = JobReport(names[i], str(job.job_id), "failed", runs[i], logfile, _error_line(exc))
            reports[i] = rep
            log("  " + rep.line())
        if pending:
            time.sleep(0.5)
    return reports  # type: ignore[return-value]


def run_tasks(tasks: Iterable[Task], opts: JobOptions, name: str = "runs", log=print) -> Sweep:
    """Run ``tasks`` as jobs, stage by stage (each stage one job array, submitted when the runs it reads are
    finished). Finished runs are skipped, so calling again after a failure or a kill resumes the sweep. A task
    whose dependency did not finish is reported ``blocked`` and not submitted."""
    sweep = Sweep()
    levels = stages(tasks)
    ex = None
    for k, stage in enumerate(levels, 1):
        todo = [t for t in stage if not t.done()]
        blocked = [t for t in todo if any(not _finished(d) for d in t.after)]
        todo = [t for t in todo if t not in blocked]
        log(f"{name}: stage {k}/{len(levels)}: {len(stage)} runs, {len(stage) - len(todo) - len(blocked)} "
            f"finished before, {len(todo)} to run" + (f", {len(blocked)} blocked" if blocked else ""))
        for t in blocked:
            rep = JobReport(t.label or t.run_id, "-", "blocked", [t.run_id],
                            error="a run it reads did not finish: " + ", ".join(d for d in t.after if not _finished(d)))
            sweep.reports.append(rep)
            log("  " + rep.line())
        if not todo:
            continue
        ex = ex or _executor(opts, name)
        chunks = _chunks(todo, opts.job_limit)
        env = job_env()
        if opts.gpus_per_job > 1:  # several GPUs in one job: the ranks of `accelerate launch`
            jobs = ex.map_array(_Requeueable(_run_chunk_launched), chunks, [env] * len(chunks),
                                [opts.gpus_per_job] * len(chunks))
        else:
            jobs = ex.map_array(_Requeueable(_run_chunk), chunks, [env] * len(chunks))
        names = [", ".join(t.label or t.run_id for t in c[:3]) + (f" +{len(c) - 3}" if len(c) > 3 else "") for c in chunks]
        sweep.reports += _collect(jobs, names, [[t.run_id for t in c] for c in chunks], log)
    return sweep


def _finished(run_id: str) -> bool:
    run = paths.runs_dir() / run_id
    return (run / "result.json").is_file() and (run / "config.json").is_file()


def submit_chapter_runs(name: str, preset: str, params: dict | None, opts: JobOptions, log=print) -> Sweep:
    """``w2s jobs submit``: one chapter's cached runs as job arrays (then run the notebook anywhere: it finds
    them cached)."""
    from w2s_lib.publish import book

    nb = book.get_notebook(name)
    tasks = chapter_plan(name, preset, params)
    if not tasks:
        raise W2SError(f"chapter {nb.stem} has no plan of independent runs; run it whole with "
                       f"`w2s reproduce --only {nb.key} --executor {opts.executor}`")
    return run_tasks(tasks, opts, name=f"{nb.key}-{preset}", log=log)


def submit_reproduce(preset: str, opts: JobOptions, only: list[str] | None = None, force: bool = False,
                     build: bool = True, log=print) -> Path | None:
    """``w2s reproduce --executor …``: the runs of every chosen chapter as job arrays (a run two chapters
    share is submitted once), then each chapter notebook as a job (the scorecard after the others), then the
    book built here. Chapters whose executed copy is current are skipped unless ``force``."""
    from w2s_lib.core.config import PRESETS
    from w2s_lib.publish import book

    if preset not in PRESETS:
        raise unknown("preset", preset, PRESETS)
    chosen = [book.get_notebook(n) for n in only] if only else list(book.NOTEBOOKS)
    todo = [nb for nb in chosen if force or not book.is_current(nb, preset)]
    for nb in chosen:
        if nb not in todo:
            log(f"{nb.stem} ({preset}): up to date, skipped")
    sweep = Sweep()
    plans = {nb.key: chapter_plan(nb.key, preset) for nb in todo}
    tasks = dedupe(t for ts in plans.values() for t in ts)
    if tasks:
        shared = sum(len(ts) for ts in plans.values()) - len(tasks)
        log(f"{len(tasks)} cached runs planned for {sum(1 for ts in plans.values() if ts)} chapters"
            + (f" ({shared} shared between chapters, submitted once)" if shared else ""))
        sweep.reports += run_tasks(tasks, opts, name=f"runs-{preset}", log=log).reports
    failed_runs = {r for rep in sweep.failed for r in rep.runs}
    ok = [nb for nb in todo if not failed_runs & {t.run_id for t in plans[nb.key]}]
    for nb in todo:
        if nb not in ok:
            rep = JobReport(nb.stem, "-", "blocked", [], error="some of its runs did not finish")
            sweep.reports.append(rep)
            log("  " + rep.line())
    before = _finished_runs()
    for group in ([nb for nb in ok if not nb.reads_claims], [nb for nb in ok if nb.reads_claims]):
        if not group:
            continue
        log(f"chapters ({preset}): {', '.join(nb.stem for nb in group)}")
        ex = _executor(opts, f"chapters-{preset}")
        chunks = _chunks([nb.stem for nb in group], opts.job_limit)
        jobs = ex.map_array(_Requeueable(_run_notebooks), chunks, [preset] * len(chunks), [job_env()] * len(chunks))
        sweep.reports += _collect(jobs, [", ".join(c) for c in chunks], [[] for _ in chunks], log)
    if line := _outside_plans(before):
        log(line)
    sweep.raise_for_failures()
    return book.build_book(log=log) if build else None


def _finished_runs() -> set[str]:
    root = paths.runs_dir()
    # run directories only: not temp dirs, not the store's own dot-folders (e.g. the per-run locks)
    return {p.name for p in root.iterdir() if not p.name.startswith((artifacts.TMP_PREFIX, "."))} if root.is_dir() else set()


def _outside_plans(before: set[str]) -> str:
    """A line naming the runs the chapter notebooks computed themselves (outside the plans, so not spread
    over jobs) with their compute time, longest first; ``""`` when there were none. Cheap ones (tables
    assembled from cached runs) are expected; a long one means a plan misses what its chapter asks for."""
    import json

    new = []
    for rid in _finished_runs() - before:
        env = paths.runs_dir() / rid / "env.json"
        new.append((json.loads(env.read_text()).get("seconds", 0.0) if env.is_file() else 0.0, rid))
    if not new:
        return ""
    new.sort(reverse=True)
    top = ", ".join(f"{rid} ({sec:.0f} s)" for sec, rid in new[:3])
    return (f"the chapter notebooks computed {len(new)} runs themselves, {sum(s for s, _ in new):.0f} s in all "
            f"(longest: {top}); a long one is a run missing from its chapter's plan")


if __name__ == "__main__":  # one rank of `accelerate launch … -m w2s_lib.publish.jobs TASKS.pkl`
    import pickle
    import sys

    _tasks, _env = pickle.loads(Path(sys.argv[1]).read_bytes())
    _run_chunk(_tasks, _env)
