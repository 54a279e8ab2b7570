"""One rule for every ``rng`` argument in cnnedu (chapters 2 to 10).

Layers, ``Sequential.fit``, the model zoo, the toy datasets and the gradient
checks all turn their ``rng`` argument into a ``np.random.Generator`` here:

* a ``np.random.Generator`` is used as is, so objects built from one
  generator draw one after the other;
* an int >= 0 seeds a fresh ``np.random.default_rng(seed)``;
* ``None`` draws a seed from NumPy's global state with ``np.random.randint``,
  so that the classic ``np.random.seed(0)`` at the top of a notebook makes a
  run repeat.

Anything else is a TypeError (a negative int a ValueError).
"""

import numpy as np

__all__ = ["as_generator"]


def as_generator(rng, who="rng"):
    """The ``np.random.Generator`` for an ``rng`` argument, by the rule above.

    ``who`` prefixes the error messages, e.g. ``"Conv2D: rng"``.
    Raises TypeError for anything but a Generator, an int or None (bools
    included), ValueError for a negative seed.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        # Drawn from the legacy global state, so np.random.seed(0) makes runs repeat.
        return np.random.default_rng(np.random.randint(2**63, dtype=np.int64))
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"{who} must be a seed >= 0, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"{who} must be a np.random.Generator, an int seed >= 0 or None, got {rng!r}")
