"""The sandboxed worker, seen from the grader: what of a notebook runs, and how it is run.

No chapter uses it; grade.py does. ``extract`` keeps each notebook's definitions, imports and
constant assignments: training cells and other statements never run. ``LearnerProcess``
loads them in a learner process (sandbox.py) and calls the learner's functions there, under
this module's own time limit, a wall-clock deadline per exercise; it kills the process (and
anything it started) when the deadline passes, and raises LearnerGone. ``LearnerFunction``
is what the checks receive instead of a learner's function: it sends the inputs over and
gets plain data back, so the learner process never sees an expected value or the checks.
Without Landlock (sandbox.py) learner code can read whatever the grader's user can: grade a
class you do not trust in a container.
"""

import ast
import contextlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import learner, sandbox

STARTUP_SECONDS = 60   # Python, NumPy and the learner's definitions, before any exercise
OUTPUT_KEPT = 2000     # characters of what learner code prints, per exercise
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}  # %% magics whose body is Python
# The learner process's program: NumPy's folder on the path, then learner.py and sandbox.py.
RUNNER = "\n".join(["import sys", "sys.path.insert(0, sys.argv[1])"]
                   + [Path(module.__file__).read_text(encoding="utf-8")
                      for module in (learner, sandbox)])
# One BLAS thread per learner process: --jobs sets the parallelism, and idle BLAS threads
# would count against the memory cap.
ENVIRONMENT = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
SIGNAL_NAMES = {s.value: s.name for s in signal.Signals}


# -- which statements of a notebook the grader runs ------------------------------------------

def _strip_magics(source):
    """``source`` with IPython magics (``%pip ...``, ``!ls``, ``x = !ls``) made harmless Python;
    None for a cell that is not Python at all (``%%bash`` and the like)."""
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


def _kept(node):
    """Whether the grader runs a statement: a definition, an import (except the check cells'
    ``from cnnedu.grading import check``) or ``NAME = <literal>``."""
    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cnnedu.grading"):
        return False
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                         ast.Import, ast.ImportFrom)):
        return True
    if not isinstance(node, (ast.Assign, ast.AnnAssign)):
        return False
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    if not all(isinstance(target, ast.Name) for target in targets):
        return False
    try:
        ast.literal_eval(node.value)  # ValueError for `x: int` (no value) and non-literals
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


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
    """Choose the statements of ``cells`` ([(number, source)]) that the grader runs.

    Returns ``(pieces, notes)``: a piece ``{"filename", "source", "keep"}`` for each cell
    with kept statements (``keep``: their indices in the cell's body), and a note ``{"text",
    "names": None}`` for each cell that does not parse. ``label`` ends the cell names.
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
            notes.append({"text": f"syntax error in cell {number}{label}, line {exc.lineno}: "
                                  f"{exc.msg}; nothing in this cell could be used", "names": None})
            continue
        keep = [index for index, node in enumerate(tree.body) if _kept(node)]
        if keep:
            pieces.append({"filename": filename, "source": python, "keep": keep})
    return pieces, notes


# -- the learner process, seen from here -----------------------------------------------------

class LearnerGone(BaseException):
    """The learner process outlived its deadline ("timeout"), died ("died") or sent something
    that is not a reply ("garbled"), and was killed; ``detail`` completes "it ...". Not an
    Exception, so that it passes through the checks."""

    def __init__(self, kind, detail):
        super().__init__(detail)
        self.kind, self.detail = kind, detail


class LearnerProcess:
    """A learner process that has loaded one submission (``pieces``: a list per notebook, from
    extract), with ``memory_mb`` of address space and ``cpu_seconds`` of CPU time.

    Every exchange must end before ``self.deadline`` (time.monotonic()): the start within
    STARTUP_SECONDS + ``timeout``, then each exercise within what ``begin_exercise`` gives.
    Otherwise, or if the process dies or sends something that is not a reply, it is killed
    and LearnerGone raised. ``names``: the names each notebook defines; ``notes``: what
    failed while loading (learner.load); ``sandbox``: the Landlock version (0: none).
    """

    def __init__(self, pieces, timeout, memory_mb, cpu_seconds):
        self.folder = tempfile.mkdtemp(prefix="cnnedu-learner-")
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", "-c", RUNNER,
             os.path.dirname(os.path.dirname(np.__file__))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            cwd=self.folder, env={**ENVIRONMENT, "TMPDIR": self.folder}, start_new_session=True)
        os.set_blocking(self.proc.stdin.fileno(), False)  # a write, too, must meet the deadline
        self.refs, self.output, self.output_chars = {}, "", 0
        self.deadline = time.monotonic() + STARTUP_SECONDS + timeout
        self._send({"notebooks": pieces, "memory_mb": memory_mb, "cpu_seconds": cpu_seconds,
                    "output_limit": OUTPUT_KEPT})
        self.notes, self.names, self.sandbox = self._receive(lambda ready: (
            [{"text": str(note["text"])[:500], "names": [str(name) for name in note["names"]]}
             for note in ready["notes"]],
            [{str(name) for name in names} for names in ready["names"]],
            int(ready["sandbox"])))

    def begin_exercise(self, seconds):
        """Give the next exercise ``seconds``; forget the objects received for the last one."""
        self.deadline = time.monotonic() + seconds
        self.refs.clear()

    def call(self, notebook, function, args, kwargs, where, restored):
        """What learner.call returns for the learner's ``function``, computed over there."""
        # With no object of the learner's left here, the learner process may drop them too.
        self._send({"notebook": notebook, "function": function, "args": tuple(args),
                    "kwargs": dict(kwargs), "where": where, "restored": list(restored),
                    "errstate": np.geterr(), "forget": not self.refs})

        def parse(reply):
            self.output_chars += int(reply["output_chars"])
            self.output = (self.output + str(reply["output"]))[:OUTPUT_KEPT]
            return reply["value"], None if reply["hint"] is None else str(reply["hint"])[:2000]

        return self._receive(parse)

    def take_output(self):
        """(what learner code printed since the last take, cut short; its length in all)."""
        taken = self.output, self.output_chars
        self.output, self.output_chars = "", 0
        return taken

    def stop(self):
        """Kill the learner process and its process group (anything it started)."""
        if self.proc.returncode is None:  # not reaped yet, so its group id is still its own
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _stop(self, kind, detail="took too long"):
        """Stop the process; return the LearnerGone that says why."""
        self.stop()
        code = self.proc.returncode
        if kind == "died":
            detail = (f"exited with code {code}" if code >= 0
                      else f"was killed by {SIGNAL_NAMES.get(-code, f'signal {-code}')}")
        return LearnerGone(kind, detail)

    def _wait(self, readable, writable):
        """Return when a pipe is ready; at the deadline, stop the process."""
        left = self.deadline - time.monotonic()
        if left <= 0 or not any(select.select(readable, writable, [], left)):
            raise self._stop("timeout")

    def _send(self, message):
        data = memoryview(sandbox.encode_message(message, refs=self.refs))
        fd = self.proc.stdin.fileno()
        while data:
            self._wait([], [fd])
            try:
                data = data[os.write(fd, data):]
            except BlockingIOError:
                continue
            except OSError:  # a broken pipe: it has died
                raise self._stop("died") from None

    def _read(self, n):
        """Exactly n bytes from the learner process."""
        data, fd = bytearray(), self.proc.stdout.fileno()
        while len(data) < n:
            self._wait([fd], [])
            chunk = os.read(fd, min(n - len(data), 2**20))
            if not chunk:
                raise self._stop("died")
            data += chunk
        return bytes(data)

    def _receive(self, parse):
        """``parse(next message)``; one that cannot be read or parsed stops the process."""
        try:
            return parse(sandbox.read_message(self._read, sandbox.REPLY_KINDS, refs=self.refs))
        except Exception as exc:  # LearnerGone is not an Exception: it passes
            raise self._stop("garbled", f"sent something that is not a reply "
                                        f"({type(exc).__name__}: {str(exc)[:100]})") from None


class LearnerFunction:
    """Stands in, for the checks, for a learner's function that lives in the learner process."""

    def __init__(self, process, notebook, name):
        self.process, self.notebook, self.__name__ = process, notebook, name

    def remote_call(self, args, kwargs, where, restored):
        """learner.call(the function, args, kwargs, where, restored), run over there."""
        return self.process.call(self.notebook, self.__name__, args, kwargs, where, restored)
