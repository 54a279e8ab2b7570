"""What every benchmark shares: one timing function, the table printer, the machine, memory.

Used by ``run.py`` and its sections (``kernels.py``, ``vs_torch.py``,
``time_to_99.py``) and by ``notebooks.py``. It never imports torch: PyTorch
is optional, and only ``vs_torch.py`` loads it.
"""

import dataclasses
import datetime
import importlib.metadata
import importlib.util
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np

import cnnedu

BATCH = 128


# ----------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Timing:
    """Wall seconds of repeated calls. The median is the headline; ``best`` is what the code
    does when nothing interferes. Adding two Timings pools their calls."""

    seconds: tuple

    @property
    def median(self):
        return statistics.median(self.seconds)

    @property
    def best(self):
        return min(self.seconds)

    @property
    def worst(self):
        return max(self.seconds)

    def __add__(self, other):
        return Timing(self.seconds + other.seconds)


def timed(fn, seconds):
    """``fn`` wrapped so that each call appends its wall time (s) to the list ``seconds``."""
    def call(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - start)
    return call


def time_calls(fn, repeats, warmup=1):
    """Call ``fn()`` ``warmup`` times untimed, then ``repeats`` times timed; a ``Timing``."""
    for _ in range(warmup):
        fn()
    seconds = []
    call = timed(fn, seconds)
    for _ in range(repeats):
        call()
    return Timing(tuple(seconds))


# ----------------------------------------------------------------------------
# Printing and saving
# ----------------------------------------------------------------------------

def table(headers, rows, align=None):
    """Rows as a plain-text table; by default the first column left-aligned, the rest right."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if align is None:
        align = ["<"] + [">"] * (len(headers) - 1)

    def line(row):
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(row, align, widths))
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def section(title):
    print(f"\n== {title}", flush=True)


def to_json(value):
    """JSON fallback for NumPy scalars (json writes tuples as lists itself)."""
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


# ----------------------------------------------------------------------------
# The machine
# ----------------------------------------------------------------------------

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


def torch_version():
    """The installed torch's version, or None; read from its metadata, without importing it."""
    if importlib.util.find_spec("torch") is None:
        return None
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def machine_info():
    threads, source = blas_threads()
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas_name(),
        "blas_threads": threads,
        "blas_threads_source": source,
        "torch": torch_version(),
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
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    scale = 1024 if sys.platform != "darwin" else 1024 * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


# ----------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------

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
