"""The exercise checks of chapter 10 (MNIST).

* The book's own solutions pass, over several seeds, loaded from the notebook
  the way the grader loads a submission (definitions only).
* Plausible wrong answers to ``recall_precision`` fail on every seed, each with
  a hint that says what is wrong and gives no reference value.
* The check's private reference agrees with a count done by hand from labels.

Run: python -m pytest tests/test_exercises_ch10.py
"""

import re
from pathlib import Path

import numpy as np
import pytest

from cnnedu.exercises import EXERCISES, check
from cnnedu.exercises import ch10_mnist as ch10

from exercise_book import load_chapters, posed

NOTEBOOK = Path(__file__).resolve().parents[1] / "book" / "10_mnist.ipynb"
POSED = {"recall_precision": (("recall_precision",), 1),
         "dropout_forward": (("dropout_forward",), 2)}
SEEDS = range(3)


@pytest.fixture(scope="module")
def book():
    """The definitions of chapter 10, as the grader loads them."""
    return load_chapters({10: NOTEBOOK.name})[10]


def test_the_chapter_poses_these_exercises():
    assert posed(10) == POSED


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", list(POSED))
def test_the_books_solution_passes(book, name, seed, capsys):
    check(name, *[book[f] for f in EXERCISES[name].functions], rng=seed)
    assert f"✔ {name}: all checks passed" in capsys.readouterr().out


def _fails(wrong, seeds=range(5)):
    """The message of every seed's failure of ``recall_precision`` (each must fail)."""
    messages = []
    for seed in seeds:
        with pytest.raises(AssertionError) as failure:
            check("recall_precision", wrong, rng=seed)
        message = str(failure.value)
        assert message.startswith("recall_precision: ")
        # no number with more than two significant digits: nothing to copy from the hint
        for number in re.findall(r"-?\d+\.\d+", message):
            assert len(number.lstrip("-").replace(".", "").lstrip("0")) <= 2, message
        messages.append(message)
    return messages


def test_recall_precision_wrong_answers():
    def swapped(cm):
        cm = np.asarray(cm, dtype=float)
        hits = np.diag(cm)
        return hits / np.maximum(cm.sum(axis=0), 1), hits / np.maximum(cm.sum(axis=1), 1)

    def nan_for_empty_classes(cm):
        cm = np.asarray(cm, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.diag(cm) / cm.sum(axis=1), np.diag(cm) / cm.sum(axis=0)

    def integer_division(cm):
        cm = np.asarray(cm)
        return (np.diag(cm) // np.maximum(cm.sum(axis=1), 1),
                np.diag(cm) // np.maximum(cm.sum(axis=0), 1))

    def overall_accuracy(cm):          # one number for every class
        cm = np.asarray(cm, dtype=float)
        accuracy = np.trace(cm) / cm.sum()
        return np.full(len(cm), accuracy), np.full(len(cm), accuracy)

    def zeroes_its_input(cm):
        cm[np.diag_indices(len(cm))] = 0
        return np.zeros(len(cm)), np.zeros(len(cm))

    for message in _fails(swapped):
        assert "swapped" in message
    for message in _fails(nan_for_empty_classes):
        assert "NaN" in message and "gets recall 0" in message
    for message in _fails(integer_division):
        assert "integer division" in message
    for message in _fails(overall_accuracy):
        assert "is wrong for" in message
    for message in _fails(zeroes_its_input):
        assert "in place" in message


def test_the_reference_counts_as_by_hand():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, 400)
    y_pred = np.where(rng.random(400) < 0.7, y_true, rng.integers(0, 5, 400))
    y_true[y_true == 3] = 2                  # class 3 has no samples
    y_pred[y_pred == 4] = 0                  # class 4 is never predicted
    cm = np.zeros((5, 5), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    recall, precision = ch10._recall_precision(cm)
    for k in range(5):
        is_k, said_k = y_true == k, y_pred == k
        assert recall[k] == (np.mean(y_pred[is_k] == k) if is_k.any() else 0)
        assert precision[k] == (np.mean(y_true[said_k] == k) if said_k.any() else 0)
    assert recall[3] == 0 and precision[4] == 0
