"""Chapter 7's exercise checks (toy images): see ``cnnedu.exercises``."""

import numpy as np


from ._common import (
    CheckFailure,
    _array,
    _call,
    _distinct,
    _scalar,
    _unpack,
    exercise,
    rel_error,
)


def _channel_stats(X):
    """Per-channel mean and standard deviation over samples and pixels, shaped (1, C, 1, 1)."""
    X = np.asarray(X, np.float64)
    return X.mean(axis=(0, 2, 3), keepdims=True), X.std(axis=(0, 2, 3), keepdims=True)


def _standardize_hint(got, X_train, X_test, which):
    """Name the usual slip when ``got`` equals one of them (never the expected values)."""
    X = X_train if which == "X_train_s" else X_test
    X64 = np.asarray(X, np.float64)
    slips = [
        (X_train.mean(axis=0), X_train.std(axis=0),
         "; you standardised each pixel (axis 0 only): use one mean and one std per channel"),
        (X_train.mean(), X_train.std(),
         "; you used one mean and std for all channels: compute them per channel"),
        (*_channel_stats(X_test),
         "; you used the test images' statistics: use the training images' for both sets"),
        (_channel_stats(X_train)[0], 1.0,
         "; you only subtracted the mean: also divide by the standard deviation"),
    ]
    got = np.asarray(got, np.float64)
    for mean, std, hint in slips:
        candidate = (X64 - np.asarray(mean, np.float64)) / np.asarray(std, np.float64)
        if got.shape == candidate.shape and np.allclose(got, candidate, rtol=1e-4, atol=1e-5):
            return hint
    return ""


@exercise("standardize", ["standardize"], points=1)
def _check_standardize(rng, standardize):
    for dtype, C in [(np.float64, int(rng.integers(2, 5))), (np.float32, 1), (np.float32, 3)]:
        N, H, W = int(rng.integers(6, 15)), int(rng.integers(3, 7)), int(rng.integers(3, 7))
        # Channels with different offsets and scales, and pixels that differ within a channel.
        offsets = rng.uniform(-5, 5, (1, C, 1, 1)) + rng.standard_normal((1, C, H, W))
        scales = rng.uniform(0.2, 4, (1, C, 1, 1))
        X_train = (offsets + scales * rng.standard_normal((N, C, H, W))).astype(dtype)
        X_test = (offsets + 1 + 2 * scales * rng.standard_normal((5, C, H, W))).astype(dtype)
        where = f"for {np.dtype(dtype)} X_train of shape {(N, C, H, W)}"
        result = _call(standardize, X_train.copy(), X_test.copy(), where=where)
        train_s, test_s = _unpack(result, 2, "standardize", "(X_train_s, X_test_s)")
        mean, std = _channel_stats(X_train)
        tol = 1e-5 if dtype == np.float32 else 1e-10
        for name, got, X in [("X_train_s", train_s, X_train), ("X_test_s", test_s, X_test)]:
            expected = (X.astype(np.float64) - mean) / std
            got = _array(got, name, expected.shape, where, dtype=dtype)
            if rel_error(got, expected) > tol:
                raise CheckFailure(f"{name} is wrong {where}"
                                   + _standardize_hint(got, X_train, X_test, name))


@exercise("top_k_accuracy", ["top_k_accuracy"], points=1)
def _check_top_k_accuracy(rng, top_k_accuracy):
    K = int(rng.integers(4, 9))
    for k in (1, int(rng.integers(2, K)), K):
        N = int(rng.integers(20, 60))
        scores = _distinct(rng, (N, K))               # no ties: the top k are well defined
        y = rng.integers(0, K, N)
        where = f"for scores of shape ({N}, {K}) and k={k}"
        got = _scalar(_call(top_k_accuracy, scores.copy(), y.copy(), k, where=where),
                      "top_k_accuracy", where)
        rank = np.sum(scores > scores[np.arange(N), y][:, None], axis=1)   # 0 for the top score
        expected = float(np.mean(rank < k))
        if abs(got - expected) > 1e-12:
            hint = (" (return a fraction between 0 and 1, not a count)" if got > 1 else
                    " (check that you take the k *largest* scores)"
                    if abs(got - np.mean(np.sum(scores < scores[np.arange(N), y][:, None],
                                                axis=1) < k)) < 1e-12 else "")
            raise CheckFailure(f"top_k_accuracy returned {got:.3g} {where}, which is wrong; it "
                               f"should be the fraction of rows whose label is among the k "
                               f"highest scores{hint}")


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
