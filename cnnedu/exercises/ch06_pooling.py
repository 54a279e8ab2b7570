"""Chapter 6's exercise checks (pooling): the backward pass of the chapter's max pooling,
average pooling with padding, and the input window that one output of a stack sees. See
``cnnedu.exercises``."""

import numpy as np

from cnnedu import functional as F
from cnnedu import reference as R
from cnnedu.gradcheck import distinct_values

from ._common import CheckFailure, _call, _check_pair, _close, _dims, _integer, _unpack, exercise


def _where(x, kwargs):
    settings = ", ".join(f"{k} {v}" for k, v in kwargs.items()) or "the default settings"
    return f"at a {_dims(x.shape)} input, {settings}"


@exercise("max_pool2d_backward", ["max_pool2d_forward", "max_pool2d_backward"], points=2)
def _check_max_pool2d_backward(rng, max_pool2d_forward, max_pool2d_backward):
    # The defaults, overlapping windows, and sizes that the windows do not divide.
    for kwargs in [{}, {"kernel_size": 3, "stride": 2},
                   {"kernel_size": int(rng.integers(2, 4)), "stride": 1}]:
        x = distinct_values(rng, (2, int(rng.integers(1, 3)), *rng.integers(4, 7, 2)))
        # No ties, so the numerical gradient is exact. The forward is the chapter's.
        _check_pair(rng, max_pool2d_forward, max_pool2d_backward,
                    lambda x, kernel_size=2, stride=None: F.max_pool2d_forward(
                        x, kernel_size, stride)[0],
                    [x], _where(x, kwargs), ["dx"], kwargs, compare_out=False)
    # Ties: the gradient goes to the first maximum of each window only, as np.argmax picks it.
    x = rng.integers(0, 2, (2, 2, 4, 6)).astype(np.float64)
    where = f"at a {_dims(x.shape)} input with tied maxima, the default settings"
    _, cache = _call(max_pool2d_forward, x, where=where, returns="(out, cache)")
    dout = rng.standard_normal((2, 2, 2, 3))
    _close(_call(max_pool2d_backward, dout, cache, where=where), R.max_pool2d_backward(dout, x, 2),
           "dx", where,
           hint=" (send each window's gradient to its first maximum only, as np.argmax does)")


def _avg_pool_padded(x, kernel_size=2, stride=None, padding=0):
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
    # The defaults, overlapping windows, tiling with padding, and a random case.
    k = int(rng.integers(2, 5))
    for kwargs in [{}, {"kernel_size": 3, "stride": 1, "padding": 1},
                   {"kernel_size": 2, "padding": 1}, {"kernel_size": 3, "stride": 2, "padding": 1},
                   {"kernel_size": k, "stride": int(rng.integers(1, 4)),
                    "padding": int(rng.integers(0, k // 2 + 1))}]:
        x = rng.standard_normal((2, int(rng.integers(1, 3)), *rng.integers(4, 8, 2)))
        hint = (" (each window's mean is over the input values it covers, not over the "
                "padding)" if kwargs.get("padding") else "")
        _check_pair(rng, avg_pool2d_forward, avg_pool2d_backward, _avg_pool_padded, [x],
                    _where(x, kwargs), ["dx"], kwargs, out_hint=hint)


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
        got = _unpack(_call(input_window, layers, index, where=f"for {call}"), "(first, last)",
                      call)
        first, last = (_integer(value, f"{call}[{i}]") for i, value in enumerate(got))
        ref_first, ref_last = _input_window(layers, index)
        if (first, last) != (ref_first, ref_last):
            if last - first != ref_last - ref_first:
                hint = ("the window has the wrong length: how much does each layer widen it, "
                        "and how do the strides of the layers before it count?")
            else:
                hint = ("the window has the right length but is in the wrong place: where "
                        "does each layer's window start, and what does padding do to it?")
            raise CheckFailure(f"{call} returned ({first}, {last}), which is wrong: {hint}")
