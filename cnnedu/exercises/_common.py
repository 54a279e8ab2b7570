"""What every chapter's checks share: the registry, ``check``, calling and judging learner code.

A check draws random inputs from its ``rng``, calls the learner's functions through ``_call``
(``cnnedu.grading.learner.call``, which also fails a function that changes its inputs in
place; in the autograder the functions run in another process) and compares the results
with an independent reference (``cnnedu.functional``, ``cnnedu.layers``, ``cnnedu.optim`` or
a few lines of its own). On the first problem it raises ``CheckFailure`` with a hint that
says what is wrong and where, never a reference value. A backward pass is checked against
numerical gradients of the *reference* forward. To add an exercise::

    @exercise("tanh", ["tanh_forward", "tanh_backward"], points=1)
    def _check_tanh(rng, tanh_forward, tanh_backward):
        x = rng.standard_normal((3, 4))
        _check_pair(rng, tanh_forward, tanh_backward, np.tanh, [x], "for x (3, 4)", ["dx"])
"""

import os
import sys
import time
from typing import Callable, NamedTuple

import numpy as np

from cnnedu.gradcheck import numerical_gradient_array, rel_error
from cnnedu.grading.learner import call
from cnnedu.optim import Adam


class CheckFailure(AssertionError):
    """A learner's function gave a wrong result; the message is the hint."""


class Exercise(NamedTuple):
    """One exercise: its learner functions (in ``check``'s order), its points and its check."""
    name: str
    functions: tuple
    points: int
    run: Callable  # run(rng, *functions) raises CheckFailure on a wrong answer

    @property
    def chapter(self):
        """The chapter that poses it: the NN of its module ``cnnedu.exercises.chNN_...``."""
        return int(self.run.__module__.rsplit(".", 1)[-1][2:4])


EXERCISES = {}


def exercise(name, functions, points):
    """Decorator: register ``run(rng, *functions)`` as the check of exercise ``name``."""
    def register(run):
        EXERCISES[name] = Exercise(name, tuple(functions), points, run)
        return run
    return register


# -- the public entry points ----------------------------------------------------------------

def run_check(name, functions, rng=None):
    """Run exercise ``name``'s check on ``functions``: ``(passed, message)``, never raising.

    The grader uses it, ``check`` wraps it. rng: a Generator, a seed or None (fresh
    entropy). BaseExceptions (KeyboardInterrupt, the grader's LearnerGone) pass through.
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
    """Check a learner's ``functions`` for exercise ``name`` on fresh random inputs.

    E.g. ``check("conv2d_backward", conv2d_forward, conv2d_backward)``, the functions in the
    order of the instructor's table. Prints one line and returns None if they pass. Raises
    CheckFailure (an AssertionError) with a hint, never a reference value, if they fail or
    are cnnedu's own; ValueError for an unknown name; TypeError for the wrong number of
    functions or a non-function. Chapters 2 to 13.
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
    """```cnnedu.functional.relu_forward``` if fn (or what it wraps) is cnnedu's, else ''.

    The module named is the shortest that exports fn, not the submodule defining it.
    """
    fn = getattr(fn, "func", fn)                       # functools.partial
    fn = getattr(fn, "__func__", fn)                   # bound method
    module = getattr(fn, "__module__", None) or ""
    if module != "cnnedu" and not module.startswith("cnnedu."):
        return ""
    name = getattr(fn, "__qualname__", getattr(fn, "__name__", "?"))
    while "." in module and getattr(sys.modules.get(module.rsplit(".", 1)[0]), name, None) is fn:
        module = module.rsplit(".", 1)[0]
    return f"`{module}.{name}`"


# -- calling learner code and judging what it returns ------------------------------------

def _call(fn, *args, where="", restored=(), returns=None, **kwargs):
    """``fn(*args, **kwargs)`` through ``learner.call``, or CheckFailure with its hint.

    ``returns``, e.g. ``"(out, cache)"``: the result must be a tuple of that many values.
    In the grader, ``fn`` is a worker.LearnerFunction, run in the learner process.
    """
    if hasattr(fn, "remote_call"):
        value, hint = fn.remote_call(args, kwargs, where, restored)
    else:
        value, hint = call(fn, args, kwargs, where, restored)
    if hint is not None:
        raise CheckFailure(hint)
    if returns is None:
        return value
    return _unpack(value, returns, getattr(fn, "__name__", "your function"))


def _unpack(result, names, what):
    """``result`` if it is a tuple (or list) of as many values as ``names``, e.g. "(out, cache)"."""
    n = names.count(",") + 1
    if not isinstance(result, (tuple, list)) or len(result) != n:
        got = (f"a {len(result)}-tuple" if isinstance(result, (tuple, list))
               else type(result).__name__)
        raise CheckFailure(f"{what} should return {n} values {names}, got {got}")
    return result


def _dims(shape):
    return "x".join(str(s) for s in shape)


def _sizes(rng, low, high, n):
    """n random ints in [low, high), as a tuple of Python ints (a shape)."""
    return tuple(int(v) for v in rng.integers(low, high, n))


def _array(got, what, shape, where, dtype=None, hint=""):
    """``got`` as an array, if it is a finite NumPy array of ``shape`` (and ``dtype``)."""
    if not isinstance(got, (np.ndarray, np.generic)):
        raise CheckFailure(f"{what} is a {type(got).__name__}, expected a NumPy array "
                           f"of shape {tuple(shape)} {where}")
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
    """'; it looks like the right answer times 2' (or 'the wrong sign'), a common bug, or ''."""
    got, expected = np.asarray(got, float).ravel(), np.asarray(expected, float).ravel()
    norm = float(expected @ expected)
    if norm == 0:
        return ""
    factor = float(got @ expected) / norm
    if abs(factor - 1) > 1e-3 and abs(factor) > 1e-3 and rel_error(got, factor * expected) < 1e-6:
        return ("; it has the wrong sign" if abs(factor + 1) < 1e-3
                else f"; it looks like the right answer times {factor:.3g}")
    return ""


def _close(got, expected, what, where, tol=1e-7, dtype=None, hint=""):
    """``got`` as an array, if it has ``expected``'s shape and a relative error below ``tol``."""
    got = _array(got, what, np.shape(expected), where, dtype=dtype, hint=hint)
    err = rel_error(got, expected)
    if err > tol:
        if got.dtype == np.float32 and np.asarray(expected).dtype == np.float64:
            hint += " (your result is float32: keep the input's dtype, float64 here)"
        diff = np.abs(got.astype(np.float64) - expected)
        index = tuple(int(i) for i in np.unravel_index(np.argmax(diff), diff.shape))
        at = f"; largest difference at index {index}" if diff.ndim else ""
        raise CheckFailure(f"{what}: relative error {err:.1e} (expected < {tol:.0e}) {where}"
                           f"{at}{_scale_hint(got, expected)}{hint}")
    return got


def _scalar(got, what, where, hint=""):
    """A learner's number (Python float, NumPy scalar or 0-d array) as a finite float."""
    number = (int, float, np.number, np.ndarray)
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, number):
        raise CheckFailure(f"{what} should be a number, got {type(got).__name__} {where}")
    if np.ndim(got) != 0:
        raise CheckFailure(f"{what} should be a single number, got an array of shape "
                           f"{np.shape(got)} {where}")
    value = float(got)
    if not np.isfinite(value):
        raise CheckFailure(f"{what} is {value} {where}{hint}")
    return value


def _scalar_close(got, expected, what, where, tol=1e-7, hint=""):
    value = np.float64(_scalar(got, what, where, hint))
    return float(_close(value, expected, what, where, tol=tol, hint=hint))


def _integer(got, what):
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, np.integer)):
        extra = "; use // for integer division" if isinstance(got, (float, np.floating)) else ""
        raise CheckFailure(f"{what} should return an int, got {type(got).__name__}{extra}")
    return int(got)


def _slip(got, slips, rtol=1e-6, atol=1e-9):
    """The hint of the first ``(value, hint)`` of ``slips`` that ``got`` equals, a known slip."""
    if not isinstance(got, np.ndarray) or got.dtype.kind != "f":
        return ""
    return next((hint for value, hint in slips if got.shape == np.shape(value)
                 and np.allclose(got, value, rtol=rtol, atol=atol)), "")


def _arrays(got, like, what, where, dtype=None, hint=""):
    """``got`` if it is a dict with ``like``'s keys, each an array of ``like``'s shape there."""
    keys = ", ".join(like)
    if not isinstance(got, dict) or set(got) != set(like):
        found = ", ".join(sorted(map(str, got))) if isinstance(got, dict) else type(got).__name__
        raise CheckFailure(f"{what} should be a dict with the keys {keys}, got {found} {where}")
    return {k: _array(got[k], f"{what}['{k}']", np.shape(like[k]), where, dtype, hint)
            for k in like}


def _same(a, b):
    """Whether two results (arrays, numbers, or tuples, lists and dicts of them) are equal."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(map(_same, a, b))
    return np.array_equal(np.asarray(a), np.asarray(b))


def _seeded(run, seed, first, what, where, differs=True, other=None):
    """Fail unless ``run(rng)`` repeats ``first`` from a generator seeded with ``seed`` and,
    if ``differs``, gives something else from one seeded with ``seed + 1`` (``other``, that
    result, if the caller already has it)."""
    if not _same(run(np.random.default_rng(seed)), first):
        raise CheckFailure(f"two calls with generators seeded alike gave different {what} "
                           f"{where}: draw all randomness from rng")
    if other is None and differs:
        other = run(np.random.default_rng(seed + 1))
    if differs and _same(other, first):
        raise CheckFailure(f"two calls with differently seeded generators gave the same {what} "
                           f"{where}: draw all randomness from rng")


def _he_scale(w, fan_in, what, where, tol, hint=""):
    """Fail unless ``w`` has mean about 0 and standard deviation sqrt(2 / fan_in) (He)."""
    values = np.asarray(w, np.float64).ravel()
    std, he_std = float(values.std()), np.sqrt(2 / fan_in)
    if abs(std / he_std - 1) > tol:
        raise CheckFailure(f"{what} has standard deviation {std:.3g} {where}{hint}")
    # Five standard errors: a correct draw fails about once in a million.
    if abs(values.mean()) > 5 * he_std / np.sqrt(values.size):
        raise CheckFailure(f"{what} has mean {values.mean():.3g} {where}; it should be about 0")


def _adam(dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam update by ``cnnedu.optim.Adam``: ``(step, m_new, v_new)``, with w_new = w - step."""
    delta, state = np.zeros_like(dw), {"m": m.copy(), "v": v.copy(), "t": t}
    Adam(lr=lr, beta1=beta1, beta2=beta2, eps=eps).update(delta, dw, state)
    return -delta, state["m"], state["v"]


def _check_pair(rng, forward, backward, reference, arrays, where, grads, kwargs=None,
                out_hint="", compare_out=True, slips=None, check_out=None):
    """Check a forward/backward pair: out against ``reference(*arrays, **kwargs)`` (unless
    the exercise is the backward of a forward the chapter shows), then each gradient (named
    in ``grads``; one array needs no tuple) against numerical gradients of the reference.
    The learner's forward only gives the cache: a wrong forward with a matching backward fails.
    ``slips``: {gradient name: a function of dout giving its known slips, ``(value, hint)``}.
    ``check_out(out)``, if given, checks out instead of the comparison with the reference.
    """
    kwargs, slips = kwargs or {}, slips or {}
    out, cache = _call(forward, *arrays, **kwargs, where=where, returns="(out, cache)")
    expected = reference(*arrays, **kwargs)
    if check_out is not None:
        check_out(out)
    elif compare_out:
        _close(out, expected, "out", where, hint=out_hint)
    dout = rng.standard_normal(expected.shape)
    got = _call(backward, dout, cache, where=where)
    if len(grads) == 1 and not (isinstance(got, (tuple, list)) and len(got) == 1):
        got = (got,)
    got = _unpack(got, "(" + ", ".join(grads) + ")", getattr(backward, "__name__", "backward"))
    for name, array, grad in zip(grads, arrays, got):
        # numerical_gradient_array perturbs `array` in place: reference sees it via the closure.
        numerical = numerical_gradient_array(lambda: reference(*arrays, **kwargs), array, dout)
        hint = _slip(grad, slips[name](dout)) if name in slips else ""
        _close(grad, numerical, name, where, tol=1e-6, hint=hint)
