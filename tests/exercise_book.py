"""Shared by the tests of the chapters' exercise checks (tests/test_exercises_*.py).

The book's solutions are loaded from the notebooks the way the grader loads a
submission (definitions only), and wrong answers are checked to fail with a
hint that gives no reference value away.
"""

import re
from pathlib import Path

import pytest

from cnnedu.exercises import EXERCISES, check
from cnnedu.grading.learner import load
from cnnedu.grading.worker import extract, read_code_cells

BOOK = Path(__file__).resolve().parents[1] / "book"


def load_chapters(notebooks):
    """{chapter: namespace} of the definitions in each notebook of ``{chapter: file name}``."""
    found = {}
    for chapter, name in notebooks.items():
        pieces, notes = extract(read_code_cells(BOOK / name), "")
        namespace, _ = load(pieces)
        assert not notes, notes
        found[chapter] = namespace
    return found


def functions(book, name, **replaced):
    """The book's functions for exercise ``name``, some of them replaced by wrong ones."""
    ex = EXERCISES[name]
    return [replaced.get(f, book[ex.chapter].get(f)) for f in ex.functions]


def posed(chapter):
    """{exercise: (functions, points)} of the exercises a chapter poses."""
    return {name: (ex.functions, ex.points) for name, ex in EXERCISES.items()
            if ex.chapter == chapter}


def stub(*args, **kwargs):
    raise NotImplementedError()


def reveals_nothing(message, digits):
    """No number in the message has more than ``digits`` significant digits."""
    for number in re.findall(r"-?\d+\.\d+(?:e[-+]?\d+)?", message):
        mantissa = number.split("e")[0].lstrip("-").replace(".", "").lstrip("0")
        assert len(mantissa) <= digits, (
            f"{number!r} in the hint could be a reference value: {message}")


def fails(book, name, seeds=range(5), digits=2, **replaced):
    """The message of every seed's failure (each must fail, with a hint that reveals nothing)."""
    messages = []
    for seed in seeds:
        with pytest.raises(AssertionError) as failure:
            check(name, *functions(book, name, **replaced), rng=seed)
        message = str(failure.value)
        assert message.startswith(f"{name}: ")
        reveals_nothing(message, digits)
        messages.append(message)
    return messages
