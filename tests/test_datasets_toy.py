import numpy as np
import pytest

from cnnedu.datasets import lines_and_squares, spiral, train_test_split


def test_spiral_shapes_and_classes():
    X, y = spiral(n_per_class=50, n_classes=4, rng=0)
    assert X.shape == (200, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [50] * 4
    assert np.abs(X).max() <= 1.0 + 1e-6
    np.testing.assert_array_equal(spiral(rng=3)[0], spiral(rng=3)[0])


def test_lines_and_squares_draws_what_it_says():
    X, y = lines_and_squares(img_size=11, n_per_class=40, noise=0.0, rng=0)
    assert X.shape == (120, 1, 11, 11) and X.dtype == np.float32
    img = X[:, 0]
    vertical, horizontal, square = img[y == 0], img[y == 1], img[y == 2]
    # a vertical line: one column of 11 ones; horizontal: one row; square: 9 ones in a 3x3 block
    assert (vertical.sum(axis=1).max(axis=1) == 11).all() and (vertical.sum(axis=(1, 2)) == 11).all()
    assert (horizontal.sum(axis=2).max(axis=1) == 11).all() and (horizontal.sum(axis=(1, 2)) == 11).all()
    assert (square.sum(axis=(1, 2)) == 9).all()
    for s in square:
        rows, cols = np.nonzero(s)
        assert rows.max() - rows.min() == 2 and cols.max() - cols.min() == 2
    noisy, _ = lines_and_squares(n_per_class=40, noise=0.1, rng=0)
    assert (noisy - X).std() == pytest.approx(0.1, rel=0.05)


def test_train_test_split_is_stratified():
    X, y = lines_and_squares(n_per_class=100, rng=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, 0.8, rng=0)
    assert np.bincount(y_train).tolist() == [80, 80, 80]
    assert np.bincount(y_test).tolist() == [20, 20, 20]
    # no sample in both
    together = np.concatenate([X_train, X_test]).reshape(300, -1)
    assert len(np.unique(together, axis=0)) == 300
    with pytest.raises(ValueError, match="X has 300 samples but y has 299"):
        train_test_split(X, y[:-1])


def test_classic_seeding_repeats_the_datasets():
    """rng=None draws from NumPy's global state (cnnedu._checks.as_generator), so np.random.seed repeats a run."""
    from cnnedu.datasets import lines_and_squares, spiral
    runs = []
    for _ in range(2):
        np.random.seed(0)
        runs.append((spiral(), lines_and_squares()))
    for (a, b), (c, d) in zip(runs[0], runs[1]):
        assert np.array_equal(a, c) and np.array_equal(b, d)
    np.random.seed(1)
    assert not np.array_equal(spiral()[0], runs[0][0][0])
