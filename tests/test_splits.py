"""W2S splits: sizes, disjointness, determinism, class balance and the one-line errors."""

from __future__ import annotations

from collections import Counter

import datasets
import pytest

from w2s_lib.data.splits import SPLIT_KEYS, w2s_splits
from w2s_lib.core.errors import W2SError


def make(n: int, n_pos: int, prefix: str = "tr") -> datasets.Dataset:
    labels = [1] * n_pos + [0] * (n - n_pos)
    return datasets.Dataset.from_dict(
        {"text": [f"{prefix} {i}" for i in range(n)], "label": labels, "id": [f"{prefix}{i}" for i in range(n)]}
    )


TRAIN, TEST = make(100, 30), make(40, 10, "te")


def test_sizes_and_disjoint():
    s = w2s_splits(TRAIN, TEST, n_docs=40, n_test=12, seed=0)
    assert tuple(s) == SPLIT_KEYS
    assert (len(s["gt"]), len(s["weak"]), len(s["test"])) == (20, 20, 12)
    gt, weak = set(s["gt"]["id"]), set(s["weak"]["id"])
    assert len(gt) == len(weak) == 20 and not gt & weak
    assert gt | weak <= set(TRAIN["id"])
    assert set(s["test"]["id"]) <= set(TEST["id"])
    assert s["gt"].column_names == TRAIN.column_names


def test_deterministic_by_seed():
    a = w2s_splits(TRAIN, TEST, 40, 12, seed=3)
    b = w2s_splits(TRAIN, TEST, 40, 12, seed=3)
    c = w2s_splits(TRAIN, TEST, 40, 12, seed=4)
    for k in SPLIT_KEYS:
        assert a[k]["id"] == b[k]["id"]
    assert a["gt"]["id"] != c["gt"]["id"]


def test_whole_train_split_can_be_used():
    s = w2s_splits(TRAIN, TEST, n_docs=100, n_test=40, seed=1)
    assert set(s["gt"]["id"]) | set(s["weak"]["id"]) == set(TRAIN["id"])


@pytest.mark.parametrize("n_docs", [40, 42])
def test_balance(n_docs):
    s = w2s_splits(TRAIN, TEST, n_docs=n_docs, n_test=20, seed=0, balance=True)
    gt, weak, test = (Counter(s[k]["label"]) for k in SPLIT_KEYS)
    assert gt + weak == {0: n_docs // 2, 1: n_docs // 2}
    assert len(s["gt"]) == len(s["weak"]) == n_docs // 2
    assert abs(gt[0] - gt[1]) <= 1 and abs(weak[0] - weak[1]) <= 1
    assert test == {0: 10, 1: 10}
    assert not set(s["gt"]["id"]) & set(s["weak"]["id"])
    # the classes are mixed, not gathered in blocks
    assert s["gt"]["label"] != sorted(s["gt"]["label"])
    again = w2s_splits(TRAIN, TEST, n_docs=n_docs, n_test=20, seed=0, balance=True)
    assert again["weak"]["id"] == s["weak"]["id"]


def test_unbalanced_follows_the_data():
    s = w2s_splits(TRAIN, TEST, n_docs=100, n_test=40, seed=0)
    assert Counter(s["gt"]["label"]) + Counter(s["weak"]["label"]) == {0: 70, 1: 30}


def test_preference_rows_without_label():
    pref = datasets.Dataset.from_dict({"prompt": list("abcdef"), "chosen": list("ghijkl"), "rejected": list("mnopqr")})
    s = w2s_splits(pref, pref, n_docs=4, n_test=2, seed=0)
    assert len(s["gt"]) == len(s["weak"]) == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(n_docs=41, n_test=10), "must be even"),
        (dict(n_docs=0, n_test=10), "positive integer"),
        (dict(n_docs=20, n_test=0), "positive integer"),
        (dict(n_docs=20.0, n_test=10), "positive integer"),
        (dict(n_docs=102, n_test=10), "n_docs=102 is more than the 100 rows"),
        (dict(n_docs=20, n_test=41), "n_test=41 is more than the 40 rows"),
        (dict(n_docs=80, n_test=10, balance=True), "needs 40 rows of label 1"),
        (dict(n_docs=20, n_test=25, balance=True), "divisible by the 2 classes"),
    ],
)
def test_errors(kwargs, match):
    with pytest.raises(W2SError, match=match) as err:
        w2s_splits(TRAIN, TEST, seed=0, **kwargs)
    assert "\n" not in str(err.value)


def test_errors_empty_and_missing_label():
    empty = TRAIN.select([])
    with pytest.raises(W2SError, match="train split is empty"):
        w2s_splits(empty, TEST, 2, 2, seed=0)
    with pytest.raises(W2SError, match="test split is empty"):
        w2s_splits(TRAIN, empty, 2, 2, seed=0)
    no_label = TRAIN.remove_columns("label")
    with pytest.raises(W2SError, match="needs a 'label' column"):
        w2s_splits(no_label, TEST, 4, 2, seed=0, balance=True)
