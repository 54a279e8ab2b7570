"""Grade one submission in this process: ``python -m cnnedu.grading.worker < job.json``.

The parent (``grade.py``) starts one worker per submission and reads its
progress from stdout, one JSON object per line. The worker

1. caps its own memory (RLIMIT_AS) and CPU time, and never dumps core;
2. imports the checks (and with them the reference implementations), then
   forgets every ``cnnedu`` module and installs an import hook, so learner
   code that imports cnnedu gets an ImportError;
3. reads each notebook as JSON and takes from its code cells only the
   definitions (def, class), the imports and constant assignments, found with
   ``ast`` -- training cells and other statements never run;
4. runs each exercise's check under an alarm (a per-exercise time limit),
   with the learner's printing captured and truncated.

It writes ``{"event": "start", ...}`` before and ``{"event": "result", ...}``
after each exercise, so if it dies (segfault, os._exit, a C-level hang the
alarm cannot interrupt) the parent knows which exercise was to blame, scores
it 0 and starts a new worker for the rest.

The limits stop accidents (infinite loops, huge arrays, crashes) and casual
copying of the reference. This is not a security sandbox: learner code runs
with the grader's permissions.
"""

import ast
import builtins
import io
import json
import linecache
import os
import re
import resource
import signal
import sys
import time
import traceback

import numpy as np

# The package's __init__ has imported the checks already (python -m imports the
# package first); they must be in memory before cnnedu imports are blocked.
from cnnedu.grading.checks import EXERCISES, TimeLimit, run_check

SUBMISSION_MODULE = "__submission__"
NOT_ALLOWED = "importing cnnedu is not allowed in graded exercises"
# Cell magics whose body is still Python; other cells starting with %% are skipped.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}


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


def extract(cells, label):
    """Parse code cells into runnable pieces.

    Returns ``(pieces, notes)``: pieces are ``(filename, node)`` for each kept
    statement in notebook order; notes are dicts ``{"text": ..., "names": [...]}``
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
        # Tracebacks and hints quote the learner's lines: make them findable.
        linecache.cache[filename] = (len(python), None, python.splitlines(True), filename)
        pieces.extend((filename, node) for node in tree.body
                      if _kept(node) and not _is_grading_import(node))
    return pieces, notes


# ----------------------------------------------------------------------------
# Running learner code
# ----------------------------------------------------------------------------

class CappedOutput(io.TextIOBase):
    """A stdout/stderr replacement that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit):
        super().__init__()
        self.limit = limit
        self.reset()

    def reset(self):
        self.kept, self.total = [], 0

    def write(self, text):
        text = str(text)
        room = self.limit - sum(map(len, self.kept))
        if room > 0:
            self.kept.append(text[:room])
        self.total += len(text)
        return len(text)

    def writable(self):
        return True

    def take(self):
        text, total = "".join(self.kept), self.total
        self.reset()
        return text, total


class _BlockCnnedu:
    """Meta-path finder refusing every ``cnnedu`` import (the reference lives there)."""

    def find_spec(self, name, path=None, target=None):
        if name == "cnnedu" or name.startswith("cnnedu."):
            raise ImportError(NOT_ALLOWED)
        return None


def block_cnnedu_imports():
    """From now on nothing can import cnnedu, whether by ``import`` or importlib.

    Modules already imported are found in sys.modules without a finder being
    asked, so they are removed from it; the grader keeps working because its
    functions hold their own references to what they use.
    """
    for name in [m for m in sys.modules if m == "cnnedu" or m.startswith("cnnedu.")]:
        del sys.modules[name]
    sys.meta_path.insert(0, _BlockCnnedu())


def _alarm(signum, frame):
    raise TimeLimit()


def run_with_time_limit(seconds, function, *args):
    """Run function(*args); raise TimeLimit if it takes longer than ``seconds``.

    The alarm fires again every second afterwards, in case learner code
    swallowed the first one with a bare ``except:``.
    """
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        return function(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def load_namespace(pieces, time_limit):
    """Execute the kept statements one by one in a fresh namespace.

    One statement at a time, so that a failing import does not cost the
    definitions after it. Returns ``(namespace, notes)``.
    """
    namespace = {"__name__": SUBMISSION_MODULE, "__builtins__": builtins, "np": np}
    notes = []
    for filename, node in pieces:
        code = compile(ast.Module(body=[node], type_ignores=[]), filename, "exec")
        try:
            run_with_time_limit(time_limit, exec, code, namespace)
        except TimeLimit:
            notes.append({"text": f"{filename.strip('<>')}, line {node.lineno}: took longer than "
                                  f"{time_limit:g} s to run", "names": _bound_names(node)})
        except BaseException as exc:  # SystemExit too: a definition cannot end grading
            notes.append({"text": f"{filename.strip('<>')}, line {node.lineno}: "
                                  f"{type(exc).__name__}: {str(exc)[:200]}",
                          "names": _bound_names(node)})
    return namespace, notes


# ----------------------------------------------------------------------------
# The worker's main loop
# ----------------------------------------------------------------------------

def _limit_resources(memory_mb, cpu_seconds):
    """Cap this process: address space, CPU time, no core files (a segfault must not dump 2 GB)."""
    if memory_mb:
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if cpu_seconds:
        soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        cap = int(cpu_seconds) if hard == resource.RLIM_INFINITY else min(int(cpu_seconds), hard)
        resource.setrlimit(resource.RLIMIT_CPU, (cap, hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main():
    job = json.loads(sys.stdin.read())
    # The protocol gets a private copy of stdout; fds 1 and 2 go to /dev/null so that
    # nothing learner code writes at the C level can corrupt it or fill a pipe.
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)

    def send(**event):
        channel.write(json.dumps(event) + "\n")
        channel.flush()

    try:
        _grade(job, send)
    except BaseException:  # a bug of the grader's, or a limit hit outside any exercise
        send(event="error", message=traceback.format_exc()[-2000:])
        raise


def _grade(job, send):
    """Load the notebooks, then check each exercise; ``send`` reports progress to the parent."""
    _limit_resources(job.get("memory_mb"), job.get("cpu_seconds"))
    block_cnnedu_imports()
    signal.signal(signal.SIGALRM, _alarm)

    captured = CappedOutput(job.get("output_limit", 2000))
    sys.stdout = sys.stderr = captured
    time_limit = float(job["timeout"])

    # One namespace per notebook, as if each were run on its own.
    loaded, notes = [], []
    paths = job["notebooks"]
    for path in paths:
        label = f" of {os.path.basename(path)}" if len(paths) > 1 else ""
        try:
            pieces, cell_notes = extract(read_code_cells(path), label)
        except (OSError, ValueError, RecursionError) as exc:
            notes.append({"text": f"could not read {os.path.basename(path)}: "
                                  f"{type(exc).__name__}: {exc}", "names": [], "always": True})
            continue
        namespace, run_notes = load_namespace(pieces, time_limit)
        loaded.append(namespace)
        notes += cell_notes + run_notes
    captured.take()  # output printed while defining things is not anybody's business
    send(event="ready", notes=notes)

    for name in job["exercises"]:
        send(event="start", exercise=name)
        wanted = EXERCISES[name].functions
        # The last notebook that defines all the functions, else the last that defines some.
        found = ([ns for ns in loaded if all(f in ns for f in wanted)]
                 or [ns for ns in loaded if any(f in ns for f in wanted)] or [{}])[-1]
        missing = [f for f in wanted if f not in found]
        start = time.perf_counter()
        if missing:
            passed, message = False, f"{', '.join(missing)} not found in your notebook"
        else:
            try:
                passed, message = run_with_time_limit(
                    time_limit, run_check, name, [found[f] for f in wanted],
                    np.random.default_rng(int.from_bytes(os.urandom(8), "little")))
            except TimeLimit:
                passed, message = False, (f"took longer than {time_limit:g} s "
                                          f"(an infinite loop, or a very slow solution?)")
            except MemoryError:
                passed, message = False, "ran out of memory"
        output, output_chars = captured.take()
        send(event="result", exercise=name, passed=passed, message=message, output=output,
             output_chars=output_chars, seconds=round(time.perf_counter() - start, 3))
    send(event="done")


if __name__ == "__main__":
    main()
