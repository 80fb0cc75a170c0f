"""Weak-to-strong splits: D_gt, D_weak and a test set, as the official openai/weak-to-strong code.

``n_docs`` training rows are drawn (shuffled by ``seed``) and cut 50/50:

- ``"gt"`` — ground truth that trains the weak supervisor AND the strong ceiling;
- ``"weak"`` — the weak supervisor labels it and the strong student (w2s) trains on those labels;
- ``"test"`` — ``n_test`` rows of the separate GT test split.

The official code selects the first ``n_docs`` hub rows and then shuffles; here the whole split is
shuffled first, so the rows are a random sample of the split rather than its head.

``balance=True`` (as EleutherAI's w2s ``balance`` option) draws the same number of rows of every ``label``
class, for the train draw and for the test draw; ``gt`` and ``weak`` each get half of every class (when a
class count is odd, the extra row alternates between them, so each half is balanced to within one row).
"""

from __future__ import annotations

import datasets
import numpy as np

from w2s_lib.core.errors import W2SError

SPLIT_KEYS = ("gt", "weak", "test")


def _check_size(what: str, n: object, *, even: bool = False) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise W2SError(f"{what} must be a positive integer number of rows, got {n!r}")
    if even and n % 2:
        raise W2SError(
            f"{what} must be even to split 50/50 into gt and weak halves, got {n}; use {n - 1} or {n + 1}"
        )
    return n


def _balanced_indices(ds: datasets.Dataset, n: int, seed: int, what: str, where: str) -> list[list[int]]:
    """Per class (sorted labels), ``n / n_classes`` row indices of ``ds`` shuffled by ``seed``."""
    if "label" not in ds.column_names:
        raise W2SError(
            f"balance=True needs a 'label' column but {where} has only {ds.column_names}; set balance=False"
        )
    perm = np.random.default_rng(seed).permutation(len(ds)).tolist()
    column = list(ds["label"])
    labels = [column[i] for i in perm]
    classes = sorted(set(labels))
    if n % len(classes):
        raise W2SError(
            f"balance=True needs {what} divisible by the {len(classes)} classes {classes}, got {n}; "
            "pick a multiple or set balance=False"
        )
    per_class = n // len(classes)
    picked: list[list[int]] = []
    for c in classes:
        rows = [i for i, y in zip(perm, labels) if y == c][:per_class]
        if len(rows) < per_class:
            raise W2SError(
                f"balance=True needs {per_class} rows of label {c!r} for {what}={n} but {where} has only "
                f"{len(rows)}; lower {what} or set balance=False"
            )
        picked.append(rows)
    return picked


def w2s_splits(
    train: datasets.Dataset,
    test: datasets.Dataset,
    n_docs: int,
    n_test: int,
    seed: int,
    balance: bool = False,
) -> dict[str, datasets.Dataset]:
    """``{"gt", "weak", "test"}``: ``n_docs`` train rows shuffled by ``seed`` and halved, ``n_test`` test rows.

    Deterministic in ``seed``; ``gt`` and ``weak`` are disjoint halves of ``n_docs / 2`` rows each.
    With ``balance=True`` every ``label`` class gets the same number of rows (see the module docstring).
    """
    n_docs = _check_size("n_docs", n_docs, even=True)
    n_test = _check_size("n_test", n_test)
    for where, ds in (("the train split", train), ("the test split", test)):
        if len(ds) == 0:
            raise W2SError(f"{where} is empty; check the dataset's source files")
    if n_docs > len(train):
        raise W2SError(f"n_docs={n_docs} is more than the {len(train)} rows of the train split; lower n_docs")
    if n_test > len(test):
        raise W2SError(f"n_test={n_test} is more than the {len(test)} rows of the test split; lower n_test")

    if not balance:
        drawn = train.shuffle(seed=seed).select(range(n_docs))
        half = n_docs // 2
        return {
            "gt": drawn.select(range(half)),
            "weak": drawn.select(range(half, n_docs)),
            "test": test.shuffle(seed=seed).select(range(n_test)),
        }

    gt_rows: list[int] = []
    weak_rows: list[int] = []
    give_gt_extra = True
    for rows in _balanced_indices(train, n_docs, seed, "n_docs", "the train split"):
        half = len(rows) // 2
        if len(rows) % 2:
            half += int(give_gt_extra)
            give_gt_extra = not give_gt_extra
        gt_rows.extend(rows[:half])
        weak_rows.extend(rows[half:])
    test_rows = [i for rows in _balanced_indices(test, n_test, seed, "n_test", "the test split") for i in rows]

    def pick(ds: datasets.Dataset, rows: list[int], salt: int) -> datasets.Dataset:
        # mix the classes (they were gathered class by class), deterministically
        return ds.select(rows).shuffle(seed=seed + salt)

    return {"gt": pick(train, gt_rows, 1), "weak": pick(train, weak_rows, 2), "test": pick(test, test_rows, 3)}
