"""Chapter 10's exercise checks (MNIST): see ``cnnedu.exercises``."""

import numpy as np


from ._common import (
    CheckFailure,
    _array,
    _call,
    _close,
    _unpack,
    exercise,
)


@exercise("confusion_matrix", ["confusion_matrix"], points=1)
def _check_confusion_matrix(rng, confusion_matrix):
    for K in (None, int(rng.integers(3, 6))):
        n_classes = 10 if K is None else K
        N = int(rng.integers(30, 80))
        # Leave the last class out: it must still get a row and a column.
        y_true = rng.integers(0, n_classes - 1, N)
        y_pred = np.where(rng.random(N) < 0.6, y_true, rng.integers(0, n_classes - 1, N))
        where = (f"for {N} labels and n_classes={n_classes}"
                 + (" (the default)" if K is None else ""))
        if K is None:
            got = _call(confusion_matrix, y_true.copy(), y_pred.copy(), where=where)
        else:
            got = _call(confusion_matrix, y_true.copy(), y_pred.copy(), n_classes=K, where=where)
        got = _array(got, "the confusion matrix", (n_classes, n_classes), where)
        if not np.issubdtype(got.dtype, np.integer):
            raise CheckFailure(f"the confusion matrix should hold integers (counts), got dtype "
                               f"{got.dtype} {where}")
        expected = np.zeros((n_classes, n_classes), dtype=np.int64)
        np.add.at(expected, (y_true, y_pred), 1)
        if not np.array_equal(got, expected):
            hint = ("; it is transposed: rows are the true class, columns the predicted class"
                    if np.array_equal(got, expected.T) else "")
            wrong = int(np.sum(got != expected))
            raise CheckFailure(f"{wrong} of the {n_classes * n_classes} counts are wrong "
                               f"{where}{hint}")


@exercise("dropout_forward", ["dropout_forward"], points=2)
def _check_dropout_forward(rng, dropout_forward):
    seed = int(rng.integers(2**32))
    for p in (0.5, float(rng.choice([0.2, 0.3])), float(rng.choice([0.7, 0.8]))):
        shape = (100, 200)
        x = 1 + 0.5 * rng.standard_normal(shape)
        where = f"for x of shape {shape}, p={p}"
        result = _call(dropout_forward, x.copy(), p, np.random.default_rng(seed), where=where)
        out, mask = _unpack(result, 2, "dropout_forward", "(out, mask)")
        out = _array(out, "out", shape, where)
        mask = _array(mask, "mask", shape, where).astype(np.float64)
        scale = 1 / (1 - p)
        if not np.all(np.isclose(mask, 0) | np.isclose(mask, scale)):
            raise CheckFailure(f"mask should only hold 0 and 1/(1-p) {where} (inverted dropout "
                               f"scales the kept values)")
        _close(out, x * mask, "out compared with x * mask", where, tol=1e-6)
        n, keep = x.size, float(np.mean(mask > 0))
        if abs(keep - (1 - p)) > 5 * np.sqrt(p * (1 - p) / n):
            raise CheckFailure(f"{keep:.1%} of the values were kept {where}; p is the "
                               f"probability of dropping a value")
        spread = 5 * np.sqrt(np.mean(x * x) * p / (1 - p) / n)
        if abs(out.mean() - x.mean()) > spread:
            raise CheckFailure(f"the mean changed from {x.mean():.3f} to {out.mean():.3f} {where}")
        again = _call(dropout_forward, x.copy(), p, np.random.default_rng(seed), where=where)
        if not np.array_equal(np.asarray(_unpack(again, 2, "dropout_forward", "")[1]), mask):
            raise CheckFailure(f"two calls with generators seeded alike gave different masks "
                               f"{where}: draw the numbers from rng")
        seed += 1  # the next p uses another seed, so a fixed mask would show
