"""Chapter 3's exercise checks (two-layer net): see ``cnnedu.exercises``."""

import numpy as np

from cnnedu import functional as F

from ._common import (
    CheckFailure,
    _away_from_zero,
    _call,
    _check_pair,
    _close,
    _scalar_close,
    _unpack,
    exercise,
)


@exercise("affine", ["affine_forward", "affine_backward"], points=2)
def _check_affine(rng, affine_forward, affine_backward):
    for _ in range(2):
        N, D, M = (int(v) for v in rng.integers(2, 7, 3))
        x, W, b = rng.standard_normal((N, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
        where = f"for x ({N}, {D}), W ({D}, {M})"
        out, _ = _unpack(_call(affine_forward, x.copy(), W.copy(), b.copy(), where=where), 2,
                         "affine_forward", "(out, cache)")
        _close(out, x @ W + b, "out", where)
        _check_pair(rng, affine_forward, affine_backward, lambda x, W, b: x @ W + b,
                    [x, W, b], {}, where, ["dx", "dW", "db"])


@exercise("relu", ["relu_forward", "relu_backward"], points=1)
def _check_relu(rng, relu_forward, relu_backward):
    for shape in [(int(rng.integers(2, 6)), int(rng.integers(2, 6))),
                  tuple(int(v) for v in rng.integers(2, 4, 4))]:
        x = _away_from_zero(rng, shape)
        where = f"for x of shape {shape}"
        out, _ = _unpack(_call(relu_forward, x.copy(), where=where), 2, "relu_forward",
                         "(out, cache)")
        _close(out, np.maximum(x, 0), "out", where)
        _check_pair(rng, relu_forward, relu_backward, lambda x: np.maximum(x, 0),
                    [x], {}, where, ["dx"])


def _ref_two_layer_loss(params, X, y, reg):
    W1, b1, W2, b2 = (params[k] for k in ("W1", "b1", "W2", "b2"))
    hidden = X @ W1 + b1
    act = np.maximum(hidden, 0)
    loss, dscores = F.softmax_cross_entropy(act @ W2 + b2, y)
    loss += 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    dhidden = (dscores @ W2.T) * (hidden > 0)
    grads = {"W1": X.T @ dhidden + reg * W1, "b1": dhidden.sum(axis=0),
             "W2": act.T @ dscores + reg * W2, "b2": dscores.sum(axis=0)}
    return loss, grads


@exercise("two_layer_loss", ["two_layer_loss"], points=3)
def _check_two_layer_loss(rng, two_layer_loss):
    for reg in (0.0, float(rng.uniform(0.1, 1.0))):
        N, D, H, K = (int(v) for v in rng.integers(3, 7, 4))
        params = {"W1": rng.standard_normal((D, H)), "b1": rng.standard_normal(H),
                  "W2": rng.standard_normal((H, K)), "b2": rng.standard_normal(K)}
        X, y = rng.standard_normal((N, D)), rng.integers(0, K, N)
        where = f"for X ({N}, {D}), {H} hidden units, {K} classes, reg={reg:.2g}"
        copies = {k: v.copy() for k, v in params.items()}
        result = _call(two_layer_loss, copies, X.copy(), y.copy(), reg, where=where)
        loss, grads = _unpack(result, 2, "two_layer_loss", "(loss, grads)")
        ref_loss, ref_grads = _ref_two_layer_loss(params, X, y, reg)
        _scalar_close(loss, ref_loss, "loss", where)
        if not isinstance(grads, dict) or set(grads) != set(ref_grads):
            keys = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
            raise CheckFailure(f"grads should be a dict with keys W1, b1, W2, b2, got {keys}")
        for key in ref_grads:
            _close(grads[key], ref_grads[key], f"grads['{key}']", where)
