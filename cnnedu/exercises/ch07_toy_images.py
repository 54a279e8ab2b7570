"""Chapter 7's exercise checks (toy images): see ``cnnedu.exercises``."""

import numpy as np


from ._common import (
    CheckFailure,
    _call,
    _close,
    _scalar,
    _unpack,
    exercise,
)


@exercise("mean_center", ["mean_center"], points=1)
def _check_mean_center(rng, mean_center):
    for dtype, shape in [(np.float64, (int(rng.integers(5, 20)), int(rng.integers(2, 6)))),
                         (np.float32, (int(rng.integers(5, 20)), 1, 4, 4))]:
        X_train = (rng.standard_normal(shape) * 3 + rng.standard_normal(shape[1:])).astype(dtype)
        X_test = (rng.standard_normal((7,) + shape[1:]) + 1).astype(dtype)
        where = f"for {np.dtype(dtype)} X_train of shape {shape}"
        result = _call(mean_center, X_train.copy(), X_test.copy(), where=where)
        train_c, test_c = _unpack(result, 2, "mean_center", "(X_train_c, X_test_c)")
        mean = X_train.astype(np.float64).mean(axis=0)
        tol = 1e-5 if dtype == np.float32 else 1e-10
        _close(train_c, X_train - mean, "X_train_c", where, tol=tol, dtype=dtype)
        _close(test_c, X_test - mean, "X_test_c", where, tol=tol, dtype=dtype,
               hint=" (subtract the mean of X_train, not of X_test)")


@exercise("accuracy", ["accuracy"], points=1)
def _check_accuracy(rng, accuracy):
    for _ in range(3):
        N, K = int(rng.integers(10, 40)), int(rng.integers(2, 6))
        scores, y = rng.standard_normal((N, K)), rng.integers(0, K, N)
        where = f"for scores of shape ({N}, {K})"
        got = _scalar(_call(accuracy, scores.copy(), y.copy(), where=where), "accuracy", where)
        if abs(got - np.mean(scores.argmax(axis=1) == y)) > 1e-12:
            raise CheckFailure(f"accuracy returned {got:.4g} {where}, which is wrong; it should "
                               f"be the fraction (0 to 1) of rows whose argmax equals y")


def _sample_ids(X_part):
    """The ids the check wrote into column 0 of X, for the rows of one part of a split."""
    return [int(v) for v in np.asarray(X_part).reshape(len(X_part), -1)[:, 0]]


@exercise("stratified_split", ["stratified_split"], points=2)
def _check_stratified_split(rng, stratified_split):
    K = int(rng.integers(2, 5))
    fraction = float(rng.choice([0.6, 0.7, 0.75, 0.8]))
    while True:  # class sizes that tell round() from floor() and ceil(), and have no ties at .5
        counts = rng.integers(8, 30, K)
        frac = (fraction * counts) % 1
        if (np.any(frac > 0.5 + 1e-6) and np.any((frac > 1e-6) & (frac < 0.5 - 1e-6))
                and not np.any(np.abs(frac - 0.5) < 1e-6)):
            break
    y = rng.permutation(np.repeat(np.arange(K), counts))
    N = len(y)
    X = rng.standard_normal((N, 3))
    X[:, 0] = np.arange(N)  # column 0 is each sample's id, so the parts can be traced back
    where = f"for {N} samples in {K} classes of sizes {counts.tolist()}, train_fraction {fraction}"
    seed = int(rng.integers(2**32))
    runs = []
    for s in (seed, seed, seed + 1):
        result = _call(stratified_split, X.copy(), y.copy(), fraction,
                       np.random.default_rng(s), where=where)
        runs.append(_unpack(result, 4, "stratified_split", "(X_train, X_test, y_train, y_test)"))
    X_train, X_test, y_train, y_test = runs[0]
    for name, part, n_dims in [("X_train", X_train, 2), ("X_test", X_test, 2),
                               ("y_train", y_train, 1), ("y_test", y_test, 1)]:
        if not isinstance(part, np.ndarray) or part.ndim != n_dims:
            raise CheckFailure(f"{name} should be a {n_dims}-D NumPy array {where}")
    if len(X_train) != len(y_train) or len(X_test) != len(y_test):
        raise CheckFailure(f"X and y parts have different lengths {where}")
    train_ids, test_ids = _sample_ids(X_train), _sample_ids(X_test)
    if sorted(train_ids + test_ids) != list(range(N)):
        raise CheckFailure(f"the train and test parts should hold every sample exactly once "
                           f"(disjoint, together all samples) {where}")
    if not (np.array_equal(y[train_ids], y_train) and np.array_equal(y[test_ids], y_test)):
        raise CheckFailure(f"the labels no longer match their samples {where}: "
                           f"index X and y with the same indices")
    for c in range(K):
        n_train = int(np.sum(y_train == c))
        if n_train != round(fraction * counts[c]):
            raise CheckFailure(f"class {c} ({counts[c]} samples) has {n_train} in the training "
                               f"part {where}; expected round(train_fraction * {counts[c]})")
    if not all(np.array_equal(a, b) for a, b in zip(runs[0], runs[1])):
        raise CheckFailure(f"two calls with generators seeded alike gave different splits "
                           f"{where}: draw all randomness from rng")
    if all(np.array_equal(a, b) for a, b in zip(runs[0], runs[2])):
        raise CheckFailure(f"two calls with differently seeded generators gave the same split "
                           f"{where}: shuffle with rng")
