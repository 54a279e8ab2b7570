"""Stress test for notebook execution: does any execution stall?

Runs the book's notebooks many times, two at a time (as pytest-xdist runs them
in CI), in the two ways the project executes them:

* ``build``: the way ``jupyter-book build`` does, through myst-nb's direct
  executor, which calls ``jupyter_cache.executors.utils.single_nb_execution``
  (an ``nbclient.NotebookClient``) with the book's cell timeout;
* ``nbval``: the way ``pytest`` does, with nbval in a fresh pytest process.

For every execution it prints the wall time and the *overhead*: the wall time
that is not spent inside a cell (kernel start-up, the kernel-info handshake,
the gap after the last cell's output, kernel shut-down). A healthy execution
has a few seconds of overhead; an execution whose overhead exceeds
``--stall-after`` seconds, or that times out, is a **stall**, and the script
exits with status 1 if there was any.

Usage (from the repository root, in the course environment)::

    python benchmarks/stress_execution.py                     # 60 executions
    python benchmarks/stress_execution.py --runs 10 --mode build \
        --notebooks book/03_two_layer_net.ipynb

Issue 11 records the figures; ``--json FILE`` writes every execution's record.
"""

import argparse
import concurrent.futures as futures
import datetime as dt
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The quick notebooks by default: the stall was seen on chapter 3 (widgets), and
# chapters 10 and 12 train for minutes each, which would make a run of many
# executions take hours. Pass --notebooks to choose others.
DEFAULT_NOTEBOOKS = ["book/02_linear_softmax.ipynb", "book/03_two_layer_net.ipynb",
                     "book/05_convolution.ipynb", "book/06_pooling.ipynb"]


def _parse_time(stamp):
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def run_build_way(path, timeout):
    """Execute one notebook as myst-nb's direct executor does; return a record."""
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    nb = nbformat.read(path, as_version=4)
    start = time.time()
    result = single_nb_execution(nb, cwd=str(Path(path).parent), timeout=timeout,
                                 allow_errors=False, meta_override=True, record_timing=True)
    end = time.time()
    in_cells = 0.0
    last_output = start
    spans = []
    for index, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.status.busy" in timing and "iopub.status.idle" in timing:
            busy, idle = _parse_time(timing["iopub.status.busy"]), _parse_time(timing["iopub.status.idle"])
            reply = _parse_time(timing.get("shell.execute_reply", timing["iopub.status.idle"]))
            spans.append((index, round(busy - start, 2), round(idle - start, 2), round(reply - start, 2)))
            in_cells += idle - busy
            last_output = max(last_output, idle)
    return {"mode": "build", "notebook": path, "wall": end - start,
            "overhead": end - start - in_cells, "after_last_output": end - last_output,
            "cells": spans,
            "error": None if result.err is None else f"{type(result.err).__name__}: "
                                                     f"{str(result.err).splitlines()[0][:200]}"}


def run_nbval_way(path, timeout):
    """Execute one notebook with nbval in a fresh pytest process; return a record."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        cmd = [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:xdist",
               "-p", "no:cacheprovider", "-q", "--nbval-lax", "--nbval-current-env",
               f"--nbval-cell-timeout={timeout}", f"--junitxml={report}", path]
        start = time.time()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        end = time.time()
        in_cells, failures = 0.0, []
        if report.exists():
            for case in ET.parse(report).getroot().iter("testcase"):
                in_cells += float(case.get("time", 0))
                if case.find("failure") is not None or case.find("error") is not None:
                    failures.append(case.get("name"))
    error = None
    if proc.returncode != 0:
        error = f"pytest exit {proc.returncode}: failed {failures[:3]} " + proc.stdout[-300:]
    # The gap after the last cell cannot be seen from outside; the overhead
    # (wall time minus time inside cells) includes it.
    return {"mode": "nbval", "notebook": path, "wall": end - start,
            "overhead": end - start - in_cells, "after_last_output": None, "error": error}


def _job(mode, path, timeout):
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread per job, as in CI
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("PYTHONHASHSEED", "0")
    try:
        return (run_build_way if mode == "build" else run_nbval_way)(path, timeout)
    except Exception as exc:  # a crash of the harness is reported, not hidden
        return {"mode": mode, "notebook": path, "wall": float("nan"), "overhead": float("nan"),
                "after_last_output": None, "error": f"{type(exc).__name__}: {exc}"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", nargs="+", default=DEFAULT_NOTEBOOKS,
                        help="notebooks to execute (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=None,
                        help="executions of each notebook in each mode "
                             "(default: enough for 60 executions in all)")
    parser.add_argument("--mode", choices=["build", "nbval", "both"], default="both")
    parser.add_argument("--parallel", type=int, default=2, help="executions at once (default 2)")
    parser.add_argument("--timeout", type=int, default=300,
                        help="cell timeout in seconds (default 300, as in _config.yml)")
    parser.add_argument("--stall-after", type=float, default=20.0,
                        help="overhead in seconds that counts as a stall (default 20)")
    parser.add_argument("--json", help="write every record to this JSON file")
    args = parser.parse_args(argv)

    modes = ["build", "nbval"] if args.mode == "both" else [args.mode]
    runs = args.runs or -(-60 // (len(modes) * len(args.notebooks)))
    jobs = [(mode, nb) for _ in range(runs) for nb in args.notebooks for mode in modes]
    print(f"{len(jobs)} executions, {args.parallel} at a time, cell timeout {args.timeout} s, "
          f"stall = overhead > {args.stall_after} s or a timeout", flush=True)

    records = []
    context = multiprocessing.get_context("spawn")  # each job in a fresh interpreter
    started = time.time()
    with futures.ProcessPoolExecutor(args.parallel, mp_context=context,
                                     max_tasks_per_child=1) as pool:
        pending = [pool.submit(_job, mode, nb, args.timeout) for mode, nb in jobs]
        for i, done in enumerate(futures.as_completed(pending), 1):
            r = done.result()
            r["stall"] = bool(r["error"] and "imeout" in r["error"]) or not (
                r["overhead"] <= args.stall_after)
            records.append(r)
            tail = "" if r["after_last_output"] is None else \
                f", after last output {r['after_last_output']:5.1f} s"
            flag = "  STALL" if r["stall"] else ""
            err = f"  ERROR {r['error']}" if r["error"] else ""
            print(f"[{i:3d}/{len(jobs)}] {r['mode']:5s} {Path(r['notebook']).name:28s} "
                  f"wall {r['wall']:6.1f} s, overhead {r['overhead']:5.1f} s{tail}{flag}{err}",
                  flush=True)

    print(f"\nSummary ({time.time() - started:.0f} s in all):")
    for mode in modes:
        for nb in args.notebooks:
            rs = [r for r in records if r["mode"] == mode and r["notebook"] == nb]
            walls = [r["wall"] for r in rs]
            over = [r["overhead"] for r in rs]
            print(f"  {mode:5s} {Path(nb).name:28s} n={len(rs):3d}  wall median "
                  f"{statistics.median(walls):6.1f} s max {max(walls):6.1f} s  overhead median "
                  f"{statistics.median(over):5.1f} s max {max(over):5.1f} s")
    stalls = [r for r in records if r["stall"]]
    errors = [r for r in records if r["error"] and not r["stall"]]
    print(f"executions: {len(records)}, stalls: {len(stalls)}, other errors: {len(errors)}")
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
    return 1 if stalls or errors else 0


if __name__ == "__main__":
    sys.exit(main())
