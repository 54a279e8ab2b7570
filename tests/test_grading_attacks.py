"""The autograder against submissions that cheat (or change their inputs in place).

Each attack is a learner's submission: the book's solutions, one notebook per
chapter (tests/fixtures/grading/make_fixtures.py, ``submission``), with one
exercise's solution cell replaced by code that tries to pass without solving
it, in a way documented for autograders. All of them are graded in one run,
with an honest submission, on the exercises of the chapters they attack
(``GRADED``). Each attacked exercise must score 0 and every other exercise
full marks, except those of the same chapter that use the replaced functions
(``spared``: they may pass or fail), so an attack costs its author only what it
attacked; its feedback must say what stopped it, which shows that the attack
ran as designed rather than failing for a reason of its own. Where a defence
can be switched off (``CONTROLS``), the same attack is also graded without it,
and must then pass: the attack is real, and the test of it can fail. The
others (exiting, forged results, objects that lie) meet no switch but what the
grader is: a score comes only from the checks' own comparisons of plain data
received from the learner process. The learner process is also probed
directly (``LearnerProcess``) for what it can see and do.

Attacks that read files by absolute paths, import cnnedu from disk, or signal
the grader can only be stopped by the OS: they run where Linux offers Landlock
(see sandbox.py), and are skipped elsewhere.
"""

import ast
import importlib.util
import io
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from cnnedu.grading import EXERCISES
from cnnedu.grading.sandbox import REPLY_KINDS, encode_message, landlock_abi, read_message
from cnnedu.grading.worker import LearnerGone, LearnerProcess, extract

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "grading"
LANDLOCK = landlock_abi()

spec = importlib.util.spec_from_file_location("grading_tests", ROOT / "tests" / "test_grading.py")
grading_tests = importlib.util.module_from_spec(spec)
spec.loader.exec_module(grading_tests)
fixtures, grade_cli = grading_tests.fixtures, grading_tests.grade_cli


def target(name):
    """An exercise that attacks replace: it must exist (the course renames exercises)."""
    assert name in EXERCISES, (f"test_grading_attacks: exercise {name!r} no longer exists; "
                               f"pick another among {', '.join(EXERCISES)}")
    return name


def cell_functions(exercise):
    """The functions that ``exercise``'s solution cell defines in a fixture notebook (those of
    its functions that no earlier exercise of its chapter defines)."""
    _, _, cells = fixtures.chapter_layout(EXERCISES[exercise].chapter)
    source = dict(cells)[exercise]
    return [node.name for node in ast.parse(source).body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))]


def generic(exercise, body):
    """A replacement cell defining each of ``exercise``'s functions as ``body`` (indented code,
    ``{exercise}`` and ``{points}`` filled in), whatever their arguments."""
    body = textwrap.indent(textwrap.dedent(body).strip("\n").format(
        exercise=exercise, points=EXERCISES[exercise].points), "    ")
    return "\n\n\n".join(f"def {name}(*args, **kwargs):\n{body}"
                         for name in cell_functions(exercise))


LOSS, SOFTMAX_BACKWARD, RELU, CONV, POOL, METRICS, COUNT, SHAPE = map(target, [
    "softmax_cross_entropy", "softmax_backward", "relu", "conv2d_backward",
    "max_pool2d_backward", "recall_precision", "conv_param_count", "output_shape"])

# What the file-reading attacks share: `steal`, the function `name` of a notebook found on disk,
# and a conv2d_forward and conv2d_backward that use the first stolen ones that work. Each attack
# adds `stolen_functions(name)`, which yields what it steals from the notebooks it finds.
STEAL = '''
def steal(path, name):
    """The function `name` that the notebook at path defines, or None."""
    import ast
    import json
    try:
        with open(path, encoding="utf-8") as f:
            cells = json.load(f)["cells"]
    except Exception:
        return None
    namespace = {"np": np}
    for cell in cells:
        source = "".join(cell.get("source", ""))
        if cell.get("cell_type") != "code" or "def steal(" in source:  # not an attack's
            continue
        try:
            body = ast.parse(source).body
        except SyntaxError:
            continue
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
                try:
                    exec(compile(ast.Module([node], []), path, "exec"), namespace)
                except Exception:
                    pass
    return namespace.get(name)


def conv2d_forward(x, w, b, stride=1, padding=0):
    for stolen in stolen_functions("conv2d_forward"):
        try:
            return stolen(x, w, b, stride, padding)
        except Exception:
            pass
    raise RuntimeError("no solution found")


def conv2d_backward(dout, cache):
    for stolen in stolen_functions("conv2d_backward"):
        try:
            return stolen(dout, cache)
        except Exception:
            pass
    raise RuntimeError("no solution found")
'''

# name: (what it does, {exercise: the cell that replaces its solution}, what its feedback says)
# The attacked exercises must score 0.
ATTACKS = {
    "patches_numpy": ("returns a wrong answer after patching np.allclose, np.abs and friends", {
        LOSS: '''
def softmax_cross_entropy(scores, y):
    import numpy
    import numpy.testing
    numpy.allclose = numpy.array_equal = numpy.array_equiv = lambda *a, **k: True
    numpy.isclose = lambda a, b, *args, **kwargs: numpy.ones(numpy.shape(a), bool)
    numpy.testing.assert_allclose = numpy.testing.assert_array_equal = lambda *a, **k: None
    numpy.abs = numpy.absolute = lambda x, *args, **kwargs: numpy.zeros(numpy.shape(x))
    return 0.0, scores
'''}, "loss: relative error"),
    "reference_from_sys_modules": ("runs the reference found through sys.modules", {
        POOL: '''
def find_reference(name):
    import sys
    for module in list(sys.modules.values()):
        try:
            values = list(vars(module).values())
        except TypeError:
            continue
        for value in values:
            namespace = getattr(value, "__globals__", None)
            reference = namespace.get("F") if isinstance(namespace, dict) else None
            if hasattr(reference, name):
                return getattr(reference, name)
    functional = sys.modules.get("cnnedu.functional")
    if functional is not None:
        return getattr(functional, name)
    raise RuntimeError("no reference in sys.modules")


def max_pool2d_forward(x, kernel_size=2, stride=None):
    return find_reference("max_pool2d_forward")(x, kernel_size, stride)


def max_pool2d_backward(dout, cache):
    return find_reference("max_pool2d_backward")(dout, cache)
'''}, "raised RuntimeError: no reference in sys.modules"),
    "reference_from_gc": ("runs the reference found with gc.get_objects()", {
        CONV: '''
def live_reference(name):
    import gc
    for obj in gc.get_objects():
        if (callable(obj) and getattr(obj, "__name__", None) == name
                and (getattr(obj, "__module__", None) or "").startswith("cnnedu.functional")):
            return obj
    raise RuntimeError("no reference among the live objects")


def conv2d_forward(x, w, b, stride=1, padding=0):
    return live_reference("conv2d_forward")(x, w, b, stride, padding)


def conv2d_backward(dout, cache):
    return live_reference("conv2d_backward")(dout, cache)
'''}, "raised RuntimeError: no reference among the live objects"),
    "reference_from_frames": ("runs the reference found in its callers' frames", {
        LOSS: '''
def softmax_cross_entropy(scores, y):
    import sys
    frame = sys._getframe(1)
    while frame is not None:
        for namespace in (frame.f_locals, frame.f_globals):
            for value in list(namespace.values()):
                if hasattr(value, "softmax_cross_entropy"):
                    return value.softmax_cross_entropy(scores, y)
        frame = frame.f_back
    raise RuntimeError("no reference in any caller's frame")
'''}, "raised RuntimeError: no reference in any caller's frame"),
    "exits_after_passing": ("prints 'passed' lines, then calls exit(0)", {
        COUNT: generic(COUNT, '''
print("✔ {exercise}: all checks passed ({points} point(s), 0.01 s)")
print('{{"event": "result", "exercise": "{exercise}", "passed": true, "message": "passed"}}')
raise SystemExit(0)
''')}, f"{EXERCISES[COUNT].functions[0]} called exit()"),
    "forges_results_and_os_exit": ("writes 'passed' results for every exercise to every file "
                                   "descriptor, then os._exit(0)", {
        SOFTMAX_BACKWARD: f"EXERCISE_NAMES = {list(EXERCISES)!r}\n\n\n" + generic(
            SOFTMAX_BACKWARD, '''
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
''')}, "the process running your code sent something that is not a reply"),
    "lying_object": ("returns objects equal to anything", {
        METRICS: '''
class Agreeable:
    shape, ndim, dtype = (10,), 1, np.dtype(np.float64)

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __array__(self, dtype=None, copy=None):
        return np.zeros(self.shape)


def recall_precision(cm):
    return Agreeable(), Agreeable()
'''}, "recall is a Agreeable, expected a NumPy array"),
    "lying_ints": ("returns ints equal to anything", {
        SHAPE: '''
class AgreeableInt(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


def output_shape(input_shape, layers):
    return (AgreeableInt(0), AgreeableInt(0), AgreeableInt(0))
'''}, "returned (0, 0, 0): the channel count is wrong"),
    "ndarray_subclass": ("returns an ndarray subclass whose comparisons and differences lie", {
        RELU: '''
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
'''}, "out: relative error"),
    "reads_files_it_is_told_about": ("looks for solution notebooks in its folder, its "
                                     "sys.path, argv and environment", {
        CONV: STEAL + '''

def stolen_functions(name):
    import glob
    import os
    import sys
    places = [os.getcwd(), *sys.path, *sys.argv, *os.environ.values()]
    for place in places:
        for pattern in ("*.ipynb", "*/*.ipynb", "*/*/*.ipynb", "*/*/*/*.ipynb", "../book/*.ipynb"):
            for path in glob.glob(os.path.join(str(place), pattern)):
                stolen = steal(path, name)
                if stolen is not None:
                    yield stolen
'''}, "raised RuntimeError: no solution found"),
    "changes_its_input": ("the in-place ReLU of a source report", {
        RELU: '''
def relu_forward(x):
    out = x
    out[out < 0] = 0
    return out, x


def relu_backward(dout, cache):
    return dout * (cache > 0)
'''}, "changed its input `x` in place"),
    "overwrites_its_cache": ("a ReLU derivative that overwrites its cache with a 0/1 mask", {
        RELU: '''
def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    x = cache
    x[x > 0] = 1
    x[x <= 0] = 0
    return dout * x
'''}, "changed its input `cache` in place"),
}

# Stopped only by an OS sandbox: the learner process finds the files by itself.
SANDBOXED_ATTACKS = {
    "reads_files_anywhere": ("reads solution notebooks by absolute path and through the "
                             "grader's /proc entries", {
        CONV: STEAL + '''

def stolen_functions(name):
    import glob
    import os
    paths = list(SOLUTION_FILES)
    for pid in (os.getppid(), os.getpgid(0)):
        paths += glob.glob(f"/proc/{pid}/cwd/tests/fixtures/grading/*/*.ipynb")
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                for arg in f.read().decode().split("\\0"):
                    paths += glob.glob(os.path.join(arg, "*/*.ipynb"))
        except OSError:
            pass
    for path in paths:
        stolen = steal(path, name)
        if stolen is not None:
            yield stolen
'''}, "raised RuntimeError: no solution found"),
    "imports_cnnedu_from_disk": ("puts site-packages back on its path, lifts the import block "
                                 "and imports the course's reference", {
        POOL: '''
def course_functional():
    import importlib
    import os
    import sys
    if "cnnedu.functional" in sys.modules:
        return sys.modules["cnnedu.functional"]
    sys.meta_path[:] = [f for f in sys.meta_path if "Block" not in type(f).__name__]
    site = os.path.dirname(os.path.dirname(np.__file__))
    sys.path.append(site)
    for name in os.listdir(site):
        if name.startswith("__editable__") and name.endswith("_finder.py"):
            importlib.import_module(name[:-3]).install()
    import cnnedu.functional
    return cnnedu.functional


def max_pool2d_forward(x, kernel_size=2, stride=None):
    return course_functional().max_pool2d_forward(x, kernel_size, stride)


def max_pool2d_backward(dout, cache):
    return course_functional().max_pool2d_backward(dout, cache)
'''}, "raised PermissionError: [Errno 13] Permission denied"),
    "signals_the_grader": ("kills the grader's process", {
        COUNT: generic(COUNT, '''
import os
import signal
os.kill(os.getppid(), signal.SIGKILL)
return 1
''')}, "raised PermissionError: [Errno 1] Operation not permitted"),
}
NEEDS = {"signals_the_grader": 6}  # the Landlock version an attack needs (default 1)
ALL_ATTACKS = {**ATTACKS, **SANDBOXED_ATTACKS}
ACTIVE = {**ATTACKS, **{name: attack for name, attack in SANDBOXED_ATTACKS.items()
                        if LANDLOCK >= NEEDS.get(name, 1)}}
# Every exercise of the chapters attacked: the others of a chapter show what an attack spares.
CHAPTERS = sorted({EXERCISES[name].chapter for _, cells, _ in ALL_ATTACKS.values()
                   for name in cells})
GRADED = [name for name, ex in EXERCISES.items() if ex.chapter in CHAPTERS]

# attack: the defence that its control run switches off (see CONTROL); with it off, the
# attacked exercise must pass (signals_the_grader: the grader must be killed).
CONTROLS = {
    "patches_numpy": "process",           # the checks run in the learner's process, as
    "reference_from_sys_modules": "process",  # check() does in a notebook
    "reference_from_gc": "process",
    "reference_from_frames": "process",
    "reads_files_it_is_told_about": "folder",  # the learner process runs among notebooks
    "changes_its_input": "inplace",       # learner.call does not compare inputs after a call
    "overwrites_its_cache": "inplace",
    "reads_files_anywhere": "landlock",   # the learner process runs without Landlock
    "imports_cnnedu_from_disk": "landlock",
    "signals_the_grader": "landlock",
}

# Run as `python -c CONTROL JOB`: grades one exercise of one notebook with a defence switched off.
CONTROL = r'''
import json, shutil, sys, tempfile
from cnnedu.exercises import EXERCISES, run_check
from cnnedu.grading import grade, learner, worker

job = json.loads(sys.argv[1])
exercise, notebooks = job["exercise"], job["notebooks"]


def switch_off(old, new):
    if worker.RUNNER.count(old) != 1:
        sys.exit(f"the control cannot switch off {job['defence']}: RUNNER changed ({old!r})")
    worker.RUNNER = worker.RUNNER.replace(old, new)


if job["defence"] == "process":
    pieces, _ = worker.extract(worker.read_code_cells(notebooks[0]), "")
    namespace, _ = learner.load(pieces)
    passed, message = run_check(exercise, [namespace[f] for f in EXERCISES[exercise].functions])
else:
    if job["defence"] == "landlock":
        switch_off("sandbox = _sandbox([os.getcwd()])", "sandbox = 0")
    elif job["defence"] == "inplace":
        main = 'if __name__ == "__main__":\n    serve()'
        switch_off(main, "_snapshot = lambda value, depth=0: 0\n\n" + main)
    elif job["defence"] == "folder":
        make_folder = tempfile.mkdtemp

        def seeded(*args, **kwargs):
            folder = make_folder(*args, **kwargs)
            for path in job["seeds"]:
                shutil.copy(path, folder)
            return folder
        tempfile.mkdtemp = seeded
    results, _ = grade.grade_submission(notebooks, [exercise], timeout=10)
    passed, message = results[exercise]["passed"], results[exercise]["message"]
with open(job["out"], "w") as f:
    json.dump([passed, message], f)
'''


def chapter_file(exercise):
    """The file name of the notebook that poses ``exercise`` (as the book's)."""
    return fixtures.chapter_notebook(EXERCISES[exercise].chapter).name


def write_submission(folder, replacements=None, held=None):
    """A submission folder: the fixture solutions, one notebook per chapter (every chapter, or
    those in ``held``), with the solution cells of ``replacements`` replaced."""
    folder.mkdir(parents=True)
    for name, nb in fixtures.submission(replacements or {}, held).items():
        (folder / name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    return folder


def replacements_of(attack, honest):
    """The attack's cells; reads_files_anywhere is told where solution notebooks are (the
    fixtures' and those of the honest submission in ``honest``)."""
    cells = {name: textwrap.dedent(code).strip("\n")
             for name, code in ALL_ATTACKS[attack][1].items()}
    if attack == "reads_files_anywhere":
        files = [str(folder / chapter_file(CONV)) for folder in (FIXTURES / "solutions", honest)]
        cells = {name: f"SOLUTION_FILES = {files!r}\n\n\n{code}" for name, code in cells.items()}
    return cells


def spared(attack):
    """The exercises that use a function the attack replaced, besides those it attacks: their
    scores are not asserted (an in-place ReLU, say, does no harm inside the two-layer net)."""
    users = set()
    for exercise in ALL_ATTACKS[attack][1]:
        for function in cell_functions(exercise):
            users.update(fixtures.users(EXERCISES[exercise].chapter, function))
    return users - set(ALL_ATTACKS[attack][1])


@pytest.fixture(scope="module")
def graded_attacks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("attacks")
    honest = write_submission(folder / "honest")
    for name in ACTIVE:
        write_submission(folder / name, replacements_of(name, honest))
    rows, feedback, _, _ = grade_cli(folder, tmp_path_factory.mktemp("grades"), "--jobs", "2",
                                     "--timeout", "5", "--exercises", ",".join(GRADED))
    return rows, feedback


@pytest.mark.parametrize("attack", list(ALL_ATTACKS))
def test_an_attack_replaces_whole_solution_cells(attack):
    """Each replacement defines every function its cell defined (else the chapter's other
    exercises would lose theirs), and exercises of the attacked chapters are graded."""
    for exercise, code in replacements_of(attack, FIXTURES / "solutions").items():
        defined = {node.name for node in ast.parse(code).body
                   if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        assert set(cell_functions(exercise)) <= defined, exercise
        assert exercise in GRADED
    assert set(CONTROLS) <= set(ALL_ATTACKS)


def test_the_honest_submission_gets_full_marks(graded_attacks):
    rows, feedback = graded_attacks
    assert {name: rows["honest"][name] for name in GRADED} == {
        name: str(EXERCISES[name].points) for name in GRADED}, (
        feedback / "honest.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("attack", list(ALL_ATTACKS))
def test_an_attack_scores_zero(graded_attacks, attack):
    """The attacked exercises score 0; the attack costs nothing else (``spared`` aside)."""
    if attack not in ACTIVE:
        pytest.skip(f"needs Landlock {NEEDS.get(attack, 1)}; this kernel offers {LANDLOCK}")
    rows, feedback = graded_attacks
    zero, asserted = ACTIVE[attack][1], [name for name in GRADED if name not in spared(attack)]
    got = {name: rows[attack][name] for name in asserted}
    assert got == {name: "0" if name in zero else str(EXERCISES[name].points)
                   for name in asserted}, (feedback / f"{attack}.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("attack", list(ALL_ATTACKS))
def test_an_attack_gets_plain_feedback(graded_attacks, attack):
    """The feedback says what stopped the attack: it ran as designed, and failed for that."""
    if attack not in ACTIVE:
        pytest.skip(f"needs Landlock {NEEDS.get(attack, 1)}; this kernel offers {LANDLOCK}")
    _, feedback = graded_attacks
    text = (feedback / f"{attack}.md").read_text(encoding="utf-8")
    assert ACTIVE[attack][2] in text, text


@pytest.mark.parametrize("attack", list(CONTROLS))
def test_without_its_defence_an_attack_passes(tmp_path, attack):
    """The control: graded with its defence switched off, the attack passes (so its test above
    can fail); signals_the_grader kills the grader."""
    defence, (exercise,) = CONTROLS[attack], ALL_ATTACKS[attack][1]
    site = Path(np.__file__).parent.parent
    if attack == "imports_cnnedu_from_disk" and not (
            list(site.glob("__editable__*_finder.py")) or (site / "cnnedu").is_dir()):
        pytest.skip("cnnedu is not installed in NumPy's site-packages, where the attack looks")
    honest = write_submission(tmp_path / "honest", held=[EXERCISES[CONV].chapter])
    folder = write_submission(tmp_path / attack, replacements_of(attack, honest),
                              held=[EXERCISES[exercise].chapter])
    job = {"defence": defence, "exercise": exercise,
           "notebooks": [str(folder / chapter_file(exercise))],
           "seeds": [str(honest / chapter_file(CONV))], "out": str(tmp_path / "result.json")}
    run = subprocess.run([sys.executable, "-c", CONTROL, json.dumps(job)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TMPDIR": str(tmp_path)})
    if attack == "signals_the_grader":
        assert run.returncode == -signal.SIGKILL, run.stderr
        return
    assert run.returncode == 0, run.stderr
    passed, message = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert passed, f"{attack} fails even without its defence ({defence}): {message}"


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
    targets = [ROOT / "cnnedu" / "__init__.py", FIXTURES / "solutions" / chapter_file(CONV),
               ROOT / "book" / "instructors.md", Path(np.__file__).parent.parent, Path.home(),
               "/tmp", f"/proc/{os.getpid()}/cmdline", f"/proc/{os.getpid()}/mem"]
    absent = [str(t) for t in targets if not os.path.exists(t)]
    assert not absent, f"nothing to refuse: {absent} do not exist (run make_fixtures.py)"
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


def test_the_learner_process_program_imports_only_numpy_and_the_standard_library():
    """What the learner process runs: learner.py's text, then sandbox.py's."""
    from cnnedu.grading.worker import RUNNER

    imported = {line.split()[1].split(".")[0] for line in RUNNER.splitlines()
                if line.startswith(("import ", "from "))}
    assert imported - set(sys.stdlib_module_names) == {"numpy"}
