"""Chapter 2's exercise checks (linear softmax): see ``cnnedu.exercises``.

The chapter shows the loss as a loop over points; the learner vectorises it
(``softmax_cross_entropy``, ``linear_softmax_loss``) and then derives what the
chapter does not: the backward pass of the softmax on its own
(``softmax_backward``).
"""

import numpy as np

from cnnedu import functional as F

from ._common import (
    CheckFailure,
    _call,
    _close,
    _scalar_close,
    _unpack,
    exercise,
    numerical_gradient_array,
    rel_error,
)


@exercise("softmax_cross_entropy", ["softmax_cross_entropy"], points=2)
def _check_softmax_cross_entropy(rng, softmax_cross_entropy):
    for case in range(3):
        N, K = int(rng.integers(2, 8)), int(rng.integers(3, 8))
        scores = rng.standard_normal((N, K)) * 2
        y = rng.integers(0, K, N)
        where = f"for scores of shape ({N}, {K})"
        hint = ""
        if case > 0:  # huge scores: exp overflows (or underflows) unless the row max is subtracted
            scores = scores * 10 + (1000 if case == 1 else -1000)
            where += f" with values around {1000 if case == 1 else -1000}"
            hint = ("; subtract each row's maximum before np.exp, and compute "
                    "log-probabilities directly")
        result = _call(softmax_cross_entropy, scores.copy(), y.copy(), where=where)
        loss, dscores = _unpack(result, 2, "softmax_cross_entropy", "(loss, dscores)")
        ref_loss, ref_dscores = F.softmax_cross_entropy(scores, y)
        if hint:
            try:
                finite = bool(np.all(np.isfinite(np.asarray(loss, dtype=float))))
            except (TypeError, ValueError):
                finite = True  # not a number at all: _scalar_close says so
            if not finite:
                raise CheckFailure(f"loss is not finite {where}{hint}")
        _scalar_close(loss, ref_loss, "loss", where)
        _close(dscores, ref_dscores, "dscores", where, hint=hint)


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


@exercise("softmax_backward", ["softmax_backward"], points=1)
def _check_softmax_backward(rng, softmax_backward):
    for _ in range(3):
        N, K = int(rng.integers(2, 6)), int(rng.integers(3, 7))
        scores = rng.standard_normal((N, K)) * 2
        probs, dprobs = F.softmax(scores), rng.standard_normal((N, K))
        where = f"for probs and dprobs of shape ({N}, {K})"
        got = _call(softmax_backward, dprobs.copy(), probs.copy(), where=where)
        # dprobs . dP/dS, numerically, through the reference softmax
        expected = numerical_gradient_array(lambda: F.softmax(scores), scores, dprobs)
        hint = ""
        got_array = np.asarray(got, dtype=float) if isinstance(got, np.ndarray) else None
        if got_array is not None and got_array.shape == expected.shape and rel_error(
                got_array, dprobs * probs * (1 - probs)) < 1e-6:
            hint = ("; it uses only dp_k/ds_k: each probability depends on every score of "
                    "its row, so dscores_j sums over all k")
        _close(got, expected, "dscores", where, tol=1e-6, hint=hint)
