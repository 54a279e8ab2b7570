"""What every chapter's checks share: the registry, ``check``, and how learner code is called.

Every exercise of the course (the table in the instructor's guide) has one
entry in ``EXERCISES``: its name, the learner functions it takes, its points
and a check function. A check function draws random inputs from the ``rng`` it
is given, calls the learner's functions, and compares the results with an
independent reference (``cnnedu.functional``, ``cnnedu.reference`` or a small
private function below). On the first problem it raises ``CheckFailure`` with
a hint that says *what* is wrong (shape, dtype, error size, where) but never
the reference values themselves, so a failing message cannot be copied into
a hard-coded answer; and the inputs are drawn at call time, so a hard-coded
answer cannot pass anyway.

Backward passes are checked numerically against the *reference* forward: the
learner's forward only provides the cache. A wrong forward paired with a
backward that matches it therefore fails.

Every call of a learner function goes through ``_call`` and with it
``learner.call``, which also fails a function that changes its inputs in place
(an array it received, or one nested in a cache). In a notebook, ``check``
runs the learner's functions in the same process, and they are called before
the reference answer is computed. The autograder runs the checks in their own
process and the learner's code in another that has never imported cnnedu
(worker.py): there ``_call`` sends the inputs over and receives plain arrays.

To add an exercise, write a check function in its chapter's module and register it::

    @exercise("my_name", ["my_function"], points=1)
    def _check_my_name(rng, my_function):
        x = rng.standard_normal((3, 4))
        got = _call(my_function, x, where="for x of shape (3, 4)")
        _close(got, my_reference(x), "my_function(x)", "for x of shape (3, 4)")
"""

import os
import time
from typing import Callable, NamedTuple

import numpy as np

from cnnedu.gradcheck import numerical_gradient, numerical_gradient_array, rel_error

# numerical_gradient and Formula are imported here for the chapter modules.
from cnnedu.grading.learner import Formula, call



class CheckFailure(AssertionError):
    """A learner's function gave a wrong result; the message is the hint."""


class Exercise(NamedTuple):
    name: str
    functions: tuple   # names of the learner functions, in the order check() takes them
    points: int
    run: Callable      # run(rng, *functions); raises CheckFailure on a wrong answer

    @property
    def chapter(self):
        """The chapter that poses the exercise: its module is ``cnnedu.exercises.chNN_...``."""
        return int(self.run.__module__.rsplit(".", 1)[-1][2:4])


EXERCISES = {}


def exercise(name, functions, points):
    """Decorator: register ``run(rng, *functions)`` as the check of exercise ``name``."""
    def register(run):
        EXERCISES[name] = Exercise(name, tuple(functions), points, run)
        return run
    return register


# ----------------------------------------------------------------------------
# Public entry points
# ----------------------------------------------------------------------------

def run_check(name, functions, rng=None):
    """Run exercise ``name``'s check on ``functions``: returns ``(passed, message)``.

    Never raises for a wrong answer (the grader uses this); ``check`` wraps it.
    BaseExceptions (KeyboardInterrupt, the grader's worker.LearnerGone) pass through.
    """
    ex = EXERCISES[name]
    rng = np.random.default_rng(int.from_bytes(os.urandom(8), "little") if rng is None else rng)
    try:
        ex.run(rng, *functions)
    except CheckFailure as failure:
        return False, str(failure)
    except Exception as exc:  # the learner returned something the checker could not handle
        return False, f"could not check your result ({type(exc).__name__}: {str(exc)[:200]})"
    return True, "passed"


def check(name, *functions, rng=None):
    """Check a learner's solution to exercise ``name`` on fresh random inputs.

    ``functions`` are the learner's functions in the order of the exercise table,
    e.g. ``check("conv2d_backward", conv2d_forward, conv2d_backward)``.
    Prints a line if they pass (and returns None, so a notebook cell shows only
    that line); raises AssertionError with a hint otherwise. The reference
    answers are never printed.
    """
    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; known exercises: {', '.join(EXERCISES)}")
    ex = EXERCISES[name]
    if len(functions) != len(ex.functions):
        raise TypeError(f"check({name!r}, ...) takes {len(ex.functions)} function(s), "
                        f"{', '.join(ex.functions)}; got {len(functions)}")
    for expected, fn in zip(ex.functions, functions):
        if not callable(fn):
            raise TypeError(f"check({name!r}, ...): {expected} must be a function, "
                            f"got {type(fn).__name__}")
        origin = _cnnedu_origin(fn)
        if origin:
            raise CheckFailure(f"{name}: you passed cnnedu's own {origin} as {expected}, not "
                               "yours; the check grades your code: pass the function you "
                               "wrote in the exercise cell") from None
    start = time.perf_counter()
    passed, message = run_check(name, functions, rng)
    if not passed:
        # `from None` keeps the traceback short: one frame, then the hint.
        raise CheckFailure(f"{name}: {message}") from None
    points = f"{ex.points} point{'s' if ex.points != 1 else ''}"
    line = f"✔ {name}: all checks passed ({points}, {time.perf_counter() - start:.2f} s)"
    try:
        print(line)
    except UnicodeEncodeError:  # a console that cannot show the tick (Windows cp1252)
        print("OK" + line[1:])


def _cnnedu_origin(fn):
    """``module.name`` if fn (or what it wraps) is defined inside the cnnedu package, else ''."""
    fn = getattr(fn, "func", fn)                       # functools.partial
    fn = getattr(fn, "__func__", fn)                   # bound method
    module = getattr(fn, "__module__", None) or ""
    if module == "cnnedu" or module.startswith("cnnedu."):
        return f"`{module}.{getattr(fn, '__qualname__', getattr(fn, '__name__', '?'))}`"
    return ""


# ----------------------------------------------------------------------------
# Helpers: calling learner code and judging what it returns
# ----------------------------------------------------------------------------

def _call(fn, *args, where="", restored=(), **kwargs):
    """Call a learner's function; a CheckFailure says what went wrong (see learner.call).

    In the grader, ``fn`` is a worker.LearnerFunction: learner.call then runs in
    the learner process, and the value comes back as plain arrays and numbers.
    """
    if hasattr(fn, "remote_call"):
        value, hint = fn.remote_call(args, kwargs, where, restored)
    else:
        value, hint = call(fn, args, kwargs, where, restored)
    if hint is not None:
        raise CheckFailure(hint)
    return value


def _dims(shape):
    return "x".join(str(s) for s in shape)


def _unpack(result, n, what, names):
    """Check that a learner function returned an n-tuple (e.g. ``(out, cache)``)."""
    if not isinstance(result, (tuple, list)) or len(result) != n:
        got = (f"a {len(result)}-tuple" if isinstance(result, (tuple, list))
               else type(result).__name__)
        raise CheckFailure(f"{what} should return {n} values {names}, got {got}")
    return result


def _array(got, what, shape, where, dtype=None, hint=""):
    """Check that ``got`` is a finite NumPy array of the given shape (and dtype)."""
    if isinstance(got, (list, tuple)):
        raise CheckFailure(f"{what} is a {type(got).__name__}, expected a NumPy array {where}")
    if not isinstance(got, (np.ndarray, np.generic)):
        raise CheckFailure(f"{what} is a {type(got).__name__}, expected a NumPy array "
                           f"of shape {shape} {where}")
    got = np.asarray(got)
    if got.shape != tuple(shape):
        raise CheckFailure(f"{what}: expected shape {tuple(shape)}, got {got.shape} {where}")
    if dtype is not None and got.dtype != dtype:
        raise CheckFailure(f"{what}: expected dtype {np.dtype(dtype)} (the input's dtype), "
                           f"got {got.dtype} {where}")
    if not np.issubdtype(got.dtype, np.number) and got.dtype != bool:
        raise CheckFailure(f"{what}: expected numbers, got dtype {got.dtype} {where}")
    if not np.all(np.isfinite(got)):
        bad = int(np.size(got) - np.count_nonzero(np.isfinite(got)))
        raise CheckFailure(f"{what} contains {bad} NaN or inf value(s) {where}{hint}")
    return got


def _scale_hint(got, expected):
    """'; it is the right answer times 2' when got is a multiple of the answer (a common bug)."""
    got, expected = np.asarray(got, float).ravel(), np.asarray(expected, float).ravel()
    norm = float(expected @ expected)
    if norm == 0:
        return ""
    factor = float(got @ expected) / norm
    if abs(factor - 1) > 1e-3 and abs(factor) > 1e-3 and rel_error(got, factor * expected) < 1e-6:
        return (f"; it has the wrong sign" if abs(factor + 1) < 1e-3
                else f"; it looks like the right answer times {factor:.3g}")
    return ""


def _close(got, expected, what, where, tol=1e-7, dtype=None, hint=""):
    """Check shape, finiteness and relative error of an array result."""
    got = _array(got, what, np.shape(expected), where, dtype=dtype, hint=hint)
    err = rel_error(got, expected)
    if err > tol:
        if got.dtype == np.float32 and np.asarray(expected).dtype == np.float64:
            hint += " (your result is float32: keep the input's dtype, float64 here)"
        diff = np.abs(got.astype(np.float64) - expected)
        index = tuple(int(i) for i in np.unravel_index(np.argmax(diff), diff.shape))
        at = f" at index {index}" if diff.ndim else ""
        raise CheckFailure(f"{what}: relative error {err:.1e} (expected < {tol:.0e}) {where}; "
                           f"largest difference{at}{_scale_hint(got, expected)}{hint}")
    return got


def _scalar(got, what, where):
    """A learner's float result (Python float, NumPy scalar or 0-d array) as a float."""
    number = (int, float, np.number, np.ndarray)
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, number):
        raise CheckFailure(f"{what} should be a number, got {type(got).__name__} {where}")
    if np.ndim(got) != 0:
        raise CheckFailure(f"{what} should be a single number, got an array of shape "
                           f"{np.shape(got)} {where}")
    value = float(got)
    if not np.isfinite(value):
        raise CheckFailure(f"{what} is {value} {where}")
    return value


def _scalar_close(got, expected, what, where, tol=1e-7):
    value = _scalar(got, what, where)
    err = rel_error(value, expected)
    if err > tol:
        raise CheckFailure(f"{what}: relative error {err:.1e} (expected < {tol:.0e}) {where}"
                           f"{_scale_hint(value, expected)}")
    return value


def _integer(got, what, where):
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, np.integer)):
        extra = "; use // for integer division" if isinstance(got, (float, np.floating)) else ""
        raise CheckFailure(f"{what} should return an int, got {type(got).__name__}"
                           f"{' ' + where if where else ''}{extra}")
    return int(got)


def _signs(rng, shape):
    """Random signs, half of them negative: a small random array could be all positive."""
    n = int(np.prod(shape))
    return rng.permutation(np.resize([-1.0, 1.0], n)).reshape(shape)


def _away_from_zero(rng, shape, low=0.1):
    """Random values with |x| >= low, half negative, so no kink (ReLU at 0) lies within h."""
    return rng.uniform(low, 2.0, shape) * _signs(rng, shape)


def _distinct(rng, shape, spacing=0.05):
    """Random values, pairwise at least ``spacing`` apart: no ties, so max is stable under h."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * spacing - n * spacing / 2).reshape(shape)


def _check_pair(rng, forward, backward, ref_forward, arrays, kwargs, where, grad_names, tol=1e-6):
    """Check a learner's backward against numerical gradients of the reference forward.

    The learner's forward only produces the cache; the learner's backward
    returns one gradient per array in ``arrays`` (a bare array if only one).
    """
    fname, bname = forward.__name__, backward.__name__
    result = _call(forward, *[a.copy() for a in arrays], **kwargs, where=where)
    _, cache = _unpack(result, 2, fname, "(out, cache)")
    dout = rng.standard_normal(np.shape(ref_forward(*arrays, **kwargs)))
    grads = _call(backward, dout.copy(), cache, where=where)
    if len(arrays) == 1:
        if isinstance(grads, (tuple, list)) and len(grads) == 1:
            grads = grads[0]
        grads = (grads,)
    else:
        grads = _unpack(grads, len(arrays), bname, "(" + ", ".join(grad_names) + ")")
    for name, array, grad in zip(grad_names, arrays, grads):
        # numerical_gradient_array perturbs `array` in place: ref_forward sees it via the closure.
        expected = numerical_gradient_array(lambda: ref_forward(*arrays, **kwargs), array, dout)
        _close(grad, expected, name, where, tol=tol)
