"""The autograder: grade a folder of submissions into a CSV and feedback files.

Submissions are either ``SUBMISSIONS/<learner>.ipynb`` or
``SUBMISSIONS/<learner>/*.ipynb`` (any depth; every notebook of the folder).
Each submission is graded by its own worker process (``worker.py``), which
this module watches:

* the worker announces each exercise before it starts it; if no result comes
  within the time limit plus a grace period, the worker is killed (its whole
  process group), that exercise scores 0 and a new worker grades the rest;
* the same happens when the worker dies (segfault, ``os._exit``, out of memory);
* ``--jobs`` submissions are graded at once, by threads that each wait on a worker.
"""

import csv
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .checks import EXERCISES

GRACE_SECONDS = 5      # after the worker's own alarm, before the parent kills it
STARTUP_SECONDS = 60   # Python, NumPy and the learner's imports, before any exercise
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


def _worker_env():
    env = dict(os.environ)
    # One BLAS thread per worker: --jobs sets the parallelism, and idle BLAS threads
    # would count against the memory cap.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    env["MPLBACKEND"] = "Agg"
    # The worker must import this very cnnedu, even when it is not installed.
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _describe_exit(code):
    if code is None:
        return "did not finish"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _run_worker(notebooks, exercises, timeout, memory_mb, output_limit):
    """Run one worker; returns (events, stopped) where stopped explains an early end or is None."""
    job = {"notebooks": [str(p) for p in notebooks], "exercises": exercises,
           "timeout": timeout, "memory_mb": memory_mb, "output_limit": output_limit,
           # A safety net for a worker whose parent died: the OS stops it.
           "cpu_seconds": int(STARTUP_SECONDS + (timeout + GRACE_SECONDS) * (len(exercises) + 1))}
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "cnnedu.grading.worker"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                env=_worker_env(), start_new_session=True)
        lines = queue.Queue()

        def read():
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        proc.stdin.write(json.dumps(job).encode())
        proc.stdin.close()
        events, stopped = [], None
        deadline = time.monotonic() + STARTUP_SECONDS + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                stopped = "timeout"
                break
            if line is None:
                break
            try:
                event = json.loads(line)
            except ValueError:
                continue  # not ours: ignore
            events.append(event)
            if event.get("event") == "start":
                deadline = time.monotonic() + timeout + GRACE_SECONDS
            elif event.get("event") == "result":
                deadline = time.monotonic() + STARTUP_SECONDS  # between exercises
            elif event.get("event") == "done":
                break
        if stopped:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the worker and anything it started
            except ProcessLookupError:
                pass
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
        if not stopped and not any(e.get("event") == "done" for e in events):
            stopped = _describe_exit(code)
            stderr.seek(0)
            tail = stderr.read()[-1000:].decode(errors="replace").strip()
            if tail and not any(e.get("event") == "ready" for e in events):
                stopped += f" ({tail.splitlines()[-1]})"
    return events, stopped


def grade_submission(notebooks, exercises, timeout=10.0, memory_mb=2048, output_limit=2000):
    """Grade one learner's notebooks. Returns ``(results, notes)``.

    results: {exercise: {"passed", "points", "message", "output", "output_chars"}}
    notes: problems with the notebook itself (syntax errors, failed imports).
    """
    results, notes, remaining = {}, None, list(exercises)
    while remaining:
        events, stopped = _run_worker(notebooks, remaining, timeout, memory_mb, output_limit)
        current = None
        for event in events:
            kind = event.get("event")
            if kind == "ready" and notes is None:
                notes = event.get("notes", [])
            elif kind == "start":
                current = event["exercise"]
            elif kind == "error":  # the grader's own problem: tell the instructor
                print(f"warning: a grading worker failed on {', '.join(map(str, notebooks))}:\n"
                      f"{event.get('message')}", file=sys.stderr)
            elif kind == "result" and event.get("exercise") in remaining:
                name = event["exercise"]
                results[name] = {"passed": bool(event["passed"]),
                                 "points": EXERCISES[name].points if event["passed"] else 0,
                                 "message": str(event["message"]),
                                 "output": str(event.get("output", "")),
                                 "output_chars": int(event.get("output_chars", 0))}
                remaining.remove(name)
                current = None
        if not remaining:
            break
        if current is None:  # died before it reached an exercise: nothing more can be done
            for name in remaining:
                results[name] = _failed(f"the grader could not load your notebook: the "
                                        f"worker {stopped}")
            break
        if stopped == "timeout":
            message = (f"took longer than {timeout:g} s and had to be stopped "
                       f"(an infinite loop, or a very slow solution?)")
        else:
            message = f"crashed the grading process: it {stopped}"
        results[current] = _failed(message)
        remaining.remove(current)
    return {name: results[name] for name in exercises}, notes or []


def _failed(message):
    return {"passed": False, "points": 0, "message": message, "output": "", "output_chars": 0}


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
        lines.append(f"| {name} | {r['points']} / {EXERCISES[name].points} | "
                     f"{'passed' if r['passed'] else 'failed'} |")
    failed = [(name, r) for name, r in results.items() if not r["passed"]]
    if failed:
        lines += ["", "## What to fix"]
    for name, r in failed:
        lines += ["", f"### {name}", "", r["message"].replace("\n", " ")]
        for text in _relevant_notes(name, r, notes):
            lines += ["", f"Note: {text}"]
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
    start = time.perf_counter()
    grades = {}

    def grade_one(learner):
        grades[learner] = grade_submission(submissions[learner], exercises, timeout, memory_mb)
        if not quiet:
            results = grades[learner][0]
            print(f"{learner}: {sum(r['points'] for r in results.values())} / "
                  f"{sum(EXERCISES[n].points for n in exercises)}", flush=True)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(grade_one, submissions))
    write_csv(out_csv, grades, exercises)
    if feedback_dir:
        Path(feedback_dir).mkdir(parents=True, exist_ok=True)
        for learner, (results, notes) in grades.items():
            (Path(feedback_dir) / f"{learner}.md").write_text(
                feedback_markdown(learner, results, notes), encoding="utf-8")
    if not quiet:
        print(f"graded {len(grades)} submission(s) in {time.perf_counter() - start:.1f} s "
              f"-> {out_csv}" + (f", feedback in {feedback_dir}/" if feedback_dir else ""))
    return grades
