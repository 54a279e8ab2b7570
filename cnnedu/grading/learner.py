"""Running learner code: a notebook's definitions (``load``), then its functions (``call``).

Every chapter's exercise checks (``cnnedu.exercises``, chapters 2 to 13) call the learner's
functions through ``call``, which turns what goes wrong into a hint. In a notebook that
happens in the notebook's process; when grading, in the learner process (sandbox.py, which
runs this file's text before its own, so it imports only the standard library and NumPy).
"""

import ast
import builtins
import inspect
import linecache
import os
import sysconfig

import numpy as np


class Formula:
    """A function of no arguments over named arrays: ``Formula("np.sum(x ** 2)", x=x)``.

    Calling it returns the expression's value as a float. Unlike a lambda it can be sent
    to the learner process, where it reads that process's copy of the arrays (chapter 4's
    numerical_gradient perturbs x in place, then calls f()).
    """

    def __init__(self, expression, **arrays):
        self.expression, self.arrays = expression, arrays
        self.code = compile(expression, "<formula>", "eval")

    def __call__(self):
        return float(eval(self.code, {"np": np}, self.arrays))


# Frames in these folders are not the learner's code (the hint quotes the learner's line).
_LIBRARIES = tuple(os.path.realpath(p) + os.sep for p in {
    *(sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib")),
    os.path.dirname(np.__file__),
    *([os.path.dirname(os.path.dirname(os.path.abspath(__file__)))] if "__file__" in globals()
      else [])})


def learner_line(exc):
    """' (in f, line 7 of cell 12: `x = ...`)': the deepest learner frame of exc's traceback.

    The hints of ``call`` end with it (chapters 2 to 13); '' if no frame is the learner's."""
    found, tb = None, exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        # "<string>" is the learner process's own program (run with python -c).
        if (filename not in ("<string>", "<formula>")
                and not (os.path.realpath(filename) + os.sep).startswith(_LIBRARIES)):
            found = (filename, tb.tb_frame.f_code.co_name, tb.tb_lineno)
        tb = tb.tb_next
    if found is None:
        return ""
    filename, function, lineno = found
    text = linecache.getline(filename, lineno).strip()
    place = f" of {filename.strip('<>')}" if filename.startswith("<cell") else ""
    return f" (in {function}, line {lineno}{place}" + (f": `{text[:80]}`)" if text else ")")


def _snapshot(value, depth=0):
    """What is compared before and after a call: every array's bytes, every container's items."""
    if isinstance(value, np.ndarray):
        return value.dtype.str, value.shape, value.tobytes()
    if depth < 20 and isinstance(value, (tuple, list)):
        return type(value), [_snapshot(v, depth + 1) for v in value]
    if depth < 20 and isinstance(value, dict):
        return dict, [(k, _snapshot(v, depth + 1)) for k, v in value.items()]
    return value if isinstance(value, (int, float, complex, str, bytes, type(None))) else id(value)


def _labels(fn, args, kwargs):
    """The arguments' names in the learner's signature (``x``, ``cache``), for the hints."""
    try:
        names = [p.name for p in inspect.signature(fn).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except Exception:  # a callable without a signature, or one whose signature fails
        names = []
    return [names[i] if i < len(names) else f"argument {i + 1}"
            for i in range(len(args))] + list(kwargs)


def call(fn, args, kwargs, where="", restored=()):
    """Call ``fn(*args, **kwargs)`` as a check does: ``(value, None)`` or ``(None, hint)``.

    The hint says what went wrong: NotImplementedError, an overflow, ``exit()``, another
    exception (quoting the learner's line), or an argument changed in place (every array
    in the arguments, nested in containers too, is compared exactly with a copy made
    before the call). ``restored``: positions of arguments that ``fn`` may change during
    the call but must put back, to 1e-12 (numerical_gradient's x). ``where`` ends the
    hint ("for x of shape (2, 3)"). Never raises an Exception; BaseExceptions other than
    SystemExit (KeyboardInterrupt) pass through. Chapters 2 to 13: every ``check`` calls
    the learner's functions through it, in the notebook or in sandbox.py.
    """
    name = getattr(fn, "__name__", "your function")
    labels = _labels(fn, args, kwargs)
    inputs = [*args, *kwargs.values()]
    before = [_snapshot(v) for v in inputs]
    saved = {i: np.array(args[i]) for i in restored}
    try:
        value = fn(*args, **kwargs)
    except NotImplementedError:
        return None, f"{name} is not implemented yet (it raises NotImplementedError)"
    except FloatingPointError as exc:
        return None, (f"{name} overflowed {where} ({exc}{learner_line(exc)}); "
                      f"rewrite it so that np.exp only sees arguments <= 0")
    except SystemExit:
        return None, f"{name} called exit() {where}"
    except Exception as exc:
        try:
            message = str(exc)[:300]
        except Exception:
            message = "(its message cannot be shown)"
        extra = ("; note that the grader runs only the definitions, imports and constant "
                 "assignments (NAME = 1.5) of a notebook" if isinstance(exc, NameError) else "")
        return None, (f"your {name} raised {type(exc).__name__}: {message}{learner_line(exc)} "
                      f"{where}".rstrip() + extra)
    for i, old in saved.items():
        if np.shape(args[i]) != old.shape or not np.allclose(args[i], old, 1e-12, 1e-12):
            return None, (f"{labels[i]} was not restored after the call {where}: put every "
                          f"perturbed entry back to its old value")
    changed = [f"`{label}`" for i, (label, value_in, old) in enumerate(zip(labels, inputs, before))
               if i not in saved and _snapshot(value_in) != old]
    if changed:
        return None, (f"your {name} changed its input {' and '.join(changed)} in place {where}; "
                      f"the caller's array must not change (another layer may still need it, "
                      f"e.g. as its cache): work on a new array")
    return value, None


def _bound_names(node):
    """The names that a kept statement (a definition, import or assignment) defines."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(alias.asname or alias.name).split(".")[0] for alias in node.names]
    if isinstance(node, ast.Assign):
        return [target.id for target in node.targets]
    if isinstance(node, ast.AnnAssign):
        return [node.target.id]
    return [node.name]


def load(cells):
    """Run one notebook's kept statements (worker.extract's pieces) in a fresh namespace.

    One statement at a time, so that one that fails costs only the names it defines.
    Returns ``(namespace, notes)``: a note ``{"text", "names"}`` per failed statement,
    ``names`` being those it would have defined. No time limit: the grader's deadline
    (worker.py) covers loading. No chapter uses it: sandbox.py does, and tests that run a
    book notebook.
    """
    namespace = {"__name__": "__submission__", "__builtins__": builtins, "np": np}
    notes = []
    for cell in cells:
        filename, source = cell["filename"], cell["source"]
        # Hints quote the learner's lines: make them findable.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        body = ast.parse(source, filename).body
        for index in cell["keep"]:
            code = compile(ast.Module(body=[body[index]], type_ignores=[]), filename, "exec")
            try:
                exec(code, namespace)
            except BaseException as exc:  # SystemExit too: a definition cannot end grading
                notes.append({"text": f"{filename.strip('<>')}, line {body[index].lineno}: "
                                      f"{type(exc).__name__}: {str(exc)[:200]}",
                              "names": _bound_names(body[index])})
    return namespace, notes
