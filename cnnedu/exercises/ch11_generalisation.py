"""Chapter 11's exercise checks (generalisation): see ``cnnedu.exercises``.

The chapter uses cnnedu's batch normalisation, its own shift-and-rotate
augmentation, a single held-out validation set and the optimisers'
``weight_decay``; the exercises ask for what it does not show: the batch-norm
kernels, integer shifts with zero fill, k-fold cross-validation and the L2
term in the loss and its gradient.
"""

import numpy as np

from cnnedu import functional as F

from ._common import (
    CheckFailure,
    _array,
    _call,
    _check_pair,
    _close,
    _dims,
    _scalar,
    _unpack,
    exercise,
)


# ----------------------------------------------------------------------------
# batch_norm: the forward and backward pass in training mode, x of shape (N, D)
# ----------------------------------------------------------------------------

def _bn_case(rng, dtype=np.float64):
    N, D = int(rng.integers(3, 7)), int(rng.integers(2, 5))
    x = (rng.standard_normal((N, D)) * rng.uniform(0.5, 3, D) + rng.uniform(-2, 2, D)).astype(dtype)
    gamma = rng.uniform(0.5, 2, D).astype(dtype) * np.resize([1, -1], D).astype(dtype)
    beta = rng.standard_normal(D).astype(dtype)
    return x, gamma, beta


def _bn_forward_hint(got, x, gamma, beta, eps):
    """A hint for the usual slips of a batch-norm forward pass, or ''."""
    x = x.astype(np.float64)
    wrong = {
        "use the biased variance (divide by N, np.var's default), not N - 1":
            gamma * (x - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + eps) + beta,
        "add eps to the variance inside the square root, not to the standard deviation":
            gamma * (x - x.mean(0)) / (x.std(0) + eps) + beta,
        "normalise each feature (column) over the batch, axis 0, not each sample over axis 1":
            gamma * (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + eps)
            + beta,
        "scale by gamma and then shift by beta (gamma * x_hat + beta)":
            beta * (x - x.mean(0)) / np.sqrt(x.var(0) + eps) + gamma,
    }
    for hint, value in wrong.items():
        if np.shape(got) == value.shape and np.allclose(got, value, rtol=1e-6, atol=1e-9):
            return f"; it looks as if you should {hint}"
    return ""


@exercise("batch_norm", ["batch_norm_forward", "batch_norm_backward"], points=3)
def _check_batch_norm(rng, batch_norm_forward, batch_norm_backward):
    # The forward pass, against cnnedu's kernel (tested against the loop twin in cnnedu.reference).
    for dtype, eps in ((np.float64, None), (np.float64, 0.1), (np.float32, None)):
        x, gamma, beta = _bn_case(rng, dtype)
        kwargs = {} if eps is None else {"eps": eps}
        where = (f"for {np.dtype(dtype)} x of shape {_dims(x.shape)}"
                 + (f" and eps={eps}" if eps is not None else ""))
        result = _call(batch_norm_forward, x.copy(), gamma.copy(), beta.copy(), **kwargs,
                       where=where)
        out, _ = _unpack(result, 2, "batch_norm_forward", "(out, cache)")
        x64, g64, b64 = (a.astype(np.float64) for a in (x, gamma, beta))
        expected = F.batch_norm_forward(x64, g64, b64, eps=1e-5 if eps is None else eps)[0]
        hint = _bn_forward_hint(out, x64, g64, b64, 1e-5 if eps is None else eps) if np.shape(
            out) == x.shape else ""
        _close(out, expected, "out", where, tol=1e-5 if dtype == np.float32 else 1e-7,
               dtype=dtype, hint=hint)
    # The backward pass, against numerical gradients of the reference forward. The learner's
    # forward only provides the cache, so a wrong forward with a matching backward fails.
    ref = lambda x, gamma, beta, eps=1e-5: F.batch_norm_forward(x, gamma, beta, eps=eps)[0]
    for eps in (None, 0.1):
        x, gamma, beta = _bn_case(rng)
        kwargs = {} if eps is None else {"eps": eps}
        where = f"for x of shape {_dims(x.shape)}" + (f" and eps={eps}" if eps else "")
        try:
            _check_pair(rng, batch_norm_forward, batch_norm_backward, ref, [x, gamma, beta],
                        kwargs, where, ["dx", "dgamma", "dbeta"])
        except CheckFailure as failure:
            message = str(failure)
            if message.startswith("dx:") and _dx_ignores_the_statistics(
                    batch_norm_forward, batch_norm_backward, x, gamma, beta, kwargs, where):
                message += ("; your dx treats the mean and the variance as constants, but in "
                            "training they depend on every x of the batch")
            raise CheckFailure(message) from None


def _dx_ignores_the_statistics(forward, backward, x, gamma, beta, kwargs, where):
    """Does the learner's dx equal gamma * dout / sqrt(var + eps), the evaluation-mode formula?"""
    dout = np.random.default_rng(0).standard_normal(x.shape)
    _, cache = _unpack(_call(forward, x.copy(), gamma.copy(), beta.copy(), **kwargs, where=where),
                       2, "batch_norm_forward", "(out, cache)")
    grads = _call(backward, dout.copy(), cache, where=where)
    if not isinstance(grads, (tuple, list)) or len(grads) != 3 or np.shape(grads[0]) != x.shape:
        return False
    eps = kwargs.get("eps", 1e-5)
    constant = gamma * dout / np.sqrt(x.var(0) + eps)
    return bool(np.allclose(np.asarray(grads[0], dtype=np.float64), constant, rtol=1e-6))


# ----------------------------------------------------------------------------
# random_shift: data augmentation by integer shifts with zero fill
# ----------------------------------------------------------------------------

def _shifted(image, dy, dx):
    """image (C, H, W) moved dy rows down and dx columns right; vacated pixels 0."""
    C, H, W = image.shape
    out = np.zeros_like(image)
    out[:, max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
        image[:, max(-dy, 0):H - max(dy, 0), max(-dx, 0):W - max(dx, 0)]
    return out


def _which_shift(got, image, max_shift):
    """The (dy, dx) with |dy|, |dx| <= max_shift that turns image into got exactly, or None."""
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            if np.array_equal(got, _shifted(image, dy, dx)):
                return dy, dx
    return None


@exercise("random_shift", ["random_shift"], points=2)
def _check_random_shift(rng, random_shift):
    seed = int(rng.integers(2**32))
    for case, (N, C, H, W, max_shift) in enumerate([(300, 1, 6, 7, 2), (200, 2, 5, 5, 1),
                                                     (40, 1, 4, 6, 0)]):
        # No zeros in x: the zero-filled border then shows the shift exactly.
        x = rng.uniform(0.5, 1.5, (N, C, H, W))
        if case == 1:
            x = x.astype(np.float32)
        where = f"for x of shape {_dims(x.shape)}, {x.dtype}, and max_shift={max_shift}"
        got = _call(random_shift, x.copy(), max_shift, np.random.default_rng(seed), where=where)
        got = _array(got, "the shifted images", x.shape, where, dtype=x.dtype)
        shifts = []
        for n in range(N):
            shift = _which_shift(got[n], x[n], max_shift)
            if shift is None:
                hint = ""
                if any(np.array_equal(got[n], np.roll(x[n], (dy, dx), axis=(1, 2)))
                       for dy in range(-max_shift, max_shift + 1)
                       for dx in range(-max_shift, max_shift + 1)):
                    hint = ("; np.roll wraps the pixels that leave one side around to the other: "
                            "fill the vacated rows and columns with zeros instead")
                elif any(_which_shift(got[n][c:c + 1], x[n][c:c + 1], max_shift) is not None
                         for c in range(C)) and C > 1:
                    hint = "; shift all channels of an image by the same amount"
                raise CheckFailure(f"image {n} of the result is not image {n} of x shifted by at "
                                   f"most max_shift pixels, with zeros filled in, {where}{hint}")
            shifts.append(shift)
        shifts = np.array(shifts)
        if max_shift == 0:
            continue
        if len({tuple(s) for s in shifts}) < 2 or np.all(shifts[:, 0] == shifts[:, 1]):
            raise CheckFailure(f"the images were not shifted independently {where}: draw a "
                               f"row shift and a column shift for each image")
        values = set(shifts.ravel().tolist())
        if values != set(range(-max_shift, max_shift + 1)):
            missing = sorted(set(range(-max_shift, max_shift + 1)) - values)
            raise CheckFailure(f"over {N} images, no image was shifted by {missing} pixels in "
                               f"either direction {where}; draw each shift uniformly from "
                               f"-max_shift to max_shift, both included")
        unshifted = float(np.mean(np.all(shifts == 0, axis=1)))
        expected = 1 / (2 * max_shift + 1) ** 2
        if abs(unshifted - expected) > 5 * np.sqrt(expected * (1 - expected) / N) + 1 / N:
            raise CheckFailure(f"{unshifted:.0%} of the images were not moved at all {where}, "
                               f"far from 1 in {(2 * max_shift + 1) ** 2}: draw each shift "
                               f"uniformly")
        again = _call(random_shift, x.copy(), max_shift, np.random.default_rng(seed), where=where)
        if not np.array_equal(np.asarray(again), got):
            raise CheckFailure(f"two calls with generators seeded alike gave different results "
                               f"{where}: draw every random number from rng")
        seed += 1


# ----------------------------------------------------------------------------
# k_fold_indices: k-fold cross-validation
# ----------------------------------------------------------------------------

@exercise("k_fold_indices", ["k_fold_indices"], points=2)
def _check_k_fold_indices(rng, k_fold_indices):
    seed = int(rng.integers(2**32))
    for n, k in [(int(rng.integers(20, 40)), 5), (int(rng.integers(10, 20)), 3), (7, 7)]:
        if n % k == 0 and k != n:
            n += 1  # unequal folds: some must hold one sample more
        where = f"for n={n}, k={k}"
        runs = [_call(k_fold_indices, n, k, np.random.default_rng(s), where=where)
                for s in (seed, seed, seed + 1)]
        folds = runs[0]
        if not isinstance(folds, (list, tuple)) or len(folds) != k:
            got = f"{len(folds)} items" if isinstance(folds, (list, tuple)) else type(
                folds).__name__
            raise CheckFailure(f"k_fold_indices should return a list of k={k} pairs "
                               f"(train_idx, val_idx), got {got} {where}")
        vals = []
        for i, pair in enumerate(folds):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise CheckFailure(f"item {i} of the list should be a pair (train_idx, val_idx), "
                                   f"got {type(pair).__name__} {where}")
            train_idx, val_idx = pair
            for name, idx in (("train_idx", train_idx), ("val_idx", val_idx)):
                if not isinstance(idx, np.ndarray) or idx.ndim != 1 or (
                        idx.size and not np.issubdtype(idx.dtype, np.integer)):
                    raise CheckFailure(f"{name} of fold {i} should be a 1-D NumPy array of "
                                       f"integer indices {where}")
            if sorted(train_idx.tolist() + val_idx.tolist()) != list(range(n)):
                raise CheckFailure(f"in fold {i}, train_idx and val_idx together should hold "
                                   f"every index 0..n-1 exactly once {where}")
            vals.append(val_idx)
        if sorted(np.concatenate(vals).tolist()) != list(range(n)):
            raise CheckFailure(f"every index should be in the validation part of exactly one "
                               f"fold {where}")
        sizes = sorted(len(v) for v in vals)
        if sizes[-1] - sizes[0] > 1:
            raise CheckFailure(f"the validation parts have sizes from {sizes[0]} to {sizes[-1]} "
                               f"{where}; they should differ by at most one (np.array_split)")
        same = all(np.array_equal(a[1], b[1]) for a, b in zip(runs[0], runs[1]))
        if not same:
            raise CheckFailure(f"two calls with generators seeded alike gave different folds "
                               f"{where}: draw the shuffle from rng")
        if k < n and all(np.array_equal(a[1], b[1]) for a, b in zip(runs[0], runs[2])):
            raise CheckFailure(f"two calls with differently seeded generators gave the same "
                               f"folds {where}: shuffle the indices with rng first")
        seed += 1


# ----------------------------------------------------------------------------
# add_weight_decay: the L2 term in the loss and in the gradient
# ----------------------------------------------------------------------------

@exercise("add_weight_decay", ["add_weight_decay"], points=1)
def _check_add_weight_decay(rng, add_weight_decay):
    shapes = {"0.W": (3, 2, 2, 2), "0.b": (3,), "3.W": (4, 5), "3.b": (5,)}
    for weight_decay in (round(float(rng.uniform(0.01, 0.2)), 2), 0.0):
        params = {k: rng.standard_normal(s) for k, s in shapes.items()}
        grads = {k: rng.standard_normal(s) for k, s in shapes.items()}
        loss = float(rng.uniform(0.5, 2.5))
        where = f"for weight_decay={weight_decay:g} and params {sorted(shapes)}"
        result = _call(add_weight_decay, loss, {k: v.copy() for k, v in params.items()},
                       {k: v.copy() for k, v in grads.items()}, weight_decay, where=where)
        new_loss, new_grads = _unpack(result, 2, "add_weight_decay", "(loss, grads)")
        penalty = 0.5 * weight_decay * sum(np.sum(p * p) for p in params.values() if p.ndim >= 2)
        value = _scalar(new_loss, "the loss", where)
        if abs(value - (loss + penalty)) > 1e-9 * max(1.0, abs(loss + penalty)):
            added = value - loss
            everything = 0.5 * weight_decay * sum(np.sum(p * p) for p in params.values())
            if penalty and abs(added - 2 * penalty) < 1e-9:
                hint = "; the term is (weight_decay / 2) times the sum of squares"
            elif abs(added - everything) < 1e-9 and penalty:
                hint = "; only weights (arrays with 2 or more dimensions) are decayed, not biases"
            else:
                hint = ""
            raise CheckFailure(f"the loss is wrong {where}: it should be the loss plus the L2 "
                               f"term of the weights{hint}")
        if not isinstance(new_grads, dict) or set(new_grads) != set(grads):
            raise CheckFailure(f"grads should be a dict with the keys of params {where}")
        for key in shapes:
            expected = grads[key] + (weight_decay * params[key] if params[key].ndim >= 2 else 0)
            hint = (" (biases are not decayed)" if params[key].ndim < 2 else
                    " (the gradient of the L2 term is weight_decay * W)")
            _close(new_grads[key], expected, f"grads[{key!r}]", where, hint=hint)
