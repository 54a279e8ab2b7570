"""The convolution layer, Conv2D, over ``cnnedu.functional.conv2d_forward`` (chapter 5)."""

import numpy as np

from .. import functional as F
from .._checks import check_float, float_dtype, int_arg, int_or_pair, pair
from .base import Layer, initial_weights


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as in every DL framework) over NCHW input.

    x: (N, in_channels, H, W) -> y: (N, out_channels, OH, OW), with
    OH = (H + 2*padding - kh) // stride + 1 (likewise OW).
    W: (out_channels, in_channels, kh, kw), b: (out_channels,), both of
    ``dtype`` (float32 by default, float64 for gradient checks); x must have
    it too. ``kernel_size``, ``stride`` and ``padding`` are an int or a pair
    (height, width) of ints, as in PyTorch. ``init``: a name in
    ``cnnedu.init``, a std or a function; ``rng``: see ``cnnedu.layers``.

    ``input_grad`` (bool, default True): with False, ``backward`` computes
    only ``grads`` and returns None instead of dx, which saves a matrix
    product and a col2im. Use it for a network's first layer, whose input
    (the images) needs no gradient; PyTorch does the same for inputs with
    ``requires_grad=False``. A layer after it would get None: it must be first.

    Raises TypeError/ValueError at construction for arguments of the wrong
    type or value; in forward, TypeError unless x is an array of the
    parameters' dtype, ValueError for a wrong shape or a kernel larger than
    the padded input.

    Chapter 5. Source: CS231n notes, "Convolutional Networks"; im2col as in
    Chellapilla et al. (2006).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 init="he", rng=None, dtype=np.float32, input_grad=True):
        super().__init__()
        who = "Conv2D"
        if not isinstance(input_grad, (bool, np.bool_)):
            raise TypeError(f"{who}: input_grad must be True or False, got {input_grad!r}")
        self.input_grad = bool(input_grad)
        self.in_channels = int_arg(in_channels, "in_channels", who, 1)
        self.out_channels = int_arg(out_channels, "out_channels", who, 1)
        self.kernel_size = pair(kernel_size, f"{who}: kernel_size", 1)
        self.stride = int_or_pair(stride, "stride", who, 1)
        self.padding = int_or_pair(padding, "padding", who, 0)
        dtype = float_dtype(dtype, who)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.params["W"] = initial_weights(init, shape, rng, dtype, who)
        self.params["b"] = np.zeros(self.out_channels, dtype=dtype)

    def forward(self, x, train=True):
        check_float(x, "x", "Conv2D", self.params["W"].dtype)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2D expected input of shape (N, {self.in_channels}, H, W), "
                             f"got {x.shape}")
        out, cache = F.conv2d_forward(x, self.params["W"], self.params["b"],
                                      self.stride, self.padding)
        self._remember(cache, out, train)
        return out

    def backward(self, dy):
        dx, self.grads["W"], self.grads["b"] = F.conv2d_backward(dy, self._recall(dy),
                                                                 self.input_grad)
        return dx

    def output_shape(self, input_shape):
        N, _, H, W = input_shape
        OH, OW = F.conv_output_size((H, W), self.kernel_size, self.stride, self.padding)
        return N, self.out_channels, OH, OW

    def __repr__(self):
        no_dx = "" if self.input_grad else ", input_grad=False"
        return (f"Conv2D({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}{no_dx})")
