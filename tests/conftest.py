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


@pytest.fixture(scope="session")
def micro_zoo(tmp_path_factory):
    """The micro tiny-GPT ladder, built once per test session in a directory of its own.

    Returns ``(zoo_dir, {name: checkpoint dir})``. A test that loads models *by zoo name* points
    ``W2S_ZOO_DIR`` at ``zoo_dir`` itself (with its ``monkeypatch``), so no environment leaks between tests;
    ``W2S_SMOKE`` is not set here (the micro build is asked for explicitly).
    """
    from w2s_lib.models import tinygpt

    root = tmp_path_factory.mktemp("micro_zoo")
    mp = pytest.MonkeyPatch()
    mp.setenv("W2S_ZOO_DIR", str(root))
    try:
        paths = tinygpt.build_zoo(micro=True, progress=False)
    finally:
        mp.undo()
    return root, paths


@pytest.fixture
def micro_zoo_env(micro_zoo, monkeypatch):
    """For one test: load tiny models *by name* from the session's micro zoo (W2S_ZOO_DIR and W2S_SMOKE=1,
    which selects the micro ladder, set for this test only and undone after it)."""
    monkeypatch.setenv("W2S_ZOO_DIR", str(micro_zoo[0]))
    monkeypatch.setenv("W2S_SMOKE", "1")
    return micro_zoo[0]
