"""Training: ``train_step`` (one update on a batch) and ``fit`` (mini-batch epochs).

Chapters 3 and 8 call ``train_step`` in hand-written loops; chapters 7 and 10
to 12 train with ``fit``, and chapter 10 records its curves with the
``on_step`` and ``on_epoch`` callbacks. ``Sequential.fit`` is this ``fit`` and
``Sequential.train_step`` returns the loss of this ``train_step``, so
``model.fit(x, y, optimizer)`` and ``fit(model, x, y, optimizer)`` do the same.

A model is anything with ``forward(x, train)``, ``backward(dy)``, ``params``,
``grads`` and ``accuracy(x, y)``, as ``cnnedu.Sequential`` has; this module
does not import ``cnnedu.model``. The loop follows Keras' ``Model.fit`` (one
history dict, callbacks after each batch and epoch) and the training loop of
the CS231n assignments (``Solver``).
"""

import math
import time

import numpy as np

from ._checks import as_generator, check_float, check_labels, int_arg
from .losses import SoftmaxCrossEntropy
from .progress import progress as progress_bar

_HINT = "try a smaller learning rate, or check the inputs are scaled (e.g. to [0, 1])"


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or inf; raised before any parameter is changed.

    ``loss`` holds the offending value. ``train_step`` raises it; ``fit``
    raises it again with the epoch and step in the message. Chapters 8 and 10.
    """

    def __init__(self, message, loss=math.nan):
        super().__init__(message)
        self.loss = loss


def train_step(model, x, y, optimizer, loss=None):
    """One forward, loss, backward and optimiser update on the batch (x, y).

    x: (N, ...) float32/float64 inputs as the model's first layer expects;
    y: (N,) integer labels in [0, K). ``loss(scores, y) -> (mean loss,
    dscores)`` defaults to ``SoftmaxCrossEntropy()``. ``optimizer.step`` then
    updates ``model.params`` in place from ``model.grads``.

    Returns ``(loss, scores)``: the batch's mean loss as a Python float and
    the (N, K) scores of the forward pass (before the update), from which
    ``fit`` counts the correct predictions. ``Sequential.train_step`` returns
    the loss alone. Raises TypeError if optimizer has no ``step`` or loss is
    not callable, the layers' and the loss's errors for bad x or y, and
    ``TrainingDiverged`` if the loss is NaN or inf, before changing anything.
    Chapters 3 and 8; source: CS231n notes, "Neural Networks Part 3".
    """
    loss_fn = _check_optimizer_and_loss(optimizer, loss, "train_step")
    scores = model.forward(x, train=True)
    value, dscores = loss_fn(scores, y)
    value = float(value)
    if not math.isfinite(value):
        raise TrainingDiverged(f"loss became {value}; {_HINT}", value)
    model.backward(dscores)
    optimizer.step(model.params, model.grads)
    return value, scores


def fit(model, x, y, optimizer, epochs=1, batch_size=64, rng=None, loss=None,
        validation_data=None, progress=True, on_epoch=None, on_step=None):
    """Mini-batch training with a fresh shuffle each epoch; returns the history.

    x: (N, ...) float inputs of the model's dtype, N >= 1, without NaN or inf;
    y: (N,) integer labels. Each epoch shuffles the samples, cuts them into
    ``ceil(N / batch_size)`` batches (the last may be smaller) and calls
    ``train_step`` on each. ``rng`` drives the shuffling and follows the rule
    of ``cnnedu._checks.as_generator``: a Generator is used as is, an int
    seeds a fresh one, None draws a seed from NumPy's global state (so
    ``np.random.seed(0)`` repeats a run). ``validation_data`` is a pair
    (x_val, y_val), evaluated with ``model.accuracy`` after each epoch.

    Callbacks: ``on_step(step, logs)`` after each optimiser step, with
    ``step`` counting the steps since fit began (1, 2, ...) and ``logs`` a
    dict of floats, ``"loss"`` (the batch's mean loss) and ``"accuracy"``
    (the batch's accuracy, from the scores before the update).
    ``on_epoch(epoch, history)`` after each epoch (1, 2, ..., epochs), once
    its history entries are in. With ``progress=True`` each epoch shows a bar
    that ends as one line with the epoch's loss and accuracies
    (``cnnedu.progress``).

    Returns a history dict of per-epoch lists: ``loss`` (mean training loss
    over the epoch's samples), ``train_acc`` (fraction of the epoch's samples
    predicted right as they were trained on), ``val_acc`` (empty without
    validation_data) and ``seconds``.

    Raises TypeError/ValueError naming the argument for bad data, epochs,
    batch_size, rng, optimizer, loss, validation_data or callbacks, and
    ``TrainingDiverged`` (naming the epoch and step) if the loss becomes NaN
    or inf. Chapters 7 and 10 to 12; the design follows Keras' ``fit``.
    """
    who = "fit"
    _check_training_data(x, y, who)
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError(f"{who}: validation_data must be a pair (x_val, y_val), "
                            f"got {type(validation_data).__name__}")
        _check_training_data(*validation_data, who=f"{who}: validation_data")
    epochs = int_arg(epochs, "epochs", who, 1)
    batch_size = int_arg(batch_size, "batch_size", who, 1)
    rng = as_generator(rng, f"{who}: rng")
    loss_fn = _check_optimizer_and_loss(optimizer, loss, who)
    for name, value in (("on_epoch", on_epoch), ("on_step", on_step)):
        if value is not None and not callable(value):
            raise TypeError(f"{who}: {name} must be callable or None, got {value!r}")
    history = {"loss": [], "train_acc": [], "val_acc": [], "seconds": []}
    n_batches = math.ceil(len(x) / batch_size)
    steps_done = 0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = rng.permutation(len(x))
        total_loss = correct = seen = 0
        # One bar per epoch; its last state is the epoch's summary line. It is closed
        # (and so keeps its line) even when training stops with an exception.
        bar = progress_bar(total=n_batches, desc=f"epoch {epoch}/{epochs}", unit="batch",
                           disable=not progress)
        try:
            for batch in range(n_batches):
                idx = order[batch * batch_size:(batch + 1) * batch_size]
                try:
                    value, scores = train_step(model, x[idx], y[idx], optimizer, loss_fn)
                except TrainingDiverged as error:
                    raise TrainingDiverged(f"loss became {error.loss} at epoch {epoch}, "
                                           f"step {batch + 1}; {_HINT}", error.loss) from None
                steps_done += 1
                batch_correct = int(np.sum(scores.argmax(axis=1) == y[idx]))
                total_loss += value * len(idx)
                correct += batch_correct
                seen += len(idx)
                if on_step is not None:
                    on_step(steps_done, {"loss": value, "accuracy": batch_correct / len(idx)})
                bar.set_postfix_str(f"loss {total_loss / seen:.4f}", refresh=False)
                bar.update()
            history["loss"].append(total_loss / len(x))
            history["train_acc"].append(correct / len(x))
            if validation_data is not None:
                history["val_acc"].append(model.accuracy(*validation_data))
            history["seconds"].append(time.perf_counter() - start)
            val = f", val acc {history['val_acc'][-1]:.4f}" if validation_data is not None else ""
            bar.set_postfix_str(f"loss {history['loss'][-1]:.4f}, "
                                f"train acc {history['train_acc'][-1]:.4f}{val}", refresh=False)
        finally:
            bar.close()
        if on_epoch is not None:
            on_epoch(epoch, history)
    return history


def _check_optimizer_and_loss(optimizer, loss, who):
    """The loss function to use (``SoftmaxCrossEntropy()`` for None), after checking both."""
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"{who}: optimizer must have a step(params, grads) method, "
                        f"e.g. cnnedu.SGD(lr=0.1), got {optimizer!r}")
    if loss is not None and not callable(loss):
        raise TypeError(f"{who}: loss must be callable or None, got {loss!r}")
    return loss or SoftmaxCrossEntropy()


def _check_training_data(x, y, who):
    """Float x with at least one sample and no NaN or inf; y as many integer labels >= 0."""
    check_float(x, "x", who)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"{who}: x must hold at least one sample, shape (N, ...), got {x.shape}")
    if not isinstance(y, np.ndarray):
        raise TypeError(f"{who}: y must be a 1-D integer array of labels, got {type(y).__name__}")
    if y.ndim != 1:
        raise ValueError(f"{who}: y must be a 1-D integer array of labels, got shape {y.shape}")
    if len(x) != len(y):
        raise ValueError(f"{who}: x has {len(x)} samples but y has {len(y)} labels; "
                         "they must match")
    if not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x.reshape(len(x), -1)).all(axis=1)).ravel()
        raise ValueError(f"{who}: x contains NaN or inf in {len(bad)} samples "
                         f"(first: index {bad[0]}); clean or drop them before training")
    # The number of classes is the model's business: the loss checks the upper bound.
    check_labels(y, len(x), np.iinfo(np.int64).max, who)
