"""Chapter 9's exercise checks (bug hunt): see ``cnnedu.exercises``.

The chapter shows a small NumPy CNN with real bugs in it, one function at a
time, and each exercise asks the learner to fix one of those functions (or a
forward/backward pair) under the same name. A check runs the learner's fixed
function on fresh random inputs and compares it with an independent reference
(``cnnedu.functional`` or a few lines below). Its message says what is still
wrong (a gradient, an input changed in place, a non-square input, examples
from outside the training part, a scale) but never how to fix it: the chapter's
tools find the bugs, the checks only confirm a fix.
"""

import numpy as np

from cnnedu import functional as F

from ._common import (
    CheckFailure,
    _array,
    _away_from_zero,
    _call,
    _check_pair,
    _close,
    _dims,
    _distinct,
    _unpack,
    exercise,
    rel_error,
)


# ----------------------------------------------------------------------------
# preprocess: raw bytes to network inputs
# ----------------------------------------------------------------------------

@exercise("fix_preprocess", ["preprocess"], points=1)
def _check_preprocess(rng, preprocess):
    for shape in [(int(rng.integers(3, 9)), 1, 28, 28),
                  (int(rng.integers(2, 5)), 1, int(rng.integers(3, 8)), int(rng.integers(3, 8)))]:
        images = rng.integers(0, 256, shape).astype(np.uint8)
        images.flat[:2] = (0, 255)          # the darkest and the brightest pixel both occur
        where = f"for uint8 images of shape {shape}"
        out = _array(_call(preprocess, images.copy(), where=where), "preprocess(images)",
                     shape, where)
        if out.dtype != np.float32:
            raise CheckFailure(f"preprocess should return float32 (the network trains in "
                               f"float32), got {out.dtype} {where}")
        # The same map for every pixel, and an affine one: out = a * pixel + c.
        pixels = images.astype(np.float64).ravel()
        values = out.astype(np.float64).ravel()
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


# ----------------------------------------------------------------------------
# sample_batch: training batches from the training part only
# ----------------------------------------------------------------------------

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
    seed = int(rng.integers(2**32))
    seen, batches = set(), []
    for k in range(40):
        result = _call(sample_batch, inputs.copy(), labels.copy(), n_train, batch_size,
                       np.random.default_rng(seed + k), where=where)
        x, y = _unpack(result, 2, "sample_batch", "(x, y)")
        x = _array(x, "x", (batch_size, 1, 2, 2), where)
        y = _array(y, "y", (batch_size,), where)
        if not np.array_equal(x[:, 0, 0, 0], y):
            raise CheckFailure(f"the images x and the labels y of a batch do not belong "
                               f"together {where}")
        if np.any(y >= n_train) or np.any(y < 0):
            raise CheckFailure(f"a batch contained examples that are not training examples "
                               f"(not among the first n_train) {where}")
        seen.update(int(i) for i in y)
        batches.append(tuple(int(i) for i in y))
    if len(set(batches)) < 30:
        raise CheckFailure(f"batches drawn with differently seeded generators are mostly the "
                           f"same {where}: draw them from rng")
    if len(seen) < 0.6 * n_train:
        raise CheckFailure(f"40 batches together used only {len(seen)} of the {n_train} "
                           f"training examples {where}: every training example should be "
                           f"equally likely")
    again = _call(sample_batch, inputs.copy(), labels.copy(), n_train, batch_size,
                  np.random.default_rng(seed), where=where)
    if tuple(int(i) for i in np.asarray(again[1])) != batches[0]:
        raise CheckFailure(f"two calls with generators seeded alike gave different batches "
                           f"{where}: draw every random number from rng")


# ----------------------------------------------------------------------------
# init_params: He initialisation with each layer's fan-in
# ----------------------------------------------------------------------------

# The network of the chapter: name -> (weight shape, fan-in).
_LAYERS = {"1": ((8, 1, 3, 3), 1 * 3 * 3), "2": ((16, 8, 3, 3), 8 * 3 * 3),
           "3": ((16 * 7 * 7, 10), 16 * 7 * 7)}


@exercise("fix_init_params", ["init_params"], points=1)
def _check_init_params(rng, init_params):
    seed = int(rng.integers(2**32))
    draws = {name: [] for name in _LAYERS}
    for k in range(12):
        where = "for init_params(np.random.default_rng(seed))"
        params = _call(init_params, np.random.default_rng(seed + k), where=where)
        if not isinstance(params, dict):
            raise CheckFailure(f"init_params should return a dict of arrays, got "
                               f"{type(params).__name__}")
        expected_keys = {prefix + name for name in _LAYERS for prefix in "wb"}
        if set(params) != expected_keys:
            raise CheckFailure(f"init_params should return the keys {sorted(expected_keys)}, "
                               f"got {sorted(map(str, params))}")
        for name, (shape, _) in _LAYERS.items():
            w = _array(params["w" + name], "w" + name, shape, where, dtype=np.float32)
            n_out = shape[0] if len(shape) == 4 else shape[1]
            b = _array(params["b" + name], "b" + name, (n_out,), where, dtype=np.float32)
            if np.any(b != 0):
                raise CheckFailure(f"b{name} should start at zero")
            draws[name].append(w.astype(np.float64))
        if k == 0:
            again = _call(init_params, np.random.default_rng(seed), where=where)
            if not np.array_equal(np.asarray(again["w2"]), params["w2"]):
                raise CheckFailure("two calls with generators seeded alike gave different "
                                   "weights: draw every random number from rng")
    if np.array_equal(draws["2"][0], draws["2"][1]):
        raise CheckFailure("two calls with differently seeded generators gave the same "
                           "weights: draw them from rng")
    for name, (_, fan_in) in _LAYERS.items():
        values = np.concatenate([w.ravel() for w in draws[name]])
        std, mean = float(values.std()), float(values.mean())
        # 12 draws of the smallest layer give 864 values: their std is within 3% (1 sigma).
        if abs(std / np.sqrt(2 / fan_in) - 1) > 0.12:
            raise CheckFailure(f"w{name} has standard deviation {std:.3g}, which is not what "
                               f"He initialisation gives this layer")
        if abs(mean) > 5 * std / np.sqrt(values.size):
            raise CheckFailure(f"w{name} has mean {mean:.3g}; it should be about 0")


# ----------------------------------------------------------------------------
# relu, relu_backward: no array changed in place
# ----------------------------------------------------------------------------

@exercise("fix_relu", ["relu", "relu_backward"], points=1)
def _check_relu(rng, relu, relu_backward):
    for shape in [(int(rng.integers(2, 5)), int(rng.integers(2, 6))),
                  (2, int(rng.integers(1, 4)), int(rng.integers(3, 6)), int(rng.integers(3, 6)))]:
        x = _away_from_zero(rng, shape)      # no input within h of the kink
        where = f"for x of shape {shape}"
        out, cache = _unpack(_call(relu, x.copy(), where=where), 2, "relu", "(out, cache)")
        _close(out, np.maximum(x, 0), "out", where)
        # relu_backward gets the cache twice: a first call must leave it as it was.
        dout = rng.standard_normal(shape)
        first = _call(relu_backward, dout.copy(), cache, where=where)
        second = _call(relu_backward, dout.copy(), cache, where=where + ", called twice")
        _close(second, first, "relu_backward's second result compared with its first", where)
        _check_pair(rng, relu, relu_backward, lambda x: F.relu_forward(x)[0], [x], {}, where,
                    ["dx"])


# ----------------------------------------------------------------------------
# max_pool, max_pool_backward: 2x2 windows, stride 2, any even H and W
# ----------------------------------------------------------------------------

@exercise("fix_max_pool", ["max_pool", "max_pool_backward"], points=2)
def _check_max_pool(rng, max_pool, max_pool_backward):
    N, C = 2, int(rng.integers(1, 4))
    side = 2 * int(rng.integers(2, 4))
    other = side + 2 * int(rng.integers(1, 3))
    for shape, kind in [((N, C, side, side), "a square input"),
                        ((N, C, side, other), "a non-square input (H < W)"),
                        ((N, C, other, side), "a non-square input (H > W)")]:
        x = _distinct(rng, shape)            # no ties: the numerical gradient is exact
        where = f"for x of shape {shape}, {kind}"
        out, _ = _unpack(_call(max_pool, x.copy(), where=where), 2, "max_pool", "(out, cache)")
        _close(out, F.max_pool2d_forward(x, 2)[0], "out", where)
        _check_pair(rng, max_pool, max_pool_backward,
                    lambda x: F.max_pool2d_forward(x, 2)[0], [x], {}, where, ["dx"])


# ----------------------------------------------------------------------------
# conv_backward: the gradients of the chapter's im2col convolution
# ----------------------------------------------------------------------------

@exercise("fix_conv_backward", ["conv", "conv_backward"], points=2)
def _check_conv_backward(rng, conv, conv_backward):
    for k, pad in [(3, 1), (int(rng.integers(1, 4)), 0), (int(rng.integers(2, 4)), 2)]:
        # Every axis its own size, and F > 1: a mix-up of axes cannot pass by luck.
        N, C, F_out = 2, int(rng.integers(2, 4)), int(rng.integers(4, 6))
        H, W = int(rng.integers(4, 6)), int(rng.integers(6, 8))
        x = rng.standard_normal((N, C, H, W))
        w = rng.standard_normal((F_out, C, k, k))
        b = rng.standard_normal(F_out)
        where = (f"at a {_dims(x.shape)} input with {F_out} filters of {k}x{k}, pad={pad}")
        ref = lambda x, w, b, pad: F.conv2d_forward(x, w, b, 1, pad)[0]
        out, _ = _unpack(_call(conv, x.copy(), w.copy(), b.copy(), pad=pad, where=where), 2,
                         "conv", "(out, cache)")
        _close(out, ref(x, w, b, pad), "conv's output (conv itself has no bug: keep it as "
               "the chapter shows it)", where)
        _check_pair(rng, conv, conv_backward, ref, [x, w, b], {"pad": pad}, where,
                    ["dx", "dw", "db"])


# ----------------------------------------------------------------------------
# adam_step: one step of Adam
# ----------------------------------------------------------------------------

@exercise("fix_adam_step", ["adam_step"], points=1)
def _check_adam_step(rng, adam_step):
    for case in range(2):
        shape = (int(rng.integers(2, 5)), int(rng.integers(2, 5)))
        w = rng.standard_normal(shape)
        m, v = np.zeros(shape), np.zeros(shape)
        if case == 0:
            kwargs, lr, b1, b2, eps = {}, 1e-3, 0.9, 0.999, 1e-8
            settings = "the default settings"
        else:
            lr = float(rng.uniform(0.002, 0.05))
            b1, b2 = float(rng.uniform(0.6, 0.85)), float(rng.uniform(0.95, 0.99))
            eps = 1e-8
            kwargs = {"lr": lr, "beta1": b1, "beta2": b2}
            settings = f"lr={lr:.3g}, beta1={b1:.3g}, beta2={b2:.3g}"
        ref_m, ref_v = m.copy(), v.copy()
        for t in range(1, 5):
            dw = rng.standard_normal(shape)
            where = f"at step t={t} of a run from m = v = 0, for w of shape {shape} and {settings}"
            result = _call(adam_step, w.copy(), dw.copy(), m.copy(), v.copy(), t, **kwargs,
                           where=where)
            w_new, m, v = _unpack(result, 3, "adam_step", "(w, m, v)")
            ref_m = b1 * ref_m + (1 - b1) * dw
            ref_v = b2 * ref_v + (1 - b2) * dw * dw
            step = lr * (ref_m / (1 - b1 ** t)) / (np.sqrt(ref_v / (1 - b2 ** t)) + eps)
            m = _array(m, "the first moment m", shape, where)
            v = _array(v, "the second moment v", shape, where)
            w_new = _array(w_new, "the new weights w", shape, where)
            for what, got, expected in [("the first moment m", m, ref_m),
                                        ("the second moment v", v, ref_v),
                                        ("the step w - w_new", w - w_new, step)]:
                err = rel_error(got, expected)
                if err > 1e-6:
                    raise CheckFailure(f"{what} is wrong {where} (relative error {err:.1e})")
            w = w_new
