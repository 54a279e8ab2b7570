"""Private: fetch files from mirrors into a folder, checked and written safely.

Used by ``cnnedu.datasets.mnist`` (chapter 10); not part of the course's API.
What it promises:

* a file counts as good only if its size and SHA-256 (FIPS 180-4) are the
  expected ones;
* a download is written to a temporary file in the target folder, checked,
  and only then renamed to its final name with ``os.replace`` (atomic on one
  file system): a partial or corrupt download never appears under that name,
  and the temporary file is removed when anything fails;
* a corrupt file already in the folder is renamed to
  ``<name>.corrupt-<timestamp>`` with a warning: never deleted;
* every connection has a timeout, and a mirror that fails (HTTP error,
  timeout, dropped connection, wrong checksum) hands over to the next one;
* errors name the file, the folder, each mirror tried and what went wrong.
"""
import hashlib
import os
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path

from tqdm.auto import tqdm

DEFAULT_TIMEOUT = 30.0  # seconds to wait for a connection or for the next bytes
_CHUNK_SIZE = 1 << 16
_USER_AGENT = "cnnedu (Python urllib)"  # some servers refuse urllib's default agent


class DownloadError(RuntimeError):
    """A file could not be downloaded, or a corrupt file could not be moved aside."""


# Good files already hashed in this process, keyed by (path, size, mtime):
# hashing 11 MB costs ~30 ms, which adds up over many load_mnist calls.
_VERIFIED = set()


def file_problem(path, size, sha256):
    """Return None if ``path`` has ``size`` bytes and SHA-256 ``sha256``, else what is wrong.

    What is wrong is a short text: ``"missing"``, or the size or hex digest
    found and expected. Only reads the file.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        return "missing"
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _VERIFIED:
        return None
    if stat.st_size != size:
        return f"size is {stat.st_size:,} bytes, expected {size:,}"
    digest = sha256_of_file(path)
    if digest != sha256:
        return f"SHA-256 is {digest}, expected {sha256}"
    _VERIFIED.add(key)
    return None


def sha256_of_file(path):
    """The SHA-256 of the file at ``path``, as 64 hex digits, read 1 MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_files(folder, files, mirrors, timeout=DEFAULT_TIMEOUT):
    """Make ``folder`` hold every file of ``files``, downloading those missing or corrupt.

    ``files`` maps a file name to ``(size in bytes, SHA-256 hex digest)``;
    each file is fetched from ``mirror + name``, trying ``mirrors`` in order,
    with ``timeout`` seconds per connection. Returns ``folder`` as a Path.

    Raises DownloadError if a corrupt file cannot be moved aside, the folder
    cannot be created or written, or a file fails on every mirror.
    """
    folder = Path(folder)
    todo = {name: problem for name, (size, sha256) in files.items()
            if (problem := file_problem(folder / name, size, sha256))}
    for name, problem in todo.items():
        if problem != "missing":
            move_aside(folder / name, problem)
    if todo:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DownloadError(f"Cannot create the folder {folder}: {exc}") from exc
        if not os.access(folder, os.W_OK):
            raise DownloadError(f"Cannot download into {folder}: the folder is not writable. "
                                "Pass a writable folder as root=..., or set CNNEDU_DATA.")
    for name in todo:
        fetch(name, folder, files[name][1], mirrors, timeout)
    return folder


def move_aside(path, problem):
    """Rename a corrupt file to ``<name>.corrupt-<timestamp>``: never delete a user's file.

    Warns (UserWarning) with both names. Raises DownloadError, saying what
    to do, if the rename fails (a read-only folder, for example).
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    count = 1
    while aside.exists():
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{count}")
        count += 1
    try:
        path.rename(aside)
    except OSError as exc:
        raise DownloadError(
            f"{path} is corrupt ({problem}), and it could not be moved aside ({exc}). "
            "Replace it with a good copy or remove it, then try again; "
            f"`python -m cnnedu.datasets verify --root {path.parent}` checks the files."
        ) from exc
    warnings.warn(f"{path} was corrupt ({problem}); moved it to {aside} "
                  "and downloading a fresh copy.", stacklevel=3)


def fetch(name, folder, sha256, mirrors, timeout):
    """Download the file ``name`` into ``folder``, trying each mirror in turn.

    Raises DownloadError listing every mirror's URL and error if none gives
    a file with SHA-256 ``sha256``.
    """
    errors = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        try:
            _download(url, Path(folder) / name, sha256, timeout)
            return
        except Exception as exc:  # HTTP error, timeout, reset, short read, bad checksum...
            errors.append(f"  {url}: {exc}")
    tried = "\n".join(errors) if errors else "  (no mirrors given)"
    raise DownloadError(f"Could not download {name} into {folder}. Mirrors tried:\n{tried}")


def _download(url, dest, sha256, timeout):
    """Download ``url`` to ``dest`` via a temporary file that is checked, then renamed."""
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _copy_url(url, out, timeout, desc=dest.name)
        if digest != sha256:
            raise DownloadError(f"SHA-256 of the download is {digest}, expected {sha256}")
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
        raise DownloadError(f"connection closed after {received:,} of {total:,} bytes")
    return digest.hexdigest()
