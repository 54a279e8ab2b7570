"""Wall time of grading a class: N copies of the book's solutions, graded in one run.

    python benchmarks/grading.py [--learners 30] [--jobs 2]

Each learner's submission is a folder holding every notebook of book/ (the
book's own solutions, so every exercise passes and every check runs to the
end, the slowest case). The script runs the instructor's command,
``python -m cnnedu.grading grade SUBMISSIONS --jobs J``, once, and prints the
wall time in all and per learner, and the points the first learner got. The
instructor's guide (book/instructors.md) quotes the figure from
benchmarks/README.md.
"""

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=30, help="submissions (default 30)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="submissions graded at once (default: the number of cores)")
    args = parser.parse_args(argv)
    if args.learners < 1 or args.jobs < 1:
        parser.error(f"--learners and --jobs must be at least 1, got {args.learners} "
                     f"and {args.jobs}")
    with tempfile.TemporaryDirectory() as tmp:
        submissions = Path(tmp) / "submissions"
        for i in range(args.learners):
            learner = submissions / f"learner{i:03d}"
            learner.mkdir(parents=True)
            for notebook in sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb")):
                shutil.copy(notebook, learner / notebook.name)
        grades = Path(tmp) / "grades.csv"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cnnedu.grading", "grade", str(submissions),
                        "-o", str(grades), "--jobs", str(args.jobs)], check=True,
                       stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        with open(grades, newline="", encoding="utf-8") as f:
            first = next(csv.DictReader(f))
    points = {k: v for k, v in first.items() if k in ("total", "points", "max_points", "max")}
    print(f"grading {args.learners} submissions of the whole course with --jobs {args.jobs} "
          f"on {os.cpu_count()} cores: {seconds:.1f} s in all, "
          f"{seconds / args.learners:.2f} s per learner; first learner: {points or first}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
