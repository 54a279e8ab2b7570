"""Pooling layers, MaxPool2D and AvgPool2D, over the kernels of ``functional.pool`` (chapter 6)."""

from .. import functional as F
from .._checks import check_float, int_or_pair
from .base import Layer


class _Pool2D(Layer):
    """Base of MaxPool2D and AvgPool2D: a window of ``kernel_size`` moved by ``stride``.

    x: (N, C, H, W) float32/float64 -> y: (N, C, OH, OW), same dtype, with
    OH = (H - kh) // sh + 1 (likewise OW). ``kernel_size`` and ``stride`` are an
    int or a pair (height, width) of ints; stride defaults to the kernel size,
    so kernel (2, 3) moves by (2, 3) and the windows tile the input. A
    subclass names its kernels in ``_forward`` and ``_backward``.

    Raises TypeError/ValueError at construction for a kernel size or stride of
    the wrong type or value; in forward, TypeError for non-float input and
    ValueError for a wrong rank or a window larger than the input.

    Chapter 6. Source: CS231n notes, "Pooling layer".
    """
    _forward = _backward = None

    def __init__(self, kernel_size=2, stride=None):
        super().__init__()
        who = type(self).__name__
        self.kernel_size = int_or_pair(kernel_size, "kernel_size", who, 1)
        self.stride = self.kernel_size if stride is None else int_or_pair(stride, "stride", who, 1)

    def forward(self, x, train=True):
        check_float(x, "x", type(self).__name__, ndim=4, layout="(N, C, H, W)")
        out, cache = self._forward(x, self.kernel_size, self.stride)
        self._remember(cache, out, train)
        return out

    def backward(self, dy):
        return self._backward(dy, self._recall(dy))

    def output_shape(self, input_shape):
        N, C, H, W = input_shape
        return (N, C, *F.conv_output_size((H, W), self.kernel_size, self.stride))

    def __repr__(self):
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2D(_Pool2D):
    """Max pooling: the largest value of each window.

    Shapes, dtypes, arguments and errors: see ``_Pool2D``. Backward sends each
    window's gradient to the first position holding its maximum.

    Raises as ``_Pool2D``.

    Chapter 6. Source: CS231n notes, "Pooling layer".
    """
    _forward = staticmethod(F.max_pool2d_forward)
    _backward = staticmethod(F.max_pool2d_backward)


class AvgPool2D(_Pool2D):
    """Average pooling: the mean of each window.

    Shapes, dtypes, arguments and errors: see ``_Pool2D``. Backward shares
    each window's gradient equally among its kh*kw inputs.

    Raises as ``_Pool2D``.

    Chapter 6. Source: LeCun et al. (1998), "subsampling" layers of LeNet-5.
    """
    _forward = staticmethod(F.avg_pool2d_forward)
    _backward = staticmethod(F.avg_pool2d_backward)
