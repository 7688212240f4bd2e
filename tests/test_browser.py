"""The built book, read in a real browser: every page renders as a reader would see it.

The book is built (or the build of this session reused), served on 127.0.0.1, and every page
of the table of contents is opened in headless Chromium through Playwright. Every request
that does not go to the loopback server is **blocked**: the book must be self-contained
(MathJax, require.js and the widgets' HTML manager come from its own ``_static/vendor``,
see ``book/_ext/book_fixes.py``), and a page that asks for anything else fails.

Per page: HTTP 200; no console error and no page error; no request leaving the machine
(also when the page is opened from disk, ``file://``, with no server);
every equation typeset by MathJax, no raw TeX left in the text; every image loaded, with
alt text that is not a file name; every internal link and anchor resolves; the theorem,
definition and exercise boxes of the source present; no error or warning printed by a
cell; axe-core (pinned in ``tests/browser/package.json``) finds no critical or serious
accessibility violation (its counts per page land in ``_build/reports/axe.json``). Every
page is opened again in dark mode (the reader's system preference, which the theme
follows): the theme switches to dark without a console error, and every figure stays
readable (opaque, or on a light background). A full-page screenshot of each chapter lands
in ``_build/screenshots``.

Without Chromium, Playwright or axe-core the tests are skipped, and the summary of the
run says so in red; with ``PTHEORY_REQUIRE_BROWSER=1`` (as ``.ci/run`` sets) they fail.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from booktools import REPORTS, ROOT, toc_files

HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
AXE = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
PAGES = toc_files()
CHAPTERS = [p for p in PAGES if p.startswith("notebooks/")]
TOTALS: dict[str, int] = {}
AXE_COUNTS: dict[str, dict[str, int]] = {}


def _chromium() -> str | None:
    names = ("chromium", "chromium-browser", "google-chrome")
    for candidate in (os.environ.get("PTHEORY_CHROMIUM"), *names):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def _why_not() -> str | None:
    """Why the browser test cannot run here, or None if it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    if _chromium() is None:
        return "no Chromium found (apt-get install chromium, or set PTHEORY_CHROMIUM)"
    if not AXE.is_file():
        return "axe-core is missing (make browser-assets, which needs npm)"
    return None


_REASON = _why_not()
if _REASON and os.environ.get("PTHEORY_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"PTHEORY_REQUIRE_BROWSER=1 but the browser test cannot run: {_REASON}")
pytestmark = [
    pytest.mark.book,
    pytest.mark.skipif(_REASON is not None, reason=f"browser test skipped: {_REASON}"),
]


# ----------------------------------------------------------------------------- serving
class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(built_pdf: Path) -> Iterator[str]:  # the site as published: it offers the PDF
    handler = functools.partial(_Quiet, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = launch_chromium(pw)
        yield chromium
        chromium.close()


def launch_chromium(pw: object) -> object:
    """Headless Chromium (the one :func:`_chromium` finds) from a Playwright handle."""
    return pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])


def block_outside(context: object, prefix: str, blocked: list[str]) -> None:
    """Route every request of a browser ``context``: one whose URL starts with ``prefix``
    goes ahead, any other is aborted and its URL appended to ``blocked``."""

    def route(r: object) -> None:
        url = r.request.url
        if url.startswith(prefix):
            r.continue_()
        else:
            blocked.append(url)
            r.abort()

    context.route("**/*", route)


# ----------------------------------------------------------------------------- reading
@dataclass
class PageReport:
    status: int = 0
    errors: list[str] = field(default_factory=list)  # console errors, page errors
    blocked: list[str] = field(default_factory=list)  # requests that left the machine


_JS_STATE = """() => {
  const copy = document.body.cloneNode(true);  // the navigation too: titles hold math
  copy.querySelectorAll('pre, code, script, style, mjx-container, .highlight')
      .forEach(e => e.remove());
  return {
    text: copy.textContent,
    mathjax: document.querySelectorAll('mjx-container').length,
    images: Array.from(document.images).map(
        i => [i.getAttribute('src'), i.naturalWidth, i.getAttribute('alt') || '']),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    boxes: {
      theorem: document.querySelectorAll('div.proof.theorem').length,
      lemma: document.querySelectorAll('div.proof.lemma').length,
      definition: document.querySelectorAll('div.proof.definition').length,
      exercise: document.querySelectorAll('div.exercise').length,
      solution: document.querySelectorAll('div.solution').length,
    },
    cellErrors: document.querySelectorAll(
      '.cell_output .output.error, .cell_output .output.traceback, .cell_output .stderr').length,
  };
}"""


def read_page(
    browser: object, base: str, page_file: str, scheme: str = "light"
) -> tuple[PageReport, dict, object]:
    """Open one page, wait for MathJax and the images, and return what it shows.

    Every request that does not go to ``base`` (the loopback server) is aborted and
    recorded: the book must not need the network.
    """
    report = PageReport()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    block_outside(context, base, report.blocked)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and report.errors.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: report.errors.append(f"page error: {e}"))
    response = page.goto(base + page_file + ".html", wait_until="load")
    report.status = response.status if response else 0
    page.evaluate("document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    if page.evaluate("typeof window.MathJax !== 'undefined'"):
        page.wait_for_function("window.MathJax.startup && window.MathJax.startup.promise")
        page.evaluate("window.MathJax.startup.promise.then(() => true)")
    return report, page.evaluate(_JS_STATE), page


_AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, nodes: v.nodes.length,
    first: v.nodes[0] ? v.nodes[0].target.join(' ') : ''}));
}"""


def axe_violations(page: object) -> list[dict]:
    """axe-core's violations on the open page (injected from the pinned npm package)."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate(_AXE_RUN)


# In dark mode: is every content figure readable? An image is readable when its corners
# are opaque (it brings its own background), or when what is behind it is light.
_JS_DARK = """() => {
  const light = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor.match(/[0-9.]+/g);
      if (c && (c.length < 4 || Number(c[3]) > 0)) {
        const [r, g, b] = c.slice(0, 3).map(Number);
        return 0.2126 * r + 0.7152 * g + 0.0722 * b > 160;
      }
    }
    return false;
  };
  const unreadable = [];
  for (const img of document.querySelectorAll('.bd-article img')) {
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const w = img.naturalWidth - 1, h = img.naturalHeight - 1;
    const opaque = [[0, 0], [w, 0], [0, h], [w, h]].every(
      ([x, y]) => ctx.getImageData(x, y, 1, 1).data[3] === 255);
    if (!opaque && !light(img)) unreadable.push(img.getAttribute('src'));
  }
  return {theme: document.documentElement.dataset.theme, unreadable: unreadable};
}"""


@functools.cache
def _anchors(path: Path) -> frozenset[str]:
    return frozenset(re.findall(r'\b(?:id|name)="([^"]+)"', path.read_text()))


def broken_links(base: str, links: list[str]) -> list[str]:
    broken = []
    for link in links:
        if not link.startswith(base):
            continue  # external: not the book's to check offline
        parts = urlsplit(link)
        rel = unquote(parts.path[len(urlsplit(base).path) :])
        target = HTML / rel if rel else HTML / "index.html"
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(link)
        elif parts.fragment and target.suffix == ".html":
            if unquote(parts.fragment) not in _anchors(target):
                broken.append(link)
    return broken


_BOX = re.compile(r"^[`:]{3,}\{(prf:theorem|prf:lemma|prf:definition|exercise|solution)\}", re.M)


def source_boxes(page_file: str) -> dict[str, int]:
    """How many theorem, lemma, definition, exercise and solution boxes the source has."""
    source = next(ROOT.glob(page_file + ".*")).read_text()
    found = [m.removeprefix("prf:") for m in _BOX.findall(source)]
    return {kind: found.count(kind) for kind in ("theorem", "lemma", "definition", "exercise")}


@pytest.mark.parametrize("page_file", PAGES)
def test_page_renders(browser: object, server: str, page_file: str) -> None:
    report, state, page = read_page(browser, server, page_file)
    html_source = (HTML / f"{page_file}.html").read_text()
    math_in_source = html_source.count('class="math notranslate nohighlight"')
    try:
        assert report.status == 200, f"{page_file}: HTTP {report.status}"
        assert not report.errors, f"{page_file}: {report.errors}"
        assert not report.blocked, f"{page_file}: requests leaving the machine: {report.blocked}"
        raw = [tex for tex in ("\\(", "\\[", "$$", "\\begin{") if tex in state["text"]]
        assert not raw, f"{page_file}: untypeset TeX {raw} left in the text"
        assert state["mathjax"] >= math_in_source, (
            f"{page_file}: {math_in_source} equations in the page, "
            f"{state['mathjax']} typeset by MathJax"
        )
        unloaded = [src for src, width, _ in state["images"] if width == 0]
        assert not unloaded, f"{page_file}: images that did not load: {unloaded}"
        no_alt = [src for src, _, alt in state["images"] if not alt.strip() or alt.endswith(src)]
        assert not no_alt, f"{page_file}: images without alt text: {no_alt}"
        broken = broken_links(server, state["links"])
        assert not broken, f"{page_file}: broken internal links: {broken}"
        for kind, count in source_boxes(page_file).items():
            assert state["boxes"][kind] == count, (
                f"{page_file}: {count} {kind} boxes in the source, {state['boxes'][kind]} shown"
            )
        assert state["cellErrors"] == 0, f"{page_file}: a cell shows an error or a warning"
        violations = axe_violations(page)
        counts = {level: 0 for level in ("critical", "serious", "moderate", "minor")}
        for v in violations:
            counts[v["impact"] or "minor"] += v["nodes"]
        AXE_COUNTS[page_file] = counts
        REPORTS.mkdir(parents=True, exist_ok=True)
        (REPORTS / "axe.json").write_text(json.dumps(AXE_COUNTS, indent=2) + "\n")
        grave = [v for v in violations if v["impact"] in ("critical", "serious")]
        assert not grave, f"{page_file}: accessibility violations (axe-core): {grave}"
        if page_file in CHAPTERS:
            assert state["images"], f"{page_file}: a chapter without a figure"
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"{Path(page_file).name}.png"), full_page=True)
            if page_file == CHAPTERS[0]:
                page.screenshot(path=str(SHOTS / "readme.png"))  # the top of the first one
    finally:
        page.context.close()
    for key, value in (
        ("pages", 1),
        ("equations", state["mathjax"]),
        ("images", len(state["images"])),
        ("internal links", sum(link.startswith(server) for link in state["links"])),
        ("boxes", sum(state["boxes"].values())),
    ):
        TOTALS[key] = TOTALS.get(key, 0) + value
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "browser.json").write_text(json.dumps(TOTALS, indent=2) + "\n")


@pytest.mark.parametrize("page_file", PAGES)
def test_page_opened_from_disk(browser: object, server: str, page_file: str) -> None:
    """A saved copy of the site, opened from disk (``file://``, no server, every other
    request blocked), reads the same: no error, every equation typeset, every image."""
    base = HTML.resolve().as_uri() + "/"
    report, state, page = read_page(browser, base, page_file)
    page.context.close()
    math_in_source = (HTML / f"{page_file}.html").read_text().count('class="math notranslate')
    assert not report.errors, f"{page_file} (from disk): {report.errors}"
    assert not report.blocked, f"{page_file} (from disk): requests leaving: {report.blocked}"
    assert state["mathjax"] >= math_in_source, f"{page_file} (from disk): math not typeset"
    unloaded = [src for src, width, _ in state["images"] if width == 0]
    assert not unloaded, f"{page_file} (from disk): images that did not load: {unloaded}"


@pytest.mark.parametrize("page_file", PAGES)
def test_page_in_dark_mode(browser: object, server: str, page_file: str) -> None:
    """The reader's system asks for dark: the theme follows, and figures stay readable."""
    report, _, page = read_page(browser, server, page_file, scheme="dark")
    try:
        dark = page.evaluate(_JS_DARK)
        assert not report.errors, f"{page_file} (dark): {report.errors}"
        assert not report.blocked, f"{page_file} (dark): requests leaving: {report.blocked}"
        assert dark["theme"] == "dark", f"{page_file}: the theme stays {dark['theme']!r}"
        assert not dark["unreadable"], f"{page_file}: unreadable on dark: {dark['unreadable']}"
        if page_file == CHAPTERS[0]:
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "dark.png"))
    finally:
        page.context.close()


def test_every_chapter_has_a_screenshot(browser: object, server: str) -> None:
    """Runs after the pages (file order): the artifacts a reviewer looks at exist."""
    missing = [c for c in CHAPTERS if not (SHOTS / f"{Path(c).name}.png").is_file()]
    assert not missing, f"no screenshot of {missing}"
