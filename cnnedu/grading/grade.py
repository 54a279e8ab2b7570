"""The autograder: grade a folder of submissions into a CSV and feedback files.

Submissions are either ``SUBMISSIONS/<learner>.ipynb`` or
``SUBMISSIONS/<learner>/*.ipynb`` (any depth; every notebook of the folder).
Each exercise is graded from the notebook of the chapter that poses it
(``worker.notebook_chapter``); one whose chapter has no notebook in the
submission scores 0 and its feedback says the notebook is missing.
``--jobs`` processes grade them, one submission at a time each (see
``worker.grade_submission``): the checks run in those processes, and each
submission's code in a learner process of its own that they start, time and
kill. Only the checks' comparisons make a score.
"""

import csv
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cnnedu.exercises import EXERCISES
from .learner import landlock_abi
from .worker import failed_result, grade_submission

OUTPUT_SHOWN = 500     # characters of a learner's printed output quoted in feedback


def find_submissions(folder):
    """{learner id: [notebook paths]} for ``folder/<id>.ipynb`` and ``folder/<id>/**/*.ipynb``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SystemExit(f"error: {folder} is not a folder of submissions")
    found = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            found.setdefault(entry.stem, []).append(entry)
        elif entry.is_dir():
            notebooks = sorted(p for p in entry.rglob("*.ipynb")
                               if ".ipynb_checkpoints" not in p.parts)
            if notebooks:
                found.setdefault(entry.name, []).extend(notebooks)
    return found


# ----------------------------------------------------------------------------
# Reports
# ----------------------------------------------------------------------------

def _relevant_notes(name, result, notes):
    """Notes that explain a failure: they concern the exercise's functions or a name in the hint."""
    names = set(EXERCISES[name].functions)
    return [n["text"] for n in notes
            if set(n.get("names", ())) & names
            or any(f"'{m}'" in result["message"] for m in n.get("names", ()))]


def feedback_markdown(learner, results, notes):
    """The Markdown feedback of one learner: scores, hints and notes, never the checks' code."""
    total = sum(r["points"] for r in results.values())
    possible = sum(EXERCISES[name].points for name in results)
    lines = [f"# Feedback for {learner}", "", f"**Score: {total} / {possible} points.**", "",
             "| exercise | points | result |", "|---|---|---|"]
    for name, r in results.items():
        status = ("passed" if r["passed"] else "not submitted" if r.get("missing")
                  else "failed")
        lines.append(f"| {name} | {r['points']} / {EXERCISES[name].points} | {status} |")
    failed = [(name, r) for name, r in results.items()
              if not r["passed"] and not r.get("missing")]
    if failed:
        lines += ["", "## What to fix"]
    for name, r in failed:
        lines += ["", f"### {name}", "", r["message"].replace("\n", " ")]
        for text in _relevant_notes(name, r, notes):
            lines += ["", f"Note: {text}"]
    absent = {}
    for name, r in results.items():
        if r.get("missing"):
            absent.setdefault(EXERCISES[name].chapter, []).append(name)
    if absent:
        lines += ["", "## Not graded: notebooks not in your submission", "",
                  "Each exercise is graded from the notebook of the chapter that poses it, "
                  "found by its file name (as in the book, e.g. `02_linear_softmax.ipynb`) or "
                  "by its check cells. Your submission has none for:", ""]
        lines += [f"- chapter {chapter} (`{chapter:02d}_*.ipynb`): {', '.join(names)}"
                  for chapter, names in sorted(absent.items())]
    printed = [(name, r) for name, r in results.items() if r["output_chars"]]
    if printed:
        lines += ["", "## Output your code printed while it was checked"]
    for name, r in printed:
        shown = r["output"][:OUTPUT_SHOWN].replace("```", "'''")
        cut = (f" (the first {len(shown):,} shown)" if r["output_chars"] > len(shown) else "")
        lines += ["", f"{name}: {r['output_chars']:,} characters{cut}.", "", "```", shown, "```"]
    general = [n["text"] for n in notes if n.get("always")]
    if general:
        lines += ["", "## Notes on your notebook", ""] + [f"- {text}" for text in general]
    return "\n".join(lines) + "\n"


def write_csv(path, grades, exercises):
    """One row per learner: points per exercise, total, and the maximum possible total."""
    possible = sum(EXERCISES[name].points for name in exercises)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["learner", *exercises, "total", "max"])
        for learner, (results, _) in sorted(grades.items()):
            points = [results[name]["points"] for name in exercises]
            writer.writerow([learner, *points, sum(points), possible])


def grade_folder(folder, out_csv, feedback_dir=None, jobs=1, timeout=10.0, memory_mb=2048,
                 exercises=None, quiet=False):
    """Grade every submission in ``folder``; write the CSV (and feedback). Returns the grades."""
    exercises = list(exercises or EXERCISES)
    unknown = [name for name in exercises if name not in EXERCISES]
    if unknown:
        raise SystemExit(f"error: unknown exercise(s) {', '.join(unknown)}; "
                         f"known: {', '.join(EXERCISES)}")
    submissions = find_submissions(folder)
    if not submissions:
        raise SystemExit(f"error: no notebooks in {folder} (expected <learner>.ipynb files "
                         f"or one folder of notebooks per learner)")
    if not quiet and landlock_abi() < 1:
        print("note: this system has no Landlock (Linux 5.13+), so learner code can read any "
              "file you can read; see cnnedu/grading/worker.py", file=sys.stderr)
    start = time.perf_counter()
    grades = {}
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {learner: pool.submit(grade_submission, paths, exercises, timeout, memory_mb)
                   for learner, paths in submissions.items()}
        for learner, future in futures.items():
            try:
                grades[learner] = future.result()
            except Exception as exc:  # the grader's own bug: tell the instructor, blame nobody
                print(f"warning: grading {learner} failed: {type(exc).__name__}: {exc}",
                      file=sys.stderr)
                message = ("the grader failed on this submission (not your fault): ask your "
                           "instructor")
                grades[learner] = ({name: failed_result(message) for name in exercises}, [])
            if not quiet:
                results = grades[learner][0]
                print(f"{learner}: {sum(r['points'] for r in results.values())} / "
                      f"{sum(EXERCISES[n].points for n in exercises)}", flush=True)
    write_csv(out_csv, grades, exercises)
    if feedback_dir:
        Path(feedback_dir).mkdir(parents=True, exist_ok=True)
        for learner, (results, notes) in grades.items():
            (Path(feedback_dir) / f"{learner}.md").write_text(
                feedback_markdown(learner, results, notes), encoding="utf-8",
                errors="replace")  # learner text may hold lone surrogates
    if not quiet:
        print(f"graded {len(grades)} submission(s) in {time.perf_counter() - start:.1f} s "
              f"-> {out_csv}" + (f", feedback in {Path(feedback_dir)}/" if feedback_dir else ""))
    return grades
