"""The autograder against submissions that cheat (or change their inputs in place).

Each attack is a notebook: the fixture solutions of tests/fixtures/grading with
one exercise's cell replaced by code that tries to pass without solving it, in
a way documented for autograders. All of them are graded in one run, with an
honest notebook, on the exercises they attack; each attacked exercise must
score 0, and every other exercise full marks (so an attack costs its author
only what it attacked). The learner process is also probed directly
(``LearnerProcess``) for what it can see and do.

Attacks that read files by absolute paths, import cnnedu from disk, or signal
the grader can only be stopped by the OS: they run where Linux offers Landlock
(see worker.py), and are skipped elsewhere.
"""

import importlib.util
import io
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from cnnedu.grading import EXERCISES
from cnnedu.grading.learner import REPLY_KINDS, encode_message, landlock_abi, read_message
from cnnedu.grading.worker import LearnerGone, LearnerProcess, extract

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "grading"
LANDLOCK = landlock_abi()
GRADED = ["softmax", "relu", "conv2d_forward", "conv2d_backward", "max_pool2d_forward",
          "accuracy", "confusion_matrix", "conv_param_count", "output_shape"]

spec = importlib.util.spec_from_file_location("grading_tests", ROOT / "tests" / "test_grading.py")
grading_tests = importlib.util.module_from_spec(spec)
spec.loader.exec_module(grading_tests)
fixtures, grade_cli = grading_tests.fixtures, grading_tests.grade_cli

# A helper the file-reading attacks share: the function `name` of a notebook found on disk.
STEAL = '''
def steal(path, name):
    """The function `name` defined in the notebook at path (not a stub), or None."""
    import json
    try:
        with open(path, encoding="utf-8") as f:
            cells = json.load(f)["cells"]
    except Exception:
        return None
    namespace = {"np": np}
    for cell in cells:
        source = "".join(cell.get("source", ""))
        if source.startswith("def ") and "NotImplementedError" not in source:
            try:
                exec(source, namespace)
            except Exception:
                pass
    return namespace.get(name)
'''

# name: (what it does, {exercise: the cell that replaces the solution}, exercises that must score 0)
ATTACKS = {
    "patches_numpy": ("returns its input after patching np.allclose, np.abs and friends", {
        "softmax": '''
def softmax(scores):
    import numpy
    import numpy.testing
    numpy.allclose = numpy.array_equal = numpy.array_equiv = lambda *a, **k: True
    numpy.isclose = lambda a, b, *args, **kwargs: numpy.ones(numpy.shape(a), bool)
    numpy.testing.assert_allclose = numpy.testing.assert_array_equal = lambda *a, **k: None
    numpy.abs = numpy.absolute = lambda x, *args, **kwargs: numpy.zeros(numpy.shape(x))
    return scores
'''}, ["softmax"]),
    "reference_from_sys_modules": ("runs the reference found through sys.modules", {
        "max_pool2d_forward": '''
def max_pool2d_forward(x, kernel_size=2, stride=None):
    import sys
    for module in list(sys.modules.values()):
        for value in list(vars(module).values()):
            namespace = getattr(value, "__globals__", None)
            reference = namespace.get("F") if isinstance(namespace, dict) else None
            if hasattr(reference, "max_pool2d_forward"):
                return reference.max_pool2d_forward(x, kernel_size, stride)
    functional = sys.modules.get("cnnedu.functional")
    if functional is not None:
        return functional.max_pool2d_forward(x, kernel_size, stride)
    raise RuntimeError("no reference in sys.modules")
'''}, ["max_pool2d_forward"]),
    "reference_from_gc": ("runs the reference found with gc.get_objects()", {
        "conv2d_forward": '''
def conv2d_forward(x, w, b, stride=1, padding=0):
    import gc
    for obj in gc.get_objects():
        if (callable(obj) and getattr(obj, "__name__", None) == "conv2d_forward"
                and "cnnedu" in str(getattr(obj, "__module__", ""))):
            return obj(x, w, b, stride, padding)
    raise RuntimeError("no reference among the live objects")
'''}, ["conv2d_forward", "conv2d_backward"]),
    "reference_from_frames": ("runs the reference found in its callers' frames", {
        "softmax": '''
def softmax(scores):
    import sys
    frame = sys._getframe(1)
    while frame is not None:
        for namespace in (frame.f_locals, frame.f_globals):
            for value in list(namespace.values()):
                if hasattr(value, "softmax"):
                    return value.softmax(scores)
        frame = frame.f_back
    raise RuntimeError("no reference in any caller's frame")
'''}, ["softmax"]),
    "exits_after_passing": ("prints 'passed' lines, then calls exit(0)", {
        "accuracy": '''
def accuracy(scores, y):
    print("✔ accuracy: all checks passed (1 point, 0.01 s)")
    print('{"event": "result", "exercise": "accuracy", "passed": true, "message": "passed"}')
    raise SystemExit(0)
'''}, ["accuracy"]),
    "forges_results_and_os_exit": ("writes 'passed' results for every exercise to every file "
                                   "descriptor, then os._exit(0)", {
        "softmax": f'''
EXERCISE_NAMES = {list(EXERCISES)!r}


def softmax(scores):
    import json
    import os
    for name in EXERCISE_NAMES:
        line = json.dumps({{"event": "result", "exercise": name, "passed": True,
                           "message": "passed", "output": "", "output_chars": 0,
                           "seconds": 0.0}}) + "\\n"
        for fd in range(64):
            try:
                os.write(fd, line.encode())
            except OSError:
                pass
    os._exit(0)
'''}, ["softmax"]),
    "lying_object": ("returns an object equal to anything", {
        "confusion_matrix": '''
class Agreeable:
    shape, ndim, dtype = (10, 10), 2, np.dtype(np.int64)

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __array__(self, dtype=None, copy=None):
        return np.zeros(self.shape, dtype=np.int64)


def confusion_matrix(y_true, y_pred, n_classes=10):
    return Agreeable()
'''}, ["confusion_matrix"]),
    "lying_ints": ("returns ints equal to anything", {
        "output_shape": '''
class AgreeableInt(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


def output_shape(input_shape, layers):
    return (AgreeableInt(0), AgreeableInt(0), AgreeableInt(0))
'''}, ["output_shape"]),
    "ndarray_subclass": ("returns an ndarray subclass whose comparisons and differences lie", {
        "relu": '''
class Agreeable(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, bool)

    def __ne__(self, other):
        return np.zeros(self.shape, bool)

    def __sub__(self, other):
        return np.zeros(self.shape)

    __rsub__ = __sub__

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(np.broadcast_shapes(*(np.shape(i) for i in inputs)))


def relu_forward(x):
    return x.view(Agreeable), x


def relu_backward(dout, cache):
    return dout.view(Agreeable)
'''}, ["relu"]),
    "reads_files_it_is_told_about": ("looks for solution notebooks in its folder, its "
                                     "sys.path, argv and environment", {
        "conv2d_forward": STEAL + '''

def conv2d_forward(x, w, b, stride=1, padding=0):
    import glob
    import os
    import sys
    places = [os.getcwd(), *sys.path, *sys.argv, *os.environ.values()]
    for place in places:
        for pattern in ("*.ipynb", "*/*.ipynb", "*/*/*.ipynb", "*/*/*/*.ipynb", "../*.ipynb",
                        "../book/*.ipynb"):
            for path in glob.glob(os.path.join(str(place), pattern)):
                stolen = steal(path, "conv2d_forward")
                if stolen is not None:
                    return stolen(x, w, b, stride, padding)
    raise RuntimeError("no solution found")
'''}, ["conv2d_forward", "conv2d_backward"]),
    "changes_its_input": ("the in-place ReLU of a source report", {
        "relu": '''
def relu_forward(x):
    out = x
    out[out < 0] = 0
    return out, x


def relu_backward(dout, cache):
    return dout * (cache > 0)
'''}, ["relu"]),
    "overwrites_its_cache": ("a ReLU derivative that overwrites its cache with a 0/1 mask", {
        "relu": '''
def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    x = cache
    x[x > 0] = 1
    x[x <= 0] = 0
    return dout * x
'''}, ["relu"]),
}

# Stopped only by an OS sandbox: the learner process finds the files by itself.
SANDBOXED_ATTACKS = {
    "reads_files_anywhere": ("reads solution notebooks by absolute path and through the "
                             "grader's /proc entries", {
        "conv2d_forward": STEAL + '''

def conv2d_forward(x, w, b, stride=1, padding=0):
    import glob
    import os
    paths = list(SOLUTION_FILES)
    for pid in (os.getppid(), os.getpgid(0)):
        paths += glob.glob(f"/proc/{pid}/cwd/tests/fixtures/grading/*.ipynb")
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                for arg in f.read().decode().split("\\0"):
                    paths += glob.glob(os.path.join(arg, "*.ipynb"))
        except OSError:
            pass
    for path in paths:
        stolen = steal(path, "conv2d_forward")
        if stolen is not None:
            return stolen(x, w, b, stride, padding)
    raise RuntimeError("no solution found")
'''}, ["conv2d_forward", "conv2d_backward"]),
    "imports_cnnedu_from_disk": ("puts site-packages back on its path, lifts the import block "
                                 "and imports the course's reference", {
        "max_pool2d_forward": '''
def max_pool2d_forward(x, kernel_size=2, stride=None):
    import importlib
    import os
    import sys
    sys.meta_path[:] = [f for f in sys.meta_path if "Block" not in type(f).__name__]
    site = os.path.dirname(os.path.dirname(np.__file__))
    sys.path.append(site)
    for name in os.listdir(site):
        if name.startswith("__editable__") and name.endswith("_finder.py"):
            importlib.import_module(name[:-3]).install()
    import cnnedu.functional
    return cnnedu.functional.max_pool2d_forward(x, kernel_size, stride)
'''}, ["max_pool2d_forward"]),
    "signals_the_grader": ("kills the grader's process", {
        "accuracy": '''
def accuracy(scores, y):
    import os
    import signal
    os.kill(os.getppid(), signal.SIGKILL)
    return 1.0
'''}, ["accuracy"]),
}
NEEDS = {"signals_the_grader": 6}  # the Landlock version an attack needs (default 1)
ACTIVE = {**ATTACKS, **{name: attack for name, attack in SANDBOXED_ATTACKS.items()
                        if LANDLOCK >= NEEDS.get(name, 1)}}


def attack_notebook(replacements):
    """The fixture solutions as a notebook, with some exercises' cells replaced."""
    sources = {name: textwrap.dedent(code).strip("\n") for name, code in fixtures.SOLUTIONS.items()}
    sources.update({name: code.strip("\n") for name, code in replacements.items()})
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": source} for source in ["import numpy as np", *sources.values()]]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}


@pytest.fixture(scope="module")
def graded_attacks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("attacks")
    honest = folder / "honest.ipynb"
    honest.write_text(json.dumps(attack_notebook({})))
    constant = f"SOLUTION_FILES = {[str(FIXTURES / 'solutions.ipynb'), str(honest)]!r}\n\n"
    for name, (_, replacements, _) in ACTIVE.items():
        if name == "reads_files_anywhere":
            replacements = {k: constant + v for k, v in replacements.items()}
        (folder / f"{name}.ipynb").write_text(json.dumps(attack_notebook(replacements)))
    rows, feedback, _, _ = grade_cli(folder, tmp_path_factory.mktemp("grades"), "--jobs", "2",
                                     "--timeout", "5", "--exercises", ",".join(GRADED))
    return rows, feedback


def test_the_honest_notebook_gets_full_marks(graded_attacks):
    rows, _ = graded_attacks
    assert rows["honest"]["total"] == str(sum(EXERCISES[n].points for n in GRADED))


@pytest.mark.parametrize("attack", [*ATTACKS, *SANDBOXED_ATTACKS])
def test_an_attack_scores_zero(graded_attacks, attack):
    """The attacked exercises score 0; the attack costs nothing else."""
    if attack not in ACTIVE:
        pytest.skip(f"needs Landlock {NEEDS.get(attack, 1)}; this kernel offers {LANDLOCK}")
    rows, feedback = graded_attacks
    zero = ACTIVE[attack][2]
    got = {name: rows[attack][name] for name in GRADED}
    assert got == {name: "0" if name in zero else str(EXERCISES[name].points)
                   for name in GRADED}, (feedback / f"{attack}.md").read_text(encoding="utf-8")


def test_attacks_get_plain_feedback(graded_attacks):
    _, feedback = graded_attacks
    read = lambda name: (feedback / f"{name}.md").read_text(encoding="utf-8")
    assert "softmax(scores): relative error" in read("patches_numpy")
    assert "raised RuntimeError: no reference in sys.modules" in read("reference_from_sys_modules")
    assert "accuracy called exit()" in read("exits_after_passing")
    assert "the process running your code sent something that is not a reply" in read(
        "forges_results_and_os_exit")
    assert "the confusion matrix is a Agreeable, expected a NumPy array" in read("lying_object")
    assert "changed its input `x` in place" in read("changes_its_input")
    assert "changed its input `cache` in place" in read("overwrites_its_cache")


# ----------------------------------------------------------------------------
# The learner process, probed directly
# ----------------------------------------------------------------------------

def learner_process(source, timeout=20):
    pieces, notes = extract([(1, textwrap.dedent(source))], "")
    assert not notes
    process = LearnerProcess([pieces], timeout=timeout, memory_mb=1024, cpu_seconds=60)
    process.begin_exercise(20)
    return process


def call(process, name, *args):
    value, hint = process.call(0, name, args, {}, "", ())
    assert hint is None, hint
    return value


def test_the_learner_process_cannot_see_the_course():
    process = learner_process('''
        def probe():
            import importlib.util, os, sys
            try:
                import cnnedu
                blocked = ""
            except ImportError as exc:
                blocked = str(exc)
            sys.meta_path[:] = [f for f in sys.meta_path if "Block" not in type(f).__name__]
            return {"cwd": os.getcwd(), "files": os.listdir("."), "environ": dict(os.environ),
                    "path": sys.path, "argv": sys.argv, "blocked": blocked,
                    "modules": [m for m in sys.modules if m.startswith("cnnedu")],
                    "spec": importlib.util.find_spec("cnnedu") is None}
        ''')
    try:
        seen = call(process, "probe")
    finally:
        process.stop()
    assert seen["files"] == [] and not seen["cwd"].startswith(str(ROOT))
    assert set(seen["environ"]) <= {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                    "TMPDIR", "LC_CTYPE"}
    shown = json.dumps([seen["path"], seen["argv"], seen["environ"]])
    assert str(ROOT) not in shown and "site-packages" not in shown
    assert seen["blocked"] == "importing cnnedu is not allowed in graded exercises"
    assert seen["modules"] == [] and seen["spec"] is True  # not on its path at all


@pytest.mark.skipif(LANDLOCK < 1, reason="needs Landlock (Linux 5.13+)")
def test_with_landlock_the_learner_process_reads_no_course_file_and_reaches_nothing():
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    targets = [ROOT / "cnnedu" / "functional.py", FIXTURES / "solutions.ipynb",
               ROOT / "book" / "instructors.md", Path(np.__file__).parent.parent, Path.home(),
               "/tmp", f"/proc/{os.getpid()}/cmdline", f"/proc/{os.getpid()}/mem"]
    process = learner_process(f'''
        def probe():
            import os, signal, socket, tempfile
            opened = []
            for path in {[str(t) for t in targets]!r}:
                try:
                    os.listdir(path) if os.path.isdir(path) else open(path, "rb").close()
                    opened.append(path)
                except OSError:
                    pass
            try:
                os.kill(os.getppid(), 0)  # signal 0: only asks whether it could
                opened.append("signal")
            except OSError:
                pass
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
                opened.append("network")
            except OSError:
                pass
            with tempfile.TemporaryFile() as f:  # its own folder stays usable
                f.write(b"ok")
            import ctypes, math, numpy.testing
            return opened, float(np.linalg.inv(np.eye(2) * 2)[0, 0]), math.pi
        ''')
    try:
        opened, inverse, pi = call(process, "probe")
        assert process.sandbox == LANDLOCK
    finally:
        process.stop()
        listening.close()
    expected = ({"signal"} if LANDLOCK < 6 else set()) | ({"network"} if LANDLOCK < 4 else set())
    assert set(opened) == expected and inverse == 0.5 and pi > 3


def test_caches_and_objects_stay_in_the_learner_process():
    """What the grader cannot receive comes back as a stand-in, and returns as the same object."""
    process = learner_process('''
        class Cache:
            def __init__(self, x):
                self.x = x

        def forward(x):
            return x * 2, (Cache(x), [x])

        def backward(cache):
            return cache[0].x.sum() + cache[1][0].sum(), type(cache[0]).__name__

        def same(a, b):
            return a is b
        ''')
    try:
        x = np.arange(3.0)
        out, cache = call(process, "forward", x)
        assert type(out) is np.ndarray and out.tolist() == [0.0, 2.0, 4.0]
        assert type(cache[0]).__name__ == "Cache" and type(cache[1][0]) is np.ndarray
        assert call(process, "backward", cache) == (6.0, "Cache")
        assert call(process, "same", cache[1], cache[1]) is True
    finally:
        process.stop()


def test_replies_hold_only_plain_data():
    """A reply cannot carry a pickle, a function of the grader's, or an oversized part."""
    def reader(data):
        stream = io.BytesIO(data)

        def read(n):
            chunk = stream.read(n)
            if len(chunk) != n:
                raise EOFError
            return chunk
        return read

    def message(value, *arrays):
        parts = [json.dumps({"value": value, "arrays": len(arrays)}).encode(), *arrays]
        return b"".join(len(part).to_bytes(8, "little") + part for part in parts)

    pickled = io.BytesIO()
    np.save(pickled, np.array([print, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle"):
        read_message(reader(message({"t": "array", "v": 0}, pickled.getvalue())), REPLY_KINDS)
    for kind in ("formula", "rng", "ref"):
        with pytest.raises(ValueError, match="unexpected"):
            read_message(reader(message({"t": kind, "v": 0})), REPLY_KINDS)
    with pytest.raises(ValueError, match="at most"):
        read_message(reader((2**40).to_bytes(8, "little")), REPLY_KINDS)
    plain = read_message(reader(encode_message((np.arange(3), {"a": [1.5, "b"]}))), REPLY_KINDS)
    assert plain[0].tolist() == [0, 1, 2] and plain[1] == {"a": [1.5, "b"]}


def test_a_learner_process_that_hangs_is_killed_with_its_group(monkeypatch):
    monkeypatch.setattr("cnnedu.grading.worker.STARTUP_SECONDS", 0)
    source = ("import signal\nimport os\n"
              "class Slow:\n"
              "    signal.signal(signal.SIGALRM, signal.SIG_IGN)  # the learner's own alarm\n"
              "    os.fork()  # and a child, which must go too\n"
              "    while True:\n"
              "        pass\n")
    pieces, _ = extract([(1, source)], "")
    started = []
    popen = subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(popen(*a, **k))
                        or started[-1])
    start = time.monotonic()
    with pytest.raises(LearnerGone) as gone:
        LearnerProcess([pieces], timeout=2, memory_mb=1024, cpu_seconds=60)
    assert gone.value.kind == "timeout" and time.monotonic() - start < 10
    for _ in range(50):  # the forked child is killed too (init reaps it soon after)
        try:
            os.killpg(started[0].pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("a process of the learner's group survived")


def test_the_learner_module_imports_only_numpy_and_the_standard_library():
    source = (ROOT / "cnnedu" / "grading" / "learner.py").read_text(encoding="utf-8")
    imported = {line.split()[1].split(".")[0] for line in source.splitlines()
                if line.startswith(("import ", "from "))}
    assert imported - set(sys.stdlib_module_names) == {"numpy"}
