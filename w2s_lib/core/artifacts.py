"""Cached, atomic, resumable runs.

Every expensive step goes through :func:`load_or_run`. A run lives in ``$W2S_HOME/runs/<run_id>/``:

- ``config.json`` — the full config (the run id hashes its result-affecting fields);
- ``result.json`` — what ``fn`` returned (numbers, lists, small dicts);
- ``env.json`` — library versions, time, host: where the numbers came from;
- any files ``fn`` wrote into the directory it was given (model weights, predictions).

The directory is built under a temporary name and renamed into place only when complete, so a run
killed at any moment (``kill -9`` included) leaves nothing that a later run reads as finished: the
next call finds no directory, clears the debris, and recomputes.

- ``manifest.json`` — the size (and, for small files, the hash) of every file, and the run ids this run was
  computed from. A run whose files no longer match, or one of whose children is unreadable, is treated as
  missing and recomputed (one line says so) instead of crashing a reader or being trusted blindly.

One process computes a run id at a time (an ``flock`` per run id); the others wait and read its result.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from w2s_lib.core import paths
from w2s_lib.core.config import Config
from w2s_lib.core.errors import W2SError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no cross-process lock, the rename still guards completeness
    fcntl = None

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
    paths.ensure_dir(path.parent, "the output folder")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TMP_PREFIX}{path.name}.p{os.getpid()}.")
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


@functools.lru_cache(maxsize=1)
def _package_versions() -> tuple[tuple[str, str | None], ...]:
    """The installed versions of the packages a run records, read once per process (``importlib.metadata``
    scans the installed distributions: ≈ 40 ms for the six, paid by every computed run before)."""
    import importlib.metadata as md

    versions = []
    for pkg in ("torch", "transformers", "datasets", "trl", "peft", "numpy"):
        try:
            versions.append((pkg, md.version(pkg)))
        except md.PackageNotFoundError:
            versions.append((pkg, None))
    return tuple(versions)


def env_info() -> dict[str, Any]:
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": platform.node(),
        "versions": dict(_package_versions()),
    }


def run_dir(cfg: Config) -> Path:
    return paths.runs_dir() / cfg.run_id


# -- integrity ---------------------------------------------------------------------------------------
MANIFEST = "manifest.json"
#: files up to this size are hashed in the manifest (and checked on every load); larger ones by size only
HASH_LIMIT = 1 << 20


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest(run: Path, children: list[str]) -> dict[str, Any]:
    files = {}
    for f in sorted(run.rglob("*")):
        if f.is_file() and f.name not in (MANIFEST, "result.json"):
            size = f.stat().st_size
            files[f.relative_to(run).as_posix()] = {"size": size, **({"sha256": _sha256(f)} if size <= HASH_LIMIT else {})}
    return {"files": files, "children": sorted(set(children))}


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def problem(run: Path, _checked: set[str] | None = None) -> str | None:
    """Why the finished-looking run directory ``run`` cannot be trusted, or ``None`` when it can.

    Checks that ``result.json`` and ``config.json`` parse, that every file the manifest lists has its recorded
    size (and hash, for small files), and that every cached run this one was computed from is itself readable.
    """
    try:
        result = _read_json(run / "result.json")
        _read_json(run / "config.json")
        if not isinstance(result, dict):
            return "result.json is not a dict"
        if not (run / MANIFEST).is_file():
            return None  # cached before manifests existed: result and config parse, that is all we know
        manifest = _read_json(run / MANIFEST)
        for rel, info in manifest.get("files", {}).items():
            f = run / rel
            if not f.is_file():
                return f"{rel} is missing"
            if f.stat().st_size != info["size"]:
                return f"{rel} is truncated or changed ({f.stat().st_size} bytes, expected {info['size']})"
            if "sha256" in info and _sha256(f) != info["sha256"]:
                return f"{rel} is corrupt (its checksum changed)"
        checked = set() if _checked is None else _checked  # each run once per check (children are shared)
        checked.add(run.name)
        for child in manifest.get("children", []):
            if child in checked:
                continue
            child_dir = run.parent / child
            if not (child_dir / "result.json").is_file():
                return f"the run it was computed from, {child}, is missing"
            why = problem(child_dir, checked)
            if why is not None:
                return f"the run it was computed from, {child}, is unreadable ({why})"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}"
    return None


def _say(message: str) -> None:
    print(" ".join(message.split()), file=sys.stderr, flush=True)


# -- debris --------------------------------------------------------------------------------------------
_PID_PATTERNS = (re.compile(r"\.p(\d+)\.[^.]*$"), re.compile(r"^\.tmp-(\d+)-"), re.compile(r"\.(\d+)(?:@[^@/]*)?$"))
_HOST = re.compile(r"\.\d+@([^@/]*)$")
#: a temporary entry whose writer cannot be told from its name is debris once it is this old
STALE_SECONDS = 6 * 3600


def _tmp_name(run_id: str) -> str:
    """``.tmp-<run id>.<pid>@<host>``: the store may be shared by the jobs of several machines, and a pid
    only says whether a process is alive on its own host."""
    return f"{TMP_PREFIX}{run_id}.{os.getpid()}@{platform.node()}"


def _foreign(name: str) -> bool:
    """Whether a temporary entry belongs to another host (whose processes this one cannot see)."""
    m = _HOST.search(name)
    return bool(m) and m.group(1) != platform.node()


def _debris_pid(name: str) -> int | None:
    for pat in _PID_PATTERNS:
        m = pat.search(name)
        if m:
            return int(m.group(1))
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def clean_debris(folder: Path, prefix: str = TMP_PREFIX) -> int:
    """Remove the temporary files and directories (``.tmp-*``) that killed processes left in ``folder``.

    An entry whose name carries a process id is removed when that process is gone; one without is removed
    when it is older than ``STALE_SECONDS``. Returns how many were removed.
    """
    removed = 0
    try:
        entries = list(folder.iterdir())
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        if _foreign(entry.name):
            continue  # another machine's job: maybe alive there
        pid = _debris_pid(entry.name)
        try:
            if pid is not None:
                if pid == os.getpid() or _pid_alive(pid):
                    continue
            elif time.time() - entry.lstat().st_mtime < STALE_SECONDS:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
        except OSError:
            continue
    return removed


_SWEPT: set[str] = set()


def _sweep_once(root: Path) -> None:
    """Once per process and cache root: clear the debris of every run id (not just the ones asked for)."""
    key = str(root)
    if key not in _SWEPT:
        _SWEPT.add(key)
        if root.is_dir():
            clean_debris(root)


def _clear_debris(root: Path, run_id: str) -> None:
    """Remove temporary directories of this run left by a killed process."""
    for tmp in root.glob(f"{TMP_PREFIX}{run_id}.*"):
        if _foreign(tmp.name):
            continue  # another host's job may be computing it; the run is computed here all the same
        pid = _debris_pid(tmp.name)
        if pid is not None and pid != os.getpid() and _pid_alive(pid):
            continue  # another live process is computing it right now
        shutil.rmtree(tmp, ignore_errors=True)


# -- locking -------------------------------------------------------------------------------------------
LOCK_DIR = ".locks"


@contextlib.contextmanager
def run_lock(run_id: str):
    """Hold the per-run-id lock (``runs/.locks/<run_id>.lock``, an ``flock``): one process computes a run
    at a time; the others wait and then read what it cached. The lock is released by the kernel when its
    holder dies, ``kill -9`` included."""
    lock_dir = paths.ensure_dir(paths.runs_dir() / LOCK_DIR, "W2S_HOME")
    fh = open(lock_dir / f"{run_id}.lock", "a+")
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                _say(f"waiting for another process that is computing {run_id}…")
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            except OSError:  # a file system without locks (some network mounts): the atomic rename still guards
                pass
        yield
    finally:
        fh.close()  # closing the file releases the lock


# -- the cache -----------------------------------------------------------------------------------------
#: run ids loaded or computed while the enclosing ``load_or_run`` computes (its children)
_CHILDREN: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("w2s_children", default=None)


RUN_COUNTS_ENV = "W2S_RUN_COUNTS"  # a file: `w2s reproduce` counts each chapter's cached runs, computed vs loaded


def _count_run(kind: str) -> None:
    """Append ``kind`` ('computed' or 'loaded') to the file :data:`RUN_COUNTS_ENV` names, if set: how
    `w2s reproduce` tells a chapter that computed its runs from one that only re-read them from the cache."""
    path = os.environ.get(RUN_COUNTS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(kind + "\n")


def _note_child(run_id: str) -> None:
    children = _CHILDREN.get()
    if children is not None:
        children.append(run_id)


def _load_dir(path: Path, announce: bool = True) -> Artifact | None:
    if not (path / "result.json").is_file():
        return None
    why = problem(path)
    if why is not None:
        if announce:
            _say(f"cached run {path.name} is unreadable ({why}); treating it as missing and recomputing it")
        return None
    return Artifact(path, _read_json(path / "result.json"), _read_json(path / "config.json"))


def load(cfg: Config) -> Artifact | None:
    """The finished artifact of ``cfg``, or ``None`` when it has not been computed (or is unreadable)."""
    return _load_dir(run_dir(cfg))


def _install(tmp: Path, final: Path) -> None:
    """Move the finished ``tmp`` into place, replacing a previous (forced or unreadable) ``final``."""
    if final.exists():
        old = final.with_name(f"{TMP_PREFIX}{final.name}.old.{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        try:
            os.replace(tmp, final)
        except OSError:  # without a working lock another process may have installed it first: its copy wins
            if (final / "result.json").is_file() and problem(final) is None:
                shutil.rmtree(tmp, ignore_errors=True)
                return
            raise


def load_or_run(cfg: Config, fn: Callable[[Path], dict[str, Any]], force: bool = False) -> Artifact:
    """Return the artifact of ``cfg``, computing it with ``fn(out_dir)`` only when needed.

    ``fn`` receives an empty directory to write files into and returns a JSON-able dict of results.
    ``force=True`` recomputes and replaces a finished artifact. Safe when several processes ask for the
    same run at once (one computes, the others wait and read it); an unreadable cached run (a truncated
    file, a corrupt child) is recomputed, with one line saying so.
    """
    final = run_dir(cfg)
    _sweep_once(paths.runs_dir())
    if not force and (done := _load_dir(final)) is not None:
        _note_child(cfg.run_id)
        _count_run("loaded")
        return done
    root = paths.ensure_dir(paths.runs_dir(), "W2S_HOME")
    with run_lock(cfg.run_id):
        if not force and (done := _load_dir(final, announce=False)) is not None:  # another process finished it
            _note_child(cfg.run_id)
            _count_run("loaded")
            return done
        _clear_debris(root, cfg.run_id)
        tmp = root / _tmp_name(cfg.run_id)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        children: list[str] = []
        token = _CHILDREN.set(children)
        try:
            started = time.time()
            try:
                result = fn(tmp)
            finally:
                _CHILDREN.reset(token)
            if not isinstance(result, dict):
                raise TypeError(f"{getattr(fn, '__name__', fn)} must return a dict of results, got {type(result).__name__}")
            env = {**env_info(), "seconds": round(time.time() - started, 3)}
            atomic_write_json(tmp / "env.json", env)
            atomic_write_json(tmp / "config.json", {"kind": type(cfg).__name__, "run_id": cfg.run_id, **cfg.to_dict()})
            atomic_write_json(tmp / MANIFEST, _manifest(tmp, [c for c in children if c != cfg.run_id]))
            atomic_write_json(tmp / "result.json", result)  # last: its presence marks completeness
            _install(tmp, final)
            _count_run("computed")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    _note_child(cfg.run_id)
    art = _load_dir(final)
    if art is None:  # pragma: no cover - only if the disk lost what was just written
        raise W2SError(f"the run {cfg.run_id} was written to {final} but cannot be read back; check the disk")
    return art


def results_table():
    """One row per finished run: kind, preset, seed, run id, config fields and scalar results."""
    import pandas as pd

    rows = []
    root = paths.runs_dir()
    for path in sorted(root.glob("*/result.json")) if root.exists() else []:
        run = path.parent
        if run.name.startswith(TMP_PREFIX):
            continue
        why = problem(run)
        if why is not None:
            _say(f"results: skipping unreadable run {run.name} ({why}); the next call that needs it recomputes it")
            continue
        config = _read_json(run / "config.json")
        result = _read_json(path)
        row = {k: config.get(k) for k in ("kind", "preset", "seed", "run_id")}
        row.update({k: v for k, v in result.items() if isinstance(v, (int, float, str, bool)) or v is None})
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["kind", "preset", "seed", "run_id"])


def texts_hash(items) -> str:
    """A short sha256 of a list of texts or of ``(prompt, reply)`` pairs: the cache key that follows the data."""
    h = hashlib.sha256()
    for item in items:
        if isinstance(item, str):
            h.update(item.encode())
        else:
            h.update(b"\1".join(part.encode() for part in item))
        h.update(b"\0")
    return h.hexdigest()[:20]


def array_hash(a) -> str:
    """The sha1 of an array's dtype, shape and bytes: a key that follows the numbers (rows picked, targets given)."""
    a = np.ascontiguousarray(a)
    return hashlib.sha1(f"{a.dtype}{a.shape}".encode() + a.tobytes()).hexdigest()


def cached_array(cfg: Config, compute: Callable[[], np.ndarray], force: bool = False) -> np.ndarray:
    """The float32 array ``compute()`` returns for ``cfg``, computed once and cached (frozen features of a
    model over some texts, say): one home for every feature cache."""

    def run(out_dir: Path) -> dict[str, Any]:
        arr = np.asarray(compute(), dtype=np.float32)
        np.save(out_dir / "features.npy", arr)
        return {"n": int(arr.shape[0]) if arr.ndim else 1, "shape": list(arr.shape)}

    return np.load(load_or_run(cfg, run, force=force).path / "features.npy")

