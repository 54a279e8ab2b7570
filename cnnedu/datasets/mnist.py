"""MNIST handwritten digits: find, download, verify and read the four IDX files.

MNIST (LeCun, Cortes and Burges) has 60,000 training and 10,000 test images of
handwritten digits, each 28 x 28 grey pixels with a label from 0 to 9. It comes
as four gzipped IDX files::

    train-images-idx3-ubyte.gz   (60000, 28, 28) uint8
    train-labels-idx1-ubyte.gz   (60000,)        uint8
    t10k-images-idx3-ubyte.gz    (10000, 28, 28) uint8
    t10k-labels-idx1-ubyte.gz    (10000,)        uint8

Where the files are looked for, in this order:

1. the ``root`` argument (the folder that directly contains the four files);
2. ``$CNNEDU_DATA/mnist``, if the environment variable ``CNNEDU_DATA`` is set;
3. the user cache ``$XDG_CACHE_HOME/cnnedu/mnist`` (by default
   ``~/.cache/cnnedu/mnist``).

The first folder that holds all four files with the right SHA-256 checksums is
used; folders may be read-only. If no folder does, the missing or corrupt files
are downloaded into the *first* folder of the list above: ``root`` if given,
else ``$CNNEDU_DATA/mnist`` if that variable is set, else the user cache. A
corrupt file there is renamed to ``<name>.corrupt-<timestamp>``, never deleted.

From the command line::

    python -m cnnedu.datasets.mnist download [--root DIR]
    python -m cnnedu.datasets.mnist verify [--root DIR]
"""
import argparse
import gzip
import hashlib
import math
import os
import sys
import tempfile
import time
import urllib.request
import warnings
import zlib
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

# Tried in this order. The first two are the copies that torchvision and
# TensorFlow Datasets use; the original site is often down, so it comes last.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

# File name -> (size in bytes, SHA-256 of the .gz file as distributed).
FILES = {
    "train-images-idx3-ubyte.gz": (
        9_912_422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train-labels-idx1-ubyte.gz": (
        28_881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "t10k-images-idx3-ubyte.gz": (
        1_648_877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "t10k-labels-idx1-ubyte.gz": (
        4_542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension

# Split -> (images file, labels file, number of examples).
SPLITS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60_000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10_000),
}

DEFAULT_TIMEOUT = 30.0  # seconds to wait for a connection or for the next bytes
_CHUNK_SIZE = 1 << 16
_USER_AGENT = "cnnedu (Python urllib)"  # some servers refuse urllib's default agent

_HOW_TO_FIX = (
    "To fix this, do one of:\n"
    "  - set the environment variable CNNEDU_DATA to a folder whose mnist/ "
    "subfolder holds the four files;\n"
    f"  - copy the four files ({', '.join(FILES)}) into one of the folders named above;\n"
    "  - on a machine with internet access, run: python -m cnnedu.datasets.mnist download"
)


class MNISTError(RuntimeError):
    """The MNIST files are missing, corrupt or malformed, or could not be downloaded."""


# ---------------------------------------------------------------- reading

def read_idx(path, magic=None, shape=None):
    """Read an IDX file (gzipped if its name ends in ``.gz``) into a uint8 array.

    An IDX file starts with a 4-byte big-endian magic number ``0x000008DD``
    (``08`` = unsigned bytes, ``DD`` = number of dimensions), then one
    big-endian uint32 size per dimension, then the values in C order.

    Parameters
    ----------
    path : str or Path
    magic : int, optional
        Expected magic number: ``IMAGES_MAGIC`` (2051) or ``LABELS_MAGIC`` (2049).
    shape : tuple of int, optional
        Expected dimensions, e.g. ``(60000, 28, 28)``.

    Returns
    -------
    np.ndarray of uint8, with the dimensions stored in the file.

    Raises
    ------
    MNISTError
        Naming the file, if it is truncated, not gzip, or not a valid IDX file.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            header = f.read(4)
            if len(header) < 4:
                raise MNISTError(f"{path}: too short for an IDX header "
                                 f"(got {len(header)} bytes, expected at least 4)")
            found_magic = int.from_bytes(header, "big")
            if magic is not None and found_magic != magic:
                raise MNISTError(f"{path}: wrong magic number {found_magic}, expected {magic} "
                                 f"({IMAGES_MAGIC} = images, {LABELS_MAGIC} = labels)")
            if header[:3] != b"\x00\x00\x08":
                raise MNISTError(f"{path}: not an IDX file of unsigned bytes (magic number "
                                 f"{found_magic:#010x}, expected 0x000008.., e.g. {IMAGES_MAGIC})")
            ndim = header[3]
            dims_bytes = f.read(4 * ndim)
            if len(dims_bytes) < 4 * ndim:
                raise MNISTError(f"{path}: header ends early (expected {ndim} dimension sizes)")
            dims = tuple(int(d) for d in np.frombuffer(dims_bytes, dtype=">u4"))
            if shape is not None and dims != tuple(shape):
                raise MNISTError(f"{path}: wrong dimensions {dims}, expected {tuple(shape)}")
            data = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise MNISTError(f"{path}: the gzip data is truncated or corrupt ({exc}). "
                         "Move the file away and get a fresh copy.") from exc
    if len(data) != math.prod(dims):
        raise MNISTError(f"{path}: wrong length: {len(data):,} bytes of data, "
                         f"expected {math.prod(dims):,} for dimensions {dims}")
    # frombuffer gives a read-only view of `data`; copy so the caller owns the array.
    return np.frombuffer(data, dtype=np.uint8).reshape(dims).copy()


def load_mnist(root=None, download=True, normalize=True, dtype=np.float32, *,
               mirrors=None, timeout=DEFAULT_TIMEOUT):
    """Load MNIST, downloading it first if needed (see the module docstring for where).

    Parameters
    ----------
    root : str or Path, optional
        Folder that directly contains (or will receive) the four ``.gz`` files.
    download : bool
        Download missing or corrupt files. If False, raise ``MNISTError`` instead.
    normalize : bool
        If True, scale pixels to [0, 1] in ``dtype``; if False, keep raw uint8
        values in 0..255 (``dtype`` is then ignored).
    dtype : floating NumPy dtype
        Dtype of the normalized images.
    mirrors : sequence of str, optional
        Base URLs to try in order; defaults to ``MIRRORS``.
    timeout : float
        Seconds to wait for a server before trying the next mirror.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        x_train: (60000, 1, 28, 28), x_test: (10000, 1, 28, 28), NCHW;
        y_train: (60000,), y_test: (10000,), int64 labels in 0..9.

    Raises
    ------
    MNISTError
        If the files cannot be found, downloaded or read; the message says why
        and how to fix it.
    """
    if normalize and not np.issubdtype(dtype, np.floating):
        raise ValueError(f"normalize=True needs a floating dtype, got {np.dtype(dtype)}")
    folder = _find_or_download(root, download, mirrors, timeout)
    splits = []
    for images_name, labels_name, n in SPLITS.values():
        images = read_idx(folder / images_name, magic=IMAGES_MAGIC, shape=(n, 28, 28))
        labels = read_idx(folder / labels_name, magic=LABELS_MAGIC, shape=(n,))
        x = images.reshape(n, 1, 28, 28)
        if normalize:
            x = x.astype(dtype)
            x /= 255
        splits.append((x, labels.astype(np.int64)))
    return tuple(splits)


# ---------------------------------------------------------------- finding and checking

def search_folders(root=None):
    """Return the folders that ``load_mnist`` searches, in order (a list of Path).

    The first one is also where downloads go.
    """
    folders = []
    if root is not None:
        folders.append(Path(root).expanduser())
    if os.environ.get("CNNEDU_DATA"):
        folders.append(Path(os.environ["CNNEDU_DATA"]).expanduser() / "mnist")
    cache = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    folders.append(Path(cache).expanduser() / "cnnedu" / "mnist")
    return folders


def find_mnist(root=None):
    """Return the first searched folder that holds four valid files, or None."""
    for folder in search_folders(root):
        if not any(verify_mnist(folder).values()):
            return folder
    return None


def verify_mnist(folder):
    """Check the four files in ``folder`` against their sizes and SHA-256 checksums.

    Only reads the files, so read-only folders are fine.

    Returns
    -------
    dict
        File name -> None if the file is good, else a short text saying what is
        wrong ("missing", or which size or checksum was found and expected).
    """
    return {name: _file_problem(Path(folder) / name) for name in FILES}


# Good files already hashed in this process, keyed by (path, size, mtime):
# hashing 11 MB costs ~30 ms, which adds up over many load_mnist calls.
_VERIFIED = set()


def _file_problem(path):
    """Return None if ``path`` is a good copy of its MNIST file, else what is wrong."""
    size, sha256 = FILES[path.name]
    try:
        stat = path.stat()
    except FileNotFoundError:
        return "missing"
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _VERIFIED:
        return None
    if stat.st_size != size:
        return f"size is {stat.st_size:,} bytes, expected {size:,}"
    digest = _sha256_of_file(path)
    if digest != sha256:
        return f"SHA-256 is {digest}, expected {sha256}"
    _VERIFIED.add(key)
    return None


def _sha256_of_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _summary(problems):
    """One line describing the problems of one folder, e.g. 'missing: a, b'."""
    missing = [name for name, problem in problems.items() if problem == "missing"]
    corrupt = [f"{name} ({problem})" for name, problem in problems.items()
               if problem not in (None, "missing")]
    parts = []
    if len(missing) == len(FILES):
        parts.append("none of the four files")
    elif missing:
        parts.append("missing: " + ", ".join(missing))
    if corrupt:
        parts.append("corrupt: " + "; ".join(corrupt))
    return "; ".join(parts)


def _find_or_download(root, download, mirrors, timeout):
    """Return a folder with four valid files, downloading into the first folder if needed."""
    folders = search_folders(root)
    searched = []
    for folder in folders:
        problems = verify_mnist(folder)
        if not any(problems.values()):
            return folder
        searched.append(f"  {folder}: {_summary(problems)}")
    searched = "Looked for the MNIST files in:\n" + "\n".join(searched)
    if not download:
        raise MNISTError(f"MNIST not found, and download=False.\n{searched}\n{_HOW_TO_FIX}")
    try:
        return download_mnist(folders[0], mirrors=mirrors, timeout=timeout)
    except MNISTError as exc:
        # The download error already names the mirrors and their errors.
        raise MNISTError(f"{searched}\n{exc}") from None


# ---------------------------------------------------------------- downloading

def download_mnist(folder=None, *, mirrors=None, timeout=DEFAULT_TIMEOUT):
    """Make ``folder`` hold the four valid files, downloading whichever are missing or corrupt.

    ``folder`` defaults to the first of ``search_folders()``. Corrupt files are
    renamed to ``<name>.corrupt-<timestamp>`` (with a warning) before being
    replaced. Each file is written to a temporary file in ``folder``, checked
    against its SHA-256 and only then renamed to its final name, so a partial
    download never appears under that name. Returns the folder as a Path.
    """
    folder = Path(folder).expanduser() if folder is not None else search_folders()[0]
    mirrors = MIRRORS if mirrors is None else mirrors
    todo = {name: problem for name, problem in verify_mnist(folder).items() if problem}
    for name, problem in todo.items():
        if problem != "missing":
            _move_aside(folder / name, problem)
    if todo:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MNISTError(f"Cannot create the folder {folder} for MNIST: {exc}") from exc
        if not os.access(folder, os.W_OK):
            raise MNISTError(f"Cannot download MNIST into {folder}: the folder is not writable. "
                             "Pass a writable folder as root=..., or set CNNEDU_DATA.")
    for name in todo:
        _fetch(name, folder, mirrors, timeout)
    return folder


def _move_aside(path, problem):
    """Rename a corrupt file to ``<name>.corrupt-<timestamp>``: never delete a user's file."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    count = 1
    while aside.exists():
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{count}")
        count += 1
    try:
        path.rename(aside)
    except OSError as exc:
        raise MNISTError(
            f"{path} is corrupt ({problem}), and it could not be moved aside ({exc}). "
            "Replace it with a good copy or remove it, then try again; "
            f"`python -m cnnedu.datasets.mnist verify --root {path.parent}` checks the files."
        ) from exc
    warnings.warn(f"{path} was corrupt ({problem}); moved it to {aside} "
                  "and downloading a fresh copy.", stacklevel=2)


def _fetch(name, folder, mirrors, timeout):
    """Download the file ``name`` into ``folder``, trying each mirror in turn."""
    _, sha256 = FILES[name]
    errors = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        try:
            _download(url, folder / name, sha256, timeout)
            return
        except Exception as exc:  # HTTP error, timeout, reset, short read, bad checksum...
            errors.append(f"  {url}: {exc}")
    tried = "\n".join(errors) if errors else "  (no mirrors given)"
    raise MNISTError(f"Could not download {name} into {folder}. Mirrors tried:\n"
                     f"{tried}\n{_HOW_TO_FIX}")


def _download(url, dest, sha256, timeout):
    """Download ``url`` to ``dest`` via a temporary file that is checked, then renamed."""
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _copy_url(url, out, timeout, desc=dest.name)
        if digest != sha256:
            raise MNISTError(f"SHA-256 of the download is {digest}, expected {sha256}")
        os.replace(tmp_name, dest)
    except BaseException:
        os.remove(tmp_name)
        raise


def _copy_url(url, out, timeout, desc):
    """Stream ``url`` into the open binary file ``out``; return the SHA-256 hex digest."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    digest = hashlib.sha256()
    received = 0
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length else None
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc) as bar:
            while chunk := response.read(_CHUNK_SIZE):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    # http.client returns a short body without error when the server hangs up early.
    if total is not None and received != total:
        raise MNISTError(f"connection closed after {received:,} of {total:,} bytes")
    return digest.hexdigest()


# ---------------------------------------------------------------- command line

def main(argv=None):
    """Command-line entry point; returns the exit status (0 when all is well)."""
    parser = argparse.ArgumentParser(
        prog="python -m cnnedu.datasets.mnist",
        description="Download the four MNIST files, or verify their checksums.")
    parser.add_argument("command", choices=["download", "verify"])
    parser.add_argument("--root", help="folder holding the four files "
                        "(default: where load_mnist looks; see its documentation)")
    args = parser.parse_args(argv)
    try:
        if args.command == "download":
            return _download_command(args.root)
        return _verify_command(args.root)
    except MNISTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _download_command(root):
    found = find_mnist() if root is None else None
    if found is not None:
        print(f"All four MNIST files are already in {found}; nothing to download.")
        return 0
    folder = download_mnist(root)
    print(f"All four MNIST files are OK in {folder}.")
    return 0


def _verify_command(root):
    if root is not None:
        folder = Path(root).expanduser()
    else:  # the folder load_mnist would read, or else download into
        folder = find_mnist() or search_folders()[0]
    print(f"Checking the MNIST files in {folder}")
    problems = verify_mnist(folder)
    for name, problem in problems.items():
        print(f"  OK       {name}" if problem is None else f"  PROBLEM  {name}: {problem}")
    bad = sum(problem is not None for problem in problems.values())
    if bad:
        fix = "python -m cnnedu.datasets.mnist download" + (f" --root {folder}" if root else "")
        print(f"{bad} of the four MNIST files have problems. Run `{fix}` to fetch them.")
        return 1
    print("All four MNIST files are OK.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
