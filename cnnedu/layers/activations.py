"""Activation layers: ReLU (chapter 3), Sigmoid and Tanh (chapters 4 and 8), LeakyReLU (chapter 8).

Each wraps a forward/backward pair of ``cnnedu.functional.activations``.
"""

from .. import functional as F
from .._checks import check_float, real
from .base import Layer


class _Elementwise(Layer):
    """Base of the activations: any shape, float32/float64 kept, no parameters.

    A subclass names its kernels in ``_forward`` and ``_backward``. Raises
    TypeError for non-float input, naming the layer.
    """
    _forward = _backward = None

    def forward(self, x, train=True):
        check_float(x, "x", type(self).__name__)
        out, cache = self._forward(x)
        self._remember(cache, out, train)
        return out

    def backward(self, dy):
        return self._backward(dy, self._recall(dy))


class ReLU(_Elementwise):
    """max(0, x), elementwise.

    Any shape; float32/float64 in, the same out. The gradient passes where the
    output is positive (0 at the kink, x = 0).

    Raises TypeError for non-float input.

    Chapter 3. Source: Nair and Hinton (2010); Glorot, Bordes and Bengio (2011).
    """
    _forward = staticmethod(F.relu_forward)
    _backward = staticmethod(F.relu_backward)


class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x)), elementwise and without overflow.

    Any shape; float32/float64 in, the same out. Its gradient is at most 1/4,
    which is why deep sigmoid nets train slowly.

    Raises TypeError for non-float input.

    Chapters 4 and 8. Source: CS231n notes, "Commonly used activation functions".
    """
    _forward = staticmethod(F.sigmoid_forward)
    _backward = staticmethod(F.sigmoid_backward)


class Tanh(_Elementwise):
    """tanh(x), elementwise.

    Any shape; float32/float64 in, the same out. Zero-centred, unlike the
    sigmoid, but it saturates as well: its gradient 1 - tanh(x)**2 vanishes
    for large |x|.

    Raises TypeError for non-float input.

    Chapters 4 and 8. Source: CS231n notes, "Commonly used activation functions".
    """
    _forward = staticmethod(F.tanh_forward)
    _backward = staticmethod(F.tanh_backward)


class LeakyReLU(_Elementwise):
    """x for x > 0, alpha * x otherwise, elementwise.

    Any shape; float32/float64 in, the same out. ``alpha`` is a finite real
    number >= 0, usually small (default 0.01); 0 gives ReLU.

    Raises TypeError/ValueError at construction for a bad alpha, TypeError
    in forward for non-float input.

    Chapter 8. Source: Maas, Hannun and Ng (2013).
    """
    _backward = staticmethod(F.leaky_relu_backward)

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = real(alpha, "alpha", "LeakyReLU", 0)

    def _forward(self, x):
        return F.leaky_relu_forward(x, self.alpha)

    def __repr__(self):
        return f"LeakyReLU(alpha={self.alpha})"
