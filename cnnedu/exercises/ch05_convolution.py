"""Chapter 5's exercise checks (convolution): see ``cnnedu.exercises``."""

from cnnedu import functional as F

from ._common import (
    CheckFailure,
    _call,
    _check_pair,
    _close,
    _dims,
    _integer,
    _unpack,
    exercise,
)


@exercise("conv_output_size", ["conv_output_size"], points=1)
def _check_conv_output_size(rng, conv_output_size):
    for case in range(6):
        size, kernel = int(rng.integers(5, 40)), int(rng.integers(1, 6))
        stride, padding = ((1, 0) if case == 0
                           else (int(rng.integers(1, 4)), int(rng.integers(0, 3))))
        call = f"conv_output_size({size}, {kernel}, stride={stride}, padding={padding})"
        if case == 0:
            call = f"conv_output_size({size}, {kernel})"
            got = _call(conv_output_size, size, kernel, where=f"for {call}")
        else:
            got = _call(conv_output_size, size, kernel, stride=stride, padding=padding,
                        where=f"for {call}")
        got = _integer(got, call, "")
        if got != F.conv_output_size(size, kernel, stride, padding):
            raise CheckFailure(f"{call} returned {got}, which is wrong")


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


@exercise("conv2d_forward", ["conv2d_forward"], points=3)
def _check_conv2d_forward(rng, conv2d_forward):
    for case in range(3):
        x, w, b, stride, padding, where = _conv_case(rng, case)
        result = _call(conv2d_forward, x.copy(), w.copy(), b.copy(), stride=stride,
                       padding=padding, where=where)
        out, _ = _unpack(result, 2, "conv2d_forward", "(out, cache)")
        _close(out, F.conv2d_forward(x, w, b, stride, padding)[0], "out", where)


@exercise("conv2d_backward", ["conv2d_forward", "conv2d_backward"], points=3)
def _check_conv2d_backward(rng, conv2d_forward, conv2d_backward):
    for case in range(3):
        x, w, b, stride, padding, where = _conv_case(rng, case, small=True)
        # functional.conv2d_forward is the reference here: it is tested against the
        # loop-based cnnedu.reference and is fast enough for a numerical gradient.
        ref = lambda x, w, b, stride, padding: F.conv2d_forward(x, w, b, stride, padding)[0]
        _check_pair(rng, conv2d_forward, conv2d_backward, ref, [x, w, b],
                    {"stride": stride, "padding": padding}, where, ["dx", "dw", "db"])
