"""Grade one submission: its code runs in a learner process, the checks run here.

Used by grade.py (``python -m cnnedu.grading grade``), in processes that
import the checks and, with them, the reference implementations. For one
submission, ``grade_submission``

1. reads each notebook as JSON and parses its code cells with ``ast``, keeping
   only the definitions (def, class), the imports and constant assignments --
   training cells and other statements never run -- and tells which chapter
   each notebook is (``notebook_chapter``): an exercise is graded from the
   notebook of the chapter that poses it, never from another chapter's, where
   the book may show a complete version of it (chapter 3 uses chapter 2's
   loss, for example);
2. starts a *learner process*: ``learner.py`` run by ``python -I -S -B -c``
   (the file's text, not its path) in a new, empty temporary folder, with an
   environment of four variables. Its import path holds the standard library
   only (NumPy is imported, then its folder removed), so ``import cnnedu``
   fails there. It caps its memory (RLIMIT_AS), CPU time and file sizes, and
   where Linux offers Landlock (5.13+) it can then read only the standard
   library, NumPy and the shared-library folders, write only its folder,
   ptrace nothing outside itself and (6.7+ / 6.12+) open no TCP connection and
   signal no other process. Then it runs the kept statements;
3. runs each exercise's check *here*. The learner's functions are stand-ins
   (``LearnerFunction``) that send the inputs to the learner process and get
   back plain numbers and arrays (``np.load(..., allow_pickle=False)``), which
   the check compares with its reference, using this process's NumPy. The
   learner process never receives an expected value, and a score comes only
   from these comparisons, never from anything it prints or sends;
4. scores 0 an exercise whose call does not come back within the time limit
   (a wall clock kept here), whose process dies, or that sends something that
   is not a well-formed reply; the learner process is killed with its process
   group, and a new one runs the remaining exercises.

What this stops: learner code cannot change the checks or their NumPy, reach
the reference or the expected arrays (they are not in its memory: not in
sys.modules, gc or any frame), fake a result by printing, exiting or writing
to any file descriptor, or pass with objects whose ``==`` lies (they never
leave its process). What it does not stop without Landlock: the learner
process runs as the grader's user, so it can read any file that user can read
(other submissions, the solutions, the course's source), find the grader's
files through /proc, signal its processes, and -- unless ptrace is restricted
(Yama, or a non-root user on most distributions) -- tamper with the grader's
memory. With Landlock those are blocked too, but the standard library's
folder stays readable (so does a cnnedu installed inside it). For a class you
do not trust, run the grader in a container or as a user with nothing else
to read, as book/instructors.md advises.
"""

import ast
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import learner
from cnnedu.exercises import EXERCISES, run_check

STARTUP_SECONDS = 60   # Python, NumPy and the learner's definitions, before any exercise
MAX_REPLY = 64 * 2**20  # bytes the grader reads in one reply of the learner process
# Cell magics whose body is still Python; other cells starting with %% are skipped.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
RUNNER = Path(learner.__file__).read_text(encoding="utf-8")
# One BLAS thread per learner process: --jobs sets the parallelism, and idle BLAS
# threads would count against the memory cap.
ENVIRONMENT = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# ----------------------------------------------------------------------------
# Extraction: which statements of a notebook the grader runs
# ----------------------------------------------------------------------------

def _strip_magics(source):
    """Replace IPython magics (``%pip ...``, ``!ls``, ``x = !ls``) by Python that does nothing.

    Returns None for a cell that is not Python at all (``%%bash`` and the like).
    """
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split(maxsplit=1)
        if not magic or magic[0] not in PYTHON_CELL_MAGICS:
            return None
        lines = [""] + lines[1:]  # keep the line numbers
    out = []
    for line in lines:
        indent = line[:len(line) - len(line.lstrip())]
        if line.lstrip().startswith(("%", "!")):
            out.append(indent + "pass")  # `pass` keeps an `except:` block with a magic valid
        else:
            out.append(re.sub(r"^(\s*[\w.]+\s*=\s*)[%!].*$", r"\1None", line))
    return "\n".join(out)


def _is_literal(node):
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def _kept(node):
    """Statements the grader runs: definitions, imports and ``NAME = <literal>``."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                         ast.Import, ast.ImportFrom)):
        return True
    if isinstance(node, ast.Assign):
        return all(isinstance(t, ast.Name) for t in node.targets) and _is_literal(node.value)
    if isinstance(node, ast.AnnAssign):
        return (isinstance(node.target, ast.Name) and node.value is not None
                and _is_literal(node.value))
    return False


def _bound_names(node):
    """Names a kept statement defines (used to explain why a function is missing)."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets]
    if isinstance(node, ast.AnnAssign):
        return [node.target.id]
    return [node.name]


def _is_grading_import(node):
    """``from cnnedu.grading import check``: the check cells' import; graded code never needs it."""
    return isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cnnedu.grading")


def read_code_cells(path):
    """[(cell number from 1, source)] of a notebook's code cells, read as plain JSON."""
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    cells = []
    for number, cell in enumerate(nb.get("cells", []), start=1):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            cells.append((number, "".join(source) if isinstance(source, list) else source))
    return cells


# The book's notebooks are named NN_topic.ipynb (02_linear_softmax.ipynb); copies keep the
# number ("Copy of 02_linear_softmax.ipynb", "02_linear_softmax (1).ipynb").
CHAPTER_IN_NAME = re.compile(r"(?<![0-9A-Za-z])(\d{2})_")
CHECK_CALL = re.compile(r"""\bcheck\(\s*["'](\w+)["']""")


def notebook_chapter(path, cells):
    """The chapter of the book a submitted notebook is, or None if it cannot tell.

    From the file name first (``02_linear_softmax.ipynb``: 2), if that number
    is a chapter with exercises; else from the notebook's check cells
    (``check("softmax", ...)``), if all of them name exercises of one chapter.
    A notebook of chapter N supplies chapter N's exercises only; one of no
    known chapter (``alice.ipynb``, or a notebook holding several chapters)
    supplies any exercise whose chapter's notebook does not define it.
    """
    chapters = {ex.chapter for ex in EXERCISES.values()}
    match = CHAPTER_IN_NAME.search(os.path.basename(path))
    if match and int(match[1]) in chapters:
        return int(match[1])
    checked = {EXERCISES[name].chapter for _, source in cells
               for name in CHECK_CALL.findall(source) if name in EXERCISES}
    return checked.pop() if len(checked) == 1 else None


def extract(cells, label):
    """Parse code cells and choose the statements the grader runs.

    Returns ``(pieces, notes)``. A piece is ``{"filename", "source", "keep"}``
    for one cell, ``keep`` holding ``[index in the cell's body, names it binds]``
    for each kept statement. Notes are dicts ``{"text": ..., "names": [...]}``
    for cells that do not parse (``names``: the functions they seem to define).
    """
    pieces, notes = [], []
    for number, source in cells:
        filename = f"<cell {number}{label}>"
        python = _strip_magics(source)
        if python is None:
            continue
        try:
            tree = ast.parse(python, filename)
        except SyntaxError as exc:
            names = re.findall(r"^\s*(?:async\s+)?(?:def|class)\s+(\w+)", python, re.M)
            notes.append({"text": f"syntax error in cell {number}{label}, line {exc.lineno}: "
                                  f"{exc.msg}; nothing in this cell could be used",
                          "names": names, "always": True})
            continue
        keep = [[index, _bound_names(node)] for index, node in enumerate(tree.body)
                if _kept(node) and not _is_grading_import(node)]
        if keep:
            pieces.append({"filename": filename, "source": python, "keep": keep})
    return pieces, notes


# ----------------------------------------------------------------------------
# The learner process, seen from here
# ----------------------------------------------------------------------------

class LearnerGone(BaseException):
    """The learner process died, ran out of time or sent an unreadable reply; it has been killed.

    ``kind`` is "timeout", "died" or "garbled"; ``detail`` completes "it ...".
    A BaseException, so that it passes through the checks (they catch Exception).
    """

    def __init__(self, kind, detail):
        super().__init__(detail)
        self.kind, self.detail = kind, detail


def _describe_exit(code):
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class LearnerProcess:
    """One submission's definitions, loaded in a learner process (learner.py).

    Every exchange must end before ``deadline`` (time.monotonic()), else the
    process is killed and LearnerGone raised.
    """

    def __init__(self, pieces, timeout, memory_mb, cpu_seconds, output_limit=2000):
        self.folder = tempfile.mkdtemp(prefix="cnnedu-learner-")
        self.errors = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", "-c", RUNNER,
             os.path.dirname(os.path.dirname(np.__file__))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors, cwd=self.folder,
            env={**ENVIRONMENT, "TMPDIR": self.folder}, start_new_session=True)
        os.set_blocking(self.proc.stdin.fileno(), False)
        self.reading, self.writing = selectors.DefaultSelector(), selectors.DefaultSelector()
        self.reading.register(self.proc.stdout, selectors.EVENT_READ)
        self.writing.register(self.proc.stdin, selectors.EVENT_WRITE)
        self.refs, self.fresh, self.ready = {}, False, False
        self.output, self.output_chars, self.output_limit = "", 0, output_limit
        self.deadline = time.monotonic() + STARTUP_SECONDS + timeout
        self._send({"notebooks": pieces, "timeout": timeout, "memory_mb": memory_mb,
                    "cpu_seconds": cpu_seconds, "output_limit": output_limit})
        ready = self._receive()
        try:
            self.notes = [{"text": str(n["text"])[:500], "names": [str(m) for m in n["names"]]}
                          for n in ready["notes"]]
            self.names = [{str(name) for name in names} for names in ready["names"]]
            self.sandbox = int(ready["sandbox"])
        except Exception as exc:
            raise self._stop("garbled", f"sent an unreadable reply ({type(exc).__name__})")
        self.ready = True

    def begin_exercise(self, seconds):
        """Start the clock of an exercise; what the grader received before is forgotten."""
        self.deadline = time.monotonic() + seconds
        self.refs.clear()
        self.fresh = True

    def call(self, notebook, function, args, kwargs, where, restored):
        """What learner.call returns for the learner's ``function``, computed over there."""
        self._send({"notebook": notebook, "function": function, "args": tuple(args),
                    "kwargs": dict(kwargs), "where": where, "restored": list(restored),
                    "errstate": np.geterr(), "forget": self.fresh})
        self.fresh = False
        reply = self._receive()
        try:
            hint = None if reply["hint"] is None else str(reply["hint"])[:2000]
            self.output_chars += int(reply["output_chars"])
            self.output = (self.output + str(reply["output"]))[:self.output_limit]
            return reply["value"], hint
        except Exception as exc:
            raise self._stop("garbled", f"sent an unreadable reply ({type(exc).__name__})")

    def take_output(self):
        """(what learner code printed since the last call, how many characters in all)."""
        output, self.output, self.output_chars = (self.output, self.output_chars), "", 0
        return output

    def stop(self):
        """Kill the learner process and its process group (anything it started)."""
        if self.proc.returncode is None:  # not reaped yet, so its group id is still its own
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
        for closable in (self.proc.stdin, self.proc.stdout, self.errors, self.reading,
                         self.writing):
            try:
                closable.close()
            except OSError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)

    def _stop(self, kind, detail=None):
        """Stop the process; the LearnerGone that says why."""
        why = ""
        if kind == "died" and not self.ready:  # Python or NumPy could not start? Say why.
            self.errors.seek(0)
            lines = self.errors.read()[-1000:].decode(errors="replace").strip().splitlines()
            why = f" ({lines[-1]})" if lines else ""
        self.stop()
        if kind == "died":
            detail = _describe_exit(self.proc.returncode) + why
        return LearnerGone(kind, detail or "took too long")

    def _send(self, message):
        data = memoryview(learner.encode_message(message, refs=self.refs))
        while data:
            left = self.deadline - time.monotonic()
            if left <= 0 or not self.writing.select(left):
                raise self._stop("timeout")
            try:
                data = data[os.write(self.proc.stdin.fileno(), data):]
            except BlockingIOError:
                continue
            except OSError:  # a broken pipe: it has died
                raise self._stop("died") from None

    def _read(self, n):
        """Exactly n bytes from the learner process, before the deadline."""
        self.budget -= n
        if self.budget < 0:
            raise ValueError(f"a reply larger than {MAX_REPLY // 2**20} MB")
        data = bytearray()
        while len(data) < n:
            left = self.deadline - time.monotonic()
            if left <= 0 or not self.reading.select(left):
                raise self._stop("timeout")
            chunk = os.read(self.proc.stdout.fileno(), min(n - len(data), 2**20))
            if not chunk:
                raise self._stop("died")
            data += chunk
        return bytes(data)

    def _receive(self):
        self.budget = MAX_REPLY
        try:
            return learner.read_message(self._read, learner.REPLY_KINDS, refs=self.refs)
        except Exception as exc:  # not LearnerGone: a BaseException
            raise self._stop("garbled", f"sent something that is not a reply "
                                        f"({type(exc).__name__}: {str(exc)[:100]})") from None


class LearnerFunction:
    """Stands in, for the checks, for a function that lives in the learner process."""

    def __init__(self, process, notebook, name):
        self.process, self.notebook, self.__name__ = process, notebook, name

    def remote_call(self, args, kwargs, where, restored):
        """learner.call(the function, args, kwargs, where, restored), run over there."""
        return self.process.call(self.notebook, self.__name__, args, kwargs, where, restored)


# ----------------------------------------------------------------------------
# Grading
# ----------------------------------------------------------------------------

def failed_result(message):
    return {"passed": False, "points": 0, "message": message, "output": "", "output_chars": 0}


def _gone_message(gone, timeout):
    """The feedback of an exercise during which the learner process had to be stopped."""
    if gone.kind == "timeout":
        return (f"took longer than {timeout:g} s and had to be stopped "
                f"(an infinite loop, or a very slow solution?)")
    if gone.kind == "died":
        return f"crashed the grading process: it {gone.detail}"
    return f"the process running your code {gone.detail}, so it was stopped"


def grade_submission(notebooks, exercises, timeout=10.0, memory_mb=2048, output_limit=2000):
    """Grade one learner's notebooks. Returns ``(results, notes)``.

    results: {exercise: {"passed", "points", "message", "output", "output_chars"}}
    notes: problems with the notebook itself (syntax errors, failed imports).
    """
    pieces, notes, chapters, files = [], [], [], []
    for path in notebooks:
        label = f" of {os.path.basename(path)}" if len(notebooks) > 1 else ""
        try:
            code_cells = read_code_cells(path)
            cells, cell_notes = extract(code_cells, label)
        except (OSError, ValueError, RecursionError) as exc:
            notes.append({"text": f"could not read {os.path.basename(path)}: "
                                  f"{type(exc).__name__}: {exc}", "names": [], "always": True})
            continue
        pieces.append(cells)
        chapters.append(notebook_chapter(path, code_cells))
        files.append(os.path.basename(path))
        notes += cell_notes
    # A safety net for a learner process whose grader died: the OS stops it.
    cpu_seconds = int(STARTUP_SECONDS + timeout * (len(exercises) + 1))
    results, process, load_notes = {}, None, None
    try:
        for name in exercises:
            chapter = EXERCISES[name].chapter
            if not any(c in (chapter, None) for c in chapters):
                results[name] = missing_result(chapter)  # no process needed to say so
                continue
            if process is None:  # the first exercise, or the last one's process was stopped
                try:
                    process = LearnerProcess(pieces, timeout, memory_mb, cpu_seconds, output_limit)
                except LearnerGone as gone:
                    detail = (f"took longer than {STARTUP_SECONDS + timeout:g} s to start"
                              if gone.kind == "timeout" else gone.detail)
                    for rest in exercises[exercises.index(name):]:
                        results[rest] = failed_result(f"the grader could not load your "
                                                      f"notebook: the learner process {detail}")
                    break
                if load_notes is None:
                    load_notes = process.notes
            results[name], process = _grade_exercise(process, name, timeout, chapters, files)
    finally:
        if process is not None:
            process.stop()
    return results, notes + (load_notes or [])


def missing_result(chapter):
    """The result of an exercise whose chapter's notebook is not in the submission."""
    result = failed_result(f"not graded: your submission has no notebook of chapter {chapter} "
                           f"(named like the book's, {chapter:02d}_*.ipynb), which poses "
                           f"this exercise")
    result["missing"] = True
    return result


def _choose_notebook(names, wanted, indices):
    """The last of ``indices`` whose notebook defines all of ``wanted``, else the last that
    defines some of them, else None."""
    return ([i for i in indices if all(f in names[i] for f in wanted)]
            or [i for i in indices if any(f in names[i] for f in wanted)] or [None])[-1]


def _grade_exercise(process, name, timeout, chapters, files):
    """Check one exercise; returns (result, the learner process or None if it was stopped).

    The functions come from a notebook of the exercise's chapter; only if none
    defines them, from a notebook of no known chapter (see notebook_chapter).
    """
    ex = EXERCISES[name]
    wanted = ex.functions
    own = [i for i, c in enumerate(chapters) if c == ex.chapter]
    found = _choose_notebook(process.names, wanted, own)
    if found is None:
        found = _choose_notebook(process.names, wanted,
                                 [i for i, c in enumerate(chapters) if c is None])
    missing = [f for f in wanted if found is None or f not in process.names[found]]
    process.begin_exercise(timeout)
    alive = process
    if missing:
        where = ("your notebook" if len(files) == 1 else files[found] if found is not None
                 else " or ".join(files[i] for i in own) if own else "your notebooks")
        message = f"{', '.join(missing)} not found in {where}"
        elsewhere = [files[i] for i, c in enumerate(chapters)
                     if c not in (ex.chapter, None) and all(f in process.names[i] for f in wanted)]
        if elsewhere:
            message += (f" (defined in {', '.join(elsewhere)}, but this exercise of chapter "
                        f"{ex.chapter} is graded from chapter {ex.chapter}'s notebook)")
        passed = False
    else:
        try:
            passed, message = run_check(name, [LearnerFunction(process, found, f)
                                               for f in wanted])
        except LearnerGone as gone:
            passed, message, alive = False, _gone_message(gone, timeout), None
    output, output_chars = process.take_output()
    return {"passed": passed, "points": EXERCISES[name].points if passed else 0,
            "message": message, "output": output, "output_chars": output_chars}, alive
