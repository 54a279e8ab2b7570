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


def test_mse_gradient():
    rng = np.random.default_rng(0)
    scores, y = rng.standard_normal((5, 3)), np.array([0, 1, 2, 0, 1])
    loss, d = cnnedu.MSE()(scores, y)
    from cnnedu.gradcheck import numerical_gradient, rel_error
    assert rel_error(d, numerical_gradient(lambda: cnnedu.MSE()(scores, y)[0], scores)) < 1e-7


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


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    model = small_cnn(rng, 2)
    X = rng.standard_normal((4, 1, 11, 11)).astype(np.float32)
    path = tmp_path / "model.npz"
    model.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temp files left
    other = small_cnn(np.random.default_rng(99), 2)
    assert not np.allclose(other.forward(X), model.forward(X))
    other.load(path)
    np.testing.assert_array_equal(other.forward(X), model.forward(X))


def test_load_rejects_a_different_architecture(tmp_path):
    small_cnn(np.random.default_rng(0), 2).save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="different architecture"):
        small_cnn(np.random.default_rng(0), 4).load(tmp_path / "m.npz")


def test_load_rejects_a_truncated_file(tmp_path):
    path = tmp_path / "m.npz"
    small_cnn(np.random.default_rng(0), 2).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    model = small_cnn(np.random.default_rng(1), 2)
    before = {k: v.copy() for k, v in model.params.items()}
    with pytest.raises(ValueError, match="truncated or not a cnnedu model file"):
        model.load(path)
    for k, v in model.params.items():  # a failed load leaves the model untouched
        np.testing.assert_array_equal(v, before[k])


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    model = small_cnn(np.random.default_rng(0), 2)
    model.save(path)
    good = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]
