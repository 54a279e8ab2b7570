"""Chapter 3's exercise checks (two-layer net): the affine and ReLU layers, and the backward
pass of the network whose forward pass the chapter shows. See ``cnnedu.exercises``."""

import numpy as np

from cnnedu.gradcheck import away_from_zero, numerical_gradient_array

from ._common import _arrays, _call, _check_pair, _close, _sizes, exercise


@exercise("affine", ["affine_forward", "affine_backward"], points=2)
def _check_affine(rng, affine_forward, affine_backward):
    for _ in range(2):
        N, D, M = _sizes(rng, 2, 7, 3)
        x, W, b = rng.standard_normal((N, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
        _check_pair(rng, affine_forward, affine_backward, lambda x, W, b: x @ W + b, [x, W, b],
                    f"for x ({N}, {D}), W ({D}, {M})", ["dx", "dW", "db"])


@exercise("relu", ["relu_forward", "relu_backward"], points=1)
def _check_relu(rng, relu_forward, relu_backward):
    for shape in [_sizes(rng, 2, 6, 2), _sizes(rng, 2, 4, 4)]:
        _check_pair(rng, relu_forward, relu_backward, lambda x: np.maximum(x, 0),
                    [away_from_zero(rng, shape)], f"for x of shape {shape}", ["dx"])


def _two_layer_scores(X, W1, b1, W2, b2):
    return np.maximum(X @ W1 + b1, 0) @ W2 + b2


@exercise("two_layer_backward", ["two_layer_forward", "two_layer_backward"], points=2)
def _check_two_layer_backward(rng, two_layer_forward, two_layer_backward):
    # The chapter shows two_layer_forward, but a learner may have changed its cell, so its
    # scores are compared too. No pre-activation lies within 0.05 of the ReLU's kink.
    for _ in range(2):
        N, D, H, K = _sizes(rng, 3, 7, 4)
        X, params = rng.standard_normal((N, D)), {}
        while not params or np.abs(X @ params["W1"] + params["b1"]).min() < 0.05:
            params = {"W1": rng.standard_normal((D, H)), "b1": rng.standard_normal(H),
                      "W2": rng.standard_normal((H, K)), "b2": rng.standard_normal(K)}
        where = f"for X ({N}, {D}), {H} hidden units, {K} classes"
        scores, cache = _call(two_layer_forward, params, X, where=where,
                              returns="(scores, cache)")
        _close(scores, _two_layer_scores(X, **params), "two_layer_forward's scores", where,
               hint=" (two_layer_forward is the chapter's: run its cell as given)")
        dscores = rng.standard_normal((N, K))
        grads = _arrays(_call(two_layer_backward, dscores, cache, where=where), params,
                        "the gradients", where)
        for key in params:
            # numerical_gradient_array perturbs params[key] in place; the lambda reads it.
            expected = numerical_gradient_array(lambda: _two_layer_scores(X, **params),
                                                params[key], dscores)
            _close(grads[key], expected, f"grads['{key}']", where, tol=1e-6)
