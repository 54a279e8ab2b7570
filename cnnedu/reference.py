"""Convolution, pooling and batch norm as plain nested loops, the way a learner first writes them.

Chapters 5 to 7 and 11 and the tests compare the vectorised kernels in
``cnnedu.functional`` against these. They are slow on purpose: every output
element is computed from its definition, so they are easy to check by eye.

Shapes are NCHW as in ``cnnedu.functional``; ``kernel_size``, ``stride`` and
``padding`` are an int or a pair (height, width). The loops trust their
arrays, but the geometry goes through the package's checks (TypeError or
ValueError for a bad kernel size, stride or padding), and each backward
raises ValueError if ``dout`` does not have the shape of the forward output
(the loops would otherwise read past it or stop short, silently).
"""

import numpy as np

from ._checks import check_shape, pair


def _conv_shape(x_shape, w_shape, stride, padding, who):
    """(N, F, OH, OW) of a convolution, and stride and padding as pairs."""
    N, C, H, W = x_shape
    F, _, kh, kw = w_shape
    (sh, sw), (ph, pw) = pair(stride, f"{who}: stride", 1), pair(padding, f"{who}: padding", 0)
    out_shape = (N, F, (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1)
    return out_shape, (sh, sw), (ph, pw)


def conv2d_forward(x, w, b, stride=1, padding=0):
    """2-D convolution from its definition: one dot product per output element.

    x: (N, C, H, W), w: (F, C, kh, kw), b: (F,). Returns out (N, F, OH, OW)
    in x's dtype (no cache).

    Raises TypeError/ValueError for a bad stride or padding.

    Chapter 5. Source: CS231n notes, "Convolutional Networks".
    """
    F, _, kh, kw = w.shape
    out_shape, (sh, sw), (ph, pw) = _conv_shape(x.shape, w.shape, stride, padding, "conv2d_forward")
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.zeros(out_shape, dtype=x.dtype)
    N, _, OH, OW = out.shape
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    window = x_pad[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out


def conv2d_backward(dout, x, w, stride=1, padding=0):
    """Gradients of ``conv2d_forward``, one output element at a time: returns dx, dw, db.

    dout: (N, F, OH, OW); x, w, stride and padding as given to the forward.
    dx is like x, dw like w, db (F,).

    Raises ValueError if dout does not have the shape of the forward output,
    TypeError/ValueError for a bad stride or padding.

    Chapter 5. Source: CS231n notes, "Convolutional Networks".
    """
    who = "conv2d_backward"
    N, _, H, W = x.shape
    F, _, kh, kw = w.shape
    out_shape, (sh, sw), (ph, pw) = _conv_shape(x.shape, w.shape, stride, padding, who)
    check_shape(dout, out_shape, "dout", who)
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.zeros(F, dtype=w.dtype)
    OH, OW = dout.shape[2:]
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    rows = slice(i * sh, i * sh + kh)
                    cols = slice(j * sw, j * sw + kw)
                    dw[f] += x_pad[n, :, rows, cols] * dout[n, f, i, j]
                    dx_pad[n, :, rows, cols] += w[f] * dout[n, f, i, j]
                    db[f] += dout[n, f, i, j]
    dx = dx_pad[:, :, ph:ph + H, pw:pw + W]
    return dx, dw, db


def _pool_windows(x_shape, kernel_size, stride, who):
    """The output shape (N, C, OH, OW) of a pooling, and its (output index, input window) pairs."""
    N, C, H, W = x_shape
    kh, kw = pair(kernel_size, f"{who}: kernel_size", 1)
    sh, sw = (kh, kw) if stride is None else pair(stride, f"{who}: stride", 1)
    OH, OW = (H - kh) // sh + 1, (W - kw) // sw + 1
    windows = (((n, c, i, j), (n, c, slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)))
               for n in range(N) for c in range(C) for i in range(OH) for j in range(OW))
    return (N, C, OH, OW), windows


def _pool_forward(x, kernel_size, stride, reduce, who):
    """x pooled by ``reduce`` (np.max or np.mean), one window at a time."""
    out_shape, windows = _pool_windows(x.shape, kernel_size, stride, who)
    out = np.zeros(out_shape, dtype=x.dtype)
    for out_index, window in windows:
        out[out_index] = reduce(x[window])
    return out


def max_pool2d_forward(x, kernel_size=2, stride=None):
    """Max pooling from its definition: x (N, C, H, W) -> (N, C, OH, OW), x's dtype.

    stride None means kernel_size. Raises TypeError/ValueError for a bad
    kernel_size or stride.

    Chapter 6. Source: CS231n notes, "Pooling layer".
    """
    return _pool_forward(x, kernel_size, stride, np.max, "max_pool2d_forward")


def max_pool2d_backward(dout, x, kernel_size=2, stride=None):
    """Gradient of max pooling: each window's gradient goes to its first maximum.

    The first maximum is ``np.argmax``'s, in row-major order (a NaN counts
    as one). dout: (N, C, OH, OW); returns dx like x.

    Raises ValueError if dout does not have the shape of the forward output,
    TypeError/ValueError for a bad kernel_size or stride.

    Chapter 6. Source: CS231n notes, "Pooling layer".
    """
    who = "max_pool2d_backward"
    out_shape, windows = _pool_windows(x.shape, kernel_size, stride, who)
    check_shape(dout, out_shape, "dout", who)
    dx = np.zeros_like(x)
    for out_index, window in windows:
        patch = x[window]
        i, j = np.unravel_index(np.argmax(patch), patch.shape)
        n, c, rows, cols = window
        dx[n, c, rows.start + i, cols.start + j] += dout[out_index]
    return dx


def avg_pool2d_forward(x, kernel_size=2, stride=None):
    """Average pooling from its definition: x (N, C, H, W) -> (N, C, OH, OW), x's dtype.

    stride None means kernel_size. Raises TypeError/ValueError for a bad
    kernel_size or stride.

    Chapter 6. Source: LeCun et al. (1998), "subsampling" layers of LeNet-5.
    """
    return _pool_forward(x, kernel_size, stride, np.mean, "avg_pool2d_forward")


def avg_pool2d_backward(dout, x, kernel_size=2, stride=None):
    """Gradient of average pooling: each input in a window gets an equal share of its gradient.

    dout: (N, C, OH, OW); returns dx like x.

    Raises ValueError if dout does not have the shape of the forward output,
    TypeError/ValueError for a bad kernel_size or stride.

    Chapter 6. Source: as ``avg_pool2d_forward``.
    """
    who = "avg_pool2d_backward"
    out_shape, windows = _pool_windows(x.shape, kernel_size, stride, who)
    check_shape(dout, out_shape, "dout", who)
    dx = np.zeros_like(x)
    for out_index, window in windows:
        dx[window] += dout[out_index] / dx[window].size  # an equal share for each value
    return dx


def batch_norm_forward(x, gamma, beta, mean=None, var=None, eps=1e-5):
    """Batch normalisation from its definition, one channel and one value at a time.

    x: (N, C) or (N, C, H, W); gamma, beta (and mean, var if given): (C,).
    Without ``mean``/``var``, each channel's mean and biased variance are
    summed over the batch (and H, W) in loops; with them, they are used as
    given. Returns out, like x (no cache).

    Raises nothing of its own: the loops trust their arguments.

    Chapter 11. Source: Ioffe and Szegedy (2015), *Batch normalization*, algorithm 1.
    """
    C = x.shape[1]
    out = np.zeros_like(x)
    for c in range(C):
        values = [x[index] for index in np.ndindex(x.shape) if index[1] == c]
        if mean is None:
            mu = sum(values) / len(values)
            sigma2 = sum((v - mu) ** 2 for v in values) / len(values)
        else:
            mu, sigma2 = mean[c], var[c]
        for index in np.ndindex(x.shape):
            if index[1] == c:
                out[index] = gamma[c] * (x[index] - mu) / np.sqrt(sigma2 + eps) + beta[c]
    return out
