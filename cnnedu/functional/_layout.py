"""NHWC layout and output sizes, shared by convolution and pooling (chapters 5 and 6).

Private: the kernels in ``conv.py`` and ``pool.py`` import it; the speed
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
