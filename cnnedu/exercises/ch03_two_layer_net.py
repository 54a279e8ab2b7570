"""Chapter 3's exercise checks (two-layer net): see ``cnnedu.exercises``.

The learner writes the layers (affine, ReLU) from the chapter's derivation, then
the backward pass of the network whose forward pass the chapter shows.
"""

import numpy as np

from ._common import (
    CheckFailure,
    _away_from_zero,
    _call,
    _check_pair,
    _close,
    _unpack,
    exercise,
    numerical_gradient_array,
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


def _ref_two_layer_scores(X, W1, b1, W2, b2):
    return np.maximum(X @ W1 + b1, 0) @ W2 + b2


@exercise("two_layer_backward", ["two_layer_forward", "two_layer_backward"], points=2)
def _check_two_layer_backward(rng, two_layer_forward, two_layer_backward):
    """The chapter shows two_layer_forward; the learner writes its backward pass.

    The forward's scores are compared too (a learner may have changed the
    shown cell), and every gradient is checked numerically against the
    reference network, with no pre-activation within 0.05 of the ReLU's kink.
    """
    for _ in range(2):
        N, D, H, K = (int(v) for v in rng.integers(3, 7, 4))
        X = rng.standard_normal((N, D))
        for _ in range(1000):
            params = {"W1": rng.standard_normal((D, H)), "b1": rng.standard_normal(H),
                      "W2": rng.standard_normal((H, K)), "b2": rng.standard_normal(K)}
            if np.abs(X @ params["W1"] + params["b1"]).min() > 0.05:
                break
        where = f"for X ({N}, {D}), {H} hidden units, {K} classes"
        copies = {k: v.copy() for k, v in params.items()}
        result = _call(two_layer_forward, copies, X.copy(), where=where)
        scores, cache = _unpack(result, 2, "two_layer_forward", "(scores, cache)")
        _close(scores, _ref_two_layer_scores(X, **params), "two_layer_forward's scores", where,
               hint=" (two_layer_forward is the chapter's: run its cell as given)")
        dscores = rng.standard_normal((N, K))
        grads = _call(two_layer_backward, dscores.copy(), cache, where=where)
        if not isinstance(grads, dict) or set(grads) != set(params):
            keys = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
            raise CheckFailure(f"two_layer_backward should return a dict with keys W1, b1, W2, "
                               f"b2, got {keys}")
        for key in params:
            # params[key] is perturbed in place; the lambda reads it through params
            expected = numerical_gradient_array(
                lambda: _ref_two_layer_scores(X, **params), params[key], dscores)
            _close(grads[key], expected, f"grads['{key}']", where, tol=1e-6)
