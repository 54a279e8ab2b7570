"""Command line for the course's data: check or download the MNIST files (chapter 10).

::

    python -m cnnedu.datasets verify [--root DIR]
    python -m cnnedu.datasets download [--root DIR]

``verify`` checks the four files' sizes and SHA-256 checksums in ``DIR``, or
else in the folder ``load_mnist`` would read (or download into), and prints
one line per file. ``download`` fetches whichever files are missing or
corrupt into ``DIR``, or else into the first folder ``load_mnist`` searches,
unless some searched folder already holds all four. Both exit with status 0
when all is well and 1 otherwise. The older ``python -m cnnedu.datasets.mnist``
takes the same commands.
"""
import argparse
import sys
from pathlib import Path

from .mnist import MNISTError, download_mnist, find_mnist, search_folders, verify_mnist

PROG = "python -m cnnedu.datasets"


def main(argv=None):
    """Run ``verify`` or ``download`` with the arguments ``argv`` (default: ``sys.argv[1:]``).

    Returns the exit status: 0 when all four files are good, 1 if any has a
    problem or a download fails (the error goes to stderr, saying what to
    do). Bad arguments make argparse exit with status 2. Chapter 10.
    """
    parser = argparse.ArgumentParser(
        prog=PROG, description="Download the four MNIST files, or verify their checksums.")
    parser.add_argument("command", choices=["download", "verify"])
    parser.add_argument("--root", help="folder holding the four files "
                        "(default: where load_mnist looks; see its documentation)")
    args = parser.parse_args(argv)
    try:
        if args.command == "download":
            return _download_command(args.root)
        return _verify_command(args.root)
    except MNISTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _download_command(root):
    found = find_mnist() if root is None else None
    if found is not None:
        print(f"All four MNIST files are already in {found}; nothing to download.")
        return 0
    folder = download_mnist(root)
    print(f"All four MNIST files are OK in {folder}.")
    return 0


def _verify_command(root):
    if root is not None:
        folder = Path(root).expanduser()
    else:  # the folder load_mnist would read, or else download into
        folder = find_mnist() or search_folders()[0]
    print(f"Checking the MNIST files in {folder}")
    problems = verify_mnist(folder)
    for name, problem in problems.items():
        print(f"  OK       {name}" if problem is None else f"  PROBLEM  {name}: {problem}")
    bad = sum(problem is not None for problem in problems.values())
    if bad:
        fix = f"{PROG} download" + (f" --root {folder}" if root else "")
        print(f"{bad} of the four MNIST files have problems. Run `{fix}` to fetch them.")
        return 1
    print("All four MNIST files are OK.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
