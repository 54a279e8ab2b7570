"""Chapter 10's exercise checks (MNIST): see ``cnnedu.exercises``."""

import numpy as np

from ._common import CheckFailure, _array, _call, _close, _seeded, exercise


def _recall_precision(cm):
    """Per-class recall (over rows) and precision (over columns); 0 for an empty row or column."""
    cm = np.asarray(cm, dtype=np.float64)
    hits = np.diagonal(cm)   # 0 wherever a row or a column sums to 0
    return hits / np.maximum(cm.sum(axis=1), 1), hits / np.maximum(cm.sum(axis=0), 1)


@exercise("recall_precision", ["recall_precision"], points=1)
def _check_recall_precision(rng, recall_precision):
    for K in (10, int(rng.integers(3, 7))):
        # Mostly right, with errors that are not symmetric, so that rows and columns differ.
        cm = rng.integers(0, 6, (K, K)) * (rng.random((K, K)) < 0.5)
        cm[np.diag_indices(K)] += rng.integers(20, 80, K)
        absent, never = rng.choice(K, 2, replace=False)
        cm[absent, :] = 0       # a class with no samples: its recall is 0 by the task's rule
        cm[:, never] = 0        # a class never predicted: its precision is 0
        where = (f"for a {K}x{K} confusion matrix (class {absent} has no samples, class {never} "
                 f"is never predicted)")
        recall, precision = _call(recall_precision, cm, where=where,
                                  returns="(recall, precision)")
        nan_hint = (" (a class with no samples gets recall 0, a class never predicted gets "
                    "precision 0)")
        recall = _array(recall, "recall", (K,), where, hint=nan_hint)
        precision = _array(precision, "precision", (K,), where, hint=nan_hint)
        expected_recall, expected_precision = _recall_precision(cm)
        if (np.allclose(recall, expected_precision) and np.allclose(precision, expected_recall)
                and not np.allclose(expected_recall, expected_precision)):
            raise CheckFailure(f"recall and precision are swapped {where}: recall is about the "
                               f"samples of each true class, precision about the predictions "
                               f"of each class")
        for what, got, expected in (("recall", recall, expected_recall),
                                    ("precision", precision, expected_precision)):
            wrong = np.flatnonzero(~np.isclose(got, expected, rtol=1e-9, atol=1e-12))
            if wrong.size:
                integers = np.all(np.isin(got, (0, 1))) and not np.all(np.isin(expected, (0, 1)))
                hint = "; all your values are 0 or 1: integer division?" if integers else ""
                raise CheckFailure(f"{what} is wrong for {wrong.size} of the {K} classes "
                                   f"(first: class {int(wrong[0])}) {where}{hint}")


@exercise("dropout_forward", ["dropout_forward"], points=2)
def _check_dropout_forward(rng, dropout_forward):
    seed = int(rng.integers(2**32))
    for p in (0.5, float(rng.choice([0.2, 0.3])), float(rng.choice([0.7, 0.8]))):
        seed += 1  # each p its own seed, so that a fixed mask shows
        x = 1 + 0.5 * rng.standard_normal((100, 200))
        where = f"for x of shape {x.shape}, p={p}"
        run = lambda generator: _call(dropout_forward, x, p, generator, where=where,
                                      returns="(out, mask)")
        out, mask = run(np.random.default_rng(seed))
        out = _array(out, "out", x.shape, where)
        mask = _array(mask, "mask", x.shape, where).astype(np.float64)
        if not np.all(np.isclose(mask, 0) | np.isclose(mask, 1 / (1 - p))):
            raise CheckFailure(f"mask should only hold 0 and 1/(1-p) {where} (inverted dropout "
                               f"scales the kept values)")
        _close(out, x * mask, "out compared with x * mask", where, tol=1e-6)
        keep = float(np.mean(mask > 0))
        if abs(keep - (1 - p)) > 5 * np.sqrt(p * (1 - p) / x.size):
            raise CheckFailure(f"{keep:.1%} of the values were kept {where}; p is the "
                               f"probability of dropping a value")
        if abs(out.mean() - x.mean()) > 5 * np.sqrt(np.mean(x * x) * p / (1 - p) / x.size):
            raise CheckFailure(f"the mean changed from {x.mean():.3f} to {out.mean():.3f} {where}")
        _seeded(run, seed, (out, mask), "masks", where, differs=False)
