"""Batch normalisation, forward and backward (chapter 11).

``cnnedu.BatchNorm1D`` and ``BatchNorm2D`` wrap these and keep the running
statistics; the loop twin to compare with is ``cnnedu.reference.batch_norm_forward``.
"""

from typing import NamedTuple

import numpy as np

from .._checks import check_dout, check_float, real


class BatchNormCache(NamedTuple):
    """What ``batch_norm_backward`` needs; ``mean`` and ``var`` are the statistics used.

    Returned by ``batch_norm_forward``. Chapter 11.
    """
    x_hat: np.ndarray      # the normalised input, shape of x
    inv_std: np.ndarray    # 1 / sqrt(var + eps), shape (C,)
    gamma: np.ndarray
    axes: tuple            # the axes averaged over: (0,) or (0, 2, 3)
    mean: np.ndarray       # (C,): the batch mean in training, the given mean in evaluation
    var: np.ndarray        # (C,): the batch variance (biased, 1/m) in training, else the given
    train: bool


def batch_norm_forward(x, gamma, beta, mean=None, var=None, eps=1e-5):
    """Batch normalisation: ``gamma * (x - mean) / sqrt(var + eps) + beta`` per channel.

    x: (N, C) or (N, C, H, W), float32/float64; the statistics are taken per
    channel C, over N (and H, W). gamma, beta: (C,), the dtype of x.
    Training (``mean`` and ``var`` None): the mean and the biased variance
    (divided by m = N or N*H*W) of this batch. Evaluation: the given ``mean``
    and ``var``, (C,) arrays, usually running averages (``cnnedu.BatchNorm2D``
    keeps them). eps: a small number > 0 added to the variance.
    Returns (out, cache), out like x; ``cache.mean``/``cache.var`` are the
    statistics used.

    Raises TypeError/ValueError for wrong types, dtypes or shapes or a bad
    eps, and ValueError in training if a channel has fewer than 2 values (one
    value has no variance; PyTorch refuses it too).

    Chapter 11. Source: Ioffe and Szegedy (2015), *Batch normalization:
    accelerating deep network training by reducing internal covariate shift*.
    """
    who = "batch_norm_forward"
    check_float(x, "x", who)
    if x.ndim not in (2, 4):
        raise ValueError(f"{who}: x must have shape (N, C) or (N, C, H, W), got {x.shape}")
    C = x.shape[1]
    statistics = (("mean", mean), ("var", var)) if mean is not None or var is not None else ()
    for name, a in (("gamma", gamma), ("beta", beta)) + statistics:
        check_float(a, name, who, x.dtype, like="x", ndim=1, layout="(C,)")
        if a.shape != (C,):
            raise ValueError(f"{who}: {name} must have shape ({C},), one value per channel of "
                             f"x {x.shape}, got {a.shape}")
    eps = real(eps, "eps", who, 0, low_open=True)
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    shape = (1, C) + (1,) * (x.ndim - 2)          # broadcasts a (C,) array over x
    train = mean is None
    if train:
        m = x.size // max(C, 1)
        if m < 2:
            raise ValueError(f"{who}: training needs at least 2 values per channel to take a "
                             f"variance, got x of shape {x.shape}")
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
    inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
    x_hat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
    out = gamma.reshape(shape) * x_hat + beta.reshape(shape)
    return out, BatchNormCache(x_hat, inv_std, gamma, axes, mean, var, train)


def batch_norm_backward(dout, cache):
    """Gradients of ``batch_norm_forward``: returns (dx, dgamma, dbeta).

    dout: the shape and dtype of x; dx is like x, dgamma and dbeta are (C,).
    In training the mean and variance depend on every value of the batch,
    and with x_hat the normalised input and m the values per channel,
    ``dx = inv_std / m * (m * g - sum(g) - x_hat * sum(g * x_hat))``, where
    ``g = gamma * dout`` and the sums run over the batch (and H, W). In
    evaluation the statistics are constants: ``dx = gamma * inv_std * dout``.

    Raises TypeError or ValueError unless dout has the dtype and shape of x.

    Chapter 11. Source: Ioffe and Szegedy (2015), section 3.
    """
    x_hat, inv_std, gamma, axes, _, _, train = cache
    check_dout(dout, x_hat.shape, x_hat.dtype, "batch_norm_backward")
    shape = (1, x_hat.shape[1]) + (1,) * (x_hat.ndim - 2)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    g = dout * gamma.reshape(shape)
    if not train:
        return g * inv_std.reshape(shape), dgamma, dbeta
    m = x_hat.size // x_hat.shape[1]
    dx = (inv_std.reshape(shape) / m) * (m * g - g.sum(axis=axes, keepdims=True)
                                         - x_hat * (g * x_hat).sum(axis=axes, keepdims=True))
    return dx, dgamma, dbeta
