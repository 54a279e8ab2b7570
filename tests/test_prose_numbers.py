"""Every number in the book's prose comes from the code, or is on a short list of definitions.

A figure that a notebook measures (an accuracy, a time, an error) is written in
the Markdown with myst-nb's glue role, {glue:text}`name:.1f`, so the page shows
the value the code computed in the same build. This test scans every Markdown
cell of every notebook and every Markdown page for numbers with a decimal point
or a percent sign, outside code and math-free glue roles, and fails on any that
is neither glued nor allowed below.

Allowed are:
* ALLOWED: values that are true by definition or are settings chosen by the
  text (a learning rate, a dropout probability), each with the reason;
* SOURCE_FIGURES: what the course's source reports measured (they are history,
  not outputs of this code), allowed only on the pages listed;
* QUOTED: pages that quote another file of the repository; every number there
  must appear in that file (so a re-measured benchmark cannot leave a stale
  quote behind).

Run: python -m pytest tests/test_prose_numbers.py
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"

# A number with a decimal point (0.5, .25, 1,234.5) or a percent sign (99%, 99.1 %).
NUMBER = re.compile(r"(?<![\w.,])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\s?%"
                    r"|(?<![\w.,])(?:\d{1,3}(?:,\d{3})+|\d+)?\.\d+(?!\w|\.\d)")

# Settings and definitions. Keep this list short: a measured figure is glued.
ALLOWED = {
    "0.01": "a setting: weight scale or learning rate 10^-2",
    "0.1": "a setting: learning rate, kink distance or leaky slope",
    "0.5": "a setting: dropout probability; the midpoint of a sigmoid",
    "0.9": "a setting: momentum / Adam's beta1",
    "1.0": "a setting: a learning rate or weight of one",
    "2.30": "definition: ln 10, the loss of a uniform guess over 10 classes",
    "2.303": "definition: ln 10",
    "1.10": "definition: ln 3, the loss of a uniform guess over 3 classes",
    "100%": "definition: every example right (each claim of it is asserted in its notebook)",
    "99%": "the course's target accuracy on MNIST (the figure reached is glued)",
    "98.5%": "the capstone's target accuracy (the figure reached is glued in chapter 13)",
    "4.0": "a version: the CC BY 4.0 licence (citing.md)",
    "3.0": "a version: MNIST's CC BY-SA 3.0 licence (citing.md)",
    "2.0": "a version: MathJax's Apache 2.0 licence (citing.md)",
    "3.11": "a version: the Python of runtime.txt, which the pins need",
}

# What the source reports measured (../shared/SEEDS.md): history, quoted on these pages.
SOURCE_FIGURES = {
    "87.6%": "report B's test accuracy",
    "89.8%": "report D's test accuracy",
    "98%": "report C's test accuracy (PyTorch)",
    "1.5": "the standard error, in points, of an accuracy on report B's 500 test images",
}
SOURCE_PAGES = {"01_introduction.md", "10_mnist.ipynb", "10a_first_attempts.ipynb",
                "09_bug_hunt.ipynb", "14_frameworks.md", "index.ipynb"}

# Pages that quote another file: every number on them must occur in that file.
QUOTED = {"14_frameworks.md": ROOT / "benchmarks" / "README.md"}


def _prose(text):
    """Markdown text without code (fenced or inline), glue roles, link targets and labels."""
    text = re.sub(r"^(```|~~~).*?^\1", " ", text, flags=re.S | re.M)
    text = re.sub(r"\{glue(?::\w+)?\}`[^`]*`", " ", text)     # {glue:text}`name:.1f`
    text = re.sub(r"`[^`]*`", " ", text)                      # inline code
    text = re.sub(r"\]\([^)]*\)", "]", text)                  # link targets
    text = re.sub(r"^\(.*\)=$", " ", text, flags=re.M)        # (label)= targets
    return text


def _markdown(path):
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    return [path.read_text(encoding="utf-8")]


def _pages():
    return sorted(p for p in BOOK.iterdir() if p.suffix in (".md", ".ipynb"))


def unchecked_numbers(path):
    """[(number, context)] of the numbers on a page that are neither glued nor allowed."""
    quoted = QUOTED.get(path.name)
    quoted_text = quoted.read_text(encoding="utf-8") if quoted else ""
    found = []
    for text in _markdown(path):
        prose = _prose(text)
        for match in NUMBER.finditer(prose):
            number = match.group(0).replace(" ", "")
            if number in ALLOWED:
                continue
            if path.name in SOURCE_PAGES and number in SOURCE_FIGURES:
                continue
            if quoted and number in quoted_text:
                continue
            context = " ".join(prose[max(0, match.start() - 50):match.end() + 30].split())
            found.append((number, context))
    return found


@pytest.mark.parametrize("path", _pages(), ids=lambda p: p.name)
def test_every_number_in_the_prose_is_glued_or_allowed(path):
    found = unchecked_numbers(path)
    assert not found, (
        f"{path.name} states {len(found)} number(s) that no code computes; glue each from the "
        "cell that measures it ({glue:text}`name:.1f`), or, for a definition or setting, add it "
        "to ALLOWED in tests/test_prose_numbers.py with the reason:\n"
        + "\n".join(f"  {n!r} in: ...{c}..." for n, c in found))


def test_the_scan_finds_unglued_numbers():
    text = ("We reach 97.3% in 4.2 s, with lr 0.01, {glue:text}`acc:.1f`% and `x = 0.37`;\n"
            "```python\ny = 2.5\n```\n$0.65$ on Python 3.10. Section 2. has 1,234.5 or 12 %.")
    numbers = [m.group(0) for m in NUMBER.finditer(_prose(text))]
    assert numbers == ["97.3%", "4.2", "0.01", "0.65", "3.10", "1,234.5", "12 %"]


def test_allowed_numbers_are_used():
    """An entry no page needs any more is dropped, so the list stays short."""
    used = set()
    for path in _pages():
        for text in _markdown(path):
            used.update(m.group(0).replace(" ", "") for m in NUMBER.finditer(_prose(text)))
    unused = sorted(set(ALLOWED) - used)
    assert not unused, f"ALLOWED lists numbers no page uses: {unused}"
