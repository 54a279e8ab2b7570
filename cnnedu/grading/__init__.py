"""Exercise checks and instructor tools (release student notebooks, grade submissions).

Learners use ``check(name, *functions)`` in their notebooks; instructors use the
command line (see ``python -m cnnedu.grading --help`` and book/instructors.md)::

    python -m cnnedu.grading release book/ -o release/
    python -m cnnedu.grading grade submissions/ -o grades.csv --feedback feedback/

Standard library plus NumPy only: notebooks are read as JSON.
"""

from .checks import EXERCISES, CheckFailure, check, run_check

__all__ = ["check", "run_check", "EXERCISES", "CheckFailure"]
