"""Batch normalisation: the kernels against their loop twin and numerical gradients, the layers'
running statistics against PyTorch's rule, and their errors.

Run: python -m pytest tests/test_batchnorm.py
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnedu
from cnnedu import functional as F
from cnnedu import reference as R
from cnnedu.gradcheck import check_layer, numerical_gradient, rel_error

# At least 3 values per channel: with 2, x_hat is always +-1 and the loss hardly depends on x,
# so the central difference is dominated by rounding (the forward is still checked with 2).
SHAPES = [(3, 3), (5, 1), (7, 4), (3, 3, 1, 1), (1, 2, 2, 3), (3, 4, 5, 2)]


def _problem(shape, seed, evaluation=False):
    rng = np.random.default_rng(seed)
    C = shape[1]
    x = rng.standard_normal(shape) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    stats = (rng.standard_normal(C), rng.uniform(0.2, 2, C)) if evaluation else (None, None)
    return rng, x, gamma, beta, stats


@pytest.mark.parametrize("evaluation", [False, True], ids=["train", "eval"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_forward_matches_the_loops_and_backward_matches_numerical_gradients(shape, evaluation):
    rng, x, gamma, beta, (mean, var) = _problem(shape, 0, evaluation)
    out, cache = F.batch_norm_forward(x, gamma, beta, mean, var)
    assert rel_error(out, R.batch_norm_forward(x, gamma, beta, mean, var)) < 1e-12
    dout = rng.standard_normal(shape)
    dx, dgamma, dbeta = F.batch_norm_backward(dout, cache)

    def loss():
        return np.sum(dout * R.batch_norm_forward(x, gamma, beta, mean, var))

    for got, wrt in ((dx, x), (dgamma, gamma), (dbeta, beta)):
        assert got.shape == wrt.shape
        assert rel_error(got, numerical_gradient(loss, wrt)) < 1e-7


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 6), c=st.integers(1, 4), hw=st.sampled_from([None, (1, 1), (2, 3)]),
       seed=st.integers(0, 2**32 - 1))
def test_training_output_has_zero_mean_unit_variance_per_channel(n, c, hw, seed):
    shape = (n, c) + (hw or ())
    _, x, _, _, _ = _problem(shape, seed)
    axes = (0,) if hw is None else (0, 2, 3)
    out, _ = F.batch_norm_forward(x, np.ones(c), np.zeros(c), eps=1e-12)
    np.testing.assert_allclose(out.mean(axis=axes), 0, atol=1e-9)
    np.testing.assert_allclose(out.var(axis=axes), 1, atol=1e-6)


@pytest.mark.parametrize("layer_class, shape", [(cnnedu.BatchNorm1D, (6, 3)),
                                                (cnnedu.BatchNorm2D, (4, 3, 5, 2))])
def test_layers_pass_the_gradient_check(layer_class, shape):
    """In training; evaluation keeps no cache (as every layer), its backward is checked above."""
    layer = layer_class(shape[1], dtype=np.float64)
    rng = np.random.default_rng(1)
    layer.params["gamma"] = rng.standard_normal(shape[1])
    layer.params["beta"] = rng.standard_normal(shape[1])
    x = rng.standard_normal(shape) * 2 + 1
    errors = check_layer(layer, x, rng=2)
    assert max(errors.values()) < 1e-7, dict(errors)


def test_running_statistics_follow_pytorchs_rule():
    """running = 0.9 * running + 0.1 * batch, with the unbiased batch variance."""
    rng = np.random.default_rng(3)
    layer = cnnedu.BatchNorm2D(2, momentum=0.1, dtype=np.float64)
    mean, var = np.zeros(2), np.ones(2)
    for _ in range(3):
        x = rng.standard_normal((4, 2, 3, 3)) * 3 + 5
        layer.forward(x)
        m = 4 * 3 * 3
        mean = 0.9 * mean + 0.1 * x.mean(axis=(0, 2, 3))
        var = 0.9 * var + 0.1 * x.var(axis=(0, 2, 3)) * m / (m - 1)
    np.testing.assert_allclose(layer.buffers["running_mean"], mean, rtol=1e-12)
    np.testing.assert_allclose(layer.buffers["running_var"], var, rtol=1e-12)
    # Evaluation uses them and does not change them; one sample gives the same answer alone.
    x = rng.standard_normal((5, 2, 3, 3))
    out = layer.forward(x, train=False)
    np.testing.assert_allclose(layer.forward(x[:1], train=False), out[:1], rtol=1e-12)
    np.testing.assert_allclose(layer.buffers["running_mean"], mean, rtol=1e-12)
    expected = (x - mean.reshape(1, 2, 1, 1)) / np.sqrt(var.reshape(1, 2, 1, 1) + 1e-5)
    np.testing.assert_allclose(out, expected, rtol=1e-10)


def test_float32_stays_float32():
    layer = cnnedu.BatchNorm2D(3)
    x = np.random.default_rng(4).standard_normal((2, 3, 4, 4)).astype(np.float32)
    out = layer.forward(x)
    dx = layer.backward(np.ones_like(out))
    assert out.dtype == dx.dtype == layer.grads["gamma"].dtype == np.float32
    assert layer.buffers["running_var"].dtype == np.float32


@pytest.mark.parametrize("call, error, words", [
    (lambda: cnnedu.BatchNorm2D(3).forward(np.zeros((2, 3, 4), np.float32)),
     ValueError, "(N, 3, H, W), got (2, 3, 4)"),
    (lambda: cnnedu.BatchNorm1D(3).forward(np.zeros((2, 4), np.float32)),
     ValueError, "(N, 3), got (2, 4)"),
    (lambda: cnnedu.BatchNorm1D(3).forward(np.zeros((2, 3), np.uint8)), TypeError, "/ 255"),
    (lambda: cnnedu.BatchNorm1D(3).forward(np.zeros((1, 3), np.float32)),
     ValueError, "at least 2 values per channel"),
    (lambda: cnnedu.BatchNorm1D(0), ValueError, "num_features"),
    (lambda: cnnedu.BatchNorm1D(3, momentum=1.5), ValueError, "momentum must be in [0, 1]"),
    (lambda: cnnedu.BatchNorm1D(3, eps=0), ValueError,
     "BatchNorm1D: eps must be finite and > 0, got 0"),
    (lambda: cnnedu.BatchNorm1D(3, eps="1e-5"), TypeError,
     "BatchNorm1D: eps must be a real number"),
    (lambda: cnnedu.BatchNorm1D(3, momentum=float("nan")), ValueError,
     "momentum must be in [0, 1]"),
    (lambda: F.batch_norm_forward(np.zeros((2, 3)), np.ones(3), np.zeros(3), eps=-1.0),
     ValueError, "batch_norm_forward: eps must be finite and > 0, got -1.0"),
    (lambda: F.batch_norm_forward(np.zeros((2, 3)), np.ones(3), np.zeros(3), mean=np.zeros(3)),
     TypeError, "batch_norm_forward: var must be a NumPy array"),
    (lambda: F.batch_norm_forward(np.zeros((2, 3)), np.ones(2), np.zeros(3)),
     ValueError, "gamma must have shape (3,)"),
    (lambda: F.batch_norm_forward(np.zeros((2, 3)), np.ones(3, np.float32), np.zeros(3)),
     TypeError, "gamma has dtype float32, expected float64 (the dtype of x)"),
    (lambda: F.batch_norm_backward(np.zeros((2, 4)),
                                   F.batch_norm_forward(np.eye(2, 3), np.ones(3), np.zeros(3))[1]),
     ValueError, "dout has shape (2, 4), expected (2, 3)"),
])
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)


def test_save_and_load_keep_the_running_statistics(tmp_path):
    def model():
        return cnnedu.Sequential([cnnedu.Conv2D(1, 2, 3, rng=0), cnnedu.BatchNorm2D(2),
                                  cnnedu.ReLU(), cnnedu.Flatten(),
                                  cnnedu.Linear(2 * 4 * 4, 3, rng=1),
                                  cnnedu.BatchNorm1D(3)])
    trained = model()
    x = np.random.default_rng(5).standard_normal((8, 1, 6, 6)).astype(np.float32)
    for _ in range(3):
        trained.forward(x)
    trained.save(tmp_path / "bn.npz")
    fresh = model().load(tmp_path / "bn.npz")
    for key, value in trained.state().items():
        np.testing.assert_array_equal(fresh.state()[key], value, err_msg=key)
    assert "1.running_var" in trained.state() and "5.running_mean" in trained.state()
    np.testing.assert_array_equal(fresh.predict(x), trained.predict(x))
