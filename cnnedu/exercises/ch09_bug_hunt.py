"""Chapter 9's exercise checks (bug hunt): see ``cnnedu.exercises``.

Each exercise fixes one buggy function (or pair) of the chapter's CNN, under the same name. A
message says what is still wrong, never how to fix it: the chapter's tools find the bugs.
"""

import numpy as np

from cnnedu import functional as F
from cnnedu.gradcheck import away_from_zero, distinct_values, rel_error
from cnnedu.init import fans

from ._common import (CheckFailure, _adam, _array, _arrays, _call, _check_pair, _dims, _he_scale,
                      _seeded, _sizes, exercise)


@exercise("fix_preprocess", ["preprocess"], points=1)
def _check_preprocess(rng, preprocess):
    for shape in [(int(rng.integers(3, 9)), 1, 28, 28), (int(rng.integers(2, 5)), 1,
                                                          *_sizes(rng, 3, 8, 2))]:
        images = rng.integers(0, 256, shape).astype(np.uint8)
        images.flat[:2] = (0, 255)          # the darkest and the brightest pixel both occur
        where = f"for uint8 images of shape {shape}"
        out = _array(_call(preprocess, images, where=where), "preprocess(images)", shape, where)
        if out.dtype != np.float32:
            raise CheckFailure(f"preprocess should return float32 (the network trains in "
                               f"float32), got {out.dtype} {where}")
        # The same map for every pixel, and an affine one: out = a * pixel + c.
        pixels, values = images.astype(np.float64).ravel(), out.astype(np.float64).ravel()
        a, c = np.polyfit(pixels, values, 1)
        if np.abs(a * pixels + c - values).max() > 1e-4 * max(1.0, np.abs(values).max()):
            raise CheckFailure(f"preprocess should map every pixel value through the same "
                               f"straight line (one scale and one offset for all pixels) {where}")
        if a <= 0:
            raise CheckFailure(f"preprocess should keep bright pixels larger than dark ones "
                               f"{where}")
        low, high = float(values.min()), float(values.max())
        if not (0.5 <= high - low <= 10 and max(abs(low), abs(high)) <= 10):
            raise CheckFailure(f"the network's inputs range from {low:.4g} to {high:.4g} "
                               f"{where}; the weights were initialised for inputs of order 1")


@exercise("fix_sample_batch", ["sample_batch"], points=1)
def _check_sample_batch(rng, sample_batch):
    n_total = int(rng.integers(60, 100))
    n_train = int(rng.integers(30, n_total - 20))
    batch_size = int(rng.integers(5, 12))
    # Example i is an image filled with i and has label i: a batch shows where it came from.
    inputs = np.broadcast_to(np.arange(n_total, dtype=np.float32)[:, None, None, None],
                             (n_total, 1, 2, 2)).copy()
    labels = np.arange(n_total)
    where = (f"for {n_total} examples of which the first n_train={n_train} are for training, "
             f"batch_size={batch_size}")
    run = lambda generator: _call(sample_batch, inputs, labels, n_train, batch_size, generator,
                                  where=where, returns="(x, y)")
    seed, batches = int(rng.integers(2**32)), []
    for k in range(40):
        x, y = run(np.random.default_rng(seed + k))
        x = _array(x, "x", (batch_size, 1, 2, 2), where)
        y = _array(y, "y", (batch_size,), where)
        if not np.array_equal(x[:, 0, 0, 0], y):
            raise CheckFailure(f"the images x and the labels y of a batch do not belong "
                               f"together {where}")
        if np.any(y >= n_train) or np.any(y < 0):
            raise CheckFailure(f"a batch contained examples that are not training examples "
                               f"(not among the first n_train) {where}")
        batches.append((x, y))
    if len({tuple(y) for _, y in batches}) < 30:
        raise CheckFailure(f"batches drawn with differently seeded generators are mostly the "
                           f"same {where}: draw them from rng")
    seen = len(np.unique([y for _, y in batches]))
    if seen < 0.6 * n_train:
        raise CheckFailure(f"40 batches together used only {seen} of the {n_train} "
                           f"training examples {where}: every training example should be "
                           f"equally likely")
    _seeded(run, seed, batches[0], "batches", where, differs=False)


# The network of the chapter: name -> weight shape.
_LAYERS = {"1": (8, 1, 3, 3), "2": (16, 8, 3, 3), "3": (16 * 7 * 7, 10)}


@exercise("fix_init_params", ["init_params"], points=1)
def _check_init_params(rng, init_params):
    like = {}
    for name, shape in _LAYERS.items():
        like["w" + name] = np.empty(shape)
        like["b" + name] = np.empty(shape[0] if len(shape) == 4 else shape[1])
    where = "for init_params(np.random.default_rng(seed))"
    run = lambda generator: _call(init_params, generator, where=where)
    seed, draws = int(rng.integers(2**32)), []
    for k in range(12):
        params = _arrays(run(np.random.default_rng(seed + k)), like, "init_params's result",
                         where, dtype=np.float32)
        for name in _LAYERS:
            if np.any(params["b" + name] != 0):
                raise CheckFailure(f"b{name} should start at zero")
        draws.append(params)
    _seeded(run, seed, draws[0], "weights", where, other=draws[1])
    for name, shape in _LAYERS.items():
        # 12 draws of the smallest layer give 864 values: their std is within 3% (1 sigma).
        _he_scale(np.concatenate([params["w" + name].ravel() for params in draws]), fans(shape)[0],
                  "w" + name, "over 12 draws", tol=0.12,
                  hint=", which is not what He initialisation gives this layer")


@exercise("fix_relu", ["relu", "relu_backward"], points=1)
def _check_relu(rng, relu, relu_backward):
    for shape in [_sizes(rng, 2, 6, 2), (2, int(rng.integers(1, 4)), *_sizes(rng, 3, 6, 2))]:
        # No input within h of the kink. A relu_backward that changes its cache (which a
        # second call would get) fails in _call.
        _check_pair(rng, relu, relu_backward, lambda x: np.maximum(x, 0),
                    [away_from_zero(rng, shape)], f"for x of shape {shape}", ["dx"])


@exercise("fix_max_pool", ["max_pool", "max_pool_backward"], points=2)
def _check_max_pool(rng, max_pool, max_pool_backward):
    C, side = int(rng.integers(1, 4)), 2 * int(rng.integers(2, 4))
    other = side + 2 * int(rng.integers(1, 3))
    for (H, W), kind in [((side, side), "a square input"),
                         ((side, other), "a non-square input (H < W)"),
                         ((other, side), "a non-square input (H > W)")]:
        # No ties: the numerical gradient is exact.
        _check_pair(rng, max_pool, max_pool_backward, lambda x: F.max_pool2d_forward(x, 2)[0],
                    [distinct_values(rng, (2, C, H, W))],
                    f"for x of shape {(2, C, H, W)}, {kind}", ["dx"])


@exercise("fix_conv_backward", ["conv", "conv_backward"], points=2)
def _check_conv_backward(rng, conv, conv_backward):
    for k, pad in [(3, 1), (int(rng.integers(1, 4)), 0), (int(rng.integers(2, 4)), 2)]:
        # Every axis its own size, and F > 1: a mix-up of axes cannot pass by luck.
        C, F_out = int(rng.integers(2, 4)), int(rng.integers(4, 6))
        x = rng.standard_normal((2, C, int(rng.integers(4, 6)), int(rng.integers(6, 8))))
        w, b = rng.standard_normal((F_out, C, k, k)), rng.standard_normal(F_out)
        _check_pair(rng, conv, conv_backward,
                    lambda x, w, b, pad: F.conv2d_forward(x, w, b, 1, pad)[0], [x, w, b],
                    f"at a {_dims(x.shape)} input with {F_out} filters of {k}x{k}, pad={pad}",
                    ["dx", "dw", "db"], {"pad": pad},
                    out_hint=" (conv itself has no bug: keep it as the chapter shows it)")


@exercise("fix_adam_step", ["adam_step"], points=1)
def _check_adam_step(rng, adam_step):
    for kwargs in ({}, {"lr": float(rng.uniform(0.002, 0.05)),
                        "beta1": float(rng.uniform(0.6, 0.85)),
                        "beta2": float(rng.uniform(0.95, 0.99))}):
        settings = ", ".join(f"{k}={v:.3g}" for k, v in kwargs.items()) or "the default settings"
        shape = _sizes(rng, 2, 5, 2)
        w, m, v = rng.standard_normal(shape), np.zeros(shape), np.zeros(shape)
        for t in range(1, 5):
            dw = rng.standard_normal(shape)
            where = f"at step t={t} of a run from m = v = 0, for w of shape {shape} and {settings}"
            got = _call(adam_step, w, dw, m, v, t, **kwargs, where=where, returns="(w, m, v)")
            step, m, v = _adam(dw, m, v, t, **kwargs)
            # Compare the step, not the new weights: a small step hides in w's size.
            w_new = _array(got[0], "the new weights w", shape, where)
            for what, value, expected in [("the first moment m", got[1], m),
                                          ("the second moment v", got[2], v),
                                          ("the step w - w_new", w - w_new, step)]:
                err = rel_error(_array(value, what, shape, where), expected)
                if err > 1e-6:
                    raise CheckFailure(f"{what} is wrong {where} (relative error {err:.1e})")
            w = w - step
