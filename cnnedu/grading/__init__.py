"""Exercise checks and instructor tools (release student notebooks, grade submissions).

Learners use ``check(name, *functions)`` in their notebooks (the checks are in
``cnnedu.exercises``, one module per chapter); instructors use the
command line (see ``python -m cnnedu.grading --help`` and book/instructors.md)::

    python -m cnnedu.grading release book/ -o release/
    python -m cnnedu.grading grade submissions/ -o grades.csv --feedback feedback/

``grade`` checks each submission in its own process and runs the submission's
code in another, a learner process that has never imported cnnedu and only
sends back plain arrays (worker.py, learner.py).

Standard library plus NumPy only: notebooks are read as JSON.
"""

__all__ = ["check", "run_check", "EXERCISES", "CheckFailure"]


def __getattr__(name):
    """``check`` and the registry live in cnnedu.exercises (one module per chapter).

    They are looked up on first use rather than imported here, because the
    checks themselves import ``cnnedu.grading.learner`` and so this package.
    """
    if name in __all__:
        from cnnedu import exercises
        return getattr(exercises, name)
    raise AttributeError(f"module 'cnnedu.grading' has no attribute {name!r}")
