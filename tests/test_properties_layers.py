"""Property-based tests (Hypothesis) for the layers, the losses and Sequential.

Each test draws arguments that are sometimes right and often wrong in one way
or another: wrong ranks and shapes, wrong dtypes (ints, uint8, bool, complex,
float16), things that are not arrays, floats where ints are needed, tuples of
the wrong length, strings, None, bools, NaN and inf, zero sizes, geometry
that does not fit. An independent *oracle* (plain NumPy: sliding windows,
einsum, the formulas) decides whether the call must succeed and what it must
return. Every case has to end in either

* a ValueError or TypeError whose message names an offending argument, or
* a result equal to the oracle's (same shape, dtype and values, NaN where
  IEEE arithmetic gives NaN).

A bare NumPy or Python error (IndexError, AttributeError, "need at least one
array to concatenate"...) or a result the oracle does not expect fails.

The examples are derandomized, so CI sees the same ~110 cases every run;
`pytest --hypothesis-show-statistics` shows which faults each test met.
"""

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

import cnnedu
from cnnedu import layers as L
from cnnedu.init import INITIALISERS

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
FLOAT_DTYPES = st.sampled_from([np.float32, np.float64])


def examples(n):
    return settings(max_examples=n, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def assert_names_argument(error, names):
    """The message of a ValueError/TypeError names one of ``names``."""
    event(f"refused: {type(error).__name__}")  # see pytest --hypothesis-show-statistics
    message = str(error)
    assert any(re.search(rf"\b{re.escape(name)}\b", message) for name in names), \
        f"{type(error).__name__} does not name any of {sorted(names)}: {message}"


def assert_same(result, expected):
    event("result checked against the oracle")
    assert isinstance(result, np.ndarray), type(result)
    assert result.shape == expected.shape, (result.shape, expected.shape)
    assert result.dtype == expected.dtype, (result.dtype, expected.dtype)
    tol = 1e-4 if result.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(result, expected, rtol=tol, atol=tol, equal_nan=True)


# ----------------------------------------------------------------------------
# Strategies
# ----------------------------------------------------------------------------

NON_ARRAYS = st.sampled_from([None, "x", 3.0, 2, True, [[1.0, 2.0]], (1.0,)])
OTHER_DTYPES = [np.int64, np.uint8, np.bool_, np.complex128, np.float16]
X_FAULTS = ["zero samples", "NaN or inf", "other shape", "other dtype", "not an array"]
LABEL_FAULTS = ["labels out of range", "labels too many or few", "labels float", "labels bool",
                "labels 2-D", "labels list", "labels None"]


def one_fault(faults):
    """One of ``faults`` to build into a call (shown by --hypothesis-show-statistics)."""
    return st.sampled_from(list(faults)).map(lambda fault: event(f"fault: {fault}") or fault)


@st.composite
def arrays_for(draw, shape, dtype=np.float32, fault="none"):
    """A float array of ``shape`` and ``dtype``, with ``fault`` built in (see X_FAULTS)."""
    if fault == "not an array":
        return draw(NON_ARRAYS)
    shape = tuple(shape)
    if fault == "zero samples":
        shape = (0, *shape[1:])
    if fault == "other shape":
        other_shapes = st.lists(st.integers(0, 5), max_size=5).map(tuple)
        shape = draw(other_shapes.filter(lambda s: s != shape))
    if fault == "other dtype":
        other_float = np.float64 if np.dtype(dtype) == np.float32 else np.float32
        dtype = draw(st.sampled_from([other_float, *OTHER_DTYPES]))
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dtype.kind == "f":
        x = np.asarray(rng.standard_normal(shape), dtype=dtype)
        if fault == "NaN or inf" and x.size:
            bad = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
            x.flat[draw(st.integers(0, x.size - 1))] = bad
    elif dtype.kind == "c":
        x = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    elif dtype.kind == "b":
        x = rng.random(shape) > 0.5
    else:
        x = rng.integers(0, 256 if dtype == np.uint8 else 4, shape).astype(dtype)
    return np.asarray(x)


@st.composite
def labels_for(draw, n, n_classes, fault="none"):
    """n integer labels in [0, n_classes), with ``fault`` built in (see LABEL_FAULTS)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y = rng.integers(0, n_classes, n).astype(draw(st.sampled_from([np.int64, np.int32, np.uint8])))
    if fault == "labels out of range" and n:
        y = y.astype(np.int64)
        y[draw(st.integers(0, n - 1))] = draw(st.sampled_from([-1, n_classes]))
    if fault == "labels too many or few":
        y = rng.integers(0, n_classes, max(0, n + draw(st.sampled_from([-1, 1]))))
    return {"labels float": lambda: y.astype(np.float64), "labels bool": lambda: y > 0,
            "labels 2-D": lambda: y[:, None], "labels list": lambda: y.tolist(),
            "labels None": lambda: None}.get(fault, lambda: y)()


def labels_ok(y, n, n_classes):
    return (isinstance(y, np.ndarray) and y.ndim == 1 and np.issubdtype(y.dtype, np.integer)
            and len(y) == n and (n == 0 or (y.min() >= 0 and y.max() < n_classes)))


int_or_pair = lambda low, high: st.one_of(st.integers(low, high),
                                          st.tuples(st.integers(low, high), st.integers(low, high)))

LAYERS = st.one_of(
    st.builds(lambda c, f, k, s, p, d: L.Conv2D(c, f, k, stride=s, padding=p, rng=0, dtype=d),
              st.integers(1, 3), st.integers(1, 3), int_or_pair(1, 3), int_or_pair(1, 2),
              int_or_pair(0, 1), st.sampled_from([np.float32, np.float64])),
    st.builds(L.MaxPool2D, int_or_pair(1, 3), st.none() | int_or_pair(1, 3)),
    st.builds(L.AvgPool2D, int_or_pair(1, 3), st.none() | int_or_pair(1, 3)),
    st.builds(lambda i, o, d: L.Linear(i, o, rng=0, dtype=d), st.integers(1, 6), st.integers(1, 4),
              st.sampled_from([np.float32, np.float64])),
    st.builds(L.ReLU), st.builds(L.Sigmoid), st.builds(L.Tanh),
    st.builds(L.LeakyReLU, st.floats(0, 1)),
    st.builds(L.Flatten),
    st.builds(lambda p: L.Dropout(p, rng=0), st.floats(0, 0.9)),
)


def input_shape_for(layer):
    """A shape (N, ...) the layer accepts."""
    if isinstance(layer, L.Conv2D):
        return (2, layer.in_channels, 5, 6)
    if isinstance(layer, L.Linear):
        return (3, layer.in_features)
    if isinstance(layer, (L.MaxPool2D, L.AvgPool2D, L.Flatten)):
        return (2, 2, 4, 5)
    return (3, 4)


# ----------------------------------------------------------------------------
# Oracles: what a layer must return, or None if it must refuse x
# ----------------------------------------------------------------------------

def windows(x, kernel, stride, padding=(0, 0)):
    """(N, C, OH, OW, kh, kw) windows of x, or None if the kernel does not fit."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if kh > x.shape[2] + 2 * ph or kw > x.shape[3] + 2 * pw:
        return None
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def oracle_forward(layer, x):
    if not isinstance(x, np.ndarray) or x.dtype not in FLOATS:
        return None
    if layer.params and x.dtype != layer.params["W"].dtype:
        return None
    if isinstance(layer, L.Conv2D):
        if x.ndim != 4 or x.shape[1] != layer.in_channels:
            return None
        W, b = layer.params["W"], layer.params["b"]
        win = windows(x, layer.kernel_size, pair(layer.stride), pair(layer.padding))
        return None if win is None else np.einsum("ncijkl,fckl->nfij", win, W) + b[:, None, None]
    if isinstance(layer, (L.MaxPool2D, L.AvgPool2D)):
        if x.ndim != 4:
            return None
        win = windows(x, pair(layer.kernel_size), pair(layer.stride))
        reduce = np.max if isinstance(layer, L.MaxPool2D) else np.mean
        return None if win is None else reduce(win, axis=(4, 5)).astype(x.dtype)
    if isinstance(layer, L.Linear):
        ok = x.ndim == 2 and x.shape[1] == layer.in_features
        return x @ layer.params["W"] + layer.params["b"] if ok else None
    if isinstance(layer, L.Flatten):
        return x.reshape(len(x), int(np.prod(x.shape[1:]))) if x.ndim >= 2 else None
    if isinstance(layer, L.LeakyReLU):
        return np.where(x > 0, x, x * x.dtype.type(layer.alpha))
    return {L.ReLU: lambda: np.maximum(x, 0), L.Tanh: lambda: np.tanh(x),
            L.Sigmoid: lambda: 1 / (1 + np.exp(-x)),
            L.Dropout: lambda: x}[type(layer)]()


# ----------------------------------------------------------------------------
# Layers: forward, backward, constructors
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("fault", ["none", *X_FAULTS])
@examples(5)
@given(data=st.data())
def test_layer_forward_gives_the_oracle_result_or_names_x(fault, data):
    layer = data.draw(LAYERS)
    dtype = layer.params["W"].dtype if layer.params else np.float32
    x = data.draw(arrays_for(input_shape_for(layer), dtype, fault))
    train = data.draw(st.booleans())
    with np.errstate(all="ignore"):
        expected = oracle_forward(layer, x)
        try:
            out = layer.forward(x, train=train)
        except (ValueError, TypeError) as error:
            assert expected is None, f"{layer!r} refused a valid input: {error}"
            assert_names_argument(error, {"x", "input"})
            return
    assert expected is not None, f"{layer!r} silently accepted {type(x).__name__} " \
                                 f"{getattr(x, 'dtype', '')} {getattr(x, 'shape', '')}"
    event("accepted")
    if isinstance(layer, L.Dropout) and train and layer.p > 0:
        assert set(np.unique(layer.mask)) <= {0, x.dtype.type(1) / x.dtype.type(1 - layer.p)}
        expected = x * layer.mask
    assert_same(out, expected)
    assert out.shape == tuple(layer.output_shape(x.shape))


BACKWARD_FAULTS = {"none": ["none", "NaN or inf"], "history": ["no forward", "eval forward"],
                   "dy": ["zero samples", "other shape", "other dtype", "not an array"]}


@pytest.mark.parametrize("group", BACKWARD_FAULTS)
@examples(5)
@given(data=st.data())
def test_layer_backward_checks_dy(group, data):
    layer = data.draw(LAYERS)
    dtype = layer.params["W"].dtype if layer.params else np.float32
    x = np.random.default_rng(0).standard_normal(input_shape_for(layer)).astype(dtype)
    fault = data.draw(one_fault(BACKWARD_FAULTS[group]))
    history = {"no forward": "none", "eval forward": "eval"}.get(fault, "train")
    out = None if history == "none" else layer.forward(x, train=history == "train")
    dy = data.draw(arrays_for(input_shape_for(layer) if out is None else out.shape, dtype, fault))
    no_cache = history == "none" or (history == "eval" and not isinstance(layer, L.Dropout))
    valid = (isinstance(dy, np.ndarray) and out is not None and dy.shape == out.shape
             and dy.dtype == out.dtype)
    with np.errstate(all="ignore"):
        try:
            dx = layer.backward(dy)
        except RuntimeError as error:
            assert no_cache, error
            assert "needs a forward(x, train=True) call first" in str(error)
            return
        except (ValueError, TypeError) as error:
            assert not no_cache and not valid, f"{layer!r} refused a valid dy: {error}"
            assert_names_argument(error, {"dy"})
            return
    assert not no_cache and valid, f"{layer!r} silently accepted dy {getattr(dy, 'shape', dy)}"
    event("accepted")
    assert dx.shape == x.shape and dx.dtype == x.dtype


WRONG_VALUES = st.one_of(
    st.integers(-3, 0), st.integers(-3, 0).map(np.int64),
    st.sampled_from([np.nan, np.inf, -np.inf, -1.5, 1.0, np.float32(-0.25)]),
    st.tuples(st.integers(-2, 3), st.integers(-2, 0)),
    st.lists(st.integers(-2, 0), min_size=2, max_size=2),
    st.sampled_from(["he2", "float16", "int64", np.int32, np.float16, np.uint8]),
)
WRONG_TYPES = st.one_of(
    st.booleans(), st.none(),
    st.sampled_from(["2", "same", "", b"he", 2.0, 0.5 + 1j, np.float32(3)]),
    st.lists(st.integers(1, 3), max_size=3).filter(lambda v: len(v) != 2).map(tuple),
    st.tuples(st.floats(1, 3), st.integers(1, 3)), st.just(np.zeros(2)),
    st.just(np.random.RandomState(0)),
)
VALUES = {"right": lambda name: RIGHT[name], "wrong value": lambda name: WRONG_VALUES,
          "wrong type": lambda name: WRONG_TYPES}

CONSTRUCTORS = {
    L.Conv2D: ["in_channels", "out_channels", "kernel_size", "stride", "padding", "init", "rng",
               "dtype"],
    L.MaxPool2D: ["kernel_size", "stride"],
    L.AvgPool2D: ["kernel_size", "stride"],
    L.Linear: ["in_features", "out_features", "init", "rng", "dtype"],
    L.LeakyReLU: ["alpha"],
    L.Dropout: ["p", "rng"],
}
COUNTS = st.integers(1, 4) | st.integers(1, 4).map(np.int64)
RIGHT = {
    "in_channels": COUNTS, "out_channels": COUNTS, "in_features": COUNTS, "out_features": COUNTS,
    "kernel_size": int_or_pair(1, 3) | st.lists(st.integers(1, 3), min_size=2, max_size=2),
    "stride": int_or_pair(1, 3), "padding": int_or_pair(0, 2),
    "init": st.sampled_from(sorted(INITIALISERS)) | st.floats(0.001, 1),
    "rng": st.none() | st.integers(0, 10) | st.builds(np.random.default_rng, st.integers(0, 10)),
    "dtype": st.sampled_from([np.float32, np.float64, "float64", np.dtype(np.float32)]),
    "alpha": st.floats(0, 5), "p": st.floats(0, 0.99),
}
GOOD = {"in_channels": 2, "out_channels": 3, "in_features": 3, "out_features": 2, "kernel_size": 2,
        "stride": 1, "padding": 0, "init": "he", "rng": 0, "dtype": np.float32, "alpha": 0.1,
        "p": 0.5}


def is_int(v, low):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= low


def is_real(v):
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def argument_ok(name, v):
    if name in ("in_channels", "out_channels", "in_features", "out_features"):
        return is_int(v, 1)
    if name in ("kernel_size", "stride", "padding"):
        low = 0 if name == "padding" else 1
        return is_int(v, low) or (isinstance(v, (tuple, list)) and len(v) == 2
                                  and all(is_int(e, low) for e in v))
    if name == "init":
        return (isinstance(v, str) and v in INITIALISERS) or (is_real(v) and 0 < v < np.inf)
    if name == "rng":
        return v is None or is_int(v, 0) or isinstance(v, np.random.Generator)
    if name == "dtype":
        return (isinstance(v, str) and v in ("float32", "float64")
                or isinstance(v, (type, np.dtype)) and v in (np.float32, np.float64))
    if name == "alpha":
        return is_real(v) and 0 <= v < np.inf
    if name == "p":
        return is_real(v) and 0 <= v < 1


@pytest.mark.parametrize("group", VALUES)
@examples(7)
@given(data=st.data())
def test_constructors_accept_right_arguments_and_name_wrong_ones(group, data):
    cls = data.draw(st.sampled_from(sorted(CONSTRUCTORS, key=lambda c: c.__name__)))
    names = CONSTRUCTORS[cls]
    kwargs = {n: GOOD[n] for n in names}
    for name in data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)):
        kwargs[name] = data.draw(VALUES[group](name))
    if cls in (L.MaxPool2D, L.AvgPool2D) and data.draw(st.booleans()):
        kwargs["stride"] = None  # the default: the kernel size
    bad = {n for n, v in kwargs.items() if not argument_ok(n, v)
           and not (n == "stride" and v is None and cls in (L.MaxPool2D, L.AvgPool2D))}
    try:
        layer = cls(**kwargs)
    except (ValueError, TypeError) as error:
        assert bad, f"{cls.__name__}({kwargs}) refused right arguments: {error}"
        assert_names_argument(error, bad)
        return
    accepted = ", ".join(f"{n}={kwargs[n]!r}" for n in bad)
    assert not bad, f"{cls.__name__} silently accepted {accepted}"
    event("accepted")
    if cls is L.Conv2D:
        assert layer.kernel_size == pair(kwargs["kernel_size"])
        assert pair(layer.stride) == pair(kwargs["stride"])
        assert layer.params["W"].dtype == np.dtype(kwargs["dtype"])
    if cls in (L.MaxPool2D, L.AvgPool2D):
        stride = kwargs["stride"] if kwargs["stride"] is not None else kwargs["kernel_size"]
        assert pair(layer.stride) == pair(stride)
    if cls is L.Dropout:
        assert layer.p == kwargs["p"]


# ----------------------------------------------------------------------------
# Losses
# ----------------------------------------------------------------------------

def oracle_loss(loss, scores, y):
    n, k = scores.shape
    s = scores.astype(np.float64)
    onehot = np.eye(k)[y]
    m = s.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(s - m).sum(axis=1, keepdims=True))
    return np.mean(lse[:, 0] - s[np.arange(n), y]), (np.exp(s - lse) - onehot) / n


@pytest.mark.parametrize("faults", [["none", "NaN or inf"], X_FAULTS, LABEL_FAULTS],
                         ids=["none", "scores", "labels"])
@examples(4)
@given(data=st.data())
def test_losses_give_the_oracle_result_or_name_the_argument(faults, data):
    n, k = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    loss = cnnedu.SoftmaxCrossEntropy()
    fault = data.draw(one_fault(faults))
    scores = data.draw(arrays_for((n, k), data.draw(FLOAT_DTYPES), fault))
    y = data.draw(labels_for(n, k, fault))
    scores_ok = (isinstance(scores, np.ndarray) and scores.dtype in FLOATS and scores.ndim == 2
                 and 0 not in scores.shape)
    bad = ({"scores"} if not scores_ok else set()) | (
        {"labels"} if not (scores_ok and labels_ok(y, *scores.shape)) else set())
    with np.errstate(all="ignore"):
        try:
            value, dscores = loss(scores, y)
        except (ValueError, TypeError) as error:
            assert bad, f"{loss!r} refused valid input: {error}"
            assert_names_argument(error, bad)
            return
        assert not bad, f"{loss!r} silently accepted bad {bad}"
        event("accepted")
        expected_value, expected_d = oracle_loss(loss, scores, y)
    assert dscores.dtype == scores.dtype and dscores.shape == scores.shape
    np.testing.assert_allclose(float(value), expected_value, rtol=1e-4, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(dscores, expected_d, rtol=1e-4, atol=1e-6, equal_nan=True)


# ----------------------------------------------------------------------------
# Sequential: forward / backward / scores / predict / accuracy / fit
# ----------------------------------------------------------------------------

def small_model():
    # (N, 1, 6, 6) -> conv 3x3 -> (N, 2, 4, 4) -> pool 2 -> (N, 2, 2, 2) -> 8 -> 3 classes
    return cnnedu.Sequential([L.Conv2D(1, 2, 3, rng=0), L.ReLU(), L.MaxPool2D(2), L.Flatten(),
                              L.Linear(8, 3, rng=0)])


def oracle_scores(model, x):
    """Scores of small_model for x, or None if it must refuse x."""
    conv, _, pool, _, linear = model.layers
    if not (isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim == 4
            and x.shape[1] == 1 and x.shape[2] >= 3 and x.shape[3] >= 3):
        return None
    h = oracle_forward(conv, x)
    h = np.maximum(h, 0)
    if h.shape[2] < 2 or h.shape[3] < 2:
        return None
    h = oracle_forward(pool, h)
    h = h.reshape(len(h), int(np.prod(h.shape[1:])))
    if h.shape[1] != 8:
        return None
    return oracle_forward(linear, h)


BATCH_SIZES = st.sampled_from([256, 1, 2, 3])
BAD_COUNTS = st.sampled_from([0, -1, 2.0, None, "4", True])


@pytest.mark.parametrize("faults", [["none", "NaN or inf"], X_FAULTS, ["batch_size"], LABEL_FAULTS],
                         ids=["none", "x", "batch_size", "labels"])
@examples(4)
@given(data=st.data())
def test_sequential_evaluation_gives_the_oracle_result_or_names_the_argument(faults, data):
    n = data.draw(st.integers(1, 4))
    fault = data.draw(one_fault(faults))
    methods = (["accuracy"] if fault in LABEL_FAULTS
               else ["scores", "predict", "accuracy", "forward+backward"])
    method = data.draw(st.sampled_from(methods))
    batch_size = data.draw(BAD_COUNTS if fault == "batch_size" else BATCH_SIZES)
    x = data.draw(arrays_for((n, 1, 6, 6), fault=fault))
    y = data.draw(labels_for(n, 3, fault))
    model = small_model()
    with np.errstate(all="ignore"):
        expected = oracle_scores(model, x)
    bad = set() if expected is not None else {"x", "input"}
    finite = expected is not None and np.isfinite(expected).all()
    if method != "forward+backward" and not is_int(batch_size, 1):
        bad.add("batch_size")
    if method in ("predict", "accuracy") and expected is not None and not finite:
        bad |= {"x"}  # argmax of NaN scores would silently say class 0
    if method == "accuracy" and not bad and (len(x) == 0 or not labels_ok(y, len(x), 3)):
        bad |= {"x"} if len(x) == 0 else {"labels"}
    with np.errstate(all="ignore"):
        try:
            if method == "forward+backward":
                out = model.forward(x)
                result = model.backward(np.ones_like(out))
            elif method == "accuracy":
                result = model.accuracy(x, y, batch_size=batch_size)
            else:
                result = getattr(model, method)(x, batch_size=batch_size)
        except (ValueError, TypeError) as error:
            assert bad, f"Sequential.{method} refused valid input: {error}"
            assert_names_argument(error, bad)
            return
    assert not bad, f"Sequential.{method} silently accepted bad {bad}"
    event("accepted")
    if method == "scores":
        assert_same(result, expected)
    elif method == "predict":
        assert result.shape == (len(x),) and np.issubdtype(result.dtype, np.integer)
        np.testing.assert_array_equal(result, expected.argmax(axis=1))
    elif method == "accuracy":
        assert result == pytest.approx(np.mean(expected.argmax(axis=1) == y))
    else:
        assert result.shape == x.shape and result.dtype == x.dtype


@pytest.mark.parametrize("faults", [["none", "zero samples"], X_FAULTS, LABEL_FAULTS,
                                    ["epochs", "batch_size", "rng"]],
                         ids=["none", "x", "labels", "epochs-batch_size-rng"])
@examples(4)
@given(data=st.data())
def test_sequential_fit_trains_or_names_the_argument(faults, data):
    n = data.draw(st.integers(1, 5))
    fault = data.draw(one_fault(faults))
    epochs = data.draw(BAD_COUNTS if fault == "epochs" else st.sampled_from([1, 2]))
    batch_size = data.draw(BAD_COUNTS if fault == "batch_size" else BATCH_SIZES)
    rng = data.draw(st.sampled_from([-1, 0.5, "0", True, np.random.RandomState(0)] if fault == "rng"
                                    else [0, None, np.random.default_rng(1)]))
    x = data.draw(arrays_for((n, 2, 2), fault=fault))
    y = data.draw(labels_for(n, 3, fault))
    model = cnnedu.Sequential([L.Flatten(), L.Linear(4, 3, rng=0)])
    x_ok = (isinstance(x, np.ndarray) and x.dtype in FLOATS and x.ndim >= 1 and len(x) > 0
            and np.isfinite(x).all())
    bad = set() if x_ok else {"x"}
    if x_ok and (x.dtype != np.float32 or x.ndim < 2 or np.prod(x.shape[1:]) != 4):
        bad |= {"x", "input"}  # refused by Flatten or Linear
    if not (x_ok and labels_ok(y, len(x), 3)):
        bad |= {"labels", "y"}
    if not is_int(epochs, 1):
        bad.add("epochs")
    if not is_int(batch_size, 1):
        bad.add("batch_size")
    if not (rng is None or isinstance(rng, np.random.Generator) or is_int(rng, 0)):
        bad.add("rng")
    with np.errstate(all="ignore"):
        before = oracle_forward(model.layers[1], x.reshape(len(x), -1)) if not bad else None
        try:
            history = model.fit(x, y, cnnedu.SGD(lr=0.1), epochs=epochs, batch_size=batch_size,
                                rng=rng, progress=False)
        except (ValueError, TypeError) as error:
            assert bad, f"fit refused valid input: {error}"
            assert_names_argument(error, bad)
            return
    assert not bad, f"fit silently accepted bad {bad}"
    event("accepted")
    assert len(history["loss"]) == epochs and np.isfinite(history["loss"]).all()
    if batch_size >= len(x):  # one full batch: the first loss is that of the initial weights
        expected, _ = oracle_loss(cnnedu.SoftmaxCrossEntropy(), before, y)
        assert history["loss"][0] == pytest.approx(expected, rel=1e-4)
    assert all(p.dtype == np.float32 for p in model.params.values())
