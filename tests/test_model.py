import numpy as np
import pytest

import cnnedu
from cnnedu import layers as L
from cnnedu.datasets import lines_and_squares, spiral, train_test_split
from cnnedu.gradcheck import check_model


def small_cnn(rng, n_kernels=16):
    return cnnedu.Sequential([
        L.Conv2D(1, n_kernels, 5, rng=rng), L.ReLU(),
        L.Flatten(), L.Linear(n_kernels * 7 * 7, 3, init="xavier", rng=rng),
    ])


def test_whole_model_gradient_check_float64():
    rng = np.random.default_rng(0)
    model = cnnedu.Sequential([L.Conv2D(1, 2, 3, padding=1, rng=rng), L.Tanh(), L.AvgPool2D(2),
                               L.Flatten(), L.Linear(2 * 3 * 3, 3, rng=rng)])
    x = rng.standard_normal((4, 1, 6, 6))
    errors = check_model(model, x, np.array([0, 1, 2, 1]), cnnedu.SoftmaxCrossEntropy())
    assert len(errors) == 4 and max(errors.values()) < 1e-7, errors


def test_spiral_two_layer_net_reaches_97_percent():
    X, y = spiral(rng=0)
    rng = np.random.default_rng(0)
    model = cnnedu.Sequential([L.Linear(2, 100, init=0.01, rng=rng), L.ReLU(),
                               L.Linear(100, 3, init=0.01, rng=rng)])
    history = model.fit(X, y, cnnedu.SGD(lr=1.0, weight_decay=1e-3), epochs=3000,
                        batch_size=len(X), rng=0, progress=False)
    assert history["loss"][-1] < history["loss"][0]
    assert model.accuracy(X, y) >= 0.97


def test_small_cnn_reaches_100_percent_on_lines_and_squares():
    X, y = lines_and_squares(rng=0)
    X = X - X.mean()
    X_train, X_test, y_train, y_test = train_test_split(X, y, 0.8, rng=0)
    model = small_cnn(np.random.default_rng(0))  # conv 16 kernels of 5x5 -> ReLU -> Linear
    history = model.fit(X_train, y_train, cnnedu.SGD(lr=0.1), epochs=30, batch_size=16, rng=0,
                        validation_data=(X_test, y_test), progress=False)
    assert len(history["val_acc"]) == 30 and len(history["seconds"]) == 30
    assert model.accuracy(X_test, y_test) == 1.0


def test_fit_is_reproducible_from_a_seed():
    X, y = lines_and_squares(n_per_class=20, rng=1)
    runs = []
    for _ in range(2):
        model = small_cnn(np.random.default_rng(3), n_kernels=2)
        runs.append(model.fit(X, y, cnnedu.Adam(1e-3), epochs=2, batch_size=8, rng=5, progress=False)["loss"])
    assert runs[0] == runs[1]


def test_fit_rejects_bad_data():
    X, y = lines_and_squares(n_per_class=5, rng=0)
    model = small_cnn(np.random.default_rng(0), 2)
    opt = cnnedu.SGD()
    with pytest.raises(ValueError, match="x has 15 samples but y has 14 labels"):
        model.fit(X, y[:-1], opt, progress=False)
    bad = X.copy()
    bad[3, 0, 2, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf in 1 samples \(first: index 3\)"):
        model.fit(bad, y, opt, progress=False)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\] for 3 classes, got values from 0 to 7"):
        model.fit(X, np.where(y == 2, 7, y), opt, progress=False)
    with pytest.raises(TypeError, match="labels must be integers"):
        model.fit(X, y.astype(np.float32), opt, progress=False)


def test_fit_stops_on_divergence_naming_epoch_and_step():
    X, y = spiral(rng=0)
    model = cnnedu.Sequential([L.Linear(2, 50, rng=0), L.ReLU(), L.Linear(50, 3, rng=0)])
    with pytest.raises(cnnedu.TrainingDiverged, match=r"loss became (nan|inf) at epoch 1, step \d+"):
        with np.errstate(all="ignore"):
            model.fit(X * 1e30, y, cnnedu.SGD(lr=1e10), epochs=3, batch_size=30, rng=0, progress=False)


def test_accuracy_in_batches_equals_full():
    X, y = lines_and_squares(n_per_class=30, rng=0)
    model = small_cnn(np.random.default_rng(0), 2)
    assert model.accuracy(X, y, batch_size=7) == model.accuracy(X, y, batch_size=1000)


def test_summary_lists_shapes_and_parameter_counts():
    model = cnnedu.Sequential([L.Conv2D(1, 32, 3, padding=1, rng=0), L.ReLU(), L.MaxPool2D(2),
                               L.Flatten(), L.Linear(32 * 14 * 14, 10, rng=0)])
    text = model.summary((1, 28, 28))
    assert "(32, 28, 28)" in text and "(32, 14, 14)" in text and "(6272,)" in text
    assert "320" in text and "62,730" in text and "63,050" in text.splitlines()[-1]


# ----------------------------------------------------------------------------
# Issue 12: the same rules in Sequential and the losses
# ----------------------------------------------------------------------------

def mlp(rng=0):
    return cnnedu.Sequential([L.Flatten(), L.Linear(121, 8, rng=rng), L.ReLU(), L.Linear(8, 3, rng=rng)])


@pytest.fixture
def toy():
    X, y = lines_and_squares(n_per_class=4, rng=0)
    return X, y


def test_zero_samples_give_empty_scores_and_predictions(toy):
    X, y = toy
    model = small_cnn(np.random.default_rng(0), 2)
    none = X[y == 5]  # no sample has label 5
    scores = model.scores(none)
    assert scores.shape == (0, 3) and scores.dtype == np.float32
    predictions = model.predict(none)
    assert predictions.shape == (0,) and np.issubdtype(predictions.dtype, np.integer)
    assert model.forward(none).shape == (0, 3)
    assert mlp().predict(none).shape == (0,)  # Flatten on zero samples
    with pytest.raises(ValueError, match="Sequential.accuracy: x has no samples"):
        model.accuracy(none, y[y == 5])


def test_raw_pixels_and_float64_are_refused_with_the_conversion_to_make():
    model = cnnedu.Sequential([L.Flatten(), L.Linear(784, 10, rng=0)])
    raw = np.random.default_rng(0).integers(0, 256, (5, 1, 28, 28), dtype=np.uint8)
    with pytest.raises(TypeError, match=r"Sequential.predict: x has dtype uint8, expected float32 or "
                                        r"float64; convert with `x.astype\(np.float32\) / 255`"):
        model.predict(raw)
    with pytest.raises(TypeError, match=r"x has dtype int64.*x.astype\(np.float32\)"):
        model.scores(raw.astype(np.int64))
    with pytest.raises(TypeError, match=r"Linear: x has dtype float64, expected float32 .*"
                                        r"convert with `x.astype\(np.float32\)`"):
        model.predict(raw / 255)
    assert model.predict((raw / 255).astype(np.float32)).shape == (5,)
    with pytest.raises(TypeError, match=r"Sequential.accuracy: x must be a NumPy array .* got list"):
        model.accuracy(raw.tolist(), np.zeros(5, int))
    with pytest.raises(TypeError, match=r"^fit: x has dtype uint8"):
        model.fit(raw, np.zeros(5, int), cnnedu.SGD(), progress=False)
    with pytest.raises(TypeError, match=r"Linear: x has dtype float64"):
        model.fit(raw / 255, np.zeros(5, int), cnnedu.SGD(), progress=False)


def test_predict_and_accuracy_refuse_nan_scores_instead_of_answering_class_0(toy):
    X, y = toy
    model = mlp()
    bad = X.copy()
    bad[2, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"Sequential.predict: the scores of 1 samples are NaN or inf "
                                         r"\(first: index 2\)"):
        model.predict(bad)
    with pytest.raises(ValueError, match=r"Sequential.accuracy: the scores of 1 samples"):
        model.accuracy(bad, y)
    assert np.isnan(model.scores(bad)[2]).all()  # scores itself is plain IEEE arithmetic


@pytest.mark.parametrize("labels,error,message", [
    (lambda y: y[:-1], ValueError, r"Sequential.accuracy: 12 samples but 11 labels"),
    (lambda y: y.astype(np.float64), TypeError, r"labels must be integers"),
    (lambda y: y == 1, TypeError, r"labels must be integers"),
    (lambda y: y + 1, ValueError, r"labels must be in \[0, 2\] for 3 classes, got values from 1 to 3"),
    (lambda y: y[:, None], ValueError, r"labels must be a 1-D integer array"),
    (lambda y: list(y), TypeError, r"labels must be a 1-D integer NumPy array"),
])
def test_accuracy_checks_the_labels(toy, labels, error, message):
    X, y = toy
    with pytest.raises(error, match=message):
        mlp().accuracy(X, labels(y))


def test_evaluation_checks_its_arguments(toy):
    X, y = toy
    model = mlp()
    with pytest.raises(ValueError, match=r"Sequential.scores: batch_size must be an int >= 1, got 0"):
        model.scores(X, batch_size=0)
    with pytest.raises(TypeError, match=r"Sequential.predict: batch_size must be an int, got 2.5"):
        model.predict(X, batch_size=2.5)
    with pytest.raises(ValueError, match=r"Sequential.scores: x must have a sample axis"):
        model.scores(np.zeros((), np.float32))
    conv_only = cnnedu.Sequential([L.Conv2D(1, 2, 3, rng=0)])
    with pytest.raises(ValueError, match=r"Sequential.predict: the model's output has shape \(12, 2, 9, 9\)"):
        conv_only.predict(X)


def test_sequential_refuses_things_that_are_not_layers():
    with pytest.raises(TypeError, match=r"Sequential: layers\[0\] must be a layer .*; write Flatten\(\)"):
        cnnedu.Sequential([L.Flatten, L.Linear(4, 2)])
    with pytest.raises(TypeError, match=r"Sequential: layers\[1\] must be a layer .* got 'relu'"):
        cnnedu.Sequential([L.Linear(4, 2), "relu"])


def test_sequential_backward_checks_dy(toy):
    X, y = toy
    model = mlp()
    with pytest.raises(RuntimeError, match=r"Sequential.backward needs a forward\(x, train=True\) call first"):
        model.backward(np.zeros((12, 3), np.float32))
    model.forward(X, train=False)
    with pytest.raises(RuntimeError, match=r"Sequential.backward needs a forward\(x, train=True\)"):
        model.backward(np.zeros((12, 3), np.float32))
    out = model.forward(X)
    with pytest.raises(ValueError, match=r"Sequential.backward: dy has shape \(12, 4\), expected \(12, 3\)"):
        model.backward(np.zeros((12, 4), np.float32))
    with pytest.raises(TypeError, match=r"Sequential.backward: dy has dtype float64, expected float32"):
        model.backward(np.zeros(out.shape))
    assert model.backward(np.ones_like(out)).shape == X.shape


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(epochs=0), ValueError, r"^fit: epochs must be an int >= 1, got 0"),
    (dict(epochs=2.0), TypeError, r"^fit: epochs must be an int, got 2.0"),
    (dict(batch_size=0), ValueError, r"^fit: batch_size must be an int >= 1, got 0"),
    (dict(batch_size=None), TypeError, r"^fit: batch_size must be an int, got None"),
    (dict(rng=0.5), TypeError, r"^fit: rng must be a np.random.Generator, an int seed >= 0 or None, got 0.5"),
    (dict(rng=-3), ValueError, r"^fit: rng must be a seed >= 0, got -3"),
    (dict(validation_data=np.zeros(3)), TypeError, r"^fit: validation_data must be a pair"),
    (dict(optimizer=0.1), TypeError, r"^fit: optimizer must have a step\(params, grads\) method"),
    (dict(loss="mse"), TypeError, r"^fit: loss must be callable or None, got 'mse'"),
    (dict(on_epoch=1), TypeError, r"^fit: on_epoch must be callable or None, got 1"),
    (dict(on_step="print"), TypeError, r"^fit: on_step must be callable or None, got 'print'"),
])
def test_fit_checks_its_arguments(toy, kwargs, error, message):
    X, y = toy
    kwargs = {"optimizer": cnnedu.SGD(), "progress": False, **kwargs}
    with pytest.raises(error, match=message):
        mlp().fit(X, y, **kwargs)


def test_fit_refuses_zero_samples(toy):
    X, y = toy
    with pytest.raises(ValueError, match=r"^fit: x must hold at least one sample"):
        mlp().fit(X[:0], y[:0], cnnedu.SGD(), progress=False)
    with pytest.raises(ValueError, match=r"^fit: validation_data: x must hold at least one sample"):
        mlp().fit(X, y, cnnedu.SGD(), validation_data=(X[:0], y[:0]), progress=False)


def test_np_random_seed_makes_building_and_fitting_repeat(toy):
    X, y = toy

    def run():
        model = cnnedu.Sequential([L.Flatten(), L.Linear(121, 8), L.ReLU(), L.Dropout(0.3),
                                   L.Linear(8, 3)])
        history = model.fit(X, y, cnnedu.SGD(lr=0.1), epochs=3, batch_size=5, progress=False)
        return model.params, history["loss"]

    np.random.seed(0)
    params_1, loss_1 = run()
    np.random.seed(0)
    params_2, loss_2 = run()
    params_3, loss_3 = run()
    assert loss_1 == loss_2 and loss_1 != loss_3
    for key in params_1:
        np.testing.assert_array_equal(params_1[key], params_2[key])


def test_softmax_cross_entropy_checks_scores_and_labels():
    loss = cnnedu.SoftmaxCrossEntropy()
    who = type(loss).__name__
    scores, y = np.zeros((3, 4), np.float32), np.array([0, 3, 1])
    value, dscores = loss(scores, y)
    assert dscores.dtype == np.float32 and dscores.shape == (3, 4) and np.isfinite(value)
    cases = [
        (scores.astype(np.int64), y, TypeError, rf"{who}: scores has dtype int64, expected float32 or float64"),
        (scores.astype(np.uint8), y, TypeError, r"scores.astype\(np.float32\) / 255"),
        (scores.tolist(), y, TypeError, rf"{who}: scores must be a NumPy array"),
        (scores[0], y, ValueError, rf"{who}: scores must have shape \(N, K\) .* got \(4,\)"),
        (scores[:0], y[:0], ValueError, rf"{who}: scores must have shape \(N, K\) with N >= 1 .* got \(0, 4\)"),
        (scores[:, :0], y, ValueError, rf"{who}: scores must have shape .* K >= 1 classes, got \(3, 0\)"),
        (scores, y.astype(np.float32), TypeError, rf"{who}: labels must be integers"),
        (scores, y > 0, TypeError, rf"{who}: labels must be integers"),
        (scores, y + 1, ValueError, rf"{who}: labels must be in \[0, 3\] for 4 classes, got values from 1 to 4"),
        (scores, y[:2], ValueError, rf"{who}: 3 samples but 2 labels"),
        (scores, None, TypeError, rf"{who}: labels must be a 1-D integer NumPy array, got NoneType"),
    ]
    for s, labels, error, message in cases:
        with pytest.raises(error, match=message):
            loss(s, labels)


def test_initialiser_names_and_numbers():
    assert cnnedu.init.get("he") is cnnedu.init.he_normal
    with pytest.raises(ValueError, match=r"unknown init 'hee'; expected one of \['glorot'"):
        cnnedu.init.get("hee")
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"init: a std must be finite and > 0"):
            cnnedu.init.get(bad)
    for bad in (None, True, [0.01], b"he"):
        with pytest.raises(TypeError, match=r"init must be one of"):
            cnnedu.init.get(bad)
