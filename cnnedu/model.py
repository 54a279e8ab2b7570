"""``Sequential``: a stack of layers with a training loop, evaluation and save/load.

Chapters 3 (a two-layer net), 7 to 10 (training CNNs). Inputs follow the
dtype rule of ``cnnedu.layers``: float32 (or the dtype of the model's
parameters), never raw integers such as 8-bit pixels.
"""

import json
import math
import os
import tempfile
import time
import zipfile

import numpy as np

from ._checks import as_generator, check_dy, check_float, check_labels, int_arg
from .losses import SoftmaxCrossEntropy
from .progress import progress as progress_bar


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or inf during ``fit``."""


class Sequential:
    """Layers applied one after another.

    ``forward(x, train=True)`` runs them in order and ``backward(dy)`` in
    reverse, with the checks of the layer protocol (see ``cnnedu.layers``).
    ``params`` and ``grads`` are flat dicts keyed ``"<layer index>.<name>"``
    (``"0.W"``, ``"0.b"``, ...) whose values are the layers' own arrays, so an
    optimiser that updates ``params`` in place updates the layers.

    Raises TypeError if an item of ``layers`` is not a layer (e.g. the class
    ``Flatten`` instead of ``Flatten()``). Chapters 3 and 7 to 10; the design
    follows Keras' ``Sequential`` and PyTorch's ``nn.Sequential``.
    """

    def __init__(self, layers):
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            if isinstance(layer, type) or not (callable(getattr(layer, "forward", None))
                                               and callable(getattr(layer, "backward", None))):
                hint = f"; write {layer.__name__}()" if isinstance(layer, type) else ""
                raise TypeError(f"Sequential: layers[{i}] must be a layer with forward and "
                                f"backward, got {layer!r}{hint}")
        self.dy_expected = None

    def forward(self, x, train=True):
        """Output of the last layer; x: (N, ...) as the first layer expects."""
        for layer in self.layers:
            x = layer.forward(x, train)
        self.dy_expected = (x.shape, x.dtype) if train else None
        return x

    __call__ = forward

    def backward(self, dy):
        """Gradient with respect to the input; dy has the shape and dtype of the last output."""
        check_dy(dy, self.dy_expected, "Sequential")
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    @property
    def params(self):
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}

    @property
    def grads(self):
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()}

    # -- evaluation -----------------------------------------------------------

    def scores(self, x, batch_size=256):
        """Class scores (N, K) in eval mode, computed batch by batch to bound memory.

        Zero samples give an empty (0, K) array. Raises TypeError unless x is
        a float array of the model's dtype.
        """
        return self._scores(x, batch_size, "Sequential.scores")

    def predict(self, x, batch_size=256):
        """Predicted class labels (N,), ints; zero samples give an empty array.

        Raises ValueError if some scores are NaN or inf (bad inputs or
        diverged weights), where argmax would silently answer class 0.
        """
        who = "Sequential.predict"
        return _finite(self._scores(x, batch_size, who), who).argmax(axis=1)

    def accuracy(self, x, y, batch_size=256):
        """Fraction of samples whose predicted label equals y, (N,) ints in [0, K).

        Raises ValueError for zero samples, for labels that do not match x in
        number or lie outside [0, K), and for NaN or inf scores.
        """
        who = "Sequential.accuracy"
        if isinstance(x, np.ndarray) and x.ndim and len(x) == 0:
            raise ValueError(f"{who}: x has no samples, and the accuracy of none is undefined")
        scores = _finite(self._scores(x, batch_size, who), who)
        check_labels(y, len(scores), scores.shape[1], who)
        return float(np.mean(scores.argmax(axis=1) == y))

    def _scores(self, x, batch_size, who):
        check_float(x, "x", who)
        if x.ndim == 0:
            raise ValueError(f"{who}: x must have a sample axis, shape (N, ...), got a scalar")
        batch_size = int_arg(batch_size, "batch_size", who, 1)
        if len(x) == 0:
            scores = self.forward(x, train=False)
        else:
            scores = np.concatenate([self.forward(x[i:i + batch_size], train=False)
                                     for i in range(0, len(x), batch_size)])
        if scores.ndim != 2:
            raise ValueError(f"{who}: the model's output has shape {scores.shape}; class scores "
                             "need (N, n_classes), e.g. end with Flatten() and Linear()")
        return scores

    def summary(self, input_shape):
        """A table of each layer's output shape and parameter count, as a string.

        input_shape excludes the batch dimension, e.g. (1, 28, 28).
        """
        shape = (None, *input_shape)
        rows, total = [], 0
        for i, layer in enumerate(self.layers):
            shape = layer.output_shape(shape)
            n = sum(p.size for p in layer.params.values())
            total += n
            rows.append((f"{i}: {layer!r}", str(shape[1:]), f"{n:,}"))
        rows.append(("total", "", f"{total:,}"))
        widths = [max(len(r[c]) for r in rows + [("layer", "output shape", "params")])
                  for c in range(3)]
        line = lambda r: f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}"
        rule = "-" * (sum(widths) + 4)
        return "\n".join([line(("layer", "output shape", "params")), rule,
                          *map(line, rows[:-1]), rule, line(rows[-1])])

    # -- training -------------------------------------------------------------

    def train_step(self, x, y, optimizer, loss=None):
        """One forward/backward/update on a batch; returns the batch loss."""
        loss_fn = loss or SoftmaxCrossEntropy()
        value, dscores = loss_fn(self.forward(x, train=True), y)
        self.backward(dscores)
        optimizer.step(self.params, self.grads)
        return float(value)

    def fit(self, x, y, optimizer, epochs=1, batch_size=64, rng=None, loss=None,
            validation_data=None, progress=True, callback=None):
        """Mini-batch training with per-epoch shuffling.

        x: (N, ...) float inputs of the model's dtype (at least one sample),
        y: (N,) integer labels. ``rng`` drives the shuffling and follows the
        rule of ``cnnedu.layers``: a Generator is used as is, an int seeds a
        fresh one, None draws a seed from NumPy's global state (so
        ``np.random.seed(0)`` repeats a run). ``validation_data`` is a pair
        (x_val, y_val). ``callback(epoch, history)``, if given, runs after
        each epoch. With ``progress=True`` each epoch shows a bar that ends as
        one line with the epoch's loss and accuracies (``cnnedu.progress``:
        live in Jupyter, a single final line in a saved or built notebook).
        Returns a history dict of per-epoch lists: ``loss`` (mean training
        loss), ``train_acc`` (running accuracy over the epoch's batches),
        ``val_acc`` (if validation_data is given) and ``seconds``.

        Raises TypeError/ValueError for bad data or arguments, naming them,
        and ``TrainingDiverged`` if the loss becomes NaN or inf.
        """
        who = "Sequential.fit"
        _check_training_data(x, y, who)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError(f"{who}: validation_data must be a pair (x_val, y_val), "
                                f"got {type(validation_data).__name__}")
            _check_training_data(*validation_data, name=f"{who}: validation_data")
        epochs = int_arg(epochs, "epochs", who, 1)
        batch_size = int_arg(batch_size, "batch_size", who, 1)
        rng = as_generator(rng)
        if not callable(getattr(optimizer, "step", None)):
            raise TypeError(f"{who}: optimizer must have a step(params, grads) method, "
                            f"e.g. cnnedu.SGD(lr=0.1), got {optimizer!r}")
        for name, value in (("loss", loss), ("callback", callback)):
            if value is not None and not callable(value):
                raise TypeError(f"{who}: {name} must be callable or None, got {value!r}")
        loss_fn = loss or SoftmaxCrossEntropy()
        history = {"loss": [], "train_acc": [], "val_acc": [], "seconds": []}
        n_batches = math.ceil(len(x) / batch_size)
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            order = rng.permutation(len(x))
            total_loss = correct = 0.0
            # One bar per epoch; its last state is the epoch's summary line. It is closed
            # (and so keeps its line) even when training stops with an exception.
            bar = progress_bar(total=n_batches, desc=f"epoch {epoch}/{epochs}", unit="batch",
                               disable=not progress)
            try:
                for step in range(n_batches):
                    idx = order[step * batch_size:(step + 1) * batch_size]
                    scores = self.forward(x[idx], train=True)
                    value, dscores = loss_fn(scores, y[idx])
                    if not np.isfinite(value):
                        raise TrainingDiverged(
                            f"loss became {value} at epoch {epoch}, step {step + 1}; try a "
                            "smaller learning rate, or check the inputs are scaled (e.g. to [0, 1])")
                    self.backward(dscores)
                    optimizer.step(self.params, self.grads)
                    total_loss += value * len(idx)
                    correct += np.sum(scores.argmax(axis=1) == y[idx])
                    seen = min((step + 1) * batch_size, len(x))
                    bar.set_postfix_str(f"loss {total_loss / seen:.4f}", refresh=False)
                    bar.update()
                history["loss"].append(total_loss / len(x))
                history["train_acc"].append(correct / len(x))
                if validation_data is not None:
                    history["val_acc"].append(self.accuracy(*validation_data))
                history["seconds"].append(time.perf_counter() - start)
                val = (f", val acc {history['val_acc'][-1]:.4f}"
                       if validation_data is not None else "")
                bar.set_postfix_str(f"loss {history['loss'][-1]:.4f}, "
                                    f"train acc {history['train_acc'][-1]:.4f}{val}", refresh=False)
            finally:
                bar.close()
            if callback is not None:
                callback(epoch, history)
        return history

    # -- save / load ----------------------------------------------------------

    def architecture(self):
        """The layer descriptions that ``save`` stores and ``load`` checks."""
        return [repr(layer) for layer in self.layers]

    def state(self):
        """Every array ``save`` stores: ``params`` and the layers' ``buffers`` (e.g. the running
        statistics of batch normalisation), keyed ``"<layer index>.<name>"``."""
        buffers = {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                   for k, v in getattr(layer, "buffers", {}).items()}
        return {**self.params, **buffers}

    def save(self, path):
        """Write parameters, buffers and architecture to an ``.npz`` file, atomically.

        The file is written under a temporary name in the same folder and then
        renamed, so an interrupted save never leaves a half-written file.
        """
        path = os.fspath(path)
        arrays = dict(self.state())
        arrays["__architecture__"] = np.array(json.dumps(self.architecture()))
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise

    def load(self, path):
        """Load the parameters and buffers saved by ``save`` into this model, checking they fit."""
        path = os.fspath(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except FileNotFoundError:
            raise
        except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError) as e:
            raise ValueError(f"cannot read {path}: the file is truncated or not a cnnedu "
                             f"model file ({type(e).__name__}: {e})") from None
        if "__architecture__" not in arrays:
            raise ValueError(f"{path} has no architecture record; was it written by Sequential.save?")
        saved = json.loads(str(arrays.pop("__architecture__")))
        if saved != self.architecture():
            raise ValueError(f"{path} holds a different architecture:\n  saved: {saved}\n"
                             f"  model: {self.architecture()}")
        params = self.state()
        if arrays.keys() != params.keys():
            raise ValueError(f"{path} has arrays {sorted(arrays)}, model expects {sorted(params)}")
        for key, p in params.items():
            if arrays[key].shape != p.shape:
                raise ValueError(f"{path}: parameter {key} has shape {arrays[key].shape}, "
                                 f"model expects {p.shape}")
        for key, p in params.items():
            p[...] = arrays[key]
        return self


def _finite(scores, who):
    """scores, unless a row holds NaN or inf (argmax would silently pick class 0)."""
    bad = ~np.isfinite(scores).all(axis=1)
    if bad.any():
        raise ValueError(f"{who}: the scores of {bad.sum()} samples are NaN or inf (first: index "
                         f"{np.argmax(bad)}); x holds NaN or inf there, or the weights diverged")
    return scores


def _check_training_data(x, y, name):
    check_float(x, "x", name)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"{name}: x must hold at least one sample, shape (N, ...), got {x.shape}")
    if not isinstance(y, np.ndarray):
        raise TypeError(f"{name}: y must be a 1-D integer array of labels, got {type(y).__name__}")
    if y.ndim != 1:
        raise ValueError(f"{name}: y must be a 1-D integer array of labels, got shape {y.shape}")
    if len(x) != len(y):
        raise ValueError(f"{name}: x has {len(x)} samples but y has {len(y)} labels; they must match")
    if not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x.reshape(len(x), -1)).all(axis=1)).ravel()
        raise ValueError(f"{name}: x contains NaN or inf in {len(bad)} samples "
                         f"(first: index {bad[0]}); clean or drop them before training")
    check_labels(y, len(x), np.iinfo(np.int64).max, name)
