"""Chapter 8's exercise checks (training tools): see ``cnnedu.exercises``."""

import numpy as np

from cnnedu.gradcheck import away_from_zero

from ._common import (CheckFailure, _adam, _array, _call, _check_pair, _close, _he_scale, _seeded,
                      _sizes, _slip, exercise)


@exercise("momentum_update", ["momentum_update"], points=1)
def _check_momentum_update(rng, momentum_update):
    for weight_decay in (0.0, float(rng.uniform(0.05, 0.5)), float(rng.uniform(0.05, 0.5))):
        shape = _sizes(rng, 2, 5, 2)
        w, dw, v = (rng.standard_normal(shape) for _ in range(3))
        lr, mu = float(rng.uniform(0.01, 0.5)), float(rng.uniform(0.5, 0.99))
        where = f"for w of shape {shape}, lr={lr:.3g}, mu={mu:.3g}, weight_decay={weight_decay:.3g}"
        w_new, v_new = _call(momentum_update, w, dw, v, lr, mu, weight_decay, where=where,
                             returns="(w_new, v_new)")
        slips = [(mu * v - lr * dw, " (weight decay has no effect on your velocity)"),
                 (mu * v - lr * (dw - weight_decay * w),
                  " (check the sign of the weight-decay term)")] if weight_decay else []
        ref_v = mu * v - lr * (dw + weight_decay * w)
        _close(v_new, ref_v, "v_new", where, hint=_slip(v_new, slips))
        _close(w_new, w + ref_v, "w_new", where)


@exercise("adam_update", ["adam_update"], points=2)
def _check_adam_update(rng, adam_update):
    for case in range(3):
        shape = _sizes(rng, 2, 5, 2)
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
        w_new, m_new, v_new = _call(adam_update, w, dw, m, v, t, **kwargs, where=where,
                                    returns="(w_new, m_new, v_new)")
        step, ref_m, ref_v = _adam(dw, m, v, t, **hyper)
        _close(m_new, ref_m, "m_new", where)
        _close(v_new, ref_v, "v_new", where)
        # Compare the step, not w_new: a small step hides in w's size.
        _close(w - _array(w_new, "w_new", shape, where), step, "the step w - w_new", where,
               tol=1e-6, hint=" (bias-correct m and v with t, then divide by sqrt(v_hat) + eps)")


@exercise("he_normal", ["he_normal"], points=1)
def _check_he_normal(rng, he_normal):
    seed = int(rng.integers(2**32))
    for shape, fan_in, fan in [((400, 300), 400, "in_features (shape[0])"),
                               ((32, 16, 3, 3), 144, "C * kh * kw")]:
        where = f"for shape {shape}"
        run = lambda generator: _call(he_normal, shape, generator, where=where)
        got = _array(run(np.random.default_rng(seed)), "he_normal(shape, rng)", shape, where,
                     dtype=np.float32)
        _he_scale(got, fan_in, "he_normal(shape, rng)", where, tol=0.05,
                  hint=f"; it should be sqrt(2 / fan_in) with fan_in = {fan}")
        centred = got.astype(np.float64) - got.mean()
        if abs(np.mean(centred ** 4) / np.mean(centred ** 2) ** 2 - 3) > 0.3:  # the kurtosis
            raise CheckFailure(f"the values do not look normally distributed {where}; "
                               f"draw them with rng.standard_normal")
        _seeded(run, seed, got, "arrays", where)


@exercise("prelu", ["prelu_forward", "prelu_backward"], points=1)
def _check_prelu(rng, prelu_forward, prelu_backward):
    for shape in [(int(rng.integers(2, 6)), int(rng.integers(2, 5))),
                  (int(rng.integers(2, 4)), int(rng.integers(2, 5)), 3, 4)]:
        C = shape[1]
        per_channel = (1, C) + (1,) * (len(shape) - 2)
        _check_pair(rng, prelu_forward, prelu_backward,
                    lambda x, alpha: np.where(x > 0, x, alpha.reshape(per_channel) * x),
                    [away_from_zero(rng, shape), rng.uniform(0.05, 0.4, C)],
                    f"for x of shape {shape} and alpha of shape ({C},)", ["dx", "dalpha"],
                    out_hint=" (alpha[c] belongs to channel c, axis 1 of x)")
