"""Chapter 12's exercise checks (architectures): see ``cnnedu.exercises``."""

import numpy as np

from cnnedu import functional as F

from ._common import CheckFailure, _call, _integer, _sizes, exercise


@exercise("conv_param_count", ["conv_param_count"], points=1)
def _check_conv_param_count(rng, conv_param_count):
    for groups in [None] + [int(g) for g in rng.choice([1, 2, 3, 4, 8], 4)]:
        g = groups or 1
        c_in = g * int(rng.integers(1, 17))
        c_out = g * int(rng.integers(1, 33))
        k = int(rng.integers(1, 8))
        args = (c_in, c_out, k) if groups is None else (c_in, c_out, k, groups)
        call = f"conv_param_count({', '.join(map(str, args))})"
        got = _integer(_call(conv_param_count, *args, where=f"for {call}"), call)
        if got != c_out * (c_in // g * k * k + 1):
            hint = ("; each filter sees only in_channels // groups input channels"
                    if g > 1 and got == c_out * (c_in * k * k + 1) else
                    "; count the weights and one bias per output channel")
            raise CheckFailure(f"{call} returned {got}, which is wrong{hint}")


def _span(kernel, dilation):
    """The side of the input window that a dilated kernel covers."""
    return dilation * (kernel - 1) + 1


def _ref_output_shape(input_shape, layers):
    C, H, W = input_shape
    for layer in layers:
        if layer[0] == "conv":
            _, C, k, s, p, d = layer
            H, W = (F.conv_output_size(size, _span(k, d), s, p) for size in (H, W))
        else:
            _, k, s = layer
            H, W = (F.conv_output_size(size, k, s) for size in (H, W))
    return C, H, W


def _random_layers(rng, n, input_shape):
    """n random layers, each with a window that fits the size it receives."""
    layers = []
    for _ in range(n):
        size = min(_ref_output_shape(input_shape, layers)[1:])
        if rng.random() < 0.6:
            k, d = int(rng.choice([1, 3, 5])), int(rng.choice([1, 1, 2, 3]))
            p = int(rng.integers(0, _span(k, d) // 2 + 1))
            if _span(k, d) > size + 2 * p:
                k, d, p = 1, 1, 0
            layers.append(("conv", int(rng.integers(4, 65)), k, int(rng.integers(1, 3)), p, d))
        else:
            k = min(int(rng.integers(2, 4)), size)
            layers.append(("pool", k, int(rng.integers(1, k + 1))))
    return layers


@exercise("output_shape", ["output_shape"], points=2)
def _check_output_shape(rng, output_shape):
    k, d = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    for n in range(5):
        input_shape = (int(rng.integers(1, 4)), *_sizes(rng, 24, 40, 2))
        layers = ([("conv", int(rng.integers(4, 33)), 3, 1, 1, 1)] if n == 0 else
                  [("pool", k, k)] if n == 1 else
                  [("conv", int(rng.integers(4, 33)), 3, 1, 0, d)] if n == 2 else
                  _random_layers(rng, n, input_shape))
        call = f"output_shape({input_shape}, {layers})"
        got = _call(output_shape, input_shape, layers, where=f"for {call}")
        if (not isinstance(got, (tuple, list)) or len(got) != 3
                or not all(isinstance(v, (int, np.integer)) for v in got)):
            raise CheckFailure(f"{call} should return a tuple of 3 ints (C, H, W), got {got!r}")
        got, expected = tuple(int(v) for v in got), _ref_output_shape(input_shape, layers)
        if got != expected:
            wrong = "the channel count" if got[0] != expected[0] else "the height or width"
            hint = (" (a dilated kernel covers more than kernel pixels)"
                    if n == 2 and got[0] == expected[0] else "")
            raise CheckFailure(f"{call} returned {got}: {wrong} is wrong{hint}")
