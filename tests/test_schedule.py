"""The task graph `w2s reproduce` runs: the zoo beside the chapters that do not need it, failures contained."""

import dataclasses
import threading
import time

import pytest

from w2s_lib.core.errors import W2SError
from w2s_lib.publish import book
from w2s_lib.publish.schedule import Task, critical_path, order, run_tasks


def test_order_puts_the_longest_remaining_chain_first():
    tasks = [Task("small", lambda: None, cost=1), Task("zoo", lambda: None, cost=0.1),
             Task("big", lambda: None, cost=9), Task("after", lambda: None, cost=50, needs=frozenset({"zoo"}))]
    assert [t.name for t in order(tasks)] == ["zoo", "after", "big", "small"]  # zoo's chain: 0.1 + 50
    # a dependency whose chain is short does not jump the queue: big (9) before zoo (0.1 + 1)
    tasks[3] = Task("after", lambda: None, cost=1, needs=frozenset({"zoo"}))
    assert [t.name for t in order(tasks)] == ["big", "zoo", "after", "small"]


def test_critical_path_is_the_costliest_chain_of_waiters():
    tasks = [Task("a", lambda: None, cost=2), Task("b", lambda: None, cost=3, needs=frozenset({"a"})),
             Task("c", lambda: None, cost=10, needs=frozenset({"a"})), Task("d", lambda: None, cost=1,
                                                                           needs=frozenset({"b", "c"}))]
    assert critical_path(tasks) == {"a": 13, "b": 4, "c": 11, "d": 1}


def test_a_free_worker_runs_independent_work_while_a_dependency_is_still_running():
    chapter_ran = threading.Event()
    log = []

    def zoo():  # only finishes once the independent chapter has run beside it
        assert chapter_ran.wait(timeout=10), "the independent task never ran beside the zoo"
        log.append("zoo")

    def chapter():
        log.append("chapter")
        chapter_ran.set()

    tasks = [Task("zoo", zoo, cost=1), Task("uses-zoo", lambda: log.append("uses-zoo"), cost=9,
                                            needs=frozenset({"zoo"})),
             Task("chapter", chapter, cost=5)]
    outcome = run_tasks(tasks, workers=2)
    assert outcome == {"zoo": None, "chapter": None, "uses-zoo": None}
    assert log == ["chapter", "zoo", "uses-zoo"]


def test_one_worker_runs_everything_in_dependency_order():
    log = []
    tasks = [Task(n, (lambda n=n: log.append(n)), cost=c, needs=frozenset(d))
             for n, c, d in [("c", 3, {"b"}), ("b", 2, {"a"}), ("a", 1, ()), ("x", 10, ())]]
    run_tasks(tasks, workers=1)
    assert log.index("a") < log.index("b") < log.index("c") and sorted(log) == ["a", "b", "c", "x"]


def test_a_failure_skips_what_waits_on_it_and_nothing_else():
    ran = []

    def broken():
        raise RuntimeError("rung diverged")

    tasks = [Task("zoo", broken), Task("needs-zoo", lambda: ran.append("needs-zoo"), needs=frozenset({"zoo"})),
             Task("chain", lambda: ran.append("chain"), needs=frozenset({"needs-zoo"})),
             Task("free", lambda: ran.append("free"))]
    outcome = run_tasks(tasks, workers=2)
    assert ran == ["free"] and outcome["free"] is None
    assert str(outcome["zoo"]) == "rung diverged"
    assert "zoo failed" in str(outcome["needs-zoo"]) and "needs-zoo failed" in str(outcome["chain"])


@pytest.mark.parametrize("tasks, message", [
    ([Task("a", lambda: None, needs=frozenset({"zooo"}))], "unknown task"),
    ([Task("a", lambda: None, needs=frozenset({"b"})), Task("b", lambda: None, needs=frozenset({"a"}))],
     "circle"),
])
def test_graphs_that_would_wait_forever_are_refused_before_anything_runs(tasks, message):
    with pytest.raises(ValueError, match=message):
        run_tasks(tasks, workers=2)


def test_reproduce_builds_the_zoo_beside_the_chapters_that_do_not_need_it(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "CHAPTER_DIR", tmp_path)
    monkeypatch.setattr(book, "STATUS_PAGE", tmp_path / "runtime.md")
    monkeypatch.setattr(book, "RUN_RECORD", tmp_path / "reproduce.json")
    monkeypatch.setattr(book, "is_current", lambda nb, preset: False)
    # chess's path (its ladder, then the chapter) is the longer one, so the critical-path order starts it first
    monkeypatch.setattr(book, "NOTEBOOKS", tuple(dataclasses.replace(nb, est_cpu_s={"14": 300.0, "20": 200.0}.get(
        nb.key, nb.est_cpu_s)) for nb in book.NOTEBOOKS))
    monkeypatch.setattr(book, "_zoo_todo", lambda preset, chapters, log: {"tinygpt-l": 2.0, "tinygpt-xs": 1.0})
    monkeypatch.setattr(book, "_chess_todo", lambda preset, chapters, log: {"chessgpt-s/search/0": 0.5,
                                                                            "chessgpt-l/search/0": 1.0}
                        if [nb.key for nb in chapters] == ["14"] else {})
    events = []
    lock = threading.Lock()

    def fake(what):
        with lock:
            events.append(("start", what))
        time.sleep(0.3 if what.startswith("zoo:tinygpt") else 0.05)  # the GPT zoo outlasts the chess ladder
        with lock:
            events.append(("end", what))
        return {"wall_s": 1.0, "cpu_s": 2.0, "peak_rss_mb": 10.0, "threads": 1}

    monkeypatch.setattr(book, "_build_rung", lambda name: fake(f"zoo:{name}"))
    monkeypatch.setattr(book, "_run_child", lambda nb, preset, threads: fake(nb.key))
    book.reproduce("tiny", only=["20", "14", "99"], build=False, jobs=2, log=lambda *a: None)

    at = {(kind, what): i for i, (kind, what) in enumerate(events)}
    zoo_done = max(at[("end", "zoo:tinygpt-l")], at[("end", "zoo:tinygpt-xs")])
    assert at[("start", "20")] > zoo_done  # the search chapter loads the zoo: it waits for every rung
    assert at[("start", "14")] < zoo_done  # chess does not: it runs beside the zoo build...
    assert at[("start", "14")] > at[("end", "zoo:chessgpt-l/search/0")]  # ...once its own ladder is pretrained
    assert at[("start", "zoo:chessgpt-l/search/0")] > at[("end", "zoo:chessgpt-s/search/0")]  # rung after rung
    assert at[("start", "99")] > max(at[("end", "20")], at[("end", "14")])  # the scorecard last
    page = (tmp_path / "runtime.md").read_text()
    assert "Recent `w2s reproduce` runs" in page and "| tinygpt-l | 1 | 2 | 10 |" in page
    assert "| chessgpt-l/search/0 | 1 | 2 | 10 |" in page
    assert "| 3 / 4 |" in page  # chapters 14, 20, 99 and four zoo rungs

    events.clear()  # a resumed run is added to the history; the full run and its rungs stay on the page
    monkeypatch.setattr(book, "_zoo_todo", lambda preset, chapters, log: {})
    monkeypatch.setattr(book, "_chess_todo", lambda preset, chapters, log: {})
    book.reproduce("tiny", only=["14"], build=False, jobs=2, log=lambda *a: None)
    page = (tmp_path / "runtime.md").read_text()
    assert "| 3 / 4 |" in page and "| 1 / 0 |" in page and "| tinygpt-l | 1 | 2 | 10 |" in page
    assert len(book._run_history()) == 2


def test_a_chapter_whose_config_names_its_rungs_waits_for_those_only(tmp_path, monkeypatch):
    """Chapter 30 (``zoo_from_config``) starts once its teachers' and students' rungs are built, while rungs it
    does not read are still pretraining; a chapter without the flag waits for every rung."""
    from w2s_lib.macpo.loop import MACPOConfig

    monkeypatch.setattr(book, "CHAPTER_DIR", tmp_path)
    monkeypatch.setattr(book, "STATUS_PAGE", tmp_path / "runtime.md")
    monkeypatch.setattr(book, "RUN_RECORD", tmp_path / "reproduce.json")
    monkeypatch.setattr(book, "is_current", lambda nb, preset: False)
    agents = MACPOConfig.for_preset("tiny", {}).agents
    todo = {**{a: 1.0 for a in agents}, "tinygpt-l": 1.0, "tinygpt-l-stories": 1.0, "tinygpt-xs": 0.5}
    monkeypatch.setattr(book, "_zoo_todo", lambda preset, chapters, log: todo)
    monkeypatch.setattr(book, "_chess_todo", lambda preset, chapters, log: {})
    nb30, nb20 = book.get_notebook("30"), book.get_notebook("20")
    assert book.zoo_waits(nb30, todo) == {f"zoo:{a}" for a in agents}
    assert book.zoo_waits(nb20, todo) == {f"zoo:{n}" for n in todo}
    assert book.zoo_waits(book.get_notebook("99"), todo) == frozenset()
    events, lock = [], threading.Lock()

    def fake(what):
        with lock:
            events.append(("start", what))
        time.sleep(0.2 if what.startswith("zoo:") else 0.05)
        with lock:
            events.append(("end", what))
        return {"wall_s": 1.0, "cpu_s": 2.0, "peak_rss_mb": 10.0, "threads": 1}

    monkeypatch.setattr(book, "_build_rung", lambda name: fake(f"zoo:{name}"))
    monkeypatch.setattr(book, "_run_child", lambda nb, preset, threads: fake(nb.key))
    book.reproduce("tiny", only=["30", "20"], build=False, jobs=2, log=lambda *a: None)
    at = {(kind, what): i for i, (kind, what) in enumerate(events)}
    assert at[("start", "30")] > max(at[("end", f"zoo:{a}")] for a in agents)
    assert at[("start", "30")] < max(at[("end", f"zoo:{n}")] for n in todo)  # the rest still pretraining
    assert at[("start", "20")] > max(at[("end", f"zoo:{n}")] for n in todo)


def test_the_scorecard_reruns_when_a_chapter_re_decided_its_claim(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "CHAPTER_DIR", tmp_path)
    monkeypatch.setattr(book, "STATUS_PAGE", tmp_path / "runtime.md")
    monkeypatch.setattr(book, "RUN_RECORD", tmp_path / "reproduce.json")
    ran = []
    # before the run only chapter 30 is stale; once it has run (and re-decided C6) the scorecard is stale too
    monkeypatch.setattr(book, "is_current", lambda nb, preset: nb.key not in ({"30", "99"} if ran else {"30"}))
    monkeypatch.setattr(book, "_zoo_todo", lambda preset, chapters, log: {})
    monkeypatch.setattr(book, "_chess_todo", lambda preset, chapters, log: {})

    def fake(nb, preset, threads):
        ran.append(nb.key)
        return {"wall_s": 1.0, "cpu_s": 1.0, "peak_rss_mb": 1.0, "threads": threads}

    monkeypatch.setattr(book, "_run_child", fake)
    book.reproduce("tiny", only=["30", "99"], build=False, jobs=2, log=lambda *a: None)
    assert ran == ["30", "99"]


_tiny_gpts = book.tiny_gpts


def test_every_chapter_whose_tiny_configs_load_the_gpt_zoo_waits_for_it():
    """A chapter that reads a tiny GPT must be marked ``needs_zoo``, or `w2s reproduce` may start it before the
    rung is pretrained (chapter 13's reward models did, and failed in a world whose zoo was not built)."""
    from w2s_lib.generalization.pipeline import comparison_config

    extra = {"13": [comparison_config("reward", "tiny")]}  # the chapter's second config: reward modelling
    for nb in book.NOTEBOOKS:
        configs = ([nb.config_class().for_preset("tiny", {})] if nb.config else []) + extra.get(nb.key, [])
        if configs:
            uses = set().union(*(_tiny_gpts(c) for c in configs))
            assert nb.needs_zoo == bool(uses), (nb.stem, sorted(uses))


def test_chess_rungs_of_one_ladder_run_one_after_the_other():
    """The first rung of a chess ladder makes its corpus and tokenizer; the next waits for it (two ladders at once)."""
    names = ["chessgpt-s/search/0", "chessgpt-m/search/0", "chessgpt-s/greedy/0", "chessgpt-l/search/0"]
    assert book._ladder_order(names) == {
        "chessgpt-s/search/0": frozenset(), "chessgpt-m/search/0": {"zoo:chessgpt-s/search/0"},
        "chessgpt-s/greedy/0": frozenset(), "chessgpt-l/search/0": {"zoo:chessgpt-m/search/0"}}


def test_every_chapter_that_reads_a_chess_ladder_waits_for_it():
    """`w2s reproduce` pretrains the chess ladders a chapter's tiny config reads as zoo tasks; a chapter that
    reads one must be marked ``needs_chess`` or it would start first and pretrain the ladder itself."""
    from w2s_lib.generalization.chess import ChessW2SConfig, pretrained_ladders

    for nb in book.NOTEBOOKS:
        cls = nb.config_class()
        reads = cls is ChessW2SConfig and bool(pretrained_ladders(cls.for_preset("tiny", {})))
        assert nb.needs_chess == reads, nb.stem
    assert pretrained_ladders(ChessW2SConfig.for_preset("tiny", {})) == [("search", 0), ("greedy", 0)]
    assert pretrained_ladders(ChessW2SConfig.for_preset("colab", {})) == []  # zoo GPT-2s: nothing to pretrain


def test_a_subset_run_skips_the_book_while_chapters_are_unexecuted(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "CHAPTER_DIR", tmp_path)
    monkeypatch.setattr(book, "STATUS_PAGE", tmp_path / "runtime.md")
    monkeypatch.setattr(book, "RUN_RECORD", tmp_path / "reproduce.json")
    monkeypatch.setattr(book, "is_current", lambda nb, preset: False)
    monkeypatch.setattr(book, "_zoo_todo", lambda preset, chapters, log: {})
    monkeypatch.setattr(book, "_chess_todo", lambda preset, chapters, log: {})
    monkeypatch.setattr(book, "_run_child", lambda nb, preset, threads: {"wall_s": 1.0, "cpu_s": 1.0,
                                                                          "peak_rss_mb": 1.0, "threads": threads})
    built, said = [], []
    monkeypatch.setattr(book, "build_book", lambda log=print: built.append(1) or tmp_path)
    assert book.reproduce("tiny", only=["14"], jobs=1, log=said.append) is None
    assert not built and any("book not built" in line and "00_orientation" in line for line in said)
    for nb in book.NOTEBOOKS:  # once every chapter has an executed copy, a subset run builds the book
        (tmp_path / f"{nb.stem}.ipynb").write_text("{}")
    assert book.reproduce("tiny", only=["14"], jobs=1, log=said.append) == tmp_path and built == [1]


def test_building_the_book_without_executed_chapters_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "CHAPTER_DIR", tmp_path)
    with pytest.raises(W2SError, match="executed chapters missing: 00_orientation.*run `w2s reproduce` first"):
        book.build_book(log=lambda *a: None)
