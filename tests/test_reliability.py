"""Issue 14: every bad input a clear line (exit 2, nothing written), no unreadable cache read as done, no
diverged run cached as a result. Each entry of the BAD_* lists is one distinct bad input; the count the
README quotes is ``len(BAD_CLI) + len(BAD_LIBRARY)`` plus the named tests marked "bad input" below."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from w2s_lib import cli
from w2s_lib.core import artifacts, paths
from w2s_lib.core.config import Config, TrainStage, env_flag, is_smoke, knob, parse_overrides
from w2s_lib.core.errors import DivergedError, W2SError
from w2s_lib.core.numerics import LossGuard, check_loss, guard_trainer
from w2s_lib.publish import book, preflight


@pytest.fixture(autouse=True)
def _own_home(tmp_path, monkeypatch):
    """A cache root per test: these tests count runs and debris, so they must not see other tests' runs."""
    monkeypatch.setenv("W2S_HOME", str(tmp_path / "w2s_home"))
    monkeypatch.setattr(artifacts, "_SWEPT", set())


def _snapshot():
    roots = [paths.home(), paths.REPO_ROOT / "outputs", book.CHAPTER_DIR, book.NOTEBOOK_DIR]
    return {(str(p), p.stat().st_mtime_ns if p.is_file() else 0) for r in roots if r.exists() for p in r.rglob("*")}


def _one_line_exit_2(argv, capsys):
    before = _snapshot()
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, (code, err)
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert _snapshot() == before, "a bad input wrote something"
    return err


# -- the CLI: one line, exit 2, nothing written -----------------------------------------------------------
BAD_CLI = [
    (["run", "00", "-p", "dataset=imbd"], "unknown dataset 'imbd'"),
    (["run", "00", "-p", "dataset=sciq"], "hub is unreachable"),
    (["run", "00", "--preset", "colab"], "hub is unreachable"),
    (["run", "00", "-p", "preset=bogus"], "unknown preset 'bogus'"),
    (["run", "00", "--preset", "tiny", "-p", "preset=colab"], "two presets given"),
    (["run", "00", "-p", "n_docs=1000000000"], "lower n_docs"),
    (["run", "00", "-p", "n_test=999999"], "lower n_test"),
    (["run", "00", "-p", "ladder=('minilm-l1','gpt5')"], "unknown model 'gpt5'"),
    (["run", "00", "-p", "ladder=('minilm-l1',)"], "needs at least 2 (weak → strong)"),
    (["run", "00", "-p", "ladder='minilm-l1'"], "W2SConfig.ladder must be of type tuple"),
    (["run", "00", "-p", "ladder=('minilm-l1','gpt2')"], "hub is unreachable"),
    (["run", "00", "-p", "seed=100000000000000000000"], "W2SConfig.seed = 100000000000000000000 is out of range"),
    (["run", "00", "-p", "seed=True"], "parameter seed of 00_orientation must be an integer"),
    (["run", "00", "-p", "force=maybe"], "parameter force of 00_orientation must be True or False"),
    (["run", "00", "-p", "force=1"], "must be True or False"),
    (["run", "10", "-p", "seed=3"], "write -p seeds=[3]"),
    (["run", "10", "-p", "seeds=[]"], "non-empty list"),
    (["run", "10", "-p", "overrides={'seed': 4}"], "write -p seeds=[4]"),
    (["run", "00", "-p", "overrides={'preset': 'colab'}"], "the preset is not an override"),
    (["run", "10", "-p", "seeds=[1,1]"], "repeat a seed"),
    (["run", "10", "-p", "seeds=[0,'a']"], "must be an integer"),
    (["run", "10", "-p", "seeds=[-1]"], "non-empty list of integers in [0, 4294967295]"),
    (["run", "10", "-p", "seeds=3"], "must be a list"),
    (["run", "13", "-p", "generative_epochs=-1.0"], "must not be negative"),
    (["run", "13", "-p", "generative_epochs=abc"], "must be a number"),
    (["run", "30", "-p", "tasks=['helpfull']"], "MACPOConfig.task = 'helpfull' is not allowed"),
    (["run", "40", "-p", "pref_overrides={'ladder': ('tinygpt-s', 'tinygpt-m', 'gpt5')}"], "unknown model 'gpt5'"),
    (["run", "00", "-p", "overrides={1: 2}"], "override names must be strings"),
    (["run", "00", "-p", "overrides='{n_docs: 4'"], "is not a dict"),
    (["run", "00", "-p", "lrs=(1e-4,)"], "lrs has 1 values but the ladder has 3 rungs"),
    (["run", "00", "-p", "n_docs=1", "-p", "n_docs=2"], "given twice"),
    (["run", "01", "-p", "bogus=1"], "unknown parameter of notebook 01_tiny_world: 'bogus'"),
    (["run", "/nonexistent/dir/01_tiny_world.ipynb"], "does not exist"),
    (["run", ""], "is empty"),
    (["run", "01", "-o", "notebooks/01_tiny_world.ipynb"], "would overwrite a source notebook"),
    (["run", "01", "-o", str(paths.REPO_ROOT / "notebooks" / "new.ipynb")], "would overwrite a source notebook"),
    (["run", "01", "-o", "out.txt"], "must end in .ipynb"),
    (["run", "01", "-o", "/proc/w2s-nope/out.ipynb"], "cannot create"),
    (["reproduce", "--only", ",,"], "names no chapter"),
    (["reproduce", "--only", "00,77"], "unknown notebook '77'"),
    (["reproduce", "--only", " "], "names no chapter"),
]


@pytest.mark.parametrize("argv, needle", BAD_CLI, ids=[" ".join(a) for a, _ in BAD_CLI])
def test_bad_cli_inputs(argv, needle, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(paths.REPO_ROOT)
    monkeypatch.setenv("W2S_ZOO_DIR", str(paths.REPO_ROOT / ".no-zoo-here"))  # only the cases that need it fail on it
    err = _one_line_exit_2(argv, capsys)
    assert needle in err, err


def test_missing_zoo_is_named_before_the_kernel(capsys, monkeypatch, tmp_path):  # bad input: no zoo built
    monkeypatch.setenv("W2S_ZOO_DIR", str(tmp_path / "empty-zoo"))
    err = _one_line_exit_2(["run", "20"], capsys)
    assert "is not built" in err and "w2s zoo build" in err


def test_output_that_is_a_directory(capsys, tmp_path):  # bad input: -o an existing directory
    err = _one_line_exit_2(["run", "01", "-o", str(tmp_path)], capsys)
    assert "is a directory" in err
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_output_under_a_file(capsys, tmp_path):  # bad input: -o below a regular file
    (tmp_path / "f").write_text("x")
    err = _one_line_exit_2(["run", "01", "-o", str(tmp_path / "f" / "out.ipynb")], capsys)
    assert "is a file, not a folder" in err


def test_another_copy_of_a_chapter_is_not_run(capsys, tmp_path):  # bad input: a path that is not the chapter
    copy = tmp_path / "01_tiny_world.ipynb"
    copy.write_bytes((book.NOTEBOOK_DIR / "01_tiny_world.ipynb").read_bytes())
    assert "is not the book's chapter file" in _one_line_exit_2(["run", str(copy)], capsys)


def test_home_is_a_file(capsys, monkeypatch, tmp_path):  # bad input: W2S_HOME names a file
    (tmp_path / "home").write_text("")
    monkeypatch.setenv("W2S_HOME", str(tmp_path / "home"))
    assert "is not a directory" in _one_line_exit_2(["run", "00"], capsys)


def test_home_not_writable(capsys, monkeypatch):  # bad input: W2S_HOME where nothing can be written
    monkeypatch.setenv("W2S_HOME", "/proc/w2s-home")
    assert "not writable" in _one_line_exit_2(["run", "00"], capsys)


def test_bad_smoke_flag(capsys, monkeypatch):  # bad input: W2S_SMOKE=maybe
    monkeypatch.setenv("W2S_SMOKE", "maybe")
    assert "W2S_SMOKE='maybe' is not a boolean" in _one_line_exit_2(["run", "00"], capsys)


@pytest.mark.parametrize("var, value, needle", [
    ("HF_HUB_OFFLINE", "perhaps", "HF_HUB_OFFLINE='perhaps' is not a boolean"),
    ("W2S_WORLD_SEED", "one", "W2S_WORLD_SEED must be a non-negative integer"),
    ("W2S_LOCAL_HUB", "/nonexistent/hub", "W2S_LOCAL_HUB='/nonexistent/hub' is not a directory"),
])
def test_bad_environment(var, value, needle, capsys, monkeypatch):  # bad inputs (3): environment variables
    monkeypatch.setenv(var, value)
    assert needle in _one_line_exit_2(["run", "00"], capsys)


def test_non_utf8_dataset_name(capsys):  # bad input: bytes that are not UTF-8 on the command line
    name = os.fsdecode(b"dataset=\xff\xfe")
    err = _one_line_exit_2(["run", "00", "-p", name], capsys)
    assert "not valid UTF-8" in err or "unknown dataset" in err


# -- values keep their types on the way to the kernel ------------------------------------------------------
def test_tuples_reach_the_notebook_as_lists():
    nb = book.get_notebook("00")
    got = book.split_parameters(nb, "tiny", {"ladder": ("minilm-l1", "minilm-l2"), "train.lr": 1e-3})
    assert got["overrides"] == {"ladder": ["minilm-l1", "minilm-l2"], "train.lr": 1e-3}
    from papermill.translators import PythonTranslator

    code = PythonTranslator.codify(got)
    scope: dict = {}
    exec(code, scope)  # what papermill injects
    from w2s_lib.generalization.pipeline import W2SConfig

    cfg = W2SConfig.for_preset(scope["preset"], scope["overrides"])
    assert cfg.ladder == ("minilm-l1", "minilm-l2") and cfg.train.lr == 1e-3


def test_seeds_and_flags_pass_through():
    got = book.split_parameters(book.get_notebook("10"), "tiny", {"seeds": (0, 1), "force": True})
    assert got == {"preset": "tiny", "seeds": [0, 1], "force": True}
    assert book.split_parameters(book.get_notebook("00"), "tiny", {"preset": "tiny"}) == {"preset": "tiny"}


def test_papermill_overrides_as_text_are_parsed():
    from w2s_lib.generalization.pipeline import W2SConfig

    assert W2SConfig.for_preset("tiny", '{"n_docs": 400}').n_docs == 400  # papermill -p overrides '{"n_docs": 400}'
    assert W2SConfig.for_preset("tiny", "").n_docs == 2000


def test_orientation_pair_is_valid_for_every_preset():
    """Chapter 00 narrows the ladder to (weakest, strongest): per-rung lrs must be narrowed with it (colab)."""
    from w2s_lib.generalization.pipeline import W2SConfig

    nb = json.loads((book.NOTEBOOK_DIR / "00_orientation.ipynb").read_text())
    line = next(ln for c in nb["cells"] if c["cell_type"] == "code" for ln in "".join(c["source"]).splitlines()
                if ln.startswith("pair = "))
    for preset in ("smoke", "tiny", "colab", "paper"):
        scope = {"cfg": W2SConfig.for_preset(preset)}
        exec(line, scope)
        assert len(scope["pair"].ladder) == 2


# -- configs: NaN, inf, huge seeds, strict flags, text overrides -------------------------------------------
@dataclass(frozen=True)
class Knobs(Config):
    lr: float = knob(1e-3, low=0.0, high=1.0)
    lrs: tuple[float, ...] = knob(())
    w: float = knob(1.0)
    SLUG = "knobs"


BAD_LIBRARY = [
    (lambda: Knobs(lr=float("nan")), "Knobs.lr = nan is not a finite number"),
    (lambda: Knobs(w=float("inf")), "Knobs.w = inf is not a finite number"),
    (lambda: Knobs(w=float("-inf")), "is not a finite number"),
    (lambda: Knobs(lrs=(1e-3, float("nan"))), "Knobs.lrs = nan is not a finite number"),
    (lambda: Knobs.for_preset("tiny", '{"lr": NaN}'), "is not a finite number"),  # papermill -p overrides JSON
    (lambda: Knobs(seed=2**32), "Knobs.seed = 4294967296 is out of range"),
    (lambda: Knobs.for_preset("tiny", "[1, 2]"), "overrides must be a dict"),
    (lambda: Knobs.for_preset("tiny", "{'lr': "), "is not a dict"),
    (lambda: Knobs.for_preset("tiny", 3), "overrides must be a dict"),
    (lambda: parse_overrides({("a",): 1}), "override names must be strings"),
    (lambda: preflight.check_value("x", "yes", False, "nb"), "must be True or False"),
    (lambda: preflight.check_value("x", 1.5, 1, "nb"), "must be an integer"),
    (lambda: preflight.check_value("x", float("nan"), 1.0, "nb"), "is not a finite number"),
    (lambda: preflight.check_value("x", ["a", 1], ["a"], "nb"), "must be text"),
    (lambda: check_loss(float("nan"), 3, "lower lr"), "training diverged at step 3: the loss is nan; lower lr"),
    (lambda: check_loss(float("inf"), 0, "lower lr"), "the loss is inf"),
    (lambda: check_loss(105.0, 9, "lower lr (now 1)", reference=0.69), "the loss rose from 0.69 to 105"),
]


@pytest.mark.parametrize("call, needle", BAD_LIBRARY)
def test_bad_library_inputs(call, needle):
    with pytest.raises(W2SError) as exc:
        call()
    assert needle in str(exc.value) and "\n" not in str(exc.value), str(exc.value)


@pytest.mark.parametrize("word", ["maybe", "2", "ja", "truee"])
def test_env_flags_are_strict(word, monkeypatch):  # bad inputs (4): non-boolean spellings
    monkeypatch.setenv("W2S_SMOKE", word)
    with pytest.raises(W2SError, match="is not a boolean"):
        is_smoke()


@pytest.mark.parametrize("word, value", [("1", True), ("TRUE", True), ("on", True), ("0", False), ("off", False),
                                         ("", False), (" no ", False)])
def test_env_flags_accept_booleans(word, value, monkeypatch):
    monkeypatch.setenv("W2S_X", word)
    assert env_flag("W2S_X") is value


# -- the numerics guard -------------------------------------------------------------------------------------
def test_loss_guard_passes_normal_training_and_stops_an_explosion():
    guard = LossGuard("lower lr")
    for step, loss in enumerate([0.69, 0.6, 0.55, 0.5, 0.45, 0.4, 2.0, 5.0]):  # noisy but sane
        guard(loss, step)
    with pytest.raises(DivergedError, match="rose from 0.45 to 105"):
        guard(105.0, 8)


def test_probe_with_a_huge_lr_stops_and_caches_nothing():  # bad input: probe_lr far too high
    from w2s_lib.train.probe import fit_probe

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)

    @dataclass(frozen=True)
    class ProbeJob(Config):
        lr: float = knob(1e6)
        SLUG = "probejob"

    def fn(out):
        fit_probe(x, 1 - y, lr=1e6, epochs=200)  # flipped labels at an absurd lr: logits blow up
        return {"ok": 1}

    with pytest.raises(DivergedError, match="probe_lr"):
        artifacts.load_or_run(ProbeJob(), fn)
    assert artifacts.load(ProbeJob()) is None
    assert not list(paths.runs_dir().glob("probejob-*"))


def test_guard_trainer_wraps_training_step():
    class State:
        global_step = 0

    class FakeTrainer:
        state = State()

        def __init__(self, losses):
            self.losses = iter(losses)

        def training_step(self, *a, **k):
            self.state.global_step += 1
            return next(self.losses)

    t = guard_trainer(FakeTrainer([0.7, 0.6, float("nan")]), "lower lr (now 1), e.g. -p lr=0.1")
    t.training_step(), t.training_step()
    with pytest.raises(DivergedError, match="-p lr=0.1"):
        t.training_step()


# -- the cache: unreadable artifacts are recomputed, with one line ------------------------------------------
@dataclass(frozen=True)
class Job(Config):
    x: int = knob(1)
    SLUG = "reljob"


def _job(out, value="v"):
    np.savez(out / "preds.npz", p=np.arange(5.0))
    return {"value": value}


@pytest.mark.parametrize("damage", [
    "truncate result.json", "result.json is a list", "truncate config.json", "garbage preds.npz",
    "truncate preds.npz", "delete preds.npz", "garbage manifest.json"])
def test_unreadable_artifact_is_recomputed(damage, capsys):  # bad inputs (7): kinds of damage
    cfg = Job(x=hash(damage) % 10_000)
    first = artifacts.load_or_run(cfg, _job)
    target = first.path / (damage.split(" ")[-1] if damage.startswith(("truncate", "garbage", "delete"))
                           else "result.json")
    if damage.startswith("truncate"):
        target.write_bytes(target.read_bytes()[: max(1, target.stat().st_size // 2)])
    elif damage.startswith("garbage"):
        target.write_bytes(b"\x00garbage" * 3)
    elif damage.startswith("delete"):
        target.unlink()
    else:
        target.write_text("[1, 2]")
    capsys.readouterr()
    again = artifacts.load_or_run(cfg, lambda out: _job(out, "fresh"))
    err = capsys.readouterr().err
    assert again.result == {"value": "fresh"}
    assert "is unreadable" in err and err.count("\n") == 1, err
    assert np.load(again.path / "preds.npz")["p"].tolist() == [0, 1, 2, 3, 4]


def test_truncated_child_invalidates_its_cached_parent(capsys):  # bad input: a truncated child result
    calls = []

    def child(out):
        calls.append("child")
        return {"c": 1}

    def parent(out):
        calls.append("parent")
        return {"p": artifacts.load_or_run(Job(x=-1 + 1000), child)["c"] + 1}

    artifacts.load_or_run(Job(x=2000), parent)
    assert calls == ["parent", "child"]
    manifest = json.loads((artifacts.run_dir(Job(x=2000)) / "manifest.json").read_text())
    assert manifest["children"] == [Job(x=999).run_id]
    kid = artifacts.run_dir(Job(x=999)) / "result.json"
    kid.write_text(kid.read_text()[:3])
    capsys.readouterr()
    art = artifacts.load_or_run(Job(x=2000), parent)
    assert calls == ["parent", "child", "parent", "child"] and art.result == {"p": 2}
    assert "computed from" in capsys.readouterr().err


def test_results_and_claims_skip_a_truncated_file(capsys):  # bad input: `w2s results` / `w2s claims`
    good = artifacts.load_or_run(Job(x=3000), lambda out: {"y": 1})
    bad = artifacts.load_or_run(Job(x=3001), lambda out: {"y": 2})
    (bad.path / "result.json").write_text('{"y": ')
    table = artifacts.results_table()
    assert good.path.name in set(table["run_id"]) and bad.path.name not in set(table["run_id"])
    paths.claims_dir().mkdir(parents=True, exist_ok=True)
    (paths.claims_dir() / "C1.tiny.json").write_text('{"claim": "C1", "pres')
    capsys.readouterr()
    assert cli.main(["results"]) == 0
    assert cli.main(["claims"]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "skipping unreadable" in out.err + out.out


def test_corrupt_done_stamp_is_not_current(tmp_path, monkeypatch):  # bad input: truncated .done.json
    monkeypatch.setattr(book, "CHAPTER_DIR", tmp_path)
    (tmp_path / "01_tiny_world.ipynb").write_text("{}")
    (tmp_path / "01_tiny_world.done.json").write_text('{"stamp": "ab')
    assert book.is_current(book.get_notebook("01"), "tiny") is False


# -- debris of killed processes -----------------------------------------------------------------------------
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_debris_of_dead_processes_is_swept_on_the_next_start(tmp_path, monkeypatch):
    dead, alive = _dead_pid(), os.getpid()
    root = paths.runs_dir()
    root.mkdir(parents=True, exist_ok=True)
    stale = [root / f".tmp-never-asked-again-abc.{dead}", root / f".tmp-result.json.p{dead}.x1y2z3"]
    kept = root / f".tmp-busy-abc.{alive}"
    elsewhere = root / f".tmp-other-host-abc.{dead}@another-node"  # a job on another machine: maybe alive
    stale.append(root / f".tmp-mine-abc.{dead}@{__import__('platform').node()}")
    for d in (stale[0], stale[2], kept, elsewhere):
        d.mkdir()
    stale[1].write_text("{")
    monkeypatch.setattr(artifacts, "_SWEPT", set())
    artifacts.load_or_run(Job(x=4000), lambda out: {"y": 1})
    assert not any(p.exists() for p in stale) and kept.exists() and elsewhere.exists()
    # the chapter runner's output folder: a killed run's .tmp-<pid>-NN.ipynb
    out = tmp_path / "out"
    out.mkdir()
    (out / f".tmp-{dead}-01_tiny_world.ipynb").write_text("{}")
    (out / f".tmp-{alive}-01_tiny_world.ipynb").write_text("{}")
    assert artifacts.clean_debris(out) == 1
    assert [p.name for p in out.iterdir()] == [f".tmp-{alive}-01_tiny_world.ipynb"]


# -- two processes, one cache --------------------------------------------------------------------------------
RACER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {repo!r})
    from w2s_lib.core import artifacts
    from tests.test_reliability import Job
    log = open({log!r}, "a")
    def fn(out, i):
        log.write(f"{{i}}\\n"); log.flush()
        (out / "w.bin").write_bytes(bytes(1000))
        time.sleep(0.01)
        return {{"i": i}}
    for i in range(5000, 5040):
        art = artifacts.load_or_run(Job(x=i), lambda out, i=i: fn(out, i))
        assert art.result == {{"i": i}}, art.result
        assert (art.path / "w.bin").stat().st_size == 1000
    print("ok")
""")


def test_two_processes_race_on_the_same_run_ids(tmp_path):
    log = tmp_path / "computed.log"
    script = RACER.format(repo=str(paths.REPO_ROOT), log=str(log))
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=paths.REPO_ROOT, env={**os.environ},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and out.strip() == "ok", err[-2000:]
    computed = log.read_text().split()
    assert sorted(computed) == [str(i) for i in range(5000, 5040)]  # each run computed exactly once
    assert not list(paths.runs_dir().glob(".tmp-*"))


# -- kill -9 across the chapter runner, and Ctrl-C --------------------------------------------------------------
SLOW_NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "id": "params", "metadata": {"tags": ["parameters"]}, "execution_count": None, "outputs": [],
         "source": 'preset = "tiny"\nforce = False\n'},
        {"cell_type": "code", "id": "slow", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "import pathlib, time, os\n"
                   "marker = pathlib.Path(os.environ['W2S_TEST_MARKER'])\n"
                   "slow = not marker.exists()\n"
                   "marker.write_text('started')\n"
                   "if slow:\n    time.sleep(120)\n"},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}

RUNNER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    from pathlib import Path
    from w2s_lib import cli
    from w2s_lib.publish import book
    book.NOTEBOOK_DIR = Path({nbdir!r})
    sys.exit(cli.main(["run", "01", "-o", {out!r}]))
""")


def _runner(tmp_path):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    (nbdir / "01_tiny_world.ipynb").write_text(json.dumps(SLOW_NOTEBOOK))
    out = tmp_path / "executed" / "01_tiny_world.ipynb"
    script = RUNNER.format(repo=str(paths.REPO_ROOT), nbdir=str(nbdir), out=str(out))
    env = {**os.environ, "W2S_TEST_MARKER": str(tmp_path / "marker"), "PYTHONPATH": str(paths.REPO_ROOT)}
    return script, env, out


def _start_and_wait(script, env, marker):
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=paths.REPO_ROOT, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not marker.exists():
        if proc.poll() is not None or time.time() > deadline:
            os.killpg(proc.pid, 9)
            pytest.fail("runner did not start: " + proc.communicate()[1][-2000:])
        time.sleep(0.1)
    return proc


def test_kill_9_across_the_chapter_runner(tmp_path):
    import signal

    script, env, out = _runner(tmp_path)
    marker = tmp_path / "marker"
    proc = _start_and_wait(script, env, marker)
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its kernel, as a terminal's kill -9 of the group
    proc.communicate(timeout=30)
    assert not out.exists() and not out.with_suffix(".done.json").exists()  # nothing reads as finished
    # the rerun completes (the marker now exists: no sleep), clears the killed run's debris, exits 0
    done = subprocess.run([sys.executable, "-c", script], cwd=paths.REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.exists() and json.loads(out.with_suffix(".done.json").read_text())["stamp"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["01_tiny_world.done.json", "01_tiny_world.ipynb"]


def test_ctrl_c_prints_one_line(tmp_path):
    import signal

    script, env, out = _runner(tmp_path)
    proc = _start_and_wait(script, env, tmp_path / "marker")
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends to the whole foreground group
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("Executing:")]  # progress bars
    assert lines == ["interrupted; finished steps are cached, run the same command again to resume"]
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if not p.name.startswith(".tmp-")] if out.parent.exists() else True


def test_bad_input_count():
    """The README quotes this count: distinct bad inputs exercised in this file (lists + named tests)."""
    named = len([ln for ln in Path(__file__).read_text().splitlines() if ln.startswith("def test_") and "# bad input:" in ln])
    damage_kinds = 7
    env_words = 4
    env_vars = 3
    same_input_again = 2  # W2S_SMOKE=maybe and W2S_HOME-a-file, each tested through the CLI and the library
    total = len(BAD_CLI) + len(BAD_LIBRARY) + named + damage_kinds + env_words + env_vars - same_input_again
    assert total >= 40
    print("distinct bad inputs:", total)


def test_full_finetune_with_lr_1_stops_and_caches_nothing():  # bad input: -p mode=full -p lr=1.0
    """The issue's divergence: loss 0.69 → 100+, every prediction constant, cached as done. Now it stops."""
    from w2s_lib.train.classifier import TrainArgs, train_classifier

    texts = [f"the film was {'great' if i % 2 else 'awful'} number {i}" for i in range(64)]
    labels = [float(i % 2) for i in range(64)]
    args = TrainArgs(stage=TrainStage(lr=1.0, epochs=4.0, batch_size=8), max_length=16, mode="full")

    def fn(out):
        train_classifier("minilm-l1", texts, labels, args)
        return {"done": True}

    with pytest.raises(DivergedError, match=r"lower train.lr \(now 1\), e.g. -p train.lr=0.1"):
        artifacts.load_or_run(Job(x=6000), fn)
    assert artifacts.load(Job(x=6000)) is None and not list(paths.runs_dir().glob(".tmp-*"))


def test_w2s_error_is_one_line_in_a_notebook():
    """Inside IPython (papermill, nbval, Jupyter) a W2SError shows as its one line; the cell still fails."""
    code = ("from IPython.core.interactiveshell import InteractiveShell\n"
            "sh = InteractiveShell.instance()\n"
            "r = sh.run_cell('from w2s_lib.core.config import Config\\nConfig(seed=-1)')\n"
            "print('failed:', type(r.error_in_exec).__name__)\n")
    # another virtualenv activated in the calling shell makes IPython warn about it: not this test's subject
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=paths.REPO_ROOT,
                          env={**env, "PYTHONPATH": str(paths.REPO_ROOT)}, timeout=120)
    lines = [ln for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
    assert lines == ["W2SError: Config.seed = -1 is out of range; allowed range is [0, 4294967295]",
                     "failed: W2SError"], lines


def test_library_cache_under_a_file_home(tmp_path, monkeypatch):  # bad input: W2S_HOME a file, library path
    (tmp_path / "f").write_text("")
    monkeypatch.setenv("W2S_HOME", str(tmp_path / "f"))
    with pytest.raises(W2SError, match="is not a directory.*point W2S_HOME at a writable directory"):
        artifacts.load_or_run(Job(x=7000), lambda out: {"y": 1})


def test_preset_as_a_parameter_and_is_current_without_a_zoo(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("W2S_ZOO_DIR", str(tmp_path / "no-zoo"))
    nb = book.get_notebook("20")
    assert book.split_parameters(nb, "smoke", {"preset": "smoke"}, resolve=False) == {"preset": "smoke"}
    monkeypatch.setattr(book, "CHAPTER_DIR", tmp_path)
    params = book.split_parameters(nb, "tiny", {}, resolve=False)
    (tmp_path / f"{nb.stem}.ipynb").write_text("{}")
    (tmp_path / f"{nb.stem}.done.json").write_text(json.dumps({"stamp": book._stamp(nb, params)}))
    assert book.is_current(nb, "tiny")  # an executed, current chapter needs no zoo to be skipped


def test_a_dead_kernel_is_one_line(tmp_path):  # bad input: a chapter whose kernel dies (e.g. out of memory)
    nb = json.loads(json.dumps(SLOW_NOTEBOOK))
    nb["cells"][1]["source"] = "import os, sys\nsys.stderr.write('simulated crash\\n'); sys.stderr.flush()\nos._exit(9)\n"
    script, env, out = _runner(tmp_path)
    (tmp_path / "notebooks" / "01_tiny_world.ipynb").write_text(json.dumps(nb))
    done = subprocess.run([sys.executable, "-c", script], cwd=paths.REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=180)
    lines = [ln for ln in done.stderr.splitlines() if ln.strip() and not ln.startswith("Executing:")]
    assert done.returncode == 2 and len(lines) == 1 and "the kernel running 01_tiny_world died" in lines[0], done.stderr
    assert not out.exists() and not [p for p in out.parent.iterdir() if p.name.startswith(".tmp-")]


def test_install_tolerates_a_winner_without_locks(monkeypatch):
    """On a file system without flock the rename is the guard: a second finisher keeps the first copy."""
    first = artifacts.load_or_run(Job(x=8000), lambda out: {"who": "first"})
    tmp = paths.runs_dir() / f".tmp-{Job(x=8000).run_id}.{os.getpid()}"
    tmp.mkdir()
    (tmp / "result.json").write_text('{"who": "second"}')
    real_exists = Path.exists
    monkeypatch.setattr(Path, "exists", lambda self: False if self == first.path else real_exists(self))
    artifacts._install(tmp, first.path)  # the rename fails (the winner's directory is not empty): keep it
    assert json.loads((first.path / "result.json").read_text()) == {"who": "first"} and not tmp.exists()
