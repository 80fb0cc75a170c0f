"""The one gate to the Hugging Face hub.

colab / paper presets name hub ids (``gpt2``, ``allenai/sciq``). Before anything is fetched, a name is
resolved here:

1. a *local stand-in* wins: ``$W2S_LOCAL_HUB/{models,datasets}/<org>__<name>`` (a directory written by
   ``save_pretrained`` for models, or data files in the real dataset's schema for datasets). Tests use
   this to drive the colab/paper code paths offline through the very same loaders.
2. otherwise the hub must be reachable; offline (``HF_HUB_OFFLINE=1`` or no connection) we fail at once
   with one line naming the offline alternative, instead of hanging in retries.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path

from w2s_lib.core.errors import W2SError

HUB_HOST = ("huggingface.co", 443)


def standin_dir(kind: str, hub_id: str) -> Path | None:
    """The local stand-in directory for ``hub_id`` (``kind`` is 'models' or 'datasets'), if one exists."""
    root = os.environ.get("W2S_LOCAL_HUB")
    if not root:
        return None
    path = Path(root) / kind / hub_id.replace("/", "__")
    return path if path.exists() else None


@functools.lru_cache(maxsize=1)
def _hub_reachable() -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return False
    try:
        with socket.create_connection(HUB_HOST, timeout=3):
            return True
    except OSError:
        return False


def resolve(kind: str, hub_id: str, alternative: str) -> str:
    """Return a local path (stand-in) or the hub id itself when the hub can be reached.

    ``alternative`` is the offline option to suggest, e.g. ``"preset='tiny' (dataset 'tiny_facts')"``.
    """
    local = standin_dir(kind, hub_id)
    if local is not None:
        return str(local)
    if not _hub_reachable():
        raise W2SError(
            f"the Hugging Face hub is unreachable (offline), so {kind[:-1]} {hub_id!r} cannot be fetched; "
            f"use {alternative}, or put a local copy in $W2S_LOCAL_HUB/{kind}/{hub_id.replace('/', '__')}"
        )
    return hub_id
