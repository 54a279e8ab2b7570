"""Argument checks at the public boundary, shared by every kernel, layer, loss and model.

Private: the chapters never import it, and it imports nothing from cnnedu, so
that every module can use it. Each check raises TypeError for a wrong type or
dtype and ValueError for a wrong shape or value, and its message names the
function and argument (``who``), what it got and what it expected, for example
``Conv2D: x has dtype uint8, expected float32 or float64; convert with
`x.astype(np.float32) / 255```. Inner kernels trust their inputs. The checks
are O(1) where they can be: they look at types, shapes and dtypes, never at
every value of an array (only ``check_finite`` and the range of integer labels
do, where a gradient check or a loss needs it).

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


# -- random numbers -------------------------------------------------------------

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
    if is_int(rng):
        if rng < 0:
            raise ValueError(f"{who} must be a seed >= 0, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"{who} must be a np.random.Generator, an int seed >= 0 or None, got {rng!r}")


# -- numbers ----------------------------------------------------------------------

def is_int(value):
    """True for Python and NumPy ints; bools are not ints here."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def int_arg(value, name, who, minimum):
    """``value`` as an int >= minimum; bools and floats such as 3.0 are refused."""
    if not is_int(value):
        raise TypeError(f"{who}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{who}: {name} must be an int >= {minimum}, got {value}")
    return int(value)


def pair(value, name, minimum=None):
    """Turn ``3`` or ``(3, 5)`` into a pair of ints, each at least ``minimum`` if given.

    ``name`` is "function: argument". A list of two ints counts as a pair.
    """
    if is_int(value):
        ints = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(map(is_int, value)):
        ints = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or a pair (height, width) of ints, got {value!r}")
    if minimum is not None and min(ints) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return ints


def int_or_pair(value, name, who, minimum):
    """An int, or a pair of ints (height, width), each >= minimum, as in PyTorch.

    Checked as ``pair``, but an int stays an int, so that ``repr`` (which
    ``Sequential.save`` stores) does not change for the square windows of
    earlier chapters.
    """
    ints = pair(value, f"{who}: {name}", minimum)
    return ints[0] if is_int(value) else ints


def real(value, name, who, low, high=np.inf, *, low_open=False, high_closed=False, hint=""):
    """``value`` as a float in [low, high), a real number (bools, strings, NaN refused).

    ``low_open`` excludes ``low`` and ``high_closed`` includes ``high``; with
    the default ``high`` the value must be finite. ``hint`` ends the
    ValueError's message.
    """
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {name} must be a real number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an int too large for any float
        number = np.inf
    above = low < number if low_open else low <= number
    below = number <= high if high_closed else number < high
    if not (above and below):
        if high == np.inf:
            expected = f"finite and {'>' if low_open else '>='} {low}"
        else:
            expected = f"in {'(' if low_open else '['}{low}, {high}{']' if high_closed else ')'}"
        raise ValueError(f"{who}: {name} must be {expected}, got {value}{hint}")
    return number


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


# -- arrays -----------------------------------------------------------------------

def check_float(x, name, who, dtype=None, like="the layer's parameters", ndim=None, layout=""):
    """Raise unless x is a float32/float64 NumPy array, of ``dtype`` and ``ndim`` if given.

    ``dtype`` is the dtype of ``like`` (named in the message); ``layout`` names
    the dimensions, e.g. "(N, C, H, W)". TypeError for a non-array or a wrong
    dtype, with how to convert; ValueError for a wrong number of dimensions.
    """
    ok = (isinstance(x, np.ndarray) and x.dtype in FLOAT_DTYPES
          and (dtype is None or x.dtype == dtype))
    if not ok:  # the message is built only when needed: this runs on every layer call
        expected = ("float32 or float64" if dtype is None
                    else f"{np.dtype(dtype).name} (the dtype of {like})")
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{who}: {name} must be a NumPy array of {expected}, "
                            f"got {type(x).__name__}")
        target = "float32" if dtype is None else np.dtype(dtype).name
        pixels = " / 255" if x.dtype == np.uint8 else ""
        hint = f"; convert with `{name}.astype(np.{target}){pixels}`"
        if x.dtype.kind not in "biuf":  # no conversion to advise for complex numbers or objects
            hint = ""
        raise TypeError(f"{who}: {name} has dtype {x.dtype}, expected {expected}{hint}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{who}: {name} must have {ndim} dimensions {layout}, got shape {x.shape}")


def check_shape(a, shape, name, who, of="the forward output"):
    """ValueError unless the array a has ``shape``, the shape of ``of``."""
    if a.shape != shape:
        raise ValueError(f"{who}: {name} has shape {a.shape}, expected {shape} (the shape of {of})")


def check_dout(dout, shape, dtype, who, name="dout", of="the forward output"):
    """An upstream gradient must be an array of the forward output's shape and dtype."""
    if not isinstance(dout, np.ndarray):
        raise TypeError(f"{who}: {name} must be a NumPy array of shape {shape} and dtype {dtype} "
                        f"(those of {of}), got {type(dout).__name__}")
    check_shape(dout, shape, name, who, of)
    check_float(dout, name, who, dtype, like=of)


def check_dy(dy, expected, who):
    """Check a layer's dy against (shape, dtype) of its last training forward output.

    Raises RuntimeError if ``expected`` is None: no forward(x, train=True) came first.
    """
    if expected is None:
        raise RuntimeError(f"{who}.backward needs a forward(x, train=True) call first "
                           "(eval-mode forward passes keep no cache)")
    check_dout(dy, *expected, f"{who}.backward", "dy", of="the last forward output")


def real_array(value, name, who):
    """value (an array, a list or a number) as an array of ints or floats, else TypeError."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):  # ragged lists
        array = None
    if array is None or array.dtype.kind not in "fiu":
        got = f"dtype {array.dtype}" if array is not None else type(value).__name__
        raise TypeError(f"{who}: {name} must be an array of real numbers (int or float), got {got}")
    return array


def check_finite(array, name, who, why):
    """array, unless it holds NaN or inf: then ValueError saying how many and ``why`` it matters."""
    bad = array.size - np.count_nonzero(np.isfinite(array))
    if bad:
        raise ValueError(f"{who}: {name} contains {bad} NaN or inf value(s); {why}")
    return array


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


# -- windows ----------------------------------------------------------------------

def check_window(H, W, kh, kw, stride, padding, who):
    """Check stride (>= 1) and padding (>= 0), and that a kh x kw window fits the padded input.

    Returns stride and padding as pairs of ints.
    """
    strides = pair(stride, f"{who}: stride", 1)
    ph, pw = pair(padding, f"{who}: padding", 0)
    if kh > H + 2 * ph or kw > W + 2 * pw:
        raise ValueError(
            f"{who}: kernel {kh}x{kw} is larger than the padded input "
            f"{H + 2 * ph}x{W + 2 * pw} (input {H}x{W}, padding {padding!r})")
    return strides, (ph, pw)
