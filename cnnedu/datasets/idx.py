"""Read IDX files, the binary format MNIST comes in (chapter 10).

An IDX file is a short header followed by the values themselves::

    bytes 0-1   0x00 0x00          always zero
    byte  2     0x08               type of the values: 0x08 = unsigned byte
    byte  3     ndim               number of dimensions: 3 for images, 1 for labels
    then        ndim x 4 bytes     the size of each dimension, a big-endian uint32
    then        the values         in C order: the last index changes fastest

The first four bytes, read as one big-endian integer, are the *magic number*:
2051 (``0x00000803``) for MNIST's image files, 2049 (``0x00000801``) for its
label files. Big-endian means the most significant byte comes first, so the
size 60,000 is stored as the bytes ``00 00 EA 60``. MNIST's four files are
also gzipped. The format defines other type codes (``0x09`` signed byte up to
``0x0E`` float64); MNIST uses only ``0x08``, and so does this reader.

Used by ``cnnedu.datasets.mnist``; chapter 10 shows it as an example of
reading a binary format by hand.

Source: Y. LeCun, C. Cortes and C. J. C. Burges, "The MNIST database of
handwritten digits", http://yann.lecun.com/exdb/mnist/ (section "File
formats for the MNIST database").
"""
import gzip
import math
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IMAGES_MAGIC", "LABELS_MAGIC", "IDXError", "read_idx"]

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension


class IDXError(ValueError):
    """A file is not a well-formed IDX file of unsigned bytes, or not the one expected (ch. 10).

    A ValueError, raised by ``read_idx``; its message names the file and what was wrong."""


def read_idx(path, magic=None, shape=None):
    """Read an IDX file (gzipped if its name ends in ``.gz``) into a uint8 array.

    Parameters
    ----------
    path : str or Path
    magic : int, optional
        Expected magic number: ``IMAGES_MAGIC`` (2051) or ``LABELS_MAGIC`` (2049).
    shape : tuple of int, optional
        Expected dimensions, e.g. ``(60000, 28, 28)`` for MNIST's training images.

    Returns
    -------
    np.ndarray of uint8
        The values (0 to 255, unscaled), with the dimensions stored in the
        file, e.g. ``(60000, 28, 28)`` or ``(60000,)``. The array is a fresh,
        writable copy.

    Raises
    ------
    IDXError
        Naming the file, if the gzip data is truncated or corrupt, the header
        is short or not that of an IDX file of unsigned bytes, the magic
        number or dimensions differ from ``magic`` or ``shape``, or the number
        of values is not the product of the dimensions.
    FileNotFoundError
        If there is no file at ``path``.

    Chapter 10. Source: the "File formats" section of the MNIST page
    (LeCun, Cortes and Burges), http://yann.lecun.com/exdb/mnist/.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()  # at most 47 MB for MNIST, so read it all at once
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise IDXError(f"{path}: the gzip data is truncated or corrupt ({exc}). "
                       "Move the file away and get a fresh copy.") from exc
    if len(raw) < 4:
        raise IDXError(f"{path}: too short for an IDX header "
                       f"(got {len(raw)} bytes, expected at least 4)")
    found_magic = int.from_bytes(raw[:4], "big")
    if magic is not None and found_magic != magic:
        raise IDXError(f"{path}: wrong magic number {found_magic}, expected {magic} "
                       f"({IMAGES_MAGIC} = images, {LABELS_MAGIC} = labels)")
    if raw[:3] != b"\x00\x00\x08":
        raise IDXError(f"{path}: not an IDX file of unsigned bytes (magic number "
                       f"{found_magic:#010x}, expected 0x000008.., e.g. {IMAGES_MAGIC})")
    ndim = raw[3]
    start = 4 + 4 * ndim  # the values start after the magic number and the sizes
    if len(raw) < start:
        raise IDXError(f"{path}: header ends early (expected {ndim} dimension sizes)")
    dims = tuple(int(size) for size in np.frombuffer(raw[4:start], dtype=">u4"))
    if shape is not None and dims != tuple(shape):
        raise IDXError(f"{path}: wrong dimensions {dims}, expected {tuple(shape)}")
    if len(raw) - start != math.prod(dims):
        raise IDXError(f"{path}: wrong length: {len(raw) - start:,} bytes of data, "
                       f"expected {math.prod(dims):,} for dimensions {dims}")
    # frombuffer gives a read-only view of `raw`; copy so the caller owns the array.
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(dims).copy()
