"""Bad input: one line saying what is wrong, exit status 2, and nothing written."""

import os
import subprocess
import sys

import pytest

from w2s_lib.publish import book
from w2s_lib import cli, data
from w2s_lib.core import paths
from w2s_lib.core.errors import W2SError
from w2s_lib.models import zoo


def _snapshot():
    roots = [paths.home(), paths.REPO_ROOT / "outputs", book.CHAPTER_DIR]
    return {str(p) for r in roots if r.exists() for p in r.rglob("*")}


CLI_CASES = [
    (["list", "bogus"], "invalid choice: 'bogus'"),
    (["run", "42"], "unknown notebook '42'"),
    (["run", "00", "--preset", "huge"], "invalid choice: 'huge'"),
    (["run", "00", "-p", "n_docs"], "malformed parameter 'n_docs'"),
    (["run", "00", "-p", "n_docs=abc"], "W2SConfig.n_docs must be of type int"),
    (["run", "00", "-p", "n_docs=-5"], "W2SConfig.n_docs = -5 is out of range"),
    (["run", "00", "-p", "bogus_key=1"], "unknown override for W2SConfig: 'bogus_key'"),
    (["run", "00", "-p", "seed=-1"], "W2SConfig.seed = -1 is out of range"),
    (["run", "00", "-p", "overrides=3"], "overrides must be a dict"),
    (["run", "00", "-p", "dataset=imbd"], "unknown dataset 'imbd'"),  # checked before the kernel starts
    (["run", "00", "-p", "weak=gpt5"], "unknown override for W2SConfig: 'weak'"),
    (["reproduce", "--only", "77"], "unknown notebook '77'"),
    (["claims", "--preset", "nope"], "invalid choice: 'nope'"),
    (["zoo", "destroy"], "invalid choice: 'destroy'"),
    (["zoo", "build", "--micro", "--rung", "tinygpt-xl"], "unknown model 'tinygpt-xl'"),
    (["zoo", "build", "--corpus", "search"], "--corpus and --data-seed choose a chess ladder: add --chess"),
    (["zoo", "build", "--chess", "--world-seed", "1"], "give --data-seed, not --world-seed"),
    (["zoo", "build", "--chess", "--data-seed", "-1"], "--data-seed must be 0 or more"),
    (["zoo", "build", "--chess", "--micro", "--corpus", "serch"], "unknown chess pretraining corpus 'serch'"),
    (["zoo", "build", "--chess", "--micro", "--rung", "chessgpt-xl"], "unknown chess model 'chessgpt-xl'"),
    ([], "the following arguments are required: command"),
]


@pytest.mark.parametrize("argv, needle", [c for c in CLI_CASES if c[1]])
def test_cli_user_errors(argv, needle, capsys):
    before = _snapshot()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and needle in err, err
    assert err.count("\n") == 1, err  # exactly one line
    assert _snapshot() == before


def test_zoo_build_reads_the_world_from_the_environment(monkeypatch, capsys):
    """`W2S_WORLD_SEED=1 w2s zoo build` builds world 1 (it silently built world 0 before); a flag that disagrees
    with the environment is one line, exit 2."""
    from w2s_lib.models import tinygpt

    seen = []
    monkeypatch.setattr(tinygpt, "build_zoo", lambda **kw: seen.append(kw["world_seed"]) or {})
    monkeypatch.setenv("W2S_WORLD_SEED", "1")
    assert cli.main(["zoo", "build", "--micro"]) == 0 and seen == [1]
    assert cli.main(["zoo", "build", "--micro", "--world-seed", "1"]) == 0 and seen == [1, 1]
    assert cli.main(["zoo", "build", "--micro", "--world-seed", "2"]) == 2
    err = capsys.readouterr().err
    assert "disagrees with W2S_WORLD_SEED=1" in err and err.count("\n") == 1
    monkeypatch.delenv("W2S_WORLD_SEED")
    assert cli.main(["zoo", "build", "--micro", "--world-seed", "2"]) == 0 and seen == [1, 1, 2]


LIBRARY_CASES = [
    (lambda: data.load("imbd"), "unknown dataset 'imbd'"),
    (lambda: data.load("tiny_facts", split="validation"), "unknown split 'validation'"),
    (lambda: data.load("tiny_facts", n=0), "n must be a positive integer"),
    (lambda: data.load("tiny_facts", n=10**9), "lower n"),
    (lambda: data.load("sciq"), "hub is unreachable"),
    (lambda: zoo.get_spec("gpt5"), "unknown model 'gpt5'"),
    (lambda: zoo.load_tokenizer("gpt2"), "hub is unreachable"),
    (lambda: zoo.load_causal_lm("minilm-l6"), "is an encoder, not a causal LM"),
]


@pytest.mark.parametrize("call, needle", LIBRARY_CASES)
def test_library_user_errors(call, needle):
    before = _snapshot()
    with pytest.raises(W2SError) as exc:
        call()
    assert needle in str(exc.value) and "\n" not in str(exc.value)
    assert _snapshot() == before


def test_empty_dataset_and_missing_split(tmp_path, monkeypatch):
    stand_in = tmp_path / "datasets" / "allenai__sciq"
    stand_in.mkdir(parents=True)
    (stand_in / "train.jsonl").write_text("")
    monkeypatch.setenv("W2S_LOCAL_HUB", str(tmp_path))
    with pytest.raises(W2SError):
        data.load("sciq", "train")


def test_missing_notebook_file(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "NOTEBOOK_DIR", tmp_path)
    with pytest.raises(W2SError, match="notebook file .* is missing"):
        book.run("00", "tiny")


def test_book_without_chapters(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "CHAPTER_DIR", tmp_path)
    with pytest.raises(W2SError, match="run `w2s reproduce` first"):
        book.build_book()


def test_offline_hub_fails_fast():
    import time

    start = time.time()
    with pytest.raises(W2SError, match="use preset='tiny'"):
        zoo.model_path("gpt2-large")
    assert time.time() - start < 2


def test_local_standin_model_uses_the_same_loader(tmp_path, monkeypatch):
    """colab/paper names load through from_pretrained on a local stand-in directory."""
    from transformers import GPT2Config, GPT2LMHeadModel

    target = tmp_path / "models" / "openai-community__gpt2"
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50)).save_pretrained(target)
    monkeypatch.setenv("W2S_LOCAL_HUB", str(tmp_path))
    model = zoo.load_causal_lm("gpt2")
    assert model.config.n_embd == 16


def test_real_process_exit_code_and_no_traceback():
    done = subprocess.run([sys.executable, "-m", "w2s_lib.cli", "run", "00", "-p", "n_docs=0"],
                          capture_output=True, text=True, cwd=paths.REPO_ROOT, env={**os.environ})
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: ") and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
