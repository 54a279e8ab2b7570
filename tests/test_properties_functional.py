"""Random arguments, good and bad, for every public function of cnnedu.functional.

Each test is parametrized by the argument it spoils (None: all valid), and
Hypothesis draws the rest: arrays of every rank, shape and dtype (float32/64,
int, uint8, bool, complex, object, float16), lists, None, strings, bools, NaN
and inf, zero sizes, and kernel, stride and padding of every type, sign and
size. Each call must end in one of two ways:

* a TypeError (wrong type or dtype) or ValueError (wrong rank, shape or value,
  or a window that does not fit) whose message starts with the function's
  name and names one of the arguments that are wrong; or
* a result equal to ``cnnedu.reference`` or to a formula, if every argument
  is valid.

Which arguments are wrong is decided by the small predicates below, written
from the rules in the docstring of ``cnnedu.functional``, not from its code
(random geometry often fails to fit even when no argument is spoilt). Anything
else fails the test: IndexError, AttributeError, a NumPy broadcasting error, a
valid call refused, a bad one accepted, a wrong number. The examples are
derandomized, so every run checks the same ~140 cases.
"""

import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnedu import functional as F
from cnnedu import reference as R

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
FLOATS = (np.float32, np.float64)
BAD_DTYPES = [np.int64, np.uint8, np.bool_, np.complex128, object, np.float16]
ODD_VALUES = [None, 1.0, 2.5, "2", True, False, (1.0, 2), (1, 2, 3), (2,), (True, 1),
              np.float64(1.0), np.array([1, 2])]
SIZES = st.sampled_from([2, 1, 0])  # batch and channel counts
LENGTHS = st.sampled_from([5, 3, 6, 4, 2, 1, 0])  # heights and widths


# ----------------------------------------------------------------------------
# What is valid: predicates returning {argument name: set of error types}
# ----------------------------------------------------------------------------

def is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def int_problems(value, minimum):
    return {TypeError} if not is_int(value) else {ValueError} if value < minimum else set()


def as_pair(value, minimum):
    """(pair, set()) for an int or a pair of ints >= minimum, else (None, {error type})."""
    if is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(map(is_int, value)):
        pair = (int(value[0]), int(value[1]))
    else:
        return None, {TypeError}
    return (None, {ValueError}) if min(pair) < minimum else (pair, set())


def array_problems(a, ndim=None, dtype=None):
    """TypeError for a non-array or a wrong dtype (float32/64, or exactly ``dtype``),
    ValueError for a wrong rank."""
    if not isinstance(a, np.ndarray):
        return {TypeError}
    found = set()
    if ndim is not None and a.ndim != ndim:
        found.add(ValueError)
    if (a.dtype != dtype) if dtype is not None else (a.dtype not in FLOATS):
        found.add(TypeError)
    return found


def fits(size, kernel, padding):
    return all(k <= n + 2 * p for n, k, p in zip(size, kernel, padding))


def out_size(size, kernel, stride, padding):
    return tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(size, kernel, stride, padding))


def conv_problems(x, w, b, stride, padding):
    problems = {"x": array_problems(x, 4)}
    dtype = None if problems["x"] else x.dtype
    problems["w"], problems["b"] = array_problems(w, 4, dtype), array_problems(b, 1, dtype)
    problems["stride"] = as_pair(stride, 1)[1]
    pads, problems["padding"] = as_pair(padding, 0)
    if not (problems["x"] or problems["w"] or problems["b"]):
        if w.shape[1] != x.shape[1] or min(w.shape[2:]) < 1:
            problems["w"] = {ValueError}
        if b.shape != w.shape[:1]:
            problems["b"] = {ValueError}
        if not any(problems.values()) and not fits(x.shape[2:], w.shape[2:], pads):
            problems["kernel"] = {ValueError}
    return problems


def pool_problems(x, kernel_size, stride):
    problems = {"x": array_problems(x, 4)}
    kernel, problems["kernel_size"] = as_pair(kernel_size, 1)
    problems["stride"] = set() if stride is None else as_pair(stride, 1)[1]
    if not any(problems.values()) and not fits(x.shape[2:], kernel, (0, 0)):
        problems["kernel"] = {ValueError}
    return problems


def alpha_problems(alpha):
    if is_int(alpha) and alpha > 2**1024:  # finite, but no float holds it
        return {ValueError}
    if not isinstance(alpha, (int, float, np.integer, np.floating)) or isinstance(alpha, bool):
        return {TypeError}
    return set() if alpha >= 0 and math.isfinite(float(alpha)) else {ValueError}


def scores_problems(scores, ndim=None):
    found = array_problems(scores, ndim)
    if not found and (scores.ndim == 0 or scores.shape[-1] == 0):
        found = {ValueError}
    return found


def label_problems(y, n, n_classes):
    if not isinstance(y, np.ndarray):
        return {TypeError}
    if y.ndim != 1:
        return {ValueError}
    if not np.issubdtype(y.dtype, np.integer):
        return {TypeError}
    if len(y) != n or (n and (y.min() < 0 or y.max() >= n_classes)):
        return {ValueError}
    return set()


def dout_problems(dout, out):
    found = array_problems(dout, None, out.dtype)
    if not found and dout.shape != out.shape:
        found = {ValueError}
    return {"dout": found}


def outcome(call, function, problems):
    """Run call(): a named error if some argument is wrong, else its result (None if it raised)."""
    problems = {name: kinds for name, kinds in problems.items() if kinds}
    try:
        result = call()
    except (TypeError, ValueError) as error:
        message = str(error)
        assert problems, f"valid arguments refused: {type(error).__name__}: {message}"
        assert message.startswith(f"{function}: "), f"{type(error).__name__}: {message}"
        named = [name for name, kinds in problems.items() if type(error) in kinds
                 and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", message)]
        assert named, f"{type(error).__name__}: {message!r} names none of {problems}"
        return None
    assert not problems, f"{function} accepted wrong arguments: {problems}"
    return result


def assert_close(actual, expected, dtype):
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert np.shape(actual) == np.shape(expected)
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


# ----------------------------------------------------------------------------
# Strategies: valid values, or spoilt ones
# ----------------------------------------------------------------------------

@st.composite
def arrays(draw, shape, dtype=None, spoil=False):
    """A float array of this shape, sometimes with a NaN or inf inside; if ``spoil``,
    a bad dtype, the other float dtype, another rank, a list or no array at all."""
    dtype = dtype or draw(st.sampled_from(FLOATS))
    a = np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal(shape).astype(dtype)
    if not spoil:
        if a.size and draw(st.sampled_from([False, False, True])):
            bad = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
            a.flat[draw(st.integers(0, a.size - 1))] = bad
        return a
    kind = draw(st.sampled_from(["dtype", "other float", "rank", "list", "other"]))
    if kind == "dtype":
        return a.astype(draw(st.sampled_from(BAD_DTYPES)))
    if kind == "other float":  # wrong where x's dtype is required
        return a.astype(np.float32 if dtype == np.float64 else np.float64)
    if kind == "rank":
        return a[..., 0] if a.ndim and a.shape[-1] and draw(st.booleans()) else a[None]
    return a.tolist() if kind == "list" else draw(st.sampled_from([None, 1.0, "x", 3]))


def geometry(minimum, spoil=False, none=False):
    """An int or a pair of ints >= minimum (or None if allowed); if ``spoil``,
    too small or not ints at all."""
    if spoil:
        return st.one_of(st.integers(minimum - 3, minimum - 1),
                         st.tuples(st.integers(minimum, 3), st.integers(minimum - 2, minimum - 1)),
                         st.sampled_from(ODD_VALUES))
    good = st.one_of(st.integers(minimum, 3),
                     st.tuples(st.integers(minimum, 3), st.integers(minimum, 3)),
                     st.sampled_from([np.int64(minimum + 1), [minimum, minimum + 1]]))
    return st.one_of(st.none(), good) if none else good


def lengths(minimum, spoil=False):
    """An int >= minimum; if ``spoil``, smaller, or not an int."""
    if spoil:
        return st.one_of(st.integers(minimum - 2, minimum - 1), st.sampled_from(ODD_VALUES))
    return st.one_of(st.integers(minimum, 3), st.just(np.int64(minimum + 1)))


@st.composite
def douts(draw, out):
    """Half the time a good upstream gradient for out; else a wrong shape, rank, dtype or type."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    dout = np.asarray(rng.standard_normal(np.shape(out)), dtype=out.dtype)
    kind = draw(st.sampled_from(["ok"] * 4 + ["shape", "rank", "dtype", "list"]))
    if kind == "shape":
        shape = list(dout.shape) or [0]
        axis = draw(st.integers(0, len(shape) - 1))
        shape[axis] += draw(st.sampled_from([-1, 1])) if shape[axis] else 1
        dout = np.zeros(shape, dtype=out.dtype)
    elif kind == "rank":
        dout = dout[None]
    elif kind == "dtype":
        dout = dout.astype(draw(st.sampled_from(BAD_DTYPES + [np.float32 if out.dtype == np.float64
                                                               else np.float64])))
    elif kind == "list":
        dout = dout.tolist()
    return dout


# ----------------------------------------------------------------------------
# Convolution and pooling: against cnnedu.reference
# ----------------------------------------------------------------------------

def check_conv2d(spoil, data):
    N, C, F_out, H, W = (data.draw(s) for s in (SIZES, SIZES, SIZES, LENGTHS, LENGTHS))
    kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    if spoil == "empty kernel":
        kh, kw = data.draw(st.sampled_from([(0, kw), (kh, 0)]))
    dtype = data.draw(st.sampled_from(FLOATS))
    x = data.draw(arrays((N, C, H, W), dtype, spoil == "x"))
    w = data.draw(arrays((F_out, C + (spoil == "channels"), kh, kw), dtype, spoil == "w"))
    b = data.draw(arrays((F_out + (spoil == "filters"),), dtype, spoil == "b"))
    other = np.float32 if dtype == np.float64 else np.float64  # wrong for w and b
    w = w.astype(other) if spoil == "w dtype" else w
    b = b.astype(other) if spoil == "b dtype" else b
    stride = data.draw(geometry(1, spoil == "stride"))
    padding = data.draw(geometry(0, spoil == "padding"))
    args = (x, w, b, stride, padding)
    result = outcome(lambda: F.conv2d_forward(*args), "conv2d_forward", conv_problems(*args))
    if result is None:
        return
    out, cache = result
    assert out.dtype == x.dtype
    assert_close(out, R.conv2d_forward(*args), x.dtype)
    dout = data.draw(douts(out))
    grads = outcome(lambda: F.conv2d_backward(dout, cache), "conv2d_backward",
                    dout_problems(dout, out))
    if grads is not None:
        for grad, expected in zip(grads, R.conv2d_backward(dout, *args[:2], stride, padding)):
            assert grad.dtype == x.dtype
            assert_close(grad, expected, x.dtype)


@settings(max_examples=8, **SETTINGS)
@given(data=st.data())
@np.errstate(all="ignore")
def test_conv2d_random_valid_arguments(data):
    check_conv2d(None, data)


@pytest.mark.parametrize("spoil", ["x", "w", "b", "w dtype", "b dtype", "stride", "padding",
                                   "channels", "filters", "empty kernel"])
@settings(max_examples=2, **SETTINGS)
@given(data=st.data())
@np.errstate(all="ignore")
def test_conv2d_random_bad_arguments(spoil, data):
    check_conv2d(spoil, data)


def check_pooling(kind, spoil, data):
    x = data.draw(arrays(tuple(data.draw(s) for s in (SIZES, SIZES, LENGTHS, LENGTHS)),
                         spoil=spoil == "x"))
    kernel_size = data.draw(geometry(1, spoil == "kernel_size"))
    stride = data.draw(geometry(1, spoil == "stride", none=True))
    forward, backward = f"{kind}_pool2d_forward", f"{kind}_pool2d_backward"
    result = outcome(lambda: getattr(F, forward)(x, kernel_size, stride), forward,
                     pool_problems(x, kernel_size, stride))
    if result is None:
        return
    out, cache = result
    assert out.dtype == x.dtype
    assert_close(out, getattr(R, forward)(x, kernel_size, stride), x.dtype)
    dout = data.draw(douts(out))
    dx = outcome(lambda: getattr(F, backward)(dout, cache), backward, dout_problems(dout, out))
    # The reference sends a NaN window's gradient to the NaN (np.argmax); documented: we send none.
    if dx is not None and not (kind == "max" and np.isnan(x).any()):
        assert dx.dtype == x.dtype
        assert_close(dx, getattr(R, backward)(dout, x, kernel_size, stride), x.dtype)


@pytest.mark.parametrize("kind", ["max", "avg"])
@settings(max_examples=6, **SETTINGS)
@given(data=st.data())
@np.errstate(all="ignore")
def test_pooling_random_valid_arguments(kind, data):
    check_pooling(kind, None, data)


@pytest.mark.parametrize("spoil", ["x", "kernel_size", "stride"])
@pytest.mark.parametrize("kind", ["max", "avg"])
@settings(max_examples=2, **SETTINGS)
@given(data=st.data())
@np.errstate(all="ignore")
def test_pooling_random_bad_arguments(kind, spoil, data):
    check_pooling(kind, spoil, data)


# ----------------------------------------------------------------------------
# Activations, softmax and the loss: against formulas in float64
# ----------------------------------------------------------------------------

GOOD_ALPHAS = st.one_of(st.floats(0, 2), st.integers(0, 2),
                        st.sampled_from([np.float32(0.2), np.int64(0)]))
BAD_ALPHAS = {"alpha type": st.sampled_from([True, "0.1", None, [0.1], np.bool_(True), 1j]),
              "alpha negative": st.one_of(st.floats(max_value=-1e-9, allow_infinity=False),
                                          st.integers(-3, -1)),
              "alpha not finite": st.sampled_from([np.inf, np.nan, -np.inf, 10**400])}
ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh"]


def activation_formulas(name, x, alpha):
    """(forward, backward) in float64, from the definitions."""
    x = x.astype(np.float64)
    if name == "relu":
        return np.where(np.isnan(x), np.nan, np.where(x > 0, x, 0)), lambda d: d * (x > 0)
    if name == "leaky_relu":
        return np.where(x > 0, x, alpha * x), lambda d: np.where(x > 0, d, alpha * d)
    if name == "sigmoid":
        s = 1 / (1 + np.exp(-x))
        return s, lambda d: d * s * (1 - s)
    t = np.tanh(x)
    return t, lambda d: d * (1 - t * t)


def check_activation(name, spoil, data):
    shape = data.draw(st.lists(st.sampled_from([3, 2, 1, 0]), max_size=3))
    x = data.draw(arrays(tuple(shape), spoil=spoil == "x"))
    alpha = data.draw(BAD_ALPHAS.get(spoil, GOOD_ALPHAS))
    problems = {"x": array_problems(x)}
    if name == "leaky_relu":
        problems["alpha"] = alpha_problems(alpha)
        forward = lambda: F.leaky_relu_forward(x, alpha)
    else:
        forward = lambda: getattr(F, f"{name}_forward")(x)
    result = outcome(forward, f"{name}_forward", problems)
    if result is None:
        return
    out, cache = result
    expected, gradient = activation_formulas(name, x, alpha)
    assert out.dtype == x.dtype
    assert_close(out, expected, x.dtype)
    dout = data.draw(douts(out))
    dx = outcome(lambda: getattr(F, f"{name}_backward")(dout, cache), f"{name}_backward",
                 dout_problems(dout, out))
    if dx is not None:
        assert dx.dtype == x.dtype
        assert_close(dx, gradient(dout.astype(np.float64)), x.dtype)


@pytest.mark.parametrize("name", ACTIVATIONS)
@settings(max_examples=3, **SETTINGS)
@given(data=st.data())
@np.errstate(all="ignore")
def test_activations_random_valid_arguments(name, data):
    check_activation(name, None, data)


@pytest.mark.parametrize("name,spoil", [(name, "x") for name in ACTIVATIONS]
                         + [("leaky_relu", spoil) for spoil in BAD_ALPHAS])
@settings(max_examples=2, **SETTINGS)
@given(data=st.data())
@np.errstate(all="ignore")
def test_activations_random_bad_arguments(name, spoil, data):
    check_activation(name, spoil, data)


def log_softmax64(scores):
    """log softmax in float64; rows holding NaN or +inf (or only -inf) come out NaN."""
    s = scores.astype(np.float64)
    top = s.max(axis=-1, keepdims=True)
    return s - top - np.log(np.exp(s - top).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("spoil", [None, "scores"])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@settings(max_examples=3, **SETTINGS)
@given(shape=st.lists(st.sampled_from([3, 2, 1, 0]), min_size=1, max_size=3), data=st.data())
@np.errstate(all="ignore")
def test_softmax_random_arguments(name, spoil, shape, data):
    scores = data.draw(arrays(tuple(shape), spoil=spoil == "scores"))
    result = outcome(lambda: getattr(F, name)(scores), name, {"scores": scores_problems(scores)})
    if result is not None:
        expected = log_softmax64(scores)
        assert result.dtype == scores.dtype
        assert_close(result, np.exp(expected) if name == "softmax" else expected, scores.dtype)


@st.composite
def labels(draw, N, K, spoil=False):
    """N labels in [0, K); if ``spoil``, out of range, one too many, not ints, not an array."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    y = rng.integers(0, max(K, 1), N)
    if not spoil:
        return y
    kind = draw(st.sampled_from(["range", "length", "float", "bool", "list", "2-D", "none"]))
    if kind == "range" and N:
        y[draw(st.integers(0, N - 1))] = draw(st.sampled_from([-1, K, K + 5]))
    elif kind == "length":
        y = rng.integers(0, max(K, 1), N + 1)
    elif kind in ("float", "bool"):
        y = y.astype(np.float64 if kind == "float" else bool)
    elif kind == "list":
        y = y.tolist()
    elif kind == "2-D":
        y = y[None]
    elif kind == "none":
        y = None
    return y


@pytest.mark.parametrize("spoil", [None, "scores", "labels", "no samples", "no classes"])
@settings(max_examples=3, **SETTINGS)
@given(N=st.integers(1, 3), K=st.integers(1, 4), data=st.data())
@np.errstate(all="ignore")
def test_softmax_cross_entropy_random_arguments(spoil, N, K, data):
    N = 0 if spoil == "no samples" else N
    K = 0 if spoil == "no classes" else K
    scores = data.draw(arrays((N, K), spoil=spoil == "scores"))
    y = data.draw(labels(N, K, spoil == "labels"))
    problems = {"scores": scores_problems(scores, 2)}
    if not problems["scores"]:
        problems["labels"] = label_problems(y, N, K)
        if not problems["labels"] and N == 0:
            problems["scores"] = {ValueError}  # the mean over no samples
    result = outcome(lambda: F.softmax_cross_entropy(scores, y), "softmax_cross_entropy", problems)
    if result is not None:
        loss, dscores = result
        logp = log_softmax64(scores)
        assert dscores.dtype == scores.dtype
        assert_close(loss, -logp[np.arange(N), y].mean(), scores.dtype)
        assert_close(dscores, (np.exp(logp) - np.eye(K)[y]) / N, scores.dtype)


# ----------------------------------------------------------------------------
# Geometry helpers: conv_output_size, im2col, col2im
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("spoil", [None, "size", "kernel_size", "stride", "padding"])
@settings(max_examples=3, **SETTINGS)
@given(data=st.data())
def test_conv_output_size_random_arguments(spoil, data):
    names, minima = ["size", "kernel_size", "stride", "padding"], [0, 1, 1, 0]
    arguments = [data.draw(geometry(minimum, spoil == name))
                 for name, minimum in zip(names, minima)]
    if spoil != "size":  # sizes up to 8, so that most windows fit
        arguments[0] = data.draw(st.one_of(st.integers(0, 8),
                                           st.tuples(st.integers(0, 8), st.integers(0, 8))))
    pairs, problems = zip(*[as_pair(value, minimum) for value, minimum in zip(arguments, minima)])
    problems = dict(zip(names, problems))
    if not any(problems.values()) and not fits(pairs[0], pairs[1], pairs[3]):
        problems["kernel_size"] = {ValueError}
    result = outcome(lambda: F.conv_output_size(*arguments), "conv_output_size", problems)
    if result is not None:
        expected = out_size(*pairs)
        if all(map(is_int, arguments)):
            assert type(result) is int and result == expected[0]
        else:
            assert result == expected and all(type(v) is int for v in result)


def im2col_loops(x, kh, kw, stride, padding):
    (sh, sw), (ph, pw) = stride, padding
    N, H, W, C = x.shape
    OH, OW = out_size((H, W), (kh, kw), stride, padding)
    padded = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    cols = np.zeros((N, OH, OW, kh, kw, C), dtype=x.dtype)
    for i, j, oh, ow in np.ndindex(kh, kw, OH, OW):
        cols[:, oh, ow, i, j] = padded[:, oh * sh + i, ow * sw + j]
    return cols


def col2im_loops(cols, H, W, stride, padding):
    (sh, sw), (ph, pw) = stride, padding
    N, OH, OW, kh, kw, C = cols.shape
    padded = np.zeros((N, H + 2 * ph, W + 2 * pw, C), dtype=cols.dtype)
    for i, j, oh, ow in np.ndindex(kh, kw, OH, OW):
        padded[:, oh * sh + i, ow * sw + j] += cols[:, oh, ow, i, j]
    return padded[:, ph:ph + H, pw:pw + W]


@pytest.mark.parametrize("spoil", [None, "x_nhwc", "kh", "kw", "stride", "padding"])
@settings(max_examples=2, **SETTINGS)
@given(data=st.data())
@np.errstate(all="ignore")
def test_im2col_random_arguments(spoil, data):
    x = data.draw(arrays(tuple(data.draw(s) for s in (SIZES, LENGTHS, LENGTHS, SIZES)),
                         spoil=spoil == "x_nhwc"))
    kh, kw = data.draw(lengths(1, spoil == "kh")), data.draw(lengths(1, spoil == "kw"))
    stride = data.draw(geometry(1, spoil == "stride"))
    padding = data.draw(geometry(0, spoil == "padding"))
    strides, pads = as_pair(stride, 1)[0], as_pair(padding, 0)[0]
    problems = {"x_nhwc": array_problems(x, 4), "kh": int_problems(kh, 1),
                "kw": int_problems(kw, 1), "stride": as_pair(stride, 1)[1],
                "padding": as_pair(padding, 0)[1]}
    if not any(problems.values()) and not fits(x.shape[1:3], (kh, kw), pads):
        problems["kernel"] = {ValueError}
    cols = outcome(lambda: F.im2col(x, kh, kw, stride, padding), "im2col", problems)
    if cols is not None:
        assert cols.dtype == x.dtype
        assert_close(cols, im2col_loops(x, kh, kw, strides, pads), x.dtype)


@pytest.mark.parametrize("spoil", [None, "cols", "H", "W", "stride", "padding", "windows"])
@settings(max_examples=2, **SETTINGS)
@given(data=st.data())
@np.errstate(all="ignore")
def test_col2im_random_arguments(spoil, data):
    # cols shaped for (H, W, kernel, stride, padding), then one argument spoilt
    H, W, kh, kw = (data.draw(s) for s in (LENGTHS, LENGTHS, st.integers(1, 3), st.integers(1, 3)))
    stride, padding = data.draw(geometry(1)), data.draw(geometry(0))
    strides, pads = as_pair(stride, 1)[0], as_pair(padding, 0)[0]
    OH, OW = (max(n, 0) for n in out_size((H, W), (kh, kw), strides, pads))
    shape = (data.draw(SIZES), OH + (spoil == "windows"), OW, kh, kw, data.draw(SIZES))
    cols = data.draw(arrays(shape, spoil=spoil == "cols"))
    H, W = (data.draw(lengths(0, True)) if spoil == name else value
            for name, value in [("H", H), ("W", W)])
    stride = data.draw(geometry(1, True)) if spoil == "stride" else stride
    padding = data.draw(geometry(0, True)) if spoil == "padding" else padding
    problems = {"cols": array_problems(cols, 6), "H": int_problems(H, 0), "W": int_problems(W, 0),
                "stride": as_pair(stride, 1)[1], "padding": as_pair(padding, 0)[1]}
    if not any(problems.values()):
        if not fits((H, W), (kh, kw), pads):
            problems["kernel"] = {ValueError}
        elif cols.shape[1:3] != out_size((H, W), (kh, kw), strides, pads):
            problems["cols"] = {ValueError}
    image = outcome(lambda: F.col2im(cols, H, W, stride, padding), "col2im", problems)
    if image is not None:
        assert image.dtype == cols.dtype
        assert_close(image, col2im_loops(cols, H, W, strides, pads), cols.dtype)
