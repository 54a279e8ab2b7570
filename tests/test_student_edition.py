"""The student edition asks questions that it does not answer.

* Released with ``python -m cnnedu.grading release book/`` and graded as ONE
  submission (a folder holding every notebook), the blank student edition
  scores 0 on every exercise, each for being "not implemented yet"; the
  book's own notebooks, graded the same way, score full marks.
* No exercise's solution is shown elsewhere in its notebook: for every
  exercise, the share of its solution's non-trivial lines that the released
  notebook shows verbatim (outside the stripped solution) stays at or below
  ``MAX_SHARE``. A "fix" exercise (chapter 9, the bug hunt) defines a function
  that the notebook also shows, with its bugs, in another cell: there only the
  lines the fix changes count, there must be at least one, and none may be
  shown anywhere in the released notebook.

Everything is derived from the registry (``EXERCISES``, whose ``chapter`` names
the notebook that poses each exercise) and from the notebooks themselves.
"""

import ast
import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnnedu.exercises import EXERCISES
from cnnedu.grading.release import release_notebook

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
MAX_SHARE = 0.20   # of an exercise's non-trivial solution lines, shown elsewhere in its notebook

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
TRIVIAL = [
    re.compile(r"^(import|from)\s"),                                    # imports
    re.compile(r"^[\w\s,()\[\]]+=\s*[\w.]+\.shape(\[[^\]]*\])?$"),     # N, C, H, W = x.shape
    re.compile(r"^[\w\s,()\[\]]+=\s*len\(\w+\)$"),                     # N = len(y)
    re.compile(r"^\(?\w+(\s*,\s*\w+)+\)?\s*=\s*\w+$"),                 # x, w = cache
    re.compile(r"^\w+\s*=\s*\w+$"),                                    # x = cache
    re.compile(r"^return\s*\(?[\w\s,]*\)?$"),                          # return out, cache
    re.compile(r"^(pass|continue|break|else:|try:|finally:)$"),
]


def chapter_notebook(chapter, folder=BOOK):
    """The notebook of ``folder`` that poses chapter ``chapter``'s exercises (NN_*.ipynb)."""
    found = sorted(folder.glob(f"{chapter:02d}_*.ipynb"))
    assert len(found) == 1, f"expected one notebook {chapter:02d}_*.ipynb in {folder}, got {found}"
    return found[0]


def load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def cell_source(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def python(source):
    """A cell's source with IPython magics replaced by ``pass``, parsed; None if it does not."""
    lines = ["pass" if line.lstrip().startswith(("%", "!")) else line
             for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def trivial(line):
    """Blank lines, comments, markers, imports, shape and cache unpacking, bare returns."""
    return (not line or line.startswith("#") or any(p.match(line) for p in TRIVIAL))


def without_docstrings(lines):
    """The stripped lines minus those inside triple-quoted strings that start a line."""
    kept, inside = [], None
    for line in lines:
        if inside:
            if inside in line:
                inside = None
            continue
        quote = next((q for q in ('"""', "'''") if line.startswith(q)), None)
        if quote:
            if line.count(quote) == 1:
                inside = quote
            continue
        kept.append(line)
    return kept


def solutions(nb):
    """{function name: (cell index, [stripped lines of its solution regions])} of a notebook.

    A solution region belongs to the function (at any depth) whose body holds it.
    """
    found = {}
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = cell_source(cell)
        if BEGIN not in source:
            continue
        tree = python(source)
        functions = [(node.lineno, node.end_lineno, node.name) for node in ast.walk(tree)
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
        inside = False
        for number, line in enumerate(source.splitlines(), start=1):
            if BEGIN in line:
                inside = True
            elif END in line:
                inside = False
            elif inside:
                # the innermost function around this line
                around = [f for f in functions if f[0] <= number <= f[1]]
                name = min(around, key=lambda f: f[1] - f[0])[2] if around else None
                found.setdefault(name, (index, []))[1].append(line.strip())
    return found


def definitions(nb, name):
    """{cell index: [stripped lines of each def of ``name`` in that cell]}, at any depth."""
    found = {}
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = cell_source(cell)
        tree = python(source)
        if tree is None:
            continue
        lines = source.splitlines()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                found.setdefault(index, []).extend(
                    line.strip() for line in lines[node.lineno - 1:node.end_lineno])
    return found


def shown_lines(nb):
    """Every stripped line of every cell (code and Markdown) of a notebook."""
    return {line.strip() for cell in nb["cells"] for line in cell_source(cell).splitlines()}


def measure(book_nb, released_nb, functions):
    """How much of the solution of an exercise with these functions the released notebook shows.

    Returns a dict: ``lines`` (the non-trivial solution lines measured),
    ``shown`` (those the released notebook shows), ``share`` (their share),
    ``fixes`` ({function: changed lines} for fix exercises) and ``problems``
    (what is wrong with a fix: no changed line, or a changed line shown).
    """
    sols = solutions(book_nb)
    released = shown_lines(released_nb)
    lines, shown, fixes, problems = [], [], {}, []
    for function in functions:
        if function not in sols:
            continue  # e.g. conv2d_backward's check also takes conv2d_forward, another exercise
        index, solution = sols[function]
        measured = [line for line in without_docstrings(solution) if not trivial(line)]
        originals = {i: d for i, d in definitions(released_nb, function).items() if i != index}
        if originals:  # a fix of the buggy original shown in another cell
            original = {line for d in originals.values() for line in d}
            changed = [line for line in measured if line not in original]
            fixes[function] = changed
            if not changed:
                problems.append(f"the fix of {function} changes no line of the original shown in "
                                f"cell(s) {sorted(originals)}")
            for line in changed:
                if line in released:
                    problems.append(f"the fix of {function} changes a line to {line!r}, which "
                                    f"the released notebook shows")
            continue
        lines += measured
        shown += [line for line in measured if line in released]
    return {"lines": lines, "shown": shown, "share": len(shown) / len(lines) if lines else 0.0,
            "fixes": fixes, "problems": problems}


# ----------------------------------------------------------------------------
# The student edition of the whole book, released once
# ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("student_edition") / "release"
    run = subprocess.run([sys.executable, "-m", "cnnedu.grading", "release", "book/",
                          "-o", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    return out


@pytest.fixture(scope="module")
def graded(released, tmp_path_factory):
    """Grade two submissions in one run: the blank student edition and the book's solutions,
    each a folder holding every notebook of the book, as a learner would hand in the course."""
    tmp = tmp_path_factory.mktemp("graded")
    submissions = tmp / "submissions"
    shutil.copytree(released, submissions / "blank")
    (submissions / "solutions").mkdir()
    for path in sorted(BOOK.glob("*.ipynb")):
        shutil.copy(path, submissions / "solutions" / path.name)
    csv_path, feedback = tmp / "grades.csv", tmp / "feedback"
    run = subprocess.run([sys.executable, "-m", "cnnedu.grading", "grade", str(submissions),
                          "-o", str(csv_path), "--feedback", str(feedback), "--jobs", "2"],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert run.returncode == 0, run.stderr
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = {row["learner"]: row for row in csv.DictReader(f)}
    return rows, feedback


def _sections(feedback_text):
    """{exercise: its feedback section} of a learner's feedback file."""
    return {part.split("\n", 1)[0]: part for part in feedback_text.split("\n### ")[1:]}


def test_the_blank_student_edition_scores_zero(graded):
    rows, feedback = graded
    scored = {name: rows["blank"][name] for name in EXERCISES if rows["blank"][name] != "0"}
    text = (feedback / "blank.md").read_text(encoding="utf-8")
    assert not scored, (f"the blank student edition, graded as one submission, scores points: "
                        f"{scored}\n{text}")
    assert rows["blank"]["total"] == "0"
    # Each scores 0 because its stub raised, not because the grader missed the notebook.
    sections = _sections(text)
    other = {name: sections.get(name, "(no section)").split("\n")[2:3] for name in EXERCISES
             if "not implemented yet" not in sections.get(name, "")}
    assert not other, f"exercises that fail for another reason than the stub: {other}"


def test_the_books_solutions_get_full_marks(graded):
    rows, feedback = graded
    row = rows["solutions"]
    failing = [name for name in EXERCISES if row[name] != str(EXERCISES[name].points)]
    sections = _sections((feedback / "solutions.md").read_text(encoding="utf-8"))
    details = "\n".join(f"### {sections.get(name, name)}" for name in failing)
    assert not failing, f"the book's solutions fail these exercises: {failing}\n{details}"
    assert row["total"] == row["max"] == str(sum(ex.points for ex in EXERCISES.values()))


# ----------------------------------------------------------------------------
# No exercise answered elsewhere in its notebook
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(EXERCISES))
def test_the_solution_is_not_shown_elsewhere_in_its_notebook(released, name):
    ex = EXERCISES[name]
    book_path = chapter_notebook(ex.chapter)
    book_nb, released_nb = load(book_path), load(released / book_path.name)
    assert any(f in solutions(book_nb) for f in ex.functions), (
        f"{name}: no solution region (### BEGIN SOLUTION) for {', '.join(ex.functions)} "
        f"in {book_path.name}, the notebook of chapter {ex.chapter}")
    found = measure(book_nb, released_nb, ex.functions)
    assert found["lines"] or found["fixes"], f"{name}: its solution has no non-trivial line"
    assert found["share"] <= MAX_SHARE, (
        f"{name}: {found['share']:.0%} of its solution's {len(found['lines'])} non-trivial lines "
        f"are shown verbatim elsewhere in the student edition of {book_path.name} (at most "
        f"{MAX_SHARE:.0%} allowed); the learner could copy them:\n"
        + "\n".join(f"    {line}" for line in found["shown"]))
    assert not found["problems"], f"{name}: " + "\n".join(found["problems"])


def _notebook(*cells):
    return {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
                       "execution_count": None, "source": source} for source in cells],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 4}


EXERCISE_CELL = '''def scaled(x, k):
    """x times k."""
    ### BEGIN SOLUTION
    N, D = x.shape
    factor = float(k)
    out = x * factor
    return out
    ### END SOLUTION'''


def test_the_measure_flags_a_solution_shown_above():
    """The share test can fail: a chapter that shows the answer above the exercise is caught,
    and one that does not passes."""
    shown = _notebook("factor = float(k)\nout = x * factor\nprint(out)", EXERCISE_CELL)
    hidden = _notebook("out = x + 1", EXERCISE_CELL)
    for nb, share in ((shown, 1.0), (hidden, 0.0)):
        found = measure(nb, release_notebook(nb), ["scaled"])
        # N, D = x.shape and return out are trivial: two lines measured
        assert found["lines"] == ["factor = float(k)", "out = x * factor"]
        assert found["share"] == share and not found["fixes"]


def test_the_measure_of_a_fix_counts_the_changed_lines():
    """A fix exercise (the function is also shown, with a bug, in another cell): only the lines
    it changes count; a fix that changes nothing, or whose changed line is shown, is flagged."""
    buggy = ("def scaled(x, k):\n    N, D = x.shape\n    factor = int(k)\n"
             "    out = x * factor\n    return out")
    good = measure(nb := _notebook(buggy, EXERCISE_CELL), release_notebook(nb), ["scaled"])
    assert good["fixes"] == {"scaled": ["factor = float(k)"]} and not good["problems"]
    assert good["lines"] == []
    leaked = _notebook(buggy, "# hint: factor = float(k)\nfactor = float(k)", EXERCISE_CELL)
    found = measure(leaked, release_notebook(leaked), ["scaled"])
    assert found["problems"] and "factor = float(k)" in found["problems"][0]
    same = _notebook(buggy.replace("int(k)", "float(k)"), EXERCISE_CELL)
    found = measure(same, release_notebook(same), ["scaled"])
    assert found["problems"] and "changes no line" in found["problems"][0]


def test_trivial_lines():
    for line in ["N, C, H, W = x.shape", "OH, OW = dout.shape[2:]", "N = X.shape[0]",
                 "x, w, stride, padding = cache", "x = cache", "return dx, dw, db",
                 "return out", "import numpy as np", "# a comment", ""]:
        assert trivial(line), line
    for line in ["return np.maximum(x, 0), x", "dx = dout * (x > 0)", "return dout @ W.T",
                 "N = X.shape[0] * 2", "loss = -log_probs[np.arange(N), y].mean()"]:
        assert not trivial(line), line
