"""The exercise checks of chapters 5 (convolution) and 6 (pooling).

* The book's own solutions pass, over several seeds, loaded from the notebooks
  the way the grader loads a submission (definitions only).
* Plausible wrong answers fail on every seed, each with a hint that says what
  is wrong and gives no reference value: no number with more than two
  significant digits, and for the exercises that return integers, no number
  that the call itself does not contain.
* The private references of the checks agree with independent computations
  (cnnedu.functional, cnnedu.reference, a gradient probe).

Run: python -m pytest tests/test_exercises_ch05_ch06.py
"""

import re

import numpy as np
import pytest

from cnnedu import functional as F
from cnnedu import reference as R
from cnnedu.exercises import EXERCISES, check
from cnnedu.exercises import ch05_convolution as ch05
from cnnedu.exercises import ch06_pooling as ch06

from exercise_book import fails, functions, load_chapters, posed, stub

NOTEBOOKS = {5: "05_convolution.ipynb", 6: "06_pooling.ipynb"}
POSED = {
    5: {"ignored_inputs": (("ignored_inputs",), 1),
        "conv2d_backward": (("conv2d_forward", "conv2d_backward"), 3),
        "conv2d_dilated": (("conv2d_dilated",), 2)},
    6: {"max_pool2d_backward": (("max_pool2d_forward", "max_pool2d_backward"), 2),
        "avg_pool2d_padded": (("avg_pool2d_forward", "avg_pool2d_backward"), 2),
        "input_window": (("input_window",), 2)},
}
NAMES = [name for chapter in POSED.values() for name in chapter]
SEEDS = range(3)


@pytest.fixture(scope="module")
def book():
    """{chapter: namespace} of the definitions in chapters 5 and 6, as the grader loads them."""
    return load_chapters(NOTEBOOKS)


def test_the_chapters_pose_these_exercises():
    for chapter, expected in POSED.items():
        assert posed(chapter) == expected


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", NAMES)
def test_the_books_solution_passes(book, name, seed, capsys):
    check(name, *functions(book, name), rng=seed)
    assert f"✔ {name}: all checks passed" in capsys.readouterr().out


# ----------------------------------------------------------------------------
# Wrong answers fail, with a hint that gives nothing away
# ----------------------------------------------------------------------------

def _fails(book, name, seeds=range(5), **replaced):
    return fails(book, name, seeds, 2, **replaced)


@pytest.mark.parametrize("name", NAMES)
def test_the_blankstub_is_not_implemented(book, name):
    ex = EXERCISES[name]
    solved = [f for f in ex.functions if f.endswith("backward") or len(ex.functions) == 1
              or name == "avg_pool2d_padded"]
    for message in _fails(book, name, seeds=[0], **{f: stub for f in solved}):
        assert "not implemented yet" in message


# chapter 5 -------------------------------------------------------------------

def _integer_hint_is_clean(message):
    """An integer exercise's message shows the call, the learner's value and a hint in words."""
    hint = message.split("which is wrong", 1)[1]
    assert not re.search(r"\d", hint), f"the hint contains a number: {message}"


def test_ignored_inputs_wrong_answers(book):
    def remainder(size, kernel_size, stride=1, padding=0):   # counts padding as input
        return (size + 2 * padding - kernel_size) % stride

    def past_last_window(size, kernel_size, stride=1, padding=0):   # misses the gaps
        return max((size + 2 * padding - kernel_size) % stride - padding, 0)

    def as_float(size, kernel_size, stride=1, padding=0):
        return float(book[5]["ignored_inputs"](size, kernel_size, stride, padding))

    for message in _fails(book, "ignored_inputs", ignored_inputs=remainder):
        assert "returned" in message and "which is wrong" in message
        _integer_hint_is_clean(message)
    for message in _fails(book, "ignored_inputs", ignored_inputs=past_last_window):
        assert "what lies between two windows" in message
        _integer_hint_is_clean(message)
    for message in _fails(book, "ignored_inputs", ignored_inputs=as_float):
        assert "should return an int" in message


def _conv_backward_variant(transpose_dout=True, add=True, cut=True, transpose_dw=True):
    """conv2d_backward for the book's cache, with one of four realistic bugs switched on."""
    def conv2d_backward(dout, cache):
        (N, C, H, W), w, cols, stride, padding = cache
        F_, _, kh, kw = w.shape
        OH, OW = dout.shape[2:]
        rows = (dout.transpose(0, 2, 3, 1) if transpose_dout else dout).reshape(N * OH * OW, F_)
        db = rows.sum(axis=0)
        dw = ((rows.T @ cols) if transpose_dw else (cols.T @ rows)).reshape(w.shape)
        dcols = (rows @ w.reshape(F_, -1)).reshape(N, OH, OW, C, kh, kw)
        dx = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
        for p, q in np.ndindex(kh, kw):
            window = dcols[..., p, q].transpose(0, 3, 1, 2)
            target = (slice(None), slice(None), slice(p, p + stride * OH, stride),
                      slice(q, q + stride * OW, stride))
            if add:
                dx[target] += window
            else:
                dx[target] = window
        return dx[:, :, padding:padding + H, padding:padding + W] if cut else dx, dw, db
    return conv2d_backward


def test_the_bug_variants_are_the_solution_when_switched_off(book):
    check("conv2d_backward", book[5]["conv2d_forward"], _conv_backward_variant(), rng=0)


@pytest.mark.parametrize("bug, hint", [
    ({"transpose_dout": False}, r"(dx|dw): relative error"),   # reshape where it must transpose
    ({"add": False}, r"dx: relative error"),                   # col2im copies instead of adding
    ({"cut": False}, r"dx: expected shape"),                   # padding left on dx
    ({"transpose_dw": False}, r"dw: relative error"),          # dw in the wrong order
])
def test_conv2d_backward_wrong_answers(book, bug, hint):
    for message in _fails(book, "conv2d_backward", conv2d_backward=_conv_backward_variant(**bug)):
        assert re.search(hint, message), message


def test_conv2d_dilated_wrong_answers(book):
    conv2d_forward = book[5]["conv2d_forward"]

    def undilated(x, w, b, stride=1, padding=0, dilation=1):
        return conv2d_forward(x, w, b, stride, padding)[0]

    def spread(w, span, dilation):
        F_, C, kh, kw = w.shape
        out = np.zeros((F_, C, *span), dtype=w.dtype)
        out[:, :, ::dilation, ::dilation][:, :, :kh, :kw] = w
        return out

    def span_too_long(x, w, b, stride=1, padding=0, dilation=1):     # D * K instead of D(K-1)+1
        _, _, kh, kw = w.shape
        return conv2d_forward(x, spread(w, (dilation * kh, dilation * kw), dilation), b,
                              stride, padding)[0]

    def taps_together(x, w, b, stride=1, padding=0, dilation=1):     # right size, taps not spread
        F_, C, kh, kw = w.shape
        big = np.zeros((F_, C, dilation * (kh - 1) + 1, dilation * (kw - 1) + 1), dtype=w.dtype)
        big[:, :, :kh, :kw] = w
        return conv2d_forward(x, big, b, stride, padding)[0]

    def with_cache(x, w, b, stride=1, padding=0, dilation=1):
        return book[5]["conv2d_dilated"](x, w, b, stride, padding, dilation), None

    def in_float64(x, w, b, stride=1, padding=0, dilation=1):
        return book[5]["conv2d_dilated"](x, w, b, stride, padding, dilation).astype(np.float64)

    for wrong, hint in [(undilated, "expected shape"), (span_too_long, "expected shape"),
                        (taps_together, "relative error"), (with_cache, "is a tuple"),
                        (in_float64, "expected dtype float32")]:
        for message in _fails(book, "conv2d_dilated", conv2d_dilated=wrong):
            assert hint in message, message


# chapter 6 -------------------------------------------------------------------

def test_max_pool2d_backward_wrong_answers(book):
    def overwrites(dout, cache):          # = instead of +=: overlapping windows lose gradient
        x_shape, winner, k, s = cache
        OH, OW = dout.shape[2:]
        dx = np.zeros(x_shape)
        for i, j in np.ndindex(k, k):
            target = dx[:, :, i:i + s * OH:s, j:j + s * OW:s]
            won = winner == i * k + j
            target[won] = dout[won]
        return dx

    def transposed_offset(dout, cache):   # decodes offset i * k + j as (j, i)
        x_shape, winner, k, s = cache
        OH, OW = dout.shape[2:]
        dx = np.zeros(x_shape)
        for i, j in np.ndindex(k, k):
            dx[:, :, i:i + s * OH:s, j:j + s * OW:s] += np.where(winner == j * k + i, dout, 0)
        return dx

    def spreads(dout, cache):             # average pooling's backward pass
        x_shape, _, k, s = cache
        OH, OW = dout.shape[2:]
        dx = np.zeros(x_shape)
        for i, j in np.ndindex(k, k):
            dx[:, :, i:i + s * OH:s, j:j + s * OW:s] += dout / k ** 2
        return dx

    for wrong in (overwrites, transposed_offset, spreads):
        for message in _fails(book, "max_pool2d_backward", max_pool2d_backward=wrong):
            assert "dx: relative error" in message, message


def test_avg_pool2d_padded_wrong_answers(book):
    forward, backward = book[6]["avg_pool2d_forward"], book[6]["avg_pool2d_backward"]

    def counts_padding(x, kernel_size=2, stride=None, padding=0):   # count_include_pad=True
        out, cache = forward(x, kernel_size, stride, padding)
        x_shape, counts, k, s, p = cache
        full = np.full_like(counts, k * k)
        return out * counts / full, (x_shape, full, k, s, p)

    def backward_ignores_counts(dout, cache):                       # dout / K^2 everywhere
        x_shape, counts, k, s, p = cache
        return backward(dout, (x_shape, np.full_like(counts, k * k), k, s, p))

    def no_padding(x, kernel_size=2, stride=None, padding=0):
        return forward(x, kernel_size, stride, 0)

    for replaced, hint in [({"avg_pool2d_forward": counts_padding},
                            "the mean is over the input values|each window's mean is over"),
                           ({"avg_pool2d_backward": backward_ignores_counts}, "dx: relative error"),
                           ({"avg_pool2d_forward": no_padding}, "out: expected shape")]:
        for message in _fails(book, "avg_pool2d_padded", **replaced):
            assert re.search(hint, message), message


def test_input_window_wrong_answers(book):
    def ignores_padding(layers, index):
        first = last = index
        for kernel_size, stride, _ in reversed(layers):
            first, last = first * stride, last * stride + kernel_size - 1
        return first, last

    def first_layer_last(layers, index):       # walks the stack in the wrong order
        first = last = index
        for kernel_size, stride, padding in layers:
            first, last = first * stride - padding, last * stride - padding + kernel_size - 1
        return first, last

    def as_floats(layers, index):
        return tuple(float(v) for v in book[6]["input_window"](layers, index))

    for message in _fails(book, "input_window", input_window=ignores_padding):
        assert "right length but is in the wrong place" in message
        _integer_hint_is_clean(message)
    for message in _fails(book, "input_window", input_window=first_layer_last):
        assert "which is wrong" in message
        _integer_hint_is_clean(message)
    for message in _fails(book, "input_window", input_window=as_floats):
        assert "should return an int" in message


# ----------------------------------------------------------------------------
# The checks' private references against independent computations
# ----------------------------------------------------------------------------

def test_ignored_inputs_reference_matches_im2col():
    """Count the positions that cnnedu's im2col copies into no window."""
    for size in range(3, 16):
        for kernel in range(1, 6):
            for stride in range(1, 5):
                for padding in range(0, 3):
                    if size + 2 * padding < kernel:
                        continue
                    x = np.arange(1.0, size + 1).reshape(1, size, 1, 1)     # NHWC, 0 = padding
                    cols = F.im2col(x, kernel, 1, stride=(stride, 1), padding=(padding, 0))
                    read = set(cols.ravel().tolist()) - {0.0}
                    assert ch05._ignored_inputs(size, kernel, stride, padding) == size - len(read)


def test_every_ignored_inputs_geometry_can_be_drawn():
    rng = np.random.default_rng(0)
    for name, test in ch05._GEOMETRIES:
        size, kernel, stride, padding = ch05._geometry(rng, test)
        assert test(size, kernel, stride, padding, (size + 2 * padding - kernel) % stride), name


def _dilated_by_definition(x, w, b, stride, padding, dilation):
    """out[n, f, i, j] = b[f] + sum over c, p, q of w[f, c, p, q] times the padded input at
    (stride * i + dilation * p, stride * j + dilation * q): one filter offset at a time."""
    N, C, H, W = x.shape
    Fn, _, kh, kw = w.shape
    OH = (H + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    OW = (W + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((N, Fn, OH, OW)) + b[:, None, None]
    for p, q in np.ndindex(kh, kw):
        top, left = p * dilation, q * dilation
        patch = x_pad[:, :, top:top + stride * (OH - 1) + 1:stride,
                      left:left + stride * (OW - 1) + 1:stride]
        out += np.einsum("nchw,fc->nfhw", patch, w[:, :, p, q])
    return out


def test_dilated_reference_matches_the_definition():
    rng = np.random.default_rng(1)
    for dilation, stride, padding, (kh, kw) in [(1, 1, 0, (3, 3)), (1, 2, 1, (2, 3)),
                                                (2, 1, 2, (3, 3)), (3, 2, 1, (2, 3))]:
        x = rng.standard_normal((2, 3, 11, 10))
        w = rng.standard_normal((4, 3, kh, kw))
        b = rng.standard_normal(4)
        expected = _dilated_by_definition(x, w, b, stride, padding, dilation)
        got = ch05._conv2d_dilated(x, w, b, stride, padding, dilation)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    # With dilation 1 it is an ordinary convolution: the loop twin in cnnedu.reference.
    x, w, b = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 2)), np.ones(4)
    np.testing.assert_allclose(ch05._conv2d_dilated(x, w, b, 2, 1, 1),
                               R.conv2d_forward(x, w, b, 2, 1), rtol=1e-12, atol=1e-12)


def test_padded_average_reference_matches_a_convolution():
    """Window sums of x over window sums of the input's indicator, both by cnnedu's conv."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 7, 6))
    np.testing.assert_allclose(ch06._avg_pool_padded(x, 3, 2, 0), R.avg_pool2d_forward(x, 3, 2))
    for kernel, stride, padding in [(2, 2, 1), (3, 1, 1), (3, 2, 1), (4, 3, 2), (5, 2, 2)]:
        ones, zero = np.ones((1, 1, kernel, kernel)), np.zeros(1)
        sums = F.conv2d_forward(x.reshape(6, 1, 7, 6), ones, zero, stride, padding)[0]
        counts = F.conv2d_forward(np.ones((1, 1, 7, 6)), ones, zero, stride, padding)[0]
        expected = (sums / counts).reshape(2, 3, *sums.shape[2:])
        np.testing.assert_allclose(ch06._avg_pool_padded(x, kernel, stride, padding), expected,
                                   rtol=1e-12, atol=1e-12)


def test_input_window_reference_matches_a_gradient_probe():
    """Send a gradient back from one output through a stack of all-ones convolutions along
    one axis: the input positions it reaches lie in the window, and where the window lies
    inside the input, they reach its first and last position. (A stride larger than the
    kernel can leave gaps inside it.)"""
    rng = np.random.default_rng(3)
    length, inside = 90, 0
    for _ in range(60):
        layers = ch06._stack(rng)
        h, caches = np.ones((1, 1, length, 1)), []
        for kernel, stride, padding in layers:
            if h.shape[2] + 2 * padding < kernel:
                break
            h, cache = F.conv2d_forward(h, np.ones((1, 1, kernel, 1)), np.zeros(1),
                                        (stride, 1), (padding, 0))
            caches.append(cache)
        else:
            index = int(rng.integers(0, h.shape[2]))
            g = np.zeros(h.shape)
            g[0, 0, index, 0] = 1.0
            for cache in reversed(caches):
                g = F.conv2d_backward(g, cache)[0]
            reached = np.nonzero(g[0, 0, :, 0])[0]
            first, last = ch06._input_window(layers, index)
            assert all(first <= r <= last for r in reached.tolist())
            if 0 <= first and last < length:
                inside += 1
                assert (reached.min(), reached.max()) == (first, last), (layers, index)
    assert inside >= 10
