"""Layer classes: thin wrappers over the kernels of ``cnnedu.functional`` (chapters 2 to 12).

==========================  =======================================  ===========
module                      classes                                  chapters
==========================  =======================================  ===========
``layers.base``             Layer (the protocol below)               3 onwards
``layers.linear``           Linear, Flatten                          2, 3, 7
``layers.activations``      ReLU, Sigmoid, Tanh, LeakyReLU           3, 4, 8
``layers.conv``             Conv2D                                   5
``layers.pool``             MaxPool2D, AvgPool2D                     6
``layers.dropout``          Dropout                                  10 to 12
``layers.norm``             BatchNorm1D, BatchNorm2D                 11
==========================  =======================================  ===========

Import them from here (``from cnnedu.layers import Linear``) or from
``cnnedu`` itself (``cnnedu.Linear``). The protocol, shared by every layer:

* ``forward(x, train=True) -> y`` keeps what backward needs on ``self``, and
  only when ``train=True``: evaluation keeps no cache;
* ``backward(dy) -> dx`` computes the gradients of the last forward call and
  *overwrites* ``self.grads`` (it never adds to them); a ``Conv2D`` built with
  ``input_grad=False`` returns None instead of dx, so use it only as the first layer;
* ``params`` and ``grads`` are dicts with the same keys (``"W"``, ``"b"``);
  layers without parameters have empty dicts.

``backward`` raises RuntimeError if no ``forward(x, train=True)`` came first,
ValueError if ``dy`` does not have the shape of the last forward output, and
TypeError if it does not have its dtype.

**Dtypes: one rule.** A layer with parameters (Conv2D, Linear, BatchNorm)
takes input of its parameters' dtype: float32 unless it was built with
``dtype=np.float64``. A layer without parameters takes float32 or float64 and
keeps it. Anything else (ints, 8-bit pixels, bool, complex) is a TypeError
that says how to convert, e.g. ``x.astype(np.float32) / 255``.

**Random numbers: one rule**, that of ``cnnedu._checks.as_generator``, shared
with ``fit``, the zoo, the toy datasets and the gradient checks: every ``rng``
argument is a ``np.random.Generator`` (used as is, so layers built from one
generator draw one after the other), an int seed >= 0, or ``None`` (a seed
drawn from NumPy's global state, so ``np.random.seed(0)`` at the top of a
script makes a run repeat). Anything else is a TypeError.

Layers import only ``cnnedu.functional``, ``cnnedu.init`` and ``cnnedu._checks``.
"""

from .activations import LeakyReLU, ReLU, Sigmoid, Tanh
from .base import Layer
from .conv import Conv2D
from .dropout import Dropout
from .linear import Flatten, Linear
from .norm import BatchNorm1D, BatchNorm2D
from .pool import AvgPool2D, MaxPool2D

__all__ = ["Layer", "Conv2D", "MaxPool2D", "AvgPool2D", "Linear", "Flatten", "ReLU", "Sigmoid",
           "Tanh", "LeakyReLU", "Dropout", "BatchNorm1D", "BatchNorm2D"]
