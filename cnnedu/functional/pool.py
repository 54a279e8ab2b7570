"""Pooling: max and average over windows, forward and backward (chapter 6).

The loop twins to compare with are in ``cnnedu.reference``. Like the
convolution, the kernels work on an NHWC copy (see the speed notes of
``cnnedu.functional``).
"""

import numpy as np

from .._checks import check_dout, check_float, check_window, pair
from ._layout import fold, nhwc, output_hw


def _pool_setup(x, kernel_size, stride, who):
    """Check pooling arguments; return (kh, kw), stride as a pair and (OH, OW)."""
    check_float(x, "x", who, ndim=4, layout="(N, C, H, W)")
    kh, kw = pair(kernel_size, f"{who}: kernel_size", 1)
    stride = (kh, kw) if stride is None else stride
    H, W = x.shape[2:]
    stride, _ = check_window(H, W, kh, kw, stride, 0, who)
    return (kh, kw), stride, output_hw(H, W, kh, kw, stride, (0, 0))


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
    """Adjoint of ``_pool_windows``: each offset's gradient folded back, as an NCHW view."""
    N, C, H, W = x_shape
    return fold((N, H, W, C), kh, kw, stride, (0, 0), dwindows.dtype,
                lambda i, j: dwindows[i * kw + j]).transpose(0, 3, 1, 2)


def _tiles(x_nhwc, kh, kw, OH, OW):
    """The windows of a pooling whose stride is its kernel, as a free view (N, OH, kh, OW, kw, C).

    The windows tile the input, so splitting H into (OH, kh) and W into (OW, kw)
    names every window without copying; rows and columns that no window
    covers (H or W not a multiple of the kernel) are cropped first.
    """
    N, _, _, C = x_nhwc.shape
    return x_nhwc[:, :OH * kh, :OW * kw, :].reshape(N, OH, kh, OW, kw, C)


def _max_over_tiles(tiles):
    """(N, OH, OW, C) maxima of the tiles: kh + kw - 2 calls of np.maximum on strided views.

    Reducing with ``tiles.max(axis=(2, 4))`` is slower: its inner loop runs over
    the 2 values of a short axis instead of over the C contiguous channels.
    """
    kh, kw = tiles.shape[2], tiles.shape[4]
    rows = tiles[:, :, 0]
    if kh > 1:
        rows = np.maximum(rows, tiles[:, :, 1])
        for i in range(2, kh):
            np.maximum(rows, tiles[:, :, i], out=rows)
    out = rows[:, :, :, 0]
    if kw > 1:
        out = np.maximum(out, rows[:, :, :, 1])
        for j in range(2, kw):
            np.maximum(out, rows[:, :, :, j], out=out)
    return np.ascontiguousarray(out)


def _first_maxima(is_max, kh, kw, C):
    """Keep, in each window, only the first True of ``is_max`` in row-major order.

    is_max: (N, OH, kh, OW*kw*C) bool, row i of every window along the last
    axis, where the window's column j of channel c sits at (ow*kw + j)*C + c.
    Changed in place. A neighbour s columns away is s*C values away, so every
    step is a shifted copy of the mask along whole image rows; ``col`` (the
    column of each value in its window) stops a shift from crossing windows.
    """
    col = np.arange(is_max.shape[-1]) // C % kw
    # 1. Within each row of a window: clear a True that has a True to its left.
    for s in range(1, kw):
        is_max[..., s * C:] &= ~(is_max[..., :-s * C] & (col[s * C:] >= s))
    # 2. Across rows: clear a row's True if an earlier row of the window has one. ``seen``
    # marks every column of such windows: each row's True, spread to the window's columns.
    seen = np.zeros_like(is_max[:, :, 0])
    for i in range(kh):
        row = is_max[:, :, i]
        row &= ~seen
        if i == kh - 1:
            break
        spread = row.copy()
        for s in range(1, kw):
            spread[..., s * C:] |= row[..., :-s * C] & (col[s * C:] >= s)
            spread[..., :-s * C] |= row[..., s * C:] & (col[:-s * C] < kw - s)
        seen |= spread


def _max_tiles_backward(dout_nhwc, tiles, out, x_shape):
    """Gradient of ``_max_over_tiles``: one mask of the maxima routes dout to its inputs.

    If a window holds its maximum twice (a tie), only the first position in
    row-major order keeps it, as in the general path. Ties are common in real
    data (a flat background, zeros after ReLU): ``_first_maxima`` settles them
    when the mask's count shows one. Returns dx as an NCHW view of NHWC memory.
    """
    N, C, H, W = x_shape
    _, OH, kh, OW, kw, _ = tiles.shape
    # Each maximum and each gradient repeated kw times along W, so that the comparison and
    # the product run along whole image rows (OW*kw*C values) instead of C values at a time.
    rows = tiles.reshape(N, OH, kh, OW * kw, C)                 # a view: merges OW and kw
    is_max = rows == np.repeat(out, kw, axis=2)[:, :, None]
    # A window with a NaN maximum has no True, any other at least one.
    if np.count_nonzero(is_max) > np.count_nonzero(out == out):
        _first_maxima(is_max.reshape(N, OH, kh, OW * kw * C), kh, kw, C)
    covered = (OH * kh, OW * kw) == (H, W)
    dx = (np.empty if covered else np.zeros)((N, H, W, C), dtype=dout_nhwc.dtype)
    dx_rows = dx[:, :OH * kh, :OW * kw, :].reshape(rows.shape)  # a view: splits H only
    np.multiply(is_max, np.repeat(dout_nhwc, kw, axis=2)[:, :, None], out=dx_rows)
    return dx.transpose(0, 3, 1, 2)


def max_pool2d_forward(x, kernel_size=2, stride=None):
    """Max pooling: the largest value of each window.

    x: (N, C, H, W) float32/float64. kernel_size (>= 1) and stride (>= 1) are
    an int or a pair (height, width); stride defaults to kernel_size, so a
    (2, 3) kernel moves by (2, 3) and the windows tile the input.
    Returns out (N, C, OH, OW) of x's dtype, OH = (H - kh) // sh + 1 (likewise
    OW), and a cache: the gathered windows (when the stride equals the kernel,
    a free view of the input's tiles instead) and the output, from which
    backward finds the position of each maximum.

    Raises TypeError for a non-float x or non-int kernel_size or stride,
    ValueError for a wrong rank, values below 1 or a window larger than the
    input.

    Chapter 6. Source: CS231n notes, "Pooling layer".
    """
    (kh, kw), stride, (OH, OW) = _pool_setup(x, kernel_size, stride, "max_pool2d_forward")
    if stride == (kh, kw):
        tiles = _tiles(nhwc(x), kh, kw, OH, OW)
        out = _max_over_tiles(tiles)
        return out.transpose(0, 3, 1, 2), (x.shape, tiles, out, kh, kw, stride)
    windows = _pool_windows(nhwc(x), kh, kw, stride, OH, OW)
    out = windows.max(axis=0)
    return out.transpose(0, 3, 1, 2), (x.shape, windows, out, kh, kw, stride)


def max_pool2d_backward(dout, cache):
    """Gradient of ``max_pool2d_forward``: dout (N, C, OH, OW) -> dx (N, C, H, W).

    Each window's gradient goes to exactly one input: the first offset
    (row-major, as ``np.argmax``) that holds the maximum; ``taken`` stops a
    tie from sending it twice. A window whose maximum is NaN passes no
    gradient. dx has dout's dtype.

    Raises TypeError or ValueError unless dout has the dtype and shape of the
    forward output.

    Chapter 6. Source: CS231n notes, "Pooling layer".
    """
    x_shape, windows, out, kh, kw, stride = cache
    N, OH, OW, C = out.shape
    check_dout(dout, (N, C, OH, OW), out.dtype, "max_pool2d_backward")
    dout_nhwc = nhwc(dout)
    if windows.ndim == 6:  # the tiles of the fast path
        return _max_tiles_backward(dout_nhwc, windows, out, x_shape)
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

    Raises as ``max_pool2d_forward``.

    Chapter 6. Source: LeCun et al. (1998), "subsampling" layers of LeNet-5.
    """
    (kh, kw), stride, (OH, OW) = _pool_setup(x, kernel_size, stride, "avg_pool2d_forward")
    out = _pool_windows(nhwc(x), kh, kw, stride, OH, OW).mean(axis=0, dtype=x.dtype)
    return out.transpose(0, 3, 1, 2), (x.shape, x.dtype, kh, kw, stride)


def avg_pool2d_backward(dout, cache):
    """Gradient of ``avg_pool2d_forward``: each input gets 1/(kh*kw) of every window it is in.

    dout: (N, C, OH, OW), the shape and dtype of the forward output. Returns
    dx (N, C, H, W) of that dtype.

    Raises TypeError or ValueError unless dout has the dtype and shape of the
    forward output.

    Chapter 6. Source: as ``avg_pool2d_forward``.
    """
    x_shape, dtype, kh, kw, stride = cache
    N, C, H, W = x_shape
    OH, OW = output_hw(H, W, kh, kw, stride, (0, 0))
    check_dout(dout, (N, C, OH, OW), dtype, "avg_pool2d_backward")
    share = nhwc(dout) / dout.dtype.type(kh * kw)
    dwindows = np.broadcast_to(share, (kh * kw, *share.shape))
    return _pool_scatter(dwindows, x_shape, kh, kw, stride)
