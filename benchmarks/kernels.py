"""Sections 1 and 2 of run.py: the GEMM peak, and cnnedu's kernels layer by layer.

1. ``bench_gemm``: NumPy's float32 matrix-multiply rate (GFLOP/s) on square
   sizes, whose best is "the GEMM peak", and on the shapes the MNIST model uses.
2. ``bench_conv_layers``, ``bench_pooling``, ``bench_step_breakdown``: each conv
   layer of ``cnnedu.zoo.mnist_cnn`` at batch 128 through ``cnnedu.functional``
   (time, GFLOP/s, fraction of the peak); max pooling; and one training step,
   ``model.train_step`` itself, with a timer around each layer, the loss and
   the optimiser.
"""

import numpy as np

import cnnedu
from cnnedu import functional as F
from cnnedu import layers as L
from cnnedu.zoo import mnist_cnn

from common import BATCH, section, table, time_calls, timed


# ----------------------------------------------------------------------------
# 1. GEMM peak
# ----------------------------------------------------------------------------

def model_gemm_shapes(batch=BATCH):
    """The matrix products a training step of mnist_cnn performs, as (name, m, k, n, transpose_a).

    Read from ``mnist_cnn``'s own layers. A conv's forward is one product,
    ``cols @ w`` with cols (N*OH*OW, kh*kw*C); its backward is ``cols.T @
    dout`` for dw and, for dx, ``kh*kw`` products ``dout @ w[:, :, i, j]``
    (one per filter offset, listed once).
    """
    shapes, shape = [], (batch, 1, 28, 28)
    for i, layer in enumerate(mnist_cnn(0).layers):
        out_shape = layer.output_shape(shape)
        if isinstance(layer, L.Conv2D):
            (kh, kw), C, F = layer.kernel_size, layer.in_channels, layer.out_channels
            rows, k = out_shape[0] * out_shape[2] * out_shape[3], kh * kw * C
            name = f"{i}: conv {C}->{F}"
            shapes += [(f"{name} fwd  cols@w", rows, k, F, False),
                       (f"{name} dw   cols.T@dout", k, rows, F, True)]
            if layer.input_grad:
                shapes.append((f"{name} dx   dout@w_ij (x{kh * kw})", rows, F, C, False))
        elif isinstance(layer, L.Linear):
            shapes.append((f"{i}: linear fwd  x@W", batch, layer.in_features,
                           layer.out_features, False))
            break
        shape = out_shape
    return shapes


def gemm_rate(m, k, n, repeats, transpose_a=False, dtype=np.float32):
    """(GFLOP/s, seconds) of an (m, k) @ (k, n) product, 2*m*k*n flops, best of ``repeats``."""
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
    best = time_calls(run, repeats).best / number
    return flops / best / 1e9, best


def bench_gemm(repeats, sizes=(256, 512, 1024, 2048), batch=BATCH):
    """NumPy float32 GEMM GFLOP/s: square sizes (best = peak), the model's shapes at ``batch``."""
    section(f"1. NumPy float32 GEMM rate (best of {repeats})")
    square, shaped, rows = {}, {}, []
    products = [(f"square {n}", n, n, n, False) for n in sizes] + model_gemm_shapes(batch)
    for name, m, k, n, trans in products:
        rate, seconds = gemm_rate(m, k, n, repeats, transpose_a=trans)
        if name.startswith("square"):
            square[n] = rate
        else:
            shaped[name] = {"m": m, "k": k, "n": n, "gflops": rate, "ms": seconds * 1e3}
        rows.append((name, f"{m}x{k}x{n}", f"{seconds * 1e3:.2f}", f"{rate:.1f}"))
    peak = max(square.values())
    print(table(["product", "m x k x n", "ms", "GFLOP/s"], rows))
    print(f"GEMM peak (best square): {peak:.1f} GFLOP/s")
    return {"square_gflops": {str(k): v for k, v in square.items()}, "model_shapes": shaped,
            "peak_gflops": peak}


# ----------------------------------------------------------------------------
# 2. Conv layers, pooling, and a training step broken down per layer
# ----------------------------------------------------------------------------

def profile_step(model, x, y, optimizer):
    """One ``model.train_step(x, y, optimizer)`` with a timer around each part.

    Each layer's ``forward`` and ``backward``, the loss and ``optimizer.step``
    are wrapped for the one step, then restored, so the step measured is the
    package's own. Returns (seconds, io): seconds maps a part's name to
    [forward s, backward s]; io[i] = (input of layer i, gradient arriving at
    layer i), the arrays a training step really hands each layer.
    """
    seconds, io, wrapped = {}, {}, []

    def bucket(part, column):  # column 0: forward, 1: backward
        return seconds.setdefault(part, ([], []))[column]

    def wrap(owner, method, part, column, index=None):
        call = timed(getattr(owner, method), bucket(part, column))

        def remember_and_call(*args, **kwargs):
            if index is not None:
                io.setdefault(index, [None, None])[column] = args[0]
            return call(*args, **kwargs)
        # An instance attribute hides the class's method until it is deleted again.
        setattr(owner, method, remember_and_call)
        wrapped.append((owner, method))

    try:
        for i, layer in enumerate(model.layers):
            wrap(layer, "forward", f"{i} {layer!r}", 0, i)
            wrap(layer, "backward", f"{i} {layer!r}", 1, i)
        loss = timed(cnnedu.SoftmaxCrossEntropy(), bucket("loss (softmax + cross-entropy)", 0))
        wrap(optimizer, "step", f"{type(optimizer).__name__} update", 1)
        model.train_step(x, y, optimizer, loss=loss)
    finally:
        for owner, method in wrapped:
            delattr(owner, method)
    totals = {part: [sum(forward), sum(backward)] for part, (forward, backward) in seconds.items()}
    return totals, {i: tuple(arrays) for i, arrays in io.items()}


def conv_flops(w_shape, out_shape):
    """Forward flops of a convolution: 2 * N*OH*OW * F * C*kh*kw."""
    N, filters, OH, OW = out_shape
    _, channels, kh, kw = w_shape
    return 2 * N * OH * OW * filters * channels * kh * kw


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
    convs = [i for i, layer in enumerate(model.layers) if isinstance(layer, L.Conv2D)]
    for number, i in enumerate(convs, start=1):
        layer = model.layers[i]
        x, dout = layer_io[i]
        w, b = layer.params["W"], layer.params["b"]
        assert x.dtype == w.dtype == dout.dtype == np.float32, "benchmark expects float32"
        out, cache = F.conv2d_forward(x, w, b, layer.stride, layer.padding)
        fwd = time_calls(lambda: F.conv2d_forward(x, w, b, layer.stride, layer.padding), repeats)
        # As in training: a layer built with input_grad=False computes dw and db only.
        bwd = time_calls(lambda: F.conv2d_backward(dout, cache, layer.input_grad), repeats)
        flops = conv_flops(w.shape, out.shape)
        bwd_flops = (2 if layer.input_grad else 1) * flops
        name = f"conv{number}"
        passes = {"forward": (fwd.median, fwd.best, flops),
                  "backward": (bwd.median, bwd.best, bwd_flops),
                  "fwd+bwd": (fwd.median + bwd.median, fwd.best + bwd.best, flops + bwd_flops)}
        results[name] = {"layer": repr(layer), "input_shape": x.shape,
                         "input_layout": memory_layout(x), "forward_gflop": flops / 1e9}
        label = f"{name} {x.shape[1]}->{w.shape[0]} on {x.shape[2]}x{x.shape[3]}"
        for pass_name, (t_median, t_best, pass_flops) in passes.items():
            rate = pass_flops / t_median / 1e9
            results[name][pass_name] = {"median_ms": t_median * 1e3, "min_ms": t_best * 1e3,
                                        "gflops": rate, "fraction_of_peak": rate / peak}
            rows.append((label, pass_name, f"{pass_flops / 1e9:.3f}", f"{t_median * 1e3:.2f}",
                         f"{t_best * 1e3:.2f}", f"{rate:.1f}", f"{rate / peak:.0%}"))
            label = ""
        print(f"{name}: input {x.shape}, {memory_layout(x)}")
    print(table(["layer", "pass", "GFLOP", "median ms", "min ms", "GFLOP/s", "% peak"], rows))
    print("(flops: forward 2*N*OH*OW*F*C*kh*kw; backward 2x forward, for dx and dw, or 1x "
          "for a layer with input_grad=False; GFLOP/s from the median)")
    return results


def bench_pooling(model, layer_io, repeats):
    """Max-pool forward and backward through cnnedu.functional, on the model's own arrays."""
    section(f"2b. Max pooling, batch {BATCH} (median and min of {repeats})")
    results, rows = {}, []
    pools = [i for i, layer in enumerate(model.layers) if isinstance(layer, L.MaxPool2D)]
    for number, i in enumerate(pools, start=1):
        x, dout = layer_io[i]
        k, s = model.layers[i].kernel_size, model.layers[i].stride
        _, cache = F.max_pool2d_forward(x, k, s)
        fwd = time_calls(lambda: F.max_pool2d_forward(x, k, s), repeats)
        bwd = time_calls(lambda: F.max_pool2d_backward(dout, cache), repeats)
        name = f"pool{number}"
        results[name] = {"input_shape": x.shape, "input_layout": memory_layout(x),
                         "forward_ms": fwd.median * 1e3, "backward_ms": bwd.median * 1e3,
                         "forward_min_ms": fwd.best * 1e3, "backward_min_ms": bwd.best * 1e3}
        rows.append((f"{name} {tuple(x.shape[1:])}", memory_layout(x),
                     f"{fwd.median * 1e3:.2f}", f"{fwd.best * 1e3:.2f}",
                     f"{bwd.median * 1e3:.2f}", f"{bwd.best * 1e3:.2f}"))
    print(table(["layer (C, H, W)", "input layout", "fwd median ms", "min", "bwd median ms", "min"],
                rows))
    return results


def bench_step_breakdown(model, x, y, repeats, warmup=2):
    """Median time of each part of a training step (forward + backward per layer, loss, Adam)."""
    section(f"2c. One cnnedu training step, batch {BATCH}, per layer (median of {repeats} steps)")
    optimizer = cnnedu.Adam(lr=1e-3)
    for _ in range(warmup):
        profile_step(model, x, y, optimizer)
    steps = [profile_step(model, x, y, optimizer)[0] for _ in range(repeats)]
    parts = {part: (float(np.median([s[part][0] for s in steps])),
                    float(np.median([s[part][1] for s in steps]))) for part in steps[0]}
    total = sum(f + b for f, b in parts.values())
    whole = time_calls(lambda: model.train_step(x, y, optimizer), repeats).median
    rows = [(part, f"{f * 1e3:.2f}", f"{b * 1e3:.2f}", f"{(f + b) * 1e3:.2f}",
             f"{(f + b) / total:.0%}") for part, (f, b) in parts.items()]
    rows.append(("sum of parts", "", "", f"{total * 1e3:.2f}", "100%"))
    rows.append(("Sequential.train_step, timed whole", "", "", f"{whole * 1e3:.2f}", ""))
    print(table(["part", "fwd ms", "bwd ms", "total ms", "share"], rows))
    parts_ms = {part: {"forward": f * 1e3, "backward": b * 1e3} for part, (f, b) in parts.items()}
    return {"parts_ms": parts_ms, "sum_ms": total * 1e3, "train_step_ms": whole * 1e3}
