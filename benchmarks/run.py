"""Speed and memory benchmarks of cnnedu, measured on the current machine in one run.

Usage::

    CNNEDU_DATA=/path/with/mnist python benchmarks/run.py [--quick] [--skip-mnist] [--json PATH]

Sections (each a function below):

1. ``bench_gemm``: NumPy's float32 matrix-multiply rate (GFLOP/s): square sizes,
   whose best is "the GEMM peak", and the shapes the MNIST model's layers use.
2. ``bench_conv_layers``, ``bench_pooling``, ``bench_step_breakdown``: each conv
   layer of ``cnnedu.zoo.mnist_cnn`` at batch 128 through
   ``cnnedu.functional`` (time, GFLOP/s, fraction of the peak); pooling; and
   one training step broken down per layer.
3. ``bench_vs_torch``: a whole training step (forward, backward, Adam) in
   cnnedu against the same model in PyTorch CPU with the same weights and
   thread count, alternating the two.
4. ``bench_mnist``: time to 99.0% MNIST test accuracy with the recipe in
   ``MnistRecipe`` / ``train_mnist``, in cnnedu and (for comparison) PyTorch.
5. Peak RSS of that training: each run happens in a child process, so that
   importing torch in this process does not count, and reports its own
   high-water mark (``VmHWM``).

The targets are printed next to the figures with PASS/FAIL. Everything is
written to ``benchmarks/results.json`` (or ``--json PATH``). PyTorch is
optional: without it the comparison rows say "torch not installed".
"""

import argparse
import dataclasses
import datetime
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

import cnnedu
from cnnedu import functional as F
from cnnedu import layers as L
from cnnedu.zoo import mnist_cnn

BATCH = 128
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_JSON = os.path.join(HERE, "results.json")

# The targets the course sets itself; the summary prints PASS/FAIL against them.
TARGET_MNIST_SECONDS = 60.0       # to >= 99.0% test accuracy, full training set
TARGET_STEP_RATIO = 1.2           # cnnedu step time / PyTorch CPU step time
TARGET_CONV_FRACTION = 0.50       # dominant conv layer fwd+bwd GFLOP/s / GEMM peak
TARGET_RSS_MIB = 1.5 * 1024       # peak RSS of the MNIST training process (1.5 GiB)


# ============================================================================
# Helpers: timing, tables, machine description
# ============================================================================

def time_calls(fn, repeats, warmup=1):
    """Run ``fn()`` ``warmup`` times untimed, then ``repeats`` times; return the seconds of each."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median(values):
    return statistics.median(values)


def table(headers, rows, align=None):
    """Format rows as a plain-text table; numbers are right-aligned, text left."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if align is None:
        align = ["<"] + [">"] * (len(headers) - 1)
    fmt = lambda r: "  ".join(f"{c:{a}{w}}" for c, a, w in zip(r, align, widths))
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(cells[0]), rule] + [fmt(r) for r in cells[1:]])


def section(title):
    print(f"\n== {title}", flush=True)


def blas_threads():
    """(number of threads NumPy's BLAS uses, how we found out).

    Tries threadpoolctl, then asks the OpenBLAS bundled with NumPy's wheel
    directly, then the usual environment variables, then ``os.cpu_count()``.
    """
    try:
        import threadpoolctl
        for info in threadpoolctl.threadpool_info():
            if info.get("user_api") == "blas":
                return int(info["num_threads"]), f"threadpoolctl ({info.get('internal_api')})"
    except ImportError:
        pass
    try:
        import ctypes
        import glob
        libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
        for path in glob.glob(os.path.join(libs, "*openblas*")):
            lib = ctypes.CDLL(path)
            for name in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                         "openblas_get_num_threads64_", "openblas_get_num_threads"):
                if hasattr(lib, name):
                    return int(getattr(lib, name)()), f"OpenBLAS {name}()"
    except OSError:
        pass
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var]), f"${var}"
    return os.cpu_count() or 1, "os.cpu_count()"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_name():
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas['version']}"
    except Exception:  # the layout of show_config differs between NumPy versions
        return "unknown"


def torch_or_none():
    """The torch module, or None if it is not installed."""
    try:
        import torch
        return torch
    except ImportError:
        return None


def machine_info():
    threads, source = blas_threads()
    torch = torch_or_none()
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas_name(),
        "blas_threads": threads,
        "blas_threads_source": source,
        "torch": torch.__version__ if torch else None,
        "cnnedu": cnnedu.__version__,
        "loadavg_start": os.getloadavg(),
    }


def peak_rss_mib():
    """This process's peak resident set size (VmHWM) in MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    scale = 1024 if sys.platform != "darwin" else 1024 * 1024  # ru_maxrss: KiB on Linux, bytes on macOS
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def load_mnist_or_none(log=True):
    """MNIST as float32 in [0, 1], or None if the files are not on this machine (no download)."""
    from cnnedu.datasets.mnist import MNISTError, load_mnist
    try:
        return load_mnist(download=False)
    except MNISTError as exc:
        if log:
            print(f"MNIST not available ({str(exc).splitlines()[0]}); set CNNEDU_DATA.")
        return None


def sample_batch(mnist, batch=BATCH, seed=0):
    """One training batch: real MNIST images if available, else random ones of the same shape."""
    if mnist is not None:
        (x_train, y_train), _ = mnist
        idx = np.random.default_rng(seed).permutation(len(x_train))[:batch]
        return x_train[idx], y_train[idx], "MNIST"
    rng = np.random.default_rng(seed)
    x = rng.random((batch, 1, 28, 28), dtype=np.float32)
    return x, rng.integers(0, 10, batch), "random"


# ============================================================================
# 1. GEMM peak
# ============================================================================

def model_gemm_shapes(batch=BATCH):
    """The matrix products a training step of mnist_cnn performs, as (name, m, k, n, transpose_a).

    cnnedu's conv is one product per pass (im2col): forward ``cols @ w``
    with cols (N*OH*OW, kh*kw*C); backward ``cols.T @ dout`` for dw and
    ``dout @ w.T`` for dx.
    """
    shapes = []
    for name, C, F_, hw in (("conv1", 1, 32, 28), ("conv2", 32, 64, 14)):
        rows, k = batch * hw * hw, 9 * C
        shapes += [(f"{name} fwd  cols@w", rows, k, F_, False),
                   (f"{name} dw   cols.T@dout", k, rows, F_, True),
                   (f"{name} dx   dout@w.T", rows, F_, k, False)]
    shapes += [("fc1 fwd  x@W", batch, 3136, 128, False)]
    return shapes


def gemm_rate(m, k, n, repeats, transpose_a=False, dtype=np.float32):
    """Best-of-``repeats`` GFLOP/s of an (m, k) @ (k, n) product (2*m*k*n flops)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if transpose_a else (m, k), dtype=dtype)
    a = a.T if transpose_a else a
    b = rng.standard_normal((k, n), dtype=dtype)
    out = np.empty((m, n), dtype=dtype)
    flops = 2 * m * k * n
    # Repeat the product inside one timing so that each timing lasts >= ~20 ms.
    number = max(1, int(0.02 / max(flops / 100e9, 1e-7)))
    def run():
        for _ in range(number):
            np.matmul(a, b, out=out)
    best = min(time_calls(run, repeats)) / number
    return flops / best / 1e9, best


def bench_gemm(repeats, sizes=(256, 512, 1024, 2048)):
    """NumPy float32 GEMM GFLOP/s: square sizes (best = peak) and the model's shapes."""
    section("1. NumPy float32 GEMM rate (best of %d)" % repeats)
    square = {}
    rows = []
    for n in sizes:
        rate, seconds = gemm_rate(n, n, n, repeats)
        square[n] = rate
        rows.append((f"square {n}", f"{n}x{n}x{n}", f"{seconds * 1e3:.2f}", f"{rate:.1f}"))
    shaped = {}
    for name, m, k, n, trans in model_gemm_shapes():
        rate, seconds = gemm_rate(m, k, n, repeats, transpose_a=trans)
        shaped[name] = {"m": m, "k": k, "n": n, "gflops": rate, "ms": seconds * 1e3}
        rows.append((name, f"{m}x{k}x{n}", f"{seconds * 1e3:.2f}", f"{rate:.1f}"))
    peak = max(square.values())
    print(table(["product", "m x k x n", "ms", "GFLOP/s"], rows))
    print(f"GEMM peak (best square): {peak:.1f} GFLOP/s")
    return {"square_gflops": {str(k): v for k, v in square.items()}, "model_shapes": shaped,
            "peak_gflops": peak}


# ============================================================================
# 2. Conv layers, pooling, and a training step broken down per layer
# ============================================================================

def layer_name(index, layer):
    return f"{index} {layer!r}"


def instrumented_step(model, x, y, optimizer, record=False):
    """One training step exactly as ``Sequential.train_step`` does it, timing each layer.

    Returns (times, io): times maps a part name to (forward s, backward s);
    if ``record``, io[i] = (input of layer i, gradient arriving at layer i).
    """
    times, io = {}, {}
    inputs = []
    for i, layer in enumerate(model.layers):
        inputs.append(x)
        start = time.perf_counter()
        x = layer.forward(x, train=True)
        times[layer_name(i, layer)] = [time.perf_counter() - start, 0.0]
    start = time.perf_counter()
    loss, dout = cnnedu.SoftmaxCrossEntropy()(x, y)
    times["loss (softmax + cross-entropy)"] = [time.perf_counter() - start, 0.0]
    for i in reversed(range(len(model.layers))):
        layer = model.layers[i]
        if record:
            io[i] = (inputs[i], dout)
        start = time.perf_counter()
        dout = layer.backward(dout)
        times[layer_name(i, layer)][1] = time.perf_counter() - start
    start = time.perf_counter()
    optimizer.step(model.params, model.grads)
    times["Adam update"] = [0.0, time.perf_counter() - start]
    return times, io


def conv_flops(x_shape, w_shape, out_shape):
    """Forward flops of a convolution: 2 * N*OH*OW * F * C*kh*kw."""
    N, F_, OH, OW = out_shape
    _, C, kh, kw = w_shape
    return 2 * N * OH * OW * F_ * C * kh * kw


def memory_layout(x):
    if x.flags.c_contiguous:
        return "NCHW contiguous"
    if x.transpose(0, 2, 3, 1).flags.c_contiguous:
        return "NHWC memory"
    return "strided"


def bench_conv_layers(model, layer_io, peak, repeats):
    """Forward and backward of each conv layer through cnnedu.functional, on the model's own
    activations and gradients (so the memory layout is the one training sees)."""
    section(f"2a. Conv layers of mnist_cnn, batch {BATCH}, float32 "
            f"(median and min of {repeats}; GEMM peak {peak:.1f} GFLOP/s)")
    results, rows = {}, []
    for i, layer in enumerate(model.layers):
        if not isinstance(layer, L.Conv2D):
            continue
        x, dout = layer_io[i]
        w, b = layer.params["W"], layer.params["b"]
        assert x.dtype == w.dtype == dout.dtype == np.float32, "benchmark expects float32"
        out, cache = F.conv2d_forward(x, w, b, layer.stride, layer.padding)
        fwd = time_calls(lambda: F.conv2d_forward(x, w, b, layer.stride, layer.padding), repeats)
        bwd = time_calls(lambda: F.conv2d_backward(dout, cache), repeats)
        flops = conv_flops(x.shape, w.shape, out.shape)
        name = f"conv{sum(isinstance(l, L.Conv2D) for l in model.layers[:i + 1])}"
        passes = {"forward": (median(fwd), min(fwd), flops),
                  "backward": (median(bwd), min(bwd), 2 * flops),
                  "fwd+bwd": (median(fwd) + median(bwd), min(fwd) + min(bwd), 3 * flops)}
        results[name] = {"layer": repr(layer), "input_shape": x.shape,
                         "input_layout": memory_layout(x), "forward_gflop": flops / 1e9}
        label = f"{name} {x.shape[1]}->{w.shape[0]} on {x.shape[2]}x{x.shape[3]}"
        for pass_name, (t_med, t_min, pass_flops) in passes.items():
            rate = pass_flops / t_med / 1e9
            results[name][pass_name] = {"median_ms": t_med * 1e3, "min_ms": t_min * 1e3,
                                        "gflops": rate, "fraction_of_peak": rate / peak}
            rows.append((label, pass_name, f"{pass_flops / 1e9:.3f}", f"{t_med * 1e3:.2f}",
                         f"{t_min * 1e3:.2f}", f"{rate:.1f}", f"{rate / peak:.0%}"))
            label = ""
        print(f"{name}: input {x.shape}, {memory_layout(x)}")
    print(table(["layer", "pass", "GFLOP", "median ms", "min ms", "GFLOP/s", "% peak"], rows))
    print("(flops: forward 2*N*OH*OW*F*C*kh*kw; backward 2x forward, for dx and dw; "
          "GFLOP/s from the median)")
    return results


def bench_pooling(model, layer_io, repeats):
    """Max-pool forward and backward through cnnedu.functional, on the model's own arrays."""
    section(f"2b. Max pooling, batch {BATCH} (median and min of {repeats})")
    results, rows = {}, []
    for i, layer in enumerate(model.layers):
        if not isinstance(layer, L.MaxPool2D):
            continue
        x, dout = layer_io[i]
        k, s = layer.kernel_size, layer.stride
        _, cache = F.max_pool2d_forward(x, k, s)
        fwd = time_calls(lambda: F.max_pool2d_forward(x, k, s), repeats)
        bwd = time_calls(lambda: F.max_pool2d_backward(dout, cache), repeats)
        name = f"pool{len(results) + 1}"
        results[name] = {"input_shape": x.shape, "input_layout": memory_layout(x),
                         "forward_ms": median(fwd) * 1e3, "backward_ms": median(bwd) * 1e3,
                         "forward_min_ms": min(fwd) * 1e3, "backward_min_ms": min(bwd) * 1e3}
        rows.append((f"{name} {tuple(x.shape[1:])}", memory_layout(x),
                     f"{median(fwd) * 1e3:.2f}", f"{min(fwd) * 1e3:.2f}",
                     f"{median(bwd) * 1e3:.2f}", f"{min(bwd) * 1e3:.2f}"))
    print(table(["layer (C, H, W)", "input layout", "fwd median ms", "min", "bwd median ms", "min"],
                rows))
    return results


def bench_step_breakdown(model, x, y, repeats):
    """Median time of each part of a training step (forward + backward per layer, loss, Adam)."""
    section(f"2c. One cnnedu training step, batch {BATCH}, per layer (median of {repeats} steps)")
    optimizer = cnnedu.Adam(lr=1e-3)
    samples = {}
    for step in range(repeats + 2):
        times, _ = instrumented_step(model, x, y, optimizer)
        if step < 2:  # warm-up
            continue
        for part, (f, b) in times.items():
            samples.setdefault(part, []).append((f, b))
    parts = {part: (median(f for f, _ in v), median(b for _, b in v)) for part, v in samples.items()}
    total = sum(f + b for f, b in parts.values())
    whole = median(time_calls(lambda: model.train_step(x, y, optimizer), repeats))
    rows = [(part, f"{f * 1e3:.2f}", f"{b * 1e3:.2f}", f"{(f + b) * 1e3:.2f}",
             f"{(f + b) / total:.0%}") for part, (f, b) in parts.items()]
    rows.append(("sum of parts", "", "", f"{total * 1e3:.2f}", "100%"))
    rows.append(("Sequential.train_step, timed whole", "", "", f"{whole * 1e3:.2f}", ""))
    print(table(["part", "fwd ms", "bwd ms", "total ms", "share"], rows))
    return {"parts_ms": {p: {"forward": f * 1e3, "backward": b * 1e3} for p, (f, b) in parts.items()},
            "sum_ms": total * 1e3, "train_step_ms": whole * 1e3}


# ============================================================================
# 3. Training step: cnnedu against PyTorch CPU
# ============================================================================

def torch_twin(model):
    """The same network as ``mnist_cnn`` in PyTorch, with ``model``'s current weights copied in.

    Conv weights share the (F, C, kh, kw) layout; a cnnedu Linear weight is
    (in, out) and torch's is (out, in), hence the transpose.
    """
    import torch
    from torch import nn
    net = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    if len(net) != len(model.layers):
        raise ValueError(f"mnist_cnn has {len(model.layers)} layers, the torch twin {len(net)}")
    with torch.no_grad():
        for ours, theirs in zip(model.layers, net):
            if isinstance(ours, L.Conv2D):
                theirs.weight.copy_(torch.from_numpy(ours.params["W"]))
                theirs.bias.copy_(torch.from_numpy(ours.params["b"]))
            elif isinstance(ours, L.Linear):
                theirs.weight.copy_(torch.from_numpy(np.ascontiguousarray(ours.params["W"].T)))
                theirs.bias.copy_(torch.from_numpy(ours.params["b"]))
    return net


def torch_train_step(net, optimizer, criterion, x, y):
    optimizer.zero_grad(set_to_none=True)
    loss = criterion(net(x), y)
    loss.backward()
    optimizer.step()
    return loss


def bench_vs_torch(x, y, threads, rounds, steps_per_round=3, seed=0):
    """Median ms per training step (forward, backward, Adam) of cnnedu and PyTorch, alternated."""
    section(f"3. Training step, batch {BATCH}: cnnedu vs PyTorch CPU "
            f"({rounds} alternating rounds of {steps_per_round} steps)")
    torch = torch_or_none()
    if torch is None:
        print("torch not installed (pip install torch==2.13.0 to compare; it is not a dependency)")
        return {"torch": "torch not installed"}
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
    print(f"initial loss on the same batch: cnnedu {float(ours_loss):.6f}, torch {theirs_loss:.6f}, "
          f"|diff| {diff:.1e} ({'OK' if same else 'MISMATCH'}, tolerance 1e-4)")

    opt_ours = cnnedu.Adam(lr=1e-3)
    opt_theirs = torch.optim.Adam(net.parameters(), lr=1e-3)
    step_ours = lambda: model.train_step(x, y, opt_ours)
    step_theirs = lambda: torch_train_step(net, opt_theirs, criterion, xt, yt)
    for _ in range(3):  # warm-up: buffers, thread pools, oneDNN kernel choice
        step_ours(), step_theirs()
    ours, theirs = [], []
    for _ in range(rounds):
        ours += time_calls(step_ours, steps_per_round, warmup=0)
        theirs += time_calls(step_theirs, steps_per_round, warmup=0)
    t_ours, t_theirs = median(ours), median(theirs)
    ratio = t_ours / t_theirs
    print(table(["implementation", "ms/step (median)", "min", "max", "vs torch"], [
        ("cnnedu (NumPy)", f"{t_ours * 1e3:.1f}", f"{min(ours) * 1e3:.1f}",
         f"{max(ours) * 1e3:.1f}", f"{ratio:.2f}"),
        (f"torch {torch.__version__}", f"{t_theirs * 1e3:.1f}", f"{min(theirs) * 1e3:.1f}",
         f"{max(theirs) * 1e3:.1f}", "1.00")]))
    print(f"threads: torch.set_num_threads({threads}), equal to NumPy's BLAS threads")
    return {"threads": threads, "initial_loss_cnnedu": float(ours_loss),
            "initial_loss_torch": theirs_loss, "initial_loss_match": same,
            "cnnedu_ms": t_ours * 1e3, "torch_ms": t_theirs * 1e3, "ratio": ratio,
            "torch": torch.__version__}


# ============================================================================
# 4 and 5. Time to 99% on MNIST, and peak memory
# ============================================================================

@dataclasses.dataclass(frozen=True)
class MnistRecipe:
    """How the MNIST chapter (book/10_mnist.ipynb) trains ``cnnedu.zoo.mnist_cnn``.

    Inputs are standardised with the training set's mean and std. One
    generator, ``np.random.default_rng(seed)``, first draws the initial
    weights (``mnist_cnn(rng)``) and then the order of the training images:
    ``Sequential.fit`` draws ``rng.permutation(60000)`` at the start of each
    epoch and takes batches of ``batch_size`` in that order. The optimiser is
    Adam, whose learning rate rises linearly to ``peak_lr`` over the first
    ``warmup_fraction`` of the steps, then follows a cosine down to 0 at the
    end of ``epochs``. Test accuracy is measured after every epoch; the time
    to target is counted up to the first epoch at or above ``target_accuracy``.
    """
    seed: int = 0
    batch_size: int = 128
    peak_lr: float = 2e-3
    warmup_fraction: float = 0.03
    epochs: int = 3
    target_accuracy: float = 0.99

    def schedule(self, total_steps):
        """The learning rate at 0-based step t: ``cnnedu.optim.warmup_cosine``, as in chapter 10."""
        return cnnedu.optim.warmup_cosine(self.peak_lr, total_steps, self.warmup_fraction)


def train_mnist(recipe=MnistRecipe(), mnist=None, backend="cnnedu", threads=None, log=print,
                n_train=None):
    """Train mnist_cnn on MNIST with ``recipe`` until test accuracy >= recipe.target_accuracy.

    ``backend`` is "cnnedu" (``Sequential.fit``, one epoch at a time) or
    "torch": the same network, initial weights, batches and learning rates in
    PyTorch, for comparison. ``mnist`` is what ``load_mnist()`` returns; it is
    loaded here if None (the time is reported as ``load_seconds``).
    ``n_train`` keeps only the first n training images (for smoke tests).

    Returns a dict with the trained model, the per-epoch history,
    ``train_seconds`` (the updates only), ``eval_seconds`` (test accuracy
    after each epoch) and ``seconds_to_target`` = train + eval seconds up to
    the epoch that reached the target (None if it was not reached).
    """
    load_seconds = 0.0
    if mnist is None:
        start = time.perf_counter()
        from cnnedu.datasets import load_mnist
        mnist = load_mnist()
        load_seconds = time.perf_counter() - start
    (x_train, y_train), (x_test, y_test) = mnist
    if n_train is not None:
        x_train, y_train = x_train[:n_train], y_train[:n_train]
    mean, std = float(x_train.mean()), float(x_train.std())
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    rng = np.random.default_rng(recipe.seed)
    model = mnist_cnn(rng)
    total_steps = recipe.epochs * math.ceil(len(x_train) / recipe.batch_size)
    schedule = recipe.schedule(total_steps)

    if backend == "cnnedu":
        optimizer = cnnedu.Adam(lr=schedule)
        def train_epoch(epoch):
            history = model.fit(x_train, y_train, optimizer, epochs=1,
                                batch_size=recipe.batch_size, rng=rng, progress=False)
            return float(history["loss"][0])
        def test_accuracy():
            return model.accuracy(x_test, y_test, batch_size=250)
        trained = model
    elif backend == "torch":
        import torch
        if threads is not None:
            torch.set_num_threads(threads)
        net = torch_twin(model)
        optimizer = torch.optim.Adam(net.parameters(), lr=schedule(0))
        steps_taken = [0]
        criterion = torch.nn.CrossEntropyLoss()
        xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
        xt_test, yt_test = torch.from_numpy(x_test), torch.from_numpy(y_test)
        def train_epoch(epoch):
            order = torch.from_numpy(rng.permutation(len(x_train)))  # as Sequential.fit draws it
            total = 0.0
            for i in range(0, len(order), recipe.batch_size):
                for group in optimizer.param_groups:
                    group["lr"] = schedule(steps_taken[0])
                steps_taken[0] += 1
                idx = order[i:i + recipe.batch_size]
                total += torch_train_step(net, optimizer, criterion, xt[idx], yt[idx]).item() * len(idx)
            return total / len(order)
        def test_accuracy():
            with torch.no_grad():
                correct = sum((net(xt_test[i:i + 1000]).argmax(1) == yt_test[i:i + 1000]).sum().item()
                              for i in range(0, len(xt_test), 1000))
            return correct / len(xt_test)
        trained = net
    else:
        raise ValueError(f"backend must be 'cnnedu' or 'torch', got {backend!r}")

    history = []
    train_seconds = eval_seconds = 0.0
    seconds_to_target = None
    for epoch in range(1, recipe.epochs + 1):
        start = time.perf_counter()
        loss = train_epoch(epoch)
        train_seconds += time.perf_counter() - start
        rss_train = peak_rss_mib()
        start = time.perf_counter()
        accuracy = test_accuracy()
        eval_seconds += time.perf_counter() - start
        history.append({"epoch": epoch, "loss": loss,
                        "test_accuracy": accuracy, "train_seconds": train_seconds,
                        "eval_seconds": eval_seconds, "peak_rss_mib_after_training": rss_train,
                        "peak_rss_mib_after_eval": peak_rss_mib()})
        log(f"  {backend} epoch {epoch}: loss {loss:.4f}, "
            f"test accuracy {accuracy:.4f}; so far {train_seconds:.1f} s training "
            f"+ {eval_seconds:.1f} s evaluation")
        if accuracy >= recipe.target_accuracy and seconds_to_target is None:
            seconds_to_target = train_seconds + eval_seconds
    return {"model": trained, "backend": backend, "history": history, "epochs": len(history),
            "final_accuracy": history[-1]["test_accuracy"], "reached": seconds_to_target is not None,
            "seconds_to_target": seconds_to_target, "train_seconds": train_seconds,
            "eval_seconds": eval_seconds, "load_seconds": load_seconds}


def child_train(backend, recipe, threads, n_train=None):
    """Body of the child process: load MNIST, train, print one JSON line on stdout."""
    start = time.perf_counter()
    mnist = load_mnist_or_none(log=False)
    load_seconds = time.perf_counter() - start
    rss_loaded = peak_rss_mib()
    log = lambda message: print(message, file=sys.stderr, flush=True)
    result = train_mnist(recipe, mnist, backend=backend, threads=threads, log=log, n_train=n_train)
    del result["model"]
    result.update(load_seconds=load_seconds, peak_rss_after_load_mib=rss_loaded,
                  peak_rss_mib=peak_rss_mib())
    print("RESULT " + json.dumps(result, default=to_json), flush=True)


def run_child(backend, recipe, threads, n_train=None):
    """Run ``train_mnist`` in a fresh Python process and return its result dict.

    A child process keeps the measurement of peak memory clean: this process
    has imported torch (about 250 MB) and holds benchmark arrays.
    """
    command = [sys.executable, os.path.abspath(__file__), "--child", backend,
               "--child-recipe", json.dumps(dataclasses.asdict(recipe)),
               "--child-threads", str(threads)]
    if n_train is not None:
        command += ["--child-n-train", str(n_train)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    wall = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)  # stderr: progress, shown live
    wall = time.perf_counter() - wall
    lines = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the {backend} training process failed (exit {done.returncode})")
    result = json.loads(lines[-1][len("RESULT "):])
    # The kernel's view, as a cross-check (max over the children so far, KiB on Linux).
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["ru_maxrss_children_mib"] = after / 1024 if after > before else None
    result["process_wall_seconds"] = wall
    return result


def bench_mnist(recipe, threads, have_mnist, n_train=None):
    """Section 4 and 5: time to target accuracy and peak RSS, cnnedu then torch, each in a child."""
    section(f"4-5. Time to {recipe.target_accuracy:.1%} MNIST test accuracy, and peak RSS")
    print(f"recipe: {recipe}")
    if n_train is not None:
        print(f"--quick: training on the first {n_train} images only")
    if not have_mnist:
        print("MNIST not available: skipped (set CNNEDU_DATA to a folder with mnist/)")
        return {"skipped": "MNIST not available"}
    results = {"recipe": dataclasses.asdict(recipe)}
    backends = ["cnnedu"] + (["torch"] if torch_or_none() is not None else [])
    for backend in backends:
        try:
            results[backend] = run_child(backend, recipe, threads, n_train)
        except RuntimeError as exc:
            print(f"error: {exc}")
    backends = [b for b in backends if b in results]
    rows = []
    for backend in backends:
        r = results[backend]
        rows.append((backend, f"{r['seconds_to_target']:.1f}" if r["reached"] else "not reached",
                     f"{r['train_seconds']:.1f}", f"{r['eval_seconds']:.1f}", f"{r['load_seconds']:.1f}",
                     r["epochs"], f"{r['final_accuracy']:.4f}", f"{r['peak_rss_mib']:.0f}",
                     f"{r['history'][0]['peak_rss_mib_after_training']:.0f}",
                     f"{r['peak_rss_after_load_mib']:.0f}"))
    if "torch" not in backends:
        rows.append(("torch", "torch not installed", "", "", "", "", "", "", "", ""))
    print(table(["backend", "s to target", "train s", "eval s", "load s", "epochs", "test acc",
                 "peak RSS MiB", "before 1st eval", "after load"], rows))
    print("s to target = training + per-epoch test evaluation up to the epoch that reached the "
          "target; data loading is excluded (load s).\nPeak RSS = VmHWM of the training process "
          "(a high-water mark): overall, before the first test evaluation, and after loading MNIST.")
    return results


# ============================================================================
# Summary and main
# ============================================================================

def to_json(value):
    """JSON fallback for NumPy scalars and tuples."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def verdict(ok):
    return "PASS" if ok else "FAIL"


def summary(results):
    """The targets, the measured figures and PASS/FAIL, as table rows."""
    rows = []
    mnist = results.get("mnist", {})
    ours = mnist.get("cnnedu") if isinstance(mnist, dict) else None
    if ours:
        ok = ours["reached"] and ours["seconds_to_target"] <= TARGET_MNIST_SECONDS
        shown = (f"{ours['seconds_to_target']:.1f} s, {ours['epochs']} epochs, "
                 f"{ours['final_accuracy']:.2%}" if ours["reached"] else
                 f"not reached in {ours['epochs']} epoch(s) ({ours['final_accuracy']:.2%})")
        rows.append(("MNIST >= 99.0% test (pure NumPy, 60k train)", f"<= {TARGET_MNIST_SECONDS:.0f} s",
                     shown, "- (quick)" if results.get("quick") else verdict(ok)))
    else:
        rows.append(("MNIST >= 99.0% test (pure NumPy, 60k train)", f"<= {TARGET_MNIST_SECONDS:.0f} s",
                     "skipped", "-"))
    vs = results.get("vs_torch", {})
    if "ratio" in vs:
        rows.append(("training step vs PyTorch CPU", f"<= {TARGET_STEP_RATIO}x",
                     f"{vs['ratio']:.2f}x ({vs['cnnedu_ms']:.1f} vs {vs['torch_ms']:.1f} ms)",
                     verdict(vs["ratio"] <= TARGET_STEP_RATIO)))
    else:
        rows.append(("training step vs PyTorch CPU", f"<= {TARGET_STEP_RATIO}x",
                     "torch not installed", "-"))
    convs = results.get("conv_layers", {})
    if convs:
        name, dominant = max(convs.items(), key=lambda kv: kv[1]["forward_gflop"])
        fraction = dominant["fwd+bwd"]["fraction_of_peak"]
        rows.append((f"dominant conv ({name}) fwd+bwd vs GEMM peak", f">= {TARGET_CONV_FRACTION:.0%}",
                     f"{fraction:.0%} ({dominant['fwd+bwd']['gflops']:.1f} of "
                     f"{results['gemm']['peak_gflops']:.1f} GF/s)",
                     verdict(fraction >= TARGET_CONV_FRACTION)))
    if ours:
        rss = ours["peak_rss_mib"]
        rows.append(("peak RSS of MNIST training", "<= 1.5 GiB", f"{rss:.0f} MiB",
                     verdict(rss <= TARGET_RSS_MIB)))
    else:
        rows.append(("peak RSS of MNIST training", "<= 1.5 GiB", "skipped", "-"))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="few repeats, 1 MNIST epoch on 6,000 images: a smoke test, not a measurement")
    parser.add_argument("--skip-mnist", action="store_true",
                        help="skip the time-to-accuracy section (the long one)")
    parser.add_argument("--json", default=DEFAULT_JSON, metavar="PATH",
                        help="where to write the results (default: benchmarks/results.json)")
    parser.add_argument("--child", choices=["cnnedu", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--child-recipe", help=argparse.SUPPRESS)
    parser.add_argument("--child-threads", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-n-train", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        child_train(args.child, MnistRecipe(**json.loads(args.child_recipe)), args.child_threads,
                    args.child_n_train)
        return 0

    repeats = 3 if args.quick else 9
    layer_repeats = 5 if args.quick else 30
    rounds = 3 if args.quick else 20
    recipe = MnistRecipe(epochs=1) if args.quick else MnistRecipe()

    info = machine_info()
    print(f"cnnedu {info['cnnedu']} benchmarks, {info['date']}")
    print(f"{info['cpu']}, {info['cpu_count']} CPUs; Python {info['python']}, NumPy {info['numpy']} "
          f"({info['blas']}, {info['blas_threads']} threads via {info['blas_threads_source']}); "
          f"torch {info['torch'] or 'not installed'}")
    print(f"load average at start: {', '.join(f'{v:.2f}' for v in info['loadavg_start'])}"
          " (other work on the machine makes the figures noisy)")
    if args.quick:
        print("--quick: few repeats, 1 MNIST epoch on 6,000 images; a smoke test only")
    results = {"machine": info, "quick": args.quick}

    results["gemm"] = bench_gemm(repeats)
    mnist = load_mnist_or_none()
    x, y, source = sample_batch(mnist)
    print(f"\n(batch for sections 2-3: {BATCH} {source} images)")
    model = mnist_cnn(0)
    _, layer_io = instrumented_step(model, x, y, cnnedu.Adam(lr=1e-3), record=True)
    results["conv_layers"] = bench_conv_layers(model, layer_io, results["gemm"]["peak_gflops"],
                                               layer_repeats)
    results["pooling"] = bench_pooling(model, layer_io, layer_repeats)
    del layer_io
    results["step_breakdown"] = bench_step_breakdown(model, x, y, layer_repeats)
    results["vs_torch"] = bench_vs_torch(x, y, info["blas_threads"], rounds)
    if args.skip_mnist:
        results["mnist"] = {"skipped": "--skip-mnist"}
    else:
        results["mnist"] = bench_mnist(recipe, info["blas_threads"], mnist is not None,
                                       n_train=6000 if args.quick else None)
    del mnist

    results["machine"]["loadavg_end"] = os.getloadavg()
    results["summary"] = [dict(zip(["target", "goal", "measured", "result"], r))
                          for r in summary(results)]
    section("Summary")
    print(table(["target", "goal", "measured", "result"], summary(results),
                align=["<", "<", "<", "<"]))
    print(f"load average at end: {', '.join(f'{v:.2f}' for v in results['machine']['loadavg_end'])}")
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(results, f, indent=1, default=to_json)
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
