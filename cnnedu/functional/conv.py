"""Convolution: output size, im2col and col2im, and conv2d forward and backward (chapters 4 and 5).

The loop twin to compare with is ``cnnedu.reference.conv2d_forward``. Why the
kernels work on an NHWC copy is in the speed notes of ``cnnedu.functional``.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._checks import check_dout, check_float, check_window, is_int, pair
from ._layout import column_sums, fold, nhwc, output_hw, per_pixel


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


# -- im2col / col2im, channels-last ---------------------------------------------

# A batch chunk's im2col matrix is kept near this size: small enough to still be in the
# cache when the matrix product reads it, large enough for an efficient product.
CHUNK_BYTES = 8 * 2**20


def _batch_chunks(N, bytes_per_sample):
    """Slices of the batch, each holding about CHUNK_BYTES (at least one sample)."""
    size = max(1, CHUNK_BYTES // max(1, bytes_per_sample))
    return [slice(start, min(N, start + size)) for start in range(0, N, size)]


def _im2col(x_nhwc, kh, kw, stride, padding, OH, OW, cols=None):
    """im2col without the checks: (N, OH, OW, kh, kw, C), written into ``cols`` if given
    (C > 1 only: one channel gets its own offset-major memory, see below)."""
    (sh, sw), (ph, pw) = stride, padding
    if ph or pw:
        x_nhwc = np.pad(x_nhwc, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    N, _, _, C = x_nhwc.shape
    # A copy is fast when its innermost runs are long. With one channel (a first layer), the
    # columns are stored offset-major, (kh, kw, N, OH, OW) in memory, so that each filter
    # offset is one copy along image rows; the result is a view of that memory in the usual
    # shape. Otherwise every window, taken as a view, is copied at once in runs of kw * C values.
    if C == 1:
        by_offset = np.empty((kh, kw, N, OH, OW), dtype=x_nhwc.dtype)
        for i in range(kh):
            for j in range(kw):
                by_offset[i, j] = x_nhwc[:, i:i + sh * OH:sh, j:j + sw * OW:sw, 0]
        return by_offset.transpose(2, 3, 4, 0, 1)[..., None]
    if cols is None:
        cols = np.empty((N, OH, OW, kh, kw, C), dtype=x_nhwc.dtype)
    windows = sliding_window_view(x_nhwc, (kh, kw), axis=(1, 2))[:, :sh * OH:sh, :sw * OW:sw]
    np.copyto(cols, windows.transpose(0, 1, 2, 4, 5, 3))
    return cols


def _as_matrix(cols):
    """The (N*OH*OW, kh*kw*C) matrix of im2col's columns, without a copy for either memory
    layout that ``_im2col`` makes (for offset-major memory it is a transposed view)."""
    N, OH, OW, kh, kw, C = cols.shape
    if cols.flags.c_contiguous:
        return cols.reshape(N * OH * OW, kh * kw * C)
    return cols.transpose(3, 4, 5, 0, 1, 2).reshape(kh * kw * C, N * OH * OW).T


def im2col(x_nhwc, kh, kw, stride=1, padding=0):
    """Unfold every ``kh x kw`` window of an NHWC array into one row.

    x_nhwc: (N, H, W, C) float32/float64. kh, kw: ints >= 1; stride, padding:
    int or pair (height, width). Returns cols of shape (N, OH, OW, kh, kw, C),
    same dtype; reshape it to (N*OH*OW, kh*kw*C) for the matrix multiply.
    No loop runs over samples or pixels: all windows are copied at once from
    a ``sliding_window_view`` (or, for C = 1, one strided slice of the whole
    batch per filter offset).

    Raises TypeError for a non-float x_nhwc or non-int geometry, ValueError
    for a wrong rank, bad values or a window larger than the padded input.

    Chapters 4 and 5. Source: Chellapilla, Puri and Simard (2006), *High
    performance convolutional neural networks for document processing*.
    """
    who = "im2col"
    check_float(x_nhwc, "x_nhwc", who, ndim=4, layout="(N, H, W, C)")
    kh, kw = pair((kh, kw), f"{who}: (kh, kw)", 1)
    N, H, W, C = x_nhwc.shape
    stride, padding = check_window(H, W, kh, kw, stride, padding, who)
    OH, OW = output_hw(H, W, kh, kw, stride, padding)
    return np.ascontiguousarray(_im2col(x_nhwc, kh, kw, stride, padding, OH, OW))


def col2im(cols, H, W, stride=1, padding=0):
    """Fold window rows back into an image, adding where windows overlap.

    cols: (N, OH, OW, kh, kw, C) float32/float64, as ``im2col`` returns for an
    H x W input with this stride and padding. Returns (N, H, W, C), same
    dtype: the adjoint of ``im2col``.

    Raises TypeError and ValueError as ``im2col``, and ValueError if (OH, OW)
    does not match H, W, the kernel, stride and padding.

    Chapters 4 and 5. Source: as ``im2col``.
    """
    who = "col2im"
    check_float(cols, "cols", who, ndim=6, layout="(N, OH, OW, kh, kw, C)")
    H, W = pair((H, W), f"{who}: (H, W)", 0)
    N, OH, OW, kh, kw, C = cols.shape
    if kh < 1 or kw < 1:
        raise ValueError(f"{who}: cols must have kh, kw >= 1, got shape {cols.shape}")
    stride, padding = check_window(H, W, kh, kw, stride, padding, who)
    expected = output_hw(H, W, kh, kw, stride, padding)
    if (OH, OW) != expected:
        raise ValueError(f"{who}: cols must have {expected[0]}x{expected[1]} windows (OH, OW) for "
                         f"a {H}x{W} input, kernel {kh}x{kw}, stride {stride}, padding {padding}, "
                         f"got {OH}x{OW} (shape {cols.shape})")
    return fold((N, H, W, C), kh, kw, stride, padding, cols.dtype,
                lambda i, j: cols[:, :, :, i, j, :])


# -- convolution ------------------------------------------------------------------

def conv2d_forward(x, w, b, stride=1, padding=0):
    """2-D convolution (cross-correlation, as in every DL framework).

    x: (N, C, H, W) float32/float64 input; w: (F, C, kh, kw) filters and b:
    (F,) biases, both of x's dtype; stride (>= 1) and padding (>= 0): int or
    pair (height, width). Returns out of shape (N, F, OH, OW), x's dtype,
    with OH = (H + 2*ph - kh) // sh + 1 (likewise OW), and a cache for
    ``conv2d_backward``.

    Raises TypeError for a non-array, a non-float x, or w or b of another
    dtype than x; ValueError for wrong ranks or shapes, bad stride or padding,
    or a kernel larger than the padded input.

    Chapter 5. Source: CS231n notes, "Convolutional Networks"; im2col as in
    Chellapilla et al. (2006).
    """
    who = "conv2d_forward"
    check_float(x, "x", who, ndim=4, layout="(N, C, H, W)")
    check_float(w, "w", who, x.dtype, like="x", ndim=4, layout="(F, C, kh, kw)")
    check_float(b, "b", who, x.dtype, like="x", ndim=1, layout="(F,)")
    N, C, H, W = x.shape
    F, Cw, kh, kw = w.shape
    if Cw != C:
        raise ValueError(f"{who}: w expects {Cw} input channels, x has {C} "
                         f"(x shape {x.shape}, w shape {w.shape})")
    if kh < 1 or kw < 1:
        raise ValueError(f"{who}: w must have kh, kw >= 1, got shape {w.shape}")
    if b.shape != (F,):
        raise ValueError(f"{who}: b must have shape ({F},), one bias per filter, got {b.shape}")
    stride, padding = check_window(H, W, kh, kw, stride, padding, who)
    OH, OW = output_hw(H, W, kh, kw, stride, padding)

    x_nhwc, K = nhwc(x), kh * kw * C
    # Filters as a (kh*kw*C, F) matrix, in the same (i, j, c) order as a row of cols.
    w_mat = w.transpose(2, 3, 1, 0).reshape(K, F)
    out = np.empty((N, OH, OW, F), dtype=x.dtype)
    if C == 1:  # offset-major columns (see _im2col), all in one product
        cols = _as_matrix(_im2col(x_nhwc, kh, kw, stride, padding, OH, OW))
        np.matmul(cols, w_mat, out=out.reshape(N * OH * OW, F))
    else:
        cols = np.empty((N, OH, OW, kh, kw, C), dtype=x.dtype)
        # Build and multiply one batch chunk at a time: the product reads columns still in cache.
        for part in _batch_chunks(N, OH * OW * K * x.itemsize):
            rows = (part.stop - part.start) * OH * OW
            _im2col(x_nhwc[part], kh, kw, stride, padding, OH, OW, cols[part])
            np.matmul(cols[part].reshape(rows, K), w_mat, out=out[part].reshape(rows, F))
        cols = cols.reshape(N * OH * OW, K)
    images = out.reshape(N, OH * OW * F)  # a view: one row per image
    images += per_pixel(b, OH * OW)
    cache = (x.shape, w, cols, stride, padding)
    return out.transpose(0, 3, 1, 2), cache  # NCHW view of NHWC memory


def conv2d_backward(dout, cache, input_grad=True):
    """Gradients of ``conv2d_forward``: dx, dw and db.

    dout: (N, F, OH, OW), the shape and dtype of the forward output. Returns
    dx (N, C, H, W), dw (F, C, kh, kw) and db (F,), all of that dtype.
    dx is the adjoint of im2col applied to ``dout @ w_mat.T``, computed one
    filter offset at a time (see the speed notes). With ``input_grad=False``,
    dx is None and is not computed: a network's first layer needs no
    gradient for its input, the images.

    Raises TypeError for a non-array dout or one of another dtype, or an
    input_grad that is not a bool; ValueError for another shape of dout.

    Chapter 5. Source: CS231n notes, "Convolutional Networks".
    """
    x_shape, w, cols, stride, padding = cache
    N, C, H, W = x_shape
    F, _, kh, kw = w.shape
    OH, OW = output_hw(H, W, kh, kw, stride, padding)
    check_dout(dout, (N, F, OH, OW), w.dtype, "conv2d_backward")
    if not isinstance(input_grad, (bool, np.bool_)):
        raise TypeError(f"conv2d_backward: input_grad must be True or False, got {input_grad!r}")
    # Rows of dout_mat line up with rows of cols: one per (n, oh, ow).
    dout_mat = nhwc(dout).reshape(N * OH * OW, F)
    db = column_sums(dout_mat)
    dw = np.ascontiguousarray((cols.T @ dout_mat).reshape(kh, kw, C, F).transpose(3, 2, 0, 1))
    if not input_grad:
        return None, dw, db
    # dx without a column matrix: the filter offset (i, j) moved each input value by (i, j),
    # so its share of dx, dout @ w[:, :, i, j], is folded back as col2im folds cols.
    share = np.empty((N * OH * OW, C), dtype=dout.dtype)

    def offset_share(i, j):
        return np.matmul(dout_mat, w[:, :, i, j], out=share).reshape(N, OH, OW, C)
    dx = fold((N, H, W, C), kh, kw, stride, padding, dout.dtype, offset_share)
    return dx.transpose(0, 3, 1, 2), dw, db
