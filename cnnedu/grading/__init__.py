"""Exercise checks and instructor tools (release student notebooks, grade submissions).

Learners use ``check(name, *functions)`` in their notebooks; instructors use the
command line (see ``python -m cnnedu.grading --help`` and book/instructors.md)::

    python -m cnnedu.grading release book/ -o release/
    python -m cnnedu.grading grade submissions/ -o grades.csv --feedback feedback/

``grade`` checks each submission in its own process and runs the submission's
code in another, a learner process that has never imported cnnedu and only
sends back plain arrays (worker.py, learner.py).

Standard library plus NumPy only: notebooks are read as JSON.
"""

from .checks import EXERCISES, CheckFailure, check, run_check

__all__ = ["check", "run_check", "EXERCISES", "CheckFailure"]
