"""Numerical gradient checking by central differences (chapter 4; chapters 2 to 13 use it).

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h)

==========================  ===================================================  ========
module                      what                                                 chapters
==========================  ===================================================  ========
``gradcheck.numerical``     rel_error, numerical_gradient(_array)                2 to 13
``gradcheck.check``         check_layer, check_model: kinks and randomness       4, 11
``gradcheck.inputs``        away_from_zero, distinct_values: inputs that keep    4, 6, 9
                            clear of kinks and ties (the tests use them)
==========================  ===================================================  ========

Import them from here: ``from cnnedu.gradcheck import check_layer, rel_error``.

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

So check in float64, keep inputs away from kinks (``away_from_zero``,
``distinct_values``), and read anything above 1e-7 as a bug. float32 has only
~7 significant digits, which is why a float32 check cannot tell a small bug
from rounding noise. ``check_layer`` and ``check_model`` detect kinks and
hold random masks fixed: see ``cnnedu.gradcheck.check``.

Sources: CS231n notes, "Neural Networks Part 3" (gradient checks, kinks);
J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed. (2006), §8.1.
"""

from .check import GradCheckResult, KinkWarning, check_layer, check_model
from .inputs import away_from_zero, distinct_values
from .numerical import numerical_gradient, numerical_gradient_array, rel_error

__all__ = ["rel_error", "numerical_gradient", "numerical_gradient_array", "check_layer",
           "check_model", "GradCheckResult", "KinkWarning", "away_from_zero", "distinct_values"]
