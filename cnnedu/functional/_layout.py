"""NHWC layout, output sizes, folding and column sums, shared by the kernels (chapters 5, 6, 11).

Private: the kernels in ``conv.py``, ``pool.py`` and ``norm.py`` import it; the speed
notes in the package docstring say why they work channels-last.
"""

import numpy as np


def nhwc(x):
    """NHWC contiguous array for an NCHW array (free if x is already a view of NHWC memory)."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def output_hw(H, W, kh, kw, stride, padding):
    """(OH, OW) for a kh x kw window; stride and padding are pairs."""
    (sh, sw), (ph, pw) = stride, padding
    return (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1


def column_sums(rows):
    """The sum of each column of a 2-D array (M, C), as a matrix-vector product.

    For an array of a few columns, BLAS does this several times faster than
    ``rows.sum(axis=0)``, which adds one row at a time.
    """
    return np.ones(len(rows), rows.dtype) @ rows


def per_pixel(v, pixels):
    """A per-channel vector v (C,) repeated for ``pixels`` pixels: (pixels * C,).

    Added to (or multiplied with) the (N, pixels * C) view of NHWC memory, it
    does what broadcasting v over (N * pixels, C) rows does, but NumPy's inner
    loop then runs over a whole image instead of C values at a time, which is
    several times faster for a few channels.
    """
    return np.tile(v, pixels)


def fold(shape, kh, kw, stride, padding, dtype, window):
    """The adjoint of im2col: a zero NHWC image of ``shape`` (N, H, W, C), to which
    ``window(i, j)`` (N, OH, OW, C), the values of filter offset (i, j), is added at the input
    positions that offset read. Returns the (N, H, W, C) view inside the padding."""
    (sh, sw), (ph, pw) = stride, padding
    N, H, W, C = shape
    OH, OW = output_hw(H, W, kh, kw, stride, padding)
    padded = np.zeros((N, H + 2 * ph, W + 2 * pw, C), dtype=dtype)
    for i in range(kh):
        for j in range(kw):
            padded[:, i:i + sh * OH:sh, j:j + sw * OW:sw, :] += window(i, j)
    return padded[:, ph:ph + H, pw:pw + W, :]
