"""Elementwise activations: ReLU (chapter 3), sigmoid (chapters 4 and 8), tanh and leaky ReLU
(chapter 8), each a forward and a backward.

They take any shape and keep the dtype and memory layout of their input
(NumPy's ufuncs do), so an NHWC view from a convolution stays one.
"""

import numpy as np

from .._checks import check_dout, check_float, real


def relu_forward(x):
    """max(0, x), elementwise.

    x: any shape, float32/float64. Returns (out, cache), out like x.

    Raises TypeError for a non-array or non-float x.

    Chapter 3. Source: Nair and Hinton (2010), *Rectified linear units
    improve restricted Boltzmann machines*.
    """
    check_float(x, "x", "relu_forward")
    out = np.maximum(x, 0)
    return out, out


def relu_backward(dout, cache):
    """Gradient of ``relu_forward``: dout where the output was positive, else 0 (also at the kink).

    dout: the shape and dtype of x. Returns dx, same shape and dtype.

    Raises TypeError or ValueError unless dout has the dtype and shape of x.

    Chapter 3. Source: as ``relu_forward``.
    """
    check_dout(dout, cache.shape, cache.dtype, "relu_backward")
    return dout * (cache > 0)


def leaky_relu_forward(x, alpha=0.01):
    """x for x > 0, alpha * x otherwise, elementwise.

    x: any shape, float32/float64. alpha: a finite real number >= 0 (an int,
    float or NumPy scalar, not a bool); usually small, 0 gives ReLU.
    Returns (out, cache), out like x.

    Raises TypeError for a bad x or a non-number alpha, ValueError for a
    negative, NaN or infinite alpha.

    Chapter 8. Source: Maas, Hannun and Ng (2013), *Rectifier nonlinearities
    improve neural network acoustic models*.
    """
    who = "leaky_relu_forward"
    check_float(x, "x", who)
    alpha = real(alpha, "alpha", who, 0)
    out = np.where(x > 0, x, x * x.dtype.type(alpha))
    return out, (x, alpha)


def leaky_relu_backward(dout, cache):
    """Gradient of ``leaky_relu_forward``: dout where x > 0, alpha * dout elsewhere.

    dout: the shape and dtype of x. Returns dx, same shape and dtype.

    Raises TypeError or ValueError unless dout has the dtype and shape of x.

    Chapter 8. Source: as ``leaky_relu_forward``.
    """
    x, alpha = cache
    check_dout(dout, x.shape, x.dtype, "leaky_relu_backward")
    return np.where(x > 0, dout, dout * dout.dtype.type(alpha))


def sigmoid_forward(x):
    """1 / (1 + exp(-x)), elementwise, computed without overflow for large |x|.

    x: any shape, float32/float64. Returns (out, cache), out like x.

    Raises TypeError for a non-array or non-float x.

    Chapters 4 and 8. Source: CS231n notes, "Neural Networks Part 1".
    """
    check_float(x, "x", "sigmoid_forward")
    # exp of a non-positive number never overflows
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out, out


def sigmoid_backward(dout, cache):
    """Gradient of ``sigmoid_forward``: dx = dout * s * (1 - s), s the forward output.

    The derivative of the sigmoid is s * (1 - s), so the cache is the output
    and no exponential is computed again; it is at most 1/4, at x = 0.
    dout: the shape and dtype of x. Returns dx, same shape and dtype.

    Raises TypeError or ValueError unless dout has the dtype and shape of x.

    Chapters 4 and 8. Source: as ``sigmoid_forward``.
    """
    s = cache
    check_dout(dout, s.shape, s.dtype, "sigmoid_backward")
    return dout * s * (1 - s)


def tanh_forward(x):
    """tanh(x), elementwise.

    x: any shape, float32/float64. Returns (out, cache), out like x.

    Raises TypeError for a non-array or non-float x.

    Chapters 4 and 8. Source: CS231n notes, "Neural Networks Part 1".
    """
    check_float(x, "x", "tanh_forward")
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """Gradient of ``tanh_forward``: dx = dout * (1 - t**2), t the forward output.

    dout: the shape and dtype of x. Returns dx, same shape and dtype. Like the
    sigmoid's, the derivative is read off the output: d tanh(x)/dx = 1 - tanh(x)**2.

    Raises TypeError or ValueError unless dout has the dtype and shape of x.

    Chapters 4 and 8. Source: as ``tanh_forward``.
    """
    t = cache
    check_dout(dout, t.shape, t.dtype, "tanh_backward")
    return dout * (1 - t * t)
