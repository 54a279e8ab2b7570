"""Wall time and peak memory of every notebook in book/, against Binder's limits.

    python benchmarks/notebooks.py [book/10_mnist.ipynb ...]

Each notebook runs alone in a fresh kernel (as on Binder), one after another.
Peak memory is the kernel's maximum resident set size. The limits are the
course's: 2 minutes per notebook (90 s for MNIST, issue 16; 3 minutes for LeNet-5)
and 1.5 GB.
"""

import argparse
import json
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from common import time_calls

ROOT = Path(__file__).resolve().parent.parent
LIMIT_SECONDS = {"10_mnist": 90, "12_architectures": 180}   # 10_mnist: issue 16
LIMIT_MB = 1536
PEAK_RSS = ("import resource, sys; "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, file=sys.stderr)")


def run(path):
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK_RSS))
    client = NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    seconds = time_calls(client.execute, repeats=1, warmup=0).best
    peak_mb = float(nb.cells[-1].outputs[0]["text"])
    return seconds, peak_mb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: all of book/)")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.notebooks] or sorted((ROOT / "book").glob("*.ipynb"))
    rows = []
    print(f"{'notebook':28s} {'seconds':>8s} {'limit':>6s} {'peak MB':>8s}  verdict")
    for path in paths:
        seconds, peak_mb = run(path)
        limit = LIMIT_SECONDS.get(path.stem, 120)
        ok = seconds <= limit and peak_mb <= LIMIT_MB
        rows.append({"notebook": path.name, "seconds": round(seconds, 1), "limit_seconds": limit,
                     "peak_mb": round(peak_mb), "ok": ok})
        print(f"{path.name:28s} {seconds:8.1f} {limit:6d} {peak_mb:8.0f}  "
              f"{'PASS' if ok else 'FAIL'}")
    (ROOT / "benchmarks" / "notebooks.json").write_text(json.dumps(rows, indent=1))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
