"""The exercise checks of chapters 2 to 13: ``check(name, *functions)``.

A notebook's check cell imports one function (``from cnnedu.grading import check``, or from
here) and calls it with the learner's functions::

    check("conv2d_backward", conv2d_forward, conv2d_backward)

Every exercise of the course (the table in book/instructors.md) has one entry in
``EXERCISES``: its name, the learner functions it takes, its points and its check. Each
check lives in the module of the chapter that poses it, ``chNN_<topic>.py`` (chapter NN);
``_common.py`` holds the registry, ``check`` and the helpers that call learner code and
compare its results. The instructor tools that release and grade notebooks are in
``cnnedu.grading``.
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
