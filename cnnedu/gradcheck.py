"""Numerical gradient checking by central differences.

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h)

The truncation error is O(h^2) and the rounding error O(eps / h), so
h = 1e-5 balances them in float64. What to expect from ``rel_error`` between
an analytic gradient and this estimate:

===========================  ===================  ===================
situation                    float64 (h = 1e-5)   float32 (h = 1e-2)
===========================  ===================  ===================
correct, smooth function     1e-10 or smaller     about 1e-3 to 1e-4
correct, input near a kink   up to 1e-2 (ReLU,    worse
(ReLU at 0, max-pool tie)    max-pool): move x
wrong gradient               1e-2 to 1
===========================  ===================  ===================

So check in float64, keep inputs away from kinks, and read anything above
1e-7 as a bug. float32 has only ~7 significant digits, which is why a
float32 check cannot tell a small bug from rounding noise.
"""

import copy

import numpy as np


def rel_error(a, b):
    """Relative error ``max|a - b| / max(max|a|, max|b|)``, 0 when both are 0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.abs(a).max(initial=0), np.abs(b).max(initial=0))
    return 0.0 if scale == 0 else float(np.abs(a - b).max() / scale)


def numerical_gradient(f, x, h=1e-5):
    """Gradient of a scalar function f() with respect to array x, by central differences.

    f takes no arguments and reads x, which is perturbed in place and restored.
    """
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        f_plus = f()
        x[i] = old - h
        f_minus = f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_gradient_array(f, x, dout, h=1e-5):
    """Vector-Jacobian product dout . df/dx for an array-valued f(), numerically."""
    return numerical_gradient(lambda: np.sum(f() * dout), x, h)


def check_layer(layer, x, h=1e-5, rng=None, train=True, verbose=False):
    """Compare a layer's backward pass with numerical gradients, in float64.

    The layer is copied and converted to float64, so the original is
    untouched. Returns a dict ``{"x": err, "W": err, ...}`` of relative errors
    for the input and each parameter. Below 1e-7 means the gradient is right.
    Use ``train=False`` for layers that draw random numbers in training
    (Dropout): the check needs a forward pass that repeats exactly.
    """
    layer = copy.deepcopy(layer)
    for key in layer.params:
        layer.params[key] = layer.params[key].astype(np.float64)
    x = np.array(x, dtype=np.float64)
    rng = np.random.default_rng(rng)
    dout = rng.standard_normal(layer.forward(x, train).shape)
    analytic = {"x": layer.backward(dout), **{k: g.copy() for k, g in layer.grads.items()}}
    forward = lambda: layer.forward(x, train)
    errors = {"x": rel_error(analytic["x"], numerical_gradient_array(forward, x, dout, h))}
    for key, p in layer.params.items():
        errors[key] = rel_error(analytic[key], numerical_gradient_array(forward, p, dout, h))
    if verbose:
        print(f"{layer!r}: " + ", ".join(f"{k} {v:.1e}" for k, v in errors.items()))
    return errors


def check_model(model, x, y, loss, h=1e-5):
    """Relative error of every parameter gradient of a whole model plus loss, in float64.

    The model is copied and converted to float64 first.
    """
    model = copy.deepcopy(model)
    for layer in model.layers:
        for key in layer.params:
            layer.params[key] = layer.params[key].astype(np.float64)
    x = np.asarray(x, dtype=np.float64)
    _, dscores = loss(model.forward(x), y)
    model.backward(dscores)
    analytic = {k: g.copy() for k, g in model.grads.items()}
    f = lambda: loss(model.forward(x), y)[0]
    return {k: rel_error(analytic[k], numerical_gradient(f, p, h)) for k, p in model.params.items()}
