"""Small synthetic datasets made on the fly: the CS231n spiral and 11x11 lines-and-squares images.

Used by chapters 2, 3, 4 and 8 (``spiral``) and chapter 7
(``lines_and_squares``, ``train_test_split``).

Every ``rng`` argument follows the package's one rule (``cnnedu._checks.as_generator``): a Generator, an int seed, or None
(a seed from NumPy's global state, so ``np.random.seed(0)`` repeats a run); it
raises TypeError for anything else and ValueError for a negative seed.
"""

import numpy as np

from .._checks import as_generator as _rng


def spiral(n_per_class=100, n_classes=3, rng=None):
    """The CS231n spiral: ``n_classes`` interleaved arms in 2-D, not linearly separable.

    Arm ``k`` has ``n_per_class`` points at radii evenly spaced from 0 to 1;
    its angle (in radians) grows linearly from ``4k`` to ``4(k + 1)`` with the
    radius, plus Gaussian noise of std 0.2.

    Returns
    -------
    X : np.ndarray of float32, shape (n_per_class * n_classes, 2)
        Points inside the unit disc, ordered by class.
    y : np.ndarray of int64, shape (n_per_class * n_classes,)
        Class labels in 0..n_classes-1.

    Raises TypeError or ValueError for a bad ``rng`` (see the module docstring).

    Chapters 2, 3, 4 and 8. Source: the CS231n notes "Putting it together:
    minimal neural network case study" (A. Karpathy, Stanford CS231n),
    https://cs231n.github.io/neural-networks-case-study/.
    """
    rng = _rng(rng)
    X = np.zeros((n_per_class * n_classes, 2), dtype=np.float32)
    y = np.zeros(n_per_class * n_classes, dtype=np.int64)
    for k in range(n_classes):
        rows = slice(n_per_class * k, n_per_class * (k + 1))
        radius = np.linspace(0.0, 1, n_per_class)
        theta = np.linspace(k * 4, (k + 1) * 4, n_per_class) + rng.standard_normal(n_per_class) * 0.2
        X[rows] = np.c_[radius * np.sin(theta), radius * np.cos(theta)]
        y[rows] = k
    return X, y


def lines_and_squares(img_size=11, n_per_class=100, noise=0.1, rng=None):
    """Toy images in three classes, each drawn at a random position:

    0. a vertical line (full height, one pixel wide)
    1. a horizontal line (full width, one pixel high)
    2. a 3x3 filled square

    Drawn pixels are 1 and the background 0, plus Gaussian noise of std
    ``noise`` on every pixel.

    Returns
    -------
    X : np.ndarray of float32, shape (3 * n_per_class, 1, img_size, img_size)
        NCHW images, ordered by class.
    y : np.ndarray of int64, shape (3 * n_per_class,)
        Labels 0, 1, 2 as listed above.

    Raises ValueError if ``img_size`` < 3, and TypeError or ValueError for a
    bad ``rng``.

    Chapter 7, which shows why a linear classifier on the pixels cannot get
    every image right while a small CNN can. Made for this course.
    """
    if img_size < 3:
        raise ValueError(f"lines_and_squares: img_size must be >= 3 to fit a 3x3 square, got {img_size}")
    rng = _rng(rng)
    N = 3 * n_per_class
    X = np.zeros((N, 1, img_size, img_size), dtype=np.float32)
    y = np.repeat(np.arange(3), n_per_class).astype(np.int64)
    idx = np.arange(n_per_class)
    columns = rng.integers(0, img_size, n_per_class)
    X[idx, 0, :, columns] = 1.0
    rows = rng.integers(0, img_size, n_per_class)
    X[n_per_class + idx, 0, rows, :] = 1.0
    top, left = rng.integers(0, img_size - 2, (2, n_per_class))
    for di in range(3):
        for dj in range(3):
            X[2 * n_per_class + idx, 0, top + di, left + dj] = 1.0
    X += (noise * rng.standard_normal(X.shape)).astype(np.float32)
    return X, y


def train_test_split(X, y, train_fraction=0.8, rng=None):
    """Stratified split: each class keeps the same fraction in train and test.

    Each class's indices are shuffled and the first
    ``round(train_fraction * count)`` go to the training set.

    Parameters
    ----------
    X : array of shape (N, ...), any dtype
    y : array of shape (N,), class labels
    train_fraction : float in (0, 1)

    Returns
    -------
    X_train, X_test, y_train, y_test
        Rows of ``X`` and ``y`` (same dtypes), each set shuffled.

    Raises ValueError if ``X`` and ``y`` differ in length or
    ``train_fraction`` is not in (0, 1), and TypeError or ValueError for a
    bad ``rng``.

    Chapter 7. The same split as scikit-learn's
    ``train_test_split(X, y, stratify=y)``.
    """
    if len(X) != len(y):
        raise ValueError(f"train_test_split: X has {len(X)} samples but y has {len(y)}; they must match")
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_test_split: train_fraction must be in (0, 1), got {train_fraction}")
    rng = _rng(rng)
    train, test = [], []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        cut = int(round(train_fraction * len(members)))
        train.append(members[:cut])
        test.append(members[cut:])
    train = rng.permutation(np.concatenate(train))
    test = rng.permutation(np.concatenate(test))
    return X[train], X[test], y[train], y[test]
