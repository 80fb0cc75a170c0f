"""Where the project keeps what it makes: one cache root, relocatable by environment variables.

- ``W2S_HOME``: everything cached (runs, claims, the offline model zoo). Default ``~/.cache/w2s-book``.
- ``W2S_ZOO_DIR``: the offline model zoo alone. Default ``$W2S_HOME/zoo``.
Nothing here touches the disk at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]  # w2s_lib/core/paths.py -> the repository
DATA_DIR = REPO_ROOT / "data"


def home() -> Path:
    return Path(os.environ.get("W2S_HOME") or Path.home() / ".cache" / "w2s-book").expanduser()


def runs_dir() -> Path:
    return home() / "runs"


def claims_dir() -> Path:
    return home() / "claims"


def zoo_dir() -> Path:
    return Path(os.environ.get("W2S_ZOO_DIR") or home() / "zoo").expanduser()
