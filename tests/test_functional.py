"""The vectorised kernels against the loop reference, and their gradients against
numerical derivatives of the *reference* forward (so a wrong forward and a
backward that matches it cannot pass together)."""

import itertools

import numpy as np
import pytest

from cnnedu import functional as F
from cnnedu import reference as R
from cnnedu.gradcheck import numerical_gradient, numerical_gradient_array, rel_error

# Non-square input (5 x 7); kernel sizes 1-5, strides 1-3, paddings 0-2. Many
# of these do not divide the input, so some rows/columns are left uncovered.
CONV_SWEEP = [(k, s, p) for k, s, p in itertools.product(range(1, 6), range(1, 4), range(3))]
KERNEL_SHAPES = [(1, 1), (2, 3), (3, 1), (5, 4)]  # non-square kernels too


def conv_inputs(rng, kh, kw, C=2, F_out=3, N=2, H=5, W=7, dtype=np.float64):
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F_out, C, kh, kw)).astype(dtype)
    b = rng.standard_normal(F_out).astype(dtype)
    return x, w, b


@pytest.mark.parametrize("k,stride,pad", CONV_SWEEP)
def test_conv_matches_reference_forward_and_backward(k, stride, pad):
    rng = np.random.default_rng(k * 100 + stride * 10 + pad)
    x, w, b = conv_inputs(rng, k, k)
    out, cache = F.conv2d_forward(x, w, b, stride, pad)
    expected = R.conv2d_forward(x, w, b, stride, pad)
    assert out.shape == expected.shape == (2, 3, (5 + 2 * pad - k) // stride + 1,
                                           (7 + 2 * pad - k) // stride + 1)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    for fast, ref in zip(F.conv2d_backward(dout, cache), R.conv2d_backward(dout, x, w, stride, pad)):
        assert fast.shape == ref.shape
        np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kh,kw", KERNEL_SHAPES)
@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1), (3, 2)])
def test_conv_non_square_kernels_match_reference(kh, kw, stride, pad):
    rng = np.random.default_rng(kh * 10 + kw)
    x, w, b = conv_inputs(rng, kh, kw, H=6, W=5)
    out, cache = F.conv2d_forward(x, w, b, stride, pad)
    np.testing.assert_allclose(out, R.conv2d_forward(x, w, b, stride, pad), atol=1e-12)
    dout = rng.standard_normal(out.shape)
    for fast, ref in zip(F.conv2d_backward(dout, cache), R.conv2d_backward(dout, x, w, stride, pad)):
        np.testing.assert_allclose(fast, ref, atol=1e-12)


@pytest.mark.parametrize("k,stride,pad", CONV_SWEEP)
def test_conv_gradients_against_reference_forward(k, stride, pad):
    rng = np.random.default_rng(1000 + k * 100 + stride * 10 + pad)
    x, w, b = conv_inputs(rng, k, k, C=2, F_out=2)
    out, cache = F.conv2d_forward(x, w, b, stride, pad)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = F.conv2d_backward(dout, cache)
    ref = lambda: R.conv2d_forward(x, w, b, stride, pad)
    assert rel_error(dx, numerical_gradient_array(ref, x, dout)) < 1e-7
    assert rel_error(dw, numerical_gradient_array(ref, w, dout)) < 1e-7
    assert rel_error(db, numerical_gradient_array(ref, b, dout)) < 1e-7


POOL_SWEEP = [(k, s) for k, s in itertools.product(range(1, 5), range(1, 4))]


def distinct_values(rng, shape):
    """Values with no ties and gaps far above the finite-difference step."""
    return (rng.permutation(np.prod(shape)).reshape(shape) * 0.01 + 0.1).astype(np.float64)


@pytest.mark.parametrize("k,stride", POOL_SWEEP)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_matches_reference_and_gradients(kind, k, stride):
    rng = np.random.default_rng(k * 10 + stride)
    x = distinct_values(rng, (2, 3, 6, 7))
    fwd, bwd = getattr(F, f"{kind}_pool2d_forward"), getattr(F, f"{kind}_pool2d_backward")
    ref_fwd, ref_bwd = getattr(R, f"{kind}_pool2d_forward"), getattr(R, f"{kind}_pool2d_backward")
    out, cache = fwd(x, k, stride)
    np.testing.assert_allclose(out, ref_fwd(x, k, stride), atol=1e-12)
    dout = rng.standard_normal(out.shape)
    dx = bwd(dout, cache)
    np.testing.assert_allclose(dx, ref_bwd(dout, x, k, stride), atol=1e-12)
    assert rel_error(dx, numerical_gradient_array(lambda: ref_fwd(x, k, stride), x, dout)) < 1e-7


def test_max_pool_ties_route_to_exactly_one_position():
    x = np.ones((1, 1, 4, 4))
    out, cache = F.max_pool2d_forward(x, 2, 2)
    dx = F.max_pool2d_backward(np.ones_like(out), cache)
    # each 2x2 window sends its gradient to one input only: the first (top-left)
    assert dx.sum() == 4
    np.testing.assert_array_equal(dx[0, 0], [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(dx, R.max_pool2d_backward(np.ones_like(out), x, 2, 2))


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_activation_gradients(name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink of relu / leaky relu
    fwd, bwd = getattr(F, f"{name}_forward"), getattr(F, f"{name}_backward")
    out, cache = fwd(x)
    dout = rng.standard_normal(x.shape)
    num = numerical_gradient_array(lambda: fwd(x)[0], x, dout)
    assert rel_error(bwd(dout, cache), num) < 1e-7


def test_activation_values():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(F.relu_forward(x)[0], [0, 0, 0, 0.5, 2])
    np.testing.assert_allclose(F.leaky_relu_forward(x, 0.1)[0], [-0.2, -0.05, 0, 0.5, 2])
    np.testing.assert_allclose(F.sigmoid_forward(x)[0], 1 / (1 + np.exp(-x)))
    # no overflow warning and the right limits for huge inputs
    with np.errstate(over="raise"):
        np.testing.assert_allclose(F.sigmoid_forward(np.array([-1000.0, 1000.0]))[0], [0, 1])


def test_softmax_cross_entropy_value_gradient_and_stability():
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((6, 4))
    y = np.array([0, 1, 2, 3, 0, 1])
    loss, dscores = F.softmax_cross_entropy(scores, y)
    p = np.exp(scores) / np.exp(scores).sum(1, keepdims=True)
    assert loss == pytest.approx(-np.log(p[np.arange(6), y]).mean(), rel=1e-12)
    num = numerical_gradient(lambda: F.softmax_cross_entropy(scores, y)[0], scores)
    assert rel_error(dscores, num) < 1e-7
    # huge scores: the log-sum-exp trick keeps everything finite, with no epsilon
    big = np.array([[1000.0, 0.0], [0.0, -1000.0]])
    loss, d = F.softmax_cross_entropy(big, np.array([1, 1]))
    assert np.isfinite(loss) and np.isfinite(d).all()
    assert loss == pytest.approx(1000.0 / 2 + 1000.0 / 2)
    np.testing.assert_allclose(F.softmax(big).sum(axis=1), 1)


def test_float32_stays_float32():
    rng = np.random.default_rng(0)
    x, w, b = conv_inputs(rng, 3, 3, dtype=np.float32)
    out, cache = F.conv2d_forward(x, w, b, 1, 1)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in F.conv2d_backward(out, cache))
    for kind in ["max", "avg"]:
        out, cache = getattr(F, f"{kind}_pool2d_forward")(x)
        assert out.dtype == np.float32
        assert getattr(F, f"{kind}_pool2d_backward")(out, cache).dtype == np.float32
    for name in ["relu", "leaky_relu", "sigmoid", "tanh"]:
        out, cache = getattr(F, f"{name}_forward")(x)
        assert out.dtype == np.float32
        assert getattr(F, f"{name}_backward")(out, cache).dtype == np.float32
    loss, d = F.softmax_cross_entropy(x.reshape(2, -1), np.array([0, 1]))
    assert d.dtype == np.float32


@pytest.mark.parametrize("call,message", [
    (lambda x, w, b: F.conv2d_forward(x[0], w, b), r"x must have 4 dimensions \(N, C, H, W\), got shape \(2, 5, 7\)"),
    (lambda x, w, b: F.conv2d_forward(x, w[:, :1], b), "w expects 1 input channels, x has 2"),
    (lambda x, w, b: F.conv2d_forward(x, w, b, stride=0), "stride must be >= 1, got 0"),
    (lambda x, w, b: F.conv2d_forward(x, w, b, padding=-1), "padding must be >= 0, got -1"),
    (lambda x, w, b: F.conv2d_forward(x[:, :, :2, :2], w, b), "kernel 3x3 is larger than the padded input 2x2"),
    (lambda x, w, b: F.max_pool2d_forward(x, 8), "kernel 8x8 is larger than the padded input 5x7"),
    (lambda x, w, b: F.max_pool2d_forward(x, 2, 0), "stride must be >= 1, got 0"),
    (lambda x, w, b: F.conv2d_forward(x, w.astype(np.float32), b), "must share a dtype"),
    (lambda x, w, b: F.softmax_cross_entropy(x[:, 0, 0, :3], np.array([0, 3])), r"labels must be in \[0, 2\]"),
    (lambda x, w, b: F.softmax_cross_entropy(x[:, 0, 0, :3], np.array([0, 1, 2])), "2 samples but 3 labels"),
    (lambda x, w, b: F.softmax_cross_entropy(x[:, 0, 0, :3], np.array([0.0, 1.0])), "labels must be integers"),
])
def test_bad_inputs_raise_clear_errors(call, message):
    x, w, b = conv_inputs(np.random.default_rng(0), 3, 3)
    with pytest.raises((ValueError, TypeError), match=message):
        call(x, w, b)
