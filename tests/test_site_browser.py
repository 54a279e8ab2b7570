"""The built website in a real browser, with the network cut.

For every page of ``_build/html`` this drives headless Chromium and checks that
the page loads, the maths is rendered (no raw ``$$`` or ``\\(`` left in the
visible text), every ``<img>`` has loaded, notebook pages have their launch
buttons, and the console shows no errors beyond the allowlist below. It saves
a screenshot of each page under ``_build/screenshots/``.

How: the site is copied to a temporary folder, a small probe script is
inserted at the top of every page's ``<head>``, and the copy is served on
127.0.0.1. Chromium gets ``--proxy-server`` pointed at a closed port, so any
request that is not to 127.0.0.1 fails, as it would offline. The probe hooks
``console.error`` and load errors, waits for MathJax, and writes its findings
as JSON into the page, which ``--dump-dom`` prints. No browser driver
package is needed.

The test uses the site in ``_build/html``. CI builds it once, before pytest
(``.ci/run``), so the notebooks are not executed again here. The test builds it
itself only if it is missing or older than a source page or the configuration
(this executes every notebook, so it takes minutes).

Without Chromium the test is skipped on a learner's machine
(``apt-get install chromium`` to run it), but with ``CI=true`` a missing
browser fails the run: CI must never report a skipped check as passing.
"""

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"

# Console messages that are expected offline and harmless. Keep this short
# and say why each entry is here.
ALLOWED_CONSOLE = [
    # pydata-sphinx-theme logs this with console.error on a first visit, when
    # localStorage has no colour mode yet; it then picks "auto", as intended.
    "Got invalid theme mode: . Resetting to auto.",
]

PROBE = r"""<script>
(function () {
  var errors = [];
  var origError = console.error;
  console.error = function () {
    errors.push(Array.prototype.map.call(arguments, String).join(" "));
    origError.apply(console, arguments);
  };
  window.addEventListener("error", function (e) {
    var t = e.target || {};
    errors.push(t.src || t.href ? "failed to load " + (t.src || t.href) : String(e.message));
  }, true);
  window.addEventListener("unhandledrejection", function (e) { errors.push("rejection: " + e.reason); });
  function report() {
    var body = document.body.cloneNode(true);
    body.querySelectorAll("pre, code, script, style, mjx-container, .cnnedu-probe").forEach(function (n) { n.remove(); });
    var text = body.innerText || body.textContent;
    var imgs = Array.prototype.map.call(document.images, function (i) {
      return {src: i.getAttribute("src"), ok: i.complete && i.naturalWidth > 0};
    });
    var launch = Array.prototype.map.call(document.querySelectorAll("a[href]"), function (a) { return a.href; })
      .filter(function (h) { return /mybinder\.org|colab\.research\.google\.com/.test(h); });
    var out = document.createElement("pre");
    out.className = "cnnedu-probe";
    out.id = "cnnedu-probe";
    out.textContent = JSON.stringify({
      title: document.title, errors: errors, images: imgs, launch: launch,
      math_rendered: document.querySelectorAll("mjx-container").length,
      math_sources: document.querySelectorAll(".math").length,
      raw_math: (text.match(/\$\$|\\\(|\\\[/g) || []).length,
      text_length: text.length
    });
    document.body.appendChild(out);
  }
  window.addEventListener("load", function () {
    var ready = (window.MathJax && MathJax.startup && MathJax.startup.promise) || Promise.resolve();
    ready.then(function () { setTimeout(report, 300); }, function (e) { errors.push("MathJax: " + e); report(); });
  });
})();
</script>"""


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_args(binary):
    return [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--hide-scrollbars",
            # The network cut: everything goes to a proxy on a closed port, except 127.0.0.1.
            "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1"]


def site_sources():
    """What the site is built from: the pages, the book's extension and the configuration."""
    return [ROOT / "_config.yml", ROOT / "_toc.yml",
            *(p for p in (ROOT / "book").rglob("*")
              if p.suffix in (".ipynb", ".md", ".py", ".css", ".js", ".bib")
              and not any(part.startswith((".", "_build")) for part in p.relative_to(ROOT).parts))]


def site_is_current():
    index = HTML / "index.html"
    return index.exists() and all(p.stat().st_mtime <= index.stat().st_mtime
                                  for p in site_sources())


@pytest.fixture(scope="module")
def built_site():
    """The site in _build/html, (re)built first if it is missing or stale."""
    if not site_is_current():
        # The console script beside this Python: works without an activated environment.
        jupyter_book = shutil.which("jupyter-book", path=str(Path(sys.executable).parent))
        assert jupyter_book, f"jupyter-book is not installed beside {sys.executable}"
        subprocess.run([jupyter_book, "build", str(ROOT), "-W", "-n", "--keep-going"],
                       check=True, cwd=ROOT)
    return HTML


def in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def site(built_site, tmp_path_factory):
    binary = find_chromium()
    if binary is None and in_ci():
        pytest.fail("CI=true but Chromium is not installed: the browser test must run in CI "
                    "(.ci/run installs Debian's chromium)", pytrace=False)
    if binary is None:
        pytest.skip("Chromium is not installed; install it with `apt-get install chromium` "
                    "to run the browser test")
    copy = tmp_path_factory.mktemp("site") / "html"
    shutil.copytree(HTML, copy)
    for page in copy.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        page.write_text(text.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    handler = functools.partial(QuietHandler, directory=str(copy))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield binary, f"http://127.0.0.1:{server.server_address[1]}", tmp_path_factory.mktemp("profile")
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def chapter_pages():
    """Every content page (landing page, chapters, reference pages), from the sources,
    so that the list is known before the site is built."""
    return sorted(f"book/{p.stem}.html" for p in (ROOT / "book").iterdir()
                  if p.suffix in (".ipynb", ".md") and not p.name.startswith(("_", ".")))


def notebook_pages():
    return {f"book/{p.stem}.html" for p in (ROOT / "book").glob("*.ipynb")}


def plotting_pages():
    """Notebook pages whose code draws with matplotlib: they must show images."""
    return {f"book/{p.stem}.html" for p in (ROOT / "book").glob("*.ipynb")
            if "plt.show()" in p.read_text(encoding="utf-8")}


def probe(binary, url, profile):
    result = subprocess.run(
        chromium_args(binary) + [f"--user-data-dir={profile}", "--virtual-time-budget=20000",
                                 "--run-all-compositor-stages-before-draw", "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    match = re.search(r'<pre[^>]*id="cnnedu-probe"[^>]*>(.*?)</pre>', result.stdout, re.S)
    assert match, f"{url}: the page did not finish loading (no probe report); stderr:\n{result.stderr[-2000:]}"
    return json.loads(match.group(1).replace("&quot;", '"').replace("&lt;", "<")
                      .replace("&gt;", ">").replace("&amp;", "&"))


def screenshot(binary, url, profile, path):
    subprocess.run(chromium_args(binary) + [f"--user-data-dir={profile}", "--virtual-time-budget=20000",
                                            "--window-size=1280,2400", f"--screenshot={path}", url],
                   capture_output=True, timeout=120)


@pytest.mark.parametrize("page", chapter_pages())
def test_page_renders_offline(site, page):
    binary, base, profile = site
    report = probe(binary, f"{base}/{page}", profile)
    screenshot(binary, f"{base}/{page}", profile, SCREENSHOTS / (Path(page).stem + ".png"))
    assert report["text_length"] > 200, f"{page} looks empty"
    errors = [e for e in report["errors"] if not any(a in e for a in ALLOWED_CONSOLE)]
    assert errors == [], f"{page}: console errors offline: {errors}"
    broken = [i["src"] for i in report["images"] if not i["ok"]]
    if page in plotting_pages():  # e.g. MPLBACKEND=Agg in the kernel silently drops every figure
        figures = [i for i in report["images"] if "_images/" in (i["src"] or "")]
        assert figures, f"{page}: the notebook plots, but the page shows no figure"
    assert broken == [], f"{page}: images that did not load: {broken}"
    assert report["raw_math"] == 0, f"{page}: raw $$ or \\( left in the visible text"
    if report["math_sources"]:
        assert report["math_rendered"] > 0, f"{page}: has maths but MathJax rendered none"
    if page in notebook_pages():
        assert any("mybinder.org" in h for h in report["launch"]), f"{page}: no Binder button"
        assert any("colab.research.google.com" in h for h in report["launch"]), f"{page}: no Colab button"


def test_internal_links_resolve(built_site):
    """A linkcheck of internal targets only: every relative link in the built site
    points at a file that exists and, for ``page.html#anchor``, at an id in it.
    (The build itself is nitpicky, ``-n``; external links are not checked offline.)"""
    from html.parser import HTMLParser
    from urllib.parse import unquote, urldefrag

    class Links(HTMLParser):
        def __init__(self):
            super().__init__()
            self.hrefs, self.ids = [], set()

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if attrs.get("id"):
                self.ids.add(attrs["id"])
            if tag == "a" and attrs.get("href"):
                self.hrefs.append(attrs["href"])

    parsed = {}
    for page in HTML.rglob("*.html"):
        parser = Links()
        parser.feed(page.read_text(encoding="utf-8"))
        parsed[page] = parser
    broken = []
    for page, parser in parsed.items():
        for href in parser.hrefs:
            if re.match(r"^[a-z]+:", href) or href.startswith("//"):
                continue  # external (http:, mailto:, javascript:) links
            target, anchor = urldefrag(unquote(href))
            path = (page.parent / target).resolve() if target else page
            if path.is_dir():
                path = path / "index.html"
            if not path.exists():
                broken.append(f"{page.relative_to(HTML)} -> {href}")
            elif anchor and path.suffix == ".html" and anchor not in parsed[path].ids:
                broken.append(f"{page.relative_to(HTML)} -> {href} (no such anchor)")
    assert broken == [], "broken internal links:\n" + "\n".join(broken[:30])
