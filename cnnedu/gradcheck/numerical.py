"""Relative errors and numerical gradients by central differences (chapter 4; used in 2 to 13).

What size of error to expect is in the docstring of ``cnnedu.gradcheck``.
"""

import numpy as np

from .._checks import check_finite, real, real_array

FINITE = "a gradient check needs finite numbers"
H_HINT = "; 1e-5 suits float64"


def rel_error(a, b):
    """Relative error ``max|a - b| / max(max|a|, max|b|)``, 0 when both are all 0.

    a, b: arrays (or numbers, or lists) of real numbers of the *same shape*;
    computed in float64; returns a Python float in [0, 2].

    Raises TypeError for non-numbers (strings, None, bools, complex),
    ValueError for different shapes (no broadcasting: (N,) against (N, 1) is
    a bug) or NaN/inf.

    Chapter 4. Source: CS231n notes, "Neural Networks Part 3".
    """
    who = "rel_error"
    a = check_finite(real_array(a, "a", who), "a", who, FINITE).astype(np.float64)
    b = check_finite(real_array(b, "b", who), "b", who, FINITE).astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(f"{who}: a has shape {a.shape} but b has shape {b.shape}; they must "
                         "match")
    scale = max(np.abs(a).max(initial=0), np.abs(b).max(initial=0))
    return 0.0 if scale == 0 else float(np.abs(a - b).max() / scale)


def _callable(f, who):
    if not callable(f):
        raise TypeError(f"{who}: f must be a function of no arguments that reads x, got "
                        f"{type(f).__name__}")


def loss_value(value, who, what="f()"):
    """``value`` if it is one real number (what a loss returns).

    Raises TypeError, naming ``who`` and ``what``, for anything else. Chapter 4."""
    kind = np.asarray(value).dtype.kind if np.ndim(value) == 0 else None
    if kind not in ("f", "i", "u") or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {what} must return one real number, got {type(value).__name__}"
                        + (f" of shape {np.shape(value)}" if np.ndim(value) else f" {value!r}"))
    return value


def central_differences(f, x, h, who, what="f()"):
    """Central-difference gradient of f() w.r.t. x, plus f at x + h e_i and x - h e_i.

    f: no arguments, returns one real number; x: a writeable, finite float
    array that f reads. x is moved in place one entry at a time and always
    put back, even if f raises. Returns (grad, f_plus, f_minus), each of x's
    shape; ``check_layer`` reads the kinks off f_plus and f_minus.

    Raises as ``numerical_gradient``. Chapter 4 (central differences).
    """
    _callable(f, who)
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(f"{who}: x must be a float array that f reads (it is moved in place), "
                        f"got {getattr(x, 'dtype', type(x).__name__)}; use x.astype(np.float64)")
    if not x.flags.writeable:
        raise ValueError(f"{who}: x is read-only, but it is moved in place")
    check_finite(x, "x", who, FINITE)
    real(h, "h", who, 0, low_open=True, hint=H_HINT)
    grad = np.zeros_like(x)
    f_plus, f_minus = np.empty(x.shape), np.empty(x.shape)
    for i in np.ndindex(x.shape):
        old = x[i]
        try:
            x[i] = old + h
            plus = loss_value(f(), who, what)
            x[i] = old - h
            minus = loss_value(f(), who, what)
        finally:
            x[i] = old
        if not (np.isfinite(plus) and np.isfinite(minus)):
            raise ValueError(f"{who}: {what} returned {plus} and {minus} with "
                             f"x[{', '.join(map(str, i))}] moved by +h and -h; the function "
                             "must be finite near x")
        grad[i] = (plus - minus) / (2 * h)
        f_plus[i], f_minus[i] = plus, minus
    return grad, f_plus, f_minus


def numerical_gradient(f, x, h=1e-5):
    """Gradient of a scalar function f() with respect to array x, by central differences.

    f takes no arguments, reads x and returns one real number; x is a
    writeable, finite float array that is moved in place, one entry at a
    time, and always restored. Returns an array of x's shape and dtype
    (empty if x is). h: a finite number > 0, kept as given (a NumPy h keeps
    NumPy's arithmetic). A tiny h is allowed (chapter 4 sweeps h down to
    1e-9 to show the rounding error grow), but in float32 x + h may round
    back to x, giving 0.

    Raises TypeError for a non-callable f, a non-float x or a non-number
    result of f, ValueError for a read-only or non-finite x, a bad h, or NaN
    or inf from f.

    Chapter 4. Source: CS231n notes, "Neural Networks Part 3".
    """
    return central_differences(f, x, h, "numerical_gradient")[0]


def numerical_gradient_array(f, x, dout, h=1e-5):
    """Vector-Jacobian product ``dout . df/dx`` for an array-valued f(), numerically.

    f() returns an array of dout's shape; the gradient of sum(f() * dout)
    w.r.t. x is returned, with x's shape and dtype.

    Raises as ``numerical_gradient``, plus TypeError for a non-number dout
    and ValueError when f() and dout have different shapes.

    Chapter 4. Source: CS231n notes, "Neural Networks Part 3".
    """
    who = "numerical_gradient_array"
    _callable(f, who)
    dout = real_array(dout, "dout", who)

    def loss():
        out = f()
        if np.shape(out) != dout.shape:
            raise ValueError(f"{who}: f() returned shape {np.shape(out)} but dout has shape "
                             f"{dout.shape}; they must match")
        return np.sum(out * dout)
    return central_differences(loss, x, h, who)[0]
