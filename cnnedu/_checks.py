"""Argument checks at the public boundary, shared by every kernel, layer, loss and model.

Private: the chapters never import it. Each check raises TypeError for a wrong
type or dtype and ValueError for a wrong shape or value, and its message names
the function and argument (``who``), what it got and what it expected, for
example ``Conv2D: x has dtype uint8, expected float32 or float64; convert with
`x.astype(np.float32) / 255```. Inner kernels trust their inputs.

**Random numbers: one rule** (``as_generator``), used by the layers, ``fit``,
the zoo, the toy datasets and the gradient checks. Every ``rng`` argument may be

* a ``np.random.Generator``: used as is, so objects built from one generator
  draw one after the other;
* an int >= 0: the seed of a fresh ``np.random.default_rng(seed)``;
* ``None``: a seed drawn from NumPy's global state with ``np.random.randint``,
  so that ``np.random.seed(0)`` at the top of a notebook makes a run repeat.
"""

import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))



def as_generator(rng, who="rng"):
    """The ``np.random.Generator`` for an ``rng`` argument, by the rule above.

    ``who`` prefixes the error messages, e.g. ``"Conv2D: rng"``.
    Raises TypeError for anything but a Generator, an int or None (bools
    included), ValueError for a negative seed.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        # Drawn from the legacy global state, so np.random.seed(0) makes runs repeat.
        return np.random.default_rng(np.random.randint(2**63, dtype=np.int64))
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"{who} must be a seed >= 0, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"{who} must be a np.random.Generator, an int seed >= 0 or None, got {rng!r}")



def is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)



def pair(value, name, minimum=None):
    """Turn ``3`` or ``(3, 5)`` into a pair of ints, each at least ``minimum`` if given."""
    if is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(map(is_int, value)):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if minimum is not None and min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return pair



def check_float_array(x, name, ndim, layout, dtype=None, like="x"):
    """Raise unless x is a float32/float64 ndarray with ``ndim`` dimensions (None: any).

    With ``dtype``, x must have exactly that dtype, the dtype of ``like``.
    ``name`` is "function: argument"; the argument is used in the hints.
    """
    arg = name.split(": ")[-1]
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(x).__name__}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions {layout}, got shape {x.shape}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name} must have the dtype of {like} ({dtype}), got {x.dtype}; "
                        f"convert with {arg}.astype(np.{dtype})")
    if x.dtype not in (np.float32, np.float64):
        hint = (f"; convert images with {arg}.astype(np.float32) / 255" if x.dtype == np.uint8
                else f"; convert with {arg}.astype(np.float32)" if x.dtype.kind in "biuf" else "")
        raise TypeError(f"{name} must be float32 or float64, got {x.dtype}{hint}")



def check_dout(dout, shape, dtype, who):
    """dout must be an array of the forward output's shape and dtype."""
    check_float_array(dout, f"{who}: dout", None, "", dtype, like="the forward output")
    if dout.shape != shape:
        raise ValueError(f"{who}: dout must have shape {shape}, the shape of the forward "
                         f"output, got {dout.shape}")



def check_labels(y, n, n_classes, who):
    """Raise a clear error unless y is n integer labels in [0, n_classes).

    TypeError for a non-array or non-integer dtype, ValueError for a wrong
    rank, count or range.
    """
    if not isinstance(y, np.ndarray):
        raise TypeError(f"{who}: labels must be a 1-D integer NumPy array, got {type(y).__name__}")
    if y.ndim != 1:
        raise ValueError(f"{who}: labels must be a 1-D integer array, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{who}: labels must be integers (class indices), got dtype {y.dtype}")
    if len(y) != n:
        raise ValueError(f"{who}: {n} samples but {len(y)} labels; they must match")
    if n and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{who}: labels must be in [0, {n_classes - 1}] for {n_classes} "
                         f"classes, got values from {y.min()} to {y.max()}")



def int_arg(value, name, who, minimum):
    """``value`` as an int >= minimum; bools and floats such as 3.0 are refused."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{who}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{who}: {name} must be an int >= {minimum}, got {value}")
    return int(value)



def int_or_pair(value, name, who, minimum):
    """An int, or a pair of ints (height, width), each >= minimum, as in PyTorch.

    An int stays an int, so that ``repr`` (which ``Sequential.save`` stores)
    does not change for the square windows of earlier chapters.
    """
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise TypeError(f"{who}: {name} must be an int or a pair (height, width) of ints, "
                            f"got {value!r}")
        return tuple(int_arg(v, name, who, minimum) for v in value)
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{who}: {name} must be an int or a pair (height, width) of ints, "
                        f"got {value!r}")
    return int_arg(value, name, who, minimum)



def real(value, name, who, low, high=np.inf):
    """``value`` as a float in [low, high); bools, strings and NaN are refused."""
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {name} must be a real number, got {value!r}")
    if not low <= value < high:
        expected = f"in [{low}, {high})" if high < np.inf else f"finite and >= {low}"
        raise ValueError(f"{who}: {name} must be {expected}, got {value}")
    return float(value)



def float_dtype(dtype, who):
    """np.dtype of a ``dtype`` argument, which must be float32 or float64."""
    try:
        # np.dtype() would also read the dtype of an array or a number passed by mistake
        ok = isinstance(dtype, (type, str, np.dtype)) and np.dtype(dtype) in FLOAT_DTYPES
    except TypeError:
        ok = False
    if not ok:
        raise TypeError(f"{who}: dtype must be np.float32 or np.float64, got {dtype!r}")
    return np.dtype(dtype)



def check_float(x, name, who, dtype=None):
    """TypeError unless x is a float32/float64 array, of ``dtype`` if given.

    The message says what was given and how to convert it.
    """
    if isinstance(x, np.ndarray) and x.dtype in FLOAT_DTYPES and (dtype is None or x.dtype == dtype):
        return
    expected = ("float32 or float64" if dtype is None
                else f"{dtype} (the dtype of the layer's parameters)")
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{who}: {name} must be a NumPy array of {expected}, got {type(x).__name__}")
    target = "float32" if dtype is None else np.dtype(dtype).name
    pixels = " / 255" if x.dtype == np.uint8 else ""
    # no conversion to advise for complex numbers or objects
    hint = f"; convert with `{name}.astype(np.{target}){pixels}`" if x.dtype.kind in "biuf" else ""
    raise TypeError(f"{who}: {name} has dtype {x.dtype}, expected {expected}{hint}")



def check_dy(dy, expected, who):
    """Check a backward's dy against (shape, dtype) of the last training forward output."""
    if expected is None:
        raise RuntimeError(f"{who}.backward needs a forward(x, train=True) call first "
                           "(eval-mode forward passes keep no cache)")
    shape, dtype = expected
    if not isinstance(dy, np.ndarray):
        raise TypeError(f"{who}.backward: dy must be a NumPy array of shape {shape}, "
                        f"got {type(dy).__name__}")
    if dy.shape != shape:
        raise ValueError(f"{who}.backward: dy has shape {dy.shape}, expected {shape} "
                         "(the shape of the last forward output)")
    if dy.dtype != dtype:
        raise TypeError(f"{who}.backward: dy has dtype {dy.dtype}, expected {dtype} "
                        "(the dtype of the last forward output)")
