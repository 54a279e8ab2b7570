"""Chapter 13's exercise checks (capstone: your own CNN on MNIST): see ``cnnedu.exercises``.

The learner's network, parameters ``{"W1", "b1", ..., "W4", "b4"}``: conv 3x3 (pad 1) -> ReLU
-> max-pool 2 -> conv 3x3 (pad 1) -> ReLU -> max-pool 2 -> flatten -> affine -> ReLU -> affine,
trained with Adam on a cosine schedule. The reference is the same network made of
``cnnedu.layers``, trained with ``cnnedu.optim.Adam``. The networks are tiny, so that the
grader's time limit per exercise holds on a slow machine.
"""

import math

import numpy as np

from cnnedu import functional as F
from cnnedu.datasets import lines_and_squares
from cnnedu.gradcheck import numerical_gradient_array, rel_error
from cnnedu.init import fans, he_normal, normal
from cnnedu.layers import Conv2D, Flatten, Linear, MaxPool2D, ReLU
from cnnedu.model import Sequential
from cnnedu.optim import Adam
from cnnedu.train import fit

from ._common import (CheckFailure, _adam, _arrays, _call, _close, _dims, _he_scale, _scalar,
                      _scalar_close, _seeded, exercise)

PARAM_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4")
# The toy task of the `train` check: the reference loop's accuracy over 20 seeds is recorded
# in tests/test_exercises_ch13_capstone.py, which also asserts this threshold's margin.
TOY_THRESHOLD = 0.9
TOY_RECIPE = {"channels": (8, 16), "hidden": 32, "epochs": 3, "batch_size": 8, "peak_lr": 0.01}


# -- the reference network ------------------------------------------------------------------

def _layers(params):
    """The capstone network as float64 cnnedu layers holding ``params``'s own (float64) arrays:
    a change to ``params[k]`` in place (a numerical gradient, an Adam step) changes the layer."""
    W1, W2, W3, W4 = (params["W" + i] for i in "1234")
    settings = {"rng": 0, "dtype": np.float64}
    layers = [Conv2D(1, len(W1), 3, padding=1, **settings), ReLU(), MaxPool2D(2),
              Conv2D(len(W1), len(W2), 3, padding=1, **settings), ReLU(), MaxPool2D(2),
              Flatten(), Linear(*W3.shape, **settings), ReLU(), Linear(*W4.shape, **settings)]
    for i, layer in zip("1234", [layer for layer in layers if layer.params]):
        layer.params = {k: np.asarray(params[k + i], np.float64) for k in "Wb"}
    return layers


def _forward(layers, X):
    """The scores (N, K) of the reference network for float64 X, and every layer's input."""
    inputs = []
    for layer in layers:
        inputs.append(X)
        X = layer.forward(X)
    return X, inputs


def _loss_and_grads(layers, X, y):
    loss, d = F.softmax_cross_entropy(_forward(layers, X)[0], y)
    for layer in reversed(layers):
        d = layer.backward(d)
    weighted = [layer for layer in layers if layer.grads]
    return float(loss), {k + i: layer.grads[k] for i, layer in zip("1234", weighted) for k in "Wb"}


def _train(params, X, y, epochs, batch_size, peak_lr, rng):
    """The reference loop, ``cnnedu.train.fit`` (each epoch the batches X[order[start:start +
    batch_size]], order = rng.permutation(N)) with Adam at lr = peak_lr * (1 + cos(pi * t /
    steps)) / 2 for step t: (the trained params, the batch losses)."""
    params, losses = {k: v.copy() for k, v in params.items()}, []
    steps = epochs * math.ceil(len(X) / batch_size)
    adam = Adam(lr=lambda t: peak_lr * 0.5 * (1 + math.cos(math.pi * t / steps)))
    # The layers hold params' own arrays, so fit's in-place steps train params.
    fit(Sequential(_layers(params)), X, y, adam, epochs, batch_size, rng, progress=False,
        on_step=lambda step, logs: losses.append(logs["loss"]))
    return params, losses


# -- random networks and inputs -------------------------------------------------------------

def _shapes(C1, C2, hidden, H, W, K):
    return {"W1": (C1, 1, 3, 3), "b1": (C1,), "W2": (C2, C1, 3, 3), "b2": (C2,),
            "W3": (C2 * (H // 4) * (W // 4), hidden), "b3": (hidden,), "W4": (hidden, K),
            "b4": (K,)}


def _random_params(rng, C1, C2, hidden, H, W, K):
    """He-scaled float64 weights and biases of scale 0.3, for H x W inputs and K classes."""
    return {k: (he_normal if k[0] == "W" else normal(0.3))(shape, rng, np.float64)
            for k, shape in _shapes(C1, C2, hidden, H, W, K).items()}


def _network(rng, case, dtype=np.float64):
    """A small random network and batch: (params, X, y, description)."""
    C1, C2 = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    hidden, K = int(rng.integers(4, 8)), int(rng.integers(3, 6))
    H, W = (8, 8) if case == 0 else (8, 12)
    N = int(rng.integers(2, 4))
    params = {k: v.astype(dtype) for k, v in _random_params(rng, C1, C2, hidden, H, W, K).items()}
    X = rng.standard_normal((N, 1, H, W)).astype(dtype)
    where = (f"for a {_dims(X.shape)} {np.dtype(dtype)} batch, channels ({C1}, {C2}), "
             f"hidden {hidden}, {K} classes")
    return params, X, rng.integers(0, K, N), where


def _clear_of_kinks(params, X, margin=1e-3):
    """True if every ReLU input is at least ``margin`` from 0 and every max-pool window's
    largest value, unless 0, beats the runner-up by ``margin``: then a step of 1e-5 in any
    parameter crosses no kink, and central differences are exact to rounding."""
    _, inputs = _forward(_layers(params), X)
    if any(np.min(np.abs(inputs[i])) < margin for i in (1, 4, 8)):   # the ReLUs' inputs
        return False
    for a in (inputs[2], inputs[5]):                                  # the max-pools' inputs
        N, C, H, W = a.shape
        windows = a.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5)
        top2 = np.sort(windows.reshape(N, C, H // 2, W // 2, 4), axis=-1)[..., -2:]
        # A window whose maximum is 0 (every input clamped by the ReLU) stays 0: no kink.
        if np.any((top2[..., 1] > 0) & (top2[..., 1] - top2[..., 0] < margin)):
            return False
    return True


# -- the checks -----------------------------------------------------------------------------

def _check_init(rng, init_cnn):
    # Sizes that give every weight at least 360 values, so that its standard deviation is
    # measured to within a few percent.
    C1, C2 = int(rng.integers(40, 60)), int(rng.integers(20, 40))
    hidden, K = int(rng.integers(60, 100)), int(rng.integers(10, 20))
    size, seed = int(rng.choice([12, 16, 20])), int(rng.integers(2**32))
    kwargs = {"channels": (C1, C2), "hidden": hidden, "image_size": size, "n_classes": K}
    where = f"for init_cnn(rng, {', '.join(f'{k}={v}' for k, v in kwargs.items())})"
    run = lambda generator: _call(init_cnn, generator, **kwargs, where=where)
    like = {k: np.empty(shape) for k, shape in _shapes(C1, C2, hidden, size, size, K).items()}
    params = _arrays(run(np.random.default_rng(seed)), like, "the parameters", where,
                     dtype=np.float32)
    for k, value in params.items():
        if k[0] == "b" and np.any(value != 0):
            raise CheckFailure(f"params['{k}'] should start at zero {where}")
        if k[0] == "W":
            fan_in = "C * 3 * 3" if value.ndim == 4 else "the number of inputs"
            _he_scale(value, fans(value.shape)[0], f"params['{k}']", where,
                      tol=max(0.1, 5 / np.sqrt(2 * value.size)),
                      hint=f"; He initialisation (he_normal) gives sqrt(2 / fan_in), with "
                           f"fan_in = {fan_in}")
    _seeded(run, seed, params, "parameters", where, differs=False)


@exercise("cnn_forward", ["init_cnn", "cnn_forward"], points=2)
def _check_cnn_forward(rng, init_cnn, cnn_forward):
    _check_init(rng, init_cnn)
    for case, dtype in enumerate((np.float64, np.float64, np.float32)):
        params, X, _, where = _network(rng, case, dtype)
        scores, _ = _call(cnn_forward, params, X, where=where, returns="(scores, cache)")
        hint = (" (flatten the pooled maps of each image in (C, H, W) order: "
                "a.reshape(N, -1))" if case == 1 else "")
        _close(scores, _forward(_layers(params), X.astype(np.float64))[0], "scores", where,
               dtype=dtype, hint=hint, tol=1e-4 if dtype == np.float32 else 1e-7)


@exercise("cnn_backward", ["cnn_forward", "cnn_backward"], points=3)
def _check_cnn_backward(rng, cnn_forward, cnn_backward):
    for case in range(2):
        params, X, _, where = _network(rng, case)
        while not _clear_of_kinks(params, X):
            params, X, _, where = _network(rng, case)
        _, cache = _call(cnn_forward, params, X, where=where, returns="(scores, cache)")
        dscores = rng.standard_normal((len(X), len(params["b4"])))
        grads = _arrays(_call(cnn_backward, dscores, cache, where=where), params,
                        "the gradients", where)
        layers = _layers(params)
        # Last layer first: the first wrong gradient a learner meets going backwards.
        for k in reversed(PARAM_NAMES):
            # numerical_gradient_array perturbs params[k] in place, which the layers hold.
            expected = numerical_gradient_array(lambda: _forward(layers, X)[0], params[k],
                                                dscores)
            _close(grads[k], expected, f"grads['{k}']", where, tol=1e-6,
                   hint=" (checked against the numerical gradient of the reference forward)")


@exercise("train_step", ["train_step"], points=2)
def _check_train_step(rng, train_step):
    for case, t in enumerate((0, int(rng.integers(3, 30)))):
        params, X, y, where = _network(rng, case)
        started = float(t > 0)  # at t = 0, a fresh start: the moments are zero
        state = {"t": t, "m": {k: started * 0.1 * rng.standard_normal(p.shape)
                               for k, p in params.items()},
                 "v": {k: started * rng.uniform(0.001, 0.02, p.shape) for k, p in params.items()}}
        lr = float(rng.uniform(1e-3, 1e-2))
        where += f", state['t'] = {t}, lr = {lr:.3g}"
        loss, new_params, new_state = _call(train_step, params, state, X, y, lr, where=where,
                                            returns="(loss, new_params, new_state)")
        ref_loss, grads = _loss_and_grads(_layers(params), X, y)
        _scalar_close(loss, ref_loss, "loss", where)
        if not isinstance(new_state, dict) or set(new_state) != {"t", "m", "v"}:
            raise CheckFailure(f"new_state should be a dict with keys 't', 'm' and 'v', like "
                               f"state {where}")
        if new_state["t"] != t + 1:
            raise CheckFailure(f"new_state['t'] is {new_state['t']!r} {where}; it should count "
                               f"the steps taken, this one included")
        moments = {key: _arrays(new_state[key], params, f"new_state['{key}']", where)
                   for key in ("m", "v")}
        new_params = _arrays(new_params, params, "new_params", where,
                             hint=" (adam_update counts t from 1: the first step is t = 1)")
        for k in PARAM_NAMES:
            step, m, v = _adam(grads[k], state["m"][k], state["v"][k], t + 1, lr=lr)
            for key, expected in (("m", m), ("v", v)):
                _close(moments[key][k], expected, f"new_state['{key}']['{k}']", where,
                       hint=" (adam_update with the gradient of this batch's loss)")
            _close(params[k] - new_params[k], step,
                   f"the step params['{k}'] - new_params['{k}']", where, tol=1e-6,
                   hint=" (one adam_update per parameter, with t = state['t'] + 1)")


def _toy_task(seed):
    """Lines and squares, 12x12 (pooled twice to 3x3): 3 classes, 80 training and 40 test
    images per class, centred by the training images' mean."""
    X, y = lines_and_squares(img_size=12, n_per_class=120, rng=np.random.default_rng(seed))
    X = X.astype(np.float64)
    order = np.random.default_rng(seed + 1).permutation(len(X))
    train, test = order[:240], order[240:]
    mean = X[train].mean(axis=0)
    return X[train] - mean, y[train], X[test] - mean, y[test]


def _toy_params(seed):
    """He-initialised weights and zero biases, as init_cnn makes them (in float64)."""
    r = TOY_RECIPE
    params = _random_params(np.random.default_rng(seed), *r["channels"], r["hidden"], 12, 12, 3)
    return {k: v if k[0] == "W" else np.zeros_like(v) for k, v in params.items()}


@exercise("train", ["train"], points=2)
def _check_train(rng, train):
    # 1. The loop, step by step: a small random set whose size the batch does not divide.
    params, _, _, _ = _network(rng, 0)
    N, batch_size, epochs = int(rng.integers(17, 24)), 8, 2
    X, y = rng.standard_normal((N, 1, 8, 8)), rng.integers(0, len(params["b4"]), N)
    peak_lr, seed = float(rng.uniform(2e-3, 1e-2)), int(rng.integers(2**32))
    where = (f"for {N} images of 8x8, epochs={epochs}, batch_size={batch_size}, "
             f"peak_lr={peak_lr:.3g}")
    got_params, got_losses = _call(train, params, X, y, epochs, batch_size, peak_lr,
                                   np.random.default_rng(seed), where=where,
                                   returns="(params, losses)")
    steps = epochs * math.ceil(N / batch_size)
    if not isinstance(got_losses, (list, tuple, np.ndarray)) or np.ndim(got_losses) != 1:
        raise CheckFailure(f"losses should be a list of the batch losses, got "
                           f"{type(got_losses).__name__} {where}")
    if len(got_losses) != steps:
        raise CheckFailure(f"losses has {len(got_losses)} entries {where}; the loop should take "
                           f"{steps} steps, one per batch of each epoch (the last batch of an "
                           f"epoch may be smaller)")
    got_losses = [_scalar(v, f"losses[{i}]", where) for i, v in enumerate(got_losses)]
    ref_params, ref_losses = _train(params, X, y, epochs, batch_size, peak_lr,
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
    got_params = _arrays(got_params, params, "the returned params", where)
    for k in PARAM_NAMES:
        _close(got_params[k], ref_params[k], f"params['{k}'] after training", where, tol=1e-6,
               hint=" (the losses agree: return the parameters after the last step)")

    # 2. The trained accuracy on toy images the loop never sees.
    seed, r = int(rng.integers(2**31)), TOY_RECIPE
    X, y, X_test, y_test = _toy_task(seed)
    where = (f"on 240 toy images (lines and squares, 12x12, 3 classes), channels "
             f"{r['channels']}, hidden {r['hidden']}, epochs={r['epochs']}, "
             f"batch_size={r['batch_size']}, peak_lr={r['peak_lr']}")
    toy = _toy_params(seed)
    trained, _ = _call(train, toy, X, y, r["epochs"], r["batch_size"],
                       r["peak_lr"], np.random.default_rng(seed), where=where,
                       returns="(params, losses)")
    trained = _arrays(trained, toy, "the returned params", where)
    accuracy = float(np.mean(_forward(_layers(trained), X_test)[0].argmax(axis=1) == y_test))
    if accuracy < TOY_THRESHOLD:
        raise CheckFailure(f"after training {where}, the network classifies {accuracy:.0%} of "
                           f"120 new toy images correctly; a correct loop gets at least "
                           f"{TOY_THRESHOLD:.0%}")


@exercise("evaluate", ["evaluate"], points=1)
def _check_evaluate(rng, evaluate):
    for case in range(2):
        while True:  # a size the batch does not divide, and no near tie for argmax to round
            params, _, _, _ = _network(rng, case)
            N, batch_size = int(rng.integers(21, 30)), int(rng.integers(4, 8))
            X = rng.standard_normal((N, 1, 8, 8 if case == 0 else 12))
            scores = _forward(_layers(params), X)[0]
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
        got = _scalar(_call(evaluate, params, X, y, batch_size, where=where), "evaluate(...)",
                      where)
        if abs(got - expected) > 1e-12:
            hint = ("it looks like a percentage: return a fraction between 0 and 1"
                    if abs(got - 100 * expected) < 1e-9 else
                    "every image counts once, those of the last, smaller batch too")
            raise CheckFailure(f"evaluate returned {got:.4g} {where}, which is wrong ({hint})")
