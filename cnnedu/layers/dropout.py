"""Inverted dropout, the regulariser of chapters 10 to 12."""

import numpy as np

from .._checks import as_generator, check_float, real
from .base import Layer


class Dropout(Layer):
    """Inverted dropout: in training, zero each value with probability p and scale the rest.

    The kept values are multiplied by 1/(1-p), so that the expected output
    equals x and eval mode is simply the identity. Any shape; float32/float64
    kept. ``p`` is a real number in [0, 1); ``rng`` draws the masks (see
    ``cnnedu.layers``). Unlike other layers, an eval-mode forward also allows
    a backward, which is then the identity (``gradcheck.check_layer(...,
    train=False)`` relies on it).

    Raises TypeError/ValueError at construction for a bad p or rng,
    TypeError in forward for non-float input.

    Chapters 10 to 12. Source: Srivastava et al., *Dropout* (JMLR 2014).
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        self.p = real(p, "p", "Dropout", 0, 1)
        self.rng = as_generator(rng, "Dropout: rng")

    def forward(self, x, train=True):
        check_float(x, "x", "Dropout")
        mask, out = None, x
        if train and self.p > 0:
            keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
            mask = keep.astype(x.dtype) / x.dtype.type(1 - self.p)
            out = x * mask
        # Remembered as if training: the cache is the mask (None in eval mode), never x.
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
