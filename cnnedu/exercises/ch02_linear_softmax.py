"""Chapter 2's exercise checks (linear softmax): the vectorised loss, and the backward pass
of the softmax on its own, which the chapter does not derive. See ``cnnedu.exercises``."""

import numpy as np

from cnnedu import functional as F
from cnnedu.gradcheck import numerical_gradient_array

from ._common import _call, _close, _scalar_close, _slip, exercise


@exercise("softmax_cross_entropy", ["softmax_cross_entropy"], points=2)
def _check_softmax_cross_entropy(rng, softmax_cross_entropy):
    # Scores around +-1000: exp overflows (or underflows) unless the row maximum is subtracted.
    for offset in (0, 1000, -1000):
        N, K = int(rng.integers(2, 8)), int(rng.integers(3, 8))
        scores = rng.standard_normal((N, K)) * (20 if offset else 2) + offset
        y = rng.integers(0, K, N)
        where = f"for scores of shape ({N}, {K})"
        hint = ""
        if offset:
            where += f" with values around {offset}"
            hint = ("; subtract each row's maximum before np.exp, and compute "
                    "log-probabilities directly")
        loss, dscores = _call(softmax_cross_entropy, scores, y, where=where,
                              returns="(loss, dscores)")
        ref_loss, ref_dscores = F.softmax_cross_entropy(scores, y)
        _scalar_close(loss, ref_loss, "loss", where, hint=hint)
        _close(dscores, ref_dscores, "dscores", where, hint=hint)


@exercise("linear_softmax_loss", ["linear_softmax_loss"], points=2)
def _check_linear_softmax_loss(rng, linear_softmax_loss):
    for reg in (0.0, float(rng.uniform(0.1, 1.0))):
        N, D, K = int(rng.integers(3, 8)), int(rng.integers(2, 6)), int(rng.integers(3, 6))
        W, b = rng.standard_normal((D, K)), rng.standard_normal(K)
        X, y = rng.standard_normal((N, D)), rng.integers(0, K, N)
        where = f"for X ({N}, {D}), W ({D}, {K}), reg={reg:.2g}"
        loss, dW, db = _call(linear_softmax_loss, W, b, X, y, reg, where=where,
                             returns="(loss, dW, db)")
        ref_loss, dscores = F.softmax_cross_entropy(X @ W + b, y)
        _scalar_close(loss, ref_loss + 0.5 * reg * np.sum(W * W), "loss", where)
        _close(dW, X.T @ dscores + reg * W, "dW", where)
        _close(db, dscores.sum(axis=0), "db", where)


@exercise("softmax_backward", ["softmax_backward"], points=1)
def _check_softmax_backward(rng, softmax_backward):
    for _ in range(3):
        N, K = int(rng.integers(2, 6)), int(rng.integers(3, 7))
        scores = rng.standard_normal((N, K)) * 2
        probs, dprobs = F.softmax(scores), rng.standard_normal((N, K))
        where = f"for probs and dprobs of shape ({N}, {K})"
        got = _call(softmax_backward, dprobs, probs, where=where)
        # dprobs . dP/dS, numerically, through the reference softmax
        expected = numerical_gradient_array(lambda: F.softmax(scores), scores, dprobs)
        diagonal = (dprobs * probs * (1 - probs), "; it uses only dp_k/ds_k: each probability "
                    "depends on every score of its row, so dscores_j sums over all k")
        _close(got, expected, "dscores", where, tol=1e-6, hint=_slip(got, [diagonal]))
