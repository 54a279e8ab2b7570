"""Chapter 4's exercise checks (backpropagation): see ``cnnedu.exercises``."""

import numpy as np

from cnnedu import functional as F

from ._common import (
    CheckFailure,
    Formula,
    _array,
    _call,
    _check_pair,
    _close,
    _scalar,
    _signs,
    _unpack,
    exercise,
    numerical_gradient,
    rel_error,
)


@exercise("numerical_gradient", ["numerical_gradient"], points=2)
def _check_numerical_gradient(rng, numerical_gradient_fn):
    for case, shape in enumerate([(int(rng.integers(2, 6)),),
                                  (int(rng.integers(2, 4)), int(rng.integers(2, 4))),
                                  (2, int(rng.integers(2, 4)), 2)]):
        x = rng.standard_normal(shape)
        A = rng.standard_normal(shape)
        f = Formula("np.sum(A * x ** 3 + np.sin(x))", A=A, x=x)  # reads x, perturbed in place
        before = x.copy()
        where = f"for x of shape {shape}"
        # x (argument 1) may change during the call, but must be restored.
        if case == 2:  # a large h shows whether h is used, and whether differences are central
            where += " and h=1e-2"
            got = _call(numerical_gradient_fn, f, x, h=1e-2, where=where, restored=[1])
        else:
            got = _call(numerical_gradient_fn, f, x, where=where, restored=[1])
        got = _array(got, "the gradient", shape, where)
        if not np.any(got):
            raise CheckFailure(f"the gradient is all zeros {where}; f() reads x, so perturb x "
                               f"itself (in place), not a copy")
        if case == 2:
            expected = numerical_gradient(f, x, h=1e-2)  # f reads x, which is restored
            tol, hint = 1e-8, "; use central differences (f(x+h) - f(x-h)) / (2h) with the given h"
        else:
            expected = 3 * A * before ** 2 + np.cos(before)
            tol, hint = 1e-7, "; use central differences (f(x+h) - f(x-h)) / (2h)"
        _close(got, expected, "the gradient", where, tol=tol, hint=hint)


@exercise("rel_error", ["rel_error"], points=1)
def _check_rel_error(rng, rel_error_fn):
    shape = (int(rng.integers(2, 5)), int(rng.integers(2, 5)))
    a = rng.standard_normal(shape)
    cases = [(a, a + 1e-4 * rng.standard_normal(shape), "for two nearby arrays"),
             (a, rng.standard_normal(shape) * 10, "for two unrelated arrays"),
             (a, a.copy(), "for two equal arrays"),
             (np.zeros(shape), np.zeros(shape), "when both arrays are all zero"),
             (np.zeros(shape), a, "when the first array is all zero")]
    for x, y, where in cases:
        got = _scalar(_call(rel_error_fn, x.copy(), y.copy(), where=where), "rel_error", where)
        if abs(got - rel_error(x, y)) > 1e-12 * max(1.0, abs(rel_error(x, y))):
            raise CheckFailure(f"rel_error returned {got:.3g} {where}, which is not "
                               f"max|a-b| / max(max|a|, max|b|)")


@exercise("sigmoid", ["sigmoid_forward", "sigmoid_backward"], points=2)
def _check_sigmoid(rng, sigmoid_forward, sigmoid_backward):
    for case in range(3):
        shape = (int(rng.integers(2, 6)), int(rng.integers(2, 6)))
        x = rng.standard_normal(shape) * 3
        where = f"for x of shape {shape}"
        if case == 2:  # exp(1000) overflows: a stable sigmoid never computes it
            x = rng.uniform(750, 1000, shape) * _signs(rng, shape)  # exp(710) overflows
            where += " with |x| between 750 and 1000"
        with np.errstate(over="raise"):
            out, _ = _unpack(_call(sigmoid_forward, x.copy(), where=where), 2,
                             "sigmoid_forward", "(out, cache)")
        _close(out, F.sigmoid_forward(x)[0], "out", where)
        if case < 2:
            _check_pair(rng, sigmoid_forward, sigmoid_backward,
                        lambda x: F.sigmoid_forward(x)[0], [x], {}, where, ["dx"])
