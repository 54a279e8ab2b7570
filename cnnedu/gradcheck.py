"""Numerical gradient checking by central differences (chapter 4; chapters 2-6 use it).

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h)

The truncation error is O(h^2) and the rounding error O(eps / h), so
h = 1e-5 balances them in float64. What to expect from ``rel_error`` between
an analytic gradient and this estimate:

===========================  ===================  ===================
situation                    float64 (h = 1e-5)   float32 (h = 1e-2)
===========================  ===================  ===================
correct, smooth function     1e-10 or smaller     about 1e-3 to 1e-4
correct, input near a kink   up to 1e-2 or more:  worse
(ReLU at 0, max-pool tie)    move x (see below)
wrong gradient               1e-2 to 1
===========================  ===================  ===================

So check in float64, keep inputs away from kinks, and read anything above
1e-7 as a bug. float32 has only ~7 significant digits, which is why a
float32 check cannot tell a small bug from rounding noise.

**Kinks are detected.** Where a function has a kink within h of an input
(ReLU or LeakyReLU at 0, two values within h of each other at the top of a
max-pool window), there is no derivative to check, and a correct backward
can show an error of 0.1 or more. ``check_layer`` and ``check_model`` find
such entries without knowing the layer: they compare the one-sided slopes
(f(x + h) - f(x)) / h and (f(x) - f(x - h)) / h, which agree to about
h * f'' on a smooth function and differ by about the size of the gradient
at a kink. An entry is *near a kink* when they differ by more than
100 * h times the largest gradient (plus rounding noise). Then a
``KinkWarning`` names the layer, the number of such entries and the error
over the other entries, which tells you whether your backward or your input
is to blame, and the returned ``GradCheckResult`` records the same numbers.
A kink that the step h only just reaches can slip through, but the relative
error it causes is then below 50 * h (5e-4 for h = 1e-5).

**Randomness is fixed.** Before every forward pass, the checks put back the
state of every NumPy ``Generator`` stored on a layer (Dropout's ``rng``) and
of ``np.random``'s global generator, so Dropout draws the same mask every
time and the check sees one fixed function (and ``np.random`` is left as it
was). A forward pass that still gives two different results raises ValueError.

Sources: CS231n notes, "Neural Networks Part 3" (gradient checks, kinks);
J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed. (2006), §8.1.
"""

import copy
import warnings

import numpy as np

from ._checks import as_generator

__all__ = ["rel_error", "numerical_gradient", "numerical_gradient_array", "check_layer",
           "check_model", "GradCheckResult", "KinkWarning", "away_from_zero", "distinct_values"]

CORRECT = 1e-7  # a correct gradient checks below this in float64 with h = 1e-5


class KinkWarning(UserWarning):
    """A gradient check met inputs within h of a kink, where no derivative exists."""


class GradCheckResult(dict):
    """``{name: relative error}`` from ``check_layer`` or ``check_model``, plus two records.

    ``near_kink[name]``: how many entries of that array are within h of a
    kink; ``away_from_kinks[name]``: the relative error over the other
    entries (NaN if there are none). Without kinks it equals ``self[name]``.
    """

    def __init__(self):
        super().__init__()
        self.near_kink, self.away_from_kinks = {}, {}


# -- argument checks ------------------------------------------------------------

def _real_array(value, name, who):
    """value as an array of ints or floats, or TypeError naming the argument."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):  # ragged lists
        array = None
    if array is None or array.dtype.kind not in "fiu":
        got = f"dtype {array.dtype}" if array is not None else type(value).__name__
        raise TypeError(f"{who}: {name} must be an array of real numbers (int or float), got {got}")
    return array


def _finite(array, name, who):
    bad = array.size - np.count_nonzero(np.isfinite(array))
    if bad:
        raise ValueError(f"{who}: {name} contains {bad} NaN or inf value(s); a gradient check "
                         "needs finite numbers")
    return array


def _step_size(h, who):
    if isinstance(h, (bool, np.bool_)) or not isinstance(h, (int, float, np.integer, np.floating)):
        raise TypeError(f"{who}: h must be a positive real number, got {h!r}")
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"{who}: h must be a finite number > 0 (1e-5 in float64), got {h!r}")
    return h  # unchanged: a NumPy h keeps NumPy's arithmetic (chapter 4's float32 sweep)


def _float_input(x, who):
    """x as a new, non-empty, finite float64 array (the checks run in float64)."""
    x = _real_array(x, "x", who)
    if x.size == 0:
        raise ValueError(f"{who}: x has no entries (shape {x.shape}); there is nothing to check")
    return _finite(x.astype(np.float64), "x", who)


def _check_protocol(obj, who, name):
    """TypeError unless obj has forward, backward, a dict of float params, and grads."""
    missing = [a for a in ("forward", "backward", "params", "grads") if not hasattr(obj, a)]
    if missing or not isinstance(obj.params, dict):
        raise TypeError(f"{who}: {name} must have forward, backward, params and grads "
                        f"(a cnnedu layer), got {type(obj).__name__}")
    for key, p in obj.params.items():
        if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
            raise TypeError(f"{who}: {name}.params[{key!r}] must be a float array, got "
                            f"{getattr(p, 'dtype', type(p).__name__)}")


def _to_float64(layer):
    # buffers: the running statistics of batch normalisation, used in eval mode
    for store in (layer.params, getattr(layer, "buffers", {})):
        for key, p in store.items():
            store[key] = p.astype(np.float64)


def _callable(f, who):
    if not callable(f):
        raise TypeError(f"{who}: f must be a function of no arguments that reads x, got "
                        f"{type(f).__name__}")


# -- test inputs that keep clear of kinks ------------------------------------------

def away_from_zero(rng, shape, low=0.1, high=2.0):
    """Random float64 values with ``low <= |x| < high``, half of them negative.

    ReLU and leaky ReLU have their kink at 0, so a central difference with
    h = 1e-5 never crosses it when ``low`` is far above h. The signs are an
    exact half/half split, since a small random array could be all positive.
    rng: a Generator, an int seed or None (the package's rule); shape: an int
    or a tuple. Chapters 4 to 13 and the tests. Raises ValueError unless
    0 <= low < high.
    """
    rng = as_generator(rng, "away_from_zero: rng")
    if not 0 <= low < high:
        raise ValueError(f"away_from_zero: need 0 <= low < high, got low={low!r}, high={high!r}")
    n = int(np.prod(shape))
    signs = rng.permutation(np.resize([-1.0, 1.0], n)).reshape(shape)
    return rng.uniform(low, high, shape) * signs


def distinct_values(rng, shape, spacing=0.05):
    """Random float64 values, pairwise at least ``spacing`` apart, centred on 0.

    No two entries tie, so the maximum of any max-pooling window stays the
    same argument under a step h far below ``spacing``. They are a random
    permutation of ``spacing * (0, 1, ..., n - 1)`` shifted to mean about 0.
    Chapters 6, 9 and 13 and the tests. Raises ValueError unless spacing > 0.
    """
    rng = as_generator(rng, "distinct_values: rng")
    if not spacing > 0:
        raise ValueError(f"distinct_values: spacing must be > 0, got {spacing!r}")
    n = int(np.prod(shape))
    return (rng.permutation(n) * spacing - n * spacing / 2).reshape(shape)


# -- relative error and numerical gradients --------------------------------------

def rel_error(a, b):
    """Relative error ``max|a - b| / max(max|a|, max|b|)``, 0 when both are all 0.

    a, b: arrays (or numbers, or lists) of real numbers of the *same shape*;
    computed in float64; returns a Python float in [0, 2]. Raises TypeError
    for non-numbers (strings, None, bools, complex), ValueError for different
    shapes (no broadcasting: (N,) against (N, 1) is a bug) or NaN/inf.
    Chapter 4. Source: CS231n notes, "Neural Networks Part 3".
    """
    who = "rel_error"
    a = _finite(_real_array(a, "a", who), "a", who).astype(np.float64)
    b = _finite(_real_array(b, "b", who), "b", who).astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(f"{who}: a has shape {a.shape} but b has shape {b.shape}; they must "
                         "match")
    scale = max(np.abs(a).max(initial=0), np.abs(b).max(initial=0))
    return 0.0 if scale == 0 else float(np.abs(a - b).max() / scale)


def _loss_value(value, who, what="f()"):
    kind = np.asarray(value).dtype.kind if np.ndim(value) == 0 else None
    if kind not in ("f", "i", "u") or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {what} must return one real number, got {type(value).__name__}"
                        + (f" of shape {np.shape(value)}" if np.ndim(value) else f" {value!r}"))
    return value


def _central_differences(f, x, h, who, what="f()"):
    """Central-difference gradient of f() w.r.t. x, plus f at x + h e_i and x - h e_i.

    x is moved in place one entry at a time and always put back, even if f raises.
    """
    _callable(f, who)
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(f"{who}: x must be a float array that f reads (it is moved in place), "
                        f"got {getattr(x, 'dtype', type(x).__name__)}; use x.astype(np.float64)")
    if not x.flags.writeable:
        raise ValueError(f"{who}: x is read-only, but it is moved in place")
    _finite(x, "x", who)
    h = _step_size(h, who)
    grad = np.zeros_like(x)
    f_plus, f_minus = np.empty(x.shape), np.empty(x.shape)
    for i in np.ndindex(x.shape):
        old = x[i]
        try:
            x[i] = old + h
            plus = _loss_value(f(), who, what)
            x[i] = old - h
            minus = _loss_value(f(), who, what)
        finally:
            x[i] = old
        if not (np.isfinite(plus) and np.isfinite(minus)):
            raise ValueError(f"{who}: {what} returned {plus} and {minus} with "
                             f"x[{', '.join(map(str, i))}] moved by +h and -h; the function "
                             "must be finite near x")
        grad[i] = (plus - minus) / (2 * h)
        f_plus[i], f_minus[i] = plus, minus
    return grad, f_plus, f_minus


def numerical_gradient(f, x, h=1e-5):
    """Gradient of a scalar function f() with respect to array x, by central differences.

    f takes no arguments, reads x and returns one real number; x is a
    writeable, finite float array that is moved in place, one entry at a
    time, and always restored. Returns an array of x's shape and dtype
    (empty if x is). h: a finite number > 0. Raises TypeError for a
    non-callable f, a non-float x or a non-number result of f, ValueError
    for a read-only or non-finite x, a bad h, or NaN or inf from f. A tiny h
    is allowed (chapter 4 sweeps h down to 1e-9 to show the rounding error
    grow), but in float32 x + h may round back to x, giving 0. Chapter 4.
    Source: CS231n notes, "Neural Networks Part 3".
    """
    return _central_differences(f, x, h, "numerical_gradient")[0]


def numerical_gradient_array(f, x, dout, h=1e-5):
    """Vector-Jacobian product ``dout . df/dx`` for an array-valued f(), numerically.

    f() returns an array of dout's shape; the gradient of sum(f() * dout)
    w.r.t. x is returned, with x's shape and dtype. Raises as
    ``numerical_gradient``, plus TypeError for a non-number dout and
    ValueError when f() and dout have different shapes. Chapter 4.
    """
    who = "numerical_gradient_array"
    _callable(f, who)
    dout = _real_array(dout, "dout", who)

    def loss():
        out = f()
        if np.shape(out) != dout.shape:
            raise ValueError(f"{who}: f() returned shape {np.shape(out)} but dout has shape "
                             f"{dout.shape}; they must match")
        return np.sum(out * dout)
    return _central_differences(loss, x, h, who)[0]


# -- checking layers and models --------------------------------------------------

def _generators(objects):
    """Every NumPy Generator stored on the objects, or on layers they hold (lists too)."""
    found, seen, todo = [], set(), list(objects)
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.random.Generator):
            found.append(obj)
        elif isinstance(obj, (list, tuple)):
            todo.extend(obj)
        elif hasattr(obj, "forward") and hasattr(obj, "__dict__"):
            todo.extend(vars(obj).values())
    return found


def _fixed_randomness(objects):
    """A function that puts every random generator back to its state of now."""
    generators = _generators(objects)
    states = [g.bit_generator.state for g in generators]
    global_state = np.random.get_state()

    def restore():
        for generator, state in zip(generators, states):
            generator.bit_generator.state = state
        np.random.set_state(global_state)
    return restore


def _compare(loss, analytic, arrays, h, who, what):
    """Relative errors of analytic gradients against numerical ones of loss() w.r.t. arrays."""
    f0 = float(_loss_value(loss(), who, what))
    if not np.isfinite(f0):
        raise ValueError(f"{who}: {what} is {f0} at the given input; it must be finite")
    if abs(float(_loss_value(loss(), who, what)) - f0) > 1e-10 * max(1.0, abs(f0)):
        raise ValueError(f"{who}: two forward passes on the same input gave different results, "
                         "so there is no fixed function to differentiate. The check resets "
                         "np.random and every NumPy Generator stored on a layer before each pass; "
                         "draw random numbers from such a generator (e.g. self.rng)")
    result, notes = GradCheckResult(), []
    for name, array in arrays.items():
        numerical, f_plus, f_minus = _central_differences(loss, array, h, who, what)
        expected = analytic[name]
        scale = max(np.abs(expected).max(initial=0), np.abs(numerical).max(initial=0))
        # The one-sided slopes differ by ~h * f'' where f is smooth, by ~|gradient| at a kink.
        slope_gap = np.abs(f_plus - 2 * f0 + f_minus) / h
        near_kink = slope_gap > 100 * h * scale + 1e3 * np.finfo(float).eps * abs(f0) / h
        result[name] = rel_error(expected, numerical)
        result.near_kink[name] = count = int(near_kink.sum())
        result.away_from_kinks[name] = (rel_error(expected[~near_kink], numerical[~near_kink])
                                        if count < near_kink.size else float("nan"))
        if count:
            notes.append((name, count, near_kink.size))
    if notes:
        entries = " and ".join(f"{count} of {size} entries of {name}"
                               for name, count, size in notes)
        errors = "; ".join(f"{name} {result[name]:.1e} / {result.away_from_kinks[name]:.1e}"
                           for name, _, _ in notes)
        wrong = [name for name, _, _ in notes if not result.away_from_kinks[name] < CORRECT]
        verdict = (f"Away from the kinks the error of {', '.join(wrong)} is still not below "
                   f"{CORRECT:g}: backward is wrong." if wrong else
                   f"Away from the kinks every error is below {CORRECT:g}: backward looks right "
                   "and the large error comes from the inputs. For a clean check move them away "
                   "from kinks (e.g. x + 0.1 * np.sign(x) for ReLU, distinct values for max "
                   "pooling).")
        warnings.warn(f"{who}: {entries} lie within h = {h:g} of a kink (ReLU or LeakyReLU at 0, "
                      "a tie in a max-pool window, ...), where no derivative exists: the one-sided "
                      f"differences disagree there. Error overall / away from them: {errors}. "
                      f"{verdict}", KinkWarning, stacklevel=3)
    return result


def _gradient(g, shape, who, name):
    """A float64 copy of an analytic gradient, checked for numbers, shape and finiteness."""
    g = _real_array(g, name, who)
    if g.shape != shape:
        raise ValueError(f"{who}: {name} has shape {g.shape}, expected {shape}")
    return _finite(g, name, who).astype(np.float64)


def _analytic(grads, params, who, what):
    """Float64 copies of grads, checked to match params in keys and shapes."""
    if not isinstance(grads, dict) or grads.keys() != params.keys():
        keys = sorted(grads, key=repr) if isinstance(grads, dict) else repr(grads)
        raise ValueError(f"{who}: after backward, {what}.grads has keys {keys}, expected "
                         f"the keys of {what}.params, {sorted(params, key=repr)}")
    return {key: _gradient(g, params[key].shape, who, f"{what}.grads[{key!r}]")
            for key, g in grads.items()}


def check_layer(layer, x, h=1e-5, rng=None, train=True, verbose=False):
    """Compare a layer's backward pass with numerical gradients, in float64.

    layer: anything with ``forward(x, train)``, ``backward(dy)``, ``params``
    and ``grads`` (float arrays). x: real numbers of any shape the layer
    takes, finite, not empty; converted to float64. The layer is copied and
    converted to float64, so the original is untouched. A random upstream
    gradient dout (drawn from ``rng``: None, a seed or a Generator) is passed
    to backward, and ``backward(dout)`` and ``layer.grads`` are compared with
    the numerical gradient of sum(dout * forward(x)).

    Returns a ``GradCheckResult``: ``{"x": err, "W": err, ...}``, relative
    errors for the input and each parameter; below 1e-7 means the gradient is
    right. Warns ``KinkWarning`` (and records it in the result) when entries
    lie within h of a kink; see the module docstring. ``train`` is passed to
    forward; Dropout's mask is held fixed in either mode (layers that keep no
    cache in eval mode can only be checked with train=True). ``verbose`` prints
    the errors. Raises TypeError for a non-layer, non-number x, a bad rng or a
    non-bool train, ValueError for an empty or non-finite x, a bad h, a
    backward whose shapes do not match, a backward that cannot run with
    train=False, or a forward that does not repeat.
    Chapter 4. Source: CS231n notes, "Neural Networks Part 3".
    """
    who = f"check_layer({layer!r})"
    _check_protocol(layer, who, "layer")
    layer = copy.deepcopy(layer)
    _to_float64(layer)
    x = _float_input(x, who)
    h = _step_size(h, who)
    if not isinstance(train, (bool, np.bool_)):
        raise TypeError(f"{who}: train must be True or False, got {train!r}")
    rng = as_generator(rng, f"{who}: rng")
    restore = _fixed_randomness([layer])

    def forward():
        restore()
        return layer.forward(x, bool(train))
    try:
        out = forward()
        if not isinstance(out, np.ndarray) or out.dtype.kind != "f":
            raise TypeError(f"{who}: forward returned {type(out).__name__}, expected a float array")
        dout = rng.standard_normal(out.shape)
        try:
            dx = layer.backward(dout)
        except RuntimeError as error:
            if train:
                raise
            raise ValueError(f"{who}: with train=False the layer's backward cannot run ({error}); "
                             "check with train=True, where Dropout's mask is held fixed "
                             "too") from error
        dx = _gradient(dx, x.shape, who, "backward's result dx")
        analytic = {"x": dx, **_analytic(layer.grads, layer.params, who, "layer")}
        result = _compare(lambda: np.sum(forward() * dout), analytic,
                          {"x": x, **layer.params}, h, who, "sum(dout * forward(x))")
    finally:
        restore()
    if verbose:
        print(f"{layer!r}: " + ", ".join(f"{k} {v:.1e}" for k, v in result.items()))
    return result


def check_model(model, x, y, loss, h=1e-5):
    """Relative error of every parameter gradient of a whole model plus loss, in float64.

    model: a ``Sequential`` (it needs ``layers``, ``forward``, ``backward``,
    ``params``, ``grads``); x: real numbers, finite, not empty (converted to
    float64); y: labels that ``loss`` accepts; loss: ``loss(scores, y) ->
    (value, dscores)``, e.g. ``SoftmaxCrossEntropy()``. The model is copied
    and converted to float64 first, so the original is untouched. The check
    runs in training mode with every layer's random generator reset before
    each forward pass, so Dropout keeps one mask and is checked as well.

    Returns a ``GradCheckResult`` keyed like ``model.params`` (``"0.W"``,
    ...); below 1e-7 means right. Warns ``KinkWarning`` when the loss has a
    kink within h of some parameter entries (a ReLU input crossing 0, a
    max-pool tie). Raises TypeError for a non-model, a non-callable loss or a
    non-number x, ValueError for an empty or non-finite x, a bad h, grads that
    do not match params, or a forward that does not repeat; the loss raises
    its own errors for bad labels. Chapter 4.
    """
    who = f"check_model({type(model).__name__})"
    if not isinstance(getattr(model, "layers", None), (list, tuple)):
        raise TypeError(f"{who}: model must be a Sequential (with a list of layers), got "
                        f"{type(model).__name__}")
    for i, layer in enumerate(model.layers):
        _check_protocol(layer, who, f"layer {i}")
    model = copy.deepcopy(model)
    for layer in model.layers:
        _to_float64(layer)
    x = _float_input(x, who)
    h = _step_size(h, who)
    if not callable(loss):
        raise TypeError(f"{who}: loss must be callable as loss(scores, y) -> (value, dscores), "
                        f"got {type(loss).__name__}")
    restore = _fixed_randomness(model.layers)

    def value_and_dscores():
        restore()
        result = loss(model.forward(x), y)
        if not isinstance(result, tuple) or len(result) != 2:
            raise TypeError(f"{who}: loss must return (value, dscores), got "
                            f"{type(result).__name__}")
        return result
    try:
        _, dscores = value_and_dscores()
        model.backward(dscores)
        params = model.params
        analytic = _analytic(model.grads, params, who, "model")
        result = _compare(lambda: value_and_dscores()[0], analytic, params, h, who, "loss")
    finally:
        restore()
    return result
