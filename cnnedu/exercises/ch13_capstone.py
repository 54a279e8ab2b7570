"""Chapter 13's exercise checks (capstone: your own CNN on MNIST): see ``cnnedu.exercises``.

The learner assembles the network of the capstone from the functions of
earlier chapters (conv2d, max_pool2d, relu, affine, softmax_cross_entropy,
adam_update, he_normal), all pasted into the chapter's notebook:

    conv 3x3 (pad 1) -> ReLU -> max-pool 2 -> conv 3x3 (pad 1) -> ReLU -> max-pool 2
    -> flatten -> affine -> ReLU -> affine

with parameters ``{"W1", "b1", ..., "W4", "b4"}`` (conv weights (F, C, 3, 3),
affine weights (in, out), as in the book). The checks below run the learner's
functions on small networks and compare them with a reference built on
``cnnedu.functional``:

* ``cnn_forward``: ``init_cnn`` (shapes, dtype, He scale) and the scores of
  ``cnn_forward``, in float64 and float32;
* ``cnn_backward``: every gradient of ``cnn_backward`` against numerical
  gradients of the reference forward, on inputs drawn so that no ReLU kink or
  max-pool tie lies within the finite-difference step;
* ``train_step``: one Adam step from the same weights and optimiser state;
* ``train``: the whole loop, run on a small random set and compared step by
  step with a reference loop (same shuffling, same schedule), then trained on
  toy images (``lines_and_squares``, 12x12) and scored by the reference
  forward on images it never saw: the trained accuracy;
* ``evaluate``: the accuracy, batch by batch, last partial batch included.

Each check takes well under a second on one core: the networks are tiny, so
that the grader's per-exercise time limit holds on a slow machine.
"""

import math

import numpy as np

from cnnedu import functional as F
from cnnedu.datasets import lines_and_squares

from ._common import (
    CheckFailure,
    _array,
    _call,
    _close,
    _dims,
    _scalar,
    _scalar_close,
    _unpack,
    exercise,
    numerical_gradient_array,
    rel_error,
)

PARAM_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4")
# The toy task of the `train` check (see _check_train): reference accuracy over 20 seeds is
# recorded in tests/test_exercises_ch13_capstone.py, which also asserts this threshold's margin.
TOY_THRESHOLD = 0.9


# ----------------------------------------------------------------------------
# The reference network, on cnnedu.functional
# ----------------------------------------------------------------------------

def _ref_forward(params, X, keep=False):
    """Scores (N, K) of the capstone network; with ``keep``, also (scores, caches, kinks).

    ``kinks`` lists the arrays whose values must stay away from a kink for a
    numerical gradient to be exact: the pre-activations of the three ReLUs.
    """
    p = params
    z1, c1 = F.conv2d_forward(X, p["W1"], p["b1"], 1, 1)
    a1, r1 = F.relu_forward(z1)
    h1, m1 = F.max_pool2d_forward(a1, 2)
    z2, c2 = F.conv2d_forward(h1, p["W2"], p["b2"], 1, 1)
    a2, r2 = F.relu_forward(z2)
    h2, m2 = F.max_pool2d_forward(a2, 2)
    flat = h2.reshape(len(X), -1)
    z3 = flat @ p["W3"] + p["b3"]
    a3 = np.maximum(z3, 0)
    scores = a3 @ p["W4"] + p["b4"]
    if not keep:
        return scores
    caches = (c1, r1, m1, c2, r2, m2, h2.shape, flat, z3, a3)
    return scores, caches, (z1, z2, z3), (a1, a2)


def _ref_backward(params, dscores, caches):
    c1, r1, m1, c2, r2, m2, pooled_shape, flat, z3, a3 = caches
    grads = {"W4": a3.T @ dscores, "b4": dscores.sum(axis=0)}
    d3 = (dscores @ params["W4"].T) * (z3 > 0)
    grads["W3"], grads["b3"] = flat.T @ d3, d3.sum(axis=0)
    d = F.max_pool2d_backward(np.ascontiguousarray((d3 @ params["W3"].T).reshape(pooled_shape)), m2)
    d = F.relu_backward(d, r2)
    d, grads["W2"], grads["b2"] = F.conv2d_backward(d, c2)
    d = F.max_pool2d_backward(d, m1)
    d = F.relu_backward(d, r1)
    _, grads["W1"], grads["b1"] = F.conv2d_backward(d, c1)
    return grads


def _ref_loss_grads(params, X, y):
    scores, caches, _, _ = _ref_forward(params, X, keep=True)
    loss, dscores = F.softmax_cross_entropy(scores, y)
    return float(loss), _ref_backward(params, dscores, caches)


def _ref_adam(params, grads, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state["t"] + 1
    new_params, m, v = {}, {}, {}
    for k in params:
        m[k] = beta1 * state["m"][k] + (1 - beta1) * grads[k]
        v[k] = beta2 * state["v"][k] + (1 - beta2) * grads[k] * grads[k]
        step = lr * (m[k] / (1 - beta1 ** t)) / (np.sqrt(v[k] / (1 - beta2 ** t)) + eps)
        new_params[k] = params[k] - step
    return new_params, {"t": t, "m": m, "v": v}


def _ref_train(params, X, y, epochs, batch_size, peak_lr, rng):
    N = len(X)
    steps = epochs * math.ceil(N / batch_size)
    state = {"t": 0, "m": {k: np.zeros_like(p) for k, p in params.items()},
             "v": {k: np.zeros_like(p) for k, p in params.items()}}
    losses = []
    for _ in range(epochs):
        order = rng.permutation(N)
        for start in range(0, N, batch_size):
            batch = order[start:start + batch_size]
            lr = peak_lr * 0.5 * (1 + math.cos(math.pi * state["t"] / steps))
            loss, grads = _ref_loss_grads(params, X[batch], y[batch])
            params, state = _ref_adam(params, grads, state, lr)
            losses.append(loss)
    return params, losses


# ----------------------------------------------------------------------------
# Random networks and inputs
# ----------------------------------------------------------------------------

def _random_params(rng, C1, C2, hidden, H, W, K, dtype=np.float64):
    shapes = {"W1": (C1, 1, 3, 3), "b1": (C1,), "W2": (C2, C1, 3, 3), "b2": (C2,),
              "W3": (C2 * (H // 4) * (W // 4), hidden), "b3": (hidden,),
              "W4": (hidden, K), "b4": (K,)}
    params = {}
    for k, shape in shapes.items():
        fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
        scale = np.sqrt(2 / fan_in) if k[0] == "W" else 0.3
        params[k] = (scale * rng.standard_normal(shape)).astype(dtype)
    return params


def _network(rng, case, dtype=np.float64):
    """A small random network and batch: (params, X, y, description)."""
    C1, C2 = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    hidden, K = int(rng.integers(4, 8)), int(rng.integers(3, 6))
    H, W = (8, 8) if case == 0 else (8, 12)
    N = int(rng.integers(2, 4))
    params = _random_params(rng, C1, C2, hidden, H, W, K, dtype)
    X = rng.standard_normal((N, 1, H, W)).astype(dtype)
    y = rng.integers(0, K, N)
    where = (f"for a {_dims(X.shape)} {np.dtype(dtype)} batch, channels ({C1}, {C2}), "
             f"hidden {hidden}, {K} classes")
    return params, X, y, where


def _clear_of_kinks(params, X, margin=1e-3):
    """True if every ReLU input is at least ``margin`` from 0 and every max-pool window's
    largest value, unless 0, beats the runner-up by ``margin``: then a step of 1e-5 in any parameter
    crosses no kink, and central differences are exact to rounding."""
    _, _, pre_activations, pooled = _ref_forward(params, X, keep=True)
    if any(np.min(np.abs(z)) < margin for z in pre_activations):
        return False
    for a in pooled:
        N, C, H, W = a.shape
        windows = a.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5)
        top2 = np.sort(windows.reshape(N, C, H // 2, W // 2, 4), axis=-1)[..., -2:]
        # A window whose maximum is 0 (every input clamped by the ReLU) stays 0: no kink.
        if np.any((top2[..., 1] > 0) & (top2[..., 1] - top2[..., 0] < margin)):
            return False
    return True


def _as_params(got, what, where, like, dtype=None, hint=""):
    """Check that ``got`` is a dict with the keys and shapes of ``like`` (``hint``: for NaN)."""
    if not isinstance(got, dict):
        raise CheckFailure(f"{what} should be a dict with keys {', '.join(PARAM_NAMES)}, got "
                           f"{type(got).__name__} {where}")
    if set(got) != set(like):
        raise CheckFailure(f"{what} should have the keys {', '.join(PARAM_NAMES)}, got "
                           f"{', '.join(sorted(map(str, got)))} {where}")
    return {k: _array(got[k], f"{what}['{k}']", np.shape(like[k]), where, dtype=dtype, hint=hint)
            for k in PARAM_NAMES}


def _copy(params):
    return {k: v.copy() for k, v in params.items()}


# ----------------------------------------------------------------------------
# init_cnn and cnn_forward
# ----------------------------------------------------------------------------

def _check_init(rng, init_cnn):
    seed = int(rng.integers(2**32))
    # Sizes that give every weight at least 360 values, so that its standard deviation is
    # measured to within a few percent.
    C1, C2 = int(rng.integers(40, 60)), int(rng.integers(20, 40))
    hidden, K = int(rng.integers(60, 100)), int(rng.integers(10, 20))
    size = int(rng.choice([12, 16, 20]))
    call = (f"init_cnn(rng, channels=({C1}, {C2}), hidden={hidden}, image_size={size}, "
            f"n_classes={K})")
    kwargs = {"channels": (C1, C2), "hidden": hidden, "image_size": size, "n_classes": K}
    where = f"for {call}"
    got = _call(init_cnn, np.random.default_rng(seed), **kwargs, where=where)
    flat = C2 * (size // 4) ** 2
    like = {"W1": np.empty((C1, 1, 3, 3)), "b1": np.empty(C1), "W2": np.empty((C2, C1, 3, 3)),
            "b2": np.empty(C2), "W3": np.empty((flat, hidden)), "b3": np.empty(hidden),
            "W4": np.empty((hidden, K)), "b4": np.empty(K)}
    params = _as_params(got, "the parameters", where, like, dtype=np.float32)
    for k in PARAM_NAMES:
        value = params[k].astype(np.float64)
        if k[0] == "b":
            if np.any(value != 0):
                raise CheckFailure(f"params['{k}'] should start at zero {where}")
            continue
        shape = value.shape
        fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
        std, he_std = float(value.std()), np.sqrt(2 / fan_in)
        # Five standard errors of the estimates: a correct He draw fails about once in 10^6.
        if (abs(std / he_std - 1) > max(0.1, 5 / np.sqrt(2 * value.size))
                or abs(value.mean()) > 5 * he_std / np.sqrt(value.size)):
            raise CheckFailure(f"params['{k}'] has standard deviation {std:.3g} {where}; He "
                               f"initialisation (he_normal) gives sqrt(2 / fan_in), with fan_in "
                               f"= {'C * 3 * 3' if len(shape) == 4 else 'the number of inputs'}")
    again = _call(init_cnn, np.random.default_rng(seed), **kwargs, where=where)
    if not isinstance(again, dict) or any(
            not np.array_equal(np.asarray(again.get(k)), params[k]) for k in PARAM_NAMES):
        raise CheckFailure(f"two calls with generators seeded alike gave different parameters "
                           f"{where}: draw every weight from rng")


@exercise("cnn_forward", ["init_cnn", "cnn_forward"], points=2)
def _check_cnn_forward(rng, init_cnn, cnn_forward):
    _check_init(rng, init_cnn)
    for case, dtype in enumerate((np.float64, np.float64, np.float32)):
        params, X, _, where = _network(rng, case, dtype)
        result = _call(cnn_forward, _copy(params), X.copy(), where=where)
        scores, _ = _unpack(result, 2, "cnn_forward", "(scores, cache)")
        expected = _ref_forward({k: v.astype(np.float64) for k, v in params.items()},
                                X.astype(np.float64))
        hint = (" (flatten the pooled maps of each image in (C, H, W) order: "
                "a.reshape(N, -1))" if case == 1 else "")
        _close(scores, expected, "scores", where, dtype=dtype, hint=hint,
               tol=1e-4 if dtype == np.float32 else 1e-7)


# ----------------------------------------------------------------------------
# cnn_backward
# ----------------------------------------------------------------------------

@exercise("cnn_backward", ["cnn_forward", "cnn_backward"], points=3)
def _check_cnn_backward(rng, cnn_forward, cnn_backward):
    for case in range(2):
        while True:
            params, X, _, where = _network(rng, case)
            if _clear_of_kinks(params, X):
                break
        result = _call(cnn_forward, _copy(params), X.copy(), where=where)
        scores, cache = _unpack(result, 2, "cnn_forward", "(scores, cache)")
        dscores = rng.standard_normal(_ref_forward(params, X).shape)
        grads = _call(cnn_backward, dscores.copy(), cache, where=where)
        grads = _as_params(grads, "the gradients", where, params)
        # Last layer first: the first wrong gradient a learner meets going backwards.
        for k in reversed(PARAM_NAMES):
            # numerical_gradient_array perturbs params[k] in place; _ref_forward reads it.
            expected = numerical_gradient_array(lambda: _ref_forward(params, X), params[k],
                                                dscores)
            _close(grads[k], expected, f"grads['{k}']", where, tol=1e-6,
                   hint=" (checked against the numerical gradient of the reference forward)")


# ----------------------------------------------------------------------------
# train_step
# ----------------------------------------------------------------------------

def _state(rng, params, t):
    if t == 0:
        return {"t": 0, "m": {k: np.zeros_like(p) for k, p in params.items()},
                "v": {k: np.zeros_like(p) for k, p in params.items()}}
    return {"t": t, "m": {k: 0.1 * rng.standard_normal(p.shape) for k, p in params.items()},
            "v": {k: rng.uniform(0.001, 0.02, p.shape) for k, p in params.items()}}


@exercise("train_step", ["train_step"], points=2)
def _check_train_step(rng, train_step):
    for case, t in enumerate((0, int(rng.integers(3, 30)))):
        params, X, y, where = _network(rng, case)
        state = _state(rng, params, t)
        lr = float(rng.uniform(1e-3, 1e-2))
        where += f", state['t'] = {t}, lr = {lr:.3g}"
        sent_state = {"t": t, "m": _copy(state["m"]), "v": _copy(state["v"])}
        result = _call(train_step, _copy(params), sent_state, X.copy(), y.copy(), lr, where=where)
        loss, new_params, new_state = _unpack(result, 3, "train_step",
                                              "(loss, new_params, new_state)")
        ref_loss, grads = _ref_loss_grads(params, X, y)
        ref_params, ref_state = _ref_adam(params, grads, state, lr)
        _scalar_close(loss, ref_loss, "loss", where)
        if not isinstance(new_state, dict) or set(new_state) != {"t", "m", "v"}:
            raise CheckFailure(f"new_state should be a dict with keys 't', 'm' and 'v', like "
                               f"state {where}")
        if new_state["t"] != t + 1:
            raise CheckFailure(f"new_state['t'] is {new_state['t']!r} {where}; it should count "
                               f"the steps taken, this one included")
        for key in ("m", "v"):
            got = _as_params(new_state[key], f"new_state['{key}']", where, params)
            for k in PARAM_NAMES:
                _close(got[k], ref_state[key][k], f"new_state['{key}']['{k}']", where,
                       hint=" (adam_update with the gradient of this batch's loss)")
        new_params = _as_params(new_params, "new_params", where, params,
                                hint=" (adam_update counts t from 1: the first step is t = 1)")
        for k in PARAM_NAMES:
            _close(params[k] - new_params[k], params[k] - ref_params[k],
                   f"the step params['{k}'] - new_params['{k}']", where, tol=1e-6,
                   hint=" (one adam_update per parameter, with t = state['t'] + 1)")


# ----------------------------------------------------------------------------
# train: the loop, step by step, and the trained accuracy
# ----------------------------------------------------------------------------

def _toy_task(seed):
    """Lines and squares, 12x12 (pooled twice to 3x3): 3 classes, 80 training and 40 test
    images per class, drawn from one generator."""
    X, y = lines_and_squares(img_size=12, n_per_class=120, rng=np.random.default_rng(seed))
    X = X.astype(np.float64)
    order = np.random.default_rng(seed + 1).permutation(len(X))
    train, test = order[:240], order[240:]
    mean = X[train].mean(axis=0)
    return X[train] - mean, y[train], X[test] - mean, y[test]


TOY_RECIPE = {"channels": (8, 16), "hidden": 32, "epochs": 3, "batch_size": 8, "peak_lr": 0.01}


def _toy_params(seed):
    """He-initialised weights and zero biases, as init_cnn makes them (in float64)."""
    r = TOY_RECIPE
    params = _random_params(np.random.default_rng(seed), *r["channels"], r["hidden"], 12, 12, 3)
    return {k: v if k[0] == "W" else np.zeros_like(v) for k, v in params.items()}


def toy_reference_accuracy(seed):
    """Test accuracy of the reference loop on the toy task of seed ``seed`` (for the tests)."""
    X, y, X_test, y_test = _toy_task(seed)
    r = TOY_RECIPE
    params, _ = _ref_train(_toy_params(seed), X, y, r["epochs"], r["batch_size"], r["peak_lr"],
                           np.random.default_rng(seed))
    return float(np.mean(_ref_forward(params, X_test).argmax(axis=1) == y_test))


def _losses(got, n, where):
    if not isinstance(got, (list, tuple, np.ndarray)) or np.ndim(got) != 1:
        raise CheckFailure(f"losses should be a list of the batch losses, got "
                           f"{type(got).__name__} {where}")
    if len(got) != n:
        raise CheckFailure(f"losses has {len(got)} entries {where}; the loop should take "
                           f"{n} steps, one per batch of each epoch (the last batch of an epoch "
                           f"may be smaller)")
    return [_scalar(v, f"losses[{i}]", where) for i, v in enumerate(got)]


@exercise("train", ["train"], points=2)
def _check_train(rng, train):
    # 1. The loop, step by step: a small random set whose size the batch does not divide.
    params, _, _, _ = _network(rng, 0)
    K = params["W4"].shape[1]
    N, batch_size, epochs = int(rng.integers(17, 24)), 8, 2
    X, y = rng.standard_normal((N, 1, 8, 8)), rng.integers(0, K, N)
    peak_lr, seed = float(rng.uniform(2e-3, 1e-2)), int(rng.integers(2**32))
    where = (f"for {N} images of 8x8, epochs={epochs}, batch_size={batch_size}, "
             f"peak_lr={peak_lr:.3g}")
    result = _call(train, _copy(params), X.copy(), y.copy(), epochs, batch_size, peak_lr,
                   np.random.default_rng(seed), where=where)
    got_params, got_losses = _unpack(result, 2, "train", "(params, losses)")
    steps = epochs * math.ceil(N / batch_size)
    got_losses = _losses(got_losses, steps, where)
    ref_params, ref_losses = _ref_train(params, X, y, epochs, batch_size, peak_lr,
                                        np.random.default_rng(seed))
    if rel_error(got_losses[0], ref_losses[0]) > 1e-7:
        raise CheckFailure(f"the loss of the first batch is wrong {where}; each epoch should "
                           f"visit the images in the order order = rng.permutation(N), drawn at "
                           f"its start, in batches X[order[start:start + batch_size]]")
    for i, (got, ref) in enumerate(zip(got_losses, ref_losses)):
        if rel_error(got, ref) > 1e-6:
            raise CheckFailure(f"losses[{i}] differs from the reference loop's {where} (the "
                               f"earlier steps agree); check the learning rate of step t, "
                               f"peak_lr * 0.5 * (1 + cos(pi * t / T)) with T the number of "
                               f"steps, the optimiser state carried from step to step, and the "
                               f"order of the images of each epoch")
    got_params = _as_params(got_params, "the returned params", where, params)
    for k in PARAM_NAMES:
        _close(got_params[k], ref_params[k], f"params['{k}'] after training", where, tol=1e-6,
               hint=" (the losses agree: return the parameters after the last step)")

    # 2. The trained accuracy on toy images the loop never sees.
    seed = int(rng.integers(2**31))
    X, y, X_test, y_test = _toy_task(seed)
    r = TOY_RECIPE
    where = (f"on 240 toy images (lines and squares, 12x12, 3 classes), channels "
             f"{r['channels']}, hidden {r['hidden']}, epochs={r['epochs']}, "
             f"batch_size={r['batch_size']}, peak_lr={r['peak_lr']}")
    result = _call(train, _toy_params(seed), X, y, r["epochs"], r["batch_size"], r["peak_lr"],
                   np.random.default_rng(seed), where=where)
    trained, _ = _unpack(result, 2, "train", "(params, losses)")
    trained = _as_params(trained, "the returned params", where, _toy_params(seed))
    accuracy = float(np.mean(_ref_forward(trained, X_test).argmax(axis=1) == y_test))
    if accuracy < TOY_THRESHOLD:
        raise CheckFailure(f"after training {where}, the network classifies {accuracy:.0%} of "
                           f"120 new toy images correctly; a correct loop gets at least "
                           f"{TOY_THRESHOLD:.0%}")


# ----------------------------------------------------------------------------
# evaluate
# ----------------------------------------------------------------------------

@exercise("evaluate", ["evaluate"], points=1)
def _check_evaluate(rng, evaluate):
    for case in range(2):
        while True:  # a size the batch does not divide, and no near tie for argmax to round
            params, _, _, _ = _network(rng, case)
            N, batch_size = int(rng.integers(21, 30)), int(rng.integers(4, 8))
            X = rng.standard_normal((N, 1, 8, 8 if case == 0 else 12))
            scores = _ref_forward(params, X)
            top2 = np.sort(scores, axis=1)[:, -2:]
            if N % batch_size and np.min(top2[:, 1] - top2[:, 0]) > 1e-6:
                break
        K = scores.shape[1]
        # Labels: the predictions, made wrong in the last (partial) batch and at random
        # elsewhere, so that dropping or misweighting a batch changes the answer.
        y = scores.argmax(axis=1)
        wrong = np.zeros(N, dtype=bool)
        wrong[N - N % batch_size:] = True
        wrong[rng.permutation(N - N % batch_size)[:int(rng.integers(1, 4))]] = True
        y[wrong] = (y[wrong] + rng.integers(1, K, int(wrong.sum()))) % K
        expected = float(np.mean(scores.argmax(axis=1) == y))
        where = (f"for {N} images of {X.shape[2]}x{X.shape[3]}, {K} classes, "
                 f"batch_size={batch_size}")
        got = _call(evaluate, _copy(params), X.copy(), y.copy(), batch_size, where=where)
        got = _scalar(got, "evaluate(...)", where)
        if abs(got - expected) > 1e-12:
            hint = ("it looks like a percentage: return a fraction between 0 and 1"
                    if abs(got - 100 * expected) < 1e-9 else
                    "every image counts once, those of the last, smaller batch too")
            raise CheckFailure(f"evaluate returned {got:.4g} {where}, which is wrong ({hint})")
