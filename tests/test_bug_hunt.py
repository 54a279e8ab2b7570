"""Chapter 9's bug hunt: the buggy network of the notebook, its fixes and their checks.

The functions are taken from the notebook itself (book/09_bug_hunt.ipynb), as
the grader takes them: the definitions, imports and constant assignments of
its code cells. The *buggy* network is what the chapter shows (every cell but
the exercise solutions); the *fixed* one adds the solution cells, which define
the fixed functions under the same names. No function is copied here by hand.

Checked:
- every solution passes its exercise's check, and every buggy original fails it;
- the shape test of the chapter passes on the buggy code (it is the point of section 3);
- every exercise fixes functions that the chapter shows under the same name;
- the student edition's empty functions fail with "not implemented yet";
- a half-done fix gets a message that says what is still wrong, and no message
  quotes a line of the fix.
"""

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from cnnedu.exercises import EXERCISES, run_check
from cnnedu.grading.release import release_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "book" / "09_bug_hunt.ipynb"
NB = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
CHAPTER = sorted(name for name, ex in EXERCISES.items() if ex.chapter == 9)
SEEDS = [0, 1, 2]


def _is_solution(cell):
    return bool(cell["metadata"].get("nbgrader", {}).get("solution"))


def _kept(node):
    """What the grader runs of a cell: definitions, imports and NAME = <literal>."""
    if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
        return True
    if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
        try:
            ast.literal_eval(node.value)
            return True
        except ValueError:
            return False
    return False


def _namespace(cells):
    """Run the kept statements of ``cells`` in order, with stand-ins for the MNIST arrays."""
    rng = np.random.default_rng(0)
    namespace = {"images": rng.integers(0, 256, (4000, 1, 28, 28)).astype(np.uint8),
                 "labels": rng.integers(0, 10, 4000)}
    for cell in cells:
        tree = ast.parse("".join(cell["source"]))
        body = [node for node in tree.body if _kept(node)]
        exec(compile(ast.Module(body, type_ignores=[]), NOTEBOOK.name, "exec"), namespace)
    return namespace


def _defined(cell):
    return [node.name for node in ast.parse("".join(cell["source"])).body
            if isinstance(node, ast.FunctionDef)]


CODE = [cell for cell in NB["cells"] if cell["cell_type"] == "code"
        and "%pip" not in "".join(cell["source"])]
BUGGY = _namespace([cell for cell in CODE if not _is_solution(cell)])
FIXED = _namespace(CODE)


def test_the_chapter_poses_seven_fix_exercises():
    assert len(CHAPTER) == 7
    checks = "".join("".join(c["source"]) for c in CODE
                     if c["metadata"].get("nbgrader", {}).get("grade"))
    for name in CHAPTER:
        functions = ", ".join(EXERCISES[name].functions)
        assert f'check("{name}", {functions})' in checks, name


def test_every_fix_redefines_a_function_the_chapter_shows():
    shown = {name for cell in CODE if not _is_solution(cell) for name in _defined(cell)}
    fixed = [name for cell in CODE if _is_solution(cell) for name in _defined(cell)]
    assert fixed and set(fixed) <= shown
    for name in CHAPTER:  # each exercise fixes at least one of its functions
        assert set(EXERCISES[name].functions) & set(fixed), name


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", CHAPTER)
def test_the_books_fix_passes_its_check(name, seed):
    passed, message = run_check(name, [FIXED[f] for f in EXERCISES[name].functions], rng=seed)
    assert passed, message


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", CHAPTER)
def test_the_chapters_buggy_function_fails_its_check(name, seed):
    passed, message = run_check(name, [BUGGY[f] for f in EXERCISES[name].functions], rng=seed)
    assert not passed
    assert "could not check" not in message, message   # a real verdict, not a crash of the check


def test_the_shape_test_passes_on_the_buggy_code():
    BUGGY["test_shapes"]()    # raises AssertionError if a shape is wrong
    FIXED["test_shapes"]()


def test_the_buggy_and_the_fixed_functions_differ():
    for name in CHAPTER:
        for f in EXERCISES[name].functions:
            if f != "conv":   # conv is correct and only provides conv_backward's cache
                assert BUGGY[f] is not FIXED[f], f


def _changed_lines(name):
    """The lines of the solution cells of exercise ``name`` that the chapter's code lacks."""
    shown = {line.strip() for cell in CODE if not _is_solution(cell)
             for line in "".join(cell["source"]).splitlines()}
    lines = set()
    for cell in CODE:
        if _is_solution(cell) and set(_defined(cell)) & set(EXERCISES[name].functions):
            lines |= {line.strip() for line in "".join(cell["source"]).splitlines()
                      if line.strip() and "SOLUTION" not in line} - shown
    return lines


@pytest.mark.parametrize("name", CHAPTER)
def test_messages_never_quote_the_fix(name):
    changed = _changed_lines(name)
    assert changed, f"{name}: the solution changes no line of the chapter's function"
    for seed in SEEDS:
        _, message = run_check(name, [BUGGY[f] for f in EXERCISES[name].functions], rng=seed)
        assert not any(line in message for line in changed), message


def test_a_half_done_fix_is_told_what_is_still_wrong():
    def message(name, **functions):
        ex = EXERCISES[name]
        passed, text = run_check(name, [functions.get(f, BUGGY[f]) for f in ex.functions], rng=0)
        assert not passed
        return text

    assert "relu_backward changed its input `cache` in place" in message(
        "fix_relu", relu=FIXED["relu"])
    assert "your relu changed its input `x` in place" in message(
        "fix_relu", relu_backward=FIXED["relu_backward"])
    assert "non-square" in message("fix_max_pool", max_pool_backward=FIXED["max_pool_backward"])
    assert "dx" in message("fix_max_pool", max_pool=FIXED["max_pool"])
    assert "dx" in message("fix_conv_backward")


def test_the_student_edition_asks_for_every_fix():
    student = release_notebook(NB, NOTEBOOK.name)
    cells = [c for c in student["cells"] if c["cell_type"] == "code"
             and "%pip" not in "".join(c["source"])]
    released = _namespace(cells)
    for name in CHAPTER:
        ex = EXERCISES[name]
        passed, text = run_check(name, [released[f] for f in ex.functions], rng=0)
        assert not passed and "not implemented yet" in text, (name, text)
    # The changed lines of the fixes are nowhere in the student edition.
    text = json.dumps(student)
    for name in CHAPTER:
        for line in _changed_lines(name):
            assert json.dumps(line)[1:-1] not in text, (name, line)
