"""Chapter 5's exercise checks (convolution): see ``cnnedu.exercises``.

The chapter shows the im2col forward pass (its ``conv2d_forward``); the
exercises ask for what it does not show: which inputs a layer never reads, the
backward pass of that forward, and a dilated convolution.
"""

import numpy as np

from cnnedu import functional as F

from ._common import (
    CheckFailure,
    _call,
    _check_pair,
    _close,
    _dims,
    _integer,
    exercise,
)


# ----------------------------------------------------------------------------
# ignored_inputs: the input positions that no window reads
# ----------------------------------------------------------------------------

def _ignored_inputs(size, kernel_size, stride, padding):
    """Positions of the unpadded axis that no window covers, counted by marking every window."""
    n_out = (size + 2 * padding - kernel_size) // stride + 1
    covered = np.zeros(size + 2 * padding, dtype=bool)
    for i in range(n_out):
        covered[i * stride:i * stride + kernel_size] = True
    return int(np.count_nonzero(~covered[padding:padding + size]))


# The geometries every answer must handle: (name, test of size n, kernel k, stride s, padding
# p and r, the remainder of the floor). Each defeats a plausible shortcut: the remainder alone
# counts padding as input, and "past the last window" alone misses the gaps between windows.
_GEOMETRIES = [
    ("fit", lambda n, k, s, p, r: s <= k and r == 0),
    ("floor", lambda n, k, s, p, r: s <= k and p == 0 and r > 0),
    ("floor in padding", lambda n, k, s, p, r: s <= k and 0 < r <= p),
    ("floor past padding", lambda n, k, s, p, r: s <= k and r > p > 0),
    ("gaps", lambda n, k, s, p, r: s > k and p == 0 and (n - k) // s >= 1),
    ("gaps and padding", lambda n, k, s, p, r: s > k and p > 0
                                                and _ignored_inputs(n, k, s, p) > max(r - p, 0)),
]


def _geometry(rng, test):
    while True:
        size, kernel = int(rng.integers(5, 30)), int(rng.integers(1, 6))
        stride, padding = int(rng.integers(1, 5)), int(rng.integers(0, 3))
        if padding >= kernel or size + 2 * padding < kernel:
            continue  # a padding as wide as the kernel gives windows of zeros only
        if test(size, kernel, stride, padding, (size + 2 * padding - kernel) % stride):
            return size, kernel, stride, padding


@exercise("ignored_inputs", ["ignored_inputs"], points=1)
def _check_ignored_inputs(rng, ignored_inputs):
    for index, (_, test) in enumerate(_GEOMETRIES):
        size, kernel, stride, padding = _geometry(rng, test)
        if index == 0:  # the defaults: stride 1, no padding
            stride, padding = 1, 0
            call = f"ignored_inputs({size}, {kernel})"
            got = _call(ignored_inputs, size, kernel, where=f"for {call}")
        else:
            call = f"ignored_inputs({size}, {kernel}, stride={stride}, padding={padding})"
            got = _call(ignored_inputs, size, kernel, stride=stride, padding=padding,
                        where=f"for {call}")
        got = _integer(got, call, "")
        if got != _ignored_inputs(size, kernel, stride, padding):
            if stride > kernel:
                hint = "the stride is larger than the kernel: what lies between two windows?"
            elif padding:
                hint = ("some of the positions that no window reaches may be padding, which "
                        "is not part of the input")
            else:
                hint = "look at the positions after the last window"
            raise CheckFailure(f"{call} returned {got}, which is wrong ({hint})")


# ----------------------------------------------------------------------------
# conv2d_backward: the backward pass of the chapter's im2col forward pass
# ----------------------------------------------------------------------------

def _conv_case(rng, case, small=False):
    """Random conv geometry: (x, w, b, stride, padding, description)."""
    N, C = 2, int(rng.integers(1, 4))
    Fn = int(rng.integers(2, 4 if small else 5))
    H, W = (int(v) for v in rng.integers(4, 7 if small else 9, 2))
    kh = kw = int(rng.integers(2, 4))
    stride, padding = [(1, 0), (2, 1), (int(rng.integers(1, 3)), int(rng.integers(0, 3)))][case]
    if case == 2:
        kw = int(rng.integers(1, 4))  # a non-square kernel
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((Fn, C, kh, kw))
    b = rng.standard_normal(Fn)
    where = (f"at a {_dims(x.shape)} input with {Fn} filters of {kh}x{kw}, "
             f"stride {stride}, padding {padding}")
    return x, w, b, stride, padding, where


@exercise("conv2d_backward", ["conv2d_forward", "conv2d_backward"], points=3)
def _check_conv2d_backward(rng, conv2d_forward, conv2d_backward):
    for case in range(3):
        x, w, b, stride, padding, where = _conv_case(rng, case, small=True)
        # functional.conv2d_forward is the reference here: it is tested against the
        # loop-based cnnedu.reference and is fast enough for a numerical gradient.
        ref = lambda x, w, b, stride, padding: F.conv2d_forward(x, w, b, stride, padding)[0]
        _check_pair(rng, conv2d_forward, conv2d_backward, ref, [x, w, b],
                    {"stride": stride, "padding": padding}, where, ["dx", "dw", "db"])


# ----------------------------------------------------------------------------
# conv2d_dilated: a variant of the forward pass
# ----------------------------------------------------------------------------

def _conv2d_dilated(x, w, b, stride, padding, dilation):
    """Dilated convolution by its definition, summed over the filter offsets (p, q)."""
    N, C, H, W = x.shape
    Fn, _, kh, kw = w.shape
    OH = (H + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    OW = (W + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((N, Fn, OH, OW)) + b[:, None, None]
    for p in range(kh):
        for q in range(kw):
            top, left = p * dilation, q * dilation
            patch = x_pad[:, :, top:top + stride * (OH - 1) + 1:stride,
                          left:left + stride * (OW - 1) + 1:stride]
            out += np.einsum("nchw,fc->nfhw", patch.astype(np.float64), w[:, :, p, q])
    return out


@exercise("conv2d_dilated", ["conv2d_dilated"], points=2)
def _check_conv2d_dilated(rng, conv2d_dilated):
    # (dilation, stride, padding): the defaults, "same" size, strided, large, float32.
    for case, (dilation, stride, padding) in enumerate([(1, 1, 0), (2, 1, 2), (2, 2, 1),
                                                        (3, 1, 0), (2, 1, 1)]):
        N, C, Fn = 2, int(rng.integers(1, 4)), int(rng.integers(2, 4))
        kh, kw = (3, 3) if case < 2 else (int(rng.integers(2, 4)), int(rng.integers(1, 4)))
        H, W = (int(v) for v in rng.integers(dilation * 2 + 4, dilation * 2 + 9, 2))
        dtype = np.float32 if case == 4 else np.float64
        x = rng.standard_normal((N, C, H, W)).astype(dtype)
        w = rng.standard_normal((Fn, C, kh, kw)).astype(dtype)
        b = rng.standard_normal(Fn).astype(dtype)
        where = (f"at a {_dims(x.shape)} {np.dtype(dtype)} input with {Fn} filters of "
                 f"{kh}x{kw}, stride {stride}, padding {padding}, dilation {dilation}")
        if case == 0:
            got = _call(conv2d_dilated, x.copy(), w.copy(), b.copy(), where=where)
        else:
            got = _call(conv2d_dilated, x.copy(), w.copy(), b.copy(), stride=stride,
                        padding=padding, dilation=dilation, where=where)
        expected = _conv2d_dilated(x, w, b, stride, padding, dilation).astype(dtype)
        _close(got, expected, "conv2d_dilated(...)", where,
               tol=1e-5 if dtype == np.float32 else 1e-7, dtype=dtype)
