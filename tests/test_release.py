"""Tests of cnnedu.grading.release: nbgrader's marker grammar, refusals and the written files.

Generated notebooks put a secret token inside every solution, hidden-test and
mark-scheme region; the token must never reach a written file, and a refused
release must write nothing.
"""

import ast
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnedu.grading import release as release_module
from cnnedu.grading.release import ReleaseError, release, release_notebook

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
SECRET = "SECRET_TOKEN_42"
KINDS = {"solution": ("BEGIN SOLUTION", "END SOLUTION"),
         "hidden tests": ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"),
         "mark scheme": ("BEGIN MARK SCHEME", "END MARK SCHEME")}


def cell(cell_type, source, **metadata):
    new = {"cell_type": cell_type, "metadata": metadata, "source": source}
    if cell_type == "code":
        new.update(outputs=[], execution_count=None)
    return new


def notebook(*cells):
    return {"cells": list(cells), "metadata": {"kernelspec": {"name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def release_in(folder, nb):
    """Release ``nb`` from folder/book to folder/release; return the written text."""
    (folder / "book").mkdir()
    (folder / "book" / "ch.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    release(folder / "book", folder / "release", quiet=True)
    return (folder / "release" / "ch.ipynb").read_text(encoding="utf-8")


def sources(text):
    return ["".join(c["source"]) for c in json.loads(text)["cells"]]


def marker(text, hashes, space, indent, case="upper"):
    text = {"upper": text, "lower": text.lower(), "title": text.title()}[case]
    return " " * indent + "#" * hashes + (" " if space and hashes else "") + text


spellings = st.tuples(st.integers(0, 3), st.booleans(), st.integers(0, 8))


@settings(deadline=None, derandomize=True, max_examples=200)
@given(kind=st.sampled_from(sorted(KINDS)), cell_type=st.sampled_from(["code", "markdown", "raw"]),
       begin=spellings, end=spellings, case=st.sampled_from(["upper", "upper", "lower", "title"]),
       secret_lines=st.integers(1, 3), crlf=st.booleans())
def test_every_spelling_of_a_marker_removes_its_region(kind, cell_type, begin, end, case,
                                                       secret_lines, crlf):
    """Markers in capitals are removed with their region, with any number of #, any spacing
    after it and any indentation; in any other case they are refused (nbgrader would keep them)."""
    begin_line, end_line = marker(KINDS[kind][0], *begin, case), marker(KINDS[kind][1], *end, case)
    body = [" " * begin[2] + f"value = {SECRET}_{i}" for i in range(secret_lines)]
    lines = ["def f(x):"] + [begin_line] + body + [end_line] + ["# after"]
    source = ("\r\n" if crlf else "\n").join(lines)
    with tempfile.TemporaryDirectory() as folder:
        if case != "upper":
            with pytest.raises(ReleaseError, match="looks like a marker"):
                release_in(Path(folder), notebook(cell(cell_type, source)))
            assert sorted(p.name for p in Path(folder).iterdir()) == ["book"]
            return
        text = release_in(Path(folder), notebook(cell(cell_type, source)))
        assert SECRET not in text
        assert sorted(p.name for p in Path(folder).iterdir()) == ["book", "release"]
    released = sources(text)[0].replace("\r", "").splitlines()
    stub = "raise NotImplementedError()" if cell_type == "code" else "YOUR ANSWER HERE"
    middle = [" " * begin[2] + stub] if kind == "solution" else []
    assert released == ["def f(x):"] + middle + ["# after"]
    if cell_type == "code" and kind == "solution" and begin[2] > 0:
        ast.parse(sources(text)[0].replace("\r", ""))


@pytest.mark.parametrize("cell_type, stub", [("code", "raise NotImplementedError()"),
                                             ("markdown", "YOUR ANSWER HERE")])
def test_a_solution_cell_without_markers_becomes_the_stub(tmp_path, cell_type, stub):
    nb = notebook(cell(cell_type, f"def f(x):\n    return {SECRET}\n",
                       nbgrader={"solution": True, "grade": False, "grade_id": "f",
                                 "checksum": SECRET, "schema_version": 3}),
                  cell("markdown", "Kept."))
    text = release_in(tmp_path, nb)
    assert SECRET not in text
    assert sources(text) == [stub, "Kept."]
    assert json.loads(text)["cells"][0]["metadata"]["nbgrader"]["solution"] is True


def test_outputs_and_metadata_are_cleared(tmp_path):
    code = cell("code", "x = 1", secret=SECRET)
    code.update(outputs=[{"output_type": "stream", "name": "stdout", "text": SECRET}],
                execution_count=3)
    text_cell = cell("markdown", "See the picture.")
    text_cell["attachments"] = {"a.png": {"text/plain": SECRET}}
    nb = notebook(code, text_cell)
    nb["metadata"]["widgets"] = SECRET
    text = release_in(tmp_path, nb)
    assert SECRET not in text
    released = json.loads(text)["cells"][0]
    assert released["outputs"] == [] and released["execution_count"] is None


REFUSED = {
    "nested solution": "### BEGIN SOLUTION\n### BEGIN SOLUTION\nx\n### END SOLUTION\n"
                       "### END SOLUTION",
    "hidden tests inside a solution": "### BEGIN SOLUTION\n### BEGIN HIDDEN TESTS\nx\n"
                                      "### END HIDDEN TESTS\n### END SOLUTION",
    "crossed regions": "### BEGIN SOLUTION\nx\n### END HIDDEN TESTS\n### END SOLUTION",
    "begin without end": "### BEGIN SOLUTION\nx",
    "end without begin": "x\n### END SOLUTION",
    "hidden tests without end": "x\n# BEGIN HIDDEN TESTS\nx",
    "two markers on one line": "### BEGIN SOLUTION ### END SOLUTION\nx",
    "lower case": "# begin solution\nx\n# end solution",
    "mixed case": "## Begin Solution\nx\n## End Solution",
    "underscore": "# BEGIN_SOLUTION\nx\n# END_SOLUTION",
    "two spaces": "# BEGIN  HIDDEN TESTS\nx\n# END  HIDDEN TESTS",
    "myst dropdown": ":::{dropdown} Solution\nx\n:::",
    "sphinx-exercise solution": "```{solution} ex-1\nx\n```",
    "admonition": "```{admonition} Answer\n:class: dropdown\nx\n```",
}


DIRECTIVES = {"myst dropdown", "sphinx-exercise solution", "admonition"}


@pytest.mark.parametrize("case, cell_type", [(case, cell_type) for case in sorted(REFUSED)
                                             for cell_type in ("code", "markdown")
                                             if cell_type == "markdown" or case not in DIRECTIVES])
def test_unsupported_or_broken_markers_are_refused_and_nothing_is_written(tmp_path, case,
                                                                         cell_type):
    source = REFUSED[case].replace("x", SECRET)
    nb = notebook(cell("markdown", "Fine."), cell(cell_type, source))
    (tmp_path / "release").mkdir()
    (tmp_path / "release" / "ch.ipynb").write_text("previous release")
    with pytest.raises(ReleaseError, match="ch.ipynb, cell 2"):
        release_in(tmp_path, nb)
    assert (tmp_path / "release" / "ch.ipynb").read_text() == "previous release"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book", "release"]


def test_a_code_cell_tagged_solution_needs_markers_or_metadata(tmp_path):
    nb = notebook(cell("code", f"x = {SECRET}", tags=["solution"]))
    with pytest.raises(ReleaseError, match="tagged 'solution'"):
        release_in(tmp_path, nb)
    assert not (tmp_path / "release").exists()
    nb["cells"][0]["metadata"]["nbgrader"] = {"solution": True}
    assert SECRET not in release_notebook(nb)["cells"][0]["source"][0]


def test_a_solution_region_around_a_dropdown_is_fine():
    nb = notebook(cell("markdown", f"### BEGIN SOLUTION\n:::{{dropdown}} Solution\n{SECRET}\n:::\n"
                                   "### END SOLUTION"),
                  cell("markdown", ":::{dropdown} Hint\nUse the chain rule.\n:::"))
    assert [c["source"] for c in release_notebook(nb)["cells"]] == [
        ["YOUR ANSWER HERE"], [":::{dropdown} Hint\n", "Use the chain rule.\n", ":::"]]


def test_a_folded_answer_between_comment_markers_is_removed():
    """The book folds the answer of an open question in a dropdown between markers inside HTML
    comments, which the website does not show; the student edition gets the stub instead."""
    nb = notebook(cell("markdown", "Would more steps help? Decide first.\n\n"
                                   "<!-- ### BEGIN SOLUTION -->\n:::{dropdown} Answer\n"
                                   f"No: {SECRET}.\n:::\n<!-- ### END SOLUTION -->\n\nNext."))
    assert release_notebook(nb)["cells"][0]["source"] == [
        "Would more steps help? Decide first.\n", "\n", "YOUR ANSWER HERE\n", "\n", "Next."]


@pytest.mark.parametrize("bug", ["keep everything", "drop only the markers", "keep the markers"])
def test_the_check_catches_a_broken_transform(tmp_path, monkeypatch, bug):
    """If clearing the regions went wrong, the final check still stops the release."""
    clear = release_module._clear_regions

    def broken(source, cell_type, where):
        new_source, inside, kept, solutions = clear(source, cell_type, where)
        if bug == "keep everything":
            return source, inside, kept, solutions
        if bug == "drop only the markers":
            return "\n".join(line for line in source.split("\n")
                             if "SOLUTION" not in line), inside, kept, solutions
        return "# BEGIN SOLUTION\n" + new_source, inside, kept, solutions

    monkeypatch.setattr(release_module, "_clear_regions", broken)
    nb = notebook(cell("code", f"def f():\n    ### BEGIN SOLUTION\n    return {SECRET}\n"
                               "    ### END SOLUTION"))
    with pytest.raises(ReleaseError, match="ch.ipynb, cell 1: the student edition would"):
        release_in(tmp_path, nb)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book"]


def test_a_line_shown_outside_the_regions_may_stay(tmp_path):
    """A chapter may show code in the text and then ask for it in an exercise."""
    nb = notebook(cell("code", "y = x + 1"),
                  cell("code", "def f(x):\n    ### BEGIN SOLUTION\n    y = x + 1\n"
                               f"    return y  # {SECRET}\n    ### END SOLUTION"))
    assert sources(release_in(tmp_path, nb)) == ["y = x + 1",
                                                 "def f(x):\n    raise NotImplementedError()"]


def test_other_files_in_the_output_stay(tmp_path):
    (tmp_path / "release" / ".git").mkdir(parents=True)
    (tmp_path / "release" / "README.md").write_text("course notes")
    release_in(tmp_path, notebook(cell("code", "x = 1")))
    assert sorted(p.name for p in (tmp_path / "release").iterdir()) == [".git", "README.md",
                                                                        "ch.ipynb"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book", "release"]


def test_the_command_line_reports_a_refusal(tmp_path):
    (tmp_path / "book").mkdir()
    nb = notebook(cell("markdown", f"# BEGIN HIDDEN TESTS\n{SECRET}"))
    (tmp_path / "book" / "ch.ipynb").write_text(json.dumps(nb))
    run = subprocess.run([sys.executable, "-m", "cnnedu.grading", "release",
                          str(tmp_path / "book"), "-o", str(tmp_path / "release")],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode != 0
    assert "ch.ipynb, cell 1" in run.stderr and "'### END HIDDEN TESTS'" in run.stderr
    assert SECRET not in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book"]


def test_the_book_releases_without_its_solutions(tmp_path):
    written = release(BOOK, tmp_path / "release", quiet=True)
    assert len(written) == len(list(BOOK.glob("*.ipynb")))
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert "SOLUTION" not in text and "HIDDEN TESTS" not in text
        source = json.loads((BOOK / path.name).read_text(encoding="utf-8"))
        for before, after in zip(source["cells"], json.loads(text)["cells"]):
            if before["metadata"].get("nbgrader", {}).get("solution"):
                assert "raise NotImplementedError()" in "".join(after["source"])
