"""The speed paths of issue 16 against the general kernels and the loop reference: max pooling
whose windows tile the input, pooling before ReLU, a first conv that skips
its input gradient, and conv2d in batch chunks."""

import itertools

import numpy as np
import pytest

import cnnedu
from cnnedu import functional as F
from cnnedu import layers as L
from cnnedu import reference as R
from cnnedu.functional import conv as conv_module
from cnnedu.functional import pool as pool_module
from cnnedu.gradcheck import check_model, distinct_values
from cnnedu.zoo import mnist_cnn

# Kernels whose stride is the kernel (the tiling fast path), on even and odd sizes: odd sizes
# leave rows or columns that no window covers, which get no gradient.
TILE_KERNELS = [(2, 2), (3, 3), (2, 3), (1, 2), (3, 1), (1, 1)]
TILE_SIZES = [(4, 6), (5, 7), (6, 6), (7, 5), (3, 3)]


def general_max_pool(x, kernel):
    """The gather-and-reduce path, called directly (the public function takes the fast one)."""
    (OH, OW) = F.conv_output_size(x.shape[2:], kernel, kernel)
    windows = pool_module._pool_windows(pool_module.nhwc(x), *kernel, kernel, OH, OW)
    out = windows.max(axis=0)
    return out.transpose(0, 3, 1, 2), (x.shape, windows, out, *kernel, kernel)


def tied_values(rng, shape):
    """Small integers as floats: most pooling windows hold their maximum more than once."""
    return rng.integers(-2, 3, size=shape).astype(np.float64)


@pytest.mark.parametrize("kernel,size", list(itertools.product(TILE_KERNELS, TILE_SIZES)))
@pytest.mark.parametrize("values", ["distinct", "ties"])
def test_tiled_max_pool_matches_general_path_and_reference(kernel, size, values):
    rng = np.random.default_rng(sum(kernel) * 100 + sum(size))
    shape = (3, *size, 4)  # NHWC memory seen as NCHW, as a conv returns it
    x = distinct_values(rng, shape) if values == "distinct" else tied_values(rng, shape)
    x = x.transpose(0, 3, 1, 2)
    out, cache = F.max_pool2d_forward(x, kernel)
    assert cache[1].ndim == 6 and np.shares_memory(cache[1], x)  # the fast path: a view of x
    general_out, general_cache = general_max_pool(x, kernel)
    np.testing.assert_array_equal(out, general_out)
    np.testing.assert_array_equal(out, R.max_pool2d_forward(x, kernel))
    dout = rng.standard_normal(out.shape)
    dx = F.max_pool2d_backward(dout, cache)
    np.testing.assert_array_equal(dx, F.max_pool2d_backward(dout, general_cache))
    np.testing.assert_array_equal(dx, R.max_pool2d_backward(dout, x, kernel))
    if values == "ties":  # each window sends its gradient to one input, however many tie
        np.testing.assert_allclose(dx.sum(), dout.sum())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiled_max_pool_on_nhwc_memory_keeps_dtype_and_nan_rule(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 7, 3)).astype(dtype).transpose(0, 3, 1, 2)  # as conv returns
    x[0, 1, 2, 3] = np.nan
    out, cache = F.max_pool2d_forward(x, 2)
    assert out.dtype == dtype and np.isnan(out[0, 1, 1, 1])
    dx = F.max_pool2d_backward(np.ones_like(out), cache)
    assert dx.dtype == dtype and dx.shape == x.shape
    # the NaN window passes nothing; every other covered window passes exactly 1
    assert dx[0, 1, 2:4, 2:4].sum() == 0
    assert dx.sum() == out.size - 1
    assert not dx[:, :, 4, :].any() and not dx[:, :, :, 6].any()  # uncovered row and column


def test_pool_before_relu_gives_the_same_outputs_and_gradients():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    new = cnnedu.Sequential([
        L.Conv2D(1, 4, 3, padding=1, rng=0), L.MaxPool2D(2), L.ReLU(),
        L.Conv2D(4, 8, 3, padding=1, rng=1), L.MaxPool2D(2), L.ReLU(),
        L.Flatten(), L.Linear(8 * 7 * 7, 10, rng=2)])
    old_order = [new.layers[i] for i in (0, 2, 1, 3, 5, 4)] + new.layers[6:]
    old = cnnedu.Sequential(old_order)  # the same layer objects, ReLU before pooling
    loss = cnnedu.SoftmaxCrossEntropy()
    results = []
    for model in (old, new):
        scores = model.forward(x)
        model.backward(loss(scores, y)[1])
        results.append((scores, {k: g.copy() for k, g in model.grads.items()}))
    (old_scores, old_grads), (new_scores, new_grads) = results
    np.testing.assert_array_equal(new_scores, old_scores)
    for key in old_grads:
        np.testing.assert_array_equal(new_grads[key], old_grads[key])


def test_conv_without_input_gradient_gives_the_same_parameter_gradients():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, 6, 5))
    w, b = rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    out, cache = F.conv2d_forward(x, w, b, 1, 1)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = F.conv2d_backward(dout, cache)
    none, dw_only, db_only = F.conv2d_backward(dout, cache, input_grad=False)
    assert none is None
    np.testing.assert_array_equal(dw_only, dw)
    np.testing.assert_array_equal(db_only, db)
    np.testing.assert_allclose(dw, R.conv2d_backward(dout, x, w, 1, 1)[1], atol=1e-12)
    with pytest.raises(TypeError, match=r"conv2d_backward: input_grad must be True or False, "
                                        r"got 'no'"):
        F.conv2d_backward(dout, cache, "no")


def test_conv2d_layer_with_input_grad_false():
    layer = L.Conv2D(1, 4, 3, padding=1, rng=0, input_grad=False)
    twin = L.Conv2D(1, 4, 3, padding=1, rng=0)
    assert repr(layer) == ("Conv2D(1, 4, kernel_size=(3, 3), stride=1, padding=1, "
                           "input_grad=False)")
    x = np.random.default_rng(2).standard_normal((2, 1, 5, 5)).astype(np.float32)
    dy = np.ones((2, 4, 5, 5), np.float32)
    layer.forward(x)
    twin.forward(x)
    assert layer.backward(dy) is None and twin.backward(dy).shape == x.shape
    for key in ("W", "b"):
        np.testing.assert_array_equal(layer.grads[key], twin.grads[key])
    with pytest.raises(TypeError, match=r"Conv2D: input_grad must be True or False, got 0"):
        L.Conv2D(1, 4, 3, input_grad=0)


def test_mnist_cnn_pools_before_batch_norm_and_relu():
    names = [type(layer).__name__ for layer in mnist_cnn(0).layers]
    assert names == ["Conv2D", "MaxPool2D", "BatchNorm2D", "ReLU"] * 2 + [
        "Flatten", "Linear", "ReLU", "Linear"]


def test_mnist_cnn_skips_the_input_gradient_and_still_passes_check_model():
    model = mnist_cnn(0)
    assert model.layers[0].input_grad is False
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 1, 28, 28)).astype(np.float32)
    scores = model.forward(x)
    assert model.backward(np.ones_like(scores)) is None
    # A small model of the same pattern, checked in float64 (check_model checks parameters).
    small = cnnedu.Sequential([L.Conv2D(1, 2, 3, padding=1, rng=0, input_grad=False),
                               L.MaxPool2D(2), L.ReLU(), L.Flatten(),
                               L.Linear(2 * 3 * 3, 3, rng=0)])
    result = check_model(small, distinct_values(rng, (2, 1, 6, 6)), np.array([0, 2]),
                         cnnedu.SoftmaxCrossEntropy())
    assert max(result.values()) < 1e-6


@pytest.mark.parametrize("k,stride,pad",
                         [(3, 1, 1), (2, 2, 0), (3, 2, 1), ((2, 3), (1, 2), (0, 1))])
def test_conv_in_batch_chunks_matches_reference(monkeypatch, k, stride, pad):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 3, 6, 7))
    kh, kw = (k, k) if isinstance(k, int) else k
    w, b = rng.standard_normal((4, 3, kh, kw)), rng.standard_normal(4)
    out, cache = F.conv2d_forward(x, w, b, stride, pad)
    dout = rng.standard_normal(out.shape)
    whole = (out, *F.conv2d_backward(dout, cache))
    # One sample's im2col rows take OH*OW*kh*kw*C*8 bytes: 2 samples a chunk leaves 1 for the last.
    OH, OW = out.shape[2:]
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 2 * OH * OW * kh * kw * 3 * 8)
    assert [part.stop - part.start for part in
            conv_module._batch_chunks(5, OH * OW * kh * kw * 3 * 8)] == [2, 2, 1]
    out, cache = F.conv2d_forward(x, w, b, stride, pad)
    chunked = (out, *F.conv2d_backward(dout, cache))
    expected = (R.conv2d_forward(x, w, b, stride, pad),
                *R.conv2d_backward(dout, x, w, stride, pad))
    for got, same, reference in zip(chunked, whole, expected):
        np.testing.assert_allclose(got, same, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got, reference, rtol=1e-10, atol=1e-10)
