"""Kernels: convolution, pooling, activations and softmax as plain functions.

Chapters 2 (softmax), 3 (ReLU), 4 (gradient checks, sigmoid, im2col), 5
(convolution), 6 (pooling) and 8 (tanh, leaky ReLU) build these;
``cnnedu.layers`` wraps them in classes and ``cnnedu.reference`` holds
loop-based twins of conv and pooling to test against.

Every layer is a pair ``*_forward(x, ...) -> (out, cache)`` and
``*_backward(dout, cache) -> grads``, in the style of CS231n's ``layers.py``.
Tensors are NCHW. No Python loop runs over samples or pixels; the only loops
are over the ``kh * kw`` filter offsets.

What the public functions accept (anything else raises TypeError for a wrong
type or dtype, ValueError for a wrong shape or value; the message names the
argument, what it got and what it expected):

* **Arrays** are NumPy arrays of float32 or float64; convert images with
  ``x.astype(np.float32) / 255``. The other arrays of a call (``w``, ``b``,
  ``dout``) must have the dtype of ``x`` (of the forward output for
  ``dout``): float32 stays float32 and nothing is converted behind your back.
* **Geometry.** ``kernel_size`` (>= 1), ``stride`` (>= 1) and ``padding``
  (>= 0) are an int or a pair of ints ``(height, width)``, as in PyTorch;
  bools are not ints. A window larger than the padded input is an error.
* **dout** must have the shape and dtype of the forward output.
* **Zero samples** (N = 0) give empty outputs and gradients of the right
  shapes. Only ``softmax_cross_entropy`` refuses them: its mean would be 0/0.
* **NaN and inf are not checked** (that would cost a pass over the data);
  they go through as IEEE arithmetic says: relu(-inf) = 0, sigmoid(+-inf) =
  1 or 0, leaky_relu(-inf) = -inf (NaN for alpha = 0: 0 * -inf), and a
  NaN or +inf score makes the loss NaN, which ``Sequential.fit`` reports.
  A max-pooling window containing NaN outputs NaN and passes no gradient.

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
* **Checks are O(1).** They look at types, shapes and dtypes, never at the
  values of an array (only the range of integer labels is checked).
"""

import sys
from typing import NamedTuple

import numpy as np

from ._checks import check_dout, check_float_array, check_labels, is_int, pair

__all__ = [
    "conv_output_size", "im2col", "col2im",
    "conv2d_forward", "conv2d_backward",
    "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d_forward", "avg_pool2d_backward",
    "relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward",
    "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
    "softmax", "log_softmax", "softmax_cross_entropy",
    "batch_norm_forward", "batch_norm_backward",
]


# ----------------------------------------------------------------------------
# Checks at the public boundary
# ----------------------------------------------------------------------------


def _output_hw(H, W, kh, kw, stride, padding):
    """(OH, OW) for a kh x kw window; stride and padding are pairs."""
    (sh, sw), (ph, pw) = stride, padding
    return (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1


def _check_geometry(H, W, kh, kw, stride, padding, who):
    """Check stride and padding and that the kh x kw window fits the padded H x W input.

    Returns stride and padding as pairs and the output size (OH, OW).
    """
    strides = pair(stride, f"{who}: stride", 1)
    ph, pw = pair(padding, f"{who}: padding", 0)
    if kh > H + 2 * ph or kw > W + 2 * pw:
        raise ValueError(
            f"{who}: kernel {kh}x{kw} is larger than the padded input "
            f"{H + 2 * ph}x{W + 2 * pw} (input {H}x{W}, padding {padding!r})")
    return strides, (ph, pw), _output_hw(H, W, kh, kw, strides, (ph, pw))


def conv_output_size(size, kernel_size, stride=1, padding=0):
    """Output length of a convolution or pooling window: ``(size + 2P - K) // S + 1``.

    Each argument is an int, or a pair (height, width) of ints; if any is a
    pair, the result is the pair (OH, OW), otherwise an int.

    Raises TypeError for an argument that is not an int or pair of ints,
    ValueError for size < 0, kernel_size < 1, stride < 1, padding < 0, or a
    kernel larger than the padded size (no window fits).

    Chapter 5. Source: Dumoulin and Visin (2016), *A guide to convolution
    arithmetic for deep learning*, relationship 6.
    """
    who = "conv_output_size"
    sizes = pair(size, f"{who}: size", 0)
    kernels = pair(kernel_size, f"{who}: kernel_size", 1)
    strides = pair(stride, f"{who}: stride", 1)
    pads = pair(padding, f"{who}: padding", 0)
    out = tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(sizes, kernels, strides, pads))
    if min(out) < 1:
        raise ValueError(f"{who}: kernel_size {kernel_size!r} is larger than size {size!r} "
                         f"plus twice padding {padding!r}: no window fits")
    return out[0] if all(map(is_int, (size, kernel_size, stride, padding))) else out


# ----------------------------------------------------------------------------
# im2col / col2im, channels-last
# ----------------------------------------------------------------------------

def _im2col(x_nhwc, kh, kw, stride, padding, OH, OW):
    (sh, sw), (ph, pw) = stride, padding
    if ph or pw:
        x_nhwc = np.pad(x_nhwc, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    N, _, _, C = x_nhwc.shape
    cols = np.empty((N, OH, OW, kh, kw, C), dtype=x_nhwc.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = x_nhwc[:, i:i + sh * OH:sh, j:j + sw * OW:sw, :]
    return cols


def _col2im(cols, H, W, stride, padding):
    (sh, sw), (ph, pw) = stride, padding
    N, OH, OW, kh, kw, C = cols.shape
    padded = np.zeros((N, H + 2 * ph, W + 2 * pw, C), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            padded[:, i:i + sh * OH:sh, j:j + sw * OW:sw, :] += cols[:, :, :, i, j, :]
    return padded[:, ph:ph + H, pw:pw + W, :]


def im2col(x_nhwc, kh, kw, stride=1, padding=0):
    """Unfold every ``kh x kw`` window of an NHWC array into one row.

    x_nhwc: (N, H, W, C) float32/float64. kh, kw: ints >= 1; stride, padding:
    int or pair (height, width). Returns cols of shape (N, OH, OW, kh, kw, C),
    same dtype; reshape it to (N*OH*OW, kh*kw*C) for the matrix multiply. The
    loop runs over the kh*kw filter offsets only: each step copies one strided
    slice of the whole batch.

    Raises TypeError/ValueError as described in the module docstring.
    Chapters 4 and 5. Source: Chellapilla, Puri and Simard (2006), *High
    performance convolutional neural networks for document processing*.
    """
    check_float_array(x_nhwc, "im2col: x_nhwc", 4, "(N, H, W, C)")
    kh, kw = pair((kh, kw), "im2col: (kh, kw)", 1)
    N, H, W, C = x_nhwc.shape
    stride, padding, (OH, OW) = _check_geometry(H, W, kh, kw, stride, padding, "im2col")
    return _im2col(x_nhwc, kh, kw, stride, padding, OH, OW)


def col2im(cols, H, W, stride=1, padding=0):
    """Fold window rows back into an image, adding where windows overlap.

    cols: (N, OH, OW, kh, kw, C) float32/float64, as ``im2col`` returns for an
    H x W input with this stride and padding. Returns (N, H, W, C), same
    dtype: the adjoint of ``im2col``.

    Raises TypeError/ValueError as described in the module docstring, and
    ValueError if (OH, OW) does not match H, W, the kernel, stride and padding.
    Chapters 4 and 5. Source: as ``im2col``.
    """
    who = "col2im"
    check_float_array(cols, f"{who}: cols", 6, "(N, OH, OW, kh, kw, C)")
    H, W = pair((H, W), f"{who}: (H, W)", 0)
    N, OH, OW, kh, kw, C = cols.shape
    if kh < 1 or kw < 1:
        raise ValueError(f"{who}: cols must have kh, kw >= 1, got shape {cols.shape}")
    stride, padding, expected = _check_geometry(H, W, kh, kw, stride, padding, who)
    if (OH, OW) != expected:
        raise ValueError(f"{who}: cols must have {expected[0]}x{expected[1]} windows (OH, OW) for "
                         f"a {H}x{W} input, kernel {kh}x{kw}, stride {stride}, padding {padding}, "
                         f"got {OH}x{OW} (shape {cols.shape})")
    return _col2im(cols, H, W, stride, padding)


def _nhwc(x):
    """NHWC contiguous array for an NCHW array (free if x is already a view of NHWC memory)."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


# ----------------------------------------------------------------------------
# Convolution
# ----------------------------------------------------------------------------

def conv2d_forward(x, w, b, stride=1, padding=0):
    """2-D convolution (cross-correlation, as in every DL framework).

    x: (N, C, H, W) float32/float64 input
    w: (F, C, kh, kw) filters, b: (F,) biases, both of x's dtype
    stride, padding: int or pair (height, width); stride >= 1, padding >= 0
    Returns out of shape (N, F, OH, OW), x's dtype, with
    OH = (H + 2*ph - kh) // sh + 1 (likewise OW), and a cache for
    ``conv2d_backward``.

    Raises TypeError for a non-array, a non-float x, or w or b of another
    dtype than x; ValueError for wrong ranks or shapes, bad stride or padding,
    or a kernel larger than the padded input.
    Chapter 5. Source: CS231n notes, "Convolutional Networks"; im2col as in
    Chellapilla et al. (2006).
    """
    who = "conv2d_forward"
    check_float_array(x, f"{who}: x", 4, "(N, C, H, W)")
    check_float_array(w, f"{who}: w", 4, "(F, C, kh, kw)", x.dtype)
    check_float_array(b, f"{who}: b", 1, "(F,)", x.dtype)
    N, C, H, W = x.shape
    F, Cw, kh, kw = w.shape
    if Cw != C:
        raise ValueError(f"{who}: w expects {Cw} input channels, x has {C} "
                         f"(x shape {x.shape}, w shape {w.shape})")
    if kh < 1 or kw < 1:
        raise ValueError(f"{who}: w must have kh, kw >= 1, got shape {w.shape}")
    if b.shape != (F,):
        raise ValueError(f"{who}: b must have shape ({F},), one bias per filter, got {b.shape}")
    stride, padding, (OH, OW) = _check_geometry(H, W, kh, kw, stride, padding, who)

    cols = _im2col(_nhwc(x), kh, kw, stride, padding, OH, OW).reshape(N * OH * OW, kh * kw * C)
    # Filters as a (kh*kw*C, F) matrix, in the same (i, j, c) order as a row of cols.
    w_mat = w.transpose(2, 3, 1, 0).reshape(kh * kw * C, F)
    out = cols @ w_mat
    out += b
    out = out.reshape(N, OH, OW, F).transpose(0, 3, 1, 2)  # NCHW view of NHWC memory
    cache = (x.shape, w, cols, stride, padding)
    return out, cache


def conv2d_backward(dout, cache):
    """Gradients of ``conv2d_forward``.

    dout: (N, F, OH, OW), the shape and dtype of the forward output.
    Returns dx (N, C, H, W), dw (F, C, kh, kw), db (F,), all of that dtype.
    Raises TypeError or ValueError if dout's type, dtype or shape is wrong.
    Chapter 5. Source: CS231n notes, "Convolutional Networks".
    """
    x_shape, w, cols, stride, padding = cache
    N, C, H, W = x_shape
    F, _, kh, kw = w.shape
    OH, OW = _output_hw(H, W, kh, kw, stride, padding)
    check_dout(dout, (N, F, OH, OW), w.dtype, "conv2d_backward")
    # Rows of dout_mat line up with rows of cols: one per (n, oh, ow).
    dout_mat = _nhwc(dout).reshape(N * OH * OW, F)
    db = dout_mat.sum(axis=0)
    dw = (cols.T @ dout_mat).reshape(kh, kw, C, F).transpose(3, 2, 0, 1)
    w_mat = w.transpose(2, 3, 1, 0).reshape(kh * kw * C, F)
    dcols = (dout_mat @ w_mat.T).reshape(N, OH, OW, kh, kw, C)
    dx = _col2im(dcols, H, W, stride, padding).transpose(0, 3, 1, 2)
    return dx, np.ascontiguousarray(dw), db


# ----------------------------------------------------------------------------
# Pooling
# ----------------------------------------------------------------------------

def _pool_setup(x, kernel_size, stride, who):
    """Check pooling arguments; return (kh, kw), stride as a pair and (OH, OW)."""
    check_float_array(x, f"{who}: x", 4, "(N, C, H, W)")
    kernel = pair(kernel_size, f"{who}: kernel_size", 1)
    stride = kernel if stride is None else stride
    stride, _, out_hw = _check_geometry(x.shape[2], x.shape[3], *kernel, stride, 0, who)
    return kernel, stride, out_hw


def _pool_windows(x_nhwc, kh, kw, stride, OH, OW):
    """Stack the kh*kw pooling offsets: returns (kh*kw, N, OH, OW, C).

    Copying strided slices is fast; reducing over them in place is not (the
    ufunc inner loop would run over only C values at a time), so we gather
    first and then reduce one contiguous axis.
    """
    N, _, _, C = x_nhwc.shape
    sh, sw = stride
    windows = np.empty((kh * kw, N, OH, OW, C), dtype=x_nhwc.dtype)
    for i in range(kh):
        for j in range(kw):
            windows[i * kw + j] = x_nhwc[:, i:i + sh * OH:sh, j:j + sw * OW:sw, :]
    return windows


def _pool_scatter(dwindows, x_shape, kh, kw, stride):
    """Adjoint of ``_pool_windows``: add each offset's gradient back into an NCHW view."""
    N, C, H, W = x_shape
    _, _, OH, OW, _ = dwindows.shape
    sh, sw = stride
    dx = np.zeros((N, H, W, C), dtype=dwindows.dtype)
    for i in range(kh):
        for j in range(kw):
            target = dx[:, i:i + sh * OH:sh, j:j + sw * OW:sw, :]
            if sh >= kh and sw >= kw:  # windows don't overlap: plain copies suffice
                target[...] = dwindows[i * kw + j]
            else:
                target += dwindows[i * kw + j]
    return dx.transpose(0, 3, 1, 2)


def max_pool2d_forward(x, kernel_size=2, stride=None):
    """Max pooling: the largest value of each window.

    x: (N, C, H, W) float32/float64. kernel_size (>= 1) and stride (>= 1) are
    an int or a pair (height, width); stride defaults to kernel_size, so a
    (2, 3) kernel moves by (2, 3) and the windows tile the input.
    Returns out (N, C, OH, OW) of x's dtype, OH = (H - kh) // sh + 1 (likewise
    OW), and a cache: the gathered windows and the output, from which
    backward finds the position of each maximum.

    Raises TypeError/ValueError for a bad x, kernel_size or stride, or a
    window larger than the input. Chapter 6. Source: CS231n notes, "Pooling layer".
    """
    (kh, kw), stride, (OH, OW) = _pool_setup(x, kernel_size, stride, "max_pool2d_forward")
    windows = _pool_windows(_nhwc(x), kh, kw, stride, OH, OW)
    out = windows.max(axis=0)
    return out.transpose(0, 3, 1, 2), (x.shape, windows, out, kh, kw, stride)


def max_pool2d_backward(dout, cache):
    """Gradient of ``max_pool2d_forward``: dout (N, C, OH, OW) -> dx (N, C, H, W).

    dout must have the shape and dtype of the forward output (else ValueError
    or TypeError). Each window's gradient goes to exactly one input: the
    first offset (row-major, as ``np.argmax``) that holds the maximum;
    ``taken`` stops a tie from sending it twice. A window whose maximum is
    NaN passes no gradient. Chapter 6. Source: CS231n notes, "Pooling layer".
    """
    x_shape, windows, out, kh, kw, stride = cache
    N, OH, OW, C = out.shape
    check_dout(dout, (N, C, OH, OW), out.dtype, "max_pool2d_backward")
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
    """Average pooling: the mean of each window.

    Arguments, shapes, dtypes and errors as ``max_pool2d_forward``. Returns
    out (N, C, OH, OW) and a cache for ``avg_pool2d_backward``.
    Chapter 6. Source: LeCun et al. (1998), "subsampling" layers of LeNet-5.
    """
    (kh, kw), stride, (OH, OW) = _pool_setup(x, kernel_size, stride, "avg_pool2d_forward")
    out = _pool_windows(_nhwc(x), kh, kw, stride, OH, OW).mean(axis=0, dtype=x.dtype)
    return out.transpose(0, 3, 1, 2), (x.shape, x.dtype, kh, kw, stride)


def avg_pool2d_backward(dout, cache):
    """Gradient of ``avg_pool2d_forward``: each input gets 1/(kh*kw) of every window it is in.

    dout: (N, C, OH, OW), the shape and dtype of the forward output (else
    ValueError or TypeError). Returns dx (N, C, H, W). Chapter 6.
    """
    x_shape, dtype, kh, kw, stride = cache
    N, C, H, W = x_shape
    OH, OW = _output_hw(H, W, kh, kw, stride, (0, 0))
    check_dout(dout, (N, C, OH, OW), dtype, "avg_pool2d_backward")
    share = _nhwc(dout) / dout.dtype.type(kh * kw)
    dwindows = np.broadcast_to(share, (kh * kw, *share.shape))
    return _pool_scatter(dwindows, x_shape, kh, kw, stride)


# ----------------------------------------------------------------------------
# Activations (elementwise; ufuncs keep the memory layout of their input)
# ----------------------------------------------------------------------------

def relu_forward(x):
    """max(0, x), elementwise. x: any shape, float32/float64. Returns (out, cache).

    Raises TypeError for a non-array or non-float x. Chapter 3. Source: Nair
    and Hinton (2010), *Rectified linear units improve restricted Boltzmann machines*.
    """
    check_float_array(x, "relu_forward: x", None, "")
    out = np.maximum(x, 0)
    return out, out


def relu_backward(dout, cache):
    """Gradient of ``relu_forward``: dout where the output was positive, else 0 (also at the kink).

    dout: the shape and dtype of x, else ValueError or TypeError. Returns dx,
    same shape and dtype. Chapter 3.
    """
    check_dout(dout, cache.shape, cache.dtype, "relu_backward")
    return dout * (cache > 0)


def leaky_relu_forward(x, alpha=0.01):
    """x for x > 0, alpha * x otherwise. Returns (out, cache).

    x: any shape, float32/float64. alpha: a finite real number >= 0 (an int,
    float or NumPy scalar, not a bool); usually small, 0 gives ReLU.
    Raises TypeError for a bad x or a non-number alpha, ValueError for a
    negative, NaN or infinite alpha.
    Chapter 8. Source: Maas, Hannun and Ng (2013), *Rectifier nonlinearities
    improve neural network acoustic models*.
    """
    who = "leaky_relu_forward"
    check_float_array(x, f"{who}: x", None, "")
    if not isinstance(alpha, (int, float, np.integer, np.floating)) or isinstance(alpha, bool):
        raise TypeError(f"{who}: alpha must be a real number, got {alpha!r}")
    if not 0 <= alpha <= sys.float_info.max:  # False for NaN, inf and ints too big for a float
        raise ValueError(f"{who}: alpha must be a finite number >= 0, got {alpha!r}")
    out = np.where(x > 0, x, x * x.dtype.type(alpha))
    return out, (x, alpha)


def leaky_relu_backward(dout, cache):
    """Gradient of ``leaky_relu_forward``: dout where x > 0, alpha * dout elsewhere.

    dout: the shape and dtype of x, else ValueError or TypeError. Returns dx,
    same shape and dtype. Chapter 8.
    """
    x, alpha = cache
    check_dout(dout, x.shape, x.dtype, "leaky_relu_backward")
    return np.where(x > 0, dout, dout * dout.dtype.type(alpha))


def sigmoid_forward(x):
    """1 / (1 + exp(-x)), computed without overflow for large |x|.

    x: any shape, float32/float64. Returns (out, cache). Raises TypeError for
    a non-array or non-float x. Chapters 4 and 8. Source: CS231n notes,
    "Neural Networks Part 1".
    """
    check_float_array(x, "sigmoid_forward: x", None, "")
    # exp of a non-positive number never overflows
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out, out


def sigmoid_backward(dout, cache):
    """Gradient of ``sigmoid_forward``: dx = dout * s * (1 - s), s the forward output.

    dout: the shape and dtype of x, else ValueError or TypeError. Returns dx,
    same shape and dtype. Chapters 4 and 8.
    """
    out = cache
    check_dout(dout, out.shape, out.dtype, "sigmoid_backward")
    return dout * out * (1 - out)


def tanh_forward(x):
    """tanh(x), elementwise. x: any shape, float32/float64. Returns (out, cache).

    Raises TypeError for a non-array or non-float x. Chapter 8. Source:
    CS231n notes, "Neural Networks Part 1".
    """
    check_float_array(x, "tanh_forward: x", None, "")
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """Gradient of ``tanh_forward``: dx = dout * (1 - t**2), t the forward output.

    dout: the shape and dtype of x, else ValueError or TypeError. Returns dx,
    same shape and dtype. Chapter 8.
    """
    out = cache
    check_dout(dout, out.shape, out.dtype, "tanh_backward")
    return dout * (1 - out * out)


# ----------------------------------------------------------------------------
# Softmax and cross-entropy
# ----------------------------------------------------------------------------

def _check_scores(scores, who, ndim=None, layout=""):
    check_float_array(scores, f"{who}: scores", ndim, layout)
    if scores.ndim == 0 or scores.shape[-1] == 0:
        raise ValueError(f"{who}: scores must have at least one class along the last axis, "
                         f"got shape {scores.shape}")


def log_softmax(scores):
    """log softmax over the last axis, by the log-sum-exp trick.

    scores: (..., K) float32/float64 with K >= 1; returns the same shape and
    dtype. Subtracting the row maximum leaves the result unchanged
    mathematically but keeps every exp() in (0, 1], so nothing overflows and
    log never sees 0. Raises TypeError for a non-float array, ValueError for
    a 0-d array or K = 0. Chapter 2. Source: CS231n notes, "Linear classification".
    """
    _check_scores(scores, "log_softmax")
    shifted = scores - scores.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(scores):
    """Probabilities over the last axis; stable for any finite scores.

    scores: (..., K) float32/float64 with K >= 1; returns the same shape and
    dtype. Errors as ``log_softmax``. Chapter 2.
    """
    _check_scores(scores, "softmax")
    shifted = scores - scores.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)



def softmax_cross_entropy(scores, y):
    """Mean cross-entropy of softmax(scores) against integer labels.

    scores: (N, K) float32/float64 with N, K >= 1; y: (N,) integer labels in [0, K).
    Returns (loss, dscores) with dscores = (softmax(scores) - onehot(y)) / N,
    of scores' dtype. NaN or +inf scores give a NaN loss (not checked).

    Raises TypeError for a non-float scores or non-integer labels, ValueError
    for wrong shapes, labels out of range, or N = 0 (a mean over no samples).
    Chapter 2. Source: CS231n notes, "Linear classification".
    """
    who = "softmax_cross_entropy"
    _check_scores(scores, who, 2, "(N, K)")
    N, K = scores.shape
    check_labels(y, N, K, who)
    if N == 0:
        raise ValueError(f"{who}: scores has no samples (shape {scores.shape}); "
                         "the mean loss over 0 samples is undefined")
    logp = log_softmax(scores)
    loss = -logp[np.arange(N), y].mean()
    dscores = np.exp(logp)
    dscores[np.arange(N), y] -= 1
    dscores /= N
    return loss, dscores


# ----------------------------------------------------------------------------
# Batch normalisation
# ----------------------------------------------------------------------------

class BatchNormCache(NamedTuple):
    """What ``batch_norm_backward`` needs; ``mean`` and ``var`` are the statistics used."""
    x_hat: np.ndarray      # the normalised input, shape of x
    inv_std: np.ndarray    # 1 / sqrt(var + eps), shape (C,)
    gamma: np.ndarray
    axes: tuple            # the axes averaged over: (0,) or (0, 2, 3)
    mean: np.ndarray       # (C,): the batch mean in training, the given mean in evaluation
    var: np.ndarray        # (C,): the batch variance (biased, 1/m) in training, else the given
    train: bool


def batch_norm_forward(x, gamma, beta, mean=None, var=None, eps=1e-5):
    """Batch normalisation: ``gamma * (x - mean) / sqrt(var + eps) + beta`` per channel.

    x: (N, C) or (N, C, H, W), float32/float64; the statistics are taken per
    channel C, over N (and H, W). gamma, beta: (C,), the dtype of x.
    Training (``mean`` and ``var`` None): the mean and the biased variance
    (divided by m = N or N*H*W) of this batch. Evaluation: the given ``mean``
    and ``var``, (C,) arrays, usually running averages (``cnnedu.BatchNorm2D``
    keeps them). eps: a small number > 0 added to the variance.
    Returns (out, cache), out like x; ``cache.mean``/``cache.var`` are the
    statistics used. Raises TypeError/ValueError for wrong types, dtypes or
    shapes, and ValueError in training if a channel has fewer than 2 values
    (one value has no variance; PyTorch refuses it too).
    The generalisation chapter. Source: Ioffe and Szegedy (2015),
    *Batch normalization: accelerating deep network training by reducing
    internal covariate shift*.
    """
    who = "batch_norm_forward"
    check_float_array(x, f"{who}: x", None, "")
    if x.ndim not in (2, 4):
        raise ValueError(f"{who}: x must have shape (N, C) or (N, C, H, W), got {x.shape}")
    C = x.shape[1]
    for name, a in (("gamma", gamma), ("beta", beta)) + (
            (("mean", mean), ("var", var)) if mean is not None or var is not None else ()):
        check_float_array(a, f"{who}: {name}", 1, "(C,)", x.dtype)
        if a.shape != (C,):
            raise ValueError(f"{who}: {name} must have shape ({C},), one value per channel of "
                             f"x {x.shape}, got {a.shape}")
    if not isinstance(eps, (int, float, np.floating)) or isinstance(eps, bool) or not eps > 0:
        raise ValueError(f"{who}: eps must be a number > 0, got {eps!r}")
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    shape = (1, C) + (1,) * (x.ndim - 2)          # broadcasts a (C,) array over x
    train = mean is None
    if train:
        m = x.size // max(C, 1)
        if m < 2:
            raise ValueError(f"{who}: training needs at least 2 values per channel to take a "
                             f"variance, got x of shape {x.shape}")
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
    inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
    x_hat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
    out = gamma.reshape(shape) * x_hat + beta.reshape(shape)
    return out, BatchNormCache(x_hat, inv_std, gamma, axes, mean, var, train)


def batch_norm_backward(dout, cache):
    """Gradients of ``batch_norm_forward``: returns (dx, dgamma, dbeta).

    dout: the shape and dtype of x. dgamma, dbeta: (C,). In training the mean
    and variance depend on every value of the batch, and with x_hat the
    normalised input and m the values per channel,
    ``dx = inv_std / m * (m * g - sum(g) - x_hat * sum(g * x_hat))``, where
    ``g = gamma * dout`` and the sums run over the batch (and H, W). In
    evaluation the statistics are constants: ``dx = gamma * inv_std * dout``.
    Raises ValueError/TypeError for a dout of the wrong shape or dtype. The generalisation
    chapter.
    """
    x_hat, inv_std, gamma, axes, _, _, train = cache
    check_dout(dout, x_hat.shape, x_hat.dtype, "batch_norm_backward")
    shape = (1, x_hat.shape[1]) + (1,) * (x_hat.ndim - 2)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    g = dout * gamma.reshape(shape)
    if not train:
        return g * inv_std.reshape(shape), dgamma, dbeta
    m = x_hat.size // x_hat.shape[1]
    dx = (inv_std.reshape(shape) / m) * (m * g - g.sum(axis=axes, keepdims=True)
                                         - x_hat * (g * x_hat).sum(axis=axes, keepdims=True))
    return dx, dgamma, dbeta
