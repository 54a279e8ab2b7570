"""The exercise checks, one module per chapter: ``check(name, *functions)``.

A notebook imports one function, ``from cnnedu.grading import check`` (or from
here), and calls it with the learner's functions::

    check("conv2d_backward", conv2d_forward, conv2d_backward)

Every exercise of the course (the table in the instructor's guide,
book/instructors.md) has one entry in ``EXERCISES``: its name, the learner
functions it takes, its points, its chapter and a check function. The check
functions live in the module of the chapter that poses the exercise:

========  ==============================
chapter   module
========  ==============================
2         ``ch02_linear_softmax``
3         ``ch03_two_layer_net``
4         ``ch04_backprop``
5         ``ch05_convolution``
6         ``ch06_pooling``
7         ``ch07_toy_images``
8         ``ch08_training_tools``
9         ``ch09_bug_hunt``
10        ``ch10_mnist``
11        ``ch11_generalisation``
12        ``ch12_architectures``
13        ``ch13_capstone``
========  ==============================

``_common`` holds what they share: the registry, ``check``/``run_check``, and
the helpers that call learner code (through ``cnnedu.grading.learner``) and
compare its results with a reference. The instructor tools that release and
grade notebooks are in ``cnnedu.grading``.
"""

from ._common import EXERCISES, CheckFailure, check, exercise, run_check

# Importing a chapter's module registers its exercises, in chapter order.
from . import (  # noqa: E402,F401  (isort: skip)
    ch02_linear_softmax,
    ch03_two_layer_net,
    ch04_backprop,
    ch05_convolution,
    ch06_pooling,
    ch07_toy_images,
    ch08_training_tools,
    ch09_bug_hunt,
    ch10_mnist,
    ch11_generalisation,
    ch12_architectures,
    ch13_capstone,
)

__all__ = ["check", "run_check", "EXERCISES", "CheckFailure", "exercise"]
