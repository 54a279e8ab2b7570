"""Notebook execution: cell timeouts fail loudly, and the chapters cannot stall.

* A cell that runs past its timeout fails the site build (myst-nb) and nbval,
  with a message naming the notebook and the cell, instead of waiting.
* The explorers use ``cnnedu.interactive.interact_figure``, never an ipywidgets
  ``Output`` widget (``interact``, ``interactive``, ``interactive_output``):
  mirroring an Output widget makes nbclient send on the shell socket in the
  middle of a cell, and now and then the build then waits for the whole cell
  timeout (issue 11; ``benchmarks/stress_execution.py`` measures it).
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
# This project's tests/conftest.py, by path: another conftest module may be imported first.
_spec = importlib.util.spec_from_file_location("cnnedu_tests_conftest", ROOT / "tests" / "conftest.py")
_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conftest)
book_cell_timeout, notebook_cell_timeout = _conftest.book_cell_timeout, _conftest.notebook_cell_timeout
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def tool(name):
    """A console script of this environment, found beside the running Python."""
    path = shutil.which(name, path=str(Path(sys.executable).parent))
    assert path, f"{name} is not installed beside {sys.executable}: pip install -r requirements.txt"
    return path


def slow_notebook(path, timeout=None):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Slow"),
                nbformat.v4.new_code_cell('print("first cell")'),
                nbformat.v4.new_code_cell("import time\ntime.sleep(600)  # far past the timeout")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    if timeout is not None:
        nb.metadata["execution"] = {"timeout": timeout}
    nbformat.write(nb, path)


def test_cell_timeouts_fit_the_course():
    # The book's limit is minutes, not half an hour; only a notebook that says so gets more.
    assert 60 <= book_cell_timeout() <= 600
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert notebook_cell_timeout(nb) <= 900, path.name
    nb = nbformat.v4.new_notebook()
    assert notebook_cell_timeout(nb) == book_cell_timeout()
    nb.metadata["execution"] = {"timeout": 7}
    assert notebook_cell_timeout(nb) == 7


def test_build_fails_on_a_timed_out_cell(tmp_path):
    """The book's own execution settings, with a 2-s limit, on a notebook that sleeps."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["execute"]["timeout"] = 2
    config["sphinx"].pop("local_extensions", None)      # the offline MathJax copy is not needed
    config["sphinx"]["config"].pop("mathjax_path", None)
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: slow\n", encoding="utf-8")
    slow_notebook(tmp_path / "slow.ipynb")
    run = subprocess.run([tool("jupyter-book"), "build", str(tmp_path), "-W", "-n", "--keep-going"],
                         capture_output=True, text=True, timeout=300)
    log = run.stdout + run.stderr
    assert run.returncode != 0, log[-2000:]
    assert "CellTimeoutError" in log and "after 2 seconds" in log, log[-2000:]
    assert "slow.ipynb" in log                       # the notebook
    assert "time.sleep(600)" in log                  # the cell


def test_nbval_fails_on_a_timed_out_cell(tmp_path):
    """nbval with this project's conftest honours a notebook's own timeout."""
    slow_notebook(tmp_path / "slow.ipynb", timeout=2)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-o", "addopts=",
                          "-p", "no:cacheprovider", "-p", "no:xdist", "--nbval-lax",
                          "--nbval-current-env", "--rootdir", str(tmp_path),
                          str(tmp_path / "slow.ipynb")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    log = run.stdout + run.stderr
    assert run.returncode == 1, log[-2000:]
    assert "Timeout of 2 seconds exceeded executing cell" in log, log[-2000:]
    assert "slow.ipynb::Cell 1" in log, log[-2000:]


OUTPUT_WIDGETS = re.compile(r"\b(interact|interactive|interact_manual|interactive_output)\s*\(|"
                            r"\bOutput\s*\(")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapters_use_no_output_widget(path):
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            found = OUTPUT_WIDGETS.search(cell.source)
            assert not found, (f"{path.name} cell {index} uses {found.group(0)!r}: use "
                               "cnnedu.interactive.interact_figure, which cannot stall execution")


def test_interact_figure_redraws_without_an_output_widget():
    """In a real kernel: the figure is a display output that a moved slider replaces."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import ipywidgets as widgets\n"
        "from IPython.display import display\n"
        "from cnnedu.interactive import interact_figure\n"
        "def draw(size, label):\n"
        "    display(f'{label}: {size}')\n"
        "box = interact_figure(draw, size=widgets.IntSlider(value=2, min=1, max=9),\n"
        "                      label='size')"),
        nbformat.v4.new_code_cell("box.children[0].value = 7")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    NotebookClient(nb, timeout=60).execute()
    outputs = nb.cells[0].outputs
    assert "application/vnd.jupyter.widget-view+json" in outputs[0]["data"]
    assert outputs[1]["data"]["text/plain"] == "'size: 7'"   # updated by the slider
    models = json.dumps(nb.metadata.get("widgets", {}))
    assert "OutputModel" not in models


def test_interact_figure_refuses_bad_arguments():
    from cnnedu.interactive import interact_figure

    with pytest.raises(TypeError, match="draw must be callable"):
        interact_figure(3, size=1)
    with pytest.raises(TypeError, match="at least one widget control"):
        interact_figure(print, size=1)
