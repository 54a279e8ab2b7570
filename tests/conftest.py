"""pytest configuration for the unit tests and the notebooks (nbval).

Every xdist worker collects tests/ and book/ at start-up, so this file is
imported before any notebook kernel is launched.

pytest runs two workers in parallel (pytest-xdist, see pyproject.toml). Each
would start OpenBLAS with one thread per core, and on a 2-core machine the
threads then busy-wait against each other: a training step gets many times
slower. With one BLAS thread per worker (and per notebook kernel, which
inherits the environment) both cores stay busy without fighting.

Cell timeouts: nbval gets the same limit per cell as the site build, from
``execute.timeout`` in ``_config.yml``, or from the notebook's own metadata
``{"execution": {"timeout": N}}`` when it sets one (as jupyter-cache does for
the build). A cell that runs longer fails its test, named
``book/<notebook>.ipynb::Cell <n>``.
"""

import os
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

if os.environ.get("PYTEST_XDIST_WORKER"):
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")


def book_cell_timeout():
    """Seconds per cell for the whole book: ``execute.timeout`` in ``_config.yml``."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return int(config["execute"]["timeout"])


def notebook_cell_timeout(nb):
    """A notebook's own ``metadata.execution.timeout``, else the book's."""
    return int(nb.metadata.get("execution", {}).get("timeout", book_cell_timeout()))


def pytest_collection_modifyitems(config, items):
    # A hook called for every item (pytest_runtest_setup here would only see tests/).
    # nbval reads its --nbval-cell-timeout option when a cell runs: set it first.
    for item in items:
        nb = getattr(item.parent, "nb", None)  # nbval's IPyNbFile holds the notebook
        if nb is None or not hasattr(config.option, "nbval_cell_timeout"):
            continue

        def runtest(run=item.runtest, timeout=notebook_cell_timeout(nb)):
            config.option.nbval_cell_timeout = timeout
            return run()

        item.runtest = runtest
