"""Chapter 5's exercise checks (convolution): which inputs a layer never reads, the backward
pass of the chapter's im2col forward pass, a dilated convolution. See ``cnnedu.exercises``."""

import numpy as np

from cnnedu import functional as F

from ._common import (CheckFailure, _call, _check_pair, _close, _dims, _integer, _sizes,
                      exercise)


def _ignored_inputs(size, kernel_size, stride, padding):
    """Positions of the unpadded axis that no window covers, counted by marking every window."""
    covered = np.zeros(size + 2 * padding, dtype=bool)
    for start in range(0, size + 2 * padding - kernel_size + 1, stride):
        covered[start:start + kernel_size] = True
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
    """A random (size, kernel, stride, padding) that passes ``test``, padding below kernel."""
    while True:
        size, kernel = int(rng.integers(5, 30)), int(rng.integers(1, 6))
        stride, padding = int(rng.integers(1, 5)), int(rng.integers(0, 3))
        remainder = (size + 2 * padding - kernel) % stride
        if padding < kernel and test(size, kernel, stride, padding, remainder):
            return size, kernel, stride, padding


@exercise("ignored_inputs", ["ignored_inputs"], points=1)
def _check_ignored_inputs(rng, ignored_inputs):
    for index, (_, test) in enumerate(_GEOMETRIES):
        size, kernel, stride, padding = _geometry(rng, test)
        if index == 0:  # the defaults: stride 1, no padding
            stride, padding, kwargs = 1, 0, {}
            call = f"ignored_inputs({size}, {kernel})"
        else:
            kwargs = {"stride": stride, "padding": padding}
            call = f"ignored_inputs({size}, {kernel}, stride={stride}, padding={padding})"
        got = _integer(_call(ignored_inputs, size, kernel, **kwargs, where=f"for {call}"), call)
        if got != _ignored_inputs(size, kernel, stride, padding):
            if stride > kernel:
                hint = "the stride is larger than the kernel: what lies between two windows?"
            elif padding:
                hint = ("some of the positions that no window reaches may be padding, which "
                        "is not part of the input")
            else:
                hint = "look at the positions after the last window"
            raise CheckFailure(f"{call} returned {got}, which is wrong ({hint})")


@exercise("conv2d_backward", ["conv2d_forward", "conv2d_backward"], points=3)
def _check_conv2d_backward(rng, conv2d_forward, conv2d_backward):
    cases = [(1, 0), (2, 1), (int(rng.integers(1, 3)), int(rng.integers(0, 3)))]
    for case, (stride, padding) in enumerate(cases):
        C, Fn, kh = int(rng.integers(1, 4)), int(rng.integers(2, 4)), int(rng.integers(2, 4))
        kw = kh if case < 2 else int(rng.integers(1, 4))  # the last case: any kernel shape
        x = rng.standard_normal((2, C, *_sizes(rng, 4, 7, 2)))
        w, b = rng.standard_normal((Fn, C, kh, kw)), rng.standard_normal(Fn)
        where = (f"at a {_dims(x.shape)} input with {Fn} filters of {kh}x{kw}, "
                 f"stride {stride}, padding {padding}")
        # functional.conv2d_forward is tested against the loop twin in cnnedu.reference. The
        # forward is the chapter's: only its cache counts here.
        _check_pair(rng, conv2d_forward, conv2d_backward,
                    lambda x, w, b, stride, padding: F.conv2d_forward(x, w, b, stride, padding)[0],
                    [x, w, b], where, ["dx", "dw", "db"], {"stride": stride, "padding": padding},
                    compare_out=False)


def _conv2d_dilated(x, w, b, stride, padding, dilation):
    """A dilated convolution is an ordinary one with the filter's taps spread apart by zeros."""
    Fn, C, kh, kw = w.shape
    spread = np.zeros((Fn, C, dilation * (kh - 1) + 1, dilation * (kw - 1) + 1))
    spread[:, :, ::dilation, ::dilation] = w
    return F.conv2d_forward(x.astype(np.float64), spread, b.astype(np.float64), stride,
                            padding)[0]


@exercise("conv2d_dilated", ["conv2d_dilated"], points=2)
def _check_conv2d_dilated(rng, conv2d_dilated):
    # (dilation, stride, padding): the defaults, "same" size, strided, large, float32.
    for case, (dilation, stride, padding) in enumerate([(1, 1, 0), (2, 1, 2), (2, 2, 1),
                                                        (3, 1, 0), (2, 1, 1)]):
        C, Fn = int(rng.integers(1, 4)), int(rng.integers(2, 4))
        kh, kw = (3, 3) if case < 2 else (int(rng.integers(2, 4)), int(rng.integers(1, 4)))
        H, W = _sizes(rng, dilation * 2 + 4, dilation * 2 + 9, 2)
        dtype = np.float32 if case == 4 else np.float64
        x = rng.standard_normal((2, C, H, W)).astype(dtype)
        w = rng.standard_normal((Fn, C, kh, kw)).astype(dtype)
        b = rng.standard_normal(Fn).astype(dtype)
        where = (f"at a {_dims(x.shape)} {np.dtype(dtype)} input with {Fn} filters of "
                 f"{kh}x{kw}, stride {stride}, padding {padding}, dilation {dilation}")
        kwargs = {} if case == 0 else {"stride": stride, "padding": padding, "dilation": dilation}
        got = _call(conv2d_dilated, x, w, b, **kwargs, where=where)
        expected = _conv2d_dilated(x, w, b, stride, padding, dilation).astype(dtype)
        _close(got, expected, "conv2d_dilated(...)", where,
               tol=1e-5 if dtype == np.float32 else 1e-7, dtype=dtype)
