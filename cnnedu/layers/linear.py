"""Fully connected layers: Linear (chapters 2 and 3) and Flatten, which feeds it images (ch. 7)."""

import numpy as np

from .._checks import check_float, float_dtype, int_arg
from .base import Layer, initial_weights


class Linear(Layer):
    """Fully connected layer ``y = x @ W + b``.

    x: (N, in_features) -> y: (N, out_features). W: (in_features,
    out_features), b: (out_features,), both of ``dtype`` (float32 by default;
    float64 for gradient checks). x must have the same dtype. ``init``: a name
    in ``cnnedu.init``, a std or a function; ``rng``: see ``cnnedu.layers``.
    Like every layer, it keeps its input for backward only when ``train=True``.

    Raises TypeError/ValueError at construction for arguments of the wrong
    type or value; in forward, TypeError unless x is an array of the
    parameters' dtype and ValueError unless its shape is (N, in_features).

    Chapters 2 (linear classifier) and 3 (two-layer net). Source: CS231n
    notes, "Linear classification".
    """

    def __init__(self, in_features, out_features, init="he", rng=None, dtype=np.float32):
        super().__init__()
        who = "Linear"
        self.in_features = int_arg(in_features, "in_features", who, 1)
        self.out_features = int_arg(out_features, "out_features", who, 1)
        dtype = float_dtype(dtype, who)
        shape = (self.in_features, self.out_features)
        self.params["W"] = initial_weights(init, shape, rng, dtype, who)
        self.params["b"] = np.zeros(self.out_features, dtype=dtype)

    def forward(self, x, train=True):
        check_float(x, "x", "Linear", self.params["W"].dtype)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            hint = " (add a Flatten layer before it)" if x.ndim > 2 else ""
            raise ValueError(f"Linear expected input of shape (N, {self.in_features}), "
                             f"got {x.shape}{hint}")
        out = x @ self.params["W"] + self.params["b"]
        self._remember(x, out, train)
        return out

    def backward(self, dy):
        x = self._recall(dy)
        self.grads["W"] = x.T @ dy
        self.grads["b"] = dy.sum(axis=0)
        return dy @ self.params["W"].T

    def output_shape(self, input_shape):
        return input_shape[0], self.out_features

    def __repr__(self):
        return f"Linear({self.in_features}, {self.out_features})"


class Flatten(Layer):
    """Reshape (N, C, H, W) to (N, C*H*W), in NCHW order as in PyTorch; any rank >= 2.

    float32/float64 kept; zero samples give (0, C*H*W). Backward reshapes dy
    back to the input's shape and, for an NCHW view of NHWC memory (what
    conv, pooling and batch norm return), into that memory layout too, so
    that the layers below combine arrays laid out alike (several times
    faster than mixing layouts).

    Raises TypeError for non-float input, ValueError for fewer than 2
    dimensions.

    Chapter 7. Source: PyTorch's ``torch.nn.Flatten``.
    """

    def forward(self, x, train=True):
        check_float(x, "x", "Flatten")
        if x.ndim < 2:
            raise ValueError(f"Flatten expected input of shape (N, ...) with at least 2 "
                             f"dimensions, got {x.shape}")
        # -1 cannot be inferred when N = 0, so give the row length.
        out = x.reshape(len(x), int(np.prod(x.shape[1:])))
        channels_last = x.ndim == 4 and x.transpose(0, 2, 3, 1).flags.c_contiguous
        self._remember((x.shape, channels_last), out, train)
        return out

    def backward(self, dy):
        x_shape, channels_last = self._recall(dy)
        dx = dy.reshape(x_shape)
        if channels_last:
            dx = np.ascontiguousarray(dx.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
        return dx

    def output_shape(self, input_shape):
        return input_shape[0], int(np.prod(input_shape[1:]))
