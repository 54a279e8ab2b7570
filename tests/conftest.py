"""pytest configuration for the unit tests and the notebooks (nbval).

Every xdist worker collects tests/ and book/ at start-up, so this file is
imported before any notebook kernel is launched.

pytest runs two workers in parallel (pytest-xdist, see pyproject.toml). Each
would start OpenBLAS with one thread per core, and on a 2-core machine the
threads then busy-wait against each other: a training step gets many times
slower. With one BLAS thread per worker (and per notebook kernel, which
inherits the environment) both cores stay busy without fighting.
"""

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
