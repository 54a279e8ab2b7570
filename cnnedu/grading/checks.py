"""The exercise checks: ``check(name, *functions)`` and the registry behind it.

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
the reference answer is computed. The autograder runs this module in its own
process and the learner's code in another that has never imported cnnedu
(worker.py): there ``_call`` sends the inputs over and receives plain arrays.

To add an exercise, write a check function and register it::

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

from cnnedu import functional as F
from cnnedu import reference as R
from cnnedu.gradcheck import numerical_gradient, numerical_gradient_array, rel_error

from .learner import Formula, call

__all__ = ["check", "run_check", "EXERCISES", "CheckFailure", "exercise"]


class CheckFailure(AssertionError):
    """A learner's function gave a wrong result; the message is the hint."""


class Exercise(NamedTuple):
    name: str
    functions: tuple   # names of the learner functions, in the order check() takes them
    points: int
    run: Callable      # run(rng, *functions); raises CheckFailure on a wrong answer


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


# ----------------------------------------------------------------------------
# Chapter 2: linear softmax
# ----------------------------------------------------------------------------

@exercise("softmax", ["softmax"], points=1)
def _check_softmax(rng, softmax):
    for case in range(3):
        N, K = int(rng.integers(2, 6)), int(rng.integers(3, 8))
        scores = rng.standard_normal((N, K)) * 3
        where = f"for scores of shape ({N}, {K})"
        hint = ""
        if case > 0:  # huge scores: exp overflows (or underflows) unless the row max is subtracted
            scores = scores * 10 + (1000 if case == 1 else -1000)
            where += f" with values around {1000 if case == 1 else -1000}"
            hint = "; subtract each row's maximum before np.exp"
        got = _call(softmax, scores.copy(), where=where)
        _close(got, F.softmax(scores), "softmax(scores)", where, hint=hint)


@exercise("softmax_cross_entropy", ["softmax_cross_entropy"], points=2)
def _check_softmax_cross_entropy(rng, softmax_cross_entropy):
    for _ in range(3):
        N, K = int(rng.integers(2, 8)), int(rng.integers(3, 8))
        scores = rng.standard_normal((N, K)) * 2
        y = rng.integers(0, K, N)
        where = f"for scores of shape ({N}, {K})"
        result = _call(softmax_cross_entropy, scores.copy(), y.copy(), where=where)
        loss, dscores = _unpack(result, 2, "softmax_cross_entropy", "(loss, dscores)")
        ref_loss, ref_dscores = F.softmax_cross_entropy(scores, y)
        _scalar_close(loss, ref_loss, "loss", where)
        _close(dscores, ref_dscores, "dscores", where)


def _ref_linear_softmax_loss(W, b, X, y, reg):
    loss, dscores = F.softmax_cross_entropy(X @ W + b, y)
    return loss + 0.5 * reg * np.sum(W * W), X.T @ dscores + reg * W, dscores.sum(axis=0)


@exercise("linear_softmax_loss", ["linear_softmax_loss"], points=2)
def _check_linear_softmax_loss(rng, linear_softmax_loss):
    for reg in (0.0, float(rng.uniform(0.1, 1.0))):
        N, D, K = int(rng.integers(3, 8)), int(rng.integers(2, 6)), int(rng.integers(3, 6))
        W, b = rng.standard_normal((D, K)), rng.standard_normal(K)
        X, y = rng.standard_normal((N, D)), rng.integers(0, K, N)
        where = f"for X ({N}, {D}), W ({D}, {K}), reg={reg:.2g}"
        result = _call(linear_softmax_loss, W.copy(), b.copy(), X.copy(), y.copy(), reg,
                       where=where)
        loss, dW, db = _unpack(result, 3, "linear_softmax_loss", "(loss, dW, db)")
        ref_loss, ref_dW, ref_db = _ref_linear_softmax_loss(W, b, X, y, reg)
        _scalar_close(loss, ref_loss, "loss", where)
        _close(dW, ref_dW, "dW", where)
        _close(db, ref_db, "db", where)


# ----------------------------------------------------------------------------
# Chapter 3: two-layer net
# ----------------------------------------------------------------------------

@exercise("affine", ["affine_forward", "affine_backward"], points=2)
def _check_affine(rng, affine_forward, affine_backward):
    for _ in range(2):
        N, D, M = (int(v) for v in rng.integers(2, 7, 3))
        x, W, b = rng.standard_normal((N, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
        where = f"for x ({N}, {D}), W ({D}, {M})"
        out, _ = _unpack(_call(affine_forward, x.copy(), W.copy(), b.copy(), where=where), 2,
                         "affine_forward", "(out, cache)")
        _close(out, x @ W + b, "out", where)
        _check_pair(rng, affine_forward, affine_backward, lambda x, W, b: x @ W + b,
                    [x, W, b], {}, where, ["dx", "dW", "db"])


@exercise("relu", ["relu_forward", "relu_backward"], points=1)
def _check_relu(rng, relu_forward, relu_backward):
    for shape in [(int(rng.integers(2, 6)), int(rng.integers(2, 6))),
                  tuple(int(v) for v in rng.integers(2, 4, 4))]:
        x = _away_from_zero(rng, shape)
        where = f"for x of shape {shape}"
        out, _ = _unpack(_call(relu_forward, x.copy(), where=where), 2, "relu_forward",
                         "(out, cache)")
        _close(out, np.maximum(x, 0), "out", where)
        _check_pair(rng, relu_forward, relu_backward, lambda x: np.maximum(x, 0),
                    [x], {}, where, ["dx"])


def _ref_two_layer_loss(params, X, y, reg):
    W1, b1, W2, b2 = (params[k] for k in ("W1", "b1", "W2", "b2"))
    hidden = X @ W1 + b1
    act = np.maximum(hidden, 0)
    loss, dscores = F.softmax_cross_entropy(act @ W2 + b2, y)
    loss += 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    dhidden = (dscores @ W2.T) * (hidden > 0)
    grads = {"W1": X.T @ dhidden + reg * W1, "b1": dhidden.sum(axis=0),
             "W2": act.T @ dscores + reg * W2, "b2": dscores.sum(axis=0)}
    return loss, grads


@exercise("two_layer_loss", ["two_layer_loss"], points=3)
def _check_two_layer_loss(rng, two_layer_loss):
    for reg in (0.0, float(rng.uniform(0.1, 1.0))):
        N, D, H, K = (int(v) for v in rng.integers(3, 7, 4))
        params = {"W1": rng.standard_normal((D, H)), "b1": rng.standard_normal(H),
                  "W2": rng.standard_normal((H, K)), "b2": rng.standard_normal(K)}
        X, y = rng.standard_normal((N, D)), rng.integers(0, K, N)
        where = f"for X ({N}, {D}), {H} hidden units, {K} classes, reg={reg:.2g}"
        copies = {k: v.copy() for k, v in params.items()}
        result = _call(two_layer_loss, copies, X.copy(), y.copy(), reg, where=where)
        loss, grads = _unpack(result, 2, "two_layer_loss", "(loss, grads)")
        ref_loss, ref_grads = _ref_two_layer_loss(params, X, y, reg)
        _scalar_close(loss, ref_loss, "loss", where)
        if not isinstance(grads, dict) or set(grads) != set(ref_grads):
            keys = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
            raise CheckFailure(f"grads should be a dict with keys W1, b1, W2, b2, got {keys}")
        for key in ref_grads:
            _close(grads[key], ref_grads[key], f"grads['{key}']", where)


# ----------------------------------------------------------------------------
# Chapter 4: backpropagation
# ----------------------------------------------------------------------------

@exercise("numerical_gradient", ["numerical_gradient"], points=2)
def _check_numerical_gradient(rng, numerical_gradient_fn):
    for case, shape in enumerate([(int(rng.integers(2, 6)),),
                                  (int(rng.integers(2, 4)), int(rng.integers(2, 4))),
                                  (2, int(rng.integers(2, 4)), 2)]):
        x = rng.standard_normal(shape)
        A = rng.standard_normal(shape)
        f = Formula("np.sum(A * x ** 3 + np.sin(x))", A=A, x=x)  # reads x, perturbed in place
        before = x.copy()
        where = f"for x of shape {shape}"
        # x (argument 1) may change during the call, but must be restored.
        if case == 2:  # a large h shows whether h is used, and whether differences are central
            where += " and h=1e-2"
            got = _call(numerical_gradient_fn, f, x, h=1e-2, where=where, restored=[1])
        else:
            got = _call(numerical_gradient_fn, f, x, where=where, restored=[1])
        got = _array(got, "the gradient", shape, where)
        if not np.any(got):
            raise CheckFailure(f"the gradient is all zeros {where}; f() reads x, so perturb x "
                               f"itself (in place), not a copy")
        if case == 2:
            expected = numerical_gradient(f, x, h=1e-2)  # f reads x, which is restored
            tol, hint = 1e-8, "; use central differences (f(x+h) - f(x-h)) / (2h) with the given h"
        else:
            expected = 3 * A * before ** 2 + np.cos(before)
            tol, hint = 1e-7, "; use central differences (f(x+h) - f(x-h)) / (2h)"
        _close(got, expected, "the gradient", where, tol=tol, hint=hint)


@exercise("rel_error", ["rel_error"], points=1)
def _check_rel_error(rng, rel_error_fn):
    shape = (int(rng.integers(2, 5)), int(rng.integers(2, 5)))
    a = rng.standard_normal(shape)
    cases = [(a, a + 1e-4 * rng.standard_normal(shape), "for two nearby arrays"),
             (a, rng.standard_normal(shape) * 10, "for two unrelated arrays"),
             (a, a.copy(), "for two equal arrays"),
             (np.zeros(shape), np.zeros(shape), "when both arrays are all zero"),
             (np.zeros(shape), a, "when the first array is all zero")]
    for x, y, where in cases:
        got = _scalar(_call(rel_error_fn, x.copy(), y.copy(), where=where), "rel_error", where)
        if abs(got - rel_error(x, y)) > 1e-12 * max(1.0, abs(rel_error(x, y))):
            raise CheckFailure(f"rel_error returned {got:.3g} {where}, which is not "
                               f"max|a-b| / max(max|a|, max|b|)")


@exercise("sigmoid", ["sigmoid_forward", "sigmoid_backward"], points=2)
def _check_sigmoid(rng, sigmoid_forward, sigmoid_backward):
    for case in range(3):
        shape = (int(rng.integers(2, 6)), int(rng.integers(2, 6)))
        x = rng.standard_normal(shape) * 3
        where = f"for x of shape {shape}"
        if case == 2:  # exp(1000) overflows: a stable sigmoid never computes it
            x = rng.uniform(750, 1000, shape) * _signs(rng, shape)  # exp(710) overflows
            where += " with |x| between 750 and 1000"
        with np.errstate(over="raise"):
            out, _ = _unpack(_call(sigmoid_forward, x.copy(), where=where), 2,
                             "sigmoid_forward", "(out, cache)")
        _close(out, F.sigmoid_forward(x)[0], "out", where)
        if case < 2:
            _check_pair(rng, sigmoid_forward, sigmoid_backward,
                        lambda x: F.sigmoid_forward(x)[0], [x], {}, where, ["dx"])


# ----------------------------------------------------------------------------
# Chapter 5: convolution
# ----------------------------------------------------------------------------

@exercise("conv_output_size", ["conv_output_size"], points=1)
def _check_conv_output_size(rng, conv_output_size):
    for case in range(6):
        size, kernel = int(rng.integers(5, 40)), int(rng.integers(1, 6))
        stride, padding = ((1, 0) if case == 0
                           else (int(rng.integers(1, 4)), int(rng.integers(0, 3))))
        call = f"conv_output_size({size}, {kernel}, stride={stride}, padding={padding})"
        if case == 0:
            call = f"conv_output_size({size}, {kernel})"
            got = _call(conv_output_size, size, kernel, where=f"for {call}")
        else:
            got = _call(conv_output_size, size, kernel, stride=stride, padding=padding,
                        where=f"for {call}")
        got = _integer(got, call, "")
        if got != F.conv_output_size(size, kernel, stride, padding):
            raise CheckFailure(f"{call} returned {got}, which is wrong")


def _conv_case(rng, case, small=False):
    """Random conv geometry: (x, w, b, stride, padding, description)."""
    N, C = 2, int(rng.integers(1, 4))
    Fn = int(rng.integers(2, 4 if small else 5))
    H, W = (int(v) for v in rng.integers(4, 7 if small else 9, 2))
    kh = kw = int(rng.integers(2, 4))
    stride, padding = [(1, 0), (2, 1), (int(rng.integers(1, 3)), int(rng.integers(0, 3)))][case]
    if case == 2:
        kw = int(rng.integers(1, 4))  # a non-square kernel
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((Fn, C, kh, kw))
    b = rng.standard_normal(Fn)
    where = (f"at a {_dims(x.shape)} input with {Fn} filters of {kh}x{kw}, "
             f"stride {stride}, padding {padding}")
    return x, w, b, stride, padding, where


@exercise("conv2d_forward", ["conv2d_forward"], points=3)
def _check_conv2d_forward(rng, conv2d_forward):
    for case in range(3):
        x, w, b, stride, padding, where = _conv_case(rng, case)
        result = _call(conv2d_forward, x.copy(), w.copy(), b.copy(), stride=stride,
                       padding=padding, where=where)
        out, _ = _unpack(result, 2, "conv2d_forward", "(out, cache)")
        _close(out, F.conv2d_forward(x, w, b, stride, padding)[0], "out", where)


@exercise("conv2d_backward", ["conv2d_forward", "conv2d_backward"], points=3)
def _check_conv2d_backward(rng, conv2d_forward, conv2d_backward):
    for case in range(3):
        x, w, b, stride, padding, where = _conv_case(rng, case, small=True)
        # functional.conv2d_forward is the reference here: it is tested against the
        # loop-based cnnedu.reference and is fast enough for a numerical gradient.
        ref = lambda x, w, b, stride, padding: F.conv2d_forward(x, w, b, stride, padding)[0]
        _check_pair(rng, conv2d_forward, conv2d_backward, ref, [x, w, b],
                    {"stride": stride, "padding": padding}, where, ["dx", "dw", "db"])


# ----------------------------------------------------------------------------
# Chapter 6: pooling
# ----------------------------------------------------------------------------

def _pool_cases(rng):
    """(kernel_size, stride) cases: default, overlapping windows, sizes that do not divide."""
    return [(2, None), (3, 2), (int(rng.integers(2, 4)), 1)]


def _pool_call(fn, x, kernel_size, stride, where):
    """Call a pooling forward, leaving the defaults alone where the case uses them."""
    if kernel_size == 2 and stride is None:
        return _call(fn, x, where=where)
    if stride is None:
        return _call(fn, x, kernel_size=kernel_size, where=where)
    return _call(fn, x, kernel_size=kernel_size, stride=stride, where=where)


def _pool_where(x, kernel_size, stride):
    return f"at a {_dims(x.shape)} input, kernel_size {kernel_size}, stride {stride}"


@exercise("max_pool2d_forward", ["max_pool2d_forward"], points=2)
def _check_max_pool2d_forward(rng, max_pool2d_forward):
    for kernel_size, stride in _pool_cases(rng):
        shape = (2, int(rng.integers(1, 4)), int(rng.integers(5, 9)), int(rng.integers(5, 9)))
        x = rng.standard_normal(shape)
        where = _pool_where(x, kernel_size, stride)
        out, _ = _unpack(_pool_call(max_pool2d_forward, x.copy(), kernel_size, stride, where), 2,
                         "max_pool2d_forward", "(out, cache)")
        _close(out, R.max_pool2d_forward(x, kernel_size, stride), "out", where)


@exercise("max_pool2d_backward", ["max_pool2d_forward", "max_pool2d_backward"], points=2)
def _check_max_pool2d_backward(rng, max_pool2d_forward, max_pool2d_backward):
    for kernel_size, stride in _pool_cases(rng):
        shape = (2, int(rng.integers(1, 3)), int(rng.integers(4, 7)), int(rng.integers(4, 7)))
        x = _distinct(rng, shape)  # no ties: the numerical gradient is exact
        where = _pool_where(x, kernel_size, stride)
        result = _pool_call(max_pool2d_forward, x.copy(), kernel_size, stride, where)
        _, cache = _unpack(result, 2, "max_pool2d_forward", "(out, cache)")
        dout = rng.standard_normal(R.max_pool2d_forward(x, kernel_size, stride).shape)
        dx = _call(max_pool2d_backward, dout.copy(), cache, where=where)
        ref = lambda: F.max_pool2d_forward(x, kernel_size, stride)[0]
        _close(dx, numerical_gradient_array(ref, x, dout), "dx", where, tol=1e-6)
    # Ties: the gradient goes to the first maximum of each window only, as np.argmax picks it.
    x = rng.integers(0, 2, (2, 2, 4, 6)).astype(np.float64)
    where = f"at a {_dims(x.shape)} input with tied maxima, kernel_size 2, stride None"
    _, cache = _unpack(_call(max_pool2d_forward, x.copy(), where=where), 2,
                       "max_pool2d_forward", "(out, cache)")
    dout = rng.standard_normal((2, 2, 2, 3))
    dx = _call(max_pool2d_backward, dout.copy(), cache, where=where)
    _close(dx, R.max_pool2d_backward(dout, x, 2), "dx", where,
           hint=" (send each window's gradient to its first maximum only, as np.argmax does)")


@exercise("avg_pool2d", ["avg_pool2d_forward", "avg_pool2d_backward"], points=2)
def _check_avg_pool2d(rng, avg_pool2d_forward, avg_pool2d_backward):
    for kernel_size, stride in _pool_cases(rng):
        shape = (2, int(rng.integers(1, 3)), int(rng.integers(4, 7)), int(rng.integers(4, 7)))
        x = rng.standard_normal(shape)
        where = _pool_where(x, kernel_size, stride)
        result = _pool_call(avg_pool2d_forward, x.copy(), kernel_size, stride, where)
        out, cache = _unpack(result, 2, "avg_pool2d_forward", "(out, cache)")
        _close(out, R.avg_pool2d_forward(x, kernel_size, stride), "out", where)
        dout = rng.standard_normal(R.avg_pool2d_forward(x, kernel_size, stride).shape)
        dx = _call(avg_pool2d_backward, dout.copy(), cache, where=where)
        ref = lambda: F.avg_pool2d_forward(x, kernel_size, stride)[0]
        _close(dx, numerical_gradient_array(ref, x, dout), "dx", where, tol=1e-6)


# ----------------------------------------------------------------------------
# Chapter 7: toy images
# ----------------------------------------------------------------------------

@exercise("mean_center", ["mean_center"], points=1)
def _check_mean_center(rng, mean_center):
    for dtype, shape in [(np.float64, (int(rng.integers(5, 20)), int(rng.integers(2, 6)))),
                         (np.float32, (int(rng.integers(5, 20)), 1, 4, 4))]:
        X_train = (rng.standard_normal(shape) * 3 + rng.standard_normal(shape[1:])).astype(dtype)
        X_test = (rng.standard_normal((7,) + shape[1:]) + 1).astype(dtype)
        where = f"for {np.dtype(dtype)} X_train of shape {shape}"
        result = _call(mean_center, X_train.copy(), X_test.copy(), where=where)
        train_c, test_c = _unpack(result, 2, "mean_center", "(X_train_c, X_test_c)")
        mean = X_train.astype(np.float64).mean(axis=0)
        tol = 1e-5 if dtype == np.float32 else 1e-10
        _close(train_c, X_train - mean, "X_train_c", where, tol=tol, dtype=dtype)
        _close(test_c, X_test - mean, "X_test_c", where, tol=tol, dtype=dtype,
               hint=" (subtract the mean of X_train, not of X_test)")


@exercise("accuracy", ["accuracy"], points=1)
def _check_accuracy(rng, accuracy):
    for _ in range(3):
        N, K = int(rng.integers(10, 40)), int(rng.integers(2, 6))
        scores, y = rng.standard_normal((N, K)), rng.integers(0, K, N)
        where = f"for scores of shape ({N}, {K})"
        got = _scalar(_call(accuracy, scores.copy(), y.copy(), where=where), "accuracy", where)
        if abs(got - np.mean(scores.argmax(axis=1) == y)) > 1e-12:
            raise CheckFailure(f"accuracy returned {got:.4g} {where}, which is wrong; it should "
                               f"be the fraction (0 to 1) of rows whose argmax equals y")


def _sample_ids(X_part):
    """The ids the check wrote into column 0 of X, for the rows of one part of a split."""
    return [int(v) for v in np.asarray(X_part).reshape(len(X_part), -1)[:, 0]]


@exercise("stratified_split", ["stratified_split"], points=2)
def _check_stratified_split(rng, stratified_split):
    K = int(rng.integers(2, 5))
    fraction = float(rng.choice([0.6, 0.7, 0.75, 0.8]))
    while True:  # class sizes that tell round() from floor() and ceil(), and have no ties at .5
        counts = rng.integers(8, 30, K)
        frac = (fraction * counts) % 1
        if (np.any(frac > 0.5 + 1e-6) and np.any((frac > 1e-6) & (frac < 0.5 - 1e-6))
                and not np.any(np.abs(frac - 0.5) < 1e-6)):
            break
    y = rng.permutation(np.repeat(np.arange(K), counts))
    N = len(y)
    X = rng.standard_normal((N, 3))
    X[:, 0] = np.arange(N)  # column 0 is each sample's id, so the parts can be traced back
    where = f"for {N} samples in {K} classes of sizes {counts.tolist()}, train_fraction {fraction}"
    seed = int(rng.integers(2**32))
    runs = []
    for s in (seed, seed, seed + 1):
        result = _call(stratified_split, X.copy(), y.copy(), fraction,
                       np.random.default_rng(s), where=where)
        runs.append(_unpack(result, 4, "stratified_split", "(X_train, X_test, y_train, y_test)"))
    X_train, X_test, y_train, y_test = runs[0]
    for name, part, n_dims in [("X_train", X_train, 2), ("X_test", X_test, 2),
                               ("y_train", y_train, 1), ("y_test", y_test, 1)]:
        if not isinstance(part, np.ndarray) or part.ndim != n_dims:
            raise CheckFailure(f"{name} should be a {n_dims}-D NumPy array {where}")
    if len(X_train) != len(y_train) or len(X_test) != len(y_test):
        raise CheckFailure(f"X and y parts have different lengths {where}")
    train_ids, test_ids = _sample_ids(X_train), _sample_ids(X_test)
    if sorted(train_ids + test_ids) != list(range(N)):
        raise CheckFailure(f"the train and test parts should hold every sample exactly once "
                           f"(disjoint, together all samples) {where}")
    if not (np.array_equal(y[train_ids], y_train) and np.array_equal(y[test_ids], y_test)):
        raise CheckFailure(f"the labels no longer match their samples {where}: "
                           f"index X and y with the same indices")
    for c in range(K):
        n_train = int(np.sum(y_train == c))
        if n_train != round(fraction * counts[c]):
            raise CheckFailure(f"class {c} ({counts[c]} samples) has {n_train} in the training "
                               f"part {where}; expected round(train_fraction * {counts[c]})")
    if not all(np.array_equal(a, b) for a, b in zip(runs[0], runs[1])):
        raise CheckFailure(f"two calls with generators seeded alike gave different splits "
                           f"{where}: draw all randomness from rng")
    if all(np.array_equal(a, b) for a, b in zip(runs[0], runs[2])):
        raise CheckFailure(f"two calls with differently seeded generators gave the same split "
                           f"{where}: shuffle with rng")


# ----------------------------------------------------------------------------
# Chapter 8: training tools
# ----------------------------------------------------------------------------

@exercise("momentum_update", ["momentum_update"], points=1)
def _check_momentum_update(rng, momentum_update):
    for _ in range(2):
        shape = (int(rng.integers(2, 5)), int(rng.integers(2, 5)))
        w, dw, v = (rng.standard_normal(shape) for _ in range(3))
        lr, mu = float(rng.uniform(0.01, 0.5)), float(rng.uniform(0.5, 0.99))
        where = f"for w of shape {shape}, lr={lr:.3g}, mu={mu:.3g}"
        result = _call(momentum_update, w.copy(), dw.copy(), v.copy(), lr, mu, where=where)
        w_new, v_new = _unpack(result, 2, "momentum_update", "(w_new, v_new)")
        ref_v = mu * v - lr * dw
        _close(v_new, ref_v, "v_new", where)
        _close(w_new, w + ref_v, "w_new", where)


@exercise("adam_update", ["adam_update"], points=2)
def _check_adam_update(rng, adam_update):
    for case in range(3):
        shape = (int(rng.integers(2, 5)), int(rng.integers(2, 5)))
        w, dw, m = (rng.standard_normal(shape) for _ in range(3))
        v = rng.uniform(0.1, 2.0, shape)
        t = 1 if case == 0 else int(rng.integers(2, 20))
        if case == 1:  # tiny gradients from a fresh start: eps must go outside the sqrt
            m, v, dw = np.zeros(shape), np.zeros(shape), dw * 1e-5
        kwargs = {} if case < 2 else {"lr": float(rng.uniform(0.01, 0.2)),
                                      "beta1": float(rng.uniform(0.5, 0.95)),
                                      "beta2": float(rng.uniform(0.9, 0.999)), "eps": 1e-6}
        hyper = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, **kwargs}
        where = (f"for w of shape {shape}, t={t}, "
                 + ", ".join(f"{k}={v:.3g}" for k, v in hyper.items())
                 + (", m = v = 0 and gradients around 1e-5" if case == 1 else ""))
        result = _call(adam_update, w.copy(), dw.copy(), m.copy(), v.copy(), t, **kwargs,
                       where=where)
        w_new, m_new, v_new = _unpack(result, 3, "adam_update", "(w_new, m_new, v_new)")
        b1, b2 = hyper["beta1"], hyper["beta2"]
        ref_m = b1 * m + (1 - b1) * dw
        ref_v = b2 * v + (1 - b2) * dw * dw
        m_hat, v_hat = ref_m / (1 - b1 ** t), ref_v / (1 - b2 ** t)
        step = hyper["lr"] * m_hat / (np.sqrt(v_hat) + hyper["eps"])
        _close(m_new, ref_m, "m_new", where)
        _close(v_new, ref_v, "v_new", where)
        # Compare the step, not w_new: a small step hides in w's size.
        w_new = _array(w_new, "w_new", shape, where)
        _close(w - w_new, step, "the step w - w_new", where, tol=1e-6,
               hint=" (bias-correct m and v with t, then divide by sqrt(v_hat) + eps)")


@exercise("he_normal", ["he_normal"], points=1)
def _check_he_normal(rng, he_normal):
    seed = int(rng.integers(2**32))
    for shape, fan_in, what in [((400, 300), 400, "in_features (shape[0])"),
                                ((32, 16, 3, 3), 144, "C * kh * kw")]:
        where = f"for shape {shape}"
        got = _call(he_normal, shape, np.random.default_rng(seed), where=where)
        got = _array(got, "he_normal(shape, rng)", shape, where, dtype=np.float32)
        std, mean = float(got.std()), float(got.mean())
        ref_std = np.sqrt(2 / fan_in)
        if abs(std / ref_std - 1) > 0.05:
            raise CheckFailure(f"the standard deviation is {std:.4g} {where}; it should be "
                               f"sqrt(2 / fan_in) with fan_in = {what}")
        if abs(mean) > 5 * ref_std / np.sqrt(got.size):
            raise CheckFailure(f"the mean is {mean:.3g} {where}; it should be about 0")
        centred = got.astype(np.float64) - mean
        kurtosis = float(np.mean(centred ** 4) / np.mean(centred ** 2) ** 2)
        if abs(kurtosis - 3) > 0.3:
            raise CheckFailure(f"the values do not look normally distributed {where}; "
                               f"draw them with rng.standard_normal")
        again = _call(he_normal, shape, np.random.default_rng(seed), where=where)
        other = _call(he_normal, shape, np.random.default_rng(seed + 1), where=where)
        if not np.array_equal(np.asarray(again), got):
            raise CheckFailure(f"two calls with generators seeded alike gave different arrays "
                               f"{where}: draw the numbers from rng")
        if np.array_equal(np.asarray(other), got):
            raise CheckFailure(f"two calls with differently seeded generators gave the same "
                               f"array {where}: draw the numbers from rng")


@exercise("leaky_relu", ["leaky_relu_forward", "leaky_relu_backward"], points=1)
def _check_leaky_relu(rng, leaky_relu_forward, leaky_relu_backward):
    for alpha in (None, float(rng.uniform(0.05, 0.3))):
        shape = (int(rng.integers(2, 6)), int(rng.integers(2, 6)))
        x = _away_from_zero(rng, shape)
        kwargs = {} if alpha is None else {"alpha": alpha}
        a = 0.01 if alpha is None else alpha
        where = (f"for x of shape {shape}, alpha={a:.3g}"
                 + (" (the default)" if alpha is None else ""))
        ref = lambda x, **kw: np.where(x > 0, x, a * x)
        out, _ = _unpack(_call(leaky_relu_forward, x.copy(), **kwargs, where=where), 2,
                         "leaky_relu_forward", "(out, cache)")
        _close(out, ref(x), "out", where)
        _check_pair(rng, leaky_relu_forward, leaky_relu_backward, ref, [x], kwargs, where, ["dx"])


# ----------------------------------------------------------------------------
# Chapter 9: MNIST
# ----------------------------------------------------------------------------

@exercise("confusion_matrix", ["confusion_matrix"], points=1)
def _check_confusion_matrix(rng, confusion_matrix):
    for K in (None, int(rng.integers(3, 6))):
        n_classes = 10 if K is None else K
        N = int(rng.integers(30, 80))
        # Leave the last class out: it must still get a row and a column.
        y_true = rng.integers(0, n_classes - 1, N)
        y_pred = np.where(rng.random(N) < 0.6, y_true, rng.integers(0, n_classes - 1, N))
        where = (f"for {N} labels and n_classes={n_classes}"
                 + (" (the default)" if K is None else ""))
        if K is None:
            got = _call(confusion_matrix, y_true.copy(), y_pred.copy(), where=where)
        else:
            got = _call(confusion_matrix, y_true.copy(), y_pred.copy(), n_classes=K, where=where)
        got = _array(got, "the confusion matrix", (n_classes, n_classes), where)
        if not np.issubdtype(got.dtype, np.integer):
            raise CheckFailure(f"the confusion matrix should hold integers (counts), got dtype "
                               f"{got.dtype} {where}")
        expected = np.zeros((n_classes, n_classes), dtype=np.int64)
        np.add.at(expected, (y_true, y_pred), 1)
        if not np.array_equal(got, expected):
            hint = ("; it is transposed: rows are the true class, columns the predicted class"
                    if np.array_equal(got, expected.T) else "")
            wrong = int(np.sum(got != expected))
            raise CheckFailure(f"{wrong} of the {n_classes * n_classes} counts are wrong "
                               f"{where}{hint}")


@exercise("dropout_forward", ["dropout_forward"], points=2)
def _check_dropout_forward(rng, dropout_forward):
    seed = int(rng.integers(2**32))
    for p in (0.5, float(rng.choice([0.2, 0.3])), float(rng.choice([0.7, 0.8]))):
        shape = (100, 200)
        x = 1 + 0.5 * rng.standard_normal(shape)
        where = f"for x of shape {shape}, p={p}"
        result = _call(dropout_forward, x.copy(), p, np.random.default_rng(seed), where=where)
        out, mask = _unpack(result, 2, "dropout_forward", "(out, mask)")
        out = _array(out, "out", shape, where)
        mask = _array(mask, "mask", shape, where).astype(np.float64)
        scale = 1 / (1 - p)
        if not np.all(np.isclose(mask, 0) | np.isclose(mask, scale)):
            raise CheckFailure(f"mask should only hold 0 and 1/(1-p) {where} (inverted dropout "
                               f"scales the kept values)")
        _close(out, x * mask, "out compared with x * mask", where, tol=1e-6)
        n, keep = x.size, float(np.mean(mask > 0))
        if abs(keep - (1 - p)) > 5 * np.sqrt(p * (1 - p) / n):
            raise CheckFailure(f"{keep:.1%} of the values were kept {where}; p is the "
                               f"probability of dropping a value")
        spread = 5 * np.sqrt(np.mean(x * x) * p / (1 - p) / n)
        if abs(out.mean() - x.mean()) > spread:
            raise CheckFailure(f"the mean changed from {x.mean():.3f} to {out.mean():.3f} {where}")
        again = _call(dropout_forward, x.copy(), p, np.random.default_rng(seed), where=where)
        if not np.array_equal(np.asarray(_unpack(again, 2, "dropout_forward", "")[1]), mask):
            raise CheckFailure(f"two calls with generators seeded alike gave different masks "
                               f"{where}: draw the numbers from rng")
        seed += 1  # the next p uses another seed, so a fixed mask would show


# ----------------------------------------------------------------------------
# Chapter 10: architectures
# ----------------------------------------------------------------------------

@exercise("conv_param_count", ["conv_param_count"], points=1)
def _check_conv_param_count(rng, conv_param_count):
    for _ in range(4):
        c_in, c_out, k = (int(v) for v in (rng.integers(1, 65), rng.integers(1, 129),
                                           rng.integers(1, 8)))
        call = f"conv_param_count({c_in}, {c_out}, {k})"
        got = _integer(_call(conv_param_count, c_in, c_out, k, where=f"for {call}"), call, "")
        if got != c_out * (c_in * k * k + 1):
            raise CheckFailure(f"{call} returned {got}, which is wrong (count the weights "
                               f"and one bias per output channel)")


def _ref_output_shape(input_shape, layers):
    C, H, W = input_shape
    for layer in layers:
        if layer[0] == "conv":
            _, C, k, s, p = layer
            H, W = F.conv_output_size(H, k, s, p), F.conv_output_size(W, k, s, p)
        else:
            _, k, s = layer
            H, W = F.conv_output_size(H, k, s), F.conv_output_size(W, k, s)
    return C, H, W


def _random_layers(rng, n, input_shape):
    """n random layers, each with a window that fits the size it receives."""
    layers = []
    for _ in range(n):
        size = min(_ref_output_shape(input_shape, layers)[1:])
        if rng.random() < 0.6:
            k = int(rng.choice([1, 3, 5]))
            p = int(rng.integers(0, k // 2 + 1))
            if k > size + 2 * p:
                k, p = 1, 0
            layers.append(("conv", int(rng.integers(4, 65)), k, int(rng.integers(1, 3)), p))
        else:
            k = min(int(rng.integers(2, 4)), size)
            layers.append(("pool", k, int(rng.integers(1, k + 1))))
    return layers


@exercise("output_shape", ["output_shape"], points=2)
def _check_output_shape(rng, output_shape):
    k = int(rng.integers(2, 4))
    for n in (0, 1, 3, 4):
        input_shape = tuple(int(v) for v in (rng.integers(1, 4), *rng.integers(24, 40, 2)))
        layers = ([("conv", int(rng.integers(4, 33)), 3, 1, 1)] if n == 0 else
                  [("pool", k, k)] if n == 1 else _random_layers(rng, n, input_shape))
        call = f"output_shape({input_shape}, {layers})"
        got = _call(output_shape, input_shape, list(layers), where=f"for {call}")
        if (not isinstance(got, (tuple, list)) or len(got) != 3
                or not all(isinstance(v, (int, np.integer)) for v in got)):
            raise CheckFailure(f"{call} should return a tuple of 3 ints (C, H, W), got {got!r}")
        got = tuple(int(v) for v in got)
        expected = _ref_output_shape(input_shape, layers)
        if got != expected:
            wrong = "the channel count" if got[0] != expected[0] else "the height or width"
            raise CheckFailure(f"{call} returned {got}: {wrong} is wrong")
