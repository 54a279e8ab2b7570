import numpy as np
import pytest

import cnnedu
from cnnedu import layers as L
from cnnedu import reference as R
from cnnedu.gradcheck import check_layer, numerical_gradient_array, rel_error


def away_from_zero(rng, shape, margin=1e-2):
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < margin, margin * np.sign(x + 1e-12) * 3, x)


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
    if name == "MaxPool2D":  # distinct values: no ties within the finite-difference step
        x = rng.permutation(np.prod(shape)).reshape(shape) * 0.01
    else:
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
    (lambda: L.Conv2D(1, 4, 5), np.zeros((2, 1, 3, 3), np.float32), "kernel 5x5 is larger than the padded input 3x3"),
    (lambda: L.Linear(10, 2), np.zeros((4, 12), np.float32), r"Linear expected input of shape \(N, 10\), got \(4, 12\)"),
    (lambda: L.Linear(10, 2), np.zeros((4, 1, 2, 5), np.float32), "add a Flatten layer"),
    (lambda: L.MaxPool2D(2), np.zeros((4, 12), np.float32), r"x must have 4 dimensions"),
])
def test_layers_reject_bad_input(make, x, message):
    with pytest.raises(ValueError, match=message):
        make().forward(x)


@pytest.mark.parametrize("make,message", [
    (lambda: L.Conv2D(1, 4, 3, stride=0), "stride must be a positive int, got 0"),
    (lambda: L.Conv2D(1, 4, 3, padding=-1), "padding must be an int >= 0, got -1"),
    (lambda: L.Conv2D(1, 4, 3, init="nope"), "unknown init 'nope'"),
    (lambda: L.MaxPool2D(2, stride=-1), "stride must be a positive int, got -1"),
    (lambda: L.Dropout(1.0), r"p must be in \[0, 1\)"),
])
def test_constructors_reject_bad_parameters(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_initialisers_have_the_documented_std():
    rng = np.random.default_rng(0)
    shape = (64, 32, 3, 3)  # fan_in 288, fan_out 576
    assert cnnedu.init.he_normal(shape, rng).std() == pytest.approx(np.sqrt(2 / 288), rel=0.02)
    assert cnnedu.init.lecun_normal(shape, rng).std() == pytest.approx(np.sqrt(1 / 288), rel=0.02)
    assert cnnedu.init.xavier_normal(shape, rng).std() == pytest.approx(np.sqrt(2 / 864), rel=0.02)
    assert cnnedu.init.xavier_uniform(shape, rng).std() == pytest.approx(np.sqrt(2 / 864), rel=0.02)
    assert cnnedu.init.he_uniform(shape, rng).std() == pytest.approx(np.sqrt(2 / 288), rel=0.02)
    assert cnnedu.init.get(0.01)(shape, rng).std() == pytest.approx(0.01, rel=0.02)
    assert L.Linear(300, 100, init="he", rng=0).params["W"].std() == pytest.approx(np.sqrt(2 / 300), rel=0.03)


def test_eval_mode_keeps_no_cache_and_backward_says_so():
    layer = L.Conv2D(1, 4, 3, rng=0)
    layer.forward(np.zeros((2, 1, 5, 5), np.float32), train=False)
    assert layer.cache is None  # the im2col matrix is not kept around during evaluation
    with pytest.raises(RuntimeError, match=r"needs a forward\(x, train=True\) call first"):
        layer.backward(np.zeros((2, 4, 3, 3), np.float32))
