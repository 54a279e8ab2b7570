"""Make the student edition of the book's notebooks (``python -m cnnedu.grading release``).

No chapter uses it; book/instructors.md documents it. Like nbgrader's ``generate_assignment``
(its ClearSolutions, ClearHiddenTests and ClearMarkScheme preprocessors), a line containing
``BEGIN SOLUTION`` opens a region and one containing ``END SOLUTION`` closes it; the region
becomes ``raise NotImplementedError()`` in a code cell and ``YOUR ANSWER HERE`` in any other,
at the BEGIN line's indentation, as does a cell marked ``"nbgrader": {"solution": true}``
without a region. ``HIDDEN TESTS`` and ``MARK SCHEME`` regions are dropped. Outputs,
attachments and metadata go, except a cell's ``nbgrader`` keys and ``tags`` and the
notebook's kernel and language. Where nbgrader would quietly keep a solution (a marker not
in capitals with one space, unbalanced or nested regions, a ``{solution}`` directive or a
"Solution" dropdown outside a region, a cell tagged ``solution`` without markers), this
refuses with ``ReleaseError``; and before anything is written, every student notebook is
checked for any marker and any line from inside a region that does not also appear outside.
"""

import json
import re
from pathlib import Path

CODE_STUB = "raise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
REGIONS = ("SOLUTION", "HIDDEN TESTS", "MARK SCHEME")  # nbgrader's "BEGIN x" ... "END x"
MARKER_LIKE = re.compile(
    r"\b(begin|end)[\s_-]*(solutions?|hidden[\s_-]*tests?|mark[\s_-]*schemes?)\b", re.IGNORECASE)
# Jupyter Book ways of showing a solution: ```{solution}, :::{dropdown} Solution, ...
DIRECTIVE = re.compile(r"^\s*(?:`{3,}|~{3,}|:{3,})\s*\{([\w-]+)\}(.*)$")
NBGRADER_KEYS = {"grade", "grade_id", "locked", "points", "schema_version", "solution", "task",
                 "cell_type"}


class ReleaseError(ValueError):
    """A notebook cannot be released (e.g. a BEGIN marker without its END)."""


def _marker(line, where):
    """``(edge, region)``, e.g. ``("BEGIN", "SOLUTION")``, if ``line`` is a marker, else None.

    Raises ReleaseError for two markers on the line or one that is spelt otherwise.
    """
    found = [(edge, region) for region in REGIONS for edge in ("BEGIN", "END")
             if f"{edge} {region}" in line]
    if len(found) > 1:
        raise ReleaseError(f"{where}: {line.strip()!r} has two markers; put each on its own line")
    if not found and MARKER_LIKE.search(line):
        raise ReleaseError(f"{where}: {line.strip()!r} looks like a marker, but nbgrader only "
                           f"recognises e.g. '### BEGIN SOLUTION' (capitals, one space) and "
                           f"would leave its region in; spell it that way")
    return found[0] if found else None


def _clear_regions(source, cell_type, where):
    """Clear the marked regions of one cell's source (see the module docstring).

    Returns ``(new_source, inside, outside, solutions)``: the lines inside and outside the
    regions, and the number of solution regions. Raises ReleaseError for broken markers.
    """
    stub = CODE_STUB if cell_type == "code" else TEXT_STUB
    kept, inside, open_region, solutions = [], [], None, 0
    for line in source.split("\n"):
        marker = _marker(line, where)
        if marker is None:
            (kept if open_region is None else inside).append(line)
        elif marker[0] == "BEGIN":
            if open_region is not None:
                raise ReleaseError(f"{where}: {line.strip()!r} inside an open "
                                   f"{open_region.lower()} region; regions cannot be nested")
            open_region, begin_line = marker[1], line
            if open_region == "SOLUTION":
                solutions += 1
                kept.append(line[:len(line) - len(line.lstrip())] + stub)
        elif open_region is None:
            raise ReleaseError(f"{where}: {line.strip()!r} without a BEGIN line above it")
        elif marker[1] != open_region:
            raise ReleaseError(f"{where}: {line.strip()!r} inside an open "
                               f"{open_region.lower()} region")
        else:
            open_region = None
    if open_region is not None:
        raise ReleaseError(f"{where}: {begin_line.strip()!r} without "
                           f"'### END {open_region}' below it")
    return "\n".join(kept).rstrip("\n"), inside, kept, solutions


def _refuse_unknown_solutions(cell, kept, solutions, where):
    """Raise ReleaseError if ``cell`` shows a solution in a form nbgrader would not remove."""
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
    """Raise ReleaseError if the student edition ``nb`` still holds a marker or a ``secret``
    line (from inside a region). Outputs cannot be left: _release builds cells without."""
    for number, cell in enumerate(nb["cells"], start=1):
        where = f"{name}, cell {number}"
        for line_number, line in enumerate("".join(cell["source"]).splitlines(), start=1):
            if MARKER_LIKE.search(line):
                raise ReleaseError(f"{where}: the student edition would still contain the marker "
                                   f"{line.strip()!r}; nothing was written")
            if line.strip() in secret:  # not quoted: the message may end up in a public CI log
                raise ReleaseError(f"{where}: the student edition would repeat, in line "
                                   f"{line_number}, a line of a solution or hidden-test region; "
                                   f"nothing was written")
        if MARKER_LIKE.search(json.dumps(cell["metadata"])):
            raise ReleaseError(f"{where}: the metadata would still contain a marker")


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
    """The student edition of a notebook (a dict as read from JSON); ``nb`` is not changed.

    Raises ReleaseError, naming ``name`` and the cell, if a marker is unbalanced, misspelt or
    nested, or if the result would still show a solution (see the module docstring).
    """
    return _release(nb, name)[0]


def release(source, out, quiet=False):
    """Write the student edition of every notebook under ``source`` (a folder or one file) to
    the folder ``out``, keeping relative paths; other files in ``out`` stay. Returns the
    written paths.

    Raises ReleaseError, having written nothing, if ``out`` is ``source`` or inside it (the
    release must never overwrite the solutions) or if any notebook cannot be released.
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
    notebooks = ([(source, Path(source.name))] if source.is_file() else
                 [(p, p.relative_to(source)) for p in sorted(source.rglob("*.ipynb"))
                  if not {".ipynb_checkpoints", "_build"} & set(p.relative_to(source).parts)])
    if not notebooks:
        raise ReleaseError(f"no notebooks found in {source}")
    released = []
    for path, relative in notebooks:  # all of them first: one refusal writes nothing
        with open(path, encoding="utf-8") as f:
            nb, regions = _release(json.load(f), str(relative))
        released.append((target / relative, json.dumps(nb, indent=1, ensure_ascii=False) + "\n",
                         regions))
    for path, text, regions in released:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not quiet:
            print(f"{path}: {regions} solution region(s) removed")
    if not quiet:
        print(f"released {len(released)} notebook(s) to {out}/ (only notebooks are written; "
              f"other files are not copied)")
    return [path for path, _, _ in released]
