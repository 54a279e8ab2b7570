"""Make the student edition of the book's notebooks.

In code cells, every region between ``### BEGIN SOLUTION`` and ``### END
SOLUTION`` becomes ``raise NotImplementedError()`` at the indentation of the
BEGIN line, so the signature and docstring above it stay; regions between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are dropped. In
markdown (and raw) cells, a solution region becomes "YOUR ANSWER HERE" and a
region between ``=== BEGIN MARK SCHEME ===`` and ``=== END MARK SCHEME ===`` is
dropped. That is what nbgrader's ``generate_assignment`` does, so the same
notebooks work with nbgrader too.

Everything else that could carry a solution goes as well: outputs, execution
counts, attachments, and all metadata except a cell's ``nbgrader`` and
``tags`` and the notebook's kernel and language. Only notebooks are written.
"""

import json
from pathlib import Path

CODE_REGIONS = [("### BEGIN SOLUTION", "### END SOLUTION", "stub"),
                ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS", "drop")]
TEXT_REGIONS = [("### BEGIN SOLUTION", "### END SOLUTION", "YOUR ANSWER HERE"),
                ("=== BEGIN MARK SCHEME ===", "=== END MARK SCHEME ===", "drop")]
NBGRADER_KEYS = {"grade", "grade_id", "locked", "points", "schema_version", "solution", "task",
                 "cell_type"}


class ReleaseError(ValueError):
    """A notebook cannot be released (e.g. a BEGIN marker without its END)."""


def _replace_regions(source, regions, where):
    """Replace each marked region of ``source``; see the module docstring."""
    out, open_region = [], None
    for line in source.splitlines(keepends=True):
        stripped = line.strip()
        if open_region is None:
            region = next((r for r in regions if stripped.startswith(r[0])), None)
            if region is not None:
                open_region = region
                indent = line[:len(line) - len(line.lstrip())]
                if region[2] == "stub":
                    out.append(f"{indent}raise NotImplementedError()\n")
                elif region[2] != "drop":
                    out.append(f"{indent}{region[2]}\n")
            elif any(stripped.startswith(r[1]) for r in regions):
                raise ReleaseError(f"{where}: {stripped!r} without a BEGIN line above it")
            else:
                out.append(line)
        elif stripped.startswith(open_region[1]):
            open_region = None
        elif any(stripped.startswith(r[0]) for r in regions):
            raise ReleaseError(f"{where}: {stripped!r} inside an open {open_region[0]!r} region")
    if open_region is not None:
        raise ReleaseError(f"{where}: {open_region[0]!r} without {open_region[1]!r}")
    return "".join(out).rstrip("\n")


def release_notebook(nb, name="notebook"):
    """The student edition of a notebook (a dict as read from JSON); the input is not changed."""
    cells = []
    for number, cell in enumerate(nb.get("cells", []), start=1):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        where = f"{name}, cell {number}"
        kind = cell.get("cell_type")
        if kind == "code":
            source = _replace_regions(source, CODE_REGIONS, where)
        else:
            source = _replace_regions(source, TEXT_REGIONS, where)
        metadata = {k: v for k, v in cell.get("metadata", {}).items() if k in ("nbgrader", "tags")}
        if "nbgrader" in metadata:  # the documented keys only: e.g. "checksum" hashes the solution
            metadata["nbgrader"] = {k: v for k, v in metadata["nbgrader"].items()
                                    if k in NBGRADER_KEYS}
        new = {"cell_type": kind, "metadata": metadata,
               "source": source.splitlines(keepends=True)}
        if "id" in cell:
            new["id"] = cell["id"]
        if kind == "code":
            new["execution_count"] = None
            new["outputs"] = []
        cells.append(new)
    metadata = {k: v for k, v in nb.get("metadata", {}).items()
                if k in ("kernelspec", "language_info")}
    return {"cells": cells, "metadata": metadata, "nbformat": nb.get("nbformat", 4),
            "nbformat_minor": nb.get("nbformat_minor", 4)}


def _notebooks(source):
    if source.is_file():
        return [(source, Path(source.name))]
    return [(p, p.relative_to(source)) for p in sorted(source.rglob("*.ipynb"))
            if not {".ipynb_checkpoints", "_build"} & set(p.relative_to(source).parts)]


def release(source, out, quiet=False):
    """Write the student edition of every notebook under ``source`` (a folder or a file) to ``out``.

    Refuses to write into the source folder: the release must never overwrite
    the solutions. Returns the written paths.
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
    notebooks = _notebooks(source)
    if not notebooks:
        raise ReleaseError(f"no notebooks found in {source}")
    # Convert everything before writing anything: a broken notebook stops the whole release.
    released = []
    for path, relative in notebooks:
        with open(path, encoding="utf-8") as f:
            nb = json.load(f)
        regions = sum(line.strip().startswith("### BEGIN SOLUTION")
                      for cell in nb.get("cells", []) for line in
                      "".join(cell.get("source", "")).splitlines())
        released.append((relative, release_notebook(nb, str(relative)), regions))
    written = []
    for relative, nb, regions in released:
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
        if not quiet:
            print(f"{path}: {regions} solution region(s) removed")
    if not quiet:
        print(f"released {len(written)} notebook(s) to {out}/ (only notebooks are written; "
              f"other files are not copied)")
    return written
