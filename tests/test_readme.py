"""Every command in README.md works, in a cheap form.

The commands are read from the README itself: each line of a ```bash block,
and each inline code span that starts with ``python``, ``pytest``, ``pip``,
``jupyter`` or ``bash``. Each must match one entry of ``CHEAP_FORMS`` below,
which runs it as ``--help``, ``--version`` or a dry run. A new command in the
README with no entry here fails ``test_every_readme_command_has_a_cheap_form``.

Tools are found beside ``sys.executable``, so this passes when pytest is run
as ``.venv/bin/python -m pytest`` without an activated environment.
"""

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent


def readme_commands():
    """The shell commands in README.md, in order, without comments; `a && b` gives two."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith("#"):
                commands += [part.strip() for part in line.split("&&")]
    commands += re.findall(r"`((?:python3?|pytest|pip|jupyter|jupyter-book|bash)(?: [^`]*)?)`",
                           README)
    return list(dict.fromkeys(commands))


def tool(name):
    path = shutil.which(name, path=str(BIN))
    assert path, f"`{name}` is not installed beside {sys.executable}: pip install -r requirements.txt"
    return path


def run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=ROOT, **kwargs)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout[-1500:]}\n{result.stderr[-1500:]}"
    return result.stdout + result.stderr


def python(*args):
    return run([sys.executable, *args])


# --- the cheap forms ---------------------------------------------------------------

def make_venv(tmp_path):
    python("-m", "venv", "--without-pip", str(tmp_path / ".venv"))
    assert (tmp_path / ".venv" / "bin" / "activate").exists()


def activate_venv(tmp_path):
    make_venv(tmp_path)
    out = run(["bash", "-c", f"source {tmp_path}/.venv/bin/activate && python -c "
               "'import sys; print(sys.prefix)'"])
    assert str(tmp_path / ".venv") in out


def requirements_installed(tmp_path):
    """The result of `pip install -r requirements.txt`: every pin installed, cnnedu from here."""
    wrong = []
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if not line or line == "-e .":
            continue
        name, version = line.split("==")
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong.append(f"{name}: pinned {version}, installed {installed}")
    assert wrong == [], "run `pip install -r requirements.txt`:\n" + "\n".join(wrong)
    assert "-e ." in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    import cnnedu
    assert Path(cnnedu.__file__).resolve().is_relative_to(ROOT)


def fork_sed(tmp_path):
    """The fork instructions' sed, on copies: the URL changes everywhere it was."""
    command = next(c for c in readme_commands() if c.startswith("sed -i"))
    copy = tmp_path / "fork"
    (copy / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", copy)
    for nb in (ROOT / "book").glob("*.ipynb"):
        shutil.copy(nb, copy / "book")
    run(["bash", "-c", f"cd {copy} && {command}"])
    changed = [p for p in copy.rglob("*") if p.is_file()
               and "https://github.com/YOU/YOUR-FORK" in p.read_text(encoding="utf-8")]
    left = [p.name for p in copy.rglob("*") if p.is_file()
            and "https://github.com/cnnedu/cnnedu" in p.read_text(encoding="utf-8")]
    assert (copy / "_config.yml") in changed and len(changed) > 1 and left == []


def mnist_verify(tmp_path):
    if os.environ.get("CNNEDU_DATA") and (Path(os.environ["CNNEDU_DATA"]) / "mnist").is_dir():
        assert "OK" in python("-m", "cnnedu.datasets", "verify")  # real, and cheap
    else:
        python("-m", "cnnedu.datasets", "verify", "--help")


def clone_url(tmp_path):
    """`git clone URL`: git is there, and URL is the repository of _config.yml."""
    import yaml
    run(["git", "--version"])
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert readme_clone_url() == config["repository"]["url"]


def readme_clone_url():
    return re.search(r"git clone (\S+)", README).group(1)


CHEAP_FORMS = [
    (r"git clone https://github\.com/\S+", clone_url),
    (r"cd cnnedu", lambda tmp: None if readme_clone_url().endswith("/cnnedu") else pytest.fail(
        "`cd cnnedu` must follow the clone of a repository named cnnedu")),
    (r"python3 -m venv \.venv", make_venv),
    (r"source \.venv/bin/activate", activate_venv),
    (r"pip install -r requirements\.txt", requirements_installed),
    (r"pytest", lambda tmp: python("-m", "pytest", "--version")),
    (r"pytest tests/test_book\.py",
     lambda tmp: python("-m", "pytest", "--collect-only", "-q", "-o", "addopts=",
                        "-p", "no:cacheprovider", "tests/test_book.py")),
    (r"jupyter-book build \.", lambda tmp: (run([tool("jupyter-book"), "--version"]),
                                            run([tool("jupyter-book"), "build", "--help"]))),
    (r"jupyter lab (book|release)/", lambda tmp: run([tool("jupyter"), "lab", "--version"])),
    (r"python -m cnnedu\.grading release \S+ -o \S+",
     lambda tmp: python("-m", "cnnedu.grading", "release", "--help")),
    (r"python -m cnnedu\.grading grade \S+ -o \S+",
     lambda tmp: python("-m", "cnnedu.grading", "grade", "--help")),
    (r"python -m cnnedu\.datasets verify", mnist_verify),
    (r"python -m cnnedu\.datasets download",
     lambda tmp: python("-m", "cnnedu.datasets", "download", "--help")),
    (r"python -m cnnedu\.datasets\.mnist verify",
     lambda tmp: python("-m", "cnnedu.datasets.mnist", "verify", "--help")),
    (r"python benchmarks/run\.py", lambda tmp: python("benchmarks/run.py", "--help")),
    (r"python benchmarks/notebooks\.py", lambda tmp: python("benchmarks/notebooks.py", "--help")),
    (r"python benchmarks/stress_execution\.py",
     lambda tmp: python("benchmarks/stress_execution.py", "--help")),
    (r"sed -i 's#https://github\.com/cnnedu/cnnedu#https://github\.com/YOU/YOUR-FORK#' "
     r"_config\.yml book/\*\.ipynb", fork_sed),
]


def cheap_form(command):
    matches = [form for pattern, form in CHEAP_FORMS if re.fullmatch(pattern, command)]
    return matches[0] if len(matches) == 1 else None


def test_readme_commands_are_found():
    commands = readme_commands()
    for expected in ("pytest", "jupyter-book build .", "jupyter lab book/",
                     "pip install -r requirements.txt"):
        assert expected in commands


def test_every_readme_command_has_a_cheap_form():
    missing = [c for c in readme_commands() if cheap_form(c) is None]
    assert missing == [], ("README commands with no cheap form in tests/test_readme.py "
                           f"(add one to CHEAP_FORMS): {missing}")


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_works(command, tmp_path):
    form = cheap_form(command)
    if form is None:
        pytest.fail(f"no cheap form for README command {command!r}")
    form(tmp_path)
