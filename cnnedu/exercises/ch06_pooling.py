"""Chapter 6's exercise checks (pooling): see ``cnnedu.exercises``.

The chapter shows max pooling's forward pass (its ``max_pool2d_forward``); the
exercises ask for its backward pass, for average pooling with padding (which
the chapter does not do), and for the input window one output of a stack sees.
"""

import numpy as np

from cnnedu import functional as F
from cnnedu import reference as R

from ._common import (
    CheckFailure,
    _call,
    _close,
    _dims,
    _distinct,
    _integer,
    _unpack,
    exercise,
    numerical_gradient_array,
)


def _pool_cases(rng):
    """(kernel_size, stride) cases: default, overlapping windows, sizes that do not divide."""
    return [(2, None), (3, 2), (int(rng.integers(2, 4)), 1)]


def _pool_call(fn, x, kernel_size, stride, where, **extra):
    """Call a pooling forward, leaving the defaults alone where the case uses them."""
    if kernel_size == 2 and stride is None and not extra:
        return _call(fn, x, where=where)
    if stride is None:
        return _call(fn, x, kernel_size=kernel_size, where=where, **extra)
    return _call(fn, x, kernel_size=kernel_size, stride=stride, where=where, **extra)


def _pool_where(x, kernel_size, stride, padding=None):
    pad = "" if padding is None else f", padding {padding}"
    return f"at a {_dims(x.shape)} input, kernel_size {kernel_size}, stride {stride}{pad}"


# ----------------------------------------------------------------------------
# max_pool2d_backward: the backward pass of the chapter's forward pass
# ----------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------
# avg_pool2d_padded: average pooling with padding that is not counted
# ----------------------------------------------------------------------------

def _avg_pool_padded(x, kernel_size, stride, padding):
    """Mean of the real (non-padding) inputs of each window, one window at a time."""
    N, C, H, W = x.shape
    k, s, p = kernel_size, kernel_size if stride is None else stride, padding
    OH, OW = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    out = np.zeros((N, C, OH, OW), dtype=x.dtype)
    for i in range(OH):
        for j in range(OW):
            rows = slice(max(i * s - p, 0), min(i * s - p + k, H))
            cols = slice(max(j * s - p, 0), min(j * s - p + k, W))
            out[:, :, i, j] = x[:, :, rows, cols].mean(axis=(2, 3))
    return out


@exercise("avg_pool2d_padded", ["avg_pool2d_forward", "avg_pool2d_backward"], points=2)
def _check_avg_pool2d_padded(rng, avg_pool2d_forward, avg_pool2d_backward):
    # (kernel_size, stride, padding): defaults, overlapping, tiling with padding, random.
    k = int(rng.integers(2, 5))
    cases = [(2, None, 0), (3, 1, 1), (2, None, 1), (3, 2, 1),
             (k, int(rng.integers(1, 4)), int(rng.integers(0, k // 2 + 1)))]
    for kernel_size, stride, padding in cases:
        shape = (2, int(rng.integers(1, 3)), int(rng.integers(4, 8)), int(rng.integers(4, 8)))
        x = rng.standard_normal(shape)
        where = _pool_where(x, kernel_size, stride, padding)
        extra = {"padding": padding} if padding else {}
        result = _pool_call(avg_pool2d_forward, x.copy(), kernel_size, stride, where, **extra)
        out, cache = _unpack(result, 2, "avg_pool2d_forward", "(out, cache)")
        expected = _avg_pool_padded(x, kernel_size, stride, padding)
        hint = (" (each window's mean is over the input values it covers, not over the "
                "padding)" if padding else "")
        _close(out, expected, "out", where, hint=hint)
        dout = rng.standard_normal(expected.shape)
        dx = _call(avg_pool2d_backward, dout.copy(), cache, where=where)
        ref = lambda: _avg_pool_padded(x, kernel_size, stride, padding)
        _close(dx, numerical_gradient_array(ref, x, dout), "dx", where, tol=1e-6)


# ----------------------------------------------------------------------------
# input_window: which input positions one output of a stack covers
# ----------------------------------------------------------------------------

def _input_window(layers, index):
    """Walk the interval [first, last] back through the layers, last layer first."""
    first = last = index
    for kernel_size, stride, padding in reversed(layers):
        first, last = first * stride - padding, last * stride - padding + kernel_size - 1
    return first, last


def _stack(rng):
    return [(int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(0, 3)))
            for _ in range(int(rng.integers(2, 5)))]


@exercise("input_window", ["input_window"], points=2)
def _check_input_window(rng, input_window):
    stacks = [[(3, 1, 1)], [(3, 1, 1), (2, 2, 0), (3, 1, 1), (2, 2, 0)],
              [(int(rng.integers(2, 6)), 1, 0), (2, 2, 0)], _stack(rng), _stack(rng)]
    for layers in stacks:
        index = int(rng.integers(0, 8))
        call = f"input_window({layers}, {index})"
        got = _call(input_window, [tuple(layer) for layer in layers], index, where=f"for {call}")
        got = _unpack(got, 2, call, "(first, last)")
        first, last = (_integer(value, f"{call}[{i}]", "") for i, value in enumerate(got))
        ref_first, ref_last = _input_window(layers, index)
        if (first, last) != (ref_first, ref_last):
            if last - first != ref_last - ref_first:
                hint = ("the window has the wrong length: how much does each layer widen it, "
                        "and how do the strides of the layers before it count?")
            else:
                hint = ("the window has the right length but is in the wrong place: where "
                        "does each layer's window start, and what does padding do to it?")
            raise CheckFailure(f"{call} returned ({first}, {last}), which is wrong: {hint}")
