"""Property-based tests (Hypothesis) for the optimisers and the gradient checks.

Random good and bad arguments: wrong types, NaN, inf, negative numbers,
bools, mismatched keys, shapes and dtypes, zero-size arrays. Every call must
either give the right result (computed here independently) or raise
ValueError/TypeError whose message names the argument; never a bare NumPy
error, never a silently wrong result, and a failing step changes nothing.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import cnnedu
from cnnedu import layers as L
from cnnedu import optim
from cnnedu.gradcheck import check_layer, check_model, numerical_gradient, rel_error

SETTINGS = dict(deadline=None, derandomize=True, database=None)

# (lowest value, is it allowed?, upper bound (excluded)), written out again here
RANGES = {"lr": (0, True, math.inf), "weight_decay": (0, True, math.inf),
          "momentum": (0, True, 1), "beta1": (0, True, 1), "beta2": (0, True, 1),
          "decay_rate": (0, True, 1), "eps": (0, False, math.inf)}
ARGUMENTS = [(optim.SGD, "lr"), (optim.SGD, "weight_decay"), (optim.Momentum, "momentum"),
             (optim.Momentum, "lr"), (optim.Nesterov, "momentum"), (optim.RMSprop, "decay_rate"),
             (optim.RMSprop, "eps"), (optim.Adam, "beta1"), (optim.Adam, "beta2"),
             (optim.Adam, "eps"), (optim.Adam, "lr"), (optim.Adam, "weight_decay")]

ODD_VALUES = [math.nan, math.inf, -math.inf, 0, 0.0, -0.0, 1, 1.0, 0.999, -1e-12, True, False,
              None, "0.1", 1j, [0.1], np.array(0.1), np.float32(0.5), np.int64(2), np.bool_(True)]
numbers_and_odd_values = st.one_of(st.floats(-1e6, 1e6), st.integers(-5, 5),
                                   st.sampled_from(ODD_VALUES))


def is_real(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))


def allowed(name, value):
    low, low_allowed, high = RANGES[name]
    return is_real(value) and (low <= value if low_allowed else low < value) and value < high


def first_step(opt, p, g):
    """One step of a fresh optimiser from zero state, written out independently."""
    lr = opt.lr
    if isinstance(opt, optim.Nesterov):
        return p - (1 + opt.momentum) * lr * g
    if isinstance(opt, optim.RMSprop):
        return p - lr * g / (np.sqrt((1 - opt.decay_rate) * g * g) + opt.eps)
    if isinstance(opt, optim.Adam):
        return p - lr * g / (np.abs(g) + opt.eps)
    return p - lr * g  # SGD and Momentum


@settings(max_examples=10, **SETTINGS)
@given(argument=st.sampled_from(ARGUMENTS), value=numbers_and_odd_values)
def test_optimiser_hyperparameters(argument, value):
    cls, name = argument
    event("valid" if allowed(name, value) else "rejected")
    if allowed(name, value):
        opt = cls(**{name: value})
        assert getattr(opt, name) == float(value)
        p, g = np.array([1.0, -2.0, 3.0]), np.array([0.5, -1.0, 0.0])
        expected = first_step(opt, p, g)
        opt.step({"p": p}, {"p": g})
        np.testing.assert_allclose(p, expected, rtol=1e-9, atol=1e-12)
    else:
        error = ValueError if is_real(value) else TypeError
        with pytest.raises(error, match=rf"^{cls.__name__}: {name} must "):
            cls(**{name: value})


MUTATIONS = ["none", "float32 grads", "drop a key", "add a key", "wrong shape", "int grad",
             "bool grad", "list grad", "float grad", "NaN grad", "inf grad", "int param",
             "grads not a dict", "params not a dict", "read-only param"]


@st.composite
def steps(draw, mutation):
    """(optimiser, params, grads, what is wrong, the key it concerns)."""
    make = draw(st.sampled_from([lambda: optim.SGD(lr=0.1), lambda: optim.Momentum(lr=0.1),
                                 lambda: optim.Nesterov(lr=0.1), lambda: optim.RMSprop(lr=0.1),
                                 lambda: optim.Adam(lr=0.1)]))
    shapes = draw(st.lists(st.sampled_from([(3,), (2, 2), (0,), (0, 3), ()]), min_size=1,
                           max_size=3))
    rng = np.random.default_rng(draw(st.integers(0, 100)))
    params = {f"{i}.W": rng.standard_normal(shape) for i, shape in enumerate(shapes)}
    grads = {key: rng.standard_normal(p.shape) for key, p in params.items()}
    key = draw(st.sampled_from(sorted(params)))
    if mutation == "float32 grads":
        grads = {k: g.astype(np.float32) for k, g in grads.items()}
    elif mutation == "drop a key":
        del grads[key]
    elif mutation == "add a key":
        key = "extra"
        grads[key] = np.ones(2)
    elif mutation == "wrong shape":
        grads[key] = np.ones(params[key].shape + (2,))
    elif mutation == "int grad":
        grads[key] = np.ones(params[key].shape, dtype=np.int64)
    elif mutation == "bool grad":
        grads[key] = np.ones(params[key].shape, dtype=bool)
    elif mutation == "list grad":
        grads[key] = grads[key].tolist()
    elif mutation == "float grad":
        grads[key] = 0.5
    elif mutation in ("NaN grad", "inf grad"):
        grads[key] = np.full(params[key].shape, np.nan if mutation == "NaN grad" else -np.inf)
        if grads[key].size == 0:  # nothing to poison: a valid case
            mutation = "none"
    elif mutation == "int param":
        params[key] = np.ones(params[key].shape, dtype=np.int64)
    elif mutation == "grads not a dict":
        grads, key = list(grads.values()), "grads"
    elif mutation == "params not a dict":
        params, key = tuple(params.values()), "params"
    elif mutation == "read-only param":
        params[key].flags.writeable = False
    return make(), params, grads, mutation, key


@pytest.mark.parametrize("mutation", MUTATIONS)
@settings(max_examples=2, **SETTINGS)
@given(data=st.data())
def test_optimiser_step(mutation, data):
    opt, params, grads, mutation, key = data.draw(steps(mutation))
    event(mutation)
    if mutation in ("none", "float32 grads"):
        expected = {k: first_step(opt, p, grads[k]) for k, p in params.items()}
        opt.step(params, grads)
        for k, p in params.items():
            np.testing.assert_allclose(p, expected[k], rtol=1e-6, atol=1e-12)
        assert opt.t == 1 and all(s["t"] == 1 for s in opt.state.values())
        return
    before = {k: p.copy() for k, p in params.items()} if isinstance(params, dict) else None
    with pytest.raises((ValueError, TypeError)) as info:
        opt.step(params, grads)
    message = str(info.value)
    assert message.startswith(f"{type(opt).__name__}.step: ")
    assert (repr(key) if key not in ("params", "grads") else key) in message
    assert opt.t == 0 and opt.state == {}
    for k, p in (before or {}).items():
        np.testing.assert_array_equal(params[k], p)


def arrays_and_odd_values(shape):
    """A valid float array of ``shape`` or one of many invalid things in its place."""
    return st.one_of(
        st.builds(lambda seed: np.random.default_rng(seed).standard_normal(shape),
                  st.integers(0, 50)),
        st.builds(lambda seed: np.random.default_rng(seed).integers(-3, 3, shape),
                  st.integers(0, 50)),
        st.sampled_from([np.zeros((0,) + shape[1:]), np.full(shape, np.nan), np.full(shape, np.inf),
                         np.ones(shape, dtype=bool), np.ones(shape) * 1j, "abc", None,
                         np.ones(shape[:-1] + (shape[-1] + 1,)), [[1.0, 2.0], [3.0]]]))


def valid_real_array(value):
    array = np.asarray(value) if not isinstance(value, (str, list)) else None
    return (array is not None and array.dtype.kind in "fiu" and bool(np.isfinite(array).all()))


@settings(max_examples=8, **SETTINGS)
@given(a=arrays_and_odd_values((2, 3)), b=arrays_and_odd_values((2, 3)))
def test_rel_error(a, b):
    valid = valid_real_array(a) and valid_real_array(b) and np.shape(a) == np.shape(b)
    event("valid" if valid else "rejected")
    if valid:
        a64, b64 = np.asarray(a, float).ravel().tolist(), np.asarray(b, float).ravel().tolist()
        scale = max([abs(v) for v in a64 + b64], default=0.0)
        expected = 0.0 if scale == 0 else max(abs(u - v) for u, v in zip(a64, b64)) / scale
        assert rel_error(a, b) == pytest.approx(expected, rel=1e-12)
    else:
        with pytest.raises((ValueError, TypeError), match=r"^rel_error: (a|b) "):
            rel_error(a, b)


@settings(max_examples=10, **SETTINGS)
@given(x=arrays_and_odd_values((2, 3)),
       h=st.one_of(st.floats(1e-6, 1e-3), st.sampled_from([0, -1e-5, math.nan, math.inf, True,
                                                           "1e-5", None])),
       returns=st.sampled_from(["sum of squares", "an array", "a string", "NaN"]))
def test_numerical_gradient(x, h, returns):
    def f():
        values = {"sum of squares": lambda: np.sum(x ** 2), "an array": lambda: x,
                  "a string": lambda: "loss", "NaN": lambda: np.sum(x) * np.nan}
        return values[returns]()

    good_x = (isinstance(x, np.ndarray) and x.dtype.kind == "f" and np.isfinite(x).all())
    good_h = is_real(h) and 0 < h < math.inf
    before = x.copy() if isinstance(x, np.ndarray) else None
    valid = good_x and good_h and (returns == "sum of squares" or x.size == 0)
    event("valid" if valid else "rejected")
    if valid:
        np.testing.assert_allclose(numerical_gradient(f, x, h), 2 * x, rtol=1e-6, atol=1e-6)
    else:
        with pytest.raises((ValueError, TypeError), match=r"^numerical_gradient: (x|h|f\(\)) "):
            numerical_gradient(f, x, h)
    if before is not None:
        np.testing.assert_array_equal(x, before)


x_for_checks = arrays_and_odd_values((2, 3))
h_for_checks = st.one_of(st.just(1e-5), st.sampled_from([0, -1e-5, math.nan, True, "1e-5"]))


def expected_argument(x, h, extra):
    """The argument a check must complain about first, or None if all are fine."""
    if not (valid_real_array(x) and np.size(x) > 0):
        return "x"
    if not (is_real(h) and 0 < h < math.inf):
        return "h"
    if "train" in extra:  # Linear keeps no cache in eval mode: only train=True can be checked
        return "train"
    if "rng" in extra and (isinstance(extra["rng"], bool) or extra["rng"] == -2):
        return "rng"
    if np.shape(x) != (2, 3):
        return "input"  # Linear's own message: "Linear expected input of shape (N, 3)"
    return None


@pytest.mark.parametrize("extra", [{}, {"train": False}, {"train": "yes"}, {"rng": 3},
                                   {"rng": -2}, {"rng": True}, {"rng": np.random.default_rng(0)}],
                         ids=["defaults", "train False", "train 'yes'", "rng 3", "rng -2",
                              "rng True", "rng Generator"])
@settings(max_examples=2, **SETTINGS)
@given(x=x_for_checks, h=h_for_checks)
def test_check_layer(extra, x, h):
    layer = L.Linear(3, 2, rng=0)
    bad = expected_argument(x, h, extra)
    event(f"rejected: {bad}" if bad else "valid")
    if bad is None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            errors = check_layer(layer, x, h=h, **extra)
        assert set(errors) == {"x", "W", "b"} and max(errors.values()) < 1e-7
    else:
        with pytest.raises((ValueError, TypeError), match=rf"\b{bad}\b"):
            check_layer(layer, x, h=h, **extra)


@settings(max_examples=8, **SETTINGS)
@given(x=x_for_checks, h=h_for_checks,
       y=st.sampled_from([np.array([0, 1]), np.array([0, 5]), np.array([0.0, 1.0]),
                          np.array([0])]))
def test_check_model(x, h, y):
    model = cnnedu.Sequential([L.Linear(3, 4, rng=0), L.Tanh(), L.Dropout(0.5, rng=1),
                               L.Linear(4, 2, rng=2)])
    bad = expected_argument(x, h, {})
    if bad is None and not (y.dtype.kind == "i" and y.shape == (2,) and y.max() < 2):
        bad = "labels"  # the loss's own message names the labels
    event(f"rejected: {bad}" if bad else "valid")
    if bad is None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            errors = check_model(model, x, y, cnnedu.SoftmaxCrossEntropy(), h=h)
        assert set(errors) == {"0.W", "0.b", "3.W", "3.b"} and max(errors.values()) < 1e-7
    else:
        with pytest.raises((ValueError, TypeError), match=rf"\b{bad}\b"):
            check_model(model, x, y, cnnedu.SoftmaxCrossEntropy(), h=h)
