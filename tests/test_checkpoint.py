"""cnnedu.checkpoint: save/load round trips (buffers included), atomic writes, bad files."""

import io
import json
import zipfile

import numpy as np
import pytest

import cnnedu
from cnnedu import checkpoint
from cnnedu import layers as L


def small_cnn(seed, n_kernels=2):
    rng = np.random.default_rng(seed)
    return cnnedu.Sequential([
        L.Conv2D(1, n_kernels, 5, rng=rng), L.ReLU(),
        L.Flatten(), L.Linear(n_kernels * 7 * 7, 3, init="xavier", rng=rng),
    ])


def bn_net(seed):
    rng = np.random.default_rng(seed)
    return cnnedu.Sequential([L.Conv2D(1, 3, 3, padding=1, rng=rng), L.BatchNorm2D(3), L.ReLU(),
                              L.Flatten(), L.Linear(3 * 6 * 6, 4, rng=rng), L.BatchNorm1D(4)])


def test_round_trip_through_the_model_methods(tmp_path):
    model = small_cnn(0)
    X = np.random.default_rng(1).standard_normal((4, 1, 11, 11)).astype(np.float32)
    path = tmp_path / "model.npz"
    model.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temp files left
    other = small_cnn(99)
    assert not np.allclose(other.forward(X), model.forward(X))
    assert other.load(path) is other
    np.testing.assert_array_equal(other.forward(X), model.forward(X))


def test_round_trip_includes_the_buffers(tmp_path):
    trained, fresh = bn_net(0), bn_net(5)
    x = np.random.default_rng(2).standard_normal((8, 1, 6, 6)).astype(np.float32)
    for _ in range(3):  # training-mode passes move the running statistics away from 0 and 1
        trained.forward(x + 1.5, train=True)
    assert not np.allclose(trained.state()["1.running_mean"], 0)
    checkpoint.save(trained, str(tmp_path / "bn.npz"))
    with np.load(tmp_path / "bn.npz", allow_pickle=False) as data:
        assert {"1.running_mean", "1.running_var", "5.running_mean", "5.running_var",
                "0.W", "__architecture__"} <= set(data.files)
    checkpoint.load(fresh, tmp_path / "bn.npz")
    for key, value in trained.state().items():
        np.testing.assert_array_equal(fresh.state()[key], value, err_msg=key)
    np.testing.assert_array_equal(fresh.forward(x, train=False), trained.forward(x, train=False))


def test_load_writes_into_the_models_own_arrays(tmp_path):
    small_cnn(0).save(tmp_path / "m.npz")
    model = small_cnn(1)
    weights = model.params["3.W"]
    model.load(tmp_path / "m.npz")
    assert model.params["3.W"] is weights  # an optimiser holding the array sees the new values
    np.testing.assert_array_equal(weights, small_cnn(0).params["3.W"])


def test_state_and_architecture():
    model = bn_net(0)
    assert checkpoint.architecture(model) == [repr(layer) for layer in model.layers]
    assert model.architecture() == checkpoint.architecture(model)
    state = model.state()
    assert state["0.W"] is model.params["0.W"]
    assert state["1.running_var"] is model.layers[1].buffers["running_var"]
    assert set(state) == set(model.params) | {"1.running_mean", "1.running_var",
                                              "5.running_mean", "5.running_var"}


def assert_unchanged(model, before):
    for key, value in model.state().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_load_rejects_a_different_architecture(tmp_path):
    small_cnn(0).save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="different architecture"):
        small_cnn(0, n_kernels=4).load(tmp_path / "m.npz")


def test_load_rejects_a_truncated_file(tmp_path):
    path = tmp_path / "m.npz"
    small_cnn(0).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    model = small_cnn(1)
    before = {k: v.copy() for k, v in model.state().items()}
    with pytest.raises(ValueError, match="truncated, corrupt or not a cnnedu model file"):
        model.load(path)
    assert_unchanged(model, before)


def test_load_rejects_a_corrupt_file(tmp_path):
    # Flip bytes inside the stored weights: the zip's CRC check must catch it.
    path = tmp_path / "m.npz"
    small_cnn(0).save(path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("3.W.npy")
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[middle:middle + 8] = bytes(255 - b for b in data[middle:middle + 8])
    path.write_bytes(bytes(data))
    model = small_cnn(1)
    before = {k: v.copy() for k, v in model.state().items()}
    with pytest.raises(ValueError, match=r"cannot read .*m.npz: the file is truncated, corrupt"):
        model.load(path)
    assert_unchanged(model, before)


def test_load_rejects_files_that_are_not_model_archives(tmp_path):
    model = small_cnn(0)
    text = tmp_path / "notes.npz"
    text.write_text("not a model")
    with pytest.raises(ValueError, match="truncated, corrupt or not a cnnedu model file"):
        model.load(text)
    single = tmp_path / "one.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ValueError, match="a single array, not an .npz archive"):
        model.load(single)
    plain = tmp_path / "plain.npz"
    np.savez(plain, **{k: v for k, v in model.state().items()})
    with pytest.raises(ValueError, match="no architecture record"):
        model.load(plain)
    with pytest.raises(FileNotFoundError):
        model.load(tmp_path / "missing.npz")


def test_load_refuses_pickled_objects(tmp_path):
    # An object array can only be stored as a pickle, and unpickling can run code.
    path = tmp_path / "evil.npz"
    np.savez(path, **{"__architecture__": np.array(["x"], dtype=object)})
    with pytest.raises(ValueError, match="cannot read"):
        small_cnn(0).load(path)


def test_load_rejects_other_arrays_or_shapes(tmp_path):
    model = small_cnn(0)
    arrays = dict(model.state())
    record = np.array(json.dumps(model.architecture()))
    missing = tmp_path / "missing.npz"
    np.savez(missing, __architecture__=record, **{k: v for k, v in arrays.items() if k != "0.b"})
    with pytest.raises(ValueError, match=r"has arrays .* the model expects"):
        model.load(missing)
    reshaped = tmp_path / "reshaped.npz"
    np.savez(reshaped, __architecture__=record, **{**arrays, "3.b": np.zeros(4, np.float32)})
    with pytest.raises(ValueError, match=r"array 3.b has shape \(4,\) .* expects shape \(3,\)"):
        model.load(reshaped)
    integers = tmp_path / "integers.npz"
    np.savez(integers, __architecture__=record, **{**arrays, "3.b": np.zeros(3, np.int64)})
    with pytest.raises(ValueError, match=r"array 3.b has shape \(3,\) and dtype int64"):
        model.load(integers)


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    model = small_cnn(0)
    model.save(path)
    good = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_save_into_a_missing_folder_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"save: the folder .*nowhere does not exist"):
        small_cnn(0).save(tmp_path / "nowhere" / "m.npz")


def test_saved_file_is_a_plain_npz(tmp_path):
    buffer_path = tmp_path / "m.npz"
    small_cnn(0).save(buffer_path)
    with zipfile.ZipFile(io.BytesIO(buffer_path.read_bytes())) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == sorted(
            [f"{k}.npy" for k in small_cnn(0).state()] + ["__architecture__.npy"])
