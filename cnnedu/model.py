"""``Sequential``: a stack of layers with a training loop, evaluation and save/load."""

import json
import math
import os
import tempfile
import time
import zipfile

import numpy as np
from tqdm.auto import tqdm

from .losses import SoftmaxCrossEntropy
from .functional import check_labels


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or inf during ``fit``."""


class Sequential:
    """Layers applied one after another.

    ``params`` and ``grads`` are flat dicts keyed ``"<layer index>.<name>"``
    (``"0.W"``, ``"0.b"``, ...) whose values are the layers' own arrays, so an
    optimiser that updates ``params`` in place updates the layers.
    """

    def __init__(self, layers):
        self.layers = list(layers)

    def forward(self, x, train=True):
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    __call__ = forward

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    @property
    def params(self):
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}

    @property
    def grads(self):
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()}

    # -- evaluation -----------------------------------------------------------

    def scores(self, x, batch_size=256):
        """Class scores (N, K) in eval mode, computed batch by batch to bound memory."""
        return np.concatenate([self.forward(x[i:i + batch_size], train=False)
                               for i in range(0, len(x), batch_size)])

    def predict(self, x, batch_size=256):
        """Predicted class labels (N,)."""
        return self.scores(x, batch_size).argmax(axis=1)

    def accuracy(self, x, y, batch_size=256):
        """Fraction of samples whose predicted label equals y."""
        if len(x) != len(y):
            raise ValueError(f"accuracy: {len(x)} samples but {len(y)} labels; they must match")
        return float(np.mean(self.predict(x, batch_size) == y))

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

        x: (N, ...) float inputs, y: (N,) integer labels. ``rng`` (a Generator
        or seed) drives the shuffling, so a seeded run repeats exactly.
        ``callback(epoch, history)``, if given, runs after each epoch.
        Returns a history dict of per-epoch lists: ``loss`` (mean training
        loss), ``train_acc`` (running accuracy over the epoch's batches),
        ``val_acc`` (if validation_data is given) and ``seconds``.
        """
        _check_training_data(x, y)
        if validation_data is not None:
            _check_training_data(*validation_data, name="validation_data")
        rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        loss_fn = loss or SoftmaxCrossEntropy()
        history = {"loss": [], "train_acc": [], "val_acc": [], "seconds": []}
        n_batches = math.ceil(len(x) / batch_size)
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            order = rng.permutation(len(x))
            total_loss = correct = 0.0
            bar = tqdm(range(n_batches), desc=f"epoch {epoch}/{epochs}", disable=not progress,
                       leave=False, mininterval=0.5)
            for step in bar:
                idx = order[step * batch_size:(step + 1) * batch_size]
                scores = self.forward(x[idx], train=True)
                value, dscores = loss_fn(scores, y[idx])
                if not np.isfinite(value):
                    raise TrainingDiverged(
                        f"loss became {value} at epoch {epoch}, step {step + 1}; try a smaller "
                        "learning rate, or check the inputs are scaled (e.g. to [0, 1])")
                self.backward(dscores)
                optimizer.step(self.params, self.grads)
                total_loss += value * len(idx)
                correct += np.sum(scores.argmax(axis=1) == y[idx])
            history["loss"].append(total_loss / len(x))
            history["train_acc"].append(correct / len(x))
            if validation_data is not None:
                history["val_acc"].append(self.accuracy(*validation_data))
            history["seconds"].append(time.perf_counter() - start)
            if progress:
                val = f", val acc {history['val_acc'][-1]:.4f}" if validation_data is not None else ""
                tqdm.write(f"epoch {epoch}/{epochs}: loss {history['loss'][-1]:.4f}, "
                           f"train acc {history['train_acc'][-1]:.4f}{val} "
                           f"({history['seconds'][-1]:.1f} s)")
            if callback is not None:
                callback(epoch, history)
        return history

    # -- save / load ----------------------------------------------------------

    def architecture(self):
        """The layer descriptions that ``save`` stores and ``load`` checks."""
        return [repr(layer) for layer in self.layers]

    def save(self, path):
        """Write parameters and architecture to an ``.npz`` file, atomically.

        The file is written under a temporary name in the same folder and then
        renamed, so an interrupted save never leaves a half-written file.
        """
        path = os.fspath(path)
        arrays = {k: v for k, v in self.params.items()}
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
        """Load parameters saved by ``save`` into this model, checking they fit."""
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
        params = self.params
        if arrays.keys() != params.keys():
            raise ValueError(f"{path} has parameters {sorted(arrays)}, model expects {sorted(params)}")
        for key, p in params.items():
            if arrays[key].shape != p.shape:
                raise ValueError(f"{path}: parameter {key} has shape {arrays[key].shape}, "
                                 f"model expects {p.shape}")
        for key, p in params.items():
            p[...] = arrays[key]
        return self


def _check_training_data(x, y, name="training data"):
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name}: x must be a float array, got "
                        f"{getattr(x, 'dtype', type(x).__name__)}")
    if len(x) != len(y):
        raise ValueError(f"{name}: x has {len(x)} samples but y has {len(y)} labels; they must match")
    if not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x.reshape(len(x), -1)).all(axis=1)).ravel()
        raise ValueError(f"{name}: x contains NaN or inf in {len(bad)} samples "
                         f"(first: index {bad[0]}); clean or drop them before training")
    check_labels(y, len(x), np.iinfo(np.int64).max, name)
