"""Test inputs that keep clear of kinks and ties, for gradient checks (chapters 4, 6 and 9).

A central difference with step h is only meaningful where the function is
smooth within h of the input. ReLU has a kink at 0 and max pooling one
wherever two values of a window tie at the top, so the inputs here stay far
(much more than h = 1e-5) from both.
"""

import numpy as np

from .._checks import as_generator, real


def away_from_zero(rng, shape, low=0.1, high=2.0):
    """Random float64 values with ``low <= |x| < high``, half of them negative.

    ReLU and leaky ReLU have their kink at 0, so a central difference with
    h = 1e-5 never crosses it when ``low`` is far above h. The signs are an
    exact half/half split (one more negative for an odd count), since a small
    random array could be all positive. rng: a Generator, an int seed or None
    (the package's rule); shape: an int or a tuple. Returns an array of
    ``shape``, dtype float64.

    Raises TypeError for a bad rng or a non-number low or high, ValueError
    unless 0 <= low < high < inf.

    Chapters 4 and 9, and the tests. Source: CS231n notes, "Neural Networks
    Part 3" (kinks in the objective).
    """
    who = "away_from_zero"
    rng = as_generator(rng, f"{who}: rng")
    low = real(low, "low", who, 0)
    high = real(high, "high", who, low, low_open=True)
    n = int(np.prod(shape))
    signs = rng.permutation(np.resize([-1.0, 1.0], n)).reshape(shape)
    return rng.uniform(low, high, shape) * signs


def distinct_values(rng, shape, spacing=0.05):
    """Random float64 values, pairwise at least ``spacing`` apart, centred on 0.

    No two entries tie, so the maximum of any max-pooling window stays the
    same argument under a step h far below ``spacing``. They are a random
    permutation of ``spacing * (0, 1, ..., n - 1)`` shifted to mean about 0.
    rng: as ``away_from_zero``; shape: an int or a tuple. Returns an array of
    ``shape``, dtype float64.

    Raises TypeError for a bad rng or a non-number spacing, ValueError unless
    spacing is finite and > 0.

    Chapters 6, 9 and 13, and the tests. Source: CS231n notes, "Neural
    Networks Part 3" (kinks in the objective).
    """
    who = "distinct_values"
    rng = as_generator(rng, f"{who}: rng")
    spacing = real(spacing, "spacing", who, 0, low_open=True)
    n = int(np.prod(shape))
    return (rng.permutation(n) * spacing - n * spacing / 2).reshape(shape)
