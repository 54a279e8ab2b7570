"""The book's structure: every page is in the table of contents and the reverse,
and every notebook's first cell installs cnnedu from the repository that
_config.yml names (so one setting drives the launch buttons and Colab)."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def toc_files(node):
    """All 'file' and 'root' entries of a _toc.yml, recursively."""
    if isinstance(node, dict):
        found = [node[k] for k in ("root", "file") if k in node]
        return found + [f for v in node.values() for f in toc_files(v)]
    if isinstance(node, list):
        return [f for v in node for f in toc_files(v)]
    return []


def pages():
    return sorted(str(p.relative_to(ROOT).with_suffix("")) for p in BOOK.rglob("*")
                  if p.suffix in (".ipynb", ".md") and not any(part.startswith(("_", "."))
                                                               for part in p.relative_to(BOOK).parts))


NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))


def test_every_page_is_in_the_toc_and_the_reverse():
    listed = sorted(toc_files(TOC))
    assert sorted(set(pages()) - set(listed)) == [], "pages missing from _toc.yml"
    assert sorted(set(listed) - set(pages())) == [], "_toc.yml lists pages that do not exist"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_cell_installs_cnnedu_from_the_configured_repository(path):
    cells = json.loads(path.read_text())["cells"]
    first = next(c for c in cells if c["cell_type"] == "code")
    source = "".join(first["source"])
    urls = re.findall(r"git\+(\S+?)[\"'@]", source)
    assert urls == [CONFIG["repository"]["url"]], (
        f"{path.name}: the first code cell must install cnnedu from {CONFIG['repository']['url']}")
    assert "import cnnedu" in source and "except ImportError" in source
    assert "remove-cell" in first["metadata"].get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_seeded(path):
    source = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                     if c["cell_type"] == "code")
    assert "default_rng" in source or "rng=" in source, f"{path.name} never seeds a generator"
    assert "np.random.seed(" not in source, f"{path.name}: use np.random.default_rng, not global state"
