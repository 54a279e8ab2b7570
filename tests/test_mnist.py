"""Tests for cnnedu.datasets: mnist, idx, _download and the command line.

They never touch the internet.

The real files come from $CNNEDU_DATA/mnist or, if that is not set, from
../shared/data/mnist next to the repository; tests that need them are skipped
when neither exists. Downloads are tested against a local HTTP server on
127.0.0.1 that serves copies of the real files.
"""
import ast
import gzip
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cnnedu.datasets import mnist
from cnnedu.datasets.idx import IDXError, read_idx
from cnnedu.datasets.mnist import FILES, MNISTError, load_mnist

REPO_ROOT = Path(__file__).resolve().parents[1]
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _real_mnist_dir():
    """Folder with the real files, or None. Read at import, before any monkeypatching."""
    if os.environ.get("CNNEDU_DATA"):
        return Path(os.environ["CNNEDU_DATA"]) / "mnist"  # set by CI: must work
    fallback = REPO_ROOT.parent / "shared" / "data" / "mnist"
    return fallback if fallback.is_dir() else None


REAL_DIR = _real_mnist_dir()
needs_real_data = pytest.mark.skipif(
    REAL_DIR is None,
    reason="real MNIST files not found: set CNNEDU_DATA to the folder containing mnist/")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Keep every test away from the real user cache, $CNNEDU_DATA and any proxy."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CNNEDU_DATA", raising=False)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def _cli(*args, env=None, module="cnnedu.datasets"):
    return subprocess.run([sys.executable, "-m", module, *args],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)


# ---------------------------------------------------------------- real data

@pytest.fixture(scope="module")
def mnist_normalized():
    return load_mnist(root=REAL_DIR, download=False)


@pytest.fixture(scope="module")
def mnist_raw():
    return load_mnist(root=REAL_DIR, download=False, normalize=False)


@needs_real_data
def test_shapes_and_dtypes(mnist_normalized):
    (x_train, y_train), (x_test, y_test) = mnist_normalized
    assert x_train.shape == (60_000, 1, 28, 28) and x_train.dtype == np.float32
    assert x_test.shape == (10_000, 1, 28, 28) and x_test.dtype == np.float32
    assert y_train.shape == (60_000,) and y_train.dtype == np.int64
    assert y_test.shape == (10_000,) and y_test.dtype == np.int64


@needs_real_data
def test_label_counts(mnist_normalized):
    (_, y_train), (_, y_test) = mnist_normalized
    assert np.bincount(y_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(y_test, minlength=10).tolist() == TEST_COUNTS


@needs_real_data
def test_normalized_range(mnist_normalized):
    (x_train, _), (x_test, _) = mnist_normalized
    for x in (x_train, x_test):
        assert x.min() == 0.0 and x.max() == 1.0


@needs_real_data
def test_raw_is_uint8(mnist_raw, mnist_normalized):
    (x_train, y_train), (x_test, _) = mnist_raw
    assert x_train.dtype == np.uint8 and x_test.dtype == np.uint8
    assert x_train.shape == (60_000, 1, 28, 28)
    assert x_train.min() == 0 and x_train.max() == 255
    assert y_train.dtype == np.int64
    np.testing.assert_allclose(mnist_normalized[1][0], x_test / np.float32(255))


@needs_real_data
def test_normalize_needs_float_dtype():
    with pytest.raises(ValueError, match="floating dtype"):
        load_mnist(root=REAL_DIR, dtype=np.int32)


@needs_real_data
def test_found_through_cnnedu_data(monkeypatch):
    monkeypatch.setenv("CNNEDU_DATA", str(REAL_DIR.parent))
    assert mnist.search_folders()[0] == REAL_DIR
    assert mnist.find_mnist() == REAL_DIR


def test_search_order(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNEDU_DATA", str(tmp_path / "data"))
    assert mnist.search_folders(tmp_path / "root") == [
        tmp_path / "root", tmp_path / "data" / "mnist", tmp_path / "cache" / "cnnedu" / "mnist"]
    monkeypatch.delenv("CNNEDU_DATA")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert mnist.search_folders() == [tmp_path / "home" / ".cache" / "cnnedu" / "mnist"]


@needs_real_data
def test_verify_cli_ok():
    result = _cli("verify", "--root", str(REAL_DIR))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" OK ") == 4
    assert "All four MNIST files are OK." in result.stdout


@needs_real_data
def test_verify_cli_without_root_uses_cnnedu_data(tmp_path):
    env = dict(os.environ, CNNEDU_DATA=str(REAL_DIR.parent))
    result = _cli("verify", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert str(REAL_DIR) in result.stdout and "All four MNIST files are OK." in result.stdout


def test_verify_cli_reports_problems(tmp_path):
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(b"not mnist")
    result = _cli("verify", "--root", str(tmp_path))
    assert result.returncode != 0
    assert "PROBLEM  train-labels-idx1-ubyte.gz: size is 9 bytes, expected 28,881" in result.stdout
    assert "PROBLEM  train-images-idx3-ubyte.gz: missing" in result.stdout
    assert "All four" not in result.stdout
    assert f"Run `python -m cnnedu.datasets download --root {tmp_path}`" in result.stdout


def test_older_command_still_works(tmp_path):
    """`python -m cnnedu.datasets.mnist verify`, as in older notes, runs the same command."""
    result = _cli("verify", "--root", str(tmp_path), module="cnnedu.datasets.mnist")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.count("PROBLEM") == 4 and "missing" in result.stdout
    assert "Warning" not in result.stderr  # e.g. runpy's "found in sys.modules"


@needs_real_data
def test_download_cli_finds_files_already_there():
    env = dict(os.environ, CNNEDU_DATA=str(REAL_DIR.parent))
    result = _cli("download", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"already in {REAL_DIR}; nothing to download" in result.stdout


def test_cli_rejects_unknown_command():
    result = _cli("fetch")
    assert result.returncode == 2 and "invalid choice: 'fetch'" in result.stderr


def test_not_found_without_download(tmp_path):
    with pytest.raises(MNISTError) as info:
        load_mnist(root=tmp_path / "nowhere", download=False)
    message = str(info.value)
    assert "download=False" in message
    assert str(tmp_path / "nowhere") in message
    assert str(tmp_path / "cache" / "cnnedu" / "mnist") in message
    assert "CNNEDU_DATA" in message


# ---------------------------------------------------------------- download, local server

@pytest.fixture(scope="module")
def real_files():
    if REAL_DIR is None:
        pytest.skip("real MNIST files not found: set CNNEDU_DATA to the folder containing mnist/")
    return {name: (REAL_DIR / name).read_bytes() for name in FILES}


def _corrupt(data):
    return data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves /<mode>/<file name>; the mode says how to misbehave."""

    def do_GET(self):
        mode, _, name = self.path.strip("/").partition("/")
        self.server.requests.append(self.path)
        body = self.server.files.get(name)
        if mode == "missing" or body is None:
            self.send_error(404)
            return
        if mode == "slow":
            time.sleep(1.0)
        if mode == "corrupt":
            body = _corrupt(body)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "drop":  # promise the whole file, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            return
        if mode == "hold":  # send half, then wait until the test lets the rest go
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.server.held.set()
            self.server.release.wait(30)
            body = body[len(body) // 2:]
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that time out on purpose make the handler's writes fail


@pytest.fixture
def server(real_files):
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests = real_files, []
    httpd.held, httpd.release = threading.Event(), threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    httpd.url = lambda mode: f"http://127.0.0.1:{httpd.server_port}/{mode}/"
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()


def _names(folder):
    return sorted(path.name for path in Path(folder).iterdir())


def test_download_then_load(tmp_path, server):
    root = tmp_path / "root"
    (x_train, y_train), (x_test, y_test) = load_mnist(root=root, mirrors=[server.url("good")])
    assert x_train.shape == (60_000, 1, 28, 28) and x_test.shape == (10_000, 1, 28, 28)
    assert np.bincount(y_test, minlength=10).tolist() == TEST_COUNTS
    assert _names(root) == sorted(FILES)  # no temporary files left behind
    assert not any(mnist.verify_mnist(root).values())
    assert len(server.requests) == 4


def test_download_goes_to_cnnedu_data_then_user_cache(tmp_path, monkeypatch, server):
    monkeypatch.setenv("CNNEDU_DATA", str(tmp_path / "data"))
    assert mnist.download_mnist(mirrors=[server.url("good")]) == tmp_path / "data" / "mnist"
    assert _names(tmp_path / "data" / "mnist") == sorted(FILES)
    monkeypatch.delenv("CNNEDU_DATA")
    cache = tmp_path / "cache" / "cnnedu" / "mnist"
    assert mnist.download_mnist(mirrors=[server.url("good")]) == cache
    assert _names(cache) == sorted(FILES)


def test_file_appears_under_its_name_only_when_complete(tmp_path, server):
    """Mid-download there is only a hidden temporary file, so a crash (or a kill)
    at that moment cannot leave a partial file under the real name."""
    thread = threading.Thread(target=mnist.download_mnist, args=(tmp_path,),
                              kwargs=dict(mirrors=[server.url("hold")]), daemon=True)
    thread.start()
    assert server.held.wait(30), "the download never started"
    during = _names(tmp_path)
    server.release.set()
    thread.join(60)
    assert len(during) == 1 and during[0].startswith(".train-images-idx3-ubyte.gz.")
    assert during[0].endswith(".part")
    assert _names(tmp_path) == sorted(FILES)


def test_falls_back_to_next_mirror_after_404(tmp_path, server):
    folder = mnist.download_mnist(tmp_path, mirrors=[server.url("missing"), server.url("good")])
    assert _names(folder) == sorted(FILES)
    assert sum(path.startswith("/missing/") for path in server.requests) == 4


def test_falls_back_after_timeout(tmp_path, server):
    mnist.download_mnist(tmp_path, mirrors=[server.url("slow"), server.url("good")], timeout=0.2)
    assert _names(tmp_path) == sorted(FILES)
    assert sum(path.startswith("/good/") for path in server.requests) == 4  # slow gave up


def test_corrupt_download_is_rejected(tmp_path, server):
    with pytest.raises(MNISTError, match="SHA-256 of the download") as info:
        mnist.download_mnist(tmp_path, mirrors=[server.url("corrupt")])
    assert server.url("corrupt") in str(info.value)
    assert _names(tmp_path) == []  # neither the bad file nor a temporary file
    mnist.download_mnist(tmp_path, mirrors=[server.url("corrupt"), server.url("good")])
    assert _names(tmp_path) == sorted(FILES)


def test_corrupt_existing_file_is_moved_aside_and_downloaded_again(tmp_path, server, real_files):
    name = "train-labels-idx1-ubyte.gz"
    bad = _corrupt(real_files[name])
    (tmp_path / name).write_bytes(bad)
    with pytest.warns(UserWarning, match="was corrupt"):
        load_mnist(root=tmp_path, mirrors=[server.url("good")])
    aside = [path for path in tmp_path.iterdir() if path.name.startswith(f"{name}.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == bad  # kept, not deleted
    assert (tmp_path / name).read_bytes() == real_files[name]


def test_corrupt_file_that_cannot_be_moved(tmp_path, monkeypatch, real_files):
    name = "t10k-labels-idx1-ubyte.gz"
    (tmp_path / name).write_bytes(_corrupt(real_files[name]))

    def read_only_rename(src, dst):
        raise PermissionError(13, "Permission denied", str(src))

    monkeypatch.setattr(os, "rename", read_only_rename)
    with pytest.raises(MNISTError, match="is corrupt .* could not be moved aside") as info:
        load_mnist(root=tmp_path, mirrors=[])
    assert str(tmp_path / name) in str(info.value)
    assert (tmp_path / name).exists()


def test_dropped_connection_leaves_no_partial_file(tmp_path, server):
    with pytest.raises(MNISTError, match="connection closed after") as info:
        load_mnist(root=tmp_path, mirrors=[server.url("drop")])
    assert server.url("drop") + "train-images-idx3-ubyte.gz" in str(info.value)
    assert _names(tmp_path) == []
    load_mnist(root=tmp_path, mirrors=[server.url("good")])  # a second run succeeds
    assert _names(tmp_path) == sorted(FILES)


def test_offline_message_names_folders_mirrors_and_fixes(tmp_path):
    with socket.socket() as sock:  # a port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mirrors = [f"http://127.0.0.1:{port}/first/", f"http://127.0.0.1:{port}/second/"]
    with pytest.raises(MNISTError) as info:
        load_mnist(root=tmp_path / "root", mirrors=mirrors, timeout=2)
    message = str(info.value)
    assert str(tmp_path / "root") in message
    assert str(tmp_path / "cache" / "cnnedu" / "mnist") in message
    for mirror in mirrors:
        assert mirror + "train-images-idx3-ubyte.gz: <urlopen error" in message
    assert "CNNEDU_DATA" in message
    assert "python -m cnnedu.datasets download" in message
    assert _names(tmp_path / "root") == []


def test_mirror_constant():
    assert mnist.MIRRORS[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert mnist.MIRRORS[-1] == "http://yann.lecun.com/exdb/mnist/"


# ---------------------------------------------------------------- malformed IDX files

def _write_idx(path, header, data):
    raw = bytes(header) + bytes(data)
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def _idx_header(magic, dims):
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)


def test_read_idx_round_trip(tmp_path):
    values = np.arange(2 * 3 * 4, dtype=np.uint8)
    path = _write_idx(tmp_path / "ok-idx3.gz", _idx_header(2051, (2, 3, 4)), values)
    array = read_idx(path, magic=2051, shape=(2, 3, 4))
    assert array.dtype == np.uint8 and array.shape == (2, 3, 4)
    np.testing.assert_array_equal(array.ravel(), values)
    array[0, 0, 0] = 7  # the caller owns a writable array
    plain = _write_idx(tmp_path / "labels-idx1", _idx_header(2049, (3,)), [1, 2, 3])
    assert read_idx(plain, magic=2049).tolist() == [1, 2, 3]


def test_read_idx_wrong_magic(tmp_path):
    path = _write_idx(tmp_path / "labels.gz", _idx_header(2049, (3,)), [1, 2, 3])
    with pytest.raises(IDXError, match="wrong magic number 2049, expected 2051") as info:
        read_idx(path, magic=2051)
    assert str(path) in str(info.value)
    garbage = _write_idx(tmp_path / "garbage.gz", b"\x12\x34\x56\x78", [])
    with pytest.raises(IDXError, match="garbage.gz: not an IDX file"):
        read_idx(garbage)


def test_read_idx_wrong_length(tmp_path):
    short = _write_idx(tmp_path / "short.gz", _idx_header(2051, (2, 2, 2)), range(5))
    with pytest.raises(IDXError, match="short.gz: wrong length: 5 bytes of data, expected 8"):
        read_idx(short)
    long = _write_idx(tmp_path / "long.gz", _idx_header(2049, (2,)), range(3))
    with pytest.raises(IDXError, match="long.gz: wrong length: 3 bytes of data, expected 2"):
        read_idx(long)
    cut_header = _write_idx(tmp_path / "header.gz", _idx_header(2051, (2,))[:6], [])
    with pytest.raises(IDXError, match="header.gz: header ends early"):
        read_idx(cut_header)


def test_read_idx_wrong_dimensions(tmp_path):
    path = _write_idx(tmp_path / "images.gz", _idx_header(2051, (2, 28, 28)), bytes(2 * 784))
    with pytest.raises(IDXError, match=r"images.gz: wrong dimensions \(2, 28, 28\), "
                                         r"expected \(60000, 28, 28\)"):
        read_idx(path, magic=2051, shape=(60_000, 28, 28))


def test_read_idx_truncated_gzip(tmp_path):
    whole = gzip.compress(_idx_header(2051, (10, 28, 28)) + bytes(range(256)) * 30 + bytes(160))
    path = tmp_path / "truncated.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(IDXError, match="truncated.gz: the gzip data is truncated or corrupt"):
        read_idx(path)
    not_gzip = tmp_path / "not-gzip.gz"
    not_gzip.write_bytes(_idx_header(2049, (1,)) + b"\x01")
    with pytest.raises(IDXError, match="not-gzip.gz: the gzip data is truncated or corrupt"):
        read_idx(not_gzip)


@needs_real_data
def test_load_mnist_turns_a_malformed_file_into_mnist_error(tmp_path, monkeypatch, real_files):
    """A file that passes its checksum but cannot be read (changed since) is an MNISTError."""
    for name, data in real_files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08"))
    monkeypatch.setattr(mnist, "verify_mnist", lambda folder: dict.fromkeys(FILES))
    with pytest.raises(MNISTError, match="t10k-labels-idx1-ubyte.gz: too short") as info:
        load_mnist(root=tmp_path, download=False)
    assert "python -m cnnedu.datasets download" in str(info.value)


# ---------------------------------------------------------------- structure

def test_datasets_import_nothing_above_them():
    """Imports only go downward: the datasets use the standard library, NumPy,
    tqdm, matplotlib, each other and cnnedu._checks, never model or training code."""
    allowed = {"numpy", "tqdm", "matplotlib"} | set(sys.stdlib_module_names)
    folder = REPO_ROOT / "cnnedu" / "datasets"
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.ImportFrom):  # relative: inside datasets, or .._checks
                assert node.level == 1 or (node.level == 2 and node.module == "_checks"), (
                    f"{path.name} imports {'.' * node.level}{node.module or ''}")
                continue
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
