"""Every test runs offline and writes only under a temporary W2S_HOME."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.getbasetemp() / "w2s_home"
    monkeypatch.setenv("W2S_HOME", str(home))
    monkeypatch.delenv("W2S_LOCAL_HUB", raising=False)
    yield home
