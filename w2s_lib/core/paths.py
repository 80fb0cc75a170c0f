"""Where the project keeps what it makes: one cache root, relocatable by environment variables.

- ``W2S_HOME``: everything cached (runs, claims, the offline model zoo). Default ``~/.cache/w2s-book``.
- ``W2S_ZOO_DIR``: the offline model zoo alone. Default ``$W2S_HOME/zoo``.

Runs and claim records belong to one generated world (``W2S_WORLD_SEED``): world 0's live in ``runs/`` and
``claims/``, world n's in ``runs-world<n>/`` and ``claims-world<n>/`` (run ids do not name the world, so one
folder per world keeps a world-1 run from ever reading a world-0 result from the cache). The zoo tags its
models by world itself.
Nothing here touches the disk at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]  # w2s_lib/core/paths.py -> the repository
DATA_DIR = REPO_ROOT / "data"


def home() -> Path:
    return Path(os.environ.get("W2S_HOME") or Path.home() / ".cache" / "w2s-book").expanduser()


def _world_suffix() -> str:
    from w2s_lib.core.config import current_world_seed  # config imports nothing from here

    world = current_world_seed()
    return f"-world{world}" if world else ""


def runs_dir() -> Path:
    return home() / f"runs{_world_suffix()}"


def claims_dir() -> Path:
    return home() / f"claims{_world_suffix()}"


def zoo_dir() -> Path:
    return Path(os.environ.get("W2S_ZOO_DIR") or home() / "zoo").expanduser()


def ensure_dir(path: Path, what: str = "W2S_HOME", create: bool = True) -> Path:
    """Create ``path`` (and its parents) if needed and check it is a writable directory; otherwise one line
    naming ``what`` to change (``W2S_HOME`` for the cache) instead of a raw ``OSError``.
    ``create=False`` only checks that it could be created (nothing is written)."""
    from w2s_lib.core.errors import W2SError

    path = Path(path)
    hint = f"point {what} at a writable directory" if what.isupper() else f"choose another {what}"
    for parent in (path, *path.parents):
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise W2SError(f"{parent} is not a directory, so {path} cannot be created; {hint}")
            break
    if not create:
        if not os.access(parent, os.W_OK | os.X_OK) or str(parent).startswith(("/proc", "/sys")):
            raise W2SError(f"{parent} is not writable, so {path} cannot be used; {hint}")
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise W2SError(f"cannot create {path} ({exc.strerror or type(exc).__name__}); {hint}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise W2SError(f"{path} is not writable; {hint}")
    return path


def check_home() -> Path:
    """The cache root, checked: it must be (or become) a writable directory."""
    return ensure_dir(home(), "W2S_HOME", create=False)
