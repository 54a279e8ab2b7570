import ast
import re
from pathlib import Path

import numpy as np
import pytest

import cnnedu
from cnnedu._checks import as_generator
from cnnedu import layers as L
from cnnedu import reference as R
from cnnedu.gradcheck import (away_from_zero, check_layer, distinct_values,
                              numerical_gradient_array, rel_error)


LAYERS = {
    "Conv2D": (lambda rng: L.Conv2D(2, 3, 3, stride=2, padding=1, rng=rng), (2, 2, 6, 5)),
    "Conv2D non-square": (lambda rng: L.Conv2D(2, 3, (2, 3), rng=rng), (2, 2, 5, 6)),
    "MaxPool2D": (lambda rng: L.MaxPool2D(2), (2, 3, 4, 6)),
    "AvgPool2D": (lambda rng: L.AvgPool2D(3, stride=2), (2, 3, 7, 6)),
    "Linear": (lambda rng: L.Linear(6, 4, rng=rng), (5, 6)),
    "ReLU": (lambda rng: L.ReLU(), (4, 7)),
    "LeakyReLU": (lambda rng: L.LeakyReLU(0.1), (4, 7)),
    "Sigmoid": (lambda rng: L.Sigmoid(), (4, 7)),
    "Tanh": (lambda rng: L.Tanh(), (4, 7)),
    "Flatten": (lambda rng: L.Flatten(), (2, 3, 2, 2)),
}


@pytest.mark.parametrize("name", LAYERS)
def test_layer_gradients_float64(name):
    rng = np.random.default_rng(0)
    make, shape = LAYERS[name]
    layer = make(rng)
    if name == "MaxPool2D":  # no ties within the finite-difference step
        x = distinct_values(rng, shape)
    else:  # no ReLU input within the step of the kink at 0
        x = away_from_zero(rng, shape)
    errors = check_layer(layer, x)
    assert set(errors) == {"x", *layer.params}
    assert max(errors.values()) < 1e-7, errors


def test_conv_layer_gradients_against_reference_forward():
    rng = np.random.default_rng(1)
    layer = L.Conv2D(2, 3, 3, stride=2, padding=1, rng=rng, dtype=np.float64)
    x = rng.standard_normal((2, 2, 7, 6))
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    W, b = layer.params["W"], layer.params["b"]
    ref = lambda: R.conv2d_forward(x, W, b, 2, 1)
    assert rel_error(dx, numerical_gradient_array(ref, x, dout)) < 1e-7
    assert rel_error(layer.grads["W"], numerical_gradient_array(ref, W, dout)) < 1e-7
    assert rel_error(layer.grads["b"], numerical_gradient_array(ref, b, dout)) < 1e-7


def test_dropout_train_and_eval():
    layer = L.Dropout(0.5, rng=0)
    x = np.ones((1000, 10), dtype=np.float32)
    out = layer.forward(x, train=True)
    assert out.dtype == np.float32
    assert set(np.unique(out)) <= {0.0, 2.0}
    assert abs(out.mean() - 1) < 0.05  # inverted dropout keeps the expectation
    # gradient flows through the kept units only, scaled the same way
    dx = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(dx, out)
    assert layer.forward(x, train=False) is x
    assert check_layer(L.Dropout(0.3, rng=0), np.ones((3, 4)), train=False)["x"] < 1e-7


def test_backward_twice_gives_identical_grads():
    rng = np.random.default_rng(0)
    model = cnnedu.Sequential([L.Conv2D(1, 2, 3, rng=rng), L.ReLU(), L.MaxPool2D(2), L.Flatten(),
                               L.Linear(2 * 3 * 3, 3, rng=rng)])
    x = rng.standard_normal((4, 1, 8, 8)).astype(np.float32)
    dout = rng.standard_normal((4, 3)).astype(np.float32)
    model.forward(x)
    model.backward(dout)
    first = {k: v.copy() for k, v in model.grads.items()}
    model.backward(dout)
    second = model.grads
    assert first.keys() == second.keys() and len(first) == 4
    for k in first:
        np.testing.assert_array_equal(first[k], second[k])  # overwritten, not accumulated


def test_float32_in_float32_out_through_layers():
    rng = np.random.default_rng(0)
    model = cnnedu.Sequential([L.Conv2D(1, 4, 3, padding=1, rng=rng), L.ReLU(), L.MaxPool2D(2),
                               L.Conv2D(4, 4, 3, rng=rng), L.LeakyReLU(), L.AvgPool2D(2),
                               L.Flatten(), L.Dropout(0.2, rng=rng), L.Linear(4, 5, rng=rng),
                               L.Sigmoid(), L.Tanh()])
    x = rng.standard_normal((3, 1, 8, 8)).astype(np.float32)
    out = model.forward(x)
    assert out.dtype == np.float32
    assert model.backward(np.ones_like(out)).dtype == np.float32
    assert all(g.dtype == np.float32 for g in model.grads.values())


@pytest.mark.parametrize("make,x,message", [
    (lambda: L.Conv2D(3, 4, 3), np.zeros((32, 28, 28), np.float32),
     r"Conv2D expected input of shape \(N, 3, H, W\), got \(32, 28, 28\)"),
    (lambda: L.Conv2D(3, 4, 3), np.zeros((2, 1, 28, 28), np.float32),
     r"Conv2D expected input of shape \(N, 3, H, W\), got \(2, 1, 28, 28\)"),
    (lambda: L.Conv2D(1, 4, 5), np.zeros((2, 1, 3, 3), np.float32),
     "kernel 5x5 is larger than the padded input 3x3"),
    (lambda: L.Linear(10, 2), np.zeros((4, 12), np.float32),
     r"Linear expected input of shape \(N, 10\), got \(4, 12\)"),
    (lambda: L.Linear(10, 2), np.zeros((4, 1, 2, 5), np.float32), "add a Flatten layer"),
    (lambda: L.MaxPool2D(2), np.zeros((4, 12), np.float32), r"x must have 4 dimensions"),
])
def test_layers_reject_bad_input(make, x, message):
    with pytest.raises(ValueError, match=message):
        make().forward(x)


def test_initialisers_have_the_documented_std():
    rng = np.random.default_rng(0)
    shape = (64, 32, 3, 3)  # fan_in 288, fan_out 576
    assert cnnedu.init.he_normal(shape, rng).std() == pytest.approx(np.sqrt(2 / 288), rel=0.02)
    assert cnnedu.init.lecun_normal(shape, rng).std() == pytest.approx(np.sqrt(1 / 288), rel=0.02)
    assert cnnedu.init.xavier_normal(shape, rng).std() == pytest.approx(np.sqrt(2 / 864), rel=0.02)
    assert cnnedu.init.xavier_uniform(shape, rng).std() == pytest.approx(np.sqrt(2 / 864), rel=0.02)
    assert cnnedu.init.he_uniform(shape, rng).std() == pytest.approx(np.sqrt(2 / 288), rel=0.02)
    assert cnnedu.init.get(0.01)(shape, rng).std() == pytest.approx(0.01, rel=0.02)
    W = L.Linear(300, 100, init="he", rng=0).params["W"]
    assert W.std() == pytest.approx(np.sqrt(2 / 300), rel=0.03)


def test_eval_mode_keeps_no_cache_and_backward_says_so():
    layer = L.Conv2D(1, 4, 3, rng=0)
    layer.forward(np.zeros((2, 1, 5, 5), np.float32), train=False)
    assert layer.cache is None  # the im2col matrix is not kept around during evaluation
    with pytest.raises(RuntimeError, match=r"needs a forward\(x, train=True\) call first"):
        layer.backward(np.zeros((2, 4, 3, 3), np.float32))


# ----------------------------------------------------------------------------
# Issue 12: each kind of fault, fixed in every layer
# ----------------------------------------------------------------------------

# Every public layer with an input it accepts, in float32.
EVERY_LAYER = {
    "Conv2D": (lambda: L.Conv2D(2, 3, 3, padding=1, rng=0), (2, 2, 5, 6)),
    "MaxPool2D": (lambda: L.MaxPool2D(2), (2, 3, 4, 6)),
    "AvgPool2D": (lambda: L.AvgPool2D(2), (2, 3, 4, 6)),
    "Linear": (lambda: L.Linear(6, 4, rng=0), (5, 6)),
    "ReLU": (lambda: L.ReLU(), (4, 7)),
    "Sigmoid": (lambda: L.Sigmoid(), (4, 7)),
    "Tanh": (lambda: L.Tanh(), (4, 7)),
    "LeakyReLU": (lambda: L.LeakyReLU(0.1), (4, 7)),
    "Flatten": (lambda: L.Flatten(), (2, 3, 2, 2)),
    "Dropout": (lambda: L.Dropout(0.5, rng=0), (4, 7)),
}


def _forward(name, train=True, dtype=np.float32):
    make, shape = EVERY_LAYER[name]
    layer = make()
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    return layer, x, layer.forward(x, train=train)


@pytest.mark.parametrize("name", EVERY_LAYER)
def test_backward_names_dy_and_both_shapes(name):
    layer, _, out = _forward(name)
    wrong = out.shape[:-1] + (out.shape[-1] + 1,)
    message = (rf"{name}.backward: dy has shape {re.escape(str(wrong))}, "
               rf"expected {re.escape(str(out.shape))} \(the shape of the last forward output\)")
    with pytest.raises(ValueError, match=message):
        layer.backward(np.zeros(wrong, np.float32))
    with pytest.raises(ValueError, match=rf"{name}.backward: dy has shape \(\)"):
        layer.backward(np.zeros((), np.float32))
    with pytest.raises(TypeError,
                       match=rf"{name}.backward: dy has dtype float64, expected float32"):
        layer.backward(np.zeros(out.shape))  # float64 would turn the gradients float64
    with pytest.raises(TypeError, match=rf"{name}.backward: dy must be a NumPy array .* got list"):
        layer.backward(out.tolist())
    assert layer.backward(np.ones_like(out)).dtype == np.float32  # the right dy still works


@pytest.mark.parametrize("name", EVERY_LAYER)
def test_backward_before_forward_is_a_runtime_error(name):
    layer = EVERY_LAYER[name][0]()
    with pytest.raises(RuntimeError,
                       match=rf"{name}.backward needs a forward\(x, train=True\) call first"):
        layer.backward(np.zeros((2, 3), np.float32))


@pytest.mark.parametrize("name", sorted(set(EVERY_LAYER) - {"Dropout"}))
def test_backward_after_eval_forward_is_a_runtime_error(name):
    layer, _, out = _forward(name, train=False)
    with pytest.raises(RuntimeError, match=r"eval-mode forward passes keep no cache"):
        layer.backward(np.ones_like(out))


def test_dropout_backward_after_eval_forward_is_the_identity():
    # gradcheck.check_layer(Dropout, train=False), chapter 4, relies on it.
    layer, x, out = _forward("Dropout", train=False)
    assert out is x
    dy = np.ones_like(x)
    assert layer.backward(dy) is dy


def _holds(value, x):
    """Whether value is, or contains, an array sharing memory with x."""
    if isinstance(value, np.ndarray):
        return np.shares_memory(value, x)
    if isinstance(value, (tuple, list)):
        return any(_holds(v, x) for v in value)
    return False


def test_linear_keeps_its_input_in_training_only():
    # Issue 15: Linear kept x after an eval-mode forward, unlike every other layer.
    layer = L.Linear(6, 4, rng=0)
    x = np.ones((5, 6), np.float32)
    layer.forward(x, train=True)
    assert layer.cache is x  # backward needs it: dW = x.T @ dy
    x_eval = np.ones((5, 6), np.float32)
    layer.forward(x_eval, train=False)
    assert layer.cache is None
    assert not any(_holds(v, x) or _holds(v, x_eval) for v in vars(layer).values())
    with pytest.raises(RuntimeError, match=r"Linear.backward needs a forward\(x, train=True\)"):
        layer.backward(np.ones((5, 4), np.float32))


WITH_BATCH_NORM = {**EVERY_LAYER, "BatchNorm2D": (lambda: L.BatchNorm2D(3), (2, 3, 4, 5))}


@pytest.mark.parametrize("name", WITH_BATCH_NORM)
def test_eval_forward_after_training_drops_every_reference_to_the_batch(name):
    make, shape = WITH_BATCH_NORM[name]
    layer = make()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    layer.forward(x, train=True)
    assert layer.cache is not None or name == "Dropout"  # Dropout keeps only its mask
    x_eval = x.copy()
    out = layer.forward(x_eval, train=False)
    assert layer.cache is None
    held = [key for key, v in vars(layer).items() if _holds(v, x) or _holds(v, x_eval)]
    assert not held, f"{name} holds the batch in {held} after an eval-mode forward"
    assert out.dtype == np.float32


# -- constructor arguments ---------------------------------------------------

@pytest.mark.parametrize("make,error,message", [
    (lambda: L.Conv2D(0, 4, 3), ValueError, r"Conv2D: in_channels must be an int >= 1, got 0"),
    (lambda: L.Conv2D(1.0, 4, 3), TypeError, r"Conv2D: in_channels must be an int, got 1.0"),
    (lambda: L.Conv2D(1, True, 3), TypeError, r"Conv2D: out_channels must be an int, got True"),
    (lambda: L.Conv2D(1, "4", 3), TypeError, r"Conv2D: out_channels must be an int, got '4'"),
    (lambda: L.Conv2D(1, 4, 0), ValueError, r"Conv2D: kernel_size must be >= 1, got 0"),
    (lambda: L.Conv2D(1, 4, 2.5), TypeError,
     r"Conv2D: kernel_size must be an int or a pair \(height, width\) of ints, got 2.5"),
    (lambda: L.Conv2D(1, 4, (3, 3, 3)), TypeError,
     r"kernel_size must be an int or a pair .* got \(3, 3, 3\)"),
    (lambda: L.Conv2D(1, 4, (3, None)), TypeError,
     r"Conv2D: kernel_size must be an int or a pair \(height, width\) of ints, got \(3, None\)"),
    (lambda: L.Conv2D(1, 4, 3, stride=0), ValueError, r"Conv2D: stride must be >= 1, got 0"),
    (lambda: L.Conv2D(1, 4, 3, stride=(1, 0)), ValueError,
     r"Conv2D: stride must be >= 1, got \(1, 0\)"),
    (lambda: L.Conv2D(1, 4, 3, stride=None), TypeError, r"Conv2D: stride must be an int or a pair"),
    (lambda: L.Conv2D(1, 4, 3, padding=-1), ValueError, r"Conv2D: padding must be >= 0, got -1"),
    (lambda: L.Conv2D(1, 4, 3, padding="same"), TypeError,
     r"Conv2D: padding must be an int or a pair .* 'same'"),
    (lambda: L.Conv2D(1, 4, 3, init="nope"), ValueError, r"unknown init 'nope'; expected one of"),
    (lambda: L.Conv2D(1, 4, 3, init=None), TypeError, r"init must be one of .* got None"),
    (lambda: L.Conv2D(1, 4, 3, init=True), TypeError, r"init must be one of .* got True"),
    (lambda: L.Conv2D(1, 4, 3, init=-0.1), ValueError,
     r"init: a std must be finite and > 0, got -0.1"),
    (lambda: L.Conv2D(1, 4, 3, init=float("inf")), ValueError,
     r"init: a std must be finite and > 0, got inf"),
    (lambda: L.Conv2D(1, 4, 3, init=lambda shape, rng, dtype: np.zeros(shape)), ValueError,
     r"Conv2D: init returned ndarray of shape \(4, 1, 3, 3\) and dtype float64, expected an array "
     r"of shape \(4, 1, 3, 3\) and dtype float32"),
    (lambda: L.Conv2D(1, 4, 3, dtype=np.int32), TypeError,
     r"Conv2D: dtype must be np.float32 or np.float64, got <class 'numpy.int32'>"),
    (lambda: L.Conv2D(1, 4, 3, dtype=None), TypeError,
     r"Conv2D: dtype must be np.float32 or np.float64, got None"),
    (lambda: L.Conv2D(1, 4, 3, rng=1.5), TypeError,
     r"Conv2D: rng must be a np.random.Generator, an int seed >= 0 or None, got 1.5"),
    (lambda: L.Conv2D(1, 4, 3, rng=-1), ValueError, r"rng must be a seed >= 0, got -1"),
    (lambda: L.MaxPool2D(0), ValueError, r"MaxPool2D: kernel_size must be >= 1, got 0"),
    (lambda: L.MaxPool2D(2, stride=-1), ValueError, r"MaxPool2D: stride must be >= 1, got -1"),
    (lambda: L.MaxPool2D(2.0), TypeError,
     r"MaxPool2D: kernel_size must be an int or a pair .* got 2.0"),
    (lambda: L.AvgPool2D((2,)), TypeError,
     r"AvgPool2D: kernel_size must be an int or a pair .* got \(2,\)"),
    (lambda: L.AvgPool2D(2, stride="2"), TypeError,
     r"AvgPool2D: stride must be an int or a pair .* got '2'"),
    (lambda: L.Linear(0, 3), ValueError, r"Linear: in_features must be an int >= 1, got 0"),
    (lambda: L.Linear(784.0, 3), TypeError, r"Linear: in_features must be an int, got 784.0"),
    (lambda: L.Linear(784, None), TypeError, r"Linear: out_features must be an int, got None"),
    (lambda: L.Linear(2, 3, dtype="float16"), TypeError,
     r"Linear: dtype must be np.float32 or np.float64, got 'float16'"),
    (lambda: L.Linear(2, 3, dtype="nonsense"), TypeError,
     r"Linear: dtype must be np.float32 or np.float64"),
    (lambda: L.Linear(2, 3, rng="0"), TypeError, r"rng must be a np.random.Generator.* got '0'"),
    (lambda: L.Linear(2, 3, rng=np.random.RandomState(0)), TypeError,
     r"rng must be a np.random.Generator"),
    (lambda: L.Dropout(1.0), ValueError, r"Dropout: p must be in \[0, 1\), got 1.0"),
    (lambda: L.Dropout(-0.1), ValueError, r"Dropout: p must be in \[0, 1\), got -0.1"),
    (lambda: L.Dropout(float("nan")), ValueError, r"Dropout: p must be in \[0, 1\), got nan"),
    (lambda: L.Dropout(True), TypeError, r"Dropout: p must be a real number, got True"),
    (lambda: L.Dropout("0.5"), TypeError, r"Dropout: p must be a real number, got '0.5'"),
    (lambda: L.Dropout(None), TypeError, r"Dropout: p must be a real number, got None"),
    (lambda: L.Dropout(0.5, rng=True), TypeError, r"rng must be a np.random.Generator.* got True"),
    (lambda: L.LeakyReLU(-0.1), ValueError, r"LeakyReLU: alpha must be finite and >= 0, got -0.1"),
    (lambda: L.LeakyReLU(float("inf")), ValueError,
     r"LeakyReLU: alpha must be finite and >= 0, got inf"),
    (lambda: L.LeakyReLU(float("nan")), ValueError,
     r"LeakyReLU: alpha must be finite and >= 0, got nan"),
    (lambda: L.LeakyReLU("0.1"), TypeError, r"LeakyReLU: alpha must be a real number, got '0.1'"),
    (lambda: L.LeakyReLU(None), TypeError, r"LeakyReLU: alpha must be a real number, got None"),
])
def test_constructors_reject_bad_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_constructors_accept_ints_pairs_numpy_scalars_and_dtype_names():
    conv = L.Conv2D(np.int64(2), 3, (2, 3), stride=(1, 2), padding=[0, 1], dtype="float64",
                    rng=np.int64(0))
    assert conv.kernel_size == (2, 3) and conv.stride == (1, 2) and conv.padding == (0, 1)
    assert conv.params["W"].dtype == np.float64
    # as saved by earlier versions
    assert repr(L.Conv2D(1, 4, 3, padding=1)) == ("Conv2D(1, 4, kernel_size=(3, 3), stride=1, "
                                                  "padding=1)")
    assert repr(L.MaxPool2D(2)) == "MaxPool2D(kernel_size=2, stride=2)"
    assert L.Dropout(np.float32(0.25)).p == 0.25 and L.LeakyReLU(0).alpha == 0.0
    assert L.Linear(3, 2, init=np.float64(0.5), rng=0).params["W"].dtype == np.float32


# -- geometry: ints or pairs, non-square windows -----------------------------

def test_non_square_pooling_strides_by_its_kernel_by_default():
    x = np.arange(2 * 3 * 4 * 9, dtype=np.float64).reshape(2, 3, 4, 9)
    for layer, reduce in [(L.MaxPool2D((2, 3)), np.max), (L.AvgPool2D((2, 3)), np.mean)]:
        assert layer.stride == (2, 3)
        assert repr(layer) == f"{type(layer).__name__}(kernel_size=(2, 3), stride=(2, 3))"
        out = layer.forward(x)
        expected = reduce(x.reshape(2, 3, 2, 2, 3, 3), axis=(3, 5))  # windows tile the input
        assert out.shape == layer.output_shape(x.shape) == (2, 3, 2, 3)
        np.testing.assert_allclose(out, expected)
        assert check_layer(layer, x)["x"] < 1e-7


def test_conv_with_pairs_matches_the_output_shape_and_gradients():
    rng = np.random.default_rng(0)
    layer = L.Conv2D(2, 3, (3, 2), stride=(2, 1), padding=(1, 0), rng=rng)
    x = away_from_zero(rng, (2, 2, 7, 5))
    assert layer.forward(x.astype(np.float32)).shape == layer.output_shape(x.shape) == (2, 3, 4, 4)
    errors = check_layer(layer, x)
    assert max(errors.values()) < 1e-7, errors


# -- dtypes: one rule for every layer ----------------------------------------

BAD_DTYPES = [np.int64, np.uint8, np.bool_, np.complex128, np.float16]


@pytest.mark.parametrize("dtype", BAD_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", EVERY_LAYER)
def test_every_layer_refuses_non_float_input(name, dtype):
    make, shape = EVERY_LAYER[name]
    x = np.ones(shape, dtype=dtype)
    hint = r"x.astype\(np.float32\) / 255" if dtype == np.uint8 else r"x.astype\(np.float32\)"
    with pytest.raises(TypeError, match=rf"x .*{np.dtype(dtype).name}") as info:
        make().forward(x)
    if dtype != np.complex128:  # no conversion to advise for complex numbers
        assert re.search(hint, str(info.value)), str(info.value)


@pytest.mark.parametrize("name", ["Conv2D", "Linear"])
def test_layers_with_parameters_take_their_dtype_only(name):
    make, shape = EVERY_LAYER[name]
    x = np.ones(shape)  # float64
    with pytest.raises(TypeError,
                       match=rf"{name}: x has dtype float64, expected float32 \(the dtype "
                             r"of the layer's parameters\); "
                             r"convert with `x.astype\(np.float32\)`"):
        make().forward(x)
    with pytest.raises(TypeError, match=rf"{name}: x must be a NumPy array of float32 .* got list"):
        make().forward(x.tolist())


@pytest.mark.parametrize("name", sorted(set(EVERY_LAYER) - {"Conv2D", "Linear"}))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_without_parameters_keep_float32_and_float64(name, dtype):
    layer, x, out = _forward(name, dtype=dtype)
    assert out.dtype == dtype
    assert layer.backward(np.ones_like(out)).dtype == dtype


# -- zero samples: empty in, empty out ---------------------------------------

@pytest.mark.parametrize("name", EVERY_LAYER)
def test_zero_samples_give_empty_outputs_of_the_right_shape(name):
    make, shape = EVERY_LAYER[name]
    layer = make()
    x = np.zeros((0, *shape[1:]), np.float32)
    out = layer.forward(x)
    full = make().forward(np.zeros(shape, np.float32))
    assert out.shape == (0, *full.shape[1:]) and out.dtype == np.float32
    dx = layer.backward(np.zeros(out.shape, np.float32))
    assert dx.shape == x.shape and dx.dtype == np.float32


# -- seeding: rng=None follows np.random.seed --------------------------------

def test_np_random_seed_makes_layers_repeat():
    def build():
        conv, linear = L.Conv2D(1, 4, 3), L.Linear(5, 2)
        mask = L.Dropout(0.5).forward(np.ones((4, 5), np.float32))
        return conv.params["W"], linear.params["W"], mask

    np.random.seed(0)
    first = build()
    np.random.seed(0)
    second = build()
    third = build()  # no reseeding: the global state has moved on
    for a, b, c in zip(first, second, third):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


def test_rng_int_seed_and_generator():
    np.testing.assert_array_equal(L.Linear(4, 3, rng=7).params["W"],
                                  L.Linear(4, 3, rng=7).params["W"])
    gen = np.random.default_rng(7)
    np.testing.assert_array_equal(L.Linear(4, 3, rng=gen).params["W"],
                                  L.Linear(4, 3, rng=7).params["W"])
    # a Generator is used as is: the second layer continues the same stream
    assert not np.array_equal(L.Linear(4, 3, rng=gen).params["W"],
                              L.Linear(4, 3, rng=7).params["W"])
    assert as_generator(gen) is gen


# -- the package's shape -------------------------------------------------------

CNNEDU = Path(cnnedu.__file__).parent


def _imports(path):
    """The cnnedu modules a file imports, as dotted names (relative imports resolved)."""
    # the package a relative import starts from: the file's folder
    package = ".".join(path.relative_to(CNNEDU.parent).parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("cnnedu")}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module
            else:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            if base.startswith("cnnedu"):
                # "from .. import functional" imports the module cnnedu.functional
                found |= ({f"{base}.{alias.name}" for alias in node.names} if not node.module
                          else {base})
    return found


# Imports only go downward: kernels never import layers, models or training code; layers
# import only the kernels, the initialisers and the argument checks.
ALLOWED_IMPORTS = {
    "functional": ("cnnedu._checks", "cnnedu.functional"),
    "reference.py": ("cnnedu._checks",),
    "_checks.py": (),
    "gradcheck": ("cnnedu._checks", "cnnedu.gradcheck"),
    "layers": ("cnnedu._checks", "cnnedu.functional", "cnnedu.init", "cnnedu.layers"),
}


@pytest.mark.parametrize("part", ALLOWED_IMPORTS)
def test_imports_only_go_downward(part):
    paths = sorted((CNNEDU / part).glob("*.py")) if (CNNEDU / part).is_dir() else [CNNEDU / part]
    assert paths
    for path in paths:
        for name in _imports(path):
            allowed = ALLOWED_IMPORTS[part]
            assert any(name == a or name.startswith(a + ".") for a in allowed), (
                f"{path.relative_to(CNNEDU)} imports {name}")


def test_every_public_layer_documents_raises_and_chapter():
    for name in L.__all__:
        doc = getattr(L, name).__doc__ or ""
        assert "Raises" in doc and "Chapter" in doc, f"{name}'s docstring: {doc[:80]!r}"
