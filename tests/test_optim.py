"""Each optimiser's first two updates against values worked out by hand, and
each one minimising a quadratic. Gradients are g1 = 2 then g2 = -1, from p0 = 1."""

import numpy as np
import pytest

from cnnedu import optim

# Worked by hand (lr = 0.1, momentum 0.9, RMSprop decay 0.9, Adam betas 0.9/0.999, eps ~ 0):
#  SGD:      p1 = 1 - 0.1*2 = 0.8;                p2 = 0.8 + 0.1 = 0.9
#  Momentum: v1 = -0.2, p1 = 0.8;                 v2 = 0.9*(-0.2) + 0.1 = -0.08, p2 = 0.72
#  Nesterov: v1 = -0.2, p1 = 1 + 1.9*(-0.2) = 0.62
#            v2 = -0.08, p2 = 0.62 - 0.9*(-0.2) + 1.9*(-0.08) = 0.648
#  RMSprop:  s1 = 0.1*4 = 0.4, p1 = 1 - 0.2/sqrt(0.4) = 0.6837722
#            s2 = 0.9*0.4 + 0.1*1 = 0.46, p2 = p1 + 0.1/sqrt(0.46) = 0.8312139
#  Adam:     m1 = 0.2, v1 = 0.004, m_hat = 0.2/0.1 = 2, v_hat = 0.004/0.001 = 4, p1 = 1 - 0.1*2/2 = 0.9
#            m2 = 0.18 - 0.1 = 0.08, v2 = 0.003996 + 0.001 = 0.004996,
#            m_hat = 0.08/0.19 = 0.4210526, v_hat = 0.004996/0.001999 = 2.4992496,
#            p2 = 0.9 - 0.1*0.4210526/sqrt(2.4992496) = 0.8733662
HAND = {
    "SGD": (optim.SGD(lr=0.1), 0.8, 0.9),
    "Momentum": (optim.Momentum(lr=0.1, momentum=0.9), 0.8, 0.72),
    "Nesterov": (optim.Nesterov(lr=0.1, momentum=0.9), 0.62, 0.648),
    "RMSprop": (optim.RMSprop(lr=0.1, decay_rate=0.9, eps=1e-12), 0.6837722, 0.8312139),
    "Adam": (optim.Adam(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-12), 0.9, 0.8733662),
}


@pytest.mark.parametrize("name", HAND)
def test_first_two_updates_match_hand_computation(name):
    opt, p1, p2 = HAND[name]
    params = {"w": np.array([1.0]), "other": np.array([5.0])}
    opt.step(params, {"w": np.array([2.0]), "other": np.array([0.0])})
    assert params["w"][0] == pytest.approx(p1, abs=1e-6)
    opt.step(params, {"w": np.array([-1.0]), "other": np.array([0.0])})
    assert params["w"][0] == pytest.approx(p2, abs=1e-6)
    assert params["other"][0] == 5.0  # state is per parameter: a zero gradient moves nothing


FACTORIES = {
    "SGD": lambda: optim.SGD(lr=0.1),
    "Momentum": lambda: optim.Momentum(lr=0.05),
    "Nesterov": lambda: optim.Nesterov(lr=0.05),
    "RMSprop": lambda: optim.RMSprop(lr=0.01),
    "Adam": lambda: optim.Adam(lr=0.05),
}


@pytest.mark.parametrize("name", FACTORIES)
def test_optimisers_decrease_a_quadratic(name):
    # f(p) = 0.5 * p^T A p with an ill-conditioned A; minimum 0 at p = 0
    A = np.diag([1.0, 10.0]).astype(np.float32)
    p = np.array([3.0, -2.0], dtype=np.float32)
    params, opt = {"p": p}, FACTORIES[name]()
    f = lambda: 0.5 * p @ A @ p
    start = f()
    for _ in range(200):
        opt.step(params, {"p": A @ p})
    assert p.dtype == np.float32
    assert f() < 0.01 * start


def test_weight_decay_shrinks_weights_not_biases():
    opt = optim.SGD(lr=0.1, weight_decay=0.5)
    params = {"W": np.ones((2, 2)), "b": np.ones(2)}
    opt.step(params, {"W": np.zeros((2, 2)), "b": np.zeros(2)})
    np.testing.assert_allclose(params["W"], 0.95)
    np.testing.assert_allclose(params["b"], 1.0)


def test_bad_optimiser_arguments():
    with pytest.raises(ValueError, match="lr must be > 0, got 0"):
        optim.Adam(lr=0)
    with pytest.raises(ValueError, match="different keys"):
        optim.SGD().step({"a": np.zeros(1)}, {"b": np.zeros(1)})
