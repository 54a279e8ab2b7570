"""Chapter 4's exercise checks (backpropagation): see ``cnnedu.exercises``."""

import numpy as np

from cnnedu import functional as F
from cnnedu.gradcheck import away_from_zero, numerical_gradient, rel_error
from cnnedu.grading.learner import Formula

from ._common import (CheckFailure, _array, _call, _check_pair, _close, _scalar, _sizes,
                      exercise)


@exercise("numerical_gradient", ["numerical_gradient"], points=2)
def _check_numerical_gradient(rng, numerical_gradient_fn):
    for shape in [_sizes(rng, 2, 6, 1), _sizes(rng, 2, 4, 2), (2, int(rng.integers(2, 4)), 2)]:
        x, A = rng.standard_normal(shape), rng.standard_normal(shape)
        f = Formula("np.sum(A * x ** 3 + np.sin(x))", A=A, x=x)  # reads x, perturbed in place
        where = f"for x of shape {shape}"
        # x (argument 1) may change during the call, but must be restored.
        if len(shape) < 3:
            got = _call(numerical_gradient_fn, f, x, where=where, restored=[1])
            expected, tol, given = 3 * A * x ** 2 + np.cos(x), 1e-7, ""
        else:  # a large h shows whether h is used, and whether differences are central
            where += " and h=1e-2"
            got = _call(numerical_gradient_fn, f, x, h=1e-2, where=where, restored=[1])
            expected, tol, given = numerical_gradient(f, x, h=1e-2), 1e-8, " with the given h"
        got = _array(got, "the gradient", shape, where)
        if not np.any(got):
            raise CheckFailure(f"the gradient is all zeros {where}; f() reads x, so perturb x "
                               f"itself (in place), not a copy")
        _close(got, expected, "the gradient", where, tol=tol,
               hint=f"; use central differences (f(x+h) - f(x-h)) / (2h){given}")


@exercise("rel_error", ["rel_error"], points=1)
def _check_rel_error(rng, rel_error_fn):
    shape = _sizes(rng, 2, 5, 2)
    a = rng.standard_normal(shape)
    cases = [(a, a + 1e-4 * rng.standard_normal(shape), "for two nearby arrays"),
             (a, rng.standard_normal(shape) * 10, "for two unrelated arrays"),
             (a, a.copy(), "for two equal arrays"),
             (np.zeros(shape), np.zeros(shape), "when both arrays are all zero"),
             (np.zeros(shape), a, "when the first array is all zero")]
    for x, y, where in cases:
        got = _scalar(_call(rel_error_fn, x, y, where=where), "rel_error", where)
        if abs(got - rel_error(x, y)) > 1e-12 * max(1.0, rel_error(x, y)):
            raise CheckFailure(f"rel_error returned {got:.3g} {where}, which is not "
                               f"max|a-b| / max(max|a|, max|b|)")


@exercise("sigmoid", ["sigmoid_forward", "sigmoid_backward"], points=2)
def _check_sigmoid(rng, sigmoid_forward, sigmoid_backward):
    reference = lambda x: F.sigmoid_forward(x)[0]
    for _ in range(2):
        shape = _sizes(rng, 2, 6, 2)
        _check_pair(rng, sigmoid_forward, sigmoid_backward, reference,
                    [3 * rng.standard_normal(shape)], f"for x of shape {shape}", ["dx"])
    # exp(710) overflows: a stable sigmoid never computes exp of a large positive number.
    x = away_from_zero(rng, shape, low=750, high=1000)
    where = f"for x of shape {shape} with |x| between 750 and 1000"
    with np.errstate(over="raise"):
        out, _ = _call(sigmoid_forward, x, where=where, returns="(out, cache)")
    _close(out, reference(x), "out", where)
