"""MNIST handwritten digits: where the four files are looked for, and loading them.

Used by chapters 8 (a subset, for the initialisation experiments), 9 (the bug
hunt), 10 and 10a (the CNN and the sources' first attempts), 11 to 13, and by the
book's landing page.

MNIST (LeCun, Cortes and Burges) has 60,000 training and 10,000 test images of
handwritten digits, each 28 x 28 grey pixels with a label from 0 to 9. It comes
as four gzipped IDX files::

    train-images-idx3-ubyte.gz   (60000, 28, 28) uint8
    train-labels-idx1-ubyte.gz   (60000,)        uint8
    t10k-images-idx3-ubyte.gz    (10000, 28, 28) uint8
    t10k-labels-idx1-ubyte.gz    (10000,)        uint8

Where the files are looked for, in this order (``search_folders``):

1. the ``root`` argument (the folder that directly contains the four files);
2. ``$CNNEDU_DATA/mnist``, if the environment variable ``CNNEDU_DATA`` is set;
3. the user cache ``$XDG_CACHE_HOME/cnnedu/mnist`` (by default
   ``~/.cache/cnnedu/mnist``).

The first folder that holds all four files with the right SHA-256 checksums is
used; folders may be read-only. If no folder does, the missing or corrupt files
are downloaded into the *first* folder of the list above: ``root`` if given,
else ``$CNNEDU_DATA/mnist`` if that variable is set, else the user cache. A
corrupt file there is renamed to ``<name>.corrupt-<timestamp>``, never deleted.

The IDX format is read by ``cnnedu.datasets.idx``; downloads are checked and
written by the private ``cnnedu.datasets._download``. From the command line::

    python -m cnnedu.datasets verify [--root DIR]
    python -m cnnedu.datasets download [--root DIR]

Sources: Y. LeCun, C. Cortes and C. J. C. Burges, "The MNIST database of
handwritten digits", http://yann.lecun.com/exdb/mnist/; Y. LeCun, L. Bottou,
Y. Bengio and P. Haffner, "Gradient-based learning applied to document
recognition", Proc. IEEE 86(11), 1998.
"""
import os
import sys
from pathlib import Path

import numpy as np

from ._download import DEFAULT_TIMEOUT, DownloadError, ensure_files, file_problem
from .idx import IMAGES_MAGIC, LABELS_MAGIC, IDXError, read_idx

__all__ = ["load_mnist", "search_folders", "find_mnist", "verify_mnist", "download_mnist",
           "MNISTError", "MIRRORS", "FILES", "read_idx"]

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

# Split -> (images file, labels file, number of examples).
SPLITS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60_000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10_000),
}

_HOW_TO_FIX = (
    "To fix this, do one of:\n"
    "  - set the environment variable CNNEDU_DATA to a folder whose mnist/ "
    "subfolder holds the four files;\n"
    f"  - copy the four files ({', '.join(FILES)}) into one of the folders named above;\n"
    "  - on a machine with internet access, run: python -m cnnedu.datasets download"
)


class MNISTError(RuntimeError):
    """The MNIST files are missing, corrupt or malformed, or could not be downloaded.

    Raised by ``load_mnist`` and ``python -m cnnedu.datasets``; its message says what to do.
    Chapters 8 to 13."""


def load_mnist(root=None, download=True, normalize=True, dtype=np.float32, *,
               mirrors=None, timeout=DEFAULT_TIMEOUT):
    """Load the MNIST training and test sets, downloading the files first if needed.

    The files are looked for, and downloaded into, the folders of
    ``search_folders(root)`` (see the module docstring).

    Parameters
    ----------
    root : str or Path, optional
        Folder that directly contains (or will receive) the four ``.gz`` files.
    download : bool
        Download missing or corrupt files. If False, raise ``MNISTError`` instead.
    normalize : bool
        If True, scale pixels to [0, 1] in ``dtype`` (raw value / 255); if
        False, keep the raw uint8 values in 0..255 (``dtype`` is then ignored).
    dtype : floating NumPy dtype
        Dtype of the normalized images.
    mirrors : sequence of str, optional
        Base URLs to try in order; defaults to ``MIRRORS``.
    timeout : float
        Seconds to wait for a server before trying the next mirror.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        x_train: (60000, 1, 28, 28), x_test: (10000, 1, 28, 28), NCHW, in
        ``dtype`` (or uint8); y_train: (60000,), y_test: (10000,), int64
        labels in 0..9.

    Raises
    ------
    MNISTError
        If the files cannot be found, downloaded or read; the message lists the
        folders searched, the mirrors tried and how to fix it.
    ValueError
        If ``normalize`` is True and ``dtype`` is not a floating dtype.

    Chapters 8, 10, 11 and 12. Source: the MNIST page (LeCun, Cortes and
    Burges), http://yann.lecun.com/exdb/mnist/.
    """
    if normalize and not np.issubdtype(dtype, np.floating):
        raise ValueError(f"normalize=True needs a floating dtype, got {np.dtype(dtype)}")
    folder = _find_or_download(root, download, mirrors, timeout)
    splits = []
    for images_name, labels_name, n in SPLITS.values():
        try:
            images = read_idx(folder / images_name, magic=IMAGES_MAGIC, shape=(n, 28, 28))
            labels = read_idx(folder / labels_name, magic=LABELS_MAGIC, shape=(n,))
        except IDXError as exc:  # only if a file changed after its checksum was checked
            raise MNISTError(f"{exc}\n{_HOW_TO_FIX}") from None
        x = images.reshape(n, 1, 28, 28)
        if normalize:
            x = x.astype(dtype)
            x /= 255
        splits.append((x, labels.astype(np.int64)))
    return tuple(splits)


def search_folders(root=None):
    """Return the folders that ``load_mnist`` searches, in order, as a list of Path.

    ``root`` (if given), then ``$CNNEDU_DATA/mnist`` (if set), then
    ``$XDG_CACHE_HOME/cnnedu/mnist`` (default ``~/.cache/cnnedu/mnist``). The
    first one is also where downloads go. Looks at nothing on disk; raises
    nothing. Chapter 10.
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
    """Return the first folder of ``search_folders(root)`` that holds four good files, or None.

    Good means the sizes and SHA-256 checksums of ``FILES``. Only reads;
    raises nothing for missing folders. Chapter 10.
    """
    for folder in search_folders(root):
        if not any(verify_mnist(folder).values()):
            return folder
    return None


def verify_mnist(folder):
    """Check the four files in ``folder`` against their sizes and SHA-256 checksums.

    Only reads the files, so read-only folders are fine; a missing folder
    gives four "missing". Chapter 10.

    Returns
    -------
    dict
        File name -> None if the file is good, else a short text saying what is
        wrong ("missing", or which size or checksum was found and expected).
    """
    return {name: file_problem(Path(folder) / name, size, sha256)
            for name, (size, sha256) in FILES.items()}


def download_mnist(folder=None, *, mirrors=None, timeout=DEFAULT_TIMEOUT):
    """Make ``folder`` hold the four good files, downloading whichever are missing or corrupt.

    ``folder`` defaults to the first of ``search_folders()``. Corrupt files are
    renamed to ``<name>.corrupt-<timestamp>`` (with a warning) before being
    replaced. Each file is written to a temporary file in ``folder``, checked
    against its SHA-256 and only then renamed to its final name, so a partial
    download never appears under that name. ``mirrors`` (default ``MIRRORS``)
    are tried in order, waiting ``timeout`` seconds for each.

    Returns the folder as a Path. Raises MNISTError, naming the mirrors tried
    and what to do, if a file cannot be downloaded, a corrupt file cannot be
    moved aside, or the folder cannot be written. Chapter 10.
    """
    folder = Path(folder).expanduser() if folder is not None else search_folders()[0]
    try:
        return ensure_files(folder, FILES, MIRRORS if mirrors is None else mirrors, timeout)
    except DownloadError as exc:
        raise MNISTError(f"{exc}\n{_HOW_TO_FIX}") from None


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
    """Return a folder with four good files, downloading into the first folder if needed."""
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


if __name__ == "__main__":  # the older `python -m cnnedu.datasets.mnist verify|download`
    from .__main__ import main
    sys.exit(main())
