"""Tests of cnnedu.grading: check(), the release of student notebooks and the autograder.

(Submissions that cheat, and the learner process itself: tests/test_grading_attacks.py. The
student edition of the whole book, graded: tests/test_student_edition.py.)

The fixtures (tests/fixtures/grading, written by its make_fixtures.py from the book's
solutions) are submissions, one folder each with a notebook per chapter. The expensive part,
one grading run of all of them plus copies, happens once per module. Everything is derived
from the registry (EXERCISES) and the fixtures; only the exercises that the fixtures change
on purpose are named.
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
from cnnedu.grading.grade import feedback_markdown, grade_submission, notebook_chapter
from cnnedu.grading.learner import load
from cnnedu.grading.worker import _strip_magics, extract

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
FIXTURES = ROOT / "tests" / "fixtures" / "grading"
TIMEOUT = 10  # seconds per exercise in the grading runs, the grader's default (the infinite
               # loop costs this twice)
TOTAL = sum(ex.points for ex in EXERCISES.values())


def _load_fixture_maker():
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fixtures = _load_fixture_maker()


@functools.lru_cache(maxsize=None)
def _solution_namespace(name):
    namespace = {"np": np}
    exec(textwrap.dedent(fixtures.SOLUTIONS[name]), namespace)
    return namespace


def solution(name):
    """The book's solution of exercise ``name``: its functions, in the order check() takes them
    (each exercise's in a namespace of its own: chapters may define the same name)."""
    namespace = _solution_namespace(name)
    return [namespace[f] for f in EXERCISES[name].functions]


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
    stale = "is stale: run python tests/fixtures/grading/make_fixtures.py"
    for kind in fixtures.KINDS:
        expected = fixtures.render(kind)
        folder = FIXTURES / kind
        assert folder.is_dir(), f"{folder.name}/ {stale}"
        assert sorted(p.name for p in folder.iterdir()) == sorted(expected), f"{kind}/ {stale}"
        for name, text in expected.items():
            assert (folder / name).read_text(encoding="utf-8") == text, f"{kind}/{name} {stale}"
    assert not list(FIXTURES.glob("*.ipynb")), f"old one-notebook fixtures {stale}"


def test_every_exercise_has_a_fixture_solution():
    assert list(fixtures.SOLUTIONS) == list(EXERCISES)
    held = {ex.chapter for ex in EXERCISES.values()}
    assert set(fixtures.kind_chapters("solutions")) == held


@pytest.mark.parametrize("name", list(EXERCISES))
def test_check_passes_a_correct_solution(name, capsys):
    functions = solution(name)
    start = time.perf_counter()
    check(name, *functions)  # raises on failure
    assert time.perf_counter() - start < TIMEOUT  # the grader's limit; < 1 s for most
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

    def wrong_loss(scores, y):
        seen.append((scores.copy(), y.copy()))
        loss, dscores = functional.softmax_cross_entropy(scores, y)
        return loss, dscores * len(y)  # forgot to divide by N

    with pytest.raises(AssertionError) as info:
        check("softmax_cross_entropy", wrong_loss)
    message = str(info.value)
    assert "softmax_cross_entropy: dscores: relative error" in message
    assert "expected < 1e-07" in message and "it looks like the right answer times" in message
    _assert_no_numbers_from(message, [functional.softmax_cross_entropy(s, y)[1]
                                      for s, y in seen])

    forward, backward = solution("affine")

    def scaled_forward(x, W, b):
        out, cache = forward(x, W, b)
        return 2 * out, cache

    def scaled_backward(dout, cache):
        return tuple(2 * g for g in backward(dout, cache))

    with pytest.raises(AssertionError, match=r"out: relative error .* for x \(\d, \d\), "
                                             r"W \(\d, \d\); .*times 2"):
        check("affine", scaled_forward, scaled_backward)


def test_a_hard_coded_answer_fails():
    """The inputs are random, so an answer recorded from one call does not fit the next."""
    recorded = {}

    def memorised(dprobs, probs):
        recorded.setdefault("out", probs * (dprobs - (dprobs * probs).sum(1, keepdims=True)))
        return recorded["out"]

    with pytest.raises(AssertionError, match="expected shape|relative error"):
        check("softmax_backward", memorised)


def test_backward_is_checked_against_the_reference_forward():
    """A forward without the bias and a backward consistent with it fail: the backward is
    compared with numerical gradients of the reference forward, not of the learner's."""
    forward, backward = solution("affine")

    def no_bias_forward(x, W, b):
        return forward(x, W, np.zeros_like(b))

    def no_bias_backward(dout, cache):
        dx, dW, _ = backward(dout, cache)
        return dx, dW, np.zeros(dW.shape[1])

    with pytest.raises(AssertionError, match="affine: out: relative error"):
        check("affine", no_bias_forward, no_bias_backward)
    with pytest.raises(AssertionError, match="affine: db: relative error"):
        check("affine", forward, no_bias_backward)


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

    def naive_loss(scores, y):
        probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        dscores = probs.copy()
        dscores[np.arange(len(y)), y] -= 1
        return -np.log(probs[np.arange(len(y)), y]).mean(), dscores / len(y)

    def diagonal_only(dprobs, probs):
        return dprobs * probs * (1 - probs)

    cases = [("numerical_gradient", [forward_difference], "central differences"),
             ("numerical_gradient", [copies_x], "in place"),
             ("sigmoid", [naive_sigmoid, lambda d, c: d * c * (1 - c)], "overflow"),
             ("softmax_cross_entropy", [naive_loss], "subtract each row's maximum"),
             ("softmax_backward", [diagonal_only], "depends on every score")]
    for name, functions, hint in cases:
        with pytest.raises(AssertionError, match=hint), np.errstate(all="ignore"):
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
    functions = solution(name)
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


def _takes_arrays(name):
    """Whether the check of exercise ``name`` passes an array (nested or not) to one of the
    first two arguments of a learner function."""
    seen = []

    def spy(fn):
        @functools.wraps(fn)
        def spied(*args, **kwargs):
            seen.extend(_first_array(a) is not None for a in args[:2])
            return fn(*args, **kwargs)
        return spied

    check(name, *[spy(fn) for fn in solution(name)])
    return any(seen)


def test_in_place_cases_cover_every_exercise_with_array_inputs():
    # The others take sizes, shapes or a Generator, not arrays: nothing to change in place.
    covered = {name for name, _, _ in IN_PLACE_CASES}
    assert covered == {name for name in EXERCISES if _takes_arrays(name)}
    assert len(covered) >= len(EXERCISES) / 2


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
            for piece in pieces for index in piece["keep"]]
    assert kept == ["Import", "Assign", "FunctionDef", "ClassDef"]
    assert len(notes) == 1 and "syntax error in cell 2, line 1" in notes[0]["text"]


def test_a_note_on_a_failed_statement_goes_with_the_failure_it_explains():
    """A failed import is noted under the exercise whose hint quotes the name it defines; a
    cell that does not parse is noted for the whole notebook."""
    cells = [(1, "import no_such_module as F\nimport other_missing_module\n"
                 "def relu_forward(x):\n    return F.relu(x)"), (2, "def broken(:")]
    pieces, notes = extract(cells, "")
    _, load_notes = load(pieces)
    assert [note["names"] for note in load_notes] == [["F"], ["other_missing_module"]]
    results = {name: {"passed": False, "points": 0, "message": message, "output": "",
                      "output_chars": 0, "missing": False}
               for name, message in [("relu", "your relu_forward raised NameError: name 'F' is "
                                              "not defined"),
                                     ("affine", "affine_forward is not implemented yet")]}
    text = feedback_markdown("alice", results, notes + load_notes)
    sections = {part.split("\n", 1)[0]: part for part in text.split("\n### ")[1:]}
    assert "cell 1, line 1: ModuleNotFoundError" in sections["relu"]
    assert "ModuleNotFoundError" not in sections["affine"]
    assert "other_missing_module" not in text
    assert "## Notes on your notebook\n\n- syntax error in cell 2, line 1" in text


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


def _fixture_notebook(kind, chapter):
    return next((FIXTURES / kind).glob(f"{chapter:02d}_*.ipynb"))


def test_release_of_the_fixture(tmp_path):
    path = _fixture_notebook("solutions", EXERCISES["relu"].chapter)
    source = json.loads(path.read_text(encoding="utf-8"))
    solution_cell = next(i for i, c in enumerate(source["cells"])
                         if "def relu_forward" in "".join(c["source"]))
    secret = "return np.maximum(x, 0), x"
    assert secret in "".join(source["cells"][solution_cell]["source"])
    # Things that must not survive: outputs, execution counts, extra metadata, attachments.
    cell = source["cells"][solution_cell]
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]
    cell["execution_count"] = 7
    cell["metadata"]["secret"] = secret
    source["cells"][solution_cell - 1]["attachments"] = {"a.png": {"image/png": "AAAA"}}
    source["metadata"]["solutions"] = secret
    book = tmp_path / "book"
    book.mkdir()
    (book / path.name).write_text(json.dumps(source))
    release(book, tmp_path / "release", quiet=True)
    out = tmp_path / "release" / path.name
    _assert_clean_release(source, out)
    text = out.read_text()
    assert "secret" not in text and "np.maximum(x, 0), x" not in text
    # The signature and docstring stay; the body is a stub at the BEGIN line's indentation.
    cells = ["".join(c["source"]) for c in json.loads(text)["cells"]]
    relu = next(c for c in cells if c.startswith("def relu_forward"))
    assert relu.splitlines()[0] == "def relu_forward(x):"
    assert relu.splitlines()[1].startswith('    """')
    assert relu.splitlines()[2] == "    raise NotImplementedError()"
    assert any('check("relu", relu_forward, relu_backward)' in c for c in cells)


def test_the_release_scores_zero(tmp_path):
    release(FIXTURES / "solutions", tmp_path / "release" / "solutions", quiet=True)
    rows, feedback, _, _ = grade_cli(tmp_path / "release", tmp_path, "--jobs", "2")
    assert all(rows["solutions"][name] == "0" for name in EXERCISES)
    assert rows["solutions"]["total"] == "0" and rows["solutions"]["max"] == str(TOTAL)
    assert "not implemented yet" in (feedback / "solutions.md").read_text()


def test_release_refuses_to_write_into_the_source(tmp_path):
    book = tmp_path / "book"
    (book / "sub").mkdir(parents=True)
    shutil.copy(_fixture_notebook("solutions", 2), book / "ch.ipynb")
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

N_COPIES = 4   # more learners with the book's solutions, graded in parallel


def _merged(paths):
    """One notebook holding the cells of several (for a learner who merges chapters)."""
    nbs = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    return {**nbs[0], "cells": [cell for nb in nbs for cell in nb["cells"]]}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the fixtures, copies of the solutions, and learners with other layouts."""
    folder = tmp_path_factory.mktemp("submissions")
    for kind in fixtures.KINDS:
        shutil.copytree(FIXTURES / kind, folder / kind)
    for i in range(N_COPIES):
        shutil.copytree(FIXTURES / "solutions", folder / f"learner_{i:02d}")
    # A learner whose notebooks have other names: each found by its check cells, except one
    # merged notebook of chapters 2 and 3, which serves the exercises of both.
    renamed = folder / "renamed_learner"
    renamed.mkdir()
    paths = sorted((FIXTURES / "solutions").glob("*.ipynb"))
    early = [p for p in paths if int(p.name[:2]) in (2, 3)]
    (renamed / "my_first_weeks.ipynb").write_text(json.dumps(_merged(early)))
    for number, path in enumerate(p for p in paths if p not in early):
        shutil.copy(path, renamed / f"week_{number}.ipynb")
    # A single-notebook learner: the folder layout's alternative, <learner>.ipynb.
    shutil.copy(_fixture_notebook("solutions", 3), folder / "one_notebook.ipynb")
    out = tmp_path_factory.mktemp("grades")
    rows, feedback, stdout, elapsed = grade_cli(folder, out, "--jobs", "2",
                                                "--timeout", str(TIMEOUT))
    print(f"graded {len(rows)} submissions in {elapsed:.1f} s")
    return rows, feedback, stdout, out


def _held(kind):
    """The exercises whose chapters fixture ``kind`` holds."""
    return [n for n in EXERCISES if EXERCISES[n].chapter in fixtures.kind_chapters(kind)]


def test_every_submission_gets_a_row(graded):
    rows, _, stdout, out = graded
    n = len(fixtures.KINDS) + N_COPIES + 2
    assert len(rows) == n
    header = (out / "grades.csv").read_text().splitlines()[0].split(",")
    assert header == ["learner", *EXERCISES, "total", "max"]
    assert all(row["max"] == str(TOTAL) for row in rows.values())
    assert f"graded {n} submission(s)" in stdout


@pytest.mark.parametrize("kind", list(fixtures.KINDS))
def test_fixture_scores(graded, kind):
    """Each fixture fails what it changed (and what uses it), passes the rest of the chapters
    it holds, and scores 0 on the chapters it does not hold, which its feedback lists."""
    rows, feedback, _, _ = graded
    row = rows[kind]
    zero, held = set(fixtures.EXPECTED_ZERO[kind]), _held(kind)
    got = {name: row[name] for name in EXERCISES}
    expected = {name: full_marks(name) if name in held and name not in zero else "0"
                for name in EXERCISES}
    assert got == expected
    assert int(row["total"]) == sum(int(v) for v in expected.values())
    text = (feedback / f"{kind}.md").read_text(encoding="utf-8")
    absent = sorted({EXERCISES[n].chapter for n in EXERCISES if n not in held})
    if absent:
        assert "## Not graded: notebooks not in your submission" in text
        for chapter in absent:
            assert f"- chapter {chapter} (`{chapter:02d}_*.ipynb`)" in text
    else:
        assert "Not graded" not in text


def test_copies_and_other_layouts_get_full_marks(graded):
    rows, feedback, _, _ = graded
    for learner in [l for l in rows if l.startswith("learner_")] + ["renamed_learner"]:
        assert rows[learner]["total"] == str(TOTAL), (feedback / f"{learner}.md").read_text()
    # One notebook of chapter 3, named after the learner: its chapter's exercises pass.
    row = rows["one_notebook"]
    chapter = EXERCISES["relu"].chapter
    assert {n: row[n] for n in EXERCISES if EXERCISES[n].chapter == chapter} == {
        n: full_marks(n) for n in EXERCISES if EXERCISES[n].chapter == chapter}


def _cell_number(kind, function):
    """The number (from 1) of the cell that defines ``function`` in fixture ``kind``."""
    for path in (FIXTURES / kind).glob("*.ipynb"):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for number, cell in enumerate(cells, start=1):
            if f"def {function}(" in "".join(cell["source"]):
                return number
    raise KeyError(function)


def test_feedback_explains_failures(graded):
    _, feedback, _, _ = graded
    read = lambda kind: (feedback / f"{kind}.md").read_text(encoding="utf-8")
    assert f"took longer than {TIMEOUT} s" in read("infinite_loop")
    assert (f"syntax error in cell {_cell_number('syntax_error', 'softmax_cross_entropy')}"
            in read("syntax_error"))
    assert "importing cnnedu is not allowed" in read("cheat_import")
    crashes = read("crashes")
    assert "SIGSEGV" in crashes and "exited with code 3" in crashes and "MemoryError" in crashes
    assert "it looks like the right answer times 2" in read("consistent_but_wrong")
    assert "dw: relative error" in read("wrong_backward")
    assert f"**Score: {TOTAL} / {TOTAL} points.**" in read("solutions")


def test_printing_is_captured_and_truncated(graded):
    rows, feedback, _, out = graded
    assert rows["prints_a_lot"]["total"] == str(sum(EXERCISES[n].points
                                                    for n in _held("prints_a_lot")))
    text = (feedback / "prints_a_lot.md").read_text(encoding="utf-8")
    # softmax_cross_entropy's check calls it three times, 10,000,001 characters each
    assert "30,000,003 characters" in text and len(text) < 10000
    assert (out / "grades.csv").stat().st_size < 10000


def test_feedback_never_shows_the_checks(graded):
    _, feedback, _, _ = graded
    for path in feedback.glob("*.md"):
        text = path.read_text(encoding="utf-8")
        for secret in ("_check_", "numerical_gradient_array", "F.conv2d_forward", "exercises/ch",
                       "Traceback"):
            assert secret not in text, f"{path.name} shows {secret!r}"


# ----------------------------------------------------------------------------
# Each exercise from the notebook of its chapter
# ----------------------------------------------------------------------------

def _notebook_with(*sources):
    return {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
                       "execution_count": None, "source": source} for source in sources],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 4}


def test_an_exercise_is_graded_from_the_notebook_of_its_chapter(tmp_path):
    """Chapter 3's notebook may show a complete version of chapter 2's exercise: it never
    earns chapter 2's points. Without chapter 2's notebook the exercise is "not submitted";
    with one that lacks the function, the feedback says where it was found instead."""
    name = "softmax_cross_entropy"
    assert EXERCISES[name].chapter == 2
    answer = textwrap.dedent("""
        def softmax_cross_entropy(scores, y):
            shifted = scores - scores.max(axis=1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            dscores = np.exp(log_probs)
            dscores[np.arange(len(y)), y] -= 1
            return -log_probs[np.arange(len(y)), y].mean(), dscores / len(y)
        """)
    stub = "def softmax_cross_entropy(scores, y):\n    raise NotImplementedError()"

    def grade(**notebooks):
        paths = []
        for file_name, sources in notebooks.items():
            path = tmp_path / f"{file_name}.ipynb"
            path.write_text(json.dumps(_notebook_with("import numpy as np", *sources)))
            paths.append(path)
        results, _ = grade_submission(paths, [name], timeout=TIMEOUT)
        return results[name]

    shown_in_3 = {"03_two_layer_net": [answer]}
    result = grade(**shown_in_3, **{"02_linear_softmax": [stub]})
    assert not result["passed"] and "not implemented yet" in result["message"]
    result = grade(**shown_in_3)
    assert not result["passed"] and result.get("missing")
    assert "no notebook of chapter 2" in result["message"]
    result = grade(**shown_in_3, **{"02_linear_softmax": ["x = 1"]})
    assert not result["passed"] and not result.get("missing")
    assert ("softmax_cross_entropy not found in 02_linear_softmax.ipynb (defined in "
            "03_two_layer_net.ipynb, but this exercise of chapter 2 is graded from chapter 2's "
            "notebook)") in result["message"]
    # The same answer in chapter 2's notebook, or in a notebook of no chapter, passes.
    assert grade(**{"02_linear_softmax": [answer]})["passed"]
    assert grade(**{"my_answers": [answer]})["passed"]
    assert grade(**{"Copy of 02_linear_softmax": [answer], "03_two_layer_net": [stub]})["passed"]


def test_the_chapter_of_a_notebook():
    check_cell = [(1, 'check("relu", relu_forward, relu_backward)')]
    assert notebook_chapter("02_linear_softmax.ipynb", []) == 2
    assert notebook_chapter("x/Copy of 05_convolution (1).ipynb", []) == 5
    assert notebook_chapter("alice.ipynb", check_cell) == EXERCISES["relu"].chapter
    assert notebook_chapter("learner_01.ipynb", []) is None
    both = check_cell + [(2, 'check("softmax_cross_entropy", f)')]
    assert notebook_chapter("all.ipynb", both) is None      # two chapters: serves both
    assert notebook_chapter("99_extra.ipynb", check_cell) == EXERCISES["relu"].chapter


def test_the_instructors_guide_lists_every_exercise():
    text = (BOOK / "instructors.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \| (.+?) \| (\d+) \|$", text, re.M)
    listed = {name: (int(chapter), tuple(re.findall(r"`(\w+)`", functions)), int(points))
              for chapter, name, functions, points in rows}
    assert listed == {name: (ex.chapter, ex.functions, ex.points) for name, ex in EXERCISES.items()}
    assert f"In total there are {sum(ex.points for ex in EXERCISES.values())} points" in text


def test_check_says_when_it_was_given_cnnedu_s_own_function():
    """check() grades the learner's code: cnnedu's function (or a partial or bound method of
    it) is refused with a hint, and never scored as passed."""
    import functools

    from cnnedu import functional, layers

    own = r"cnnedu's own `cnnedu\.functional\.[\w.]*relu_forward`"
    with pytest.raises(AssertionError, match=own):
        check("relu", functional.relu_forward, functional.relu_backward)
    with pytest.raises(AssertionError, match=r"cnnedu's own"):
        check("relu", functools.partial(functional.relu_forward), functional.relu_backward)
    with pytest.raises(AssertionError, match=r"cnnedu's own `cnnedu\.layers\."):
        check("relu", layers.ReLU().forward, functional.relu_backward)
    check("relu", *solution("relu"))   # the learner's: fine
