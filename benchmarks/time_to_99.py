"""Sections 4 and 5 of run.py: time to 99% MNIST test accuracy, and peak memory.

``train_mnist`` trains ``cnnedu.zoo.mnist_cnn`` with ``cnnedu.zoo.MnistRecipe``
(the recipe chapter 10 uses, imported, never copied) in cnnedu or, for
comparison, in PyTorch from the same weights, batches and learning rates.
``bench_mnist`` runs each training in a child process, this file run as a
script with ``--child``, so that each reports its own peak memory.
"""

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

import cnnedu
from cnnedu.zoo import MnistRecipe, mnist_cnn

from common import load_mnist_or_none, peak_rss_mib, section, table, to_json, torch_version


def train_mnist(recipe, mnist, backend="cnnedu", threads=None, log=print, n_train=None):
    """Train mnist_cnn on MNIST with ``recipe``, testing after every epoch.

    ``backend`` is "cnnedu" (``Sequential.fit``, one epoch at a time) or
    "torch": the same network, initial weights, batches and learning rates in
    PyTorch (``vs_torch.TorchTrainer``). ``mnist`` is what ``load_mnist()``
    returns (``child_main`` loads it and times the loading). ``n_train`` keeps only the first n training images
    (for smoke tests). Raises ValueError for another backend.

    Returns a dict with the per-epoch history, ``train_seconds`` (the updates
    only), ``eval_seconds`` (test accuracy after each epoch) and
    ``seconds_to_target`` = train + eval seconds up to the epoch that reached
    ``recipe.target_accuracy`` (None if none did).
    """
    if backend not in ("cnnedu", "torch"):
        raise ValueError(f"backend must be 'cnnedu' or 'torch', got {backend!r}")
    (x_train, y_train), (x_test, y_test) = mnist
    if n_train is not None:
        x_train, y_train = x_train[:n_train], y_train[:n_train]
    mean, std = float(x_train.mean()), float(x_train.std())
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    rng = np.random.default_rng(recipe.seed)
    model = mnist_cnn(rng)
    schedule = recipe.schedule(recipe.total_steps(len(x_train)))

    if backend == "cnnedu":
        optimizer = cnnedu.Adam(lr=schedule)

        def train_epoch():
            history = model.fit(x_train, y_train, optimizer, epochs=1,
                                batch_size=recipe.batch_size, rng=rng, progress=False)
            return float(history["loss"][0])

        def test_accuracy():
            return model.accuracy(x_test, y_test, batch_size=250)
    else:
        from vs_torch import TorchTrainer
        trainer = TorchTrainer(model, schedule, recipe.batch_size, rng, threads)

        def train_epoch():
            return trainer.train_epoch(x_train, y_train)

        def test_accuracy():
            return trainer.accuracy(x_test, y_test)

    history = []
    train_seconds = eval_seconds = 0.0
    seconds_to_target = None
    for epoch in range(1, recipe.epochs + 1):
        start = time.perf_counter()
        loss = train_epoch()
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
    return {"backend": backend, "history": history, "epochs": len(history),
            "final_accuracy": history[-1]["test_accuracy"],
            "reached": seconds_to_target is not None,
            "seconds_to_target": seconds_to_target, "train_seconds": train_seconds,
            "eval_seconds": eval_seconds}


def child_main(argv=None):
    """Body of the child process: load MNIST, train, print one ``RESULT {json}`` line."""
    parser = argparse.ArgumentParser(description="one training of bench_mnist (internal)")
    parser.add_argument("--child", choices=["cnnedu", "torch"], required=True)
    parser.add_argument("--recipe", required=True, help="MnistRecipe's fields as JSON")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--n-train", type=int)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    mnist = load_mnist_or_none(log=False)
    load_seconds = time.perf_counter() - start
    rss_loaded = peak_rss_mib()
    result = train_mnist(MnistRecipe(**json.loads(args.recipe)), mnist, backend=args.child,
                         threads=args.threads, n_train=args.n_train,
                         log=lambda message: print(message, file=sys.stderr, flush=True))
    result.update(load_seconds=load_seconds, peak_rss_after_load_mib=rss_loaded,
                  peak_rss_mib=peak_rss_mib())
    print("RESULT " + json.dumps(result, default=to_json), flush=True)
    return 0


def run_child(backend, recipe, threads, n_train=None):
    """Run ``train_mnist`` in a fresh Python process and return its result dict.

    A child process keeps the measurement of peak memory clean: the parent
    has imported torch (about 250 MB) and holds benchmark arrays.
    """
    command = [sys.executable, os.path.abspath(__file__), "--child", backend,
               "--recipe", json.dumps(dataclasses.asdict(recipe)), "--threads", str(threads)]
    if n_train is not None:
        command += ["--n-train", str(n_train)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    wall = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)  # stderr: progress, live
    wall = time.perf_counter() - wall
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the {backend} training process failed (exit {done.returncode})")
    result = json.loads(lines[-1][len("RESULT "):])
    # The kernel's view, as a cross-check (max over the children so far, KiB on Linux).
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["ru_maxrss_children_mib"] = after / 1024 if after > before else None
    result["process_wall_seconds"] = wall
    return result


def bench_mnist(recipe, threads, have_mnist, n_train=None):
    """Sections 4 and 5: time to target accuracy and peak RSS, cnnedu then torch, in children."""
    section(f"4-5. Time to {recipe.target_accuracy:.1%} MNIST test accuracy, and peak RSS")
    print(f"recipe: {recipe}")
    if n_train is not None:
        print(f"--quick: training on the first {n_train} images only")
    if not have_mnist:
        print("MNIST not available: skipped (set CNNEDU_DATA to a folder with mnist/)")
        return {"skipped": "MNIST not available"}
    results = {"recipe": dataclasses.asdict(recipe)}
    backends = ["cnnedu"] + (["torch"] if torch_version() is not None else [])
    for backend in backends:
        try:
            results[backend] = run_child(backend, recipe, threads, n_train)
        except RuntimeError as exc:
            print(f"error: {exc}")
    rows = []
    for backend in (b for b in backends if b in results):
        r = results[backend]
        rows.append((backend, f"{r['seconds_to_target']:.1f}" if r["reached"] else "not reached",
                     f"{r['train_seconds']:.1f}", f"{r['eval_seconds']:.1f}",
                     f"{r['load_seconds']:.1f}", r["epochs"], f"{r['final_accuracy']:.4f}",
                     f"{r['peak_rss_mib']:.0f}",
                     f"{r['history'][0]['peak_rss_mib_after_training']:.0f}",
                     f"{r['peak_rss_after_load_mib']:.0f}"))
    if "torch" not in backends:
        rows.append(("torch", "torch not installed", "", "", "", "", "", "", "", ""))
    print(table(["backend", "s to target", "train s", "eval s", "load s", "epochs", "test acc",
                 "peak RSS MiB", "before 1st eval", "after load"], rows))
    print("s to target = training + per-epoch test evaluation up to the epoch that reached "
          "the target; data loading is excluded (load s).")
    print("Peak RSS = VmHWM of the training process (a high-water mark): overall, before the "
          "first test evaluation, and after loading MNIST.")
    return results


def bench_seeds(recipe, threads, seeds, first=None):
    """Final test accuracy of the cnnedu recipe over seeds 0 .. seeds-1 (its seed field changed),
    each trained in a child process; ``first`` is the result for the recipe's own seed, if
    already run. Prints a table and returns {"accuracies": {seed: accuracy}, "min", "median"}."""
    section(f"4b. The recipe's final test accuracy over {seeds} seeds")
    accuracies = {}
    for seed in range(seeds):
        if first is not None and seed == recipe.seed:
            accuracies[seed] = first["final_accuracy"]
            continue
        result = run_child("cnnedu", dataclasses.replace(recipe, seed=seed), threads)
        accuracies[seed] = result["final_accuracy"]
    values = list(accuracies.values())
    summary = {"accuracies": accuracies, "min": min(values), "median": float(np.median(values))}
    rows = [(seed, f"{accuracy:.2%}") for seed, accuracy in accuracies.items()]
    rows.append(("min / median", f"{summary['min']:.2%} / {summary['median']:.2%}"))
    print(table(["seed", f"test accuracy after {recipe.epochs} epochs"], rows))
    return summary


if __name__ == "__main__":
    sys.exit(child_main())
