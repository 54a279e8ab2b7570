"""Batch normalisation layers, BatchNorm1D and BatchNorm2D (chapter 11)."""

import numpy as np

from .. import functional as F
from .._checks import check_float, float_dtype, int_arg, real
from .base import Layer


class _BatchNorm(Layer):
    """Batch normalisation with learnable gamma and beta and running statistics.

    Training (``forward(x, train=True)``) normalises with the batch's own mean
    and variance and updates the running averages, as PyTorch does:
    ``running = (1 - momentum) * running + momentum * batch``, where the
    running variance takes the unbiased batch variance (divided by m - 1).
    Evaluation (``train=False``) normalises with the running averages, so one
    image gets the same output whatever batch it is in. ``params``: gamma
    (ones) and beta (zeros), (C,); ``buffers``: running_mean (zeros) and
    running_var (ones), (C,), saved and loaded with the model. A subclass
    sets ``ndim`` and ``layout``, the input's rank and shape.

    Raises as ``BatchNorm1D`` says.
    """

    ndim, layout = None, ""

    def __init__(self, num_features, momentum=0.1, eps=1e-5, dtype=np.float32):
        super().__init__()
        who = type(self).__name__
        self.num_features = int_arg(num_features, "num_features", who, 1)
        self.momentum = real(momentum, "momentum", who, 0, 1, high_closed=True)
        self.eps = real(eps, "eps", who, 0, low_open=True)
        dtype = float_dtype(dtype, who)
        self.params["gamma"] = np.ones(self.num_features, dtype=dtype)
        self.params["beta"] = np.zeros(self.num_features, dtype=dtype)
        self.buffers = {"running_mean": np.zeros(self.num_features, dtype=dtype),
                        "running_var": np.ones(self.num_features, dtype=dtype)}

    def forward(self, x, train=True):
        who = type(self).__name__
        check_float(x, "x", who, self.params["gamma"].dtype)
        if x.ndim != self.ndim or x.shape[1] != self.num_features:
            expected = self.layout.format(self.num_features)
            raise ValueError(f"{who} expected input of shape {expected}, got {x.shape}")
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
    See ``_BatchNorm`` for training and evaluation.

    Raises TypeError/ValueError for bad arguments or an input of the wrong
    type or shape; ValueError in training if the batch has a single sample.

    Chapter 11. Source: Ioffe and Szegedy (2015), *Batch normalization*;
    PyTorch's ``torch.nn.BatchNorm1d``.
    """

    ndim, layout = 2, "(N, {})"


class BatchNorm2D(_BatchNorm):
    """Batch normalisation per channel: x (N, C, H, W) -> same, statistics over N, H and W.

    Arguments, dtypes and modes as ``BatchNorm1D`` (num_features is C, the
    channels, axis 1 of NCHW). Placed after a convolution and before its
    activation.

    Raises as ``BatchNorm1D``.

    Chapter 11. Source: Ioffe and Szegedy (2015); PyTorch's
    ``torch.nn.BatchNorm2d``.
    """

    ndim, layout = 4, "(N, {}, H, W)"
