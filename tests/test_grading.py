"""Tests of cnnedu.grading: check(), the release of student notebooks and the autograder.

(Submissions that cheat, and the learner process itself: tests/test_grading_attacks.py.)

The expensive part, one grading run of 30 submissions (the fixtures of
tests/fixtures/grading plus copies), happens once per module.
"""

import ast
import csv
import functools
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from cnnedu import functional
from cnnedu.grading import EXERCISES, check
from cnnedu.grading.release import ReleaseError, release, release_notebook
from cnnedu.grading.worker import _strip_magics, extract

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
FIXTURES = ROOT / "tests" / "fixtures" / "grading"
TIMEOUT = 3  # seconds per exercise in the grading runs (the infinite loop costs this twice)


def _load_fixture_maker():
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fixtures = _load_fixture_maker()


def solutions_namespace():
    """The fixture solutions of every exercise, defined in one namespace."""
    namespace = {"np": np}
    for source in fixtures.SOLUTIONS.values():
        exec(textwrap.dedent(source), namespace)
    return namespace


def grade_cli(submissions, out_dir, *extra):
    """Run the grader's command line; returns ({learner: row}, feedback dir, stdout, seconds)."""
    csv_path, feedback = out_dir / "grades.csv", out_dir / "feedback"
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "cnnedu.grading", "grade", str(submissions),
                          "-o", str(csv_path), "--feedback", str(feedback), *extra],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    elapsed = time.perf_counter() - start
    assert run.returncode == 0, run.stderr
    with open(csv_path, newline="") as f:
        rows = {row["learner"]: row for row in csv.DictReader(f)}
    return rows, feedback, run.stdout, elapsed


def full_marks(name):
    return str(EXERCISES[name].points)


def notebook_exercises(nb):
    """Exercise names whose check cells appear in a notebook."""
    names = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            names += re.findall(r'check\(\s*["\'](\w+)["\']', "".join(cell["source"]))
    return [n for n in dict.fromkeys(names) if n in EXERCISES]


def book_notebooks():
    return sorted(p for p in BOOK.glob("*.ipynb")
                  if notebook_exercises(json.loads(p.read_text(encoding="utf-8"))))


# ----------------------------------------------------------------------------
# check()
# ----------------------------------------------------------------------------

def test_fixture_notebooks_are_up_to_date():
    for kind in fixtures.EXPECTED_ZERO:
        path = FIXTURES / f"{kind}.ipynb"
        assert path.read_text(encoding="utf-8") == fixtures.render(kind), (
            f"{path.name} is stale: run python tests/fixtures/grading/make_fixtures.py")


def test_registry_matches_the_fixture_solutions():
    assert set(fixtures.SOLUTIONS) == set(EXERCISES)
    assert sum(ex.points for ex in EXERCISES.values()) == 44


@pytest.mark.parametrize("name", list(EXERCISES))
def test_check_passes_a_correct_solution(name, capsys):
    namespace = solutions_namespace()
    start = time.perf_counter()
    check(name, *[namespace[f] for f in EXERCISES[name].functions])  # raises on failure
    assert time.perf_counter() - start < 5  # < 1 s on an idle machine
    assert f"✔ {name}" in capsys.readouterr().out


@pytest.mark.parametrize("name", list(EXERCISES))
def test_check_reports_stubs_errors_and_garbage(name):
    n = len(EXERCISES[name].functions)

    def stub(*args, **kwargs):
        raise NotImplementedError()

    def broken(*args, **kwargs):
        raise ValueError("bad input")

    def garbage(*args, **kwargs):
        return None

    with pytest.raises(AssertionError, match="not implemented yet"):
        check(name, *[stub] * n)
    with pytest.raises(AssertionError, match="raised ValueError: bad input"):
        check(name, *[broken] * n)
    with pytest.raises(AssertionError):
        check(name, *[garbage] * n)


def test_check_validates_its_arguments():
    with pytest.raises(ValueError, match="unknown exercise"):
        check("no_such_exercise", print)
    with pytest.raises(TypeError, match="takes 2 function"):
        check("conv2d_backward", print)


def _assert_no_numbers_from(message, arrays):
    """None of the reference values may appear in a message, at any usual precision."""
    for value in np.concatenate([np.ravel(a) for a in arrays]):
        for text in {f"{value:.3g}", f"{value:.4f}", f"{value:.6f}", repr(float(value))}:
            if len(text.strip("-0.")) >= 3:  # skip "0", "1", "0.0": they appear anywhere
                assert text not in message, f"reference value {text} leaked: {message}"


def test_a_wrong_answer_gets_a_hint_but_not_the_reference():
    seen = []

    def wrong_softmax(scores):
        seen.append(scores.copy())
        e = np.exp(scores)  # overflows for huge scores, and is not normalised
        return e / e.sum()

    with pytest.raises(AssertionError) as info:
        check("softmax", wrong_softmax)
    message = str(info.value)
    assert "softmax: softmax(scores): relative error" in message and "expected < 1e-07" in message
    _assert_no_numbers_from(message, [functional.softmax(s) for s in seen])

    ns = solutions_namespace()

    def scaled_forward(x, w, b, stride=1, padding=0):
        out, cache = ns["conv2d_forward"](x, w, b, stride, padding)
        return 2 * out, cache

    def scaled_backward(dout, cache):
        return tuple(2 * g for g in ns["conv2d_backward"](dout, cache))

    with pytest.raises(AssertionError, match=r"dx: relative error .* at a \d+x\d+x\d+x\d+ input "
                                             r"with \d filters of \dx\d, stride \d, padding \d"):
        check("conv2d_backward", scaled_forward, scaled_backward)


def test_a_hard_coded_answer_fails():
    """The inputs are random, so an answer recorded from one call does not fit the next."""
    recorded = {}

    def memorised(scores):
        recorded.setdefault("out", functional.softmax(scores))
        return recorded["out"]

    with pytest.raises(AssertionError, match="expected shape|relative error"):
        check("softmax", memorised)


def test_backward_is_checked_against_the_reference_forward():
    """A forward without the bias and a backward consistent with it: the backward still passes,
    the forward fails (so a matching pair of wrong functions cannot pass both)."""
    ns = solutions_namespace()

    def no_bias_forward(x, w, b, stride=1, padding=0):
        return ns["conv2d_forward"](x, w, np.zeros_like(b), stride, padding)

    def no_bias_backward(dout, cache):
        dx, dw, _ = ns["conv2d_backward"](dout, cache)
        return dx, dw, np.zeros(dw.shape[0])

    with pytest.raises(AssertionError, match="conv2d_forward: out: relative error"):
        check("conv2d_forward", no_bias_forward)
    with pytest.raises(AssertionError, match="db: relative error"):
        check("conv2d_backward", no_bias_forward, no_bias_backward)


def test_typical_mistakes_get_specific_hints():
    def forward_difference(f, x, h=1e-5):
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            base = f()
            x[i] += h
            grad[i] = (f() - base) / h
            x[i] -= h
        return grad

    def copies_x(f, x, h=1e-5):
        x = x.copy()
        return np.zeros_like(x) + 0 * f()

    def naive_sigmoid(x):
        out = 1 / (1 + np.exp(-x))
        return out, out

    def transposed(y_true, y_pred, n_classes=10):
        cm = np.zeros((n_classes, n_classes), dtype=int)
        np.add.at(cm, (y_pred, y_true), 1)
        return cm

    def float_size(size, kernel_size, stride=1, padding=0):
        return (size + 2 * padding - kernel_size) / stride + 1

    cases = [("numerical_gradient", [forward_difference], "central differences"),
             ("numerical_gradient", [copies_x], "in place"),
             ("sigmoid", [naive_sigmoid, lambda d, c: d * c * (1 - c)], "overflow"),
             ("confusion_matrix", [transposed], "transposed"),
             ("conv_output_size", [float_size], "integer division")]
    for name, functions, hint in cases:
        with pytest.raises(AssertionError, match=hint):
            check(name, *functions)


def _first_array(value):
    """The first non-empty numeric array in value (nested in tuples, lists, dicts)."""
    if isinstance(value, np.ndarray):
        return value if value.size and value.dtype.kind in "fiu" else None
    items = value.values() if isinstance(value, dict) else value
    if isinstance(value, (tuple, list, dict)):
        return next((a for a in map(_first_array, items) if a is not None), None)
    return None


def _changes_in_place(fn, position):
    """fn, plus an in-place change, after the call, of the first array in argument ``position``:
    the in-place ReLU of a source report (``out = x; out[out < 0] = 0``) where the array has a
    negative entry, otherwise ``+= 1``."""
    @functools.wraps(fn)  # keeps fn's signature, so the hint names its argument
    def changes_in_place(*args, **kwargs):
        result = fn(*args, **kwargs)
        target = _first_array(args[position]) if position < len(args) else None
        if target is not None:
            if (target < 0).any():
                target[target < 0] = 0
            else:
                target += 1
            changed.append(fn.__name__)
        return result

    changed = []
    changes_in_place.changed = changed
    return changes_in_place


def _run_changing(name, index, position):
    """Check exercise ``name`` with function ``index`` changing argument ``position`` in
    place; returns (the check's failure message or None, whether anything was changed)."""
    namespace = solutions_namespace()
    functions = [namespace[f] for f in EXERCISES[name].functions]
    functions[index] = _changes_in_place(functions[index], position)
    try:
        check(name, *functions)
    except AssertionError as failure:
        return str(failure), bool(functions[index].changed)
    return None, bool(functions[index].changed)


# The first two arguments of every exercise function, where the check passes it an array
# (found by calling it once; e.g. a function of one argument has no second).
IN_PLACE_CASES = [(name, i, position) for name, ex in EXERCISES.items()
                  for i in range(len(ex.functions)) for position in range(2)
                  if _run_changing(name, i, position)[1]]


def test_in_place_cases_cover_every_exercise_with_array_inputs():
    # These take sizes, shapes or a Generator, not arrays: nothing to change in place.
    scalar_only = {"conv_output_size", "output_shape", "he_normal", "conv_param_count"}
    assert {name for name, _, _ in IN_PLACE_CASES} == set(EXERCISES) - scalar_only


@pytest.mark.parametrize("name, index, position", IN_PLACE_CASES)
def test_check_fails_a_function_that_changes_its_input(name, index, position):
    """Every check fails a learner function that changes an array it received, even one nested
    in a cache (position 1 of a backward), and the hint names the argument without the answer."""
    message, changed = _run_changing(name, index, position)
    assert changed
    assert message is not None, f"{name} passed although its function {index + 1} " \
                                f"changed its argument {position + 1} in place"
    learner = EXERCISES[name].functions[index]
    assert re.search(rf"your {learner} changed its input `\w+` in place|"
                     rf"`?x`? was not restored after the call", message), message


def test_an_in_place_relu_and_a_cache_overwritten_by_backward_fail():
    """The bugs of a source report (SEEDS.md, D1): a ReLU that clamps its input in place, and a
    derivative that overwrites its cache (the forward's input) with a 0/1 mask."""
    def relu_forward(x):
        out = x
        out[out < 0] = 0
        return out, x

    def relu_backward(dout, cache):
        return dout * (cache > 0)

    def mask_backward(dout, cache):
        x = cache
        x[x > 0] = 1
        x[x <= 0] = 0
        return dout * x

    def correct_forward(x):
        return np.maximum(x, 0), x

    hint = "the caller's array must not change"
    with pytest.raises(AssertionError, match=f"your relu_forward changed its input `x` in place "
                                             f"for x of shape .*; {hint}"):
        check("relu", relu_forward, relu_backward)
    with pytest.raises(AssertionError, match=f"your mask_backward changed its input `cache` in "
                                             f"place for x of shape .*; {hint}"):
        check("relu", correct_forward, mask_backward)

    def forward_mutating_its_cache(x):  # the cache is a tuple holding x itself
        cache = (x, x.shape)
        np.maximum(x, 0, out=x)
        return x.copy(), cache

    with pytest.raises(AssertionError, match="changed its input `x` in place"):
        check("relu", forward_mutating_its_cache, lambda dout, cache: dout * (cache[0] > 0))


def test_numerical_gradient_may_change_x_but_must_restore_it():
    def never_restores(f, x, h=1e-5):
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            x[i] += h
            plus = f()
            x[i] -= 2 * h
            grad[i] = (plus - f()) / (2 * h)
        return grad

    with pytest.raises(AssertionError, match="x was not restored after the call"):
        check("numerical_gradient", never_restores)


# ----------------------------------------------------------------------------
# Extraction of learner code
# ----------------------------------------------------------------------------

def test_magics_do_not_break_parsing():
    source = ("try:\n    import cnnedu\nexcept ImportError:\n    %pip install -q cnnedu\n"
              "!ls\nfiles = !ls\ndef f():\n    return 1\n")
    ast.parse(_strip_magics(source))
    assert _strip_magics("%%bash\necho hi") is None
    assert _strip_magics("%%time\nx = 1").splitlines() == ["", "x = 1"]


def test_extraction_keeps_definitions_imports_and_constants_only():
    cells = [(1, "import numpy as np\nEPS = 1e-8\nrng = np.random.default_rng(0)\n"
                 "def f(x):\n    return x + EPS\nf(1)\nprint('training')"),
             (2, "def g(:\n    pass"),
             (3, "class Model:\n    pass\nfrom cnnedu.grading import check\ncheck('f', f)")]
    pieces, notes = extract(cells, "")
    kept = [type(ast.parse(piece["source"]).body[index]).__name__
            for piece in pieces for index, _ in piece["keep"]]
    assert kept == ["Import", "Assign", "FunctionDef", "ClassDef"]
    assert [names for piece in pieces for _, names in piece["keep"]] == [
        ["np"], ["EPS"], ["f"], ["Model"]]
    assert len(notes) == 1 and "syntax error in cell 2" in notes[0]["text"]
    assert notes[0]["names"] == ["g"]


# ----------------------------------------------------------------------------
# Release
# ----------------------------------------------------------------------------

def _solution_lines(nb):
    """Lines inside solution regions and mark schemes (longer than 10 characters) that do not
    also occur outside them."""
    inside, outside = set(), set()
    for cell in nb["cells"]:
        region = None
        for line in "".join(cell["source"]).splitlines():
            s = line.strip()
            if s.startswith(("### BEGIN SOLUTION", "=== BEGIN MARK SCHEME ===",
                             "### BEGIN HIDDEN TESTS")):
                region = s
            elif s.startswith(("### END SOLUTION", "=== END MARK SCHEME ===",
                               "### END HIDDEN TESTS")):
                region = None
            else:
                (inside if region else outside).add(s)
    return {s for s in inside - outside if len(s) > 10}


def _assert_clean_release(source_nb, released_path):
    text = released_path.read_text(encoding="utf-8")
    released = json.loads(text)
    released_lines = {line.strip() for cell in released["cells"]
                      for line in "".join(cell["source"]).splitlines()}
    leaked = _solution_lines(source_nb) & released_lines
    assert not leaked, f"{released_path.name}: solution lines in the release: {sorted(leaked)[:5]}"
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "MARK SCHEME", "HIDDEN TESTS"):
        assert marker not in text, f"{released_path.name}: {marker!r} in the release"
    for number, cell in enumerate(released["cells"], start=1):
        assert set(cell["metadata"]) <= {"nbgrader", "tags"}
        assert "attachments" not in cell
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
            python = _strip_magics("".join(cell["source"]))
            if python is not None:
                ast.parse(python)  # the stubs are valid Python
    assert set(released["metadata"]) <= {"kernelspec", "language_info"}


def test_release_of_the_fixture(tmp_path):
    source = json.loads((FIXTURES / "solutions.ipynb").read_text(encoding="utf-8"))
    # Things that must not survive: outputs, execution counts, extra metadata, attachments.
    source["cells"][4]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]
    source["cells"][4]["execution_count"] = 7
    source["cells"][4]["metadata"]["secret"] = "e = np.exp(shifted)"
    source["cells"][3]["attachments"] = {"a.png": {"image/png": "AAAA"}}
    source["metadata"]["solutions"] = "e = np.exp(shifted)"
    book = tmp_path / "book"
    book.mkdir()
    (book / "solutions.ipynb").write_text(json.dumps(source))
    release(book, tmp_path / "release", quiet=True)
    out = tmp_path / "release" / "solutions.ipynb"
    _assert_clean_release(source, out)
    text = out.read_text()
    assert "secret" not in text and "np.exp(shifted)" not in text
    # The signature and docstring stay; the body is a stub at the BEGIN line's indentation.
    cells = ["".join(c["source"]) for c in json.loads(text)["cells"]]
    relu = next(c for c in cells if c.startswith("def relu_forward"))
    assert relu.splitlines()[:3] == ["def relu_forward(x):",
                                     '    """max(0, x). Returns (out, cache)."""',
                                     "    raise NotImplementedError()"]
    assert any('check("relu", relu_forward, relu_backward)' in c for c in cells)


def test_the_release_scores_zero(tmp_path):
    release(FIXTURES / "solutions.ipynb", tmp_path / "release", quiet=True)
    rows, feedback, _, _ = grade_cli(tmp_path / "release", tmp_path, "--jobs", "2")
    assert all(rows["solutions"][name] == "0" for name in EXERCISES)
    assert rows["solutions"]["total"] == "0" and rows["solutions"]["max"] == "44"
    assert "not implemented yet" in (feedback / "solutions.md").read_text()


def test_release_refuses_to_write_into_the_source(tmp_path):
    book = tmp_path / "book"
    (book / "sub").mkdir(parents=True)
    shutil.copy(FIXTURES / "solutions.ipynb", book / "ch.ipynb")
    for target in (book, book / "sub", book / "release", tmp_path / "book" / ".." / "book"):
        with pytest.raises(ReleaseError, match="refusing to write"):
            release(book, target, quiet=True)
    run = subprocess.run([sys.executable, "-m", "cnnedu.grading", "release", str(book),
                          "-o", str(book / "out")], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode != 0 and "refusing to write" in run.stderr
    assert sorted(p.name for p in book.rglob("*")) == ["ch.ipynb", "sub"]


def test_release_rejects_unbalanced_markers():
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                     "source": "def f():\n    ### BEGIN SOLUTION\n    return 1\n"}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    with pytest.raises(ReleaseError, match="without '### END SOLUTION'"):
        release_notebook(nb)
    nb["cells"][0]["source"] = "x = 1\n### END SOLUTION\n"
    with pytest.raises(ReleaseError, match="without a BEGIN"):
        release_notebook(nb)


def test_markdown_solutions_and_mark_schemes_are_removed():
    nb = {"cells": [{"cell_type": "markdown", "metadata": {"foo": 1}, "source":
                     "Question?\n### BEGIN SOLUTION\nThe answer is 42.\n### END SOLUTION\n"
                     "=== BEGIN MARK SCHEME ===\nGive 2 points for 42.\n=== END MARK SCHEME ===\n"
                     "End."}], "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    cell = release_notebook(nb)["cells"][0]
    assert "".join(cell["source"]) == "Question?\nYOUR ANSWER HERE\nEnd."
    assert cell["metadata"] == {}


@pytest.mark.skipif(not book_notebooks(), reason="book/ has no notebooks with exercises yet")
def test_release_of_the_book(tmp_path):
    run = subprocess.run([sys.executable, "-m", "cnnedu.grading", "release", "book/",
                          "-o", str(tmp_path / "release")],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    for path in sorted(BOOK.glob("*.ipynb")):
        _assert_clean_release(json.loads(path.read_text(encoding="utf-8")),
                              tmp_path / "release" / path.name)


# ----------------------------------------------------------------------------
# Grading
# ----------------------------------------------------------------------------

N_SUBMISSIONS = 30


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the fixtures, a learner with a folder of two notebooks, and copies: 30 in all."""
    folder = tmp_path_factory.mktemp("submissions")
    for kind in fixtures.EXPECTED_ZERO:
        shutil.copy(FIXTURES / f"{kind}.ipynb", folder / f"{kind}.ipynb")
    # A learner who hands in a folder: the exercises split over two notebooks.
    nb = json.loads((FIXTURES / "solutions.ipynb").read_text(encoding="utf-8"))
    half = 3 + 3 * 14  # setup cells, then 14 exercises of 3 cells each (both max-pool ones)
    (folder / "split_learner").mkdir()
    parts = {"part1": nb["cells"][:half], "part2": nb["cells"][:3] + nb["cells"][half:]}
    for part, cells in parts.items():
        (folder / "split_learner" / f"{part}.ipynb").write_text(json.dumps({**nb, "cells": cells}))
    n_copies = N_SUBMISSIONS - len(fixtures.EXPECTED_ZERO) - 1
    for i in range(n_copies):
        shutil.copy(FIXTURES / "solutions.ipynb", folder / f"learner_{i:02d}.ipynb")
    out = tmp_path_factory.mktemp("grades")
    rows, feedback, stdout, elapsed = grade_cli(folder, out, "--jobs", "2",
                                                "--timeout", str(TIMEOUT))
    print(f"graded {len(rows)} submissions in {elapsed:.1f} s")
    return rows, feedback, stdout, out


def test_every_submission_gets_a_row(graded):
    rows, _, stdout, out = graded
    assert len(rows) == N_SUBMISSIONS
    header = (out / "grades.csv").read_text().splitlines()[0].split(",")
    assert header == ["learner", *EXERCISES, "total", "max"]
    assert all(row["max"] == "44" for row in rows.values())
    assert f"graded {N_SUBMISSIONS} submission(s)" in stdout


@pytest.mark.parametrize("kind", list(fixtures.EXPECTED_ZERO))
def test_fixture_scores(graded, kind):
    rows, _, _, _ = graded
    row = rows[kind]
    zero = set(fixtures.EXPECTED_ZERO[kind])
    got = {name: row[name] for name in EXERCISES}
    expected = {name: "0" if name in zero else full_marks(name) for name in EXERCISES}
    assert got == expected
    assert int(row["total"]) == sum(int(v) for v in expected.values())


def test_copies_and_folders_get_full_marks(graded):
    rows, _, _, _ = graded
    for learner in [l for l in rows if l.startswith("learner_")] + ["split_learner"]:
        assert rows[learner]["total"] == "44", learner


def test_feedback_explains_failures(graded):
    _, feedback, _, _ = graded
    read = lambda kind: (feedback / f"{kind}.md").read_text(encoding="utf-8")
    assert "took longer than 3 s" in read("infinite_loop")
    assert "syntax error in cell 5" in read("syntax_error")
    assert "importing cnnedu is not allowed" in read("cheat_import")
    crashes = read("crashes")
    assert "SIGSEGV" in crashes and "exited with code 3" in crashes and "MemoryError" in crashes
    assert "it looks like the right answer times 2" in read("consistent_but_wrong")
    assert "dw: relative error" in read("wrong_backward")
    assert "**Score: 44 / 44 points.**" in read("solutions")


def test_printing_is_captured_and_truncated(graded):
    rows, feedback, _, out = graded
    assert rows["prints_a_lot"]["total"] == "44"
    text = (feedback / "prints_a_lot.md").read_text(encoding="utf-8")
    assert "30,000,003 characters" in text and len(text) < 5000
    assert (out / "grades.csv").stat().st_size < 10000


def test_feedback_never_shows_the_checks(graded):
    _, feedback, _, _ = graded
    for path in feedback.glob("*.md"):
        text = path.read_text(encoding="utf-8")
        for secret in ("_check_", "numerical_gradient_array", "F.conv2d_forward", "exercises/ch",
                       "Traceback"):
            assert secret not in text, f"{path.name} shows {secret!r}"


@pytest.mark.skipif(not book_notebooks(), reason="book/ has no notebooks with exercises yet")
def test_the_books_solutions_get_full_marks(tmp_path):
    """Each chapter, graded as a submission, scores full marks on its own exercises."""
    folder = tmp_path / "submissions"
    folder.mkdir()
    wanted = {}
    for path in book_notebooks():
        shutil.copy(path, folder / path.name)
        wanted[path.stem] = notebook_exercises(json.loads(path.read_text(encoding="utf-8")))
    names = sorted({n for ns in wanted.values() for n in ns}, key=list(EXERCISES).index)
    rows, feedback, _, _ = grade_cli(folder, tmp_path, "--jobs", "2",
                                     "--exercises", ",".join(names))
    failures = {learner: [n for n in ns if rows[learner][n] != full_marks(n)]
                for learner, ns in wanted.items()}
    failures = {k: v for k, v in failures.items() if v}
    details = "\n".join(  # the feedback on just the failing exercises
        section for learner, names in failures.items()
        for section in (feedback / f"{learner}.md").read_text(encoding="utf-8").split("\n### ")
        if section.split("\n")[0] in names)
    assert not failures, f"book solutions that do not pass the grader: {failures}\n{details}"


def test_the_instructors_guide_lists_every_exercise():
    text = (BOOK / "instructors.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| \d+ \| `(\w+)` \| (.+?) \| (\d+) \|$", text, re.M)
    listed = {name: (tuple(re.findall(r"`(\w+)`", functions)), int(points))
              for name, functions, points in rows}
    assert listed == {name: (ex.functions, ex.points) for name, ex in EXERCISES.items()}
    assert f"In total there are {sum(ex.points for ex in EXERCISES.values())} points" in text


def test_check_says_when_it_was_given_cnnedu_s_own_function():
    """check() grades the learner's code: cnnedu's function (or a partial or bound method of
    it) is refused with a hint, and never scored as passed."""
    import functools

    from cnnedu import functional, layers

    with pytest.raises(AssertionError, match=r"cnnedu's own `cnnedu\.functional\.relu_forward`"):
        check("relu", functional.relu_forward, functional.relu_backward)
    with pytest.raises(AssertionError, match=r"cnnedu's own"):
        check("relu", functools.partial(functional.relu_forward), functional.relu_backward)
    with pytest.raises(AssertionError, match=r"cnnedu's own `cnnedu\.layers\."):
        check("relu", layers.ReLU().forward, functional.relu_backward)
    namespace = solutions_namespace()
    check("relu", namespace["relu_forward"], namespace["relu_backward"])   # the learner's: fine
