"""The autograder: grade a folder of submissions into a CSV and feedback files.

No chapter uses it; ``python -m cnnedu.grading grade`` does (book/instructors.md).
Submissions are ``SUBMISSIONS/<learner>.ipynb`` or ``SUBMISSIONS/<learner>/**/*.ipynb``.
``--jobs`` processes grade them, one submission at a time each (``grade_submission``): the
checks run in those processes, each submission's code in a learner process (worker.py,
which owns the time limit). An exercise is graded from the notebook of the chapter that
poses it (``notebook_chapter``), never from a later one that shows a complete version.
"""

import csv
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cnnedu.exercises import EXERCISES, run_check
from .sandbox import landlock_abi
from .worker import (STARTUP_SECONDS, LearnerFunction, LearnerGone, LearnerProcess, extract,
                     read_code_cells)

OUTPUT_SHOWN = 500     # characters of a learner's printed output quoted in feedback
# The book's notebooks are named NN_topic.ipynb; copies keep the number
# ("Copy of 02_linear_softmax.ipynb", "02_linear_softmax (1).ipynb").
CHAPTER_IN_NAME = re.compile(r"(?<![0-9A-Za-z])(\d{2})_")
CHECK_CALL = re.compile(r"""\bcheck\(\s*["'](\w+)["']""")


def find_submissions(folder):
    """{learner id: [notebook paths]} for ``folder/<id>.ipynb`` and ``folder/<id>/**/*.ipynb``.

    Raises SystemExit if ``folder`` is not a folder.
    """
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


def notebook_chapter(path, cells):
    """The chapter of the book that a submitted notebook is, or None if it cannot tell.

    From the file name (``02_linear_softmax.ipynb``: 2) if that is a chapter with
    exercises, else from the check cells (``check("softmax", ...)``) if they all name
    exercises of one chapter. A notebook of chapter N supplies chapter N's exercises only;
    one of no known chapter (``alice.ipynb``, or chapters merged into one notebook) supplies
    any exercise that its chapter's notebook does not define.
    """
    chapters = {ex.chapter for ex in EXERCISES.values()}
    match = CHAPTER_IN_NAME.search(os.path.basename(path))
    if match and int(match[1]) in chapters:
        return int(match[1])
    checked = {EXERCISES[name].chapter for _, source in cells
               for name in CHECK_CALL.findall(source) if name in EXERCISES}
    return checked.pop() if len(checked) == 1 else None


def failed_result(message, missing=False):
    """The result of an exercise that scores 0, with ``message`` as its feedback."""
    return {"passed": False, "points": 0, "message": message, "output": "", "output_chars": 0,
            "missing": missing}


def grade_submission(notebooks, exercises, timeout=10.0, memory_mb=2048):
    """Grade one learner's notebooks (paths) on ``exercises`` (names), ``timeout`` seconds
    each, the learner process having ``memory_mb`` of address space. Used by grade.py.

    Returns ``(results, notes)``: {exercise: {"passed", "points", "message", "output",
    "output_chars", "missing"}}, and notes ``{"text", "names"}`` on the notebooks: about a
    statement that failed (``names``: what it defines), or the whole notebook (``None``).
    """
    pieces, notes, chapters, files = [], [], [], []
    for path in notebooks:
        label = f" of {os.path.basename(path)}" if len(notebooks) > 1 else ""
        try:
            cells = read_code_cells(path)
            kept, cell_notes = extract(cells, label)
        except (OSError, ValueError, RecursionError) as exc:
            notes.append({"text": f"could not read {os.path.basename(path)}: "
                                  f"{type(exc).__name__}: {exc}", "names": None})
            continue
        pieces.append(kept)
        chapters.append(notebook_chapter(path, cells))
        files.append(os.path.basename(path))
        notes += cell_notes
    # A safety net for a learner process whose grader died: the OS stops it.
    cpu_seconds = int(STARTUP_SECONDS + timeout * (len(exercises) + 1))
    results, process, load_notes = {}, None, []
    try:
        for position, name in enumerate(exercises):
            chapter = EXERCISES[name].chapter
            if chapter not in chapters and None not in chapters:
                results[name] = failed_result(
                    f"not graded: your submission has no notebook of chapter {chapter} (named "
                    f"like the book's, {chapter:02d}_*.ipynb), which poses this exercise", True)
                continue
            if process is None:  # the first exercise, or the last one's process was stopped
                try:
                    process = LearnerProcess(pieces, timeout, memory_mb, cpu_seconds)
                except LearnerGone as gone:
                    detail = (f"took longer than {STARTUP_SECONDS + timeout:g} s to start"
                              if gone.kind == "timeout" else gone.detail)
                    for rest in exercises[position:]:
                        results[rest] = failed_result(f"the grader could not load your "
                                                      f"notebook: the learner process {detail}")
                    break
                load_notes = load_notes or process.notes
            results[name], process = _grade_exercise(process, name, timeout, chapters, files)
    finally:
        if process is not None:
            process.stop()
    return results, notes + load_notes


def _grade_exercise(process, name, timeout, chapters, files):
    """Check one exercise: returns (its result, the process, or None if it was stopped).

    The functions come from the last notebook of the exercise's chapter that defines them
    all, else from the last of no known chapter that does (see notebook_chapter).
    """
    ex = EXERCISES[name]
    own = [i for i, c in enumerate(chapters) if c == ex.chapter]
    other = [i for i, c in enumerate(chapters) if c is None]

    def defined(i):
        return [f for f in ex.functions if f in process.names[i]]

    complete = [i for i in other + own if defined(i) == list(ex.functions)]
    process.begin_exercise(timeout)
    alive, passed = process, False
    if complete:
        try:
            passed, message = run_check(name, [LearnerFunction(process, complete[-1], f)
                                               for f in ex.functions])
        except LearnerGone as gone:
            alive = None
            if gone.kind == "timeout":
                message = (f"took longer than {timeout:g} s and had to be stopped (an infinite "
                           f"loop, or a very slow solution?)")
            elif gone.kind == "died":
                message = f"crashed the grading process: it {gone.detail}"
            else:
                message = f"the process running your code {gone.detail}, so it was stopped"
    else:
        partial = [i for i in other + own if defined(i)]
        missing = [f for f in ex.functions if not partial or f not in defined(partial[-1])]
        where = files[partial[-1]] if partial else " or ".join(files[i] for i in own or other)
        message = f"{', '.join(missing)} not found in {where}"
        elsewhere = [files[i] for i, c in enumerate(chapters)
                     if c not in (ex.chapter, None) and defined(i) == list(ex.functions)]
        if elsewhere:
            message += (f" (defined in {', '.join(elsewhere)}, but this exercise of chapter "
                        f"{ex.chapter} is graded from chapter {ex.chapter}'s notebook)")
    output, output_chars = process.take_output()
    return {"passed": passed, "points": ex.points if passed else 0, "message": message,
            "output": output, "output_chars": output_chars, "missing": False}, alive


def _explains(note, name, message):
    """Whether a note on a failed statement explains exercise ``name``'s failure: the statement
    defines one of its functions, or a name that the hint quotes (name 'F' is not defined)."""
    names = note["names"] or []
    return bool(set(names) & set(EXERCISES[name].functions)) or any(
        f"'{m}'" in message for m in names)


def feedback_markdown(learner, results, notes):
    """One learner's feedback in Markdown: scores, hints, notes and printed output.

    It never shows the checks' code, their inputs in full or the expected values.
    """
    total = sum(r["points"] for r in results.values())
    possible = sum(EXERCISES[name].points for name in results)
    lines = [f"# Feedback for {learner}", "", f"**Score: {total} / {possible} points.**", "",
             "| exercise | points | result |", "|---|---|---|"]
    for name, r in results.items():
        status = "passed" if r["passed"] else "not submitted" if r["missing"] else "failed"
        lines.append(f"| {name} | {r['points']} / {EXERCISES[name].points} | {status} |")
    failed = [(name, r) for name, r in results.items() if not r["passed"] and not r["missing"]]
    if failed:
        lines += ["", "## What to fix"]
    for name, r in failed:
        lines += ["", f"### {name}", "", r["message"].replace("\n", " ")]
        for note in notes:
            if _explains(note, name, r["message"]):
                lines += ["", f"Note: {note['text']}"]
    absent = {}
    for name, r in results.items():
        if r["missing"]:
            absent.setdefault(EXERCISES[name].chapter, []).append(name)
    if absent:
        lines += ["", "## Not graded: notebooks not in your submission", "",
                  "Each exercise is graded from the notebook of the chapter that poses it, "
                  "found by its file name (as in the book, e.g. `02_linear_softmax.ipynb`) or "
                  "by its check cells. Your submission has none for:", ""]
        lines += [f"- chapter {chapter} (`{chapter:02d}_*.ipynb`): {', '.join(names)}"
                  for chapter, names in sorted(absent.items())]
    general = [note["text"] for note in notes if note["names"] is None]
    if general:
        lines += ["", "## Notes on your notebook", ""] + [f"- {text}" for text in general]
    printed = [(name, r) for name, r in results.items() if r["output_chars"]]
    if printed:
        lines += ["", "## Output your code printed while it was checked"]
    for name, r in printed:
        shown = r["output"][:OUTPUT_SHOWN].replace("```", "'''")
        cut = f" (the first {len(shown):,} shown)" if r["output_chars"] > len(shown) else ""
        lines += ["", f"{name}: {r['output_chars']:,} characters{cut}.", "", "```", shown, "```"]
    return "\n".join(lines) + "\n"


def grade_folder(folder, out_csv, feedback_dir=None, jobs=1, timeout=10.0, memory_mb=2048,
                 exercises=None, quiet=False):
    """Grade every submission in ``folder``: write the CSV ``out_csv`` and, with
    ``feedback_dir``, one ``<learner>.md`` each.

    The CSV has a row per learner: points per exercise, ``total`` and ``max``. ``jobs``:
    submissions graded at once; ``timeout``: seconds per exercise; ``memory_mb``: per
    learner process; ``exercises``: names (default all). Returns {learner: (results,
    notes)} (see grade_submission). Raises SystemExit for an unknown exercise or a
    folder without notebooks.
    """
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
              "file you can read; see cnnedu/grading/sandbox.py", file=sys.stderr)
    possible = sum(EXERCISES[name].points for name in exercises)
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
                failed = failed_result("the grader failed on this submission (not your fault): "
                                       "ask your instructor")
                grades[learner] = ({name: failed for name in exercises}, [])
            if not quiet:
                points = sum(r["points"] for r in grades[learner][0].values())
                print(f"{learner}: {points} / {possible}", flush=True)
    with open(out_csv, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["learner", *exercises, "total", "max"])
        for learner, (results, _) in sorted(grades.items()):
            points = [results[name]["points"] for name in exercises]
            writer.writerow([learner, *points, sum(points), possible])
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
