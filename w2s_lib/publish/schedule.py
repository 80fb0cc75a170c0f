"""Run a small graph of tasks on N workers: what `w2s reproduce` uses to keep every core busy.

A task is a name, a callable, an estimated cost and the names of the tasks it waits for. A free worker takes
the first *ready* task in critical-path order (the longest chain of estimated cost that starts with the task,
i.e. list scheduling by "highest level first"), so on a 2-core laptop the zoo rung that gates the costliest
chapter starts first, the other worker runs what does not need the zoo, and no worker idles at a barrier. A failed task fails the tasks that wait on it (they are reported, not run);
independent tasks still run, so one broken chapter does not cost the others.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Task:
    name: str
    run: Callable[[], None]
    cost: float = 0.0  # estimated seconds; only orders the ready tasks
    needs: frozenset[str] = field(default_factory=frozenset)


def critical_path(tasks: list[Task]) -> dict[str, float]:
    """Name -> the task's cost plus the costliest chain of tasks that wait on it (its "level")."""
    waiters: dict[str, list[Task]] = {t.name: [] for t in tasks}
    for t in tasks:
        for n in t.needs:
            waiters.setdefault(n, []).append(t)
    level: dict[str, float] = {}

    def visit(t: Task, path: tuple[str, ...] = ()) -> float:
        if t.name not in level:
            if t.name in path:
                raise ValueError(f"tasks wait for each other in a circle: {sorted(path)}")
            level[t.name] = t.cost + max((visit(w, path + (t.name,)) for w in waiters[t.name]), default=0.0)
        return level[t.name]

    for t in tasks:
        visit(t)
    return level


def order(tasks: list[Task]) -> list[Task]:
    """Priority order: the longest remaining chain first (it bounds the run's end), then the costliest, then name."""
    level = critical_path(tasks)
    return sorted(tasks, key=lambda t: (-level[t.name], -t.cost, t.name))


def _check_acyclic(tasks: list[Task]) -> None:
    needs = {t.name: set(t.needs) for t in tasks}
    done: set[str] = set()
    while len(done) < len(needs):
        ready = {n for n, deps in needs.items() if n not in done and deps <= done}
        if not ready:
            raise ValueError(f"tasks wait for each other in a circle: {sorted(set(needs) - done)}")
        done |= ready


def run_tasks(tasks: list[Task], workers: int) -> dict[str, BaseException | None]:
    """Run ``tasks`` on ``workers`` threads respecting ``needs``; name -> None (done) or the exception.

    A task whose dependency failed gets a ``RuntimeError`` naming it, without running. Unknown dependency
    names and circular waits are errors before anything runs (either would wait forever).
    """
    names = {t.name for t in tasks}
    for t in tasks:
        missing = set(t.needs) - names
        if missing:
            raise ValueError(f"task {t.name!r} waits for unknown task(s) {sorted(missing)}")
    _check_acyclic(tasks)
    pending = order(tasks)
    outcome: dict[str, BaseException | None] = {}
    cond = threading.Condition()

    def next_task() -> Task | None:
        with cond:
            while True:
                for t in pending:
                    failed = [n for n in t.needs if outcome.get(n) is not None]
                    if failed:  # a dependency failed: settle this one without running it
                        pending.remove(t)
                        outcome[t.name] = RuntimeError(f"{t.name} not run: {', '.join(sorted(failed))} failed")
                        cond.notify_all()
                        break
                    if all(n in outcome for n in t.needs):
                        pending.remove(t)
                        return t
                else:
                    if not pending:
                        return None
                    cond.wait()

    def worker() -> None:
        while (task := next_task()) is not None:
            try:
                task.run()
                result: BaseException | None = None
            except BaseException as exc:  # noqa: BLE001 — reported to the caller, per task
                result = exc
            with cond:
                outcome[task.name] = result
                cond.notify_all()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, workers))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return outcome
