"""The instructor tools: release the student notebooks and grade submissions.

Every chapter's check cells (chapters 2 to 13) import ``check`` from here; it lives in
cnnedu.exercises and is looked up on first use. The tools are commands (book/instructors.md)::

    python -m cnnedu.grading release book/ -o release/
    python -m cnnedu.grading grade submissions/ -o grades.csv --feedback feedback/

One module each: release.py (the student edition), grade.py (a folder of submissions into a
CSV and feedback), worker.py (one submission, under its time limit) and sandbox.py (the
learner process, which runs a submission's code apart from the checks). learner.py is how a
check calls a learner's function, in a notebook and in the learner process. Standard library
plus NumPy only.
"""

__all__ = ["check", "run_check", "EXERCISES", "CheckFailure"]


def __getattr__(name):
    """``check`` and the registry, from cnnedu.exercises on first use (not imported here:
    the checks import ``cnnedu.grading.learner`` and so this package)."""
    if name in __all__:
        from cnnedu import exercises
        return getattr(exercises, name)
    raise AttributeError(f"module 'cnnedu.grading' has no attribute {name!r}")
