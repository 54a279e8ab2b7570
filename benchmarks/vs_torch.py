"""Section 3 of run.py, and every other use of PyTorch in the benchmarks.

``torch_twin`` builds the PyTorch network from a cnnedu model's own layer
list and copies its weights, so the two cannot describe different networks;
``check_twin`` confirms it on a batch (run.py does so before anything is
timed). ``bench_vs_torch`` times a whole training step of each, alternated;
``TorchTrainer`` is the PyTorch side of ``time_to_99.py``.

PyTorch is not a dependency of the course: this module imports it only inside
its functions, and only run.py's comparison sections call them.
"""

import time

import numpy as np

import cnnedu
from cnnedu import layers as L
from cnnedu.zoo import mnist_cnn

from common import BATCH, Timing, section, table, time_calls

TWIN_TOLERANCE = 1e-4  # max |difference| / max |output|, with float32 sums in different orders


# ----------------------------------------------------------------------------
# The twin: cnnedu layer -> torch.nn module
# ----------------------------------------------------------------------------

def _copied(torch, array, transpose=False):
    # A copy, so that training one network never moves the other's weights.
    array = array.T if transpose else array
    return torch.nn.Parameter(torch.from_numpy(np.array(array, order="C", copy=True)))


def _conv(layer, nn, torch):
    # Both store conv weights as (out_channels, in_channels, kh, kw).
    module = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                       stride=layer.stride, padding=layer.padding)
    module.weight = _copied(torch, layer.params["W"])
    module.bias = _copied(torch, layer.params["b"])
    return module


def _linear(layer, nn, torch):
    # cnnedu computes x @ W + b with W (in, out); torch computes x @ weight.T + bias.
    module = nn.Linear(layer.in_features, layer.out_features)
    module.weight = _copied(torch, layer.params["W"], transpose=True)
    module.bias = _copied(torch, layer.params["b"])
    return module


def _batch_norm(layer, nn, torch):
    make = nn.BatchNorm2d if isinstance(layer, L.BatchNorm2D) else nn.BatchNorm1d
    module = make(layer.num_features, eps=layer.eps, momentum=layer.momentum)
    module.weight = _copied(torch, layer.params["gamma"])
    module.bias = _copied(torch, layer.params["beta"])
    module.running_mean = torch.from_numpy(layer.buffers["running_mean"].copy())
    module.running_var = torch.from_numpy(layer.buffers["running_var"].copy())
    return module


# Exact types only: a subclass may change what the layer computes.
TWIN_RULES = {
    L.Conv2D: _conv,
    L.Linear: _linear,
    L.BatchNorm1D: _batch_norm,
    L.BatchNorm2D: _batch_norm,
    L.MaxPool2D: lambda layer, nn, torch: nn.MaxPool2d(layer.kernel_size, layer.stride),
    L.AvgPool2D: lambda layer, nn, torch: nn.AvgPool2d(layer.kernel_size, layer.stride),
    L.ReLU: lambda layer, nn, torch: nn.ReLU(),
    L.LeakyReLU: lambda layer, nn, torch: nn.LeakyReLU(layer.alpha),
    L.Sigmoid: lambda layer, nn, torch: nn.Sigmoid(),
    L.Tanh: lambda layer, nn, torch: nn.Tanh(),
    L.Flatten: lambda layer, nn, torch: nn.Flatten(),
    L.Dropout: lambda layer, nn, torch: nn.Dropout(layer.p),
}


def torch_twin(model):
    """A ``torch.nn.Sequential`` with the layers of ``model`` (a ``cnnedu.Sequential``), in
    order, and copies of its current parameters and buffers (float32 or float64, as they are).

    Raises TypeError, naming the layer, for a layer type with no rule in ``TWIN_RULES``.
    """
    import torch
    unknown = [(i, layer) for i, layer in enumerate(model.layers) if type(layer) not in TWIN_RULES]
    if unknown:
        i, layer = unknown[0]
        known = ", ".join(rule.__name__ for rule in TWIN_RULES)
        raise TypeError(f"torch_twin: layer {i}, {layer!r}, has no PyTorch counterpart; "
                        f"the twin maps {known} (add a rule to TWIN_RULES in "
                        "benchmarks/vs_torch.py)")
    modules = [TWIN_RULES[type(layer)](layer, torch.nn, torch) for layer in model.layers]
    return torch.nn.Sequential(*modules)


def check_twin(model, net, x, tolerance=TWIN_TOLERANCE):
    """Largest |difference| of the two networks' eval-mode outputs on x, relative to the largest
    |output|. Raises RuntimeError, with the figures, if it exceeds ``tolerance``."""
    import torch
    was_training = net.training
    net.eval()
    with torch.no_grad():
        theirs = net(torch.from_numpy(np.ascontiguousarray(x))).numpy()
    net.train(was_training)
    ours = model.forward(x, train=False)
    if theirs.shape != ours.shape:
        raise RuntimeError(f"torch twin: output shape {theirs.shape}, cnnedu {ours.shape}")
    error = float(np.max(np.abs(theirs - ours)) / max(np.max(np.abs(ours)), 1e-30))
    if not error <= tolerance:  # also catches NaN
        raise RuntimeError(f"torch twin: outputs differ by {error:.1e} of their size on a batch "
                           f"of {len(x)} (tolerance {tolerance:.0e}); the two networks are not "
                           "the same")
    return error


def report_twin(x, seed=0):
    """The check run.py makes before timing: mnist_cnn(seed) against its twin, on x."""
    model = mnist_cnn(seed)
    error = check_twin(model, torch_twin(model), x)
    print(f"torch twin of mnist_cnn: {len(model.layers)} layers, eval-mode outputs on {len(x)} "
          f"images agree within {error:.1e} of their size (tolerance {TWIN_TOLERANCE:.0e})")
    return error


# ----------------------------------------------------------------------------
# 3. Training step: cnnedu against PyTorch CPU
# ----------------------------------------------------------------------------

def torch_train_step(net, optimizer, criterion, x, y):
    """One forward, backward and update, as ``cnnedu``'s ``train_step``; returns the loss tensor."""
    optimizer.zero_grad(set_to_none=True)
    loss = criterion(net(x), y)
    loss.backward()
    optimizer.step()
    return loss


# After its last call, a library's idle worker threads keep spinning for a while (OpenBLAS
# and OpenMP both do) and compete for the cores with the other library's threads. Each
# block of steps therefore starts after this pause, with one untimed step.
PAUSE_SECONDS = 0.3


def bench_vs_torch(x, y, threads, rounds, steps_per_round=5, seed=0):
    """Median ms per training step (forward, backward, Adam) of cnnedu and PyTorch, alternated.

    Each of ``rounds`` rounds times a block of ``steps_per_round`` steps of each library in
    turn, each block after a pause of PAUSE_SECONDS and one untimed step."""
    import torch
    section(f"3. Training step, batch {BATCH}: cnnedu vs PyTorch CPU "
            f"({rounds} alternating rounds of {steps_per_round} steps, each block after a "
            f"{PAUSE_SECONDS} s pause)")
    torch.set_num_threads(threads)
    model = mnist_cnn(seed)
    net = torch_twin(model)
    criterion = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.astype(np.int64))

    ours_loss, _ = cnnedu.SoftmaxCrossEntropy()(model.forward(x), y)
    with torch.no_grad():
        theirs_loss = criterion(net(xt), yt).item()
    diff = abs(float(ours_loss) - theirs_loss)
    same = diff < 1e-4
    print(f"initial loss on the same batch: cnnedu {float(ours_loss):.6f}, "
          f"torch {theirs_loss:.6f}, |diff| {diff:.1e} "
          f"({'OK' if same else 'MISMATCH'}, tolerance 1e-4)")

    opt_ours = cnnedu.Adam(lr=1e-3)
    opt_theirs = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step_ours():
        model.train_step(x, y, opt_ours)

    def step_theirs():
        torch_train_step(net, opt_theirs, criterion, xt, yt)
    for _ in range(3):  # warm-up: buffers, thread pools, oneDNN kernel choice
        step_ours(), step_theirs()
    ours = theirs = Timing(())
    for _ in range(rounds):
        time.sleep(PAUSE_SECONDS)
        ours += time_calls(step_ours, steps_per_round, warmup=1)
        time.sleep(PAUSE_SECONDS)
        theirs += time_calls(step_theirs, steps_per_round, warmup=1)
    ratio = ours.median / theirs.median
    print(table(["implementation", "ms/step (median)", "min", "max", "vs torch"], [
        ("cnnedu (NumPy)", f"{ours.median * 1e3:.1f}", f"{ours.best * 1e3:.1f}",
         f"{ours.worst * 1e3:.1f}", f"{ratio:.2f}"),
        (f"torch {torch.__version__}", f"{theirs.median * 1e3:.1f}", f"{theirs.best * 1e3:.1f}",
         f"{theirs.worst * 1e3:.1f}", "1.00")]))
    print(f"threads: torch.set_num_threads({threads}), equal to NumPy's BLAS threads")
    return {"threads": threads, "initial_loss_cnnedu": float(ours_loss),
            "initial_loss_torch": theirs_loss, "initial_loss_match": same,
            "cnnedu_ms": ours.median * 1e3, "torch_ms": theirs.median * 1e3, "ratio": ratio,
            "torch": torch.__version__}


# ----------------------------------------------------------------------------
# The PyTorch side of time_to_99.py
# ----------------------------------------------------------------------------

class TorchTrainer:
    """Trains the twin of ``model`` as ``cnnedu``'s ``fit`` trains ``model``: the same batches,
    drawn with ``rng.permutation`` each epoch, and the learning rate ``schedule(step)``."""

    def __init__(self, model, schedule, batch_size, rng, threads=None):
        import torch
        if threads is not None:
            torch.set_num_threads(threads)
        self.torch, self.net = torch, torch_twin(model)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=schedule(0))
        self.criterion = torch.nn.CrossEntropyLoss()
        self.schedule, self.batch_size, self.rng, self.steps = schedule, batch_size, rng, 0

    def train_epoch(self, x_train, y_train):
        """One pass over (x_train, y_train), NumPy arrays; returns the mean training loss."""
        xt = self.torch.from_numpy(x_train)
        yt = self.torch.from_numpy(y_train.astype(np.int64, copy=False))
        order = self.torch.from_numpy(self.rng.permutation(len(x_train)))
        total = 0.0
        for start in range(0, len(order), self.batch_size):
            for group in self.optimizer.param_groups:
                group["lr"] = self.schedule(self.steps)
            self.steps += 1
            idx = order[start:start + self.batch_size]
            loss = torch_train_step(self.net, self.optimizer, self.criterion, xt[idx], yt[idx])
            total += loss.item() * len(idx)
        return total / len(order)

    def accuracy(self, x, y, batch_size=1000):
        """Fraction of x's images whose predicted class is y, in eval mode."""
        xt, yt = self.torch.from_numpy(x), self.torch.from_numpy(y.astype(np.int64, copy=False))
        self.net.eval()
        with self.torch.no_grad():
            correct = sum((self.net(xt[i:i + batch_size]).argmax(1) == yt[i:i + batch_size])
                          .sum().item() for i in range(0, len(xt), batch_size))
        self.net.train()
        return correct / len(xt)
