"""Gradient checking: relative errors, numerical gradients, kinks, randomness, bad arguments."""

import contextlib
import random
import warnings

import numpy as np
import pytest

import cnnedu
from cnnedu import layers as L
from cnnedu.gradcheck import (GradCheckResult, KinkWarning, away_from_zero, check_layer,
                              check_model, distinct_values, numerical_gradient,
                              numerical_gradient_array, rel_error)


@contextlib.contextmanager
def no_warnings():
    """A context in which any warning is an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# -- rel_error ---------------------------------------------------------------------

def test_rel_error_values():
    assert rel_error([1.0, 2.0], [1.0, 2.5]) == pytest.approx(0.2)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(3, 3.0) == 0.0
    assert rel_error(np.zeros((0, 2)), np.zeros((0, 2))) == 0.0
    assert isinstance(rel_error(np.float32(1), np.float32(2)), float)


@pytest.mark.parametrize("a, b, error, message", [
    (np.ones(3), np.ones((3, 1)), ValueError,
     r"rel_error: a has shape \(3,\) but b has shape \(3, 1\); they must match"),
    (np.array([1.0, np.nan]), np.ones(2), ValueError, r"rel_error: a contains 1 NaN or inf"),
    (np.ones(2), np.array([np.inf, 1.0]), ValueError, r"rel_error: b contains 1 NaN or inf"),
    ("abc", np.ones(3), TypeError, r"rel_error: a must be an array of real numbers .*dtype <U3"),
    (np.ones(2), None, TypeError, r"rel_error: b must be an array of real numbers .*dtype object"),
    (np.array([True, False]), np.ones(2), TypeError, r"rel_error: a must be .*got dtype bool"),
    (np.ones(2), np.ones(2) * 1j, TypeError, r"rel_error: b must be .*got dtype complex128"),
    ([[1.0], [1.0, 2.0]], np.ones(2), TypeError, r"rel_error: a must be an array of real numbers"),
])
def test_rel_error_rejects_bad_input(a, b, error, message):
    with pytest.raises(error, match=message):
        rel_error(a, b)


# -- numerical gradients -------------------------------------------------------------

def test_numerical_gradient_values_and_dtype():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(numerical_gradient(lambda: np.sum(x ** 3), x), 3 * x ** 2, rtol=1e-8)
    x32 = np.array([1.0, 2.0], dtype=np.float32)
    assert numerical_gradient(lambda: np.sum(x32 ** 2), x32, h=1e-2).dtype == np.float32
    scalar = np.array(2.0)
    assert numerical_gradient(lambda: float(scalar) ** 2, scalar) == pytest.approx(4.0)
    assert numerical_gradient(lambda: 1 / 0, np.zeros((0, 3))).shape == (0, 3)  # f is never called


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.array([1.0, 2.0, 3.0])
    calls = []

    def f():
        calls.append(x.copy())
        if len(calls) == 3:
            raise RuntimeError("boom")
        return float(np.sum(x))
    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("make_args, error, message", [
    (lambda x: ("not callable", x), TypeError,
     r"numerical_gradient: f must be a function of no arguments that reads x, got str"),
    (lambda x: (lambda: 0.0, [1.0, 2.0]), TypeError,
     r"numerical_gradient: x must be a float array that f reads \(it is moved in place\), "
     r"got list"),
    (lambda x: (lambda: 0.0, np.array([1, 2])), TypeError,
     r"x must be a float array .*got int64; use x.astype\(np.float64\)"),
    (lambda x: (lambda: 0.0, np.array([1.0, np.nan])), ValueError, r"x contains 1 NaN or inf"),
    (lambda x: (lambda: x, x), TypeError,
     r"numerical_gradient: f\(\) must return one real number, got ndarray of shape \(2,\)"),
    (lambda x: (lambda: "1.0", x), TypeError, r"f\(\) must return one real number, got str '1.0'"),
    (lambda x: (lambda: True, x), TypeError, r"f\(\) must return one real number, got bool"),
    (lambda x: (lambda: None, x), TypeError, r"f\(\) must return one real number, got NoneType"),
    (lambda x: (lambda: np.log(x[0] - 1.0), x), ValueError,
     r"numerical_gradient: f\(\) returned -11.51\d* and nan with x\[0\] moved by \+h and -h; the "
     r"function must be finite near x"),
])
def test_numerical_gradient_rejects_bad_input(make_args, error, message):
    x = np.array([1.0, 2.0])
    with np.errstate(all="ignore"):
        with pytest.raises(error, match=message):
            numerical_gradient(*make_args(x))
    np.testing.assert_array_equal(x, [1.0, 2.0])


@pytest.mark.parametrize("h, error, message", [
    (0, ValueError, r"numerical_gradient: h must be finite and > 0, got 0; 1e-5 suits float64"),
    (-1e-5, ValueError, r"h must be finite and > 0, got -1e-05"),
    (float("nan"), ValueError, r"h must be finite and > 0, got nan"),
    (True, TypeError, r"numerical_gradient: h must be a real number, got True"),
    ("1e-5", TypeError, r"h must be a real number, got '1e-5'"),
])
def test_numerical_gradient_rejects_bad_h(h, error, message):
    x = np.array([1.0, 2.0])
    with pytest.raises(error, match=message):
        numerical_gradient(lambda: float(np.sum(x)), x, h)


def test_numerical_gradient_rejects_read_only_x():
    x = np.ones(2)
    x.flags.writeable = False
    with pytest.raises(ValueError, match="numerical_gradient: x is read-only"):
        numerical_gradient(lambda: float(x.sum()), x)


def test_numerical_gradient_array_checks_dout_shape():
    x = np.ones((2, 3))
    np.testing.assert_allclose(numerical_gradient_array(lambda: 2 * x, x, np.ones((2, 3))), 2.0)
    with pytest.raises(ValueError, match=r"numerical_gradient_array: f\(\) returned shape \(2, 3\) "
                                         r"but dout has shape \(3,\); they must match"):
        numerical_gradient_array(lambda: 2 * x, x, np.ones(3))  # would broadcast silently
    with pytest.raises(TypeError, match=r"numerical_gradient_array: dout must be an array of real"):
        numerical_gradient_array(lambda: 2 * x, x, "ones")


# -- test inputs that keep clear of kinks and ties ---------------------------------------

@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 5), 7, (0, 3)])
def test_away_from_zero_values_signs_and_seeding(shape):
    x = away_from_zero(0, shape)
    assert x.shape == np.empty(shape).shape and x.dtype == np.float64
    assert np.all(np.abs(x) >= 0.1) and np.all(np.abs(x) < 2.0)
    n = x.size
    assert np.sum(x < 0) == n - n // 2 and np.sum(x > 0) == n // 2  # an exact split
    np.testing.assert_array_equal(x, away_from_zero(np.random.default_rng(0), shape))
    y = away_from_zero(0, (3, 4), low=1.0, high=1.5)
    assert np.all((np.abs(y) >= 1.0) & (np.abs(y) < 1.5))


@pytest.mark.parametrize("shape", [(2, 3, 4, 4), 9, (1,)])
def test_distinct_values_keep_their_spacing(shape):
    x = distinct_values(1, shape, spacing=0.05)
    assert x.shape == np.empty(shape).shape and x.dtype == np.float64
    gaps = np.diff(np.sort(x.ravel()))
    np.testing.assert_allclose(gaps, 0.05, rtol=1e-9)  # no two values closer: no ties
    assert abs(x.mean()) <= 0.05
    np.testing.assert_array_equal(x, distinct_values(np.random.default_rng(1), shape))


@pytest.mark.parametrize("call, error, message", [
    (lambda: away_from_zero(0, 3, low=0.5, high=0.5), ValueError,
     r"away_from_zero: high must be finite and > 0.5, got 0.5"),
    (lambda: away_from_zero(0, 3, low=-1), ValueError,
     r"away_from_zero: low must be finite and >= 0"),
    (lambda: away_from_zero(0, 3, low="0.1"), TypeError,
     r"away_from_zero: low must be a real number"),
    (lambda: away_from_zero(-1, 3), ValueError, r"away_from_zero: rng must be a seed >= 0, got -1"),
    (lambda: distinct_values(0, 3, spacing=0), ValueError,
     r"distinct_values: spacing must be finite and > 0, got 0"),
    (lambda: distinct_values(0, 3, spacing=np.nan), ValueError, r"spacing must be finite and > 0"),
    (lambda: distinct_values(1.5, 3), TypeError,
     r"distinct_values: rng must be a np.random.Generator"),
])
def test_test_inputs_reject_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -- kinks -----------------------------------------------------------------------------

def test_relu_with_exact_zeros_warns_and_says_backward_is_right():
    rng = np.random.default_rng(0)
    x = away_from_zero(rng, (4, 6))
    x[0, :3] = 0.0
    with pytest.warns(KinkWarning, match=r"check_layer\(ReLU\(\)\): 3 of 24 entries of x lie "
                                         r"within h = 1e-05 of a kink.*backward looks right"):
        result = check_layer(L.ReLU(), x, rng=0)
    assert isinstance(result, GradCheckResult)
    assert result["x"] > 1e-2                        # the bare number alone looks like a bug
    assert result.near_kink == {"x": 3}
    assert result.away_from_kinks["x"] < 1e-7       # ... but the other 21 entries are right


def test_relu_within_h_of_zero_and_leaky_relu_warn():
    rng = np.random.default_rng(1)
    x = away_from_zero(rng, (3, 5))
    x[1, 2], x[2, 4] = 3e-6, -4e-6                   # within h = 1e-5 of the kink
    for layer in (L.ReLU(), L.LeakyReLU(0.1)):
        with pytest.warns(KinkWarning, match=r"2 of 15 entries of x"):
            result = check_layer(layer, x, rng=0)
        assert result.near_kink["x"] == 2 and result.away_from_kinks["x"] < 1e-7


def test_max_pool_with_ties_warns():
    rng = np.random.default_rng(2)
    x = np.maximum(rng.standard_normal((2, 3, 4, 4)), 0)  # windows of zeros are ties
    with pytest.warns(KinkWarning, match=r"check_layer\(MaxPool2D\(kernel_size=2, stride=2\)\): "
                                         r"\d+ of 96 entries of x lie within h"):
        result = check_layer(L.MaxPool2D(2), x, rng=0)
    assert result["x"] > 1e-2 and result.near_kink["x"] > 0
    assert result.away_from_kinks["x"] < 1e-7


def test_away_from_kinks_relu_and_max_pool_pass_without_warning():
    rng = np.random.default_rng(3)
    with no_warnings():
        relu = check_layer(L.ReLU(), away_from_zero(rng, (4, 6)), rng=0)
        pool = check_layer(L.MaxPool2D(2), distinct_values(rng, (2, 3, 4, 4)), rng=0)
    assert relu["x"] < 1e-7 and pool["x"] < 1e-7
    assert relu.near_kink == pool.near_kink == {"x": 0}


@pytest.mark.parametrize("layer", [L.Sigmoid(), L.Tanh(), L.Linear(5, 3, rng=0),
                                   L.Conv2D(2, 2, 3, padding=1, rng=0), L.AvgPool2D(2)],
                         ids=repr)
def test_smooth_layers_are_never_flagged(layer):
    rng = np.random.default_rng(4)
    x = 3 * rng.standard_normal((2, 2, 4, 4) if isinstance(layer, (L.Conv2D, L.AvgPool2D))
                                else (4, 5))
    with no_warnings():
        result = check_layer(layer, x, rng=0)
    assert max(result.values()) < 1e-7 and not any(result.near_kink.values())


class WrongReLU(L.ReLU):
    """A classic slip: the gradient passes everywhere, not only where x > 0."""

    def backward(self, dy):
        return dy


def test_wrong_backward_is_reported_wrong_and_not_blamed_on_kinks():
    rng = np.random.default_rng(5)
    with no_warnings():
        result = check_layer(WrongReLU(), away_from_zero(rng, (4, 6)), rng=0)
    assert result["x"] > 0.1 and result.near_kink["x"] == 0
    x = away_from_zero(rng, (4, 6))
    x[0, 0] = 0.0
    with pytest.warns(KinkWarning, match=r"Away from the kinks the error of x is still not below "
                                         r"1e-07: backward is wrong"):
        result = check_layer(WrongReLU(), x, rng=0)
    assert result.away_from_kinks["x"] > 0.1


def test_model_with_a_relu_kink_warns_about_the_parameters_that_cross_it():
    rng = np.random.default_rng(6)
    model = cnnedu.Sequential([L.Linear(3, 4, rng=0), L.ReLU(), L.Linear(4, 2, rng=1)])
    x = rng.standard_normal((5, 3))
    first = model.layers[0]
    # put sample 0's pre-activation of hidden unit 1 exactly at ReLU's kink
    first.params["b"][1] = -np.float32(x[0].astype(np.float32) @ first.params["W"][:, 1])
    x[0] = x[0].astype(np.float32)
    with pytest.warns(KinkWarning, match=r"check_model\(Sequential\): .*entries of 0\.b"):
        result = check_model(model, x, np.array([0, 1, 1, 0, 1]), cnnedu.SoftmaxCrossEntropy())
    assert result.near_kink["0.b"] == 1 and result.away_from_kinks["0.b"] < 1e-7


# -- randomness --------------------------------------------------------------------------

def dropout_model():
    return cnnedu.Sequential([L.Linear(5, 8, rng=0), L.Tanh(), L.Dropout(0.5, rng=1),
                              L.Linear(8, 3, rng=2)])


def test_model_with_dropout_checks_in_train_mode():
    x, y = np.random.default_rng(7).standard_normal((6, 5)), np.array([0, 1, 2, 0, 1, 2])
    with no_warnings():
        errors = check_model(dropout_model(), x, y, cnnedu.SoftmaxCrossEntropy())
    assert set(errors) == {"0.W", "0.b", "3.W", "3.b"}
    assert max(errors.values()) < 1e-7, errors


def test_dropout_layer_checks_in_train_mode_and_the_original_is_untouched():
    layer = L.Dropout(0.5, rng=3)
    state = layer.rng.bit_generator.state
    with no_warnings():
        errors = check_layer(layer, np.random.default_rng(0).standard_normal((4, 6)), train=True)
    assert errors["x"] < 1e-7
    assert layer.rng.bit_generator.state == state  # the check used a copy


def test_global_np_random_is_fixed_and_left_as_it_was():
    class GlobalDropout(L.Layer):
        """A learner's dropout drawing from np.random (CS231n style)."""

        def forward(self, x, train=True):
            self.mask = (np.random.rand(*x.shape) >= 0.5) / 0.5
            return x * self.mask

        def backward(self, dy):
            return dy * self.mask

    np.random.seed(0)
    expected = np.random.rand()
    np.random.seed(0)
    assert check_layer(GlobalDropout(), np.ones((3, 4)), rng=0)["x"] < 1e-7
    assert np.random.rand() == expected


def test_randomness_that_cannot_be_fixed_is_an_error():
    class PythonRandomLayer(L.Layer):
        def forward(self, x, train=True):
            return x * random.random()

        def backward(self, dy):
            return dy

    with pytest.raises(ValueError, match=r"check_layer\(PythonRandomLayer\(\)\): two forward "
                                         r"passes on the same input gave different results"):
        check_layer(PythonRandomLayer(), np.ones(3))


# -- bad arguments and bad layers ---------------------------------------------------------

def test_check_layer_leaves_the_layer_untouched():
    layer = L.Linear(3, 2, rng=0)
    W = layer.params["W"].copy()
    check_layer(layer, np.ones((2, 3)))
    assert layer.params["W"].dtype == np.float32
    np.testing.assert_array_equal(layer.params["W"], W)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"x": "abc"}, TypeError, r"check_layer\(ReLU\(\)\): x must be an array of real numbers"),
    ({"x": np.zeros((0, 3))}, ValueError,
     r"x has no entries \(shape \(0, 3\)\); there is nothing to check"),
    ({"x": [[1.0, np.nan]]}, ValueError, r"x contains 1 NaN or inf"),
    ({"x": np.array([[True, False]])}, TypeError, r"x must be an array of real .*got dtype bool"),
    ({"h": 0}, ValueError, r"check_layer\(ReLU\(\)\): h must be finite and > 0, got 0"),
    ({"h": "small"}, TypeError, r"h must be a real number, got 'small'"),
    ({"train": "False"}, TypeError, r"train must be True or False, got 'False'"),
    ({"rng": -1}, ValueError, r"rng must be a seed >= 0, got -1"),
    ({"rng": True}, TypeError,
     r"rng must be a np.random.Generator, an int seed >= 0 or None, got True"),
])
def test_check_layer_rejects_bad_arguments(kwargs, error, message):
    kwargs = {"x": np.ones((2, 3)), **kwargs}
    with pytest.raises(error, match=message):
        check_layer(L.ReLU(), **kwargs)


def test_check_layer_checks_the_parameters_of_a_layer_without_dx():
    # A first layer computes no input gradient (its backward returns None): the check compares
    # its parameters only, and still catches a wrong one.
    layer = L.Conv2D(2, 3, 3, padding=1, input_grad=False, rng=0)
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 5))
    result = check_layer(layer, x, rng=2)
    assert set(result) == {"W", "b"} and max(result.values()) < 1e-7

    class HalfBiasGradient(L.Conv2D):
        def backward(self, dy):
            dx = super().backward(dy)
            self.grads["b"] = self.grads["b"] / 2
            return dx

    wrong = HalfBiasGradient(2, 3, 3, padding=1, input_grad=False, rng=0)
    assert check_layer(wrong, x, rng=2)["b"] > 0.1

    class NothingToCheck(L.Layer):
        def forward(self, x, train=True):
            return 2 * x

        def backward(self, dy):
            return None

    with pytest.raises(ValueError, match=r"check_layer\(NothingToCheck\(\)\): backward returned "
                                         r"None and the layer has no parameters"):
        check_layer(NothingToCheck(), np.ones((2, 3)))


def test_check_layer_rejects_non_layers_and_inconsistent_backward():
    with pytest.raises(TypeError, match=r"layer must have forward, backward, params and grads"):
        check_layer(lambda x: x, np.ones(3))

    class WrongShape(L.Layer):
        def forward(self, x, train=True):
            return 2 * x

        def backward(self, dy):
            return dy.sum(axis=0)

    with pytest.raises(ValueError, match=r"check_layer\(WrongShape\(\)\): backward's result dx "
                                         r"has shape \(3,\), expected \(2, 3\)"):
        check_layer(WrongShape(), np.ones((2, 3)))

    class NoBiasGradient(L.Linear):
        def backward(self, dy):
            dx = super().backward(dy)
            del self.grads["b"]
            return dx

    with pytest.raises(ValueError, match=r"after backward, layer.grads has keys \['W'\], expected "
                                         r"the keys of layer.params, \['W', 'b'\]"):
        check_layer(NoBiasGradient(3, 2, rng=0), np.ones((2, 3)))


def test_check_model_rejects_bad_arguments():
    model = cnnedu.Sequential([L.Linear(3, 2, rng=0)])
    y, loss = np.array([0, 1]), cnnedu.SoftmaxCrossEntropy()
    with pytest.raises(TypeError, match=r"check_model\(ReLU\): model must be a Sequential"):
        check_model(L.ReLU(), np.ones((2, 3)), y, loss)
    with pytest.raises(TypeError, match=r"loss must be callable as loss\(scores, y\)"):
        check_model(model, np.ones((2, 3)), y, "cross-entropy")
    with pytest.raises(ValueError, match=r"check_model\(Sequential\): x contains 1 NaN"):
        check_model(model, np.array([[1.0, 2.0, np.inf], [0.0, 0.0, 0.0]]), y, loss)
    with pytest.raises(TypeError, match=r"loss must return \(value, dscores\), got float"):
        check_model(model, np.ones((2, 3)), y, lambda scores, y: 1.0)


def test_public_functions_document_raises_and_chapter():
    import cnnedu.gradcheck as G
    functions = [name for name in G.__all__ if callable(getattr(G, name))
                 and not isinstance(getattr(G, name), type)]
    assert len(functions) == 7
    for name in functions:
        doc = getattr(G, name).__doc__
        assert "Raises" in doc and "Chapter" in doc, f"{name}: {doc[:80]!r}"
