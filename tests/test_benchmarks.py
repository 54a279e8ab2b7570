"""Smoke tests of benchmarks/: the split modules run on tiny inputs, and the PyTorch twin
is the cnnedu model. No timing is asserted: only that each piece measures what it says."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnnedu
from cnnedu import layers as L
from cnnedu.zoo import MnistRecipe, mnist_cnn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import common  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)
import kernels  # noqa: E402
import time_to_99  # noqa: E402


def fake_mnist(n_train=128, n_test=100, seed=0):
    """Random images and labels with MNIST's shapes and dtypes."""
    rng = np.random.default_rng(seed)
    def images(n):
        return rng.random((n, 1, 28, 28), dtype=np.float32)
    return ((images(n_train), rng.integers(0, 10, n_train)),
            (images(n_test), rng.integers(0, 10, n_test)))


# ----------------------------------------------------------------------------
# common
# ----------------------------------------------------------------------------

def test_time_calls_times_each_repeat_after_the_warmup():
    calls = []
    timing = common.time_calls(lambda: calls.append(1), repeats=4, warmup=2)
    assert len(calls) == 6 and len(timing.seconds) == 4
    assert 0 <= timing.best <= timing.median <= timing.worst
    assert len((timing + timing).seconds) == 8


def test_table_aligns_columns():
    lines = common.table(["name", "ms"], [("a", "1.5"), ("long name", "10.25")]).splitlines()
    assert len(lines) == 4 and len(set(map(len, lines))) == 1
    assert lines[2].startswith("a ") and lines[2].endswith("  1.5")


# ----------------------------------------------------------------------------
# kernels
# ----------------------------------------------------------------------------

def test_profile_step_is_the_package_train_step():
    (x, y), _ = fake_mnist(n_train=8)
    profiled, plain = mnist_cnn(0), mnist_cnn(0)
    seconds, io = kernels.profile_step(profiled, x, y, cnnedu.Adam(lr=1e-3))
    plain.train_step(x, y, cnnedu.Adam(lr=1e-3))
    for key, value in plain.params.items():
        np.testing.assert_array_equal(profiled.params[key], value)
    assert len(seconds) == len(profiled.layers) + 2  # every layer, the loss and Adam
    assert all(f >= 0 and b >= 0 for f, b in seconds.values())
    assert io[0][0] is x and io[4][0].shape == (8, 16, 14, 14) and io[4][1].shape == (8, 32, 14, 14)
    # The timers are gone again: the layers use their class's methods.
    assert all("forward" not in vars(layer) for layer in profiled.layers)


def test_kernel_sections_run(capsys):
    (x, y), _ = fake_mnist(n_train=8)
    model = mnist_cnn(0)
    _, io = kernels.profile_step(model, x, y, cnnedu.Adam(lr=1e-3))
    gemm = kernels.bench_gemm(repeats=1, sizes=(64,), batch=8)
    convs = kernels.bench_conv_layers(model, io, gemm["peak_gflops"], repeats=1)
    pools = kernels.bench_pooling(model, io, repeats=1)
    steps = kernels.bench_step_breakdown(model, x, y, repeats=1, warmup=0)
    assert sorted(convs) == ["conv1", "conv2"] and sorted(pools) == ["pool1", "pool2"]
    assert convs["conv2"]["forward_gflop"] == pytest.approx(2 * 8 * 14 * 14 * 32 * 16 * 9 / 1e9)
    assert steps["sum_ms"] > 0 and "Adam update" in steps["parts_ms"]
    assert gemm["model_shapes"]["4: conv 16->32 fwd  cols@w"]["m"] == 8 * 14 * 14
    assert gemm["model_shapes"]["4: conv 16->32 dx   dout@w_ij (x9)"]["k"] == 32
    assert "GEMM peak" in capsys.readouterr().out


# ----------------------------------------------------------------------------
# time to 99%
# ----------------------------------------------------------------------------

def test_train_mnist_counts_time_up_to_the_target():
    quiet = dict(log=lambda message: None)
    # Random labels: 1 right answer in 100 comes at once, all 100 never.
    easy = time_to_99.train_mnist(MnistRecipe(batch_size=64, epochs=2, target_accuracy=0.01),
                                  fake_mnist(), **quiet)
    first = easy["history"][0]
    assert [h["epoch"] for h in easy["history"]] == [1, 2] and easy["reached"]
    assert easy["seconds_to_target"] == first["train_seconds"] + first["eval_seconds"]
    hard = time_to_99.train_mnist(MnistRecipe(batch_size=64, epochs=1, target_accuracy=1.0),
                                  fake_mnist(), **quiet)
    assert not hard["reached"] and hard["seconds_to_target"] is None
    with pytest.raises(ValueError, match="backend"):
        time_to_99.train_mnist(MnistRecipe(), fake_mnist(), backend="jax", **quiet)


def test_mnist_recipe_checks_its_fields():
    assert MnistRecipe().total_steps(60_000) == 2 * 469
    schedule = MnistRecipe(peak_lr=0.01, warmup_fraction=0.1).schedule(100)
    rates = [schedule(t) for t in range(100)]
    assert max(rates) == pytest.approx(0.01) == rates[9] and rates[0] < rates[9] > rates[99]
    with pytest.raises(ValueError, match="target_accuracy"):
        MnistRecipe(target_accuracy=99)
    with pytest.raises(TypeError, match="batch_size"):
        MnistRecipe(batch_size=128.0)


def test_bench_seeds_trains_every_other_seed_and_reports_min_and_median(monkeypatch, capsys):
    trained = []

    def fake_child(backend, recipe, threads, n_train=None):
        trained.append(recipe.seed)
        return {"final_accuracy": 0.99 + recipe.seed / 1000}

    monkeypatch.setattr(time_to_99, "run_child", fake_child)
    result = time_to_99.bench_seeds(MnistRecipe(seed=1), 1, 4, first={"final_accuracy": 0.5})
    assert trained == [0, 2, 3]
    assert result["accuracies"] == {0: 0.99, 1: 0.5, 2: 0.992, 3: 0.993}
    assert result["min"] == 0.5 and result["median"] == pytest.approx(0.991)
    assert "min / median" in capsys.readouterr().out


def test_summary_compares_the_mnist_time_with_pytorchs():
    import run
    mnist = {"cnnedu": {"reached": True, "seconds_to_target": 40.0, "epochs": 2,
                        "final_accuracy": 0.992, "peak_rss_mib": 600},
             "torch": {"reached": True, "seconds_to_target": 28.0}}
    rows = {row[0]: row for row in run.summary({"mnist": mnist})}
    assert rows[run.MNIST_TARGET][3] == "PASS"
    assert rows["MNIST time vs PyTorch, same recipe"][2:] == ("1.43x (40.0 vs 28.0 s)", "FAIL")
    mnist["torch"]["seconds_to_target"] = 41.0
    rows = {row[0]: row for row in run.summary({"mnist": mnist})}
    assert rows["MNIST time vs PyTorch, same recipe"][3] == "PASS"


def test_importing_the_benchmarks_does_not_import_torch():
    code = ("import sys; sys.path.insert(0, 'benchmarks'); import run, notebooks; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


@pytest.mark.skipif(not (os.environ.get("CNNEDU_DATA")
                         and (Path(os.environ["CNNEDU_DATA"]) / "mnist").is_dir()),
                    reason="needs MNIST in $CNNEDU_DATA/mnist")
def test_training_child_process_reports_its_result():
    result = time_to_99.run_child("cnnedu", MnistRecipe(epochs=1), threads=1, n_train=256)
    assert result["epochs"] == 1 and 0 < result["final_accuracy"] <= 1
    assert result["peak_rss_mib"] >= result["peak_rss_after_load_mib"] > 0


# ----------------------------------------------------------------------------
# the PyTorch twin (only where torch is installed; it is not a dependency)
# ----------------------------------------------------------------------------

def many_layer_types(seed=0):
    rng = np.random.default_rng(seed)
    return cnnedu.Sequential([
        L.Conv2D(1, 4, 3, stride=2, padding=(1, 0), rng=rng), L.BatchNorm2D(4),
        L.LeakyReLU(0.1), L.AvgPool2D((2, 1)), L.Conv2D(4, 6, (3, 2), rng=rng), L.Tanh(),
        L.MaxPool2D(2, stride=1), L.Dropout(0.3, rng=rng), L.Flatten(),
        L.Linear(6 * 4 * 11, 16, rng=rng), L.BatchNorm1D(16), L.Sigmoid(), L.ReLU(),
        L.Linear(16, 10, rng=rng),
    ])


def test_twin_matches_every_mapped_layer_type():
    pytest.importorskip("torch")
    import vs_torch
    (x, _), _ = fake_mnist(n_train=16)
    model = many_layer_types()
    model.forward(x, train=True)  # running statistics away from their initial values
    assert {type(layer) for layer in model.layers} == set(vs_torch.TWIN_RULES)
    assert vs_torch.check_twin(model, vs_torch.torch_twin(model), x) < vs_torch.TWIN_TOLERANCE


def test_twin_refuses_a_layer_it_cannot_map_and_a_wrong_weight():
    torch = pytest.importorskip("torch")
    import vs_torch

    class DoubledReLU(L.ReLU):
        def forward(self, x, train=True):
            return 2 * super().forward(x, train)

    with pytest.raises(TypeError, match=r"layer 1, .*DoubledReLU"):
        vs_torch.torch_twin(cnnedu.Sequential([L.Flatten(), DoubledReLU()]))
    (x, _), _ = fake_mnist(n_train=8)
    model = mnist_cnn(0)
    net = vs_torch.torch_twin(model)
    with torch.no_grad():
        net[11].bias[0] += 1.0  # the last Linear: every output moves
    with pytest.raises(RuntimeError, match="not the same"):
        vs_torch.check_twin(model, net, x)


def test_twin_trains_like_cnnedu_from_its_own_copy_of_the_weights():
    pytest.importorskip("torch")
    import vs_torch
    recipe = MnistRecipe(batch_size=64, epochs=1)
    data = fake_mnist()
    ours = time_to_99.train_mnist(recipe, data, log=lambda message: None)
    theirs = time_to_99.train_mnist(recipe, data, backend="torch", threads=1,
                                    log=lambda message: None)
    assert theirs["history"][0]["loss"] == pytest.approx(ours["history"][0]["loss"], rel=1e-4)
    model = mnist_cnn(0)
    before = {key: value.copy() for key, value in model.params.items()}
    trainer = vs_torch.TorchTrainer(model, recipe.schedule(10), 64, np.random.default_rng(0))
    trainer.train_epoch(*data[0])
    assert all(np.array_equal(before[key], value) for key, value in model.params.items())
