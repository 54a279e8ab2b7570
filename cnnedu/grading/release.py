"""Make the student edition of the book's notebooks (instructor's guide, book/instructors.md).

This is what nbgrader's ``generate_assignment`` does to a notebook, with the
marker grammar of its ClearSolutions, ClearHiddenTests and ClearMarkScheme
preprocessors (nbgrader docs, "Creating and grading assignments"):

- A line that contains ``BEGIN SOLUTION`` opens a solution region and a line
  that contains ``END SOLUTION`` closes it; what else is on the line does not
  matter, so ``### BEGIN SOLUTION``, ``# BEGIN SOLUTION`` and ``#BEGIN
  SOLUTION`` are all markers. The region, markers included, becomes
  ``raise NotImplementedError()`` in a code cell and ``YOUR ANSWER HERE`` in
  any other cell, at the indentation of the BEGIN line. nbgrader also puts a
  ``# YOUR CODE HERE`` line above the ``raise``; we leave it out.
- A cell whose metadata says ``"nbgrader": {"solution": true}`` but that has no
  solution region becomes that stub as a whole.
- ``BEGIN HIDDEN TESTS`` ... ``END HIDDEN TESTS`` and ``BEGIN MARK SCHEME`` ...
  ``END MARK SCHEME`` regions are dropped, in every kind of cell.

Like nbgrader, markers are matched in capitals with one space. Where nbgrader
would quietly keep a solution, we refuse (``ReleaseError``) instead:

- a line that looks like a marker but is spelled otherwise (``# begin
  solution``, ``BEGIN_SOLUTION``), since nbgrader would not remove its region;
- a BEGIN without its END, an END without its BEGIN, a region inside another
  and two markers on one line;
- solutions in forms nbgrader does not know: a Markdown ``{solution}``
  directive or a dropdown/admonition titled "Solution" or "Answer" outside a
  solution region, and a code cell tagged ``solution`` without markers or
  nbgrader metadata. Put the markers around them.

Everything else that could carry a solution goes as well: outputs, execution
counts, attachments, and all metadata except a cell's ``nbgrader`` (its
documented keys) and ``tags`` and the notebook's kernel and language.

Then every student notebook is checked before anything is written. It must
contain no marker in any spelling (any case, spaces, ``_`` or ``-``) and no
line from inside a region of the source, unless that line also appears
outside the regions (a chapter may show code that an exercise then asks for).
A notebook that fails stops the whole release with an error naming the
notebook and the cell, and nothing is written.
"""

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

CODE_STUB = "raise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
# Delimiter text as nbgrader matches it (a substring of the line) -> (begin/end, region kind).
DELIMITERS = {"BEGIN SOLUTION": ("begin", "solution"), "END SOLUTION": ("end", "solution"),
              "BEGIN HIDDEN TESTS": ("begin", "hidden tests"),
              "END HIDDEN TESTS": ("end", "hidden tests"),
              "BEGIN MARK SCHEME": ("begin", "mark scheme"),
              "END MARK SCHEME": ("end", "mark scheme")}
END_SPELLING = {"solution": "### END SOLUTION", "hidden tests": "### END HIDDEN TESTS",
                "mark scheme": "=== END MARK SCHEME ==="}
MARKER_LIKE = re.compile(
    r"\b(begin|end)[\s_-]*(solutions?|hidden[\s_-]*tests?|mark[\s_-]*schemes?)\b", re.IGNORECASE)
# Jupyter Book ways of showing a solution: ```{solution}, :::{dropdown} Solution, ...
DIRECTIVE = re.compile(r"^\s*(?:`{3,}|~{3,}|:{3,})\s*\{([\w-]+)\}(.*)$")
NBGRADER_KEYS = {"grade", "grade_id", "locked", "points", "schema_version", "solution", "task",
                 "cell_type"}


class ReleaseError(ValueError):
    """A notebook cannot be released (e.g. a BEGIN marker without its END)."""


def _marker(line, where):
    """``(begin/end, kind)`` if ``line`` is a marker, None if it is not one; raises if unsure."""
    found = [text for text in DELIMITERS if text in line]
    if len(found) > 1:
        raise ReleaseError(f"{where}: {line.strip()!r} has two markers; put each on its own line")
    if found:
        return DELIMITERS[found[0]]
    if MARKER_LIKE.search(line):
        raise ReleaseError(f"{where}: {line.strip()!r} looks like a marker, but nbgrader only "
                           f"recognises e.g. '### BEGIN SOLUTION' (capitals, one space) and "
                           f"would leave its region in; spell it that way")
    return None


def _clear_regions(source, cell_type, where):
    """Clear the marked regions of one cell's source; see the module docstring.

    Returns ``(new_source, inside, outside, solutions)``: the lines inside and
    outside the regions, and the number of solution regions.
    """
    stub = CODE_STUB if cell_type == "code" else TEXT_STUB
    kept, inside, open_kind, solutions = [], [], None, 0
    for line in source.split("\n"):
        marker = _marker(line, where)
        if marker is None:
            (kept if open_kind is None else inside).append(line)
        elif marker[0] == "begin":
            if open_kind is not None:
                raise ReleaseError(f"{where}: {line.strip()!r} inside an open {open_kind} region; "
                                   f"regions cannot be nested")
            open_kind, begin_line = marker[1], line
            if open_kind == "solution":
                solutions += 1
                kept.append(line[:len(line) - len(line.lstrip())] + stub)
        elif open_kind is None:
            raise ReleaseError(f"{where}: {line.strip()!r} without a BEGIN line above it")
        elif marker[1] != open_kind:
            raise ReleaseError(f"{where}: {line.strip()!r} inside an open {open_kind} region")
        else:
            open_kind = None
    if open_kind is not None:
        raise ReleaseError(f"{where}: {begin_line.strip()!r} without "
                           f"{END_SPELLING[open_kind]!r} below it")
    return "\n".join(kept).rstrip("\n"), inside, kept, solutions


def _refuse_unknown_solutions(cell, kept, solutions, where):
    """Raise if ``cell`` shows a solution in a form that nbgrader would not remove."""
    for line in kept:
        directive = DIRECTIVE.match(line)
        if cell["cell_type"] != "code" and directive and (
                directive[1].startswith("solution") or
                directive[1] in ("dropdown", "admonition", "toggle") and
                re.search(r"solution|answer", directive[2], re.IGNORECASE)):
            raise ReleaseError(f"{where}: {line.strip()!r} would show a solution; put "
                               f"'### BEGIN SOLUTION' and '### END SOLUTION' around it")
    if "solution" in cell.get("metadata", {}).get("tags", []) and not solutions:
        raise ReleaseError(f"{where}: the cell is tagged 'solution' but has no solution markers "
                           f"and no nbgrader metadata; add either")


def _verify(nb, secret, name):
    """Raise if the student edition ``nb`` still holds a marker, a ``secret`` line or an output."""
    for number, cell in enumerate(nb["cells"], start=1):
        where = f"{name}, cell {number}"
        for line_number, line in enumerate("".join(cell["source"]).splitlines(), start=1):
            if any(text in line for text in DELIMITERS) or MARKER_LIKE.search(line):
                raise ReleaseError(f"{where}: the student edition would still contain the marker "
                                   f"{line.strip()!r}; nothing was written")
            if line.strip() in secret:  # not quoted: the message may end up in a public CI log
                raise ReleaseError(f"{where}: the student edition would repeat, in line "
                                   f"{line_number}, a line of a solution or hidden-test region; "
                                   f"nothing was written")
        if MARKER_LIKE.search(json.dumps(cell["metadata"])):
            raise ReleaseError(f"{where}: the metadata would still contain a marker")
        if cell.get("outputs") or cell.get("execution_count") is not None or "attachments" in cell:
            raise ReleaseError(f"{where}: the student edition would keep outputs or attachments")


def _release(nb, name):
    """The student edition of ``nb`` and its number of solution regions; see release_notebook."""
    cells, inside, outside, regions = [], set(), set(), 0
    for number, cell in enumerate(nb.get("cells", []), start=1):
        where = f"{name}, cell {number}"
        kind = cell.get("cell_type")
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        new_source, cell_inside, kept, solutions = _clear_regions(source, kind, where)
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution") and not solutions:
            new_source = CODE_STUB if kind == "code" else TEXT_STUB
            cell_inside, kept, solutions = cell_inside + kept, [], 1
        _refuse_unknown_solutions(cell, kept, solutions, where)
        inside.update(line.strip() for line in cell_inside)
        outside.update(line.strip() for line in kept)
        regions += solutions
        metadata = {k: v for k, v in cell.get("metadata", {}).items() if k in ("nbgrader", "tags")}
        if "nbgrader" in metadata:  # the documented keys only: e.g. "checksum" hashes the solution
            metadata["nbgrader"] = {k: v for k, v in metadata["nbgrader"].items()
                                    if k in NBGRADER_KEYS}
        new = {"cell_type": kind, "metadata": metadata,
               "source": new_source.splitlines(keepends=True)}
        if "id" in cell:
            new["id"] = cell["id"]
        if kind == "code":
            new["execution_count"] = None
            new["outputs"] = []
        cells.append(new)
    metadata = {k: v for k, v in nb.get("metadata", {}).items()
                if k in ("kernelspec", "language_info")}
    released = {"cells": cells, "metadata": metadata, "nbformat": nb.get("nbformat", 4),
                "nbformat_minor": nb.get("nbformat_minor", 4)}
    _verify(released, inside - outside - {"", CODE_STUB, TEXT_STUB}, name)
    return released, regions


def release_notebook(nb, name="notebook"):
    """The student edition of a notebook (a dict as read from JSON); the input is not changed.

    Raises ReleaseError (naming ``name`` and the cell) if a marker is
    unbalanced, misspelt or nested, or if the result would still show a
    solution; see the module docstring.
    """
    return _release(nb, name)[0]


def _notebooks(source):
    if source.is_file():
        return [(source, Path(source.name))]
    return [(p, p.relative_to(source)) for p in sorted(source.rglob("*.ipynb"))
            if not {".ipynb_checkpoints", "_build"} & set(p.relative_to(source).parts)]


def release(source, out, quiet=False):
    """Write the student edition of every notebook under ``source`` (a folder or a file) to ``out``.

    All notebooks are converted and checked first; if one fails, ReleaseError
    names it and nothing is written. Then they are written to a temporary
    folder next to ``out`` and moved into ``out`` one by one, so each file is
    either the old or the new version; other files in ``out`` (e.g. ``.git``)
    stay. Refuses to write into the source folder: the release must never
    overwrite the solutions. Returns the written paths.
    """
    source, out = Path(source), Path(out)
    if not source.exists():
        raise ReleaseError(f"{source} does not exist")
    src_dir = (source if source.is_dir() else source.parent).resolve()
    target = out.resolve()
    if target == src_dir or src_dir in target.parents:
        raise ReleaseError(f"refusing to write the release into the source folder {src_dir}: "
                           f"the student notebooks would overwrite or sit next to the solutions. "
                           f"Choose an output folder outside it, e.g. -o release/")
    if target.exists() and not target.is_dir():
        raise ReleaseError(f"{out} exists and is not a folder")
    notebooks = _notebooks(source)
    if not notebooks:
        raise ReleaseError(f"no notebooks found in {source}")
    released = []
    for path, relative in notebooks:
        with open(path, encoding="utf-8") as f:
            nb, regions = _release(json.load(f), str(relative))
        released.append((relative, json.dumps(nb, indent=1, ensure_ascii=False) + "\n", regions))
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    written = []
    try:
        for relative, text, _ in released:
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            (staging / relative).write_text(text, encoding="utf-8")
        for relative, _, regions in released:
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / relative, path)
            written.append(path)
            if not quiet:
                print(f"{path}: {regions} solution region(s) removed")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not quiet:
        print(f"released {len(written)} notebook(s) to {out}/ (only notebooks are written; "
              f"other files are not copied)")
    return written
