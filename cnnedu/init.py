"""Weight initialisers: chapter 8 compares them; every layer with weights draws from one.

Layers take ``init=`` (a name below, a std, or a function) and resolve it
with ``get``; chapters 3, 7, 8 and 10 to 13 pick ``init`` for their layers.
Each initialiser takes ``(shape, rng, dtype)`` (rng a ``np.random.Generator``,
dtype float32 or float64) and returns a new array of that shape and dtype; a
shape that is not 2-D or 4-D is a ValueError (from ``fans``).
Fans are read from the shape: a Linear weight ``(in, out)`` has fan_in = in
and fan_out = out; a conv weight ``(F, C, kh, kw)`` has fan_in = C*kh*kw and
fan_out = F*kh*kw.

====================  =========================  ===============================
name                  distribution               made for
====================  =========================  ===============================
``"lecun"``           N(0, 1/fan_in)             tanh / SELU (LeCun et al. 1998)
``"xavier"``          N(0, 2/(fan_in+fan_out))   tanh / sigmoid (Glorot 2010)
``"xavier_uniform"``  U(-a, a), a=sqrt(6/(fan_in+fan_out))
``"he"``              N(0, 2/fan_in)             ReLU (He et al. 2015)
``"he_uniform"``      U(-a, a), a=sqrt(6/fan_in)
a number ``s``        N(0, s^2)                  e.g. 0.01, which stalls deep nets
====================  =========================  ===============================

Sources: LeCun, Bottou, Orr and Müller (1998), *Efficient BackProp*; Glorot
and Bengio (2010), *Understanding the difficulty of training deep
feedforward neural networks*; He, Zhang, Ren and Sun (2015), *Delving deep
into rectifiers*; CS231n notes, "Neural Networks Part 2".
"""

import numbers

import numpy as np

from ._checks import real


def fans(shape):
    """(fan_in, fan_out) of a Linear (in, out) or conv (F, C, kh, kw) weight shape.

    Raises ValueError for any other number of dimensions. Chapter 8.
    """
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 4:
        receptive = shape[2] * shape[3]
        return shape[1] * receptive, shape[0] * receptive
    raise ValueError(f"cannot infer fans from weight shape {shape}; expected 2-D or 4-D")


def normal(std):
    """An initialiser drawing from N(0, std^2), e.g. ``normal(0.01)``; std a positive float.

    Chapter 8, where 0.01 stalls a deep network. ``get`` checks std; this does not."""
    def init(shape, rng, dtype=np.float32):
        return (std * rng.standard_normal(shape)).astype(dtype)
    init.__name__ = f"normal({std})"
    return init


def lecun_normal(shape, rng, dtype=np.float32):
    """N(0, 1/fan_in) weights: unit output variance for linear or tanh units (LeCun 1998; ch. 8)."""
    fan_in, _ = fans(shape)
    return normal(np.sqrt(1 / fan_in))(shape, rng, dtype)


def xavier_normal(shape, rng, dtype=np.float32):
    """N(0, 2/(fan_in+fan_out)) weights: forward and backward variance balanced (Glorot; ch. 8)."""
    fan_in, fan_out = fans(shape)
    return normal(np.sqrt(2 / (fan_in + fan_out)))(shape, rng, dtype)


def xavier_uniform(shape, rng, dtype=np.float32):
    """U(-a, a) weights, a = sqrt(6/(fan_in+fan_out)): Glorot's variance, uniform (chapter 8)."""
    fan_in, fan_out = fans(shape)
    limit = np.sqrt(6 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(dtype)


def he_normal(shape, rng, dtype=np.float32):
    """N(0, 2/fan_in) weights: the variance kept through ReLU layers (He et al. 2015; chapter 8)."""
    fan_in, _ = fans(shape)
    return normal(np.sqrt(2 / fan_in))(shape, rng, dtype)


def he_uniform(shape, rng, dtype=np.float32):
    """U(-a, a) weights, a = sqrt(6/fan_in): He's variance, uniform (chapter 8)."""
    fan_in, _ = fans(shape)
    limit = np.sqrt(6 / fan_in)
    return rng.uniform(-limit, limit, shape).astype(dtype)


INITIALISERS = {
    "lecun": lecun_normal, "lecun_normal": lecun_normal,
    "xavier": xavier_normal, "xavier_normal": xavier_normal, "glorot": xavier_normal,
    "xavier_uniform": xavier_uniform, "glorot_uniform": xavier_uniform,
    "he": he_normal, "he_normal": he_normal, "he_uniform": he_uniform,
}


def get(init):
    """Resolve a name, a number (fixed std) or a callable to an initialiser.

    Raises ValueError for an unknown name or a std that is not finite and
    > 0, TypeError for anything else (None, a bool, a list...). Chapter 8.
    """
    if callable(init):
        return init
    expected = (f"one of {sorted(INITIALISERS)}, a positive std such as 0.01, "
                "or a function (shape, rng, dtype)")
    if isinstance(init, str):
        if init in INITIALISERS:
            return INITIALISERS[init]
        raise ValueError(f"unknown init {init!r}; expected {expected}")
    if isinstance(init, numbers.Real) and not isinstance(init, (bool, np.bool_)):
        return normal(real(init, "a std", "init", 0, low_open=True))
    raise TypeError(f"init must be {expected}, got {init!r}")
