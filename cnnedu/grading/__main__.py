"""Command line: ``python -m cnnedu.grading {release,grade} ...`` (book/instructors.md)."""

import argparse
import sys

from .release import ReleaseError, release


def main(argv=None):
    """Parse ``argv`` (default sys.argv) and release or grade; exits with a message on error."""
    parser = argparse.ArgumentParser(
        prog="python -m cnnedu.grading",
        description="Release student notebooks and grade submissions.")
    commands = parser.add_subparsers(dest="command", required=True)
    rel = commands.add_parser(
        "release", help="write the student edition of the notebooks: solution regions become "
                        "`raise NotImplementedError()`, outputs and metadata are cleared")
    rel.add_argument("source", help="folder of notebooks (e.g. book/) or one notebook")
    rel.add_argument("-o", "--output", required=True,
                     help="output folder, outside SOURCE (e.g. release/)")
    grd = commands.add_parser(
        "grade", help="grade a folder of submissions into a CSV, on fresh random inputs; each "
                      "submission's code runs in a process that never sees the reference")
    grd.add_argument("submissions", help="folder with one notebook or one folder per learner")
    grd.add_argument("-o", "--output", default="grades.csv", help="CSV file (default grades.csv)")
    grd.add_argument("--feedback", metavar="DIR", help="write DIR/<learner>.md for each learner")
    grd.add_argument("--jobs", "-j", type=int, default=1,
                     help="submissions graded in parallel (default 1)")
    grd.add_argument("--timeout", type=float, default=10.0, metavar="S",
                     help="time limit per exercise in seconds (default 10)")
    grd.add_argument("--memory", type=int, default=2048, metavar="MB",
                     help="memory limit of the process running a submission's code, in MB "
                          "(default 2048)")
    grd.add_argument("--exercises", metavar="NAMES",
                     help="comma-separated exercise names to grade (default: all)")
    args = parser.parse_args(argv)
    if args.command == "release":
        try:
            release(args.source, args.output)
        except ReleaseError as exc:
            sys.exit(f"error: {exc}")
    else:
        from .grade import grade_folder
        exercises = [e.strip() for e in args.exercises.split(",")] if args.exercises else None
        grade_folder(args.submissions, args.output, args.feedback, jobs=args.jobs,
                     timeout=args.timeout, memory_mb=args.memory, exercises=exercises)


if __name__ == "__main__":
    main()
