"""Cached, atomic, resumable runs.

Every expensive step goes through :func:`load_or_run`. A run lives in ``$W2S_HOME/runs/<run_id>/``:

- ``config.json`` — the full config (the run id hashes its result-affecting fields);
- ``result.json`` — what ``fn`` returned (numbers, lists, small dicts);
- ``env.json`` — library versions, time, host: where the numbers came from;
- any files ``fn`` wrote into the directory it was given (model weights, predictions).

The directory is built under a temporary name and renamed into place only when complete, so a run
killed at any moment (``kill -9`` included) leaves nothing that a later run reads as finished: the
next call finds no directory, clears the debris, and recomputes.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from w2s_lib.core import paths
from w2s_lib.core.config import Config

TMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class Artifact:
    """A finished run: its directory, its result and its config (as saved)."""

    path: Path
    result: dict[str, Any]
    config: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.result[key]


def to_jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TMP_PREFIX + path.name + ".")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=True) + "\n")


def env_info() -> dict[str, Any]:
    import importlib.metadata as md

    versions = {}
    for pkg in ("torch", "transformers", "datasets", "trl", "peft", "numpy"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": platform.node(),
        "versions": versions,
    }


def run_dir(cfg: Config) -> Path:
    return paths.runs_dir() / cfg.run_id


def _is_complete(path: Path) -> bool:
    return (path / "result.json").is_file() and (path / "config.json").is_file()


def _tmp_name(run_id: str) -> str:
    """``.tmp-<run id>.<pid>@<host>``: the store may be shared by the jobs of several machines, and a pid
    only says whether a process is alive on its own host."""
    return f"{TMP_PREFIX}{run_id}.{os.getpid()}@{platform.node()}"


def _clear_debris(root: Path, run_id: str) -> None:
    """Remove temporary directories of this run left by a killed process of this host (another host's
    may belong to a live job there: it is left alone, and the run is computed here all the same)."""
    for tmp in root.glob(f"{TMP_PREFIX}{run_id}.*"):
        pid, _, host = tmp.name[len(TMP_PREFIX) + len(run_id) + 1:].partition("@")
        if host and host != platform.node():
            continue
        if pid.isdigit() and _pid_alive(int(pid)) and int(pid) != os.getpid():
            continue  # another live process is computing it right now
        shutil.rmtree(tmp, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load(cfg: Config) -> Artifact | None:
    """The finished artifact of ``cfg``, or ``None`` when it has not been computed."""
    path = run_dir(cfg)
    if not _is_complete(path):
        return None
    return Artifact(path, json.loads((path / "result.json").read_text()), json.loads((path / "config.json").read_text()))


def load_or_run(cfg: Config, fn: Callable[[Path], dict[str, Any]], force: bool = False) -> Artifact:
    """Return the artifact of ``cfg``, computing it with ``fn(out_dir)`` only when needed.

    ``fn`` receives an empty directory to write files into and returns a JSON-able dict of results.
    ``force=True`` recomputes and replaces a finished artifact.
    """
    root = paths.runs_dir()
    final = root / cfg.run_id
    if not force and (done := load(cfg)) is not None:
        return done
    root.mkdir(parents=True, exist_ok=True)
    _clear_debris(root, cfg.run_id)
    tmp = root / _tmp_name(cfg.run_id)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        started = time.time()
        result = fn(tmp)
        if not isinstance(result, dict):
            raise TypeError(f"{getattr(fn, '__name__', fn)} must return a dict of results, got {type(result).__name__}")
        env = {**env_info(), "seconds": round(time.time() - started, 3)}
        atomic_write_json(tmp / "env.json", env)
        atomic_write_json(tmp / "config.json", {"kind": type(cfg).__name__, "run_id": cfg.run_id, **cfg.to_dict()})
        atomic_write_json(tmp / "result.json", result)  # last: its presence marks completeness
        if final.exists():  # force, or a concurrent process finished first
            if force:
                shutil.rmtree(final)
            else:
                shutil.rmtree(tmp)
                return load(cfg)  # type: ignore[return-value]
        try:
            os.replace(tmp, final)
        except OSError:  # the directory appeared since the check: another job finished the same run
            if not _is_complete(final):
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return load(cfg)  # type: ignore[return-value]


def results_table():
    """One row per finished run: kind, preset, seed, run id, config fields and scalar results."""
    import pandas as pd

    rows = []
    root = paths.runs_dir()
    for path in sorted(root.glob("*/result.json")) if root.exists() else []:
        run = path.parent
        if run.name.startswith(TMP_PREFIX):
            continue
        config = json.loads((run / "config.json").read_text())
        result = json.loads(path.read_text())
        row = {k: config.get(k) for k in ("kind", "preset", "seed", "run_id")}
        row.update({k: v for k, v in result.items() if isinstance(v, (int, float, str, bool)) or v is None})
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["kind", "preset", "seed", "run_id"])
