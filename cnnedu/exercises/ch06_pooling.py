"""Chapter 6's exercise checks (pooling): see ``cnnedu.exercises``."""

import numpy as np

from cnnedu import functional as F
from cnnedu import reference as R

from ._common import (
    _call,
    _close,
    _dims,
    _distinct,
    _unpack,
    exercise,
    numerical_gradient_array,
)


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
