"""``Sequential``: a stack of layers, run forward and backward, evaluated and summarised.

Chapter 3 builds a two-layer net with it; chapters 7, 8 and 10 to 13 build
CNNs (``cnnedu.zoo`` too). Training lives in ``cnnedu.train`` and saving in
``cnnedu.checkpoint``; ``Sequential.fit``, ``train_step``, ``save``,
``load``, ``state`` and ``architecture`` hand over to them, so
``model.fit(...)`` and ``model.save(path)`` read as before. Inputs follow
the dtype rule of ``cnnedu.layers``: float32 (or the dtype of the model's
parameters), never raw integers such as 8-bit pixels.
"""

import numpy as np

from . import checkpoint
from . import train as training
from ._checks import check_dy, check_float, check_labels, int_arg


class Sequential:
    """Layers applied one after another.

    ``forward(x, train=True)`` runs them in order and ``backward(dy)`` in
    reverse, with the checks of the layer protocol (see ``cnnedu.layers``).
    ``params`` and ``grads`` are flat dicts keyed ``"<layer index>.<name>"``
    (``"0.W"``, ``"0.b"``, ...) whose values are the layers' own arrays, so an
    optimiser that updates ``params`` in place updates the layers.

    Raises TypeError if an item of ``layers`` is not a layer (e.g. the class
    ``Flatten`` instead of ``Flatten()``). Chapters 3, 7, 8 and 10 to 13; the
    design follows Keras' ``Sequential`` and PyTorch's ``nn.Sequential``.
    """

    def __init__(self, layers):
        self.layers = _checked_layers(layers)
        self.dy_expected = None  # (shape, dtype) of the last training output, for backward

    def forward(self, x, train=True):
        """Output of the last layer; x: (N, ...) as the first layer expects."""
        for layer in self.layers:
            x = layer.forward(x, train)
        self.dy_expected = (x.shape, x.dtype) if train else None
        return x

    __call__ = forward

    def backward(self, dy):
        """Gradient w.r.t. the input (None if the first layer skips it); dy as the last output."""
        check_dy(dy, self.dy_expected, "Sequential")
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    @property
    def params(self):
        """The layers' parameters keyed ``"<layer index>.<name>"``: their own arrays, not copies."""
        return _by_layer(self.layers, "params")

    @property
    def grads(self):
        """The gradients of the last ``backward``, with the keys and shapes of ``params``."""
        return _by_layer(self.layers, "grads")

    def scores(self, x, batch_size=256):
        """Class scores (N, K) in eval mode, computed batch by batch to bound memory.

        Zero samples give an empty (0, K) array. Raises TypeError unless x is
        a float array of the model's dtype.
        """
        return _scores(self, x, batch_size, "Sequential.scores")

    def predict(self, x, batch_size=256):
        """Predicted class labels (N,), ints; zero samples give an empty array.

        Raises ValueError if some scores are NaN or inf (bad inputs or
        diverged weights), where argmax would silently answer class 0.
        """
        return _scores(self, x, batch_size, "Sequential.predict", finite=True).argmax(axis=1)

    def accuracy(self, x, y, batch_size=256):
        """Fraction of samples whose predicted label equals y, (N,) ints in [0, K).

        Raises ValueError for zero samples, for labels that do not match x in
        number or lie outside [0, K), and for NaN or inf scores.
        """
        who = "Sequential.accuracy"
        if isinstance(x, np.ndarray) and x.ndim and len(x) == 0:
            raise ValueError(f"{who}: x has no samples, and the accuracy of none is undefined")
        scores = _scores(self, x, batch_size, who, finite=True)
        check_labels(y, len(scores), scores.shape[1], who)
        return float(np.mean(scores.argmax(axis=1) == y))

    def summary(self, input_shape):
        """A table of each layer's output shape and parameter count, as a string.

        input_shape excludes the batch dimension, e.g. (1, 28, 28).
        """
        shape, rows = (None, *input_shape), []
        for i, layer in enumerate(self.layers):
            shape = layer.output_shape(shape)
            count = sum(p.size for p in layer.params.values())
            rows.append((f"{i}: {layer!r}", str(shape[1:]), count))
        return _table(rows)

    # Training and saving have their own modules; these names keep model.fit(...) working.
    fit = training.fit
    save = checkpoint.save
    load = checkpoint.load
    state = checkpoint.state
    architecture = checkpoint.architecture

    def train_step(self, x, y, optimizer, loss=None):
        """One update on the batch (``cnnedu.train.train_step``); returns its mean loss, a float."""
        return training.train_step(self, x, y, optimizer, loss)[0]


def _by_layer(layers, attribute):
    """One flat dict of the layers' ``params`` or ``grads``, keyed "<layer index>.<name>"."""
    return {f"{i}.{k}": v for i, layer in enumerate(layers)
            for k, v in getattr(layer, attribute).items()}


def _checked_layers(layers):
    """layers as a list, after checking that each item is a layer object."""
    layers = list(layers)
    for i, layer in enumerate(layers):
        if isinstance(layer, type) or not (callable(getattr(layer, "forward", None))
                                           and callable(getattr(layer, "backward", None))):
            hint = f"; write {layer.__name__}()" if isinstance(layer, type) else ""
            raise TypeError(f"Sequential: layers[{i}] must be a layer with forward and "
                            f"backward, got {layer!r}{hint}")
    return layers


def _scores(model, x, batch_size, who, finite=False):
    """Eval-mode scores (N, K) batch by batch; with ``finite``, refuse NaN or inf rows."""
    check_float(x, "x", who)
    if x.ndim == 0:
        raise ValueError(f"{who}: x must have a sample axis, shape (N, ...), got a scalar")
    batch_size = int_arg(batch_size, "batch_size", who, 1)
    if len(x) == 0:
        scores = model.forward(x, train=False)
    else:
        scores = np.concatenate([model.forward(x[i:i + batch_size], train=False)
                                 for i in range(0, len(x), batch_size)])
    if scores.ndim != 2:
        raise ValueError(f"{who}: the model's output has shape {scores.shape}; class scores "
                         "need (N, n_classes), e.g. end with Flatten() and Linear()")
    if finite:
        # argmax of a NaN row is 0: a silent wrong answer, so predict and accuracy refuse it
        bad = ~np.isfinite(scores).all(axis=1)
        if bad.any():
            raise ValueError(f"{who}: the scores of {bad.sum()} samples are NaN or inf (first: "
                             f"index {np.argmax(bad)}); x holds NaN or inf there, or the weights "
                             "diverged")
    return scores


def _table(rows):
    """rows of (layer, output shape, parameter count) as an aligned table with a total."""
    total = sum(count for _, _, count in rows)
    rows = [(name, shape, f"{count:,}") for name, shape, count in rows]
    rows.append(("total", "", f"{total:,}"))
    header = ("layer", "output shape", "params")
    widths = [max(len(r[c]) for r in rows + [header]) for c in range(3)]

    def line(r):
        return f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}"

    rule = "-" * (sum(widths) + 4)
    return "\n".join([line(header), rule, *map(line, rows[:-1]), rule, line(rows[-1])])
