"""Chapters' cached runs as jobs (submitit): plans cover exactly what the chapters compute, stages respect
dependencies, the local executor gives the in-process results, and a killed job resumes on resubmission."""

from __future__ import annotations

import functools
import json
import os
import platform
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from w2s_lib import cli
from w2s_lib.core import artifacts, paths
from w2s_lib.core.artifacts import Artifact
from w2s_lib.core.config import Config, knob
from w2s_lib.core.errors import W2SError
from w2s_lib.generalization import pipeline as w2s
from w2s_lib.publish import jobs

submitit = pytest.importorskip("submitit")

SMALL = {"ladder": ("minilm-l1", "minilm-l2", "minilm-l3"), "n_docs": 60, "n_test": 30, "probe_steps": 50}
SMALL_P = {k: v for k, v in SMALL.items()}


@pytest.fixture(autouse=True)
def own_home(tmp_path, monkeypatch):
    """A store per test: the recorders below cache aggregate runs made of fake fits, and the executor tests
    must not find another test's runs finished."""
    monkeypatch.setenv("W2S_HOME", str(tmp_path / "home"))


@dataclass(frozen=True)
class Step(Config):
    x: int = knob(0)
    SLUG = "step"


def _noop():
    return None


def task(x, after=()):
    return jobs.Task(Step(x=x), _noop, tuple(Step(x=a).run_id for a in after), f"step {x}")


# -- plans and stages (no jobs) ------------------------------------------------------------------

def test_stages_follow_dependencies_and_dedupe():
    plan = [task(3, after=(2,)), task(1), task(2, after=(1,)), task(4, after=(1, 99)), task(1)]
    levels = jobs.stages(plan)
    assert [[t.label for t in s] for s in levels] == [["step 1"], ["step 2", "step 4"], ["step 3"]]
    with pytest.raises(W2SError, match="cycle"):
        jobs.stages([task(1, after=(2,)), task(2, after=(1,))])
    assert jobs.stages([]) == []


def test_error_lines_name_the_cause():
    from submitit.core.utils import FailedJobError, UncompletedJobError

    tb = "Traceback (most recent call last):\n  File x\nRuntimeError: 1 of 2 runs failed; first: gt m s0: W2SError: bad"
    assert jobs._error_line(FailedJobError(tb)) == "RuntimeError: 1 of 2 runs failed; first: gt m s0: W2SError: bad"
    killed = UncompletedJobError("Job 7 (task: 0) with path p\nhas not produced any output (state: FINISHED)\nError x")
    assert jobs._error_line(killed).startswith("no result: the job was killed") and "FINISHED" in jobs._error_line(killed)


def test_local_jobs_are_capped_at_the_cores():
    assert jobs.JobOptions("local").job_limit == (os.cpu_count() or 1)
    assert jobs.JobOptions("local", max_jobs=3).job_limit == 3
    assert jobs.JobOptions("debug").job_limit is None


def test_chunks_deal_round_robin():
    assert jobs._chunks(list(range(5)), 2) == [[0, 2, 4], [1, 3]]
    assert jobs._chunks(list(range(3)), None) == [[0], [1], [2]]
    assert jobs._chunks(list(range(2)), 8) == [[0], [1]]


def _record_fits(monkeypatch):
    """run_fit replaced by a recorder: the run ids a chapter's functions would compute, in call order."""
    seen = []

    def fake(fc, force=False):
        seen.append(fc.run_id)
        return Artifact(Path("/nonexistent"), {"acc": 0.6, "auroc": 0.6, "label_acc": 0.6, "train_seconds": 0.0}, {})

    monkeypatch.setattr(w2s, "run_fit", fake)
    return seen


def test_part1_plans_are_exactly_what_the_chapters_compute(monkeypatch):
    seen = _record_fits(monkeypatch)
    cfg = w2s.W2SConfig.for_preset("smoke", SMALL)
    seeds = [0, 1]
    w2s.ladder_table(cfg, seeds)
    w2s.run_w2s(cfg, seeds, progress=False, force=True)  # force: the aggregate runs are cached too
    assert set(seen) == {t.run_id for t in jobs.chapter_plan("10", "smoke", {"seeds": seeds, **SMALL_P})}
    seen.clear()
    w2s.loss_comparison(cfg, seeds, force=True)
    assert set(seen) == {t.run_id for t in jobs.chapter_plan("11", "smoke", {"seeds": seeds, **SMALL_P})}
    seen.clear()
    w2s.run_bootstrap(cfg, seeds, force=True)
    plan12 = jobs.chapter_plan("12", "smoke", {"seeds": seeds, **SMALL_P})
    assert set(seen) == {t.run_id for t in plan12}
    # the chain: each link after the previous one, so the chain's end is two stages after the GT fits
    levels = jobs.stages(plan12)
    assert len(levels) == 3 and all(t.label.startswith("tiny_sentiment: gt ") for t in levels[0])
    seen.clear()
    w2s.run_w2s(cfg.replace(ladder=(cfg.ladder[0], cfg.ladder[-1])), [4], progress=False, force=True)
    assert set(seen) == {t.run_id for t in jobs.chapter_plan("00", "smoke", {"seed": 4, **SMALL_P})}


def test_comparison_chapter_plan_is_what_it_computes(monkeypatch):
    seen = _record_fits(monkeypatch)
    know, reward = (w2s.comparison_config(t, "smoke") for t in ("knowledge", "reward"))
    seeds = [0, 1]
    w2s.run_w2s(know, seeds, progress=False, force=True)
    w2s.ladder_table(know, seeds)
    w2s.generative_comparison(reward, seeds, epochs=1.0, force=True)
    w2s.ladder_table(reward, seeds)
    plan = jobs.chapter_plan("13", "smoke", {"seeds": seeds})
    assert set(seen) == {t.run_id for t in plan}


def test_chess_chapter_plan_is_what_it_computes(monkeypatch):
    from w2s_lib.generalization import chess as C

    seen = []

    def fake(fc, force=False):
        seen.append(fc.run_id)
        return Artifact(Path("/nonexistent"), {"acc": 0.5, "label_acc": 0.5, "imitation": 0.5, "train_seconds": 0}, {})

    monkeypatch.setattr(C, "run_fit", fake)
    monkeypatch.setattr(C.chessgpt, "SIZES", {})  # ladder_table reads the rungs' build markers: not here
    cfg = C.ChessW2SConfig.for_preset("smoke")
    seeds = [0, 1]
    C.ladder_table(cfg, seeds), C.run_pairs(cfg, seeds), C.run_bootstrap(cfg, seeds)
    plan = jobs.chapter_plan("14", "smoke", {"seeds": [0, 1, 2]})  # the notebook keeps 2 seeds at smoke
    assert set(seen) == {t.run_id for t in plan}
    assert len(jobs.stages(plan)) == len(cfg.ladder)  # GT fits, then one stage per link of the chain


@pytest.mark.slow
def test_search_chapter_plan_is_what_it_computes(micro_zoo_env, monkeypatch):
    """Chapter 20: per seed the tuned scorer, then every method on every base (each after the tuning)."""
    from w2s_lib.search import experiment as S

    seen = []

    def fake(cfg, fn, force=False):
        seen.append(cfg.run_id)
        return Artifact(Path("/nonexistent"), {"gold_mean": 0.0, "gold_std": 0.0, "base_tokens_sampled": 1,
                                               "scorer_tokens_run": 1}, {})

    monkeypatch.setattr(S, "load_or_run", fake)
    cfgs = [S.SearchConfig.for_preset("tiny", seed=s) for s in (0, 1)]  # W2S_SMOKE=1: the smoke preset
    for c in cfgs:  # what the notebook asks for, cell by cell
        S.tune_scorer(c)
    S.results_frame(cfgs)
    cfg, big = cfgs[0], cfgs[0].bases[-1]
    bon, cbs = f"bon-{cfg.bon[0]}", f"cbs-{'-'.join(map(str, cfg.cbs))}"
    sweep = ["base", "bon-4", "cbs-2-2-5", bon, "cbs-2-8-5", "cbs-4-4-5", "cbs-8-2-5", "cbs-4-4-2", "cbs-4-4-10"]
    S.results_frame(cfgs, bases=[big], methods=sweep, with_tuned=False)
    for prompts, gold in (("tiny_instructions", "helpfulness"), ("tiny_summaries", "faithfulness")):
        S.results_frame([cfg.replace(prompts=prompts, gold=gold)], bases=[big], methods=["base", bon, cbs])
    plan = jobs.chapter_plan("20", "tiny", {"seeds": [0, 1, 2]})  # the notebook keeps 2 seeds at smoke
    assert set(seen) == {t.run_id for t in plan}
    first, rest = jobs.stages(plan)
    assert {t.label.split()[0] for t in first} == {"tune"} and len(rest) == len(plan) - 4


def test_students_wait_for_their_supervisor_and_probe_seeds_share_features():
    plan = jobs.chapter_plan("10", "smoke", {"seeds": [0, 1], **SMALL_P})
    by_label = {t.label.removeprefix("tiny_sentiment: "): t for t in plan}
    student = by_label["minilm-l1→minilm-l3 xent s1"]
    assert student.after == (by_label["gt minilm-l1 s1"].run_id,)
    assert by_label["gt minilm-l2 s1"].after == (by_label["gt minilm-l2 s0"].run_id,)  # probe features
    assert not jobs.chapter_plan("10", "smoke", {"seeds": [0], "mode": "full", **SMALL_P})[1].after


def test_chapter_plan_takes_notebook_defaults_and_validates():
    plan = jobs.chapter_plan("10", "smoke", SMALL_P)  # seeds from the notebook's parameters cell
    assert {t.config.seed for t in plan} == {0, 1, 2}
    with pytest.raises(W2SError, match="unknown override"):
        jobs.chapter_plan("10", "smoke", {"bogus": 1})
    assert jobs.chapter_plan("01", "smoke") == []  # no independent runs: the chapter runs whole


def test_job_options_and_cli_errors(capsys, monkeypatch):
    with pytest.raises(W2SError, match="positive integer"):
        jobs.JobOptions("local", max_jobs=0)
    monkeypatch.setenv("PATH", "/nonexistent")
    cases = [(["jobs", "submit", "10"], "needs --executor local or --executor slurm"),
             (["jobs", "submit", "10", "--executor", "slurm"], "needs SLURM's sbatch"),
             (["reproduce", "--executor", "pbs"], "invalid choice: 'pbs'"),
             (["jobs", "plan", "77"], "unknown notebook '77'")]
    for argv, needle in cases:
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and needle in err and err.count("\n") == 1, err


def test_jobs_plan_lists_stages_and_what_is_finished(capsys):
    argv = ["jobs", "plan", "12", "--preset", "smoke", "-p", "seeds=[0]", "-p", "ladder=('minilm-l1','minilm-l2')"]
    plan = jobs.chapter_plan("12", "smoke", {"seeds": [0], "ladder": ("minilm-l1", "minilm-l2")})
    artifacts.load_or_run(plan[0].config, lambda out: {"acc": 1.0})  # as if a job had finished it
    assert cli.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "stage 1 (2 runs)" and out[3] == "stage 2 (1 runs)"
    assert plan[0].run_id in out[1] and "finished" in out[1] and "to run" in out[2]
    assert f"after {plan[0].run_id}" in out[4]
    assert cli.main(["jobs", "plan", "01", "--preset", "smoke"]) == 0
    assert "no plan of independent runs" in capsys.readouterr().out


def test_debris_of_another_host_is_left_alone():
    cfg = Step(x=7)
    root = paths.runs_dir()
    root.mkdir(parents=True, exist_ok=True)
    mine = root / f".tmp-{cfg.run_id}.999999999@{platform.node()}"
    theirs = root / f".tmp-{cfg.run_id}.999999999@another-node"
    old = root / f".tmp-{cfg.run_id}.999999999"  # the format before host names
    for d in (mine, theirs, old):
        d.mkdir()
    artifacts.load_or_run(cfg, lambda out: {"x": 7})
    assert theirs.exists() and not mine.exists() and not old.exists()


def test_a_run_finished_by_another_job_in_the_last_moment_is_kept(monkeypatch):
    """Two jobs computing one run (a resubmitted sweep while the first still runs): the one that renames
    second finds the directory taken and keeps the finished one, without an error."""
    cfg = Step(x=8)
    real = os.replace

    def racing(src, dst):
        if Path(dst) == artifacts.run_dir(cfg) and Path(src).name.startswith(".tmp-"):
            other = Path(dst)
            other.mkdir()
            (other / "config.json").write_text("{}")
            (other / "result.json").write_text('{"x": "theirs"}')
        return real(src, dst)

    monkeypatch.setattr(artifacts.os, "replace", racing)
    art = artifacts.load_or_run(cfg, lambda out: {"x": "mine"})
    assert art["x"] == "theirs" and not list(paths.runs_dir().glob(".tmp-*"))


def test_submit_reproduce_runs_plans_then_chapters_then_scorecard(monkeypatch):
    """The orchestration, in process (submitit's debug executor), notebooks replaced by a recorder."""
    from w2s_lib.publish import book

    order, lines = [], []

    def fake_run(stem, preset, output=None, progress=True):
        order.append(stem)
        if stem == "01_tiny_world":  # a run the chapter computes itself, outside any plan
            artifacts.load_or_run(Step(x=1), lambda out: {"x": 1})

    monkeypatch.setattr(book, "run", fake_run)
    monkeypatch.setattr(jobs, "chapter_plan", lambda key, preset, params=None: [task(int(key))] if key == "10" else [])
    monkeypatch.setattr(jobs, "_run_chunk", lambda tasks, env: [order.append(t.label) for t in tasks])
    jobs.submit_reproduce("tiny", jobs.JobOptions("debug"), only=["99", "10", "01"], force=True, build=False,
                          log=lines.append)
    assert order == ["step 10", "10_naive_w2s", "01_tiny_world", "99_scorecard"]
    assert lines[-1].startswith(f"the chapter notebooks computed 1 runs themselves") and Step(x=1).run_id in lines[-1]


# -- through the local executor (real processes) -----------------------------------------------------

def _step_run(x: int):
    return artifacts.load_or_run(Step(x=x), lambda out: {"x": x, "rank": os.environ.get("RANK"),
                                                         "world": os.environ.get("WORLD_SIZE")})


def test_several_gpus_in_one_job_run_the_tasks_as_accelerate_ranks():
    """``--gpus-per-job N``: the job's tasks run in N ranks of ``accelerate launch`` with the repo's config
    (on this CPU machine the ranks start all the same); the store keeps one result per run."""
    import sys

    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the ranks need not import this test file
    try:
        tasks = [jobs.Task(Step(x=x), functools.partial(_step_run, x)) for x in (1, 2)]
        assert jobs._run_chunk_launched(tasks, jobs.job_env(), 2) == [{"run_id": t.run_id} for t in tasks]
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    for t in tasks:
        res = artifacts.load(t.config).result
        assert res["x"] == t.config.x and res["world"] == "2"
    assert not list(paths.runs_dir().glob(".tmp-*"))  # the other rank's copy was discarded

def _deliberate_failure():
    raise W2SError("deliberate failure")


def test_slurm_job_arrays_through_a_stand_in_scheduler(tmp_path, monkeypatch):
    """submitit's SLURM executor against stand-ins for sbatch / srun / sacct (tests/fake_slurm.py): each stage
    one array with the options asked for, per-job reports with logs, a failure named with its log."""
    import importlib.util
    import sys

    import cloudpickle

    spec = importlib.util.spec_from_file_location("fake_slurm", Path(__file__).with_name("fake_slurm.py"))
    fake = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fake)
    fake.install(tmp_path / "bin", tmp_path / "slurm")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    tasks = [jobs.Task(Step(x=x), functools.partial(_step_run, x)) for x in (1, 2, 3)]
    tasks += [jobs.Task(Step(x=4), functools.partial(_step_run, 4), (Step(x=1).run_id,)),
              jobs.Task(Step(x=5), _deliberate_failure, (), "the failing one")]
    opts = jobs.JobOptions("slurm", partition="gpu", timeout_min=5, array_parallelism=2, folder=tmp_path / "logs")
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        sweep = jobs.run_tasks(tasks, opts, log=lambda *_: None)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    scripts = sorted((tmp_path / "slurm" / "scripts").glob("*.sh"))
    assert len(scripts) == 2  # one array per stage
    first = scripts[0].read_text()
    assert "#SBATCH --array=0-3%2" in first and "#SBATCH --partition=gpu" in first and "#SBATCH --time=5" in first
    by_run = {r.runs[0]: r for r in sweep.reports}
    assert [by_run[t.run_id].state for t in tasks] == ["done"] * 4 + ["failed"]
    bad = by_run[Step(x=5).run_id]
    assert bad.job_id.startswith("1000_") and "W2SError: deliberate failure" in bad.error
    assert "deliberate failure" in Path(bad.log).read_text()  # the traceback is in the job's log
    assert all(artifacts.load(Step(x=x)) for x in (1, 2, 3, 4))


def _table(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns[:4])).reset_index(drop=True)


def _fit_results(home: Path, run_ids) -> dict:
    out = {}
    for rid in run_ids:
        run = home / "runs" / rid
        res = json.loads((run / "result.json").read_text())
        res = {k: v for k, v in res.items() if not k.endswith("_seconds")}
        out[rid] = (res, {k: v for k, v in np.load(run / "preds.npz").items()})
    return out


@pytest.mark.slow
def test_two_chapters_through_the_local_executor_equal_in_process(tmp_path, monkeypatch):
    seeds = [0]
    params = {"seeds": seeds, **SMALL_P}
    plan = jobs.chapter_plan("10", "smoke", params) + jobs.chapter_plan("12", "smoke", params)
    ids = {t.run_id for t in plan}
    opts = jobs.JobOptions("local", max_jobs=1, timeout_min=10, folder=tmp_path / "logs")
    sweep = jobs.run_tasks(plan, opts, log=lambda *_: None)
    assert sweep.reports and not sweep.failed, [r.line() for r in sweep.failed]
    assert all(Path(r.log).is_file() for r in sweep.reports)
    cfg = w2s.W2SConfig.for_preset("smoke", SMALL)

    def chapters():
        return _table(w2s.run_w2s(cfg, seeds, progress=False)), _table(w2s.run_bootstrap(cfg, seeds))

    def no_training(*a, **k):
        raise AssertionError("a run the jobs should have finished was computed again")

    from w2s_lib.train import classifier
    with monkeypatch.context() as m:
        m.setattr(classifier, "train_classifier", no_training)
        via_jobs = chapters()  # the chapters' own functions find every run cached
    by_jobs = _fit_results(paths.home(), ids)

    monkeypatch.setenv("W2S_HOME", str(tmp_path / "in_process"))
    in_process = chapters()
    for a, b in zip(via_jobs, in_process):
        pd.testing.assert_frame_equal(a, b)
    for rid, (res, preds) in _fit_results(paths.home(), ids).items():
        assert by_jobs[rid][0] == res, rid
        for key, value in preds.items():
            np.testing.assert_array_equal(by_jobs[rid][1][key], value)


def _kill_when_started(run_id: str, stop: threading.Event, killed: list):
    """SIGKILL the process computing ``run_id`` once its temporary directory appears (a crash mid-run)."""
    root = paths.runs_dir()
    while not stop.is_set():
        for tmp in root.glob(f".tmp-{run_id}.*"):
            pid = int(tmp.name[len(f".tmp-{run_id}."):].partition("@")[0])
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.02)


@pytest.mark.slow
def test_killed_job_is_resumed_on_resubmission(tmp_path):
    params = {"seeds": [0], **SMALL_P, "ladder": ("minilm-l1", "minilm-l2")}
    plan = jobs.chapter_plan("10", "smoke", params)
    gt_weak, gt_strong, student = plan
    assert student.after == (gt_weak.run_id,)
    opts = jobs.JobOptions("local", timeout_min=10, max_jobs=2, folder=tmp_path / "logs")  # a job per GT fit
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_when_started, args=(gt_weak.run_id, stop, killed))
    killer.start()
    try:
        sweep = jobs.run_tasks(plan, opts, log=lambda *_: None)
    finally:
        stop.set()
        killer.join()
    assert killed, "the weak rung's job finished before it could be killed"
    states = {r.runs[0]: r for r in sweep.reports}
    assert states[gt_weak.run_id].state == "failed" and Path(states[gt_weak.run_id].log).is_file()
    assert "no result: the job was killed" in states[gt_weak.run_id].line()
    assert states[student.run_id].state == "blocked"
    assert states[gt_strong.run_id].state == "done" and gt_strong.done() and not gt_weak.done()
    with pytest.raises(W2SError, match="submit the same command again"):
        sweep.raise_for_failures()
    strong_env = (paths.runs_dir() / gt_strong.run_id / "env.json").read_text()

    lines = []
    again = jobs.run_tasks(plan, opts, log=lines.append)
    assert not again.failed and all(t.done() for t in plan)
    assert sorted(r.runs[0] for r in again.reports) == sorted([gt_weak.run_id, student.run_id])  # only the rest
    assert "stage 1/2: 2 runs, 1 finished before, 1 to run" in lines[0]
    assert (paths.runs_dir() / gt_strong.run_id / "env.json").read_text() == strong_env  # not recomputed
    assert not list(paths.runs_dir().glob(f".tmp-{gt_weak.run_id}.*"))  # debris cleared by the rerun
