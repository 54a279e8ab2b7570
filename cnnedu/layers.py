"""Layer classes: thin wrappers over ``cnnedu.functional`` (chapters 2 to 10).

The protocol, shared by every layer:

* ``forward(x, train=True) -> y`` keeps what backward needs on ``self``;
* ``backward(dy) -> dx`` computes the gradients of the last forward call and
  *overwrites* ``self.grads`` (it never adds to them);
* ``params`` and ``grads`` are dicts with the same keys (``"W"``, ``"b"``);
  layers without parameters have empty dicts.

``backward`` raises RuntimeError if no ``forward(x, train=True)`` came first
(evaluation keeps no cache), ValueError if ``dy`` does not have the shape of
the last forward output, and TypeError if it does not have its dtype.

**Dtypes: one rule.** A layer with parameters (Conv2D, Linear) takes input
of its parameters' dtype: float32 unless it was built with
``dtype=np.float64``. A layer without parameters takes float32 or float64 and
keeps it. Anything else (ints, 8-bit pixels, bool, complex) is a TypeError
that says how to convert, e.g. ``x.astype(np.float32) / 255``.

**Random numbers: one rule** (``cnnedu._checks.as_generator``, shared with ``fit``, the zoo,
the toy datasets and the gradient checks). Every ``rng`` argument may be

* a ``np.random.Generator``: used as is, so layers built from one generator
  draw one after the other;
* an int >= 0: the seed of a fresh ``np.random.default_rng(seed)``;
* ``None``: a seed drawn from NumPy's global state with ``np.random.randint``,
  so that ``np.random.seed(0)`` at the top of a script makes a run repeat.

Anything else is a TypeError.
"""

import numpy as np

from . import functional as F
from . import init as initialisers
from ._checks import as_generator, check_dy, check_float, float_dtype, int_arg, int_or_pair, real


# ----------------------------------------------------------------------------
# Checks shared by the layers, the losses and Sequential
# ----------------------------------------------------------------------------




def _as_pair(value):
    return value if isinstance(value, tuple) else (value, value)



def _initial_weights(init, shape, rng, dtype, who):
    W = initialisers.get(init)(shape, rng, dtype)
    if getattr(W, "shape", None) != shape or getattr(W, "dtype", None) != dtype:
        raise ValueError(f"{who}: init returned {type(W).__name__} of shape "
                         f"{getattr(W, 'shape', '?')} and dtype {getattr(W, 'dtype', '?')}, "
                         f"expected an array of shape {shape} and dtype {dtype}")
    return W


# ----------------------------------------------------------------------------
# Layers
# ----------------------------------------------------------------------------

class Layer:
    """Base class: no parameters, identity shapes. See the module docstring for the protocol."""

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

    def _remember(self, cache, out, train):
        # Only backward needs the cache, and a conv's is large (its im2col
        # matrix): in eval mode drop it, so evaluation in batches stays small.
        self.cache = cache if train else None
        self.dy_expected = (out.shape, out.dtype) if train else None

    def _recall(self, dy):
        """The cache of the last training forward, once ``dy`` is checked against its output."""
        check_dy(dy, getattr(self, "dy_expected", None), type(self).__name__)
        return self.cache

    def __call__(self, x, train=True):
        return self.forward(x, train)

    def __repr__(self):
        return f"{type(self).__name__}()"


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as in every DL framework) over NCHW input.

    x: (N, in_channels, H, W) -> y: (N, out_channels, OH, OW), with
    OH = (H + 2*padding - kh) // stride + 1 (likewise OW).
    W: (out_channels, in_channels, kh, kw), b: (out_channels,), both of ``dtype``.
    ``kernel_size``, ``stride`` and ``padding`` are an int or a pair (height,
    width) of ints, as in PyTorch. ``init``: a name in ``cnnedu.init``, a std or
    a function; ``rng``: see the module docstring.

    Raises TypeError/ValueError at construction for arguments of the wrong
    type or value; in forward, TypeError unless x is an array of the
    parameters' dtype, ValueError for a wrong shape or a kernel larger than
    the padded input.

    Chapter 5. Source: CS231n notes, "Convolutional Networks"; im2col as in
    Chellapilla et al. (2006).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 init="he", rng=None, dtype=np.float32):
        super().__init__()
        who = "Conv2D"
        self.in_channels = int_arg(in_channels, "in_channels", who, 1)
        self.out_channels = int_arg(out_channels, "out_channels", who, 1)
        self.kernel_size = _as_pair(int_or_pair(kernel_size, "kernel_size", who, 1))
        self.stride = int_or_pair(stride, "stride", who, 1)
        self.padding = int_or_pair(padding, "padding", who, 0)
        dtype = float_dtype(dtype, who)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.params["W"] = _initial_weights(init, shape, as_generator(rng), dtype, who)
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
        dx, self.grads["W"], self.grads["b"] = F.conv2d_backward(dy, self._recall(dy))
        return dx

    def output_shape(self, input_shape):
        N, _, H, W = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, _as_pair(self.stride), _as_pair(self.padding)
        return (N, self.out_channels, F.conv_output_size(H, kh, sh, ph),
                F.conv_output_size(W, kw, sw, pw))

    def __repr__(self):
        return (f"Conv2D({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding})")


class _Pool2D(Layer):
    """Base of MaxPool2D and AvgPool2D: a window of ``kernel_size`` moved by ``stride``.

    x: (N, C, H, W) float32/float64 -> y: (N, C, OH, OW), same dtype, with
    OH = (H - kh) // sh + 1 (likewise OW). ``kernel_size`` and ``stride`` are an
    int or a pair (height, width) of ints; stride defaults to the kernel size,
    so kernel (2, 3) moves by (2, 3) and the windows tile the input.

    Raises TypeError/ValueError at construction for a kernel size or stride of
    the wrong type or value; in forward (from ``cnnedu.functional``),
    TypeError for non-float input and ValueError for a wrong rank or a window
    larger than the input.

    Chapter 6. Source: CS231n notes, "Pooling layer".
    """
    _forward = _backward = None

    def __init__(self, kernel_size=2, stride=None):
        super().__init__()
        who = type(self).__name__
        self.kernel_size = int_or_pair(kernel_size, "kernel_size", who, 1)
        self.stride = self.kernel_size if stride is None else int_or_pair(stride, "stride", who, 1)

    def forward(self, x, train=True):
        out, cache = type(self)._forward(x, self.kernel_size, self.stride)
        self._remember(cache, out, train)
        return out

    def backward(self, dy):
        return type(self)._backward(dy, self._recall(dy))

    def output_shape(self, input_shape):
        N, C, H, W = input_shape
        (kh, kw), (sh, sw) = _as_pair(self.kernel_size), _as_pair(self.stride)
        return N, C, F.conv_output_size(H, kh, sh), F.conv_output_size(W, kw, sw)

    def __repr__(self):
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2D(_Pool2D):
    """Max pooling: the largest value of each window (shapes, dtypes, errors: see ``_Pool2D``).

    Backward sends each window's gradient to the first position holding its
    maximum. Chapter 6. Source: CS231n notes, "Pooling layer".
    """
    _forward = staticmethod(F.max_pool2d_forward)
    _backward = staticmethod(F.max_pool2d_backward)


class AvgPool2D(_Pool2D):
    """Average pooling: the mean of each window (shapes, dtypes, errors: see ``_Pool2D``).

    Backward shares each window's gradient equally among its kh*kw inputs.
    Chapter 6. Source: LeCun et al. (1998), "subsampling" layers of LeNet-5.
    """
    _forward = staticmethod(F.avg_pool2d_forward)
    _backward = staticmethod(F.avg_pool2d_backward)


class Linear(Layer):
    """Fully connected layer ``y = x @ W + b``.

    x: (N, in_features) -> y: (N, out_features). W: (in_features,
    out_features), b: (out_features,), both of ``dtype`` (float32 by default;
    float64 for gradient checks). x must have the same dtype. ``init``: a name
    in ``cnnedu.init``, a std or a function; ``rng``: see the module docstring.

    Raises TypeError/ValueError at construction for arguments of the wrong
    type or value; in forward, TypeError unless x is an array of the
    parameters' dtype and ValueError unless its shape is (N, in_features).

    Chapters 2 (linear classifier) and 3 (two-layer net). Source: CS231n
    notes, "Linear classification".
    """

    def __init__(self, in_features, out_features, init="he", rng=None, dtype=np.float32):
        super().__init__()
        self.in_features = int_arg(in_features, "in_features", "Linear", 1)
        self.out_features = int_arg(out_features, "out_features", "Linear", 1)
        dtype = float_dtype(dtype, "Linear")
        shape = (self.in_features, self.out_features)
        self.params["W"] = _initial_weights(init, shape, as_generator(rng), dtype, "Linear")
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


class _Activation(Layer):
    """Base of the elementwise activations: any shape, float32/float64 kept.

    Non-float input is a TypeError (from ``cnnedu.functional``).
    """
    _forward = _backward = None

    def forward(self, x, train=True):
        out, cache = type(self)._forward(x)
        self._remember(cache, out, train)
        return out

    def backward(self, dy):
        return type(self)._backward(dy, self._recall(dy))


class ReLU(_Activation):
    """max(0, x), elementwise. Any shape; float32/float64 in, the same out.

    The gradient passes where the output is positive (0 at the kink).
    Raises TypeError for non-float input. Chapter 3. Source: Nair and Hinton
    (2010); Glorot, Bordes and Bengio (2011).
    """
    _forward = staticmethod(F.relu_forward)
    _backward = staticmethod(F.relu_backward)


class Sigmoid(_Activation):
    """1 / (1 + exp(-x)), elementwise and without overflow. Any shape; dtype kept.

    Its gradient is at most 1/4, which is why deep sigmoid nets train slowly.
    Raises TypeError for non-float input. Chapter 8. Source: CS231n notes,
    "Commonly used activation functions".
    """
    _forward = staticmethod(F.sigmoid_forward)
    _backward = staticmethod(F.sigmoid_backward)


class Tanh(_Activation):
    """tanh(x), elementwise. Any shape; float32/float64 in, the same out.

    Raises TypeError for non-float input. Chapters 4 and 8. Source: CS231n
    notes, "Commonly used activation functions".
    """
    _forward = staticmethod(F.tanh_forward)
    _backward = staticmethod(F.tanh_backward)


class LeakyReLU(Layer):
    """x for x > 0, alpha * x otherwise, elementwise. Any shape; dtype kept.

    ``alpha`` is a finite real number >= 0 (TypeError/ValueError otherwise).
    Raises TypeError for non-float input. Chapter 8. Source: Maas, Hannun and
    Ng (2013).
    """

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = real(alpha, "alpha", "LeakyReLU", 0)

    def forward(self, x, train=True):
        out, cache = F.leaky_relu_forward(x, self.alpha)
        self._remember(cache, out, train)
        return out

    def backward(self, dy):
        return F.leaky_relu_backward(dy, self._recall(dy))

    def __repr__(self):
        return f"LeakyReLU(alpha={self.alpha})"


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W), in NCHW order as in PyTorch; any rank >= 2.

    float32/float64 kept; zero samples give (0, C*H*W). Raises TypeError for
    non-float input, ValueError for fewer than 2 dimensions. Chapter 7.
    """

    def forward(self, x, train=True):
        check_float(x, "x", "Flatten")
        if x.ndim < 2:
            raise ValueError(f"Flatten expected input of shape (N, ...) with at least 2 "
                             f"dimensions, got {x.shape}")
        # -1 cannot be inferred when N = 0, so give the row length.
        out = x.reshape(len(x), int(np.prod(x.shape[1:])))
        self._remember(x.shape, out, train)
        return out

    def backward(self, dy):
        x_shape = self._recall(dy)
        return dy.reshape(x_shape)

    def output_shape(self, input_shape):
        return input_shape[0], int(np.prod(input_shape[1:]))


class Dropout(Layer):
    """Inverted dropout: in training, zero each value with probability p and
    scale the rest by 1/(1-p), so that eval mode is simply the identity.

    Any shape; float32/float64 kept. ``p`` is a real number in [0, 1)
    (TypeError/ValueError otherwise); ``rng`` draws the masks (see the module
    docstring). Unlike other layers, an eval-mode forward also allows a
    backward, which is then the identity (``gradcheck.check_layer(...,
    train=False)`` relies on it). Raises TypeError for non-float input.

    Chapters 10 to 12. Source: Srivastava et al., *Dropout* (JMLR 2014).
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        self.p = real(p, "p", "Dropout", 0, 1)
        self.rng = as_generator(rng)

    def forward(self, x, train=True):
        check_float(x, "x", "Dropout")
        mask, out = None, x
        if train and self.p > 0:
            keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
            mask = keep.astype(x.dtype) / x.dtype.type(1 - self.p)
            out = x * mask
        self._remember(mask, out, train=True)
        return out

    @property
    def mask(self):
        """The last training mask (None after an eval-mode forward or with p = 0)."""
        return getattr(self, "cache", None)

    def backward(self, dy):
        mask = self._recall(dy)
        return dy if mask is None else dy * mask

    def __repr__(self):
        return f"Dropout(p={self.p})"


class _BatchNorm(Layer):
    """Batch normalisation with learnable gamma and beta and running statistics.

    Training (``forward(x, train=True)``) normalises with the batch's own mean
    and variance and updates the running averages, as PyTorch does:
    ``running = (1 - momentum) * running + momentum * batch``, where the
    running variance takes the unbiased batch variance (divided by m - 1).
    Evaluation (``train=False``) normalises with the running averages, so one
    image gets the same output whatever batch it is in. ``params``: gamma
    (ones) and beta (zeros), (C,); ``buffers``: running_mean (zeros) and
    running_var (ones), (C,), saved and loaded with the model.
    """

    ndim, layout = None, ""

    def __init__(self, num_features, momentum=0.1, eps=1e-5, dtype=np.float32):
        super().__init__()
        who = type(self).__name__
        self.num_features = int_arg(num_features, "num_features", who, 1)
        self.momentum = real(momentum, "momentum", who, 0)
        if self.momentum > 1:
            raise ValueError(f"{who}: momentum must be in [0, 1], got {momentum}")
        self.eps = real(eps, "eps", who, np.finfo(np.float64).tiny)
        dtype = float_dtype(dtype, who)
        self.params["gamma"] = np.ones(self.num_features, dtype=dtype)
        self.params["beta"] = np.zeros(self.num_features, dtype=dtype)
        self.buffers = {"running_mean": np.zeros(self.num_features, dtype=dtype),
                        "running_var": np.ones(self.num_features, dtype=dtype)}

    def forward(self, x, train=True):
        who = type(self).__name__
        check_float(x, "x", who, self.params["gamma"].dtype)
        if x.ndim != self.ndim or x.shape[1] != self.num_features:
            raise ValueError(f"{who} expected input of shape {self.layout.format(self.num_features)}"
                             f", got {x.shape}")
        gamma, beta = self.params["gamma"], self.params["beta"]
        if train:
            out, cache = F.batch_norm_forward(x, gamma, beta, eps=self.eps)
            m = x.size // self.num_features
            mom = x.dtype.type(self.momentum)
            # In place: an optimiser or a caller holding these arrays sees the update.
            self.buffers["running_mean"] *= 1 - mom
            self.buffers["running_mean"] += mom * cache.mean
            self.buffers["running_var"] *= 1 - mom
            self.buffers["running_var"] += mom * cache.var * x.dtype.type(m / (m - 1))
        else:
            out, cache = F.batch_norm_forward(x, gamma, beta, self.buffers["running_mean"],
                                              self.buffers["running_var"], eps=self.eps)
        self._remember(cache, out, train)
        return out

    def backward(self, dy):
        cache = self._recall(dy)
        dx, self.grads["gamma"], self.grads["beta"] = F.batch_norm_backward(dy, cache)
        return dx

    def __repr__(self):
        return f"{type(self).__name__}({self.num_features})"


class BatchNorm1D(_BatchNorm):
    """Batch normalisation of features: x (N, C) -> (N, C), statistics over N.

    num_features: C. momentum: in [0, 1], the weight of each new batch in the
    running averages (PyTorch's default 0.1). eps: > 0, added to the variance.
    dtype: of gamma and beta, float32 (default) or float64; x must have it.
    Raises TypeError/ValueError for bad arguments or an input of the wrong
    type or shape; ValueError in training if the batch has a single sample.
    See ``_BatchNorm`` for training and evaluation. The generalisation chapter.
    Source: Ioffe and Szegedy (2015), *Batch normalization*; PyTorch's
    ``torch.nn.BatchNorm1d``.
    """

    ndim, layout = 2, "(N, {})"


class BatchNorm2D(_BatchNorm):
    """Batch normalisation per channel: x (N, C, H, W) -> same, statistics over N, H and W.

    Arguments, errors and modes as ``BatchNorm1D`` (num_features is C, the
    channels, axis 1 of NCHW). Placed after a convolution and before its
    activation. The generalisation chapter. Source: Ioffe and Szegedy (2015);
    PyTorch's ``torch.nn.BatchNorm2d``.
    """

    ndim, layout = 4, "(N, {}, H, W)"
