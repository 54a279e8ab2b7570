"""Layer classes: thin wrappers over ``cnnedu.functional``.

The protocol, shared by every layer:

* ``forward(x, train=True) -> y`` keeps what backward needs on ``self``;
* ``backward(dy) -> dx`` computes the gradients of the last forward call and
  *overwrites* ``self.grads`` (it never adds to them);
* ``params`` and ``grads`` are dicts with the same keys (``"W"``, ``"b"``);
  layers without parameters have empty dicts.
"""

import numpy as np

from . import functional as F
from . import init as initialisers


def _rng(rng):
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"rng must be a numpy Generator, a seed or None, got {type(rng).__name__}")


def _positive_int(value, name, who):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{who}: {name} must be a positive int, got {value!r}")
    return int(value)


class Layer:
    """Base class: no parameters, identity shapes."""

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x, train=True):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def output_shape(self, input_shape):
        """Shape of the output for an input of ``input_shape`` (batch dim included)."""
        return input_shape

    def _remember(self, cache, train):
        # Only backward needs the cache, and a conv's is large (its im2col
        # matrix): in eval mode drop it, so evaluation in batches stays small.
        self.cache = cache if train else None

    def _recall(self):
        if getattr(self, "cache", None) is None:
            raise RuntimeError(f"{type(self).__name__}.backward needs a forward(x, train=True) "
                               "call first (eval-mode forward passes keep no cache)")
        return self.cache

    def __call__(self, x, train=True):
        return self.forward(x, train)

    def __repr__(self):
        return f"{type(self).__name__}()"


class Conv2D(Layer):
    """2-D convolution over NCHW input. W: (out_channels, in_channels, kh, kw), b: (out_channels,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 init="he", rng=None, dtype=np.float32):
        super().__init__()
        who = "Conv2D"
        self.in_channels = _positive_int(in_channels, "in_channels", who)
        self.out_channels = _positive_int(out_channels, "out_channels", who)
        self.kernel_size = F._pair(kernel_size, "kernel_size")
        self.stride = _positive_int(stride, "stride", who)
        if not isinstance(padding, (int, np.integer)) or padding < 0:
            raise ValueError(f"{who}: padding must be an int >= 0, got {padding!r}")
        self.padding = int(padding)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.params["W"] = initialisers.get(init)(shape, _rng(rng), dtype)
        self.params["b"] = np.zeros(self.out_channels, dtype=dtype)

    def _check(self, x):
        if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[1] != self.in_channels:
            shape = getattr(x, "shape", type(x).__name__)
            raise ValueError(f"Conv2D expected input of shape (N, {self.in_channels}, H, W), "
                             f"got {shape}")

    def forward(self, x, train=True):
        self._check(x)
        out, cache = F.conv2d_forward(x, self.params["W"], self.params["b"],
                                      self.stride, self.padding)
        self._remember(cache, train)
        return out

    def backward(self, dy):
        dx, self.grads["W"], self.grads["b"] = F.conv2d_backward(dy, self._recall())
        return dx

    def output_shape(self, input_shape):
        N, _, H, W = input_shape
        kh, kw = self.kernel_size
        return (N, self.out_channels, F.conv_output_size(H, kh, self.stride, self.padding),
                F.conv_output_size(W, kw, self.stride, self.padding))

    def __repr__(self):
        return (f"Conv2D({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding})")


class _Pool2D(Layer):
    _forward = _backward = None

    def __init__(self, kernel_size=2, stride=None):
        super().__init__()
        self.kernel_size = _positive_int(kernel_size, "kernel_size", type(self).__name__)
        self.stride = self.kernel_size if stride is None else _positive_int(
            stride, "stride", type(self).__name__)

    def forward(self, x, train=True):
        out, cache = type(self)._forward(x, self.kernel_size, self.stride)
        self._remember(cache, train)
        return out

    def backward(self, dy):
        return type(self)._backward(dy, self._recall())

    def output_shape(self, input_shape):
        N, C, H, W = input_shape
        k, s = self.kernel_size, self.stride
        return N, C, F.conv_output_size(H, k, s), F.conv_output_size(W, k, s)

    def __repr__(self):
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2D(_Pool2D):
    """Max pooling over square windows; stride defaults to kernel_size."""
    _forward = staticmethod(F.max_pool2d_forward)
    _backward = staticmethod(F.max_pool2d_backward)


class AvgPool2D(_Pool2D):
    """Average pooling over square windows; stride defaults to kernel_size."""
    _forward = staticmethod(F.avg_pool2d_forward)
    _backward = staticmethod(F.avg_pool2d_backward)


class Linear(Layer):
    """Fully connected layer ``y = x @ W + b``. W: (in_features, out_features)."""

    def __init__(self, in_features, out_features, init="he", rng=None, dtype=np.float32):
        super().__init__()
        self.in_features = _positive_int(in_features, "in_features", "Linear")
        self.out_features = _positive_int(out_features, "out_features", "Linear")
        shape = (self.in_features, self.out_features)
        self.params["W"] = initialisers.get(init)(shape, _rng(rng), dtype)
        self.params["b"] = np.zeros(self.out_features, dtype=dtype)

    def forward(self, x, train=True):
        if not isinstance(x, np.ndarray) or x.ndim != 2 or x.shape[1] != self.in_features:
            shape = getattr(x, "shape", type(x).__name__)
            hint = " (add a Flatten layer before it)" if getattr(x, "ndim", 2) > 2 else ""
            raise ValueError(f"Linear expected input of shape (N, {self.in_features}), "
                             f"got {shape}{hint}")
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dy):
        self.grads["W"] = self.x.T @ dy
        self.grads["b"] = dy.sum(axis=0)
        return dy @ self.params["W"].T

    def output_shape(self, input_shape):
        return input_shape[0], self.out_features

    def __repr__(self):
        return f"Linear({self.in_features}, {self.out_features})"


class _Activation(Layer):
    _forward = _backward = None

    def forward(self, x, train=True):
        out, cache = type(self)._forward(x)
        self._remember(cache, train)
        return out

    def backward(self, dy):
        return type(self)._backward(dy, self._recall())


class ReLU(_Activation):
    _forward = staticmethod(F.relu_forward)
    _backward = staticmethod(F.relu_backward)


class Sigmoid(_Activation):
    _forward = staticmethod(F.sigmoid_forward)
    _backward = staticmethod(F.sigmoid_backward)


class Tanh(_Activation):
    _forward = staticmethod(F.tanh_forward)
    _backward = staticmethod(F.tanh_backward)


class LeakyReLU(Layer):
    """x for x > 0, alpha * x otherwise."""

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = alpha

    def forward(self, x, train=True):
        out, cache = F.leaky_relu_forward(x, self.alpha)
        self._remember(cache, train)
        return out

    def backward(self, dy):
        return F.leaky_relu_backward(dy, self._recall())

    def __repr__(self):
        return f"LeakyReLU(alpha={self.alpha})"


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W), in NCHW order as in PyTorch."""

    def forward(self, x, train=True):
        self.x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self.x_shape)

    def output_shape(self, input_shape):
        return input_shape[0], int(np.prod(input_shape[1:]))


class Dropout(Layer):
    """Inverted dropout: in training, zero each value with probability p and
    scale the rest by 1/(1-p), so that eval mode is simply the identity."""

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.rng = _rng(rng)

    def forward(self, x, train=True):
        if not train or self.p == 0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
        self.mask = keep.astype(x.dtype) / x.dtype.type(1 - self.p)
        return x * self.mask

    def backward(self, dy):
        return dy if self.mask is None else dy * self.mask

    def __repr__(self):
        return f"Dropout(p={self.p})"
