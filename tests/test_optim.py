"""Optimisers: hand-worked updates, per-parameter state, and checked arguments.

The hand-worked cases use gradients g1 = 2 then g2 = -1, from p0 = 1."""

import copy
import math

import numpy as np
import pytest

import cnnedu
from cnnedu import layers as L
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
    "SGD": (lambda: optim.SGD(lr=0.1), 0.8, 0.9),
    "Momentum": (lambda: optim.Momentum(lr=0.1, momentum=0.9), 0.8, 0.72),
    "Nesterov": (lambda: optim.Nesterov(lr=0.1, momentum=0.9), 0.62, 0.648),
    "RMSprop": (lambda: optim.RMSprop(lr=0.1, decay_rate=0.9, eps=1e-12), 0.6837722, 0.8312139),
    "Adam": (lambda: optim.Adam(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-12), 0.9, 0.8733662),
}

FACTORIES = {
    "SGD": lambda: optim.SGD(lr=0.1),
    "Momentum": lambda: optim.Momentum(lr=0.05),
    "Nesterov": lambda: optim.Nesterov(lr=0.05),
    "RMSprop": lambda: optim.RMSprop(lr=0.01),
    "Adam": lambda: optim.Adam(lr=0.05),
}


@pytest.mark.parametrize("name", HAND)
def test_first_two_updates_match_hand_computation(name):
    make, p1, p2 = HAND[name]
    opt = make()
    params = {"w": np.array([1.0]), "other": np.array([5.0])}
    opt.step(params, {"w": np.array([2.0]), "other": np.array([0.0])})
    assert params["w"][0] == pytest.approx(p1, abs=1e-6)
    opt.step(params, {"w": np.array([-1.0]), "other": np.array([0.0])})
    assert params["w"][0] == pytest.approx(p2, abs=1e-6)
    assert params["other"][0] == 5.0  # state is per parameter: a zero gradient moves nothing


@pytest.mark.parametrize("name", HAND)
def test_first_two_updates_of_a_parameter_added_later_match_hand_computation(name):
    """The same hand-worked values hold for a parameter that joins after 10 steps of another."""
    make, p1, p2 = HAND[name]
    opt = make()
    head = np.array([3.0])
    for _ in range(10):
        opt.step({"head": head}, {"head": np.array([1.0])})
    params = {"head": head, "w": np.array([1.0])}
    opt.step(params, {"head": np.array([1.0]), "w": np.array([2.0])})
    assert params["w"][0] == pytest.approx(p1, abs=1e-6)
    opt.step(params, {"head": np.array([1.0]), "w": np.array([-1.0])})
    assert params["w"][0] == pytest.approx(p2, abs=1e-6)
    assert opt.t == 12 and opt.state["head"]["t"] == 12 and opt.state["w"]["t"] == 2


def test_adam_first_step_of_a_new_parameter_is_lr_times_sign():
    # The issue's example: with a shared step count, body's first step was
    # bias-corrected with t = 11 and moved by -0.048; PyTorch (per-parameter
    # step counts) moves it by -lr * sign(g) = -0.1.
    opt = optim.Adam(lr=0.1)
    head = np.array([1.0, -2.0])
    for _ in range(10):
        opt.step({"head": head}, {"head": np.array([0.5, -0.5])})
    body = np.zeros(3)
    opt.step({"head": head, "body": body}, {"head": np.array([0.5, -0.5]),
                                            "body": np.array([3.0, -0.2, 0.0])})
    np.testing.assert_allclose(body, [-0.1, 0.1, 0.0], rtol=1e-6)
    assert opt.state["body"]["t"] == 1 and opt.state["head"]["t"] == 11 and opt.t == 11


def _first_step(make, p, g):
    p = p.copy()
    make().step({"w": p}, {"w": g})
    return p


@pytest.mark.parametrize("name", FACTORIES)
def test_a_parameter_whose_shape_changed_starts_afresh(name):
    opt = FACTORIES[name]()
    for _ in range(3):
        opt.step({"w": np.ones(3)}, {"w": np.full(3, 0.5)})
    p, g = np.ones((2, 2)), np.array([[1.0, -2.0], [0.5, 0.0]])
    expected = _first_step(FACTORIES[name], p, g)
    opt.step({"w": p}, {"w": g})  # used to fail: "operands could not be broadcast"
    np.testing.assert_allclose(p, expected, rtol=1e-12)
    assert opt.state["w"]["t"] == 1


def _linear_model():
    return cnnedu.Sequential([L.Linear(3, 4, rng=0, dtype=np.float64), L.ReLU(),
                              L.Linear(4, 2, rng=1, dtype=np.float64)])


@pytest.mark.parametrize("name", FACTORIES)
def test_a_recreated_model_gets_fresh_state(name):
    x, y = np.random.default_rng(0).standard_normal((5, 3)), np.array([0, 1, 1, 0, 1])
    opt = FACTORIES[name]()
    old = _linear_model()
    for _ in range(5):
        old.train_step(x, y, opt)
    new, reference = _linear_model(), _linear_model()  # same shapes, same initial values
    new.train_step(x, y, opt)
    reference.train_step(x, y, FACTORIES[name]())
    for key, p in new.params.items():
        np.testing.assert_allclose(p, reference.params[key], rtol=1e-12, err_msg=key)
        assert opt.state[key]["t"] == 1


def _snapshot(opt, params):
    return copy.deepcopy({k: v for k, v in vars(opt).items() if k != "state"}), \
        {k: {n: (b if n == "param" else copy.deepcopy(b)) for n, b in s.items()}
         for k, s in opt.state.items()}, {k: p.copy() for k, p in params.items()}


def _assert_unchanged(before, opt, params):
    attributes, state, values = before
    assert {k: v for k, v in vars(opt).items() if k != "state"} == attributes
    assert state.keys() == opt.state.keys()
    for key, entry in state.items():
        assert entry.keys() == opt.state[key].keys()
        for name, value in entry.items():
            if name == "param":
                assert opt.state[key][name] is value
            else:
                np.testing.assert_array_equal(opt.state[key][name], value)
    for key, p in params.items():
        np.testing.assert_array_equal(p, values[key])


BAD_GRADS = {
    "wrong shape": ({"a": np.ones(2), "b": np.ones(4)}, ValueError,
                    r"grads\['b'\] has shape \(4,\), but params\['b'\] has shape \(3,\)"),
    "NaN": ({"a": np.ones(2), "b": np.array([1.0, np.nan, 1.0])}, ValueError,
            r"grads\['b'\] contains 1 NaN or inf value\(s\); no parameter was changed"),
    "inf": ({"a": np.ones(2), "b": np.array([1.0, np.inf, -np.inf])}, ValueError,
            r"grads\['b'\] contains 2 NaN or inf"),
    "int dtype": ({"a": np.ones(2), "b": np.ones(3, dtype=int)}, TypeError,
                  r"grads\['b'\] must be a float array, got an array of dtype int"),
    "a list": ({"a": np.ones(2), "b": [1.0, 1.0, 1.0]}, TypeError,
               r"grads\['b'\] must be a float array, got list"),
    "missing key": ({"a": np.ones(2)}, ValueError,
                    r"params and grads must have the same keys; grads lacks \['b'\]$"),
    "extra key": ({"a": np.ones(2), "b": np.ones(3), "c": np.ones(1)}, ValueError,
                  r"params and grads must have the same keys; grads has extra keys \['c'\]$"),
    "not a dict": ([np.ones(2), np.ones(3)], TypeError,
                   r"grads must be a dict of arrays \(e.g. model.grads\), got list"),
}


@pytest.mark.parametrize("name", FACTORIES)
@pytest.mark.parametrize("case", BAD_GRADS)
def test_a_failing_step_changes_nothing(name, case):
    opt = FACTORIES[name]()
    params = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0, 5.0])}
    for _ in range(2):
        opt.step(params, {"a": np.array([0.1, -0.2]), "b": np.array([0.3, 0.0, -0.1])})
    before = _snapshot(opt, params)
    grads, error, message = BAD_GRADS[case]
    with pytest.raises(error, match=f"{name}.step: {message}"):
        opt.step(params, grads)
    _assert_unchanged(before, opt, params)


@pytest.mark.parametrize("params, error, message", [
    ({"w": np.ones(2, dtype=np.int64)}, TypeError,
     r"params\['w'\] must be a float array, got an array of dtype int64"),
    ({"w": [1.0, 2.0]}, TypeError, r"params\['w'\] must be a float array, got list"),
    ((np.ones(2),), TypeError, r"params must be a dict of arrays \(e.g. model.params\), got tuple"),
])
def test_bad_params_are_rejected(params, error, message):
    grads = {"w": np.ones(2)}
    with pytest.raises(error, match=message):
        optim.Adam().step(params, grads)


def test_read_only_parameter_is_rejected_before_anything_changes():
    a, b = np.ones(2), np.ones(2)
    b.flags.writeable = False
    opt = optim.SGD(lr=0.1)
    with pytest.raises(ValueError, match=r"params\['b'\] is read-only"):
        opt.step({"a": a, "b": b}, {"a": np.ones(2), "b": np.ones(2)})
    np.testing.assert_array_equal(a, 1.0)
    assert opt.t == 0 and opt.state == {}


BAD_HYPERPARAMETERS = [
    (optim.SGD, {"lr": -0.1}, ValueError, r"^SGD: lr must be finite and >= 0, got -0.1$"),
    (optim.SGD, {"lr": math.nan}, ValueError, r"^SGD: lr must be finite and >= 0, got nan$"),
    (optim.SGD, {"lr": math.inf}, ValueError, r"^SGD: lr must be finite and >= 0, got inf$"),
    (optim.SGD, {"lr": True}, TypeError,
     r"^SGD: lr must be a real number, got True$"),
    (optim.SGD, {"lr": "0.1"}, TypeError, r"^SGD: lr must be a real number, got '0.1'$"),
    (optim.SGD, {"lr": None}, TypeError, r"^SGD: lr must be a real number, got None$"),
    (optim.SGD, {"lr": 1j}, TypeError, r"^SGD: lr must be a real number, got 1j$"),
    (optim.SGD, {"weight_decay": -1e-4}, ValueError,
     r"^SGD: weight_decay must be finite and >= 0, got -0.0001$"),
    (optim.Momentum, {"momentum": 1}, ValueError, r"Momentum: momentum must be in \[0, 1\), got 1"),
    (optim.Momentum, {"momentum": -0.5}, ValueError, r"momentum must be in \[0, 1\), got -0.5"),
    (optim.Momentum, {"lr": -1}, ValueError, r"^Momentum: lr must be finite and >= 0, got -1$"),
    (optim.Nesterov, {"momentum": 1.5}, ValueError,
     r"Nesterov: momentum must be in \[0, 1\), got 1.5"),
    (optim.Nesterov, {"weight_decay": math.nan}, ValueError, r"weight_decay must be .*got nan"),
    (optim.RMSprop, {"decay_rate": 1.0}, ValueError,
     r"RMSprop: decay_rate must be in \[0, 1\), got 1.0"),
    (optim.RMSprop, {"decay_rate": -0.1}, ValueError, r"decay_rate must be in \[0, 1\)"),
    (optim.RMSprop, {"eps": 0}, ValueError, r"^RMSprop: eps must be finite and > 0, got 0$"),
    (optim.RMSprop, {"eps": -1e-8}, ValueError, r"eps must be finite and > 0, got -1e-08"),
    (optim.Adam, {"lr": -1e-3}, ValueError, r"^Adam: lr must be finite and >= 0, got -0.001$"),
    (optim.Adam, {"beta1": 1}, ValueError, r"Adam: beta1 must be in \[0, 1\), got 1"),
    (optim.Adam, {"beta1": -0.1}, ValueError, r"Adam: beta1 must be in \[0, 1\), got -0.1"),
    (optim.Adam, {"beta2": 1.0}, ValueError, r"Adam: beta2 must be in \[0, 1\), got 1.0"),
    (optim.Adam, {"beta2": math.nan}, ValueError, r"Adam: beta2 must be in \[0, 1\), got nan"),
    (optim.Adam, {"eps": 0.0}, ValueError, r"^Adam: eps must be finite and > 0, got 0.0$"),
    (optim.Adam, {"beta1": np.bool_(False)}, TypeError, r"Adam: beta1 must be a real number"),
]


@pytest.mark.parametrize("cls, kwargs, error, message", BAD_HYPERPARAMETERS)
def test_bad_hyperparameters_name_argument_value_and_range(cls, kwargs, error, message):
    with pytest.raises(error, match=message):
        cls(**kwargs)


def test_hyperparameters_are_checked_again_at_each_step():
    opt = optim.Adam(lr=0.1)
    params = {"w": np.ones(2)}
    opt.step(params, {"w": np.ones(2)})
    before = _snapshot(opt, params)
    opt.lr = -0.1
    with pytest.raises(ValueError, match=r"^Adam: lr must be finite and >= 0, got -0.1$"):
        opt.step(params, {"w": np.ones(2)})
    opt.lr = 0.1
    _assert_unchanged(before, opt, params)


def test_boundary_values_are_allowed():
    # lr = 0 (a warm-up may start there) moves nothing; momentum/betas/decay 0 are allowed.
    for opt in (optim.SGD(lr=0), optim.Momentum(lr=0.0, momentum=0), optim.Nesterov(momentum=0),
                optim.RMSprop(decay_rate=0), optim.Adam(beta1=0, beta2=0, weight_decay=0)):
        p = np.ones(3)
        opt.step({"p": p}, {"p": np.array([1.0, -1.0, 0.0])})
        assert np.all(np.isfinite(p))
    assert optim.Momentum(lr=0.1, momentum=0).momentum == 0.0


def test_rmsprop_takes_decay_rate_only():
    # One name for one thing: decay_rate (CS231n's); the docstring says it is rho in chapter 8
    # and in Keras, alpha in PyTorch.
    assert optim.RMSprop(decay_rate=0.9).decay_rate == 0.9
    assert "rho" in optim.RMSprop.__doc__ and "alpha" in optim.RMSprop.__doc__
    with pytest.raises(TypeError, match="rho"):
        optim.RMSprop(rho=0.9)


def test_numpy_hyperparameters_keep_float32_arithmetic():
    opt = optim.Adam(lr=np.float64(0.01), beta1=np.float32(0.9))
    assert type(opt.lr) is float and type(opt.beta1) is float
    p = np.ones(4, dtype=np.float32)
    opt.step({"p": p}, {"p": np.ones(4, dtype=np.float32)})
    assert p.dtype == np.float32


def test_zero_size_parameters_are_fine():
    for make in FACTORIES.values():
        p = np.zeros((0, 3))
        make().step({"p": p}, {"p": np.zeros((0, 3))})
        assert p.shape == (0, 3)


def test_step_counts_calls_and_schedules_can_read_it():
    # Chapters 10 and 12 set lr = schedule(self.t) before calling step: t = steps already taken.
    class ScheduledAdam(optim.Adam):
        def __init__(self, schedule):
            super().__init__(lr=schedule(0))
            self.schedule, self.seen = schedule, []

        def step(self, params, grads):
            self.seen.append(self.t)
            self.lr = self.schedule(self.t)
            super().step(params, grads)

    opt = ScheduledAdam(lambda t: 0.0 if t == 0 else 1e-3 / t)
    p = np.ones(2)
    for _ in range(3):
        opt.step({"p": p}, {"p": np.ones(2)})
    assert opt.seen == [0, 1, 2] and opt.t == 3 and opt.state["p"]["t"] == 3


def test_subclass_overriding_update_still_works():
    # A learner may subclass Adam and rewrite update(p, g, state) (book/10a_first_attempts
    # does, for report D's bug).
    class FixedAdam(optim.Adam):
        def update(self, p, g, state):
            m, v = self._buffer(state, "m", p), self._buffer(state, "v", p)
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            m_hat, v_hat = m / (1 - self.beta1 ** self.t), v / (1 - self.beta2 ** self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    draw = np.random.default_rng(0)
    start, grads = draw.standard_normal(6), draw.standard_normal((5, 6))
    results = []
    for opt in (optim.Adam(lr=1e-3), FixedAdam(lr=1e-3)):
        params = {"w": start.copy()}
        for g in grads:
            opt.step(params, {"w": g})
        results.append(params["w"] - start)
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12)


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


def test_weight_decay_with_momentum_by_hand():
    # g = 1 + 0.5 * 2 = 2 (W = 2); v1 = -0.2, W1 = 1.8;
    # g = 1 + 0.5 * 1.8 = 1.9; v2 = 0.9 * (-0.2) - 0.19 = -0.37, W2 = 1.43
    opt = optim.Momentum(lr=0.1, momentum=0.9, weight_decay=0.5)
    W = np.full((1, 1), 2.0)
    opt.step({"W": W}, {"W": np.ones((1, 1))})
    assert W[0, 0] == pytest.approx(1.8)
    opt.step({"W": W}, {"W": np.ones((1, 1))})
    assert W[0, 0] == pytest.approx(1.43)


# -- learning-rate schedules ------------------------------------------------------------------

def _chapter_warmup_cosine(peak_lr, total_steps, warmup_fraction):
    """The schedule as chapter 10 first wrote it, as an independent reference."""
    import math
    warmup = max(1, round(warmup_fraction * total_steps))

    def schedule(t):
        if t < warmup:
            return peak_lr * (t + 1) / warmup
        return peak_lr * 0.5 * (1 + math.cos(math.pi * (t - warmup) / (total_steps - warmup)))
    return schedule


@pytest.mark.parametrize("peak, total, fraction", [(2e-3, 1407, 0.03), (0.1, 10, 0.0), (1.0, 2, 0.5)])
def test_warmup_cosine_matches_the_chapters_formula(peak, total, fraction):
    schedule, reference = optim.warmup_cosine(peak, total, fraction), _chapter_warmup_cosine(
        peak, total, fraction)
    values = [schedule(t) for t in range(total)]
    np.testing.assert_allclose(values, [reference(t) for t in range(total)], rtol=1e-12)
    assert max(values) == pytest.approx(peak) and schedule(total) == pytest.approx(0, abs=1e-15)


def test_step_decay_cuts_the_rate_every_step_size_steps():
    schedule = optim.step_decay(0.1, 3, gamma=0.5)
    assert [schedule(t) for t in range(7)] == pytest.approx([0.1] * 3 + [0.05] * 3 + [0.025])


def test_an_optimizer_follows_its_schedule():
    """step sets lr = schedule(t) before updating, with t the steps already taken."""
    p = np.zeros(3)
    sgd = optim.SGD(lr=optim.step_decay(1.0, 1, gamma=0.5))
    assert sgd.lr == 1.0 and "step_decay" in repr(sgd)
    for _ in range(3):
        sgd.step({"p": p}, {"p": np.ones(3)})
    np.testing.assert_allclose(p, -(1 + 0.5 + 0.25))
    assert sgd.lr == 0.25


@pytest.mark.parametrize("call, error, words", [
    (lambda: optim.warmup_cosine(-1, 10), ValueError,
     "warmup_cosine: peak_lr must be finite and >= 0, got -1"),
    (lambda: optim.warmup_cosine(0.1, 1), ValueError,
     "warmup_cosine: total_steps must be an int >= 2, got 1"),
    (lambda: optim.warmup_cosine(0.1, 10.0), TypeError,
     "warmup_cosine: total_steps must be an int, got 10.0"),
    (lambda: optim.warmup_cosine(0.1, 10, 1), ValueError,
     "warmup_fraction must be in [0, 1), got 1 (the cosine needs steps)"),
    (lambda: optim.step_decay(0.1, 0), ValueError,
     "step_decay: step_size must be an int >= 1, got 0"),
    (lambda: optim.step_decay(0.1, 5, gamma=2), ValueError,
     "step_decay: gamma must be in [0, 1], got 2"),
    (lambda: optim.step_decay("0.1", 5), TypeError,
     "step_decay: lr must be a real number, got '0.1'"),
    (lambda: optim.Adam(lr=lambda t: -1.0), ValueError, "Adam: lr must be finite and >= 0"),
])
def test_bad_schedules_get_a_clear_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)


@pytest.mark.parametrize("cls", [optim.Optimizer, optim.SGD, optim.Momentum, optim.Nesterov,
                                 optim.RMSprop, optim.Adam], ids=lambda cls: cls.__name__)
def test_every_optimiser_is_documented_in_the_one_style(cls):
    """Its own docstring: update rule, params/grads and dtypes, raises, chapter, source."""
    doc = cls.__dict__.get("__doc__") or ""
    for part in ("params, grads", "float32/float64", "Raises", "Chapter", "Source"):
        assert part in doc, f"{cls.__name__}'s docstring lacks {part!r}"
    if cls is not optim.Optimizer:
        assert "p -=" in doc or "p +=" in doc, f"{cls.__name__}'s docstring lacks its update rule"


def test_rmsprop_documents_the_name_it_takes():
    """The docstring's update rule uses the argument's own name, decay_rate."""
    doc = optim.RMSprop.__doc__
    assert "s = decay_rate * s + (1 - decay_rate) * g**2" in doc
    assert "rho" not in doc.split("decay_rate")[0]  # decay_rate comes first; rho only as an alias
