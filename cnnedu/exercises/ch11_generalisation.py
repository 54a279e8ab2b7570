"""Chapter 11's exercise checks (generalisation): what the chapter uses from cnnedu, built by
hand: the batch-norm kernels, integer shifts with zero fill, k-fold cross-validation and the
L2 term in the loss and its gradient. See ``cnnedu.exercises``."""

import numpy as np

from cnnedu import functional as F

from ._common import (CheckFailure, _array, _call, _check_pair, _close, _dims, _scalar, _seeded,
                      _slip, exercise)


def _bn_case(rng, dtype=np.float64):
    """x (N, D) with features of different means and scales; gamma of both signs; beta."""
    N, D = int(rng.integers(3, 7)), int(rng.integers(2, 5))
    x = rng.standard_normal((N, D)) * rng.uniform(0.5, 3, D) + rng.uniform(-2, 2, D)
    gamma = rng.uniform(0.5, 2, D) * np.resize([1, -1], D)
    return x.astype(dtype), gamma.astype(dtype), rng.standard_normal(D).astype(dtype)


def _bn_slips(x, gamma, beta, eps):
    """The usual slips of a batch-norm forward pass, ``(value, hint)``, for float64 inputs."""
    mean, var, should = x.mean(0), x.var(0), "; it looks as if you should"
    return [(gamma * (x - mean) / np.sqrt(x.var(0, ddof=1) + eps) + beta,
             f"{should} use the biased variance (divide by N, np.var's default), not N - 1"),
            (gamma * (x - mean) / (np.sqrt(var) + eps) + beta,
             f"{should} add eps to the variance inside the square root, not to the standard "
             f"deviation"),
            (gamma * (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + eps)
             + beta, f"{should} normalise each feature (column) over the batch, axis 0, not "
                     f"each sample over axis 1"),
            (beta * (x - mean) / np.sqrt(var + eps) + gamma,
             f"{should} scale by gamma and then shift by beta (gamma * x_hat + beta)")]


@exercise("batch_norm", ["batch_norm_forward", "batch_norm_backward"], points=3)
def _check_batch_norm(rng, batch_norm_forward, batch_norm_backward):
    reference = lambda x, gamma, beta, eps=1e-5: F.batch_norm_forward(x, gamma, beta, eps=eps)[0]
    for dtype, kwargs in ((np.float64, {}), (np.float64, {"eps": 0.1}), (np.float32, {})):
        x, gamma, beta = _bn_case(rng, dtype)
        eps = kwargs.get("eps", 1e-5)
        where = (f"for {np.dtype(dtype)} x of shape {_dims(x.shape)}"
                 + (f" and eps={eps}" if kwargs else ""))
        x64, g64, b64 = (a.astype(np.float64) for a in (x, gamma, beta))

        def check_out(out):
            # The forward pass, against cnnedu's kernel (tested against its loop twin).
            _close(out, reference(x64, g64, b64, eps), "out", where, dtype=dtype,
                   tol=1e-5 if dtype == np.float32 else 1e-7,
                   hint=_slip(out, _bn_slips(x64, g64, b64, eps)))
        if dtype == np.float64:
            # dx's slip is the evaluation-mode formula, as if mean and variance were constants.
            constant = ("; your dx treats the mean and the variance as constants, but in "
                        "training they depend on every x of the batch")
            _check_pair(rng, batch_norm_forward, batch_norm_backward, reference,
                        [x, gamma, beta], where, ["dx", "dgamma", "dbeta"], kwargs,
                        check_out=check_out,
                        slips={"dx": lambda dout: [(gamma * dout / np.sqrt(x.var(0) + eps),
                                                    constant)]})
        else:
            check_out(_call(batch_norm_forward, x, gamma, beta, **kwargs, where=where,
                            returns="(out, cache)")[0])


def _shifted(image, dy, dx):
    """image (C, H, W) moved dy rows down and dx columns right; vacated pixels 0."""
    C, H, W = image.shape
    out = np.zeros_like(image)
    out[:, max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
        image[:, max(-dy, 0):H - max(dy, 0), max(-dx, 0):W - max(dx, 0)]
    return out


def _which_shift(got, image, max_shift, move=_shifted):
    """The (dy, dx) with |dy|, |dx| <= max_shift for which move(image, dy, dx) is got, or None."""
    shifts = range(-max_shift, max_shift + 1)
    return next(((dy, dx) for dy in shifts for dx in shifts
                 if np.array_equal(got, move(image, dy, dx))), None)


@exercise("random_shift", ["random_shift"], points=2)
def _check_random_shift(rng, random_shift):
    seed = int(rng.integers(2**32))
    for N, C, H, W, max_shift, dtype in [(300, 1, 6, 7, 2, np.float64),
                                         (200, 2, 5, 5, 1, np.float32),
                                         (40, 1, 4, 6, 0, np.float64)]:
        seed += 1
        # No zeros in x: the zero-filled border then shows the shift exactly.
        x = rng.uniform(0.5, 1.5, (N, C, H, W)).astype(dtype)
        where = f"for x of shape {_dims(x.shape)}, {x.dtype}, and max_shift={max_shift}"
        run = lambda generator: _call(random_shift, x, max_shift, generator, where=where)
        got = _array(run(np.random.default_rng(seed)), "the shifted images", x.shape, where,
                     dtype=x.dtype)
        shifts = []
        for n in range(N):
            shifts.append(_which_shift(got[n], x[n], max_shift))
            if shifts[-1] is None:
                hint = ""
                rolled = lambda image, dy, dx: np.roll(image, (dy, dx), axis=(1, 2))
                if _which_shift(got[n], x[n], max_shift, rolled):
                    hint = ("; np.roll wraps the pixels that leave one side around to the other: "
                            "fill the vacated rows and columns with zeros instead")
                elif C > 1 and _which_shift(got[n][:1], x[n][:1], max_shift):
                    hint = "; shift all channels of an image by the same amount"
                raise CheckFailure(f"image {n} of the result is not image {n} of x shifted by at "
                                   f"most max_shift pixels, with zeros filled in, {where}{hint}")
        if max_shift == 0:
            continue
        shifts = np.array(shifts)
        if len({tuple(s) for s in shifts}) < 2 or np.all(shifts[:, 0] == shifts[:, 1]):
            raise CheckFailure(f"the images were not shifted independently {where}: draw a "
                               f"row shift and a column shift for each image")
        missing = sorted(set(range(-max_shift, max_shift + 1)) - set(shifts.ravel().tolist()))
        if missing:
            raise CheckFailure(f"over {N} images, no image was shifted by {missing} pixels in "
                               f"either direction {where}; draw each shift uniformly from "
                               f"-max_shift to max_shift, both included")
        unshifted = float(np.mean(np.all(shifts == 0, axis=1)))
        expected = 1 / (2 * max_shift + 1) ** 2
        if abs(unshifted - expected) > 5 * np.sqrt(expected * (1 - expected) / N) + 1 / N:
            raise CheckFailure(f"{unshifted:.0%} of the images were not moved at all {where}, "
                               f"far from 1 in {(2 * max_shift + 1) ** 2}: draw each shift "
                               f"uniformly")
        _seeded(run, seed, got, "results", where, differs=False)


@exercise("k_fold_indices", ["k_fold_indices"], points=2)
def _check_k_fold_indices(rng, k_fold_indices):
    seed = int(rng.integers(2**32))
    for n, k in [(int(rng.integers(20, 40)), 5), (int(rng.integers(10, 20)), 3), (7, 7)]:
        seed += 1
        if n % k == 0 and k != n:
            n += 1  # unequal folds: some must hold one sample more
        where = f"for n={n}, k={k}"
        run = lambda generator: _call(k_fold_indices, n, k, generator, where=where)
        folds = run(np.random.default_rng(seed))
        if not isinstance(folds, (list, tuple)) or len(folds) != k:
            got = (f"{len(folds)} items" if isinstance(folds, (list, tuple))
                   else type(folds).__name__)
            raise CheckFailure(f"k_fold_indices should return a list of k={k} pairs "
                               f"(train_idx, val_idx), got {got} {where}")
        for i, pair in enumerate(folds):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise CheckFailure(f"item {i} of the list should be a pair (train_idx, val_idx), "
                                   f"got {type(pair).__name__} {where}")
            for name, idx in zip(("train_idx", "val_idx"), pair):
                if not isinstance(idx, np.ndarray) or idx.ndim != 1 or (
                        idx.size and not np.issubdtype(idx.dtype, np.integer)):
                    raise CheckFailure(f"{name} of fold {i} should be a 1-D NumPy array of "
                                       f"integer indices {where}")
            if sorted(np.concatenate(pair).tolist()) != list(range(n)):
                raise CheckFailure(f"in fold {i}, train_idx and val_idx together should hold "
                                   f"every index 0..n-1 exactly once {where}")
        if sorted(np.concatenate([val for _, val in folds]).tolist()) != list(range(n)):
            raise CheckFailure(f"every index should be in the validation part of exactly one "
                               f"fold {where}")
        sizes = sorted(len(val) for _, val in folds)
        if sizes[-1] - sizes[0] > 1:
            raise CheckFailure(f"the validation parts have sizes from {sizes[0]} to {sizes[-1]} "
                               f"{where}; they should differ by at most one (np.array_split)")
        _seeded(run, seed, folds, "folds", where, differs=k < n)


@exercise("add_weight_decay", ["add_weight_decay"], points=1)
def _check_add_weight_decay(rng, add_weight_decay):
    shapes = {"0.W": (3, 2, 2, 2), "0.b": (3,), "3.W": (4, 5), "3.b": (5,)}
    for weight_decay in (round(float(rng.uniform(0.01, 0.2)), 2), 0.0):
        params = {k: rng.standard_normal(s) for k, s in shapes.items()}
        grads = {k: rng.standard_normal(s) for k, s in shapes.items()}
        loss = float(rng.uniform(0.5, 2.5))
        where = f"for weight_decay={weight_decay:g} and params {sorted(shapes)}"
        new_loss, new_grads = _call(add_weight_decay, loss, params, grads, weight_decay,
                                    where=where, returns="(loss, grads)")
        # Only weights (2 or more dimensions) are decayed, not biases.
        decayed = {k: weight_decay * p if p.ndim >= 2 else 0 * p for k, p in params.items()}
        penalty = 0.5 * sum(np.sum(decayed[k] * params[k]) for k in params)
        added = _scalar(new_loss, "the loss", where) - loss
        if abs(added - penalty) > 1e-9 * max(1.0, abs(loss + penalty)):
            everything = 0.5 * weight_decay * sum(np.sum(p * p) for p in params.values())
            hint = ("; the term is (weight_decay / 2) times the sum of squares"
                    if penalty and abs(added - 2 * penalty) < 1e-9 else
                    "; only weights (arrays with 2 or more dimensions) are decayed, not biases"
                    if penalty and abs(added - everything) < 1e-9 else "")
            raise CheckFailure(f"the loss is wrong {where}: it should be the loss plus the L2 "
                               f"term of the weights{hint}")
        if not isinstance(new_grads, dict) or set(new_grads) != set(grads):
            raise CheckFailure(f"grads should be a dict with the keys of params {where}")
        for key, p in params.items():
            hint = (" (biases are not decayed)" if p.ndim < 2 else
                    " (the gradient of the L2 term is weight_decay * W)")
            _close(new_grads[key], grads[key] + decayed[key], f"grads[{key!r}]", where, hint=hint)
