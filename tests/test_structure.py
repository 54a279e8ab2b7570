"""The package's shape (issue 15): small modules, training apart from the model, imports downward.

These are guards against regrowth: each names the module and the figure that broke the rule.
"""

import ast
import importlib
import inspect
import pathlib
import re
import sys

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "cnnedu"
MAX_MODULE_LINES = 350
MAX_SEQUENTIAL_LINES = 100

# Each module's level; a module may import only modules of a lower or equal level (never
# upward): kernels and datasets never import layers, models or training code.
LEVELS = [
    ("_checks", "progress"),
    ("functional", "reference", "init", "datasets", "plot"),
    ("layers", "losses", "optim", "gradcheck"),
    # Sequential.fit and .save are one-line delegations to train and checkpoint, which in
    # turn never import model: the three sit at one level.
    ("model", "train", "checkpoint"),
    ("zoo",),
    ("exercises", "grading", "interactive"),
]
LEVEL = {name: i for i, names in enumerate(LEVELS) for name in names}


def modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def top_name(path):
    """The first component below cnnedu/: 'functional' for cnnedu/functional/conv.py."""
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def imported_top_names(path):
    """The cnnedu top-level names that a module imports."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("cnnedu."):
                    names.add(alias.name.split(".")[1])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module and node.module.startswith("cnnedu."):
                    names.add(node.module.split(".")[1])
                elif node.module == "cnnedu":
                    names.update(alias.name for alias in node.names)
                continue
            # relative: resolve against the package folders this module sits in
            base = list(parts[:-1])
            base = base[:len(base) - (node.level - 1)]
            target = base + (node.module.split(".") if node.module else [])
            if target:
                names.add(target[0])
            else:
                names.update(alias.name for alias in node.names)
    return names


def test_every_module_is_at_most_350_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_sequential_is_at_most_100_lines():
    tree = ast.parse((PACKAGE / "model.py").read_text(encoding="utf-8"))
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Sequential"]
    length = cls.end_lineno - cls.lineno + 1
    assert length <= MAX_SEQUENTIAL_LINES, f"Sequential is {length} lines"


def test_imports_only_go_downward():
    for path in modules():
        me = top_name(path)
        if me == "__init__":
            continue
        assert me in LEVEL, f"{me} has no level in LEVELS; add it"
        for name in imported_top_names(path) - {me}:
            assert name in LEVEL, f"{path.relative_to(PACKAGE)} imports unknown cnnedu.{name}"
            assert LEVEL[name] <= LEVEL[me], (
                f"{path.relative_to(PACKAGE)} (level {LEVEL[me]}) imports cnnedu.{name} "
                f"(level {LEVEL[name]}): imports must go downward")


def test_the_import_check_sees_an_upward_import(tmp_path, monkeypatch):
    """Self-test: upward imports in a submodule, written three ways, are all found."""
    fake = tmp_path / "cnnedu"
    (fake / "functional").mkdir(parents=True)
    bad = fake / "functional" / "conv.py"
    bad.write_text("from ..model import Sequential\nfrom .. import train\n"
                   "import cnnedu.zoo\nfrom . import pool\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert imported_top_names(bad) == {"model", "train", "zoo", "functional"}


# Docstrings: one style (issue 15). Every public module, function and class names its chapter
# (the instructor tools, whose module says that no chapter uses them, excepted), every public
# method has a docstring of its own or inherits one, and a docstring says what its code raises.
CHAPTER = re.compile(r"\b(?:[Cc]hapters? \d|ch\. \d)")


def _own_raises(node):
    """Whether a function's own body (not a nested def or class) has a ``raise X``."""
    stack = list(node.body)
    while stack:
        child = stack.pop()
        if isinstance(child, ast.Raise) and child.exc is not None:
            return True
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                  ast.Lambda)):
            stack.extend(ast.iter_child_nodes(child))
    return False


def docstring_problems():
    """['cnnedu/x.py: f: no chapter', ...] for every public module of the package."""
    problems = []
    for path in modules():
        parts = path.relative_to(PACKAGE).parts
        if path.name == "__main__.py" or any(
                p.startswith("_") and p != "__init__.py" for p in parts):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module_doc = ast.get_docstring(tree) or ""
        no_chapter = "no chapter uses it" in module_doc.lower()
        module = ".".join(("cnnedu",) + path.relative_to(PACKAGE).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        where = str(path.relative_to(PACKAGE.parent))
        if not (no_chapter or CHAPTER.search(module_doc)):
            problems.append(f"{where}: the module's docstring names no chapter")
        for node in tree.body:
            if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) or node.name[0] == "_":
                continue
            doc = ast.get_docstring(node) or ""
            if not doc:
                problems.append(f"{where}: {node.name}: no docstring")
            elif not (no_chapter or CHAPTER.search(doc) or "no chapter uses it" in doc.lower()):
                problems.append(f"{where}: {node.name}: no chapter")
            if (isinstance(node, ast.FunctionDef) and _own_raises(node)
                    and "raise" not in doc.lower()):
                problems.append(f"{where}: {node.name}: raises, and its docstring does not say so")
            if not isinstance(node, ast.ClassDef):
                continue
            cls = getattr(importlib.import_module(module), node.name, None)
            for method in node.body:
                if not isinstance(method, ast.FunctionDef) or method.name[0] == "_":
                    continue
                doc = inspect.getdoc(getattr(cls, method.name, None)) or ""  # inherited too
                name = f"{node.name}.{method.name}"
                if not doc:
                    problems.append(f"{where}: {name}: no docstring, own or inherited")
                elif _own_raises(method) and "raise" not in doc.lower():
                    problems.append(f"{where}: {name}: raises, and its docstring does not say so")
    return problems


def test_every_public_docstring_names_its_chapter_and_what_it_raises():
    problems = docstring_problems()
    assert not problems, "\n".join(problems)


def test_the_docstring_check_sees_what_is_missing(tmp_path, monkeypatch):
    """Self-test: a module and a function without a chapter, a hidden raise, a bare method."""
    fake = tmp_path / "cnnedu"
    fake.mkdir()
    source = ('"""Chapter 1."""\n\ndef f():\n    """Sums."""\n\n'
              'def g():\n    """Chapter 2."""\n    raise ValueError\n\n'
              'class C:\n    """Chapter 3."""\n    def m(self):\n        return 1\n')
    (fake / "fakemod.py").write_text(source)
    (fake / "bare.py").write_text('"""Helpers."""\n')
    fakemod = type(sys)("cnnedu.fakemod")
    exec(source, vars(fakemod))
    monkeypatch.setitem(sys.modules, "cnnedu.fakemod", fakemod)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert docstring_problems() == [
        "cnnedu/bare.py: the module's docstring names no chapter",
        "cnnedu/fakemod.py: f: no chapter",
        "cnnedu/fakemod.py: g: raises, and its docstring does not say so",
        "cnnedu/fakemod.py: C.m: no docstring, own or inherited"]
