"""Site fixes: serve MathJax from the built site instead of a CDN, so pages
render offline, and drop duplicated inline scripts.

MathJax 3 comes from the pip package ``django-static-mathjax`` (pinned in
requirements.txt; it is only static files, with no dependencies). Its ``es5``
folder is copied to ``_static/mathjax`` after the build, and ``mathjax_path``
in ``_config.yml`` points there.
"""

import shutil
from pathlib import Path


def mathjax_dir():
    import mathjax  # the module installed by django-static-mathjax
    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def copy_mathjax(app, exception):
    if exception is None and app.builder.format == "html":
        shutil.copytree(mathjax_dir(), Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def drop_duplicate_inline_scripts(app, exception):
    """Some extensions (sphinx-thebe, sphinx-togglebutton) get their inline
    ``<script>`` added twice; thebe's ``const THEBE_JS_URL`` then throws a
    SyntaxError in the console of every page. Keep the first copy of each."""
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        lines = page.read_text(encoding="utf-8").splitlines(keepends=True)
        seen, kept = set(), []
        for line in lines:
            inline = line.strip()
            if inline.startswith("<script>") and inline.endswith("</script>"):
                if inline in seen:
                    continue
                seen.add(inline)
            kept.append(line)
        if len(kept) != len(lines):
            page.write_text("".join(kept), encoding="utf-8")


def setup(app):
    if not (mathjax_dir() / "tex-chtml.js").exists():
        raise RuntimeError("MathJax not found: pip install -r requirements.txt (django-static-mathjax)")
    app.connect("build-finished", copy_mathjax)
    app.connect("build-finished", drop_duplicate_inline_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
