"""The publishing side of `w2s reproduce`: chapter groups, the runtime record, the page decoration."""

import json

import nbformat
import numpy as np
import pandas as pd
import pytest

from w2s_lib.core.errors import W2SError
from w2s_lib.publish import book


def test_chapters_that_share_runs_stay_in_one_worker_and_the_scorecard_is_not_scheduled():
    groups = book._groups(list(book.NOTEBOOKS))
    keys = [[nb.key for nb in g] for g in groups]
    assert ["00", "10", "11", "12", "13"] in keys and ["30"] in keys and ["40"] in keys
    flat = [k for g in keys for k in g]
    assert "99" not in flat and len(flat) == len(set(flat)) == len(book.NOTEBOOKS) - 1


def test_chapter_40s_macpo_runs_are_not_chapter_30s():
    """30 and 40 run side by side because they share no cached MACPO step: every step is filed under its
    experiment's key, and chapter 40's config (``iterations=1`` over the preset) is none of chapter 30's."""
    from w2s_lib.macpo import loop as macpo
    from w2s_lib.macpo.loop import MACPOConfig

    chapter_30 = {macpo._experiment_key(MACPOConfig.for_preset("tiny", {"student_init": "unaligned", "test_set": "reworded"},
                                                               task=t, seed=s)) for t in ("helpful", "harmless") for s in range(5)}
    assert macpo._experiment_key(MACPOConfig.for_preset("tiny", {"iterations": 1})) not in chapter_30


def test_runtime_record_feeds_the_status_page_and_the_runtime_line(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "CHAPTER_DIR", tmp_path)
    monkeypatch.setattr(book, "STATUS_PAGE", tmp_path / "runtime.md")
    nb = book.get_notebook("01")
    book.record_runtime(nb, "tiny", {"wall_s": 12.0, "cpu_s": 20.5, "peak_rss_mb": 812.0, "threads": 1})
    rt = book.runtimes()[nb.stem]
    assert rt["cpu_s"] == 20.5 and rt["machine"]["cores"] >= 1 and rt["preset"] == "tiny"
    page = book.write_status_page().read_text()
    assert "| tiny | 12 | 20 | 812 |" in page
    assert "not run by `w2s reproduce` yet" in page  # the other chapters

    src = nbformat.v4.new_notebook()
    src.cells = [nbformat.v4.new_markdown_cell("# Title"),
                 nbformat.v4.new_code_cell("# On Colab: install the library\nimport os"),
                 nbformat.v4.new_code_cell("preset = 'tiny'", metadata={"tags": ["injected-parameters"]}),
                 nbformat.v4.new_code_cell("glue('x', 1, display=False)"),
                 nbformat.v4.new_code_cell("print(1)")]
    path = tmp_path / "ch.ipynb"
    nbformat.write(src, path)
    for _ in range(2):  # idempotent: one runtime cell however often the book is built
        book.decorate_for_book(path, rt)
    out = json.loads(path.read_text())["cells"]
    runtime_cells = [c for c in out if c["metadata"].get("w2s") == "runtime"]
    assert len(runtime_cells) == 1 and "20 s CPU" in "".join(runtime_cells[0]["source"])
    assert out[1]["metadata"].get("w2s") == "runtime"  # right under the title
    tags = {"".join(c["source"])[:12]: c["metadata"].get("tags", []) for c in out if c["cell_type"] == "code"}
    assert tags["# On Colab: "] == ["remove-cell"] and tags["preset = 'ti"] == ["hide-cell", "injected-parameters"]
    assert tags["glue('x', 1,"] == ["hide-input"] and tags["print(1)"] == []


def test_a_replay_from_the_cache_does_not_replace_what_the_chapter_cost(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "CHAPTER_DIR", tmp_path)
    monkeypatch.setattr(book, "STATUS_PAGE", tmp_path / "runtime.md")
    nb = book.get_notebook("30")
    full = {"wall_s": 650.0, "cpu_s": 648.0, "peak_rss_mb": 2236.0, "threads": 1, "runs_computed": 40, "runs_loaded": 3}
    book.record_runtime(nb, "tiny", full)
    assert "replayed" not in book.runtimes()[nb.stem]
    book.record_runtime(nb, "tiny", {**full, "wall_s": 30.0, "cpu_s": 29.0, "runs_computed": 0, "runs_loaded": 43})
    rt = book.runtimes()[nb.stem]
    assert rt["cpu_s"] == 648.0 and rt["replayed"]["cpu_s"] == 29.0
    assert "| tiny | 650 | 648 | 2236 |" in book.write_status_page().read_text()
    assert "re-executed on" in book._runtime_line(rt) and "with all 43 cached runs loaded: 30 s wall" in book._runtime_line(rt)
    book.record_runtime(nb, "tiny", {**full, "cpu_s": 600.0})  # computed again: the new cost replaces both
    assert book.runtimes()[nb.stem]["cpu_s"] == 600.0 and "replayed" not in book.runtimes()[nb.stem]
    assert book.is_replay({"runs_computed": 0, "runs_loaded": 2}) and not book.is_replay({"runs_computed": 0,
                                                                                          "runs_loaded": 0})


def test_cached_runs_are_counted_computed_then_loaded(tmp_path, monkeypatch):
    from w2s_lib.core import artifacts
    from w2s_lib.generalization.pipeline import W2SConfig

    monkeypatch.setenv("W2S_HOME", str(tmp_path / "home"))
    counts = tmp_path / "counts"
    monkeypatch.setenv(artifacts.RUN_COUNTS_ENV, str(counts))
    cfg = W2SConfig.for_preset("smoke")
    for _ in range(2):
        artifacts.load_or_run(cfg, lambda out_dir: {"x": 1})
    assert counts.read_text().split() == ["computed", "loaded"]


def test_duplicate_targets_are_found_in_an_executed_notebook(tmp_path):
    def glued(name):
        return nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": "1"},
                                      metadata={"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}})

    def shown(kind="image/png"):
        return nbformat.v4.new_output("display_data", data={kind: "x"})

    src = nbformat.v4.new_notebook()
    src.cells = [nbformat.v4.new_code_cell("glue(...)", outputs=[glued("a"), glued("b")]),
                 nbformat.v4.new_code_cell("glue(...)", outputs=[glued("a")]),
                 nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", text="1")])]
    path = tmp_path / "ch.ipynb"
    nbformat.write(src, path)
    assert book.duplicate_targets(path) == ["glue key 'a'"]
    src.cells = src.cells[:1]
    nbformat.write(src, path)
    assert book.duplicate_targets(path) == []
    # a captioned figure cell that also displays a table labels both outputs (a glue in it does not count)
    fig = nbformat.v4.new_code_cell("plt.show(); display(df)", outputs=[shown(), shown("text/html"), glued("c")],
                                    metadata={"mystnb": {"figure": {"name": "fig-x", "caption": "x"}}})
    src.cells.append(fig)
    nbformat.write(src, path)
    assert book.duplicate_targets(path) == ["figure label 'fig-x' (2 outputs in its cell)"]
    fig.outputs = fig.outputs[:1]
    nbformat.write(src, path)
    assert book.duplicate_targets(path) == []


def test_run_writes_its_executed_copy_to_a_relative_output_path(tmp_path, monkeypatch):
    # papermill runs the kernel from the notebooks folder: a relative -o path must still land where the
    # caller meant (it failed on the kernel log's path before)
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    out = book.run("99", "smoke", output=Path("sub") / "99.ipynb", progress=False)
    assert out.resolve() == (tmp_path / "sub" / "99.ipynb").resolve() and out.is_file()
    assert not list((tmp_path / "sub").glob(".tmp-*"))


def test_reproduce_checks_a_chapters_parameters_and_its_process_does_not_check_them_again(tmp_path, monkeypatch):
    """`w2s reproduce` checks each chapter's parameters where the chapter's modules are imported already and
    hands them to the chapter's process (`w2s run --checked`), which runs them without importing torch to
    check them again; `run(checked=…)` refuses parameters of another preset or extra `params`."""
    import subprocess
    import sys
    from pathlib import Path

    seen = {}
    monkeypatch.setattr(book, "_run_measured", lambda cmd, *a: seen.setdefault("cmd", cmd))
    book._run_child(book.get_notebook("99"), "smoke", 1)
    cmd = seen["cmd"]
    assert cmd[:2] == ["run", "99_scorecard"] and json.loads(cmd[cmd.index("--checked") + 1]) == \
        book.split_parameters(book.get_notebook("99"), "smoke", {})

    out = tmp_path / "99.ipynb"
    probe = ("import sys, runpy; sys.argv = ['w2s'] + sys.argv[1:]; from w2s_lib.publish import book\n"
             "book.split_parameters = lambda *a, **k: sys.exit('checked again')\n"
             "try:\n    runpy.run_module('w2s_lib.cli', run_name='__main__')\n"
             "finally:\n    print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')")
    args = ["run", "99", "--preset", "smoke", "-o", str(out), "--quiet", "--checked", json.dumps({"preset": "smoke"})]
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True,
                          cwd=Path(book.__file__).parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.is_file() and done.stdout.strip().endswith("NO-TORCH")
    for bad in ({"checked": {"preset": "tiny"}}, {"checked": {"preset": "smoke"}, "params": {"force": True}}):
        with pytest.raises(W2SError, match="checked"):
            book.run("99", "smoke", output=out, progress=False, **bad)


@pytest.mark.parametrize("value", [0.1234, np.float64(-0.5), "holds", 7, pd.DataFrame({"a": [1, 2]})])
@pytest.mark.parametrize("display", [False, True])
def test_glue_writes_myst_nbs_record(monkeypatch, value, display):
    """The book's glue writes what myst_nb.glue writes (the record the book build reads), without importing it."""
    import IPython.display
    import myst_nb.ext.glue as myst_glue

    from w2s_lib.publish.display import glue

    seen = {}
    monkeypatch.setattr(IPython.display, "display", lambda *a, **kw: seen.setdefault("ours", (a, kw)))
    monkeypatch.setattr(myst_glue, "ipy_display", lambda *a, **kw: seen.setdefault("myst", (a, kw)))
    glue("x", value, display=display)
    myst_glue.glue("x", value.item() if isinstance(value, np.generic) else value, display=display)
    assert seen["ours"] == seen["myst"]
    assert myst_glue.GLUE_PREFIX in str(seen["ours"]) or display


def test_chapter_process_reads_notebooks_without_the_iri_grammar():
    """`w2s run` keeps jsonschema from compiling rfc3987_syntax's grammar; nbformat still validates notebooks."""
    import subprocess
    import sys

    code = ("import sys; from w2s_lib.publish import book; book._skip_uri_grammar(); import papermill, nbformat; "
            "nb = nbformat.read('notebooks/12_bootstrapping.ipynb', as_version=4); nbformat.validate(nb); "
            "print(sys.modules.get('rfc3987_syntax', 'absent'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=book.paths.REPO_ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["None"]
