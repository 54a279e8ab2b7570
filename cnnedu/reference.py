"""Convolution and pooling as plain nested loops, the way a learner first writes them.

Chapters 4 to 6 and the tests compare the vectorised kernels in
``cnnedu.functional`` against these. They are slow on purpose: every output
element is computed from its definition, so they are easy to check by eye.

Shapes are NCHW as in ``cnnedu.functional``; ``kernel_size``, ``stride`` and
``padding`` are an int or a pair (height, width). The loops trust their
arguments, except that each backward raises ValueError if ``dout`` does not
have the shape of the forward output (the loops would otherwise read past it
or stop short, silently).
"""

import numpy as np


def _pair(value):
    """3 -> (3, 3); (2, 3) stays (2, 3)."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _check_dout(dout, shape, who):
    if dout.shape != shape:
        raise ValueError(f"{who}: dout must have shape {shape}, the shape of the forward "
                         f"output, got {dout.shape}")


def _conv_shape(x_shape, w_shape, stride, padding):
    """(N, F, OH, OW) of a convolution."""
    N, C, H, W = x_shape
    F, _, kh, kw = w_shape
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    return N, F, (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1


def conv2d_forward(x, w, b, stride=1, padding=0):
    """x: (N, C, H, W), w: (F, C, kh, kw), b: (F,) -> out (N, F, OH, OW)."""
    F, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.zeros(_conv_shape(x.shape, w.shape, stride, padding), dtype=x.dtype)
    N, _, OH, OW = out.shape
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    window = x_pad[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out


def conv2d_backward(dout, x, w, stride=1, padding=0):
    """Gradients of ``conv2d_forward``: returns dx, dw, db."""
    N, _, H, W = x.shape
    F, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    _check_dout(dout, _conv_shape(x.shape, w.shape, stride, padding), "conv2d_backward")
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


def _pool_shape(x_shape, kernel_size, stride):
    """(N, C, OH, OW) of a pooling; stride None means kernel_size."""
    N, C, H, W = x_shape
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = (kh, kw) if stride is None else _pair(stride)
    return N, C, (H - kh) // sh + 1, (W - kw) // sw + 1


def _pool_windows(x_shape, kernel_size, stride):
    """Yield (output index, input window index) for every pooling window."""
    N, C, OH, OW = _pool_shape(x_shape, kernel_size, stride)
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = (kh, kw) if stride is None else _pair(stride)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    yield (n, c, i, j), (n, c, slice(i * sh, i * sh + kh),
                                         slice(j * sw, j * sw + kw))


def max_pool2d_forward(x, kernel_size=2, stride=None):
    """Max pooling: x (N, C, H, W) -> (N, C, OH, OW)."""
    out = np.zeros(_pool_shape(x.shape, kernel_size, stride), dtype=x.dtype)
    for out_index, window in _pool_windows(x.shape, kernel_size, stride):
        out[out_index] = np.max(x[window])
    return out


def max_pool2d_backward(dout, x, kernel_size=2, stride=None):
    """Each window's gradient goes to its first maximum (``np.argmax``; a NaN counts as one)."""
    _check_dout(dout, _pool_shape(x.shape, kernel_size, stride), "max_pool2d_backward")
    dx = np.zeros_like(x)
    for out_index, window in _pool_windows(x.shape, kernel_size, stride):
        patch = x[window]
        i, j = np.unravel_index(np.argmax(patch), patch.shape)
        n, c, rows, cols = window
        dx[n, c, rows.start + i, cols.start + j] += dout[out_index]
    return dx


def avg_pool2d_forward(x, kernel_size=2, stride=None):
    """Average pooling: x (N, C, H, W) -> (N, C, OH, OW)."""
    out = np.zeros(_pool_shape(x.shape, kernel_size, stride), dtype=x.dtype)
    for out_index, window in _pool_windows(x.shape, kernel_size, stride):
        out[out_index] = np.mean(x[window])
    return out


def avg_pool2d_backward(dout, x, kernel_size=2, stride=None):
    """Each input in a window gets an equal share of that window's gradient."""
    _check_dout(dout, _pool_shape(x.shape, kernel_size, stride), "avg_pool2d_backward")
    kh, kw = _pair(kernel_size)
    dx = np.zeros_like(x)
    for out_index, window in _pool_windows(x.shape, kernel_size, stride):
        dx[window] += dout[out_index] / (kh * kw)
    return dx


def batch_norm_forward(x, gamma, beta, mean=None, var=None, eps=1e-5):
    """Batch normalisation from its definition, one channel and one value at a time.

    x: (N, C) or (N, C, H, W). Without ``mean``/``var``, each channel's mean and
    biased variance are summed over the batch (and H, W) in loops; with them,
    they are used as given. Returns out, like x.
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
