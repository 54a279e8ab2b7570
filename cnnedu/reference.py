"""Convolution and pooling as plain nested loops, the way a learner first writes them.

These are slow on purpose: every output element is computed from its
definition, so they are easy to check by eye. The tests and the chapters
compare the vectorised kernels in ``cnnedu.functional`` against them.
"""

import numpy as np


def conv2d_forward(x, w, b, stride=1, padding=0):
    """x: (N, C, H, W), w: (F, C, kh, kw), b: (F,) -> out (N, F, OH, OW)."""
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    OH = (H + 2 * padding - kh) // stride + 1
    OW = (W + 2 * padding - kw) // stride + 1
    out = np.zeros((N, F, OH, OW), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    window = x_pad[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out


def conv2d_backward(dout, x, w, stride=1, padding=0):
    """Gradients of ``conv2d_forward``: returns dx, dw, db."""
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.zeros(F, dtype=w.dtype)
    OH, OW = dout.shape[2:]
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    rows = slice(i * stride, i * stride + kh)
                    cols = slice(j * stride, j * stride + kw)
                    dw[f] += x_pad[n, :, rows, cols] * dout[n, f, i, j]
                    dx_pad[n, :, rows, cols] += w[f] * dout[n, f, i, j]
                    db[f] += dout[n, f, i, j]
    dx = dx_pad[:, :, padding:padding + H, padding:padding + W]
    return dx, dw, db


def _pool_shape(x_shape, kernel_size, stride):
    N, C, H, W = x_shape
    stride = kernel_size if stride is None else stride
    return N, C, (H - kernel_size) // stride + 1, (W - kernel_size) // stride + 1


def _pool_windows(x_shape, kernel_size, stride):
    """Yield (output index, input window index) for every pooling window."""
    N, C, OH, OW = _pool_shape(x_shape, kernel_size, stride)
    stride = kernel_size if stride is None else stride
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    yield (n, c, i, j), (n, c, slice(i * stride, i * stride + kernel_size),
                                         slice(j * stride, j * stride + kernel_size))


def max_pool2d_forward(x, kernel_size=2, stride=None):
    """Square max pooling: x (N, C, H, W) -> (N, C, OH, OW)."""
    out = np.zeros(_pool_shape(x.shape, kernel_size, stride), dtype=x.dtype)
    for out_index, window in _pool_windows(x.shape, kernel_size, stride):
        out[out_index] = np.max(x[window])
    return out


def max_pool2d_backward(dout, x, kernel_size=2, stride=None):
    """Each window's gradient goes to its (first) maximum."""
    dx = np.zeros_like(x)
    for out_index, window in _pool_windows(x.shape, kernel_size, stride):
        patch = x[window]
        i, j = np.unravel_index(np.argmax(patch), patch.shape)
        n, c, rows, cols = window
        dx[n, c, rows.start + i, cols.start + j] += dout[out_index]
    return dx


def avg_pool2d_forward(x, kernel_size=2, stride=None):
    """Square average pooling: x (N, C, H, W) -> (N, C, OH, OW)."""
    out = np.zeros(_pool_shape(x.shape, kernel_size, stride), dtype=x.dtype)
    for out_index, window in _pool_windows(x.shape, kernel_size, stride):
        out[out_index] = np.mean(x[window])
    return out


def avg_pool2d_backward(dout, x, kernel_size=2, stride=None):
    """Each input in a window gets an equal share of that window's gradient."""
    dx = np.zeros_like(x)
    for out_index, window in _pool_windows(x.shape, kernel_size, stride):
        dx[window] += dout[out_index] / kernel_size**2
    return dx
