"""Batch normalisation, forward and backward (chapter 11).

``cnnedu.BatchNorm1D`` and ``BatchNorm2D`` wrap these and keep the running
statistics; the loop twin to compare with is ``cnnedu.reference.batch_norm_forward``.
"""

from typing import NamedTuple

import numpy as np

from .._checks import check_dout, check_float, real
from ._layout import column_sums, nhwc, per_pixel


class BatchNormCache(NamedTuple):
    """What ``batch_norm_backward`` needs; ``mean`` and ``var`` are the statistics used.

    Returned by ``batch_norm_forward``. Chapter 11.
    """
    x_hat: np.ndarray      # the normalised input, shape of x
    inv_std: np.ndarray    # 1 / sqrt(var + eps), shape (C,)
    gamma: np.ndarray
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
    if C < 1:
        raise ValueError(f"{who}: x must have at least one channel (axis 1), got shape {x.shape}")
    statistics = (("mean", mean), ("var", var)) if mean is not None or var is not None else ()
    for name, a in (("gamma", gamma), ("beta", beta)) + statistics:
        check_float(a, name, who, x.dtype, like="x", ndim=1, layout="(C,)")
        if a.shape != (C,):
            raise ValueError(f"{who}: {name} must have shape ({C},), one value per channel of "
                             f"x {x.shape}, got {a.shape}")
    eps = real(eps, "eps", who, 0, low_open=True)
    images, pixels = _images(x)
    m = len(images) * pixels
    train = mean is None
    if train:
        if m < 2:
            raise ValueError(f"{who}: training needs at least 2 values per channel to take a "
                             f"variance, got x of shape {x.shape}")
        mean = _channel_sums(images, C) / m
    x_hat = images - per_pixel(mean, pixels)
    if train:
        var = _channel_dots(x_hat, x_hat, C) / m
    inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
    x_hat *= per_pixel(inv_std, pixels)
    out = x_hat * per_pixel(gamma, pixels)
    out += per_pixel(beta, pixels)
    x_hat, out = _like(x_hat, x.shape), _like(out, x.shape)
    return out, BatchNormCache(x_hat, inv_std, gamma, mean, var, train)


def _images(x):
    """x as ``images`` (N, pixels * C), one row per image, and ``pixels`` (1 for (N, C)).

    (N, C, H, W) is viewed through its channels-last (NHWC) copy, which costs
    nothing for the NHWC memory that the conv and pooling kernels return. Every
    step then runs along whole rows (see ``per_pixel``).
    """
    if x.ndim == 2:
        return x, 1
    N, C, H, W = x.shape
    return nhwc(x).reshape(N, H * W * C), H * W


def _channel_sums(images, C):
    """(C,) sums over the batch and the pixels of (N, pixels * C) ``images``."""
    return column_sums(images).reshape(-1, C).sum(axis=0)


def _channel_dots(a, b, C):
    """(C,) sums of ``a * b`` over the batch and the pixels, for (N, pixels * C) arrays."""
    return np.einsum("nk,nk->k", a, b).reshape(-1, C).sum(axis=0)


def _like(images, shape):
    """The (N, pixels * C) ``images`` back in ``shape``: (N, C, H, W) as an NCHW view of NHWC
    memory."""
    if len(shape) == 2:
        return images
    N, C, H, W = shape
    return images.reshape(N, H, W, C).transpose(0, 3, 1, 2)


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
    x_hat, inv_std, gamma, _, _, train = cache
    check_dout(dout, x_hat.shape, x_hat.dtype, "batch_norm_backward")
    C = gamma.shape[0]
    (images, pixels), (x_hat_images, _) = _images(dout), _images(x_hat)
    dbeta = _channel_sums(images, C)
    dgamma = _channel_dots(images, x_hat_images, C)
    k = per_pixel(gamma * inv_std, pixels)
    if not train:
        return _like(images * k, dout.shape), dgamma, dbeta
    # sum(g) = gamma * dbeta and sum(g * x_hat) = gamma * dgamma, so with k = gamma * inv_std:
    # dx = k * (dout - dbeta / m - x_hat * dgamma / m).
    m = len(images) * pixels
    dx = x_hat_images * per_pixel(-dgamma / m, pixels)
    dx += images
    dx -= per_pixel(dbeta / m, pixels)
    dx *= k
    return _like(dx, dout.shape), dgamma, dbeta
