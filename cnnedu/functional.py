"""Kernels: convolution, pooling, activations and softmax as plain functions.

Every layer is a pair ``*_forward(x, ...) -> (out, cache)`` and
``*_backward(dout, cache) -> grads``, in the style of CS231n's ``layers.py``.
Tensors are NCHW. No Python loop runs over samples or pixels; the only loops
are over the ``kh * kw`` filter offsets.

Speed notes (measured in ``benchmarks/run.py``):

* **Channels-last inside.** The public layout is NCHW, but conv and pooling
  work on an NHWC copy: then one im2col row is ``kh * kw * C`` contiguous
  values, building it is a handful of large slice copies, and the convolution
  is one matrix multiply. The output is returned as an NCHW *view* of NHWC
  memory (``transpose`` costs nothing), so the next conv or pool gets its NHWC
  array back for free.
* **float32 stays float32.** Every buffer is made with ``dtype=x.dtype``; a
  stray ``np.zeros(shape)`` would silently switch to float64 and cost 2x.
* **No ``np.add.at``.** col2im adds one strided slice per filter offset, which
  is several times faster than scattering with ``np.add.at``.
"""

import numpy as np

__all__ = [
    "conv_output_size", "im2col", "col2im",
    "conv2d_forward", "conv2d_backward",
    "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d_forward", "avg_pool2d_backward",
    "relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward",
    "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
    "softmax", "log_softmax", "softmax_cross_entropy",
]


# ----------------------------------------------------------------------------
# Checks at the public boundary
# ----------------------------------------------------------------------------

def _pair(value, name):
    """Turn ``3`` or ``(3, 5)`` into a pair of ints."""
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, (int, np.integer)) for v in value):
        return int(value[0]), int(value[1])
    raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")


def _check_float_array(x, name, ndim, layout):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(x).__name__}")
    if x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions {layout}, "
                         f"got shape {x.shape}")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got {x.dtype}")


def _check_geometry(H, W, kh, kw, stride, padding, who):
    if stride < 1:
        raise ValueError(f"{who}: stride must be >= 1, got {stride}")
    if padding < 0:
        raise ValueError(f"{who}: padding must be >= 0, got {padding}")
    if kh > H + 2 * padding or kw > W + 2 * padding:
        raise ValueError(
            f"{who}: kernel {kh}x{kw} is larger than the padded input "
            f"{H + 2 * padding}x{W + 2 * padding} (input {H}x{W}, padding {padding})")


def conv_output_size(size, kernel_size, stride=1, padding=0):
    """Output length of a convolution or pooling window: ``(size + 2P - K) // S + 1``."""
    return (size + 2 * padding - kernel_size) // stride + 1


# ----------------------------------------------------------------------------
# im2col / col2im, channels-last
# ----------------------------------------------------------------------------

def im2col(x_nhwc, kh, kw, stride=1, padding=0):
    """Unfold every ``kh x kw`` window of an NHWC array into one row.

    x_nhwc: (N, H, W, C). Returns cols of shape (N, OH, OW, kh, kw, C); reshape
    it to (N*OH*OW, kh*kw*C) for the matrix multiply. The loop runs over the
    kh*kw filter offsets only: each step copies one strided slice of the
    whole batch.
    """
    N, H, W, C = x_nhwc.shape
    OH = conv_output_size(H, kh, stride, padding)
    OW = conv_output_size(W, kw, stride, padding)
    if padding:
        x_nhwc = np.pad(x_nhwc, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    cols = np.empty((N, OH, OW, kh, kw, C), dtype=x_nhwc.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = x_nhwc[:, i:i + stride * OH:stride,
                                            j:j + stride * OW:stride, :]
    return cols


def col2im(cols, H, W, stride=1, padding=0):
    """Fold window rows back into an image, adding where windows overlap.

    cols: (N, OH, OW, kh, kw, C). Returns (N, H, W, C), the adjoint of ``im2col``.
    """
    N, OH, OW, kh, kw, C = cols.shape
    padded = np.zeros((N, H + 2 * padding, W + 2 * padding, C), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            padded[:, i:i + stride * OH:stride, j:j + stride * OW:stride, :] += cols[:, :, :, i, j, :]
    return padded[:, padding:padding + H, padding:padding + W, :]


def _nhwc(x):
    """NHWC contiguous array for an NCHW array (free if x is already a view of NHWC memory)."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


# ----------------------------------------------------------------------------
# Convolution
# ----------------------------------------------------------------------------

def conv2d_forward(x, w, b, stride=1, padding=0):
    """2-D convolution (cross-correlation, as in every DL framework).

    x: (N, C, H, W) input
    w: (F, C, kh, kw) filters
    b: (F,) biases
    Returns out of shape (N, F, OH, OW) with OH = (H + 2P - kh) // S + 1, and a
    cache for ``conv2d_backward``.
    """
    _check_float_array(x, "conv2d_forward: x", 4, "(N, C, H, W)")
    _check_float_array(w, "conv2d_forward: w", 4, "(F, C, kh, kw)")
    if w.dtype != x.dtype or b.dtype != x.dtype:
        raise TypeError(f"conv2d_forward: x, w and b must share a dtype, got "
                        f"{x.dtype}, {w.dtype} and {b.dtype}; use .astype() on one of them")
    N, C, H, W = x.shape
    F, Cw, kh, kw = w.shape
    if Cw != C:
        raise ValueError(f"conv2d_forward: w expects {Cw} input channels, x has {C} "
                         f"(x shape {x.shape}, w shape {w.shape})")
    if b.shape != (F,):
        raise ValueError(f"conv2d_forward: b must have shape ({F},), got {b.shape}")
    _check_geometry(H, W, kh, kw, stride, padding, "conv2d_forward")

    cols = im2col(_nhwc(x), kh, kw, stride, padding)
    _, OH, OW = cols.shape[:3]
    cols = cols.reshape(N * OH * OW, kh * kw * C)
    # Filters as a (kh*kw*C, F) matrix, in the same (i, j, c) order as a row of cols.
    w_mat = w.transpose(2, 3, 1, 0).reshape(kh * kw * C, F)
    out = cols @ w_mat
    out += b
    out = out.reshape(N, OH, OW, F).transpose(0, 3, 1, 2)  # NCHW view of NHWC memory
    cache = (x.shape, w, cols, stride, padding)
    return out, cache


def conv2d_backward(dout, cache):
    """Gradients of ``conv2d_forward``.

    dout: (N, F, OH, OW). Returns dx (N, C, H, W), dw (F, C, kh, kw), db (F,).
    """
    x_shape, w, cols, stride, padding = cache
    N, C, H, W = x_shape
    F, _, kh, kw = w.shape
    OH, OW = dout.shape[2:]
    # Rows of dout_mat line up with rows of cols: one per (n, oh, ow).
    dout_mat = _nhwc(dout).reshape(N * OH * OW, F)
    db = dout_mat.sum(axis=0)
    dw = (cols.T @ dout_mat).reshape(kh, kw, C, F).transpose(3, 2, 0, 1)
    w_mat = w.transpose(2, 3, 1, 0).reshape(kh * kw * C, F)
    dcols = (dout_mat @ w_mat.T).reshape(N, OH, OW, kh, kw, C)
    dx = col2im(dcols, H, W, stride, padding).transpose(0, 3, 1, 2)
    return dx, np.ascontiguousarray(dw), db


# ----------------------------------------------------------------------------
# Pooling
# ----------------------------------------------------------------------------

def _pool_setup(x, kernel_size, stride, who):
    _check_float_array(x, f"{who}: x", 4, "(N, C, H, W)")
    kh, kw = _pair(kernel_size, "kernel_size")
    stride = kh if stride is None else stride
    if not isinstance(stride, (int, np.integer)):
        raise TypeError(f"{who}: stride must be an int, got {stride!r}")
    _check_geometry(x.shape[2], x.shape[3], kh, kw, stride, 0, who)
    return kh, kw, int(stride)


def _pool_windows(x_nhwc, kh, kw, stride, OH, OW):
    """Stack the kh*kw pooling offsets: returns (kh*kw, N, OH, OW, C).

    Copying strided slices is fast; reducing over them in place is not (the
    ufunc inner loop would run over only C values at a time), so we gather
    first and then reduce one contiguous axis.
    """
    N, _, _, C = x_nhwc.shape
    windows = np.empty((kh * kw, N, OH, OW, C), dtype=x_nhwc.dtype)
    for i in range(kh):
        for j in range(kw):
            windows[i * kw + j] = x_nhwc[:, i:i + stride * OH:stride, j:j + stride * OW:stride, :]
    return windows


def _pool_scatter(dwindows, x_shape, kh, kw, stride):
    """Adjoint of ``_pool_windows``: add each offset's gradient back into an NCHW view."""
    N, C, H, W = x_shape
    _, _, OH, OW, _ = dwindows.shape
    dx = np.zeros((N, H, W, C), dtype=dwindows.dtype)
    for i in range(kh):
        for j in range(kw):
            target = dx[:, i:i + stride * OH:stride, j:j + stride * OW:stride, :]
            if stride >= max(kh, kw):  # windows don't overlap: plain copies suffice
                target[...] = dwindows[i * kw + j]
            else:
                target += dwindows[i * kw + j]
    return dx.transpose(0, 3, 1, 2)


def max_pool2d_forward(x, kernel_size=2, stride=None):
    """Max pooling. x: (N, C, H, W) -> out (N, C, OH, OW); stride defaults to kernel_size.

    The cache keeps the gathered windows and the output, from which backward
    finds the position of each maximum.
    """
    kh, kw, stride = _pool_setup(x, kernel_size, stride, "max_pool2d_forward")
    N, C, H, W = x.shape
    OH, OW = conv_output_size(H, kh, stride), conv_output_size(W, kw, stride)
    windows = _pool_windows(_nhwc(x), kh, kw, stride, OH, OW)
    out = windows.max(axis=0)
    return out.transpose(0, 3, 1, 2), (x.shape, windows, out, kh, kw, stride)


def max_pool2d_backward(dout, cache):
    """Gradient of ``max_pool2d_forward``: dout (N, C, OH, OW) -> dx (N, C, H, W).

    Each window's gradient goes to exactly one input: the first offset that
    holds the maximum (``taken`` stops a tie from sending it twice).
    """
    x_shape, windows, out, kh, kw, stride = cache
    dout_nhwc = _nhwc(dout)
    dwindows = np.zeros_like(windows)
    taken = np.zeros(out.shape, dtype=bool)
    for k in range(kh * kw):
        is_max = windows[k] == out
        is_max &= ~taken
        taken |= is_max
        np.multiply(dout_nhwc, is_max, out=dwindows[k])
    return _pool_scatter(dwindows, x_shape, kh, kw, stride)


def avg_pool2d_forward(x, kernel_size=2, stride=None):
    """Average pooling. x: (N, C, H, W) -> out (N, C, OH, OW); stride defaults to kernel_size."""
    kh, kw, stride = _pool_setup(x, kernel_size, stride, "avg_pool2d_forward")
    N, C, H, W = x.shape
    OH, OW = conv_output_size(H, kh, stride), conv_output_size(W, kw, stride)
    out = _pool_windows(_nhwc(x), kh, kw, stride, OH, OW).mean(axis=0, dtype=x.dtype)
    return out.transpose(0, 3, 1, 2), (x.shape, kh, kw, stride)


def avg_pool2d_backward(dout, cache):
    """Gradient of ``avg_pool2d_forward``: each input gets 1/(kh*kw) of every window it is in."""
    x_shape, kh, kw, stride = cache
    share = _nhwc(dout) / dout.dtype.type(kh * kw)
    dwindows = np.broadcast_to(share, (kh * kw, *share.shape))
    return _pool_scatter(dwindows, x_shape, kh, kw, stride)


# ----------------------------------------------------------------------------
# Activations (elementwise; ufuncs keep the memory layout of their input)
# ----------------------------------------------------------------------------

def relu_forward(x):
    """max(0, x). Returns (out, cache)."""
    out = np.maximum(x, 0)
    return out, out


def relu_backward(dout, cache):
    """The gradient passes where the output was positive (0 at the kink)."""
    return dout * (cache > 0)


def leaky_relu_forward(x, alpha=0.01):
    """x for x > 0, alpha * x otherwise. Returns (out, cache)."""
    out = np.where(x > 0, x, x * x.dtype.type(alpha))
    return out, (x, alpha)


def leaky_relu_backward(dout, cache):
    x, alpha = cache
    return np.where(x > 0, dout, dout * dout.dtype.type(alpha))


def sigmoid_forward(x):
    """1 / (1 + exp(-x)), computed without overflow for large |x|."""
    # exp of a non-positive number never overflows
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out, out


def sigmoid_backward(dout, cache):
    out = cache
    return dout * out * (1 - out)


def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    out = cache
    return dout * (1 - out * out)


# ----------------------------------------------------------------------------
# Softmax and cross-entropy
# ----------------------------------------------------------------------------

def log_softmax(scores):
    """log softmax over the last axis, by the log-sum-exp trick.

    Subtracting the row maximum leaves the result unchanged mathematically but
    keeps every exp() in (0, 1], so nothing overflows and log never sees 0.
    """
    shifted = scores - scores.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(scores):
    """Probabilities over the last axis; stable for any finite scores."""
    shifted = scores - scores.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def check_labels(y, n, n_classes, who):
    """Raise a clear error unless y is n integer labels in [0, n_classes)."""
    if not isinstance(y, np.ndarray) or y.ndim != 1:
        raise ValueError(f"{who}: labels must be a 1-D integer array, got "
                         f"{getattr(y, 'shape', type(y).__name__)}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{who}: labels must be integers (class indices), got dtype {y.dtype}")
    if len(y) != n:
        raise ValueError(f"{who}: {n} samples but {len(y)} labels; they must match")
    if n and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{who}: labels must be in [0, {n_classes - 1}] for {n_classes} "
                         f"classes, got values from {y.min()} to {y.max()}")


def softmax_cross_entropy(scores, y):
    """Mean cross-entropy of softmax(scores) against integer labels.

    scores: (N, K) float, y: (N,) ints in [0, K).
    Returns (loss, dscores) with dscores = (softmax(scores) - onehot(y)) / N.
    """
    if not isinstance(scores, np.ndarray) or scores.ndim != 2:
        raise ValueError(f"softmax_cross_entropy: scores must have shape (N, K), got "
                         f"{getattr(scores, 'shape', type(scores).__name__)}")
    N, K = scores.shape
    check_labels(y, N, K, "softmax_cross_entropy")
    logp = log_softmax(scores)
    loss = -logp[np.arange(N), y].mean()
    dscores = np.exp(logp)
    dscores[np.arange(N), y] -= 1
    dscores /= N
    return loss, dscores
