"""Chapter 8's exercise checks (training tools): see ``cnnedu.exercises``."""

import numpy as np


from ._common import (
    CheckFailure,
    _array,
    _away_from_zero,
    _call,
    _check_pair,
    _close,
    _unpack,
    exercise,
)


@exercise("momentum_update", ["momentum_update"], points=1)
def _check_momentum_update(rng, momentum_update):
    for weight_decay in (0.0, float(rng.uniform(0.05, 0.5)), float(rng.uniform(0.05, 0.5))):
        shape = (int(rng.integers(2, 5)), int(rng.integers(2, 5)))
        w, dw, v = (rng.standard_normal(shape) for _ in range(3))
        lr, mu = float(rng.uniform(0.01, 0.5)), float(rng.uniform(0.5, 0.99))
        where = f"for w of shape {shape}, lr={lr:.3g}, mu={mu:.3g}, weight_decay={weight_decay:.3g}"
        result = _call(momentum_update, w.copy(), dw.copy(), v.copy(), lr, mu, weight_decay,
                       where=where)
        w_new, v_new = _unpack(result, 2, "momentum_update", "(w_new, v_new)")
        ref_v = mu * v - lr * (dw + weight_decay * w)
        hint = ""
        if weight_decay and np.allclose(np.asarray(v_new, float), mu * v - lr * dw):
            hint = " (weight decay has no effect on your velocity)"
        elif weight_decay and np.allclose(np.asarray(v_new, float), mu * v - lr * (dw - weight_decay * w)):
            hint = " (check the sign of the weight-decay term)"
        _close(v_new, ref_v, "v_new", where, hint=hint)
        _close(w_new, w + ref_v, "w_new", where)


@exercise("adam_update", ["adam_update"], points=2)
def _check_adam_update(rng, adam_update):
    for case in range(3):
        shape = (int(rng.integers(2, 5)), int(rng.integers(2, 5)))
        w, dw, m = (rng.standard_normal(shape) for _ in range(3))
        v = rng.uniform(0.1, 2.0, shape)
        t = 1 if case == 0 else int(rng.integers(2, 20))
        if case == 1:  # tiny gradients from a fresh start: eps must go outside the sqrt
            m, v, dw = np.zeros(shape), np.zeros(shape), dw * 1e-5
        kwargs = {} if case < 2 else {"lr": float(rng.uniform(0.01, 0.2)),
                                      "beta1": float(rng.uniform(0.5, 0.95)),
                                      "beta2": float(rng.uniform(0.9, 0.999)), "eps": 1e-6}
        hyper = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, **kwargs}
        where = (f"for w of shape {shape}, t={t}, "
                 + ", ".join(f"{k}={v:.3g}" for k, v in hyper.items())
                 + (", m = v = 0 and gradients around 1e-5" if case == 1 else ""))
        result = _call(adam_update, w.copy(), dw.copy(), m.copy(), v.copy(), t, **kwargs,
                       where=where)
        w_new, m_new, v_new = _unpack(result, 3, "adam_update", "(w_new, m_new, v_new)")
        b1, b2 = hyper["beta1"], hyper["beta2"]
        ref_m = b1 * m + (1 - b1) * dw
        ref_v = b2 * v + (1 - b2) * dw * dw
        m_hat, v_hat = ref_m / (1 - b1 ** t), ref_v / (1 - b2 ** t)
        step = hyper["lr"] * m_hat / (np.sqrt(v_hat) + hyper["eps"])
        _close(m_new, ref_m, "m_new", where)
        _close(v_new, ref_v, "v_new", where)
        # Compare the step, not w_new: a small step hides in w's size.
        w_new = _array(w_new, "w_new", shape, where)
        _close(w - w_new, step, "the step w - w_new", where, tol=1e-6,
               hint=" (bias-correct m and v with t, then divide by sqrt(v_hat) + eps)")


@exercise("he_normal", ["he_normal"], points=1)
def _check_he_normal(rng, he_normal):
    seed = int(rng.integers(2**32))
    for shape, fan_in, what in [((400, 300), 400, "in_features (shape[0])"),
                                ((32, 16, 3, 3), 144, "C * kh * kw")]:
        where = f"for shape {shape}"
        got = _call(he_normal, shape, np.random.default_rng(seed), where=where)
        got = _array(got, "he_normal(shape, rng)", shape, where, dtype=np.float32)
        std, mean = float(got.std()), float(got.mean())
        ref_std = np.sqrt(2 / fan_in)
        if abs(std / ref_std - 1) > 0.05:
            raise CheckFailure(f"the standard deviation is {std:.3g} {where}; it should be "
                               f"sqrt(2 / fan_in) with fan_in = {what}")
        if abs(mean) > 5 * ref_std / np.sqrt(got.size):
            raise CheckFailure(f"the mean is {mean:.3g} {where}; it should be about 0")
        centred = got.astype(np.float64) - mean
        kurtosis = float(np.mean(centred ** 4) / np.mean(centred ** 2) ** 2)
        if abs(kurtosis - 3) > 0.3:
            raise CheckFailure(f"the values do not look normally distributed {where}; "
                               f"draw them with rng.standard_normal")
        again = _call(he_normal, shape, np.random.default_rng(seed), where=where)
        other = _call(he_normal, shape, np.random.default_rng(seed + 1), where=where)
        if not np.array_equal(np.asarray(again), got):
            raise CheckFailure(f"two calls with generators seeded alike gave different arrays "
                               f"{where}: draw the numbers from rng")
        if np.array_equal(np.asarray(other), got):
            raise CheckFailure(f"two calls with differently seeded generators gave the same "
                               f"array {where}: draw the numbers from rng")


@exercise("prelu", ["prelu_forward", "prelu_backward"], points=1)
def _check_prelu(rng, prelu_forward, prelu_backward):
    for shape in [(int(rng.integers(2, 6)), int(rng.integers(2, 5))),
                  (int(rng.integers(2, 4)), int(rng.integers(2, 5)), 3, 4)]:
        C = shape[1]
        x = _away_from_zero(rng, shape)
        alpha = rng.uniform(0.05, 0.4, C)
        where = f"for x of shape {shape} and alpha of shape ({C},)"
        per_channel = (1, C) + (1,) * (len(shape) - 2)
        ref = lambda x, alpha: np.where(x > 0, x, alpha.reshape(per_channel) * x)
        result = _call(prelu_forward, x.copy(), alpha.copy(), where=where)
        out, _ = _unpack(result, 2, "prelu_forward", "(out, cache)")
        _close(out, ref(x, alpha), "out", where,
               hint=" (alpha[c] belongs to channel c, axis 1 of x)")
        _check_pair(rng, prelu_forward, prelu_backward, ref, [x, alpha], {}, where,
                    ["dx", "dalpha"])
