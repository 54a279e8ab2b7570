"""Checking a whole layer or model against numerical gradients, in float64 (chapters 4 and 11).

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
"""

import copy
import warnings

import numpy as np

from .._checks import as_generator, check_finite, real, real_array
from .numerical import FINITE, H_HINT, central_differences, loss_value, rel_error

CORRECT = 1e-7  # a correct gradient checks below this in float64 with h = 1e-5


class KinkWarning(UserWarning):
    """A gradient check met inputs within h of a kink, where no derivative exists.

    Warned by ``check_layer`` and ``check_model``; the message names the
    entries and says whether backward looks right away from them. Chapter 4.
    """


class GradCheckResult(dict):
    """``{name: relative error}`` from ``check_layer`` or ``check_model``, plus two records.

    ``near_kink[name]``: how many entries of that array are within h of a
    kink; ``away_from_kinks[name]``: the relative error over the other
    entries (NaN if there are none). Without kinks it equals ``self[name]``.
    Chapter 4.
    """

    def __init__(self):
        super().__init__()
        self.near_kink, self.away_from_kinks = {}, {}


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


def _float_input(x, who):
    """x as a new, non-empty, finite float64 array (the checks run in float64)."""
    x = real_array(x, "x", who)
    if x.size == 0:
        raise ValueError(f"{who}: x has no entries (shape {x.shape}); there is nothing to check")
    return check_finite(x.astype(np.float64), "x", who, FINITE)


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


def _warn_about_kinks(result, notes, h, who):
    """Warn once for the (name, count, size) notes: where the kinks are, and who is to blame."""
    entries = " and ".join(f"{count} of {size} entries of {name}" for name, count, size in notes)
    errors = "; ".join(f"{name} {result[name]:.1e} / {result.away_from_kinks[name]:.1e}"
                       for name, _, _ in notes)
    wrong = [name for name, _, _ in notes if not result.away_from_kinks[name] < CORRECT]
    verdict = (f"Away from the kinks the error of {', '.join(wrong)} is still not below "
               f"{CORRECT:g}: backward is wrong." if wrong else
               f"Away from the kinks every error is below {CORRECT:g}: backward looks right "
               "and the large error comes from the inputs. For a clean check move them away "
               "from kinks (e.g. x + 0.1 * np.sign(x), or gradcheck.away_from_zero, for ReLU; "
               "gradcheck.distinct_values for max pooling).")
    warnings.warn(f"{who}: {entries} lie within h = {h:g} of a kink (ReLU or LeakyReLU at 0, "
                  "a tie in a max-pool window, ...), where no derivative exists: the one-sided "
                  f"differences disagree there. Error overall / away from them: {errors}. "
                  f"{verdict}", KinkWarning, stacklevel=4)


def _compare(loss, analytic, arrays, h, who, what):
    """Relative errors of analytic gradients against numerical ones of loss() w.r.t. arrays."""
    f0 = float(loss_value(loss(), who, what))
    if not np.isfinite(f0):
        raise ValueError(f"{who}: {what} is {f0} at the given input; it must be finite")
    if abs(float(loss_value(loss(), who, what)) - f0) > 1e-10 * max(1.0, abs(f0)):
        raise ValueError(f"{who}: two forward passes on the same input gave different results, "
                         "so there is no fixed function to differentiate. The check resets "
                         "np.random and every NumPy Generator stored on a layer before each pass; "
                         "draw random numbers from such a generator (e.g. self.rng)")
    result, notes = GradCheckResult(), []
    for name, array in arrays.items():
        numerical, f_plus, f_minus = central_differences(loss, array, h, who, what)
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
        _warn_about_kinks(result, notes, h, who)
    return result


def _gradient(g, shape, who, name):
    """A float64 copy of an analytic gradient, checked for numbers, shape and finiteness."""
    g = real_array(g, name, who)
    if g.shape != shape:
        raise ValueError(f"{who}: {name} has shape {g.shape}, expected {shape}")
    return check_finite(g, name, who, FINITE).astype(np.float64)


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
    the numerical gradient of sum(dout * forward(x)). ``train`` is passed to
    forward; Dropout's mask is held fixed in either mode (layers that keep no
    cache in eval mode can only be checked with train=True). ``verbose``
    prints the errors.

    Returns a ``GradCheckResult``: ``{"x": err, "W": err, ...}``, relative
    errors for the input and each parameter; below 1e-7 means the gradient is
    right. A layer whose backward returns None instead of dx (a first layer,
    ``Conv2D(..., input_grad=False)``) gets no ``"x"`` entry. Warns
    ``KinkWarning`` (and records it in the result) when entries lie within h
    of a kink; see the module docstring.

    Raises TypeError for a non-layer, non-number x, a bad rng or a non-bool
    train, ValueError for an empty or non-finite x, a bad h, a backward
    whose shapes do not match, a backward that cannot run with train=False,
    a backward returning None for a layer without parameters, or a forward
    that does not repeat.

    Chapter 4. Source: CS231n notes, "Neural Networks Part 3".
    """
    who = f"check_layer({layer!r})"
    _check_protocol(layer, who, "layer")
    layer = copy.deepcopy(layer)
    _to_float64(layer)
    x = _float_input(x, who)
    real(h, "h", who, 0, low_open=True, hint=H_HINT)
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
        analytic = _analytic(layer.grads, layer.params, who, "layer")
        arrays = dict(layer.params)
        if dx is not None:  # None: a first layer, e.g. Conv2D(input_grad=False), skips dx
            analytic = {"x": _gradient(dx, x.shape, who, "backward's result dx"), **analytic}
            arrays = {"x": x, **arrays}
        elif not arrays:
            raise ValueError(f"{who}: backward returned None and the layer has no parameters, "
                             "so there is no gradient to check")
        result = _compare(lambda: np.sum(forward() * dout), analytic, arrays, h, who,
                          "sum(dout * forward(x))")
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
    max-pool tie).

    Raises TypeError for a non-model, a non-callable loss or a non-number x,
    ValueError for an empty or non-finite x, a bad h, grads that do not match
    params, or a forward that does not repeat; the loss raises its own errors
    for bad labels.

    Chapter 4. Source: CS231n notes, "Neural Networks Part 3".
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
    real(h, "h", who, 0, low_open=True, hint=H_HINT)
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
