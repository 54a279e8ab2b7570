"""Chapter 7's exercise checks (toy images): see ``cnnedu.exercises``."""

import numpy as np

from cnnedu.gradcheck import distinct_values, rel_error

from ._common import CheckFailure, _array, _call, _scalar, _seeded, _slip, exercise


def _standardized(X, source, axes, divide=True):
    """X minus ``source``'s mean over ``axes``, divided by its standard deviation (float64)."""
    source = source.astype(np.float64)
    std = source.std(axis=axes, keepdims=True) if divide else 1.0
    return (X.astype(np.float64) - source.mean(axis=axes, keepdims=True)) / std


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
        parts = _call(standardize, X_train, X_test, where=where, returns="(X_train_s, X_test_s)")
        for name, got, X in [("X_train_s", parts[0], X_train), ("X_test_s", parts[1], X_test)]:
            got = _array(got, name, X.shape, where, dtype=dtype)
            slips = [(_standardized(X, X_train, 0), "; you standardised each pixel (axis 0 "
                      "only): use one mean and one std per channel"),
                     (_standardized(X, X_train, None), "; you used one mean and std for all "
                      "channels: compute them per channel"),
                     (_standardized(X, X_test, (0, 2, 3)), "; you used the test images' "
                      "statistics: use the training images' for both sets"),
                     (_standardized(X, X_train, (0, 2, 3), divide=False), "; you only "
                      "subtracted the mean: also divide by the standard deviation")]
            if rel_error(got, _standardized(X, X_train, (0, 2, 3))) > (
                    1e-5 if dtype == np.float32 else 1e-10):
                hint = _slip(got, slips, rtol=1e-4, atol=1e-5)   # float32 results too
                raise CheckFailure(f"{name} is wrong {where}{hint}")


@exercise("top_k_accuracy", ["top_k_accuracy"], points=1)
def _check_top_k_accuracy(rng, top_k_accuracy):
    K = int(rng.integers(4, 9))
    for k in (1, int(rng.integers(2, K)), K):
        N = int(rng.integers(20, 60))
        scores = distinct_values(rng, (N, K))           # no ties: the top k are well defined
        y = rng.integers(0, K, N)
        where = f"for scores of shape ({N}, {K}) and k={k}"
        got = _scalar(_call(top_k_accuracy, scores, y, k, where=where), "top_k_accuracy", where)
        label_score = scores[np.arange(N), y][:, None]
        rank, reversed_rank = np.sum(scores > label_score, 1), np.sum(scores < label_score, 1)
        if abs(got - np.mean(rank < k)) > 1e-12:   # rank 0: the label has the top score
            hint = (" (return a fraction between 0 and 1, not a count)" if got > 1 else
                    " (check that you take the k *largest* scores)"
                    if abs(got - np.mean(reversed_rank < k)) < 1e-12 else "")
            raise CheckFailure(f"top_k_accuracy returned {got:.3g} {where}, which is wrong; it "
                               f"should be the fraction of rows whose label is among the k "
                               f"highest scores{hint}")


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
    run = lambda generator: _call(stratified_split, X, y, fraction, generator, where=where,
                                  returns="(X_train, X_test, y_train, y_test)")
    split = run(np.random.default_rng(seed))
    for name, part, n_dims in zip(["X_train", "X_test", "y_train", "y_test"], split, (2, 2, 1, 1)):
        if not isinstance(part, np.ndarray) or part.ndim != n_dims:
            raise CheckFailure(f"{name} should be a {n_dims}-D NumPy array {where}")
    X_train, X_test, y_train, y_test = split
    if len(X_train) != len(y_train) or len(X_test) != len(y_test):
        raise CheckFailure(f"X and y parts have different lengths {where}")
    train_ids, test_ids = X_train[:, 0].astype(int), X_test[:, 0].astype(int)
    if sorted([*train_ids, *test_ids]) != list(range(N)):
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
    _seeded(run, seed, split, "splits", where)
