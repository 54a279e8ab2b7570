"""The base class of every layer and the protocol it keeps (see ``cnnedu.layers``; chapter 3 on).

Also the weight initialisation that Conv2D and Linear share.
"""

from .. import init as initialisers
from .._checks import as_generator, check_dy


def initial_weights(init, shape, rng, dtype, who):
    """Weights for a layer (Conv2D, Linear), drawn by its ``init`` argument from ``rng``.

    init: a name in ``cnnedu.init``, a std or a function ``(shape, rng,
    dtype)`` (see ``cnnedu.init.get``); rng: the package's rule. Returns an
    array of ``shape`` and ``dtype``.

    Raises as ``init.get`` and ``as_generator`` for a bad init or rng, and
    ValueError if the initialiser returns anything but an array of ``shape``
    and ``dtype``.

    Chapter 8 (initialisation). Source: see ``cnnedu.init``.
    """
    W = initialisers.get(init)(shape, as_generator(rng, f"{who}: rng"), dtype)
    if getattr(W, "shape", None) != shape or getattr(W, "dtype", None) != dtype:
        raise ValueError(f"{who}: init returned {type(W).__name__} of shape "
                         f"{getattr(W, 'shape', '?')} and dtype {getattr(W, 'dtype', '?')}, "
                         f"expected an array of shape {shape} and dtype {dtype}")
    return W


class Layer:
    """Base class: no parameters, output shape = input shape, and the cache bookkeeping.

    A subclass implements ``forward(x, train=True) -> y``, calling
    ``self._remember(cache, y, train)``, and ``backward(dy) -> dx``, starting
    with ``cache = self._recall(dy)``. ``params`` and ``grads`` start empty.
    Calling the layer, ``layer(x)``, is ``layer.forward(x)``.

    Raises NotImplementedError for ``forward`` or ``backward`` of the bare
    base class; ``_recall`` raises as the protocol in ``cnnedu.layers`` says.

    Chapter 3 (the protocol) and every later chapter. Source: *Deep Learning
    from Scratch*, ``common/layers.py``; CS231n, ``layers.py``.
    """

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x, train=True):
        """The output y for a batch ``x`` (shapes and dtypes: the layer's class docstring).

        ``train=True`` keeps the cache for ``backward``; ``train=False`` (evaluation) keeps
        none, and switches dropout off and batch norm to its running statistics. Raises
        TypeError or ValueError, naming the argument, for a bad ``x``. Chapter 3.
        """
        raise NotImplementedError

    def backward(self, dy):
        """dx for ``dy``, the gradient of the loss w.r.t. the last training forward's output.

        Overwrites ``self.grads``; dx has the input's shape and dtype. Raises as the protocol
        in ``cnnedu.layers`` says (RuntimeError, ValueError, TypeError). Chapter 3.
        """
        raise NotImplementedError

    def output_shape(self, input_shape):
        """Shape of the output for an input of ``input_shape`` (batch dim included); chapter 3."""
        return input_shape

    def _remember(self, cache, out, train):
        # Only backward needs the cache, and some are large (a conv's im2col
        # matrix, Linear's input): in eval mode drop it, so evaluation in
        # batches holds no reference to the batch.
        self.cache = cache if train else None
        self.dy_expected = (out.shape, out.dtype) if train else None

    def _recall(self, dy):
        """The cache of the last training forward, once ``dy`` is checked against its output."""
        check_dy(dy, getattr(self, "dy_expected", None), type(self).__name__)
        return self.cache

    def __call__(self, x, train=True):
        return self.forward(x, train)

    def __repr__(self):
        return f"{type(self).__name__}()"
