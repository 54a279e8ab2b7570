"""cnnedu.progress: a live bar in Jupyter, one clean final line in a saved or built notebook.

The book is built by executing every notebook without a browser (myst-nb
through nbclient, as ``jupyter nbconvert --execute`` does) and rendering the
stored outputs. These tests execute a small notebook the same way and look
at what is stored: each bar must leave exactly one output, a single line of
plain text at 100%, with no widget reference (the static page cannot draw
one) and no carriage returns (each would be a separate line on the page).
"""

import io
import json
import os

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

import cnnedu
from cnnedu.progress import in_jupyter_kernel, progress

TRAIN = """\
import numpy as np
import cnnedu
from cnnedu.progress import progress
rng = np.random.default_rng(0)
X = rng.standard_normal((600, 5)).astype(np.float32)
y = (X[:, 0] > 0).astype(np.int64)
model = cnnedu.Sequential([cnnedu.Linear(5, 2, rng=0)])
history = model.fit(X, y, cnnedu.SGD(lr=0.1), epochs=3, batch_size=4, rng=0,
                    validation_data=(X[:50], y[:50]))
print("trained")
"""

LOOP = """\
import time
total = 0
for seed in progress(range(40), desc="seeds", unit="run", mininterval=0):
    time.sleep(0.005)
    total += seed
print(total)
"""

STOPPED = """\
bar_model = cnnedu.Sequential([cnnedu.Linear(5, 2, rng=0)])
try:
    bar_model.fit(X * 1e30, y, cnnedu.SGD(lr=1e10), epochs=2, batch_size=100, rng=0)
except cnnedu.TrainingDiverged:
    print("diverged")
"""


@pytest.fixture(scope="module")
def executed():
    """The three cells above, executed headless as the book's build executes a chapter."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (TRAIN, LOOP, STOPPED)]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": os.getcwd()}}).execute(env=env)
    return nb


def _bars(cell):
    """The display outputs of a cell: the bars."""
    return [out for out in cell.outputs if out.output_type == "display_data"]


def _stdout(cell):
    return [out.text for out in cell.outputs if out.get("name") == "stdout"]


def _check_clean(out):
    assert set(out.data) == {"text/plain"}, f"a bar should store plain text only: {set(out.data)}"
    text = out.data["text/plain"]
    assert "\n" not in text and "\r" not in text, repr(text)
    return text


def test_fit_leaves_one_final_line_per_epoch(executed):
    cell = executed.cells[0]
    lines = [_check_clean(out) for out in _bars(cell)]
    assert len(lines) == 3, lines
    for epoch, line in enumerate(lines, 1):
        assert line.startswith(f"epoch {epoch}/3: 100%"), line
        assert "150/150" in line and "train acc" in line and "val acc" in line, line
    assert _stdout(cell) == ["trained\n"]


def test_progress_leaves_one_final_line(executed):
    cell = executed.cells[1]
    (bar,) = _bars(cell)
    line = _check_clean(bar)
    assert line.startswith("seeds: 100%") and "40/40" in line and "run/s" in line, line
    assert "█" in line                                       # drawn in blocks, not '#'
    assert _stdout(cell) == ["780\n"]


def test_a_bar_stopped_by_an_exception_keeps_its_line(executed):
    cell = executed.cells[2]
    (bar,) = _bars(cell)
    line = _check_clean(bar)
    assert line.startswith("epoch 1/2:") and "100%" not in line, line
    assert _stdout(cell) == ["diverged\n"]


def test_no_widget_or_carriage_return_is_stored(executed):
    stored = json.dumps(nbformat.from_dict(executed))
    assert "widget" not in stored
    assert "\\r" not in stored


def test_outside_jupyter_it_is_tqdms_text_bar():
    assert not in_jupyter_kernel()
    out = io.StringIO()
    assert sum(progress(range(5), desc="loop", file=out)) == 10
    final = out.getvalue().split("\r")[-1]
    assert final.startswith("loop: 100%") and "5/5" in final and final.endswith("\n")


def test_fit_writes_its_epochs_to_stderr_in_a_terminal(capsys):
    X = np.random.default_rng(0).standard_normal((40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    model = cnnedu.Sequential([cnnedu.Linear(3, 2, rng=0)])
    model.fit(X, y, cnnedu.SGD(lr=0.1), epochs=2, batch_size=10, rng=0)
    err = capsys.readouterr().err
    finals = [line.split("\r")[-1] for line in err.split("\n") if line]
    assert [f[:14] for f in finals] == ["epoch 1/2: 100", "epoch 2/2: 100"], err
    model.fit(X, y, cnnedu.SGD(lr=0.1), epochs=2, batch_size=10, rng=0, progress=False)
    assert capsys.readouterr() == ("", "")
