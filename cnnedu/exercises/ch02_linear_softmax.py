"""Chapter 2's exercise checks (linear softmax): see ``cnnedu.exercises``."""

import numpy as np

from cnnedu import functional as F

from ._common import (
    _call,
    _close,
    _scalar_close,
    _unpack,
    exercise,
)


@exercise("softmax", ["softmax"], points=1)
def _check_softmax(rng, softmax):
    for case in range(3):
        N, K = int(rng.integers(2, 6)), int(rng.integers(3, 8))
        scores = rng.standard_normal((N, K)) * 3
        where = f"for scores of shape ({N}, {K})"
        hint = ""
        if case > 0:  # huge scores: exp overflows (or underflows) unless the row max is subtracted
            scores = scores * 10 + (1000 if case == 1 else -1000)
            where += f" with values around {1000 if case == 1 else -1000}"
            hint = "; subtract each row's maximum before np.exp"
        got = _call(softmax, scores.copy(), where=where)
        _close(got, F.softmax(scores), "softmax(scores)", where, hint=hint)


@exercise("softmax_cross_entropy", ["softmax_cross_entropy"], points=2)
def _check_softmax_cross_entropy(rng, softmax_cross_entropy):
    for _ in range(3):
        N, K = int(rng.integers(2, 8)), int(rng.integers(3, 8))
        scores = rng.standard_normal((N, K)) * 2
        y = rng.integers(0, K, N)
        where = f"for scores of shape ({N}, {K})"
        result = _call(softmax_cross_entropy, scores.copy(), y.copy(), where=where)
        loss, dscores = _unpack(result, 2, "softmax_cross_entropy", "(loss, dscores)")
        ref_loss, ref_dscores = F.softmax_cross_entropy(scores, y)
        _scalar_close(loss, ref_loss, "loss", where)
        _close(dscores, ref_dscores, "dscores", where)


def _ref_linear_softmax_loss(W, b, X, y, reg):
    loss, dscores = F.softmax_cross_entropy(X @ W + b, y)
    return loss + 0.5 * reg * np.sum(W * W), X.T @ dscores + reg * W, dscores.sum(axis=0)


@exercise("linear_softmax_loss", ["linear_softmax_loss"], points=2)
def _check_linear_softmax_loss(rng, linear_softmax_loss):
    for reg in (0.0, float(rng.uniform(0.1, 1.0))):
        N, D, K = int(rng.integers(3, 8)), int(rng.integers(2, 6)), int(rng.integers(3, 6))
        W, b = rng.standard_normal((D, K)), rng.standard_normal(K)
        X, y = rng.standard_normal((N, D)), rng.integers(0, K, N)
        where = f"for X ({N}, {D}), W ({D}, {K}), reg={reg:.2g}"
        result = _call(linear_softmax_loss, W.copy(), b.copy(), X.copy(), y.copy(), reg,
                       where=where)
        loss, dW, db = _unpack(result, 3, "linear_softmax_loss", "(loss, dW, db)")
        ref_loss, ref_dW, ref_db = _ref_linear_softmax_loss(W, b, X, y, reg)
        _scalar_close(loss, ref_loss, "loss", where)
        _close(dW, ref_dW, "dW", where)
        _close(db, ref_db, "db", where)
