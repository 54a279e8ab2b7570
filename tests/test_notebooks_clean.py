"""Notebooks are committed without outputs or execution counts: the book build
and nbval execute them, and stored outputs would go stale and bloat the diffs."""

import json
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parent.parent / "book"
NOTEBOOKS = sorted(p for p in BOOK.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
                   and "_build" not in p.parts)


def dirty_cells(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [i for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"
            and (cell.get("outputs") or cell.get("execution_count") is not None)]


@pytest.mark.skipif(not NOTEBOOKS, reason="book/ has no notebooks yet")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_no_outputs(path):
    cells = dirty_cells(path)
    assert not cells, (f"{path.name}: cells {cells} have outputs or execution counts; clear them "
                       f"with `jupyter nbconvert --clear-output --inplace {path.relative_to(BOOK.parent)}`")


def test_the_check_catches_a_dirty_notebook(tmp_path):
    nb = {"cells": [{"cell_type": "code", "execution_count": 3, "metadata": {}, "outputs": [],
                     "source": "1"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "dirty.ipynb"
    path.write_text(json.dumps(nb))
    assert dirty_cells(path) == [0]
