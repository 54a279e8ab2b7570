"""cnnedu.train: train_step, fit's callbacks, and the delegations from Sequential.

The reference for what fit should report is a training loop written out by
hand here (forward, loss, backward, step), run on an identical model with
the same shuffles, so a wrong batch, step count or accuracy in fit shows.
"""

import math

import numpy as np
import pytest

import cnnedu
from cnnedu import layers as L
from cnnedu import train
from cnnedu.datasets import lines_and_squares


def mlp(seed=0):
    return cnnedu.Sequential([L.Flatten(), L.Linear(121, 8, rng=seed), L.ReLU(),
                              L.Linear(8, 3, rng=seed + 1)])


@pytest.fixture
def toy():
    return lines_and_squares(n_per_class=9, rng=0)  # 27 images (1, 11, 11), 3 classes


def hand_written_fit(model, x, y, optimizer, epochs, batch_size, seed):
    """Per-batch (loss, accuracy) of the loop fit should run, without cnnedu.train."""
    rng, loss_fn, logs = np.random.default_rng(seed), cnnedu.SoftmaxCrossEntropy(), []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            scores = model.forward(x[idx], train=True)
            value, dscores = loss_fn(scores, y[idx])
            model.backward(dscores)
            optimizer.step(model.params, model.grads)
            logs.append((float(value), float(np.mean(scores.argmax(axis=1) == y[idx]))))
    return logs


def test_on_step_gets_each_steps_number_loss_and_accuracy(toy):
    X, y = toy
    calls = []
    model = mlp()
    history = train.fit(model, X, y, cnnedu.SGD(lr=0.1), epochs=3, batch_size=10, rng=4,
                        progress=False, on_step=lambda step, logs: calls.append((step, logs)))
    expected = hand_written_fit(mlp(), X, y, cnnedu.SGD(lr=0.1), 3, 10, seed=4)
    assert len(expected) == 3 * math.ceil(27 / 10) == 9
    assert [step for step, _ in calls] == list(range(1, 10))
    for (step, logs), (loss, accuracy) in zip(calls, expected):
        assert set(logs) == {"loss", "accuracy"}
        assert type(logs["loss"]) is float and type(logs["accuracy"]) is float
        assert logs["loss"] == pytest.approx(loss, rel=1e-6), step
        assert logs["accuracy"] == accuracy, step
    # the epoch's loss is the mean over samples: batches of 10, 10 and 7
    for epoch in range(3):
        losses = [logs["loss"] for _, logs in calls[3 * epoch:3 * epoch + 3]]
        assert history["loss"][epoch] == pytest.approx((10 * losses[0] + 10 * losses[1]
                                                        + 7 * losses[2]) / 27)


def test_on_step_runs_after_the_update(toy):
    X, y = toy
    model = mlp()
    start = {key: p.copy() for key, p in model.params.items()}
    moved = []
    model.fit(X, y, cnnedu.SGD(lr=0.1), batch_size=27, progress=False,
              on_step=lambda step, logs: moved.append(
                  any(not np.array_equal(p, start[k]) for k, p in model.params.items())))
    assert moved == [True]


def test_on_epoch_is_called_once_per_epoch_with_the_history_so_far(toy):
    X, y = toy
    seen = []
    history = mlp().fit(X, y, cnnedu.Adam(1e-2), epochs=4, batch_size=8, rng=0, progress=False,
                        validation_data=(X[:6], y[:6]),
                        on_epoch=lambda epoch, h: seen.append(
                            (epoch, h, {k: list(v) for k, v in h.items()})))
    assert [epoch for epoch, _, _ in seen] == [1, 2, 3, 4]
    for epoch, h, snapshot in seen:
        assert h is history
        assert all(len(values) == epoch for values in snapshot.values()), snapshot
        assert snapshot["loss"] == history["loss"][:epoch]


def test_both_callbacks_interleave_in_order(toy):
    X, y = toy
    events = []
    mlp().fit(X, y, cnnedu.SGD(lr=0.1), epochs=2, batch_size=20, rng=0, progress=False,
              on_step=lambda step, logs: events.append(("step", step)),
              on_epoch=lambda epoch, history: events.append(("epoch", epoch)))
    assert events == [("step", 1), ("step", 2), ("epoch", 1),
                      ("step", 3), ("step", 4), ("epoch", 2)]


def test_fit_calls_train_step_for_every_batch(toy, monkeypatch):
    X, y = toy
    calls = []
    real_train_step = train.train_step

    def counting(model, x, y, optimizer, loss=None):
        calls.append(len(x))
        return real_train_step(model, x, y, optimizer, loss)

    monkeypatch.setattr(train, "train_step", counting)
    mlp().fit(X, y, cnnedu.SGD(), epochs=2, batch_size=10, progress=False)
    assert calls == [10, 10, 7] * 2


def test_train_step_returns_the_loss_and_the_scores_before_the_update(toy):
    X, y = toy
    model, twin = mlp(), mlp()
    scores_before = twin.forward(X, train=True)
    loss, dscores = cnnedu.SoftmaxCrossEntropy()(scores_before, y)
    value, scores = train.train_step(model, X, y, cnnedu.SGD(lr=0.5))
    assert type(value) is float and value == pytest.approx(float(loss), rel=1e-6)
    np.testing.assert_array_equal(scores, scores_before)
    twin.backward(dscores)
    cnnedu.SGD(lr=0.5).step(twin.params, twin.grads)
    for key, p in model.params.items():
        np.testing.assert_allclose(p, twin.params[key], rtol=1e-6, err_msg=key)


def test_sequential_train_step_returns_the_float_loss(toy):
    X, y = toy
    model, twin = mlp(), mlp()
    value = model.train_step(X, y, cnnedu.Adam(1e-2))
    expected, _ = train.train_step(twin, X, y, cnnedu.Adam(1e-2))
    assert type(value) is float and value == expected


def test_sequential_delegates_to_train_and_checkpoint():
    # One implementation each: the methods are the module functions themselves.
    assert cnnedu.Sequential.fit is train.fit
    assert cnnedu.Sequential.save is cnnedu.checkpoint.save
    assert cnnedu.Sequential.load is cnnedu.checkpoint.load


def test_fit_through_the_model_equals_fit_of_the_module(toy):
    X, y = toy
    a = mlp().fit(X, y, cnnedu.Momentum(0.05), epochs=2, batch_size=6, rng=1, progress=False)
    b = train.fit(mlp(), X, y, cnnedu.Momentum(0.05), epochs=2, batch_size=6, rng=1,
                  progress=False)
    assert a["loss"] == b["loss"] and a["train_acc"] == b["train_acc"]


def test_train_step_refuses_a_diverged_loss_before_changing_anything(toy):
    X, y = toy
    model = mlp()
    before = {key: p.copy() for key, p in model.params.items()}
    optimizer = cnnedu.Adam()
    with np.errstate(all="ignore"), pytest.raises(cnnedu.train.TrainingDiverged) as info:
        train.train_step(model, X * np.float32(1e38), y, optimizer)
    assert info.value.loss in (math.inf, -math.inf) or math.isnan(info.value.loss)
    assert str(info.value).startswith(f"loss became {info.value.loss}; try a smaller")
    assert optimizer.t == 0
    for key, p in model.params.items():
        np.testing.assert_array_equal(p, before[key])


def test_fit_names_the_epoch_and_step_where_the_loss_diverged(toy):
    X, y = toy
    steps = []
    with np.errstate(all="ignore"), pytest.raises(cnnedu.train.TrainingDiverged,
                                                  match=r"^loss became (nan|inf) at epoch 1, "
                                                        r"step 1; try a smaller learning rate"):
        mlp().fit(X * np.float32(1e38), y, cnnedu.SGD(), progress=False,
                  on_step=lambda step, logs: steps.append(step))
    assert steps == []


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(optimizer=None), TypeError, r"^train_step: optimizer must have a step"),
    (dict(loss="cross-entropy"), TypeError, r"^train_step: loss must be callable or None"),
])
def test_train_step_checks_optimizer_and_loss(toy, kwargs, error, message):
    X, y = toy
    with pytest.raises(error, match=message):
        train.train_step(mlp(), X, y, **{"optimizer": cnnedu.SGD(), **kwargs})


def test_a_custom_loss_is_used(toy):
    X, y = toy
    seen = []

    def recording_loss(scores, labels):
        seen.append(len(labels))
        return cnnedu.SoftmaxCrossEntropy()(scores, labels)

    mlp().fit(X, y, cnnedu.SGD(), batch_size=20, loss=recording_loss, progress=False)
    assert seen == [20, 7]
