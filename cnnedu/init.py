"""Weight initialisers (chapter 8; used by every layer with weights).

Each initialiser takes ``(shape, rng, dtype)`` and returns a new array. Fans
are read from the shape: a Linear weight ``(in, out)`` has fan_in = in and
fan_out = out; a conv weight ``(F, C, kh, kw)`` has fan_in = C*kh*kw and
fan_out = F*kh*kw.

=================  =========================  ===============================
name               distribution               made for
=================  =========================  ===============================
``"lecun"``        N(0, 1/fan_in)             tanh / SELU, keeps variance
``"xavier"``       N(0, 2/(fan_in+fan_out))   tanh / sigmoid (Glorot 2010)
``"xavier_uniform"`` U(-a, a), a=sqrt(6/(fan_in+fan_out))
``"he"``           N(0, 2/fan_in)             ReLU (He et al. 2015)
``"he_uniform"``   U(-a, a), a=sqrt(6/fan_in)
a number ``s``     N(0, s^2)                  e.g. 0.01, which stalls deep nets
=================  =========================  ===============================
"""

import numbers

import numpy as np


def fans(shape):
    """(fan_in, fan_out) of a Linear (in, out) or conv (F, C, kh, kw) weight shape."""
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 4:
        receptive = shape[2] * shape[3]
        return shape[1] * receptive, shape[0] * receptive
    raise ValueError(f"cannot infer fans from weight shape {shape}; expected 2-D or 4-D")


def normal(std):
    """An initialiser drawing from N(0, std^2): ``normal(0.01)``."""
    def init(shape, rng, dtype=np.float32):
        return (std * rng.standard_normal(shape)).astype(dtype)
    init.__name__ = f"normal({std})"
    return init


def lecun_normal(shape, rng, dtype=np.float32):
    fan_in, _ = fans(shape)
    return normal(np.sqrt(1 / fan_in))(shape, rng, dtype)


def xavier_normal(shape, rng, dtype=np.float32):
    fan_in, fan_out = fans(shape)
    return normal(np.sqrt(2 / (fan_in + fan_out)))(shape, rng, dtype)


def xavier_uniform(shape, rng, dtype=np.float32):
    fan_in, fan_out = fans(shape)
    limit = np.sqrt(6 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(dtype)


def he_normal(shape, rng, dtype=np.float32):
    fan_in, _ = fans(shape)
    return normal(np.sqrt(2 / fan_in))(shape, rng, dtype)


def he_uniform(shape, rng, dtype=np.float32):
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
    > 0, TypeError for anything else (None, a bool, a list...).
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
        if not 0 < init < np.inf:
            raise ValueError(f"init: a std must be finite and > 0, got {init}")
        return normal(float(init))
    raise TypeError(f"init must be {expected}, got {init!r}")
