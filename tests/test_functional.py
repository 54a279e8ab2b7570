"""The vectorised kernels against the loop reference, and their gradients against
numerical derivatives of the *reference* forward (so a wrong forward and a
backward that matches it cannot pass together). Then what each kernel accepts
and the exact errors for what it does not (random bad input: see
test_properties_functional.py)."""

import itertools

import numpy as np
import pytest

from cnnedu import functional as F
from cnnedu import reference as R
from cnnedu._checks import pair
from cnnedu.gradcheck import (away_from_zero, distinct_values, numerical_gradient,
                              numerical_gradient_array, rel_error)

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
    for fast, ref in zip(F.conv2d_backward(dout, cache),
                         R.conv2d_backward(dout, x, w, stride, pad)):
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
    for fast, ref in zip(F.conv2d_backward(dout, cache),
                         R.conv2d_backward(dout, x, w, stride, pad)):
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


# Pairs (height, width) for the stride and the padding, as in PyTorch.
CONV_PAIR_SWEEP = [((2, 3), (1, 2), (0, 1)), ((3, 2), (2, 1), (1, 0)), ((1, 4), (3, 1), (2, 2)),
                   ((4, 1), (1, 3), (1, 2)), ((3, 3), (2, 2), (1, 1)), ((2, 2), 2, (0, 2))]


@pytest.mark.parametrize("kernel,stride,pad", CONV_PAIR_SWEEP)
def test_conv_stride_and_padding_pairs_match_reference_and_gradients(kernel, stride, pad):
    rng = np.random.default_rng(sum(kernel) * 7 + 3)
    x, w, b = conv_inputs(rng, *kernel, F_out=2, H=6, W=7)
    out, cache = F.conv2d_forward(x, w, b, stride, pad)
    (sh, sw), (ph, pw) = pair(stride, "stride"), pair(pad, "padding")
    assert out.shape == (2, 2, (6 + 2 * ph - kernel[0]) // sh + 1,
                         (7 + 2 * pw - kernel[1]) // sw + 1)
    np.testing.assert_allclose(out, R.conv2d_forward(x, w, b, stride, pad), atol=1e-12)
    dout = rng.standard_normal(out.shape)
    grads = F.conv2d_backward(dout, cache)
    ref = lambda: R.conv2d_forward(x, w, b, stride, pad)
    for grad, ref_grad, param in zip(grads, R.conv2d_backward(dout, x, w, stride, pad), (x, w, b)):
        np.testing.assert_allclose(grad, ref_grad, atol=1e-12)
        assert rel_error(grad, numerical_gradient_array(ref, param, dout)) < 1e-7


def test_int_and_pair_geometry_agree():
    rng = np.random.default_rng(5)
    x, w, b = conv_inputs(rng, 3, 3)
    np.testing.assert_array_equal(F.conv2d_forward(x, w, b, 2, 1)[0],
                                  F.conv2d_forward(x, w, b, (2, 2), [1, 1])[0])
    np.testing.assert_array_equal(F.max_pool2d_forward(x, 2)[0],
                                  F.max_pool2d_forward(x, (2, 2), (2, 2))[0])
    np.testing.assert_array_equal(F.conv2d_forward(x, w, b, np.int64(2), np.int32(1))[0],
                                  F.conv2d_forward(x, w, b, 2, 1)[0])


POOL_SWEEP = [(k, s) for k, s in itertools.product(range(1, 5), range(1, 4))]
# Non-square windows and strides; None is the default stride (the kernel size).
POOL_PAIR_SWEEP = [((2, 3), None), ((3, 2), None), ((1, 3), None), ((2, 3), (1, 2)),
                   ((2, 3), (2, 1)), ((3, 1), (2, 3)), ((2, 2), (1, 3)), (2, (3, 1)),
                   ((4, 2), (1, 1)), ((1, 1), (2, 3))]


@pytest.mark.parametrize("k,stride", POOL_SWEEP + POOL_PAIR_SWEEP)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_matches_reference_and_gradients(kind, k, stride):
    rng = np.random.default_rng((POOL_SWEEP + POOL_PAIR_SWEEP).index((k, stride)))
    x = distinct_values(rng, (2, 3, 6, 7))  # no ties: gaps far above the finite-difference step
    fwd, bwd = getattr(F, f"{kind}_pool2d_forward"), getattr(F, f"{kind}_pool2d_backward")
    ref_fwd, ref_bwd = getattr(R, f"{kind}_pool2d_forward"), getattr(R, f"{kind}_pool2d_backward")
    out, cache = fwd(x, k, stride)
    (kh, kw) = pair(k, "k")
    (sh, sw) = (kh, kw) if stride is None else pair(stride, "stride")
    assert out.shape == (2, 3, (6 - kh) // sh + 1, (7 - kw) // sw + 1)
    np.testing.assert_allclose(out, ref_fwd(x, k, stride), atol=1e-12)
    dout = rng.standard_normal(out.shape)
    dx = bwd(dout, cache)
    np.testing.assert_allclose(dx, ref_bwd(dout, x, k, stride), atol=1e-12)
    assert rel_error(dx, numerical_gradient_array(lambda: ref_fwd(x, k, stride), x, dout)) < 1e-7


def test_non_square_pool_defaults_to_its_own_stride():
    # Issue 12: a (2, 3) window used to move by 2 in both directions.
    x = np.arange(36.0).reshape(1, 1, 4, 9)
    for kind, expected in [("max", [[11, 14, 17], [29, 32, 35]]),
                           ("avg", [[5.5, 8.5, 11.5], [23.5, 26.5, 29.5]])]:
        out, cache = getattr(F, f"{kind}_pool2d_forward")(x, (2, 3))
        np.testing.assert_array_equal(out[0, 0], expected)
        np.testing.assert_array_equal(out,
                                      getattr(F, f"{kind}_pool2d_forward")(x, (2, 3), (2, 3))[0])
        np.testing.assert_array_equal(out, getattr(R, f"{kind}_pool2d_forward")(x, (2, 3)))
        dx = getattr(F, f"{kind}_pool2d_backward")(np.ones_like(out), cache)
        assert dx.sum() == pytest.approx(6)  # the windows tile the input: each output passes 1


def test_max_pool_ties_route_to_exactly_one_position():
    x = np.ones((1, 1, 4, 4))
    out, cache = F.max_pool2d_forward(x, 2, 2)
    dx = F.max_pool2d_backward(np.ones_like(out), cache)
    # each 2x2 window sends its gradient to one input only: the first (top-left)
    assert dx.sum() == 4
    np.testing.assert_array_equal(dx[0, 0],
                                  [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(dx, R.max_pool2d_backward(np.ones_like(out), x, 2, 2))


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_activation_gradients(name):
    rng = np.random.default_rng(0)
    x = away_from_zero(rng, (4, 5))  # away from the kink of relu / leaky relu
    fwd, bwd = getattr(F, f"{name}_forward"), getattr(F, f"{name}_backward")
    out, cache = fwd(x)
    dout = rng.standard_normal(x.shape)
    num = numerical_gradient_array(lambda: fwd(x)[0], x, dout)
    assert rel_error(bwd(dout, cache), num) < 1e-7


def test_activation_values():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(F.relu_forward(x)[0], [0, 0, 0, 0.5, 2])
    np.testing.assert_allclose(F.leaky_relu_forward(x, 0.1)[0], [-0.2, -0.05, 0, 0.5, 2])
    np.testing.assert_allclose(F.leaky_relu_forward(x, 0)[0], F.relu_forward(x)[0])
    np.testing.assert_allclose(F.sigmoid_forward(x)[0], 1 / (1 + np.exp(-x)))
    # no overflow warning and the right limits for huge inputs
    with np.errstate(over="raise"):
        np.testing.assert_allclose(F.sigmoid_forward(np.array([-1000.0, 1000.0]))[0], [0, 1])


def test_nan_and_inf_go_through_as_documented():
    x = np.array([-np.inf, -1.0, np.nan, 1.0, np.inf])
    np.testing.assert_array_equal(F.relu_forward(x)[0], [0, 0, np.nan, 1, np.inf])
    np.testing.assert_array_equal(F.leaky_relu_forward(x, 0.5)[0],
                                  [-np.inf, -0.5, np.nan, 1, np.inf])
    np.testing.assert_array_equal(F.sigmoid_forward(x)[0][[0, 2, 4]], [0, np.nan, 1])
    np.testing.assert_array_equal(F.tanh_forward(x)[0][[0, 2, 4]], [-1, np.nan, 1])
    # -inf scores are probability 0; a NaN or +inf score makes its row NaN, never a wrong number
    with np.errstate(invalid="ignore"):  # NumPy warns about inf - inf
        p = F.softmax(np.array([[0.0, -np.inf], [np.inf, 0.0], [np.nan, 0.0]]))
        loss, _ = F.softmax_cross_entropy(np.array([[np.inf, 0.0]]), np.array([1]))
    np.testing.assert_array_equal(p[0], [1, 0])
    assert np.isnan(p[1:]).all()
    assert np.isnan(loss)
    # max pooling: a NaN wins its window and passes no gradient
    x = np.array([[[[1.0, np.nan], [3.0, 2.0]]]])
    out, cache = F.max_pool2d_forward(x, 2)
    assert np.isnan(out).all()
    np.testing.assert_array_equal(F.max_pool2d_backward(np.ones_like(out), cache), np.zeros_like(x))


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
    np.testing.assert_allclose(F.log_softmax(big), [[0, -1000], [0, -1000]])


def test_float32_stays_float32():
    rng = np.random.default_rng(0)
    x, w, b = conv_inputs(rng, 3, 3, dtype=np.float32)
    out, cache = F.conv2d_forward(x, w, b, 1, 1)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in F.conv2d_backward(out, cache))
    for kind in ["max", "avg"]:
        out, cache = getattr(F, f"{kind}_pool2d_forward")(x, (2, 3))
        assert out.dtype == np.float32
        assert getattr(F, f"{kind}_pool2d_backward")(out, cache).dtype == np.float32
    for name in ["relu", "leaky_relu", "sigmoid", "tanh"]:
        out, cache = getattr(F, f"{name}_forward")(x)
        assert out.dtype == np.float32
        assert getattr(F, f"{name}_backward")(out, cache).dtype == np.float32
    loss, d = F.softmax_cross_entropy(x.reshape(2, -1), np.array([0, 1]))
    assert d.dtype == np.float32
    assert F.softmax(x).dtype == F.log_softmax(x).dtype == np.float32


# ----------------------------------------------------------------------------
# Geometry helpers: conv_output_size, im2col, col2im
# ----------------------------------------------------------------------------

def test_conv_output_size_ints_and_pairs():
    assert F.conv_output_size(28, 3, 1, 1) == 28
    assert F.conv_output_size(7, 3, 2) == 3
    assert type(F.conv_output_size(np.int64(7), 3)) is int
    assert F.conv_output_size((28, 9), (3, 5), (1, 2), (1, 0)) == (28, 3)
    assert F.conv_output_size((28, 9), 3) == (26, 7)
    assert F.conv_output_size(9, (3, 5)) == (7, 5)
    assert F.conv_output_size(0, 1, 1, 1) == 2  # padding alone holds windows


def test_im2col_col2im_pairs_and_adjoint():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 7, 3))
    cols = F.im2col(x, 2, 3, stride=(1, 2), padding=(1, 0))
    assert cols.shape == (2, 6, 3, 2, 3, 3)
    padded = np.pad(x, ((0, 0), (1, 1), (0, 0), (0, 0)))
    np.testing.assert_array_equal(cols[1, 4, 2, 1, 2], padded[1, 4 * 1 + 1, 2 * 2 + 2])
    c = rng.standard_normal(cols.shape)
    # col2im is the adjoint of im2col: <im2col(x), c> == <x, col2im(c)>
    assert np.sum(cols * c) == pytest.approx(np.sum(x * F.col2im(c, 5, 7, (1, 2), (1, 0))),
                                             rel=1e-12)


# ----------------------------------------------------------------------------
# Zero samples
# ----------------------------------------------------------------------------

def test_zero_samples_give_empty_outputs_and_gradients():
    rng = np.random.default_rng(0)
    x, w, b = conv_inputs(rng, 3, 2, N=0)
    out, cache = F.conv2d_forward(x, w, b, (2, 1), 1)
    assert out.shape == (0, 3, 3, 8) and out.dtype == x.dtype
    dx, dw, db = F.conv2d_backward(np.zeros(out.shape), cache)
    assert dx.shape == x.shape
    np.testing.assert_array_equal(dw, np.zeros_like(w))
    np.testing.assert_array_equal(db, np.zeros_like(b))
    for kind in ["max", "avg"]:
        out, cache = getattr(F, f"{kind}_pool2d_forward")(x, (2, 3))
        assert out.shape == (0, 2, 2, 2)
        assert getattr(F, f"{kind}_pool2d_backward")(np.zeros(out.shape), cache).shape == x.shape
    for name in ["relu", "leaky_relu", "sigmoid", "tanh"]:
        out, cache = getattr(F, f"{name}_forward")(x)
        assert out.shape == x.shape
        assert getattr(F, f"{name}_backward")(np.zeros(x.shape), cache).shape == x.shape
    assert F.softmax(np.zeros((0, 4))).shape == F.log_softmax(np.zeros((0, 4))).shape == (0, 4)
    assert F.im2col(np.zeros((0, 4, 4, 2)), 2, 2).shape == (0, 3, 3, 2, 2, 2)
    assert F.col2im(np.zeros((0, 3, 3, 2, 2, 2)), 4, 4).shape == (0, 4, 4, 2)
    with pytest.raises(ValueError,
                       match=r"softmax_cross_entropy: scores has no samples \(shape \(0, 4\)\)"):
        F.softmax_cross_entropy(np.zeros((0, 4)), np.zeros(0, dtype=np.int64))


# ----------------------------------------------------------------------------
# dout must have the shape and dtype of the forward output
# ----------------------------------------------------------------------------

def test_conv_backward_names_the_expected_dout_shape():
    # Issue 12: this reached NumPy's "matmul: ... size 9 is different from 14".
    x, w, b = np.zeros((1, 1, 4, 9)), np.zeros((2, 1, 3, 3)), np.zeros(2)
    out, cache = F.conv2d_forward(x, w, b)
    with pytest.raises(ValueError,
                       match=r"^conv2d_backward: dout has shape \(1, 2, 3, 3\), expected "
                             r"\(1, 2, 2, 7\) \(the shape of the forward output\)$"):
        F.conv2d_backward(np.ones((1, 2, 3, 3)), cache)
    with pytest.raises(ValueError,
                       match=r"conv2d_backward: dout has shape \(1, 2, 3, 3\), "
                             r"expected \(1, 2, 2, 7\)"):
        R.conv2d_backward(np.ones((1, 2, 3, 3)), x, w)


def _forward_calls(x):
    """(name, forward call returning (out, cache)) for every kernel with a backward."""
    w, b = np.ones((2, x.shape[1], 3, 2)), np.zeros(2)
    return [("conv2d", lambda: F.conv2d_forward(x, w, b, (1, 2), 1)),
            ("max_pool2d", lambda: F.max_pool2d_forward(x, (2, 3))),
            ("avg_pool2d", lambda: F.avg_pool2d_forward(x, 2, (1, 2))),
            ("relu", lambda: F.relu_forward(x)),
            ("leaky_relu", lambda: F.leaky_relu_forward(x, 0.1)),
            ("sigmoid", lambda: F.sigmoid_forward(x)),
            ("tanh", lambda: F.tanh_forward(x))]


@pytest.mark.parametrize("index", range(7))
def test_every_backward_checks_dout(index):
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 6))
    name, forward = _forward_calls(x)[index]
    backward = getattr(F, f"{name}_backward")
    out, cache = forward()
    shape = str(out.shape).replace("(", r"\(").replace(")", r"\)")
    for bad in [out[:1], out[..., :-1], out[0], np.ones((*out.shape, 1))]:
        got = str(bad.shape).replace("(", r"\(").replace(")", r"\)")
        with pytest.raises(ValueError,
                           match=rf"^{name}_backward: dout has shape {got}, expected {shape} "
                                 r"\(the shape of the forward output\)$"):
            backward(np.ascontiguousarray(bad), cache)
    with pytest.raises(TypeError,
                       match=rf"^{name}_backward: dout has dtype float32, expected float64 "
                             r"\(the dtype of the forward output\); convert with "
                             r"`dout.astype\(np.float64\)`$"):
        backward(out.astype(np.float32), cache)
    with pytest.raises(TypeError,
                       match=r"dout has dtype int64, expected float64 "
                             r"\(the dtype of the forward output\)"):
        backward(np.ones(out.shape, dtype=np.int64), cache)
    with pytest.raises(TypeError,
                       match=rf"^{name}_backward: dout must be a NumPy array of shape {shape} and "
                             r"dtype float64 \(those of the forward output\), got list$"):
        backward(out.tolist(), cache)
    assert backward(np.ones_like(out), cache) is not None  # the right dout still works


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_reference_pool_backward_checks_dout(kind):
    x = np.zeros((1, 2, 4, 9))
    with pytest.raises(ValueError,
                       match=r"_pool2d_backward: dout has shape \(1, 2, 2, 4\), expected "
                             r"\(1, 2, 2, 3\) \(the shape of the forward output\)"):
        getattr(R, f"{kind}_pool2d_backward")(np.zeros((1, 2, 2, 4)), x, (2, 3))


# ----------------------------------------------------------------------------
# Arguments of the wrong type or value: each message names the argument, what
# it got and what was expected.
# ----------------------------------------------------------------------------

X, W, B = conv_inputs(np.random.default_rng(0), 3, 3)  # x (2, 2, 5, 7), w (3, 2, 3, 3), b (3,)
S = X[:, 0, 0, :3]  # scores (2, 3)

BAD_CALLS = [
    # ranks, shapes and channel counts
    (lambda: F.conv2d_forward(X[0], W, B), ValueError,
     r"conv2d_forward: x must have 4 dimensions \(N, C, H, W\), got shape \(2, 5, 7\)"),
    (lambda: F.conv2d_forward(X, W[:, :1], B), ValueError, "w expects 1 input channels, x has 2"),
    (lambda: F.conv2d_forward(X, W[0], B), ValueError,
     r"w must have 4 dimensions \(F, C, kh, kw\), got shape \(2, 3, 3\)"),
    (lambda: F.conv2d_forward(X, W, B[:2]), ValueError,
     r"b must have shape \(3,\), one bias per filter, got \(2,\)"),
    (lambda: F.conv2d_forward(X, W[:, :, :0], B), ValueError,
     r"w must have kh, kw >= 1, got shape \(3, 2, 0, 3\)"),
    (lambda: F.max_pool2d_forward(X[0]), ValueError,
     r"max_pool2d_forward: x must have 4 dimensions"),
    # geometry values
    (lambda: F.conv2d_forward(X, W, B, stride=0), ValueError,
     "conv2d_forward: stride must be >= 1, got 0"),
    (lambda: F.conv2d_forward(X, W, B, stride=(1, 0)), ValueError,
     r"stride must be >= 1, got \(1, 0\)"),
    (lambda: F.conv2d_forward(X, W, B, padding=-1), ValueError, "padding must be >= 0, got -1"),
    (lambda: F.conv2d_forward(X[:, :, :2, :2], W, B), ValueError,
     r"kernel 3x3 is larger than the padded input 2x2 \(input 2x2, padding 0\)"),
    (lambda: F.conv2d_forward(X[:, :, :2], W, B, padding=(0, 1)), ValueError,
     r"kernel 3x3 is larger than the padded input 2x9 \(input 2x7, padding \(0, 1\)\)"),
    (lambda: F.max_pool2d_forward(X, 8), ValueError,
     "kernel 8x8 is larger than the padded input 5x7"),
    (lambda: F.max_pool2d_forward(X, (2, 8)), ValueError,
     "kernel 2x8 is larger than the padded input 5x7"),
    (lambda: F.max_pool2d_forward(X, 2, 0), ValueError,
     "max_pool2d_forward: stride must be >= 1, got 0"),
    (lambda: F.avg_pool2d_forward(X, 0), ValueError,
     "avg_pool2d_forward: kernel_size must be >= 1, got 0"),
    (lambda: F.conv_output_size(3, 5), ValueError,
     "conv_output_size: kernel_size 5 is larger than size 3 plus twice padding 0: no window fits"),
    (lambda: F.conv_output_size(-1, 1), ValueError, "conv_output_size: size must be >= 0, got -1"),
    (lambda: F.col2im(np.zeros((1, 2, 2, 3, 3, 1)), 5, 5), ValueError,
     r"col2im: cols must have 3x3 windows \(OH, OW\) for a 5x5 input, kernel 3x3, stride \(1, 1\), "
     r"padding \(0, 0\), got 2x2"),
    # geometry types: an int or a pair of ints, bools are not ints
    (lambda: F.conv2d_forward(X, W, B, padding=1.0), TypeError,
     r"conv2d_forward: padding must be an int or a pair \(height, width\) of ints, got 1.0"),
    (lambda: F.conv2d_forward(X, W, B, stride=True), TypeError,
     r"stride must be an int or a pair \(height, width\) of ints, got True"),
    (lambda: F.conv2d_forward(X, W, B, stride=(1, 2, 3)), TypeError,
     r"stride must be .*, got \(1, 2, 3\)"),
    (lambda: F.conv2d_forward(X, W, B, stride="2"), TypeError,
     r"stride must be an int or a pair \(height, width\) of ints, got '2'"),
    (lambda: F.max_pool2d_forward(X, 2.0), TypeError,
     r"kernel_size must be an int or a pair \(height, width\) of ints, got 2.0"),
    (lambda: F.avg_pool2d_forward(X, 2, (2, 1.5)), TypeError,
     r"stride must be an int or a pair \(height, width\) of ints, got \(2, 1.5\)"),
    (lambda: F.conv_output_size(28, 3, None), TypeError,
     "conv_output_size: stride must be an int or a pair"),
    (lambda: F.im2col(X, 3.0, 3), TypeError,
     r"im2col: \(kh, kw\) must be an int or a pair \(height, width\) of ints, got \(3.0, 3\)"),
    (lambda: F.col2im(np.zeros((1, 3, 3, 3, 3, 1)), 5, None), TypeError,
     r"col2im: \(H, W\) must be an int"),
    # arrays: type and dtype; w and b must have x's dtype
    (lambda: F.conv2d_forward(X, W, list(B)), TypeError,
     r"conv2d_forward: b must be a NumPy array of float64 \(the dtype of x\), got list"),
    (lambda: F.conv2d_forward(X, W.astype(np.float32), B), TypeError,
     r"conv2d_forward: w has dtype float32, expected float64 \(the dtype of x\); "
     r"convert with `w.astype\(np.float64\)`$"),
    (lambda: F.conv2d_forward(X, W, B.astype(int)), TypeError,
     r"b has dtype int64, expected float64 \(the dtype of x\)"),
    (lambda: F.conv2d_forward((X * 255).astype(np.uint8), W, B), TypeError,
     r"x has dtype uint8, expected float32 or float64; "
     r"convert with `x.astype\(np.float32\) / 255`"),
    (lambda: F.max_pool2d_forward(X.astype(np.int32)), TypeError,
     r"x has dtype int32, expected float32 or float64; convert with `x.astype\(np.float32\)`"),
    (lambda: F.relu_forward(X > 0), TypeError,
     r"relu_forward: x has dtype bool, expected float32 or float64"),
    (lambda: F.sigmoid_forward(X.astype(complex)), TypeError,
     "sigmoid_forward: x has dtype complex128, expected float32 or float64$"),
    (lambda: F.tanh_forward([1.0, 2.0]), TypeError,
     "tanh_forward: x must be a NumPy array of float32 or float64, got list"),
    (lambda: F.im2col(X.astype(np.float16), 2, 2), TypeError,
     "im2col: x_nhwc has dtype float16, expected float32 or float64"),
    # leaky_relu's alpha: a finite real number >= 0
    (lambda: F.leaky_relu_forward(X, -0.1), ValueError,
     "leaky_relu_forward: alpha must be finite and >= 0, got -0.1"),
    (lambda: F.leaky_relu_forward(X, np.inf), ValueError, "alpha must be finite and >= 0, got inf"),
    (lambda: F.leaky_relu_forward(X, 10**400), ValueError,
     "alpha must be finite and >= 0, got 1000"),
    (lambda: F.leaky_relu_forward(X, "0.1"), TypeError,
     "leaky_relu_forward: alpha must be a real number, got '0.1'"),
    (lambda: F.leaky_relu_forward(X, True), TypeError, "alpha must be a real number, got True"),
    # softmax and the loss
    (lambda: F.softmax(np.float64(1.0)), TypeError,
     "softmax: scores must be a NumPy array of float32 or float64, got float64"),
    (lambda: F.softmax(np.array(1.0)), ValueError,
     r"softmax: scores must have at least one class .*got shape \(\)"),
    (lambda: F.log_softmax(np.zeros((2, 0))), ValueError,
     r"log_softmax: scores must have at least one class along the last axis, got shape \(2, 0\)"),
    (lambda: F.softmax_cross_entropy(S[0], np.array([0])), ValueError,
     r"softmax_cross_entropy: scores must have 2 dimensions \(N, K\), got shape \(3,\)"),
    (lambda: F.softmax_cross_entropy(S.astype(int), np.array([0, 1])), TypeError,
     "scores has dtype int64, expected float32 or float64"),
    (lambda: F.softmax_cross_entropy(S, np.array([0, 3])), ValueError,
     r"labels must be in \[0, 2\]"),
    (lambda: F.softmax_cross_entropy(S, np.array([0, 1, 2])), ValueError, "2 samples but 3 labels"),
    (lambda: F.softmax_cross_entropy(S, np.array([0.0, 1.0])), TypeError,
     "labels must be integers"),
    (lambda: F.softmax_cross_entropy(S, [0, 1]), TypeError,
     "labels must be a 1-D integer NumPy array, got list"),
    (lambda: F.softmax_cross_entropy(S, np.array([[0, 1]])), ValueError,
     r"labels must be a 1-D integer array, got shape \(1, 2\)"),
]


@pytest.mark.parametrize("call,error,message", BAD_CALLS)
def test_bad_inputs_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ----------------------------------------------------------------------------
# The package's shape: every public name still imports, in the one docstring style
# ----------------------------------------------------------------------------

def test_every_kernel_is_exported_and_documents_raises_and_chapter():
    from cnnedu.functional import conv2d_forward, softmax  # as chapters 3 and 5 import them
    assert conv2d_forward is F.conv2d_forward and softmax is F.softmax
    names = [(F, name) for name in F.__all__ if name != "BatchNormCache"]
    names += [(R,
               name) for name in dir(R) if not name.startswith("_") and callable(getattr(R, name))
              and getattr(R, name).__module__ == R.__name__]
    assert len(names) == 22 + 7
    for module, name in names:
        doc = getattr(module, name).__doc__ or ""
        assert "Raises" in doc and "Chapter" in doc, f"{module.__name__}.{name}: {doc[:80]!r}"
