import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass

import pytest

from w2s_lib.core import artifacts, paths
from w2s_lib.core.config import Config, knob


@dataclass(frozen=True)
class Job(Config):
    x: int = knob(1)
    SLUG = "job"


def test_load_or_run_caches_and_forces(tmp_path, monkeypatch):
    monkeypatch.setenv("W2S_HOME", str(tmp_path))  # a home of its own: the results table lists every run in it
    calls = []

    def fn(out):
        calls.append(out)
        (out / "weights.bin").write_bytes(b"abc")
        return {"y": 2, "arr": [1, 2]}

    a = artifacts.load_or_run(Job(x=1), fn)
    b = artifacts.load_or_run(Job(x=1), fn)
    assert len(calls) == 1 and a.result == b.result == {"y": 2, "arr": [1, 2]}
    assert (a.path / "weights.bin").read_bytes() == b"abc"
    assert json.loads((a.path / "config.json").read_text())["x"] == 1
    assert "versions" in json.loads((a.path / "env.json").read_text())
    artifacts.load_or_run(Job(x=1), fn, force=True)
    assert len(calls) == 2
    artifacts.load_or_run(Job(x=2), fn)
    assert len(calls) == 3
    table = artifacts.results_table()
    assert sorted(table["y"]) == [2, 2] and set(table["kind"]) == {"Job"}


def test_each_generated_world_caches_its_own_runs_and_claims(tmp_path, monkeypatch):
    # run ids do not name the world: a world-1 process must not read the world-0 result of the same config
    monkeypatch.setenv("W2S_HOME", str(tmp_path))
    monkeypatch.delenv("W2S_WORLD_SEED", raising=False)
    world0 = artifacts.load_or_run(Job(x=7), lambda out: {"world": 0})
    assert paths.runs_dir() == tmp_path / "runs" and paths.claims_dir() == tmp_path / "claims"
    monkeypatch.setenv("W2S_WORLD_SEED", "1")
    assert paths.runs_dir() == tmp_path / "runs-world1" and paths.claims_dir() == tmp_path / "claims-world1"
    world1 = artifacts.load_or_run(Job(x=7), lambda out: {"world": 1})
    assert world1.result == {"world": 1} and world1.path != world0.path
    monkeypatch.setenv("W2S_WORLD_SEED", "0")
    assert artifacts.load_or_run(Job(x=7), lambda out: {"world": "recomputed"}).result == {"world": 0}


def test_failure_leaves_nothing(tmp_path):
    def boom(out):
        (out / "half.bin").write_bytes(b"x")
        raise RuntimeError("died")

    with pytest.raises(RuntimeError):
        artifacts.load_or_run(Job(x=5), boom)
    assert artifacts.load(Job(x=5)) is None
    assert not list(paths.runs_dir().glob(f"*{Job(x=5).run_id}*"))


def test_fn_must_return_a_dict():
    with pytest.raises(TypeError, match="must return a dict"):
        artifacts.load_or_run(Job(x=9), lambda out: 3)


def test_kill_mid_write_then_rerun_recomputes(tmp_path):
    """kill -9 while fn is writing: the rerun must not read the partial run, and must recompute."""
    marker = tmp_path / "started"
    script = textwrap.dedent(f"""
        import time, pathlib, sys
        sys.path.insert(0, {str(paths.REPO_ROOT)!r})
        from w2s_lib.core import artifacts
        from tests.test_artifacts import Job
        def slow(out):
            (out / "weights.bin").write_bytes(b"partial")
            pathlib.Path({str(marker)!r}).write_text("go")
            time.sleep(60)
            return {{"y": "never"}}
        artifacts.load_or_run(Job(x=42), slow)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ}, cwd=paths.REPO_ROOT)
    deadline = time.time() + 60
    while not marker.exists():
        assert time.time() < deadline and proc.poll() is None, "child did not start"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert artifacts.load(Job(x=42)) is None  # nothing reads as complete
    debris = list(paths.runs_dir().glob(f".tmp-{Job(x=42).run_id}.*"))
    assert debris  # the killed process left its temporary directory
    art = artifacts.load_or_run(Job(x=42), lambda out: {"y": "fresh"})
    assert art.result == {"y": "fresh"}
    assert not (art.path / "weights.bin").exists()
    assert not list(paths.runs_dir().glob(f".tmp-{Job(x=42).run_id}.*"))  # debris cleared


def test_atomic_write_text_replaces_whole_file(tmp_path):
    p = tmp_path / "a" / "f.json"
    artifacts.atomic_write_json(p, {"a": 1})
    artifacts.atomic_write_json(p, {"a": 2})
    assert json.loads(p.read_text()) == {"a": 2}
    assert [q.name for q in p.parent.iterdir()] == ["f.json"]


def test_texts_hash_keys_texts_and_pairs_by_content():
    import hashlib

    from w2s_lib.core.artifacts import texts_hash

    assert texts_hash(["ab", "c"]) == hashlib.sha256(b"ab\0c\0").hexdigest()[:20]
    assert texts_hash([("Q: x?", " yes")]) == hashlib.sha256(b"Q: x?\1 yes\0").hexdigest()[:20]
    assert texts_hash(["a", "b"]) != texts_hash(["ab"]) and texts_hash([("a", "b")]) != texts_hash(["ab"])


def test_cached_array_computes_once_per_config(tmp_path, monkeypatch):
    import numpy as np

    from w2s_lib.core.artifacts import cached_array
    from w2s_lib.train.probe import FeaturesConfig

    monkeypatch.setenv("W2S_HOME", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return np.arange(6, dtype=np.float64).reshape(3, 2)

    cfg = FeaturesConfig(model="minilm-l1", texts_hash="abc")
    first = cached_array(cfg, compute)
    again = cached_array(cfg, compute)
    assert calls == [1] and first.dtype == np.float32 and (again == first).all() and first.shape == (3, 2)
