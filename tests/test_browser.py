"""The built book, read in a real browser: every page renders as a reader would see it.

The book is built (or the build of this session reused), served on 127.0.0.1, and every page
of the table of contents is opened in headless Chromium through Playwright. The pages load
MathJax (and, with widgets, require.js and the widgets' HTML manager) from CDNs, which an
offline machine cannot reach: those requests are answered from the npm packages pinned in
``tests/browser/package.json`` (``make browser-assets``), so the test sees the real
rendering. Any other request that leaves the machine fails the page.

Per page: HTTP 200; no console error and no page error; every equation typeset by MathJax,
no raw TeX left in the text; every image loaded; every internal link and anchor resolves;
the theorem, definition and exercise boxes of the source present; no error or warning
printed by a cell. A full-page screenshot of each chapter lands in ``_build/screenshots``.

Without Chromium, Playwright or the assets the tests are skipped, and the summary of the
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
ASSETS = ROOT / "tests" / "browser" / "node_modules"
PAGES = toc_files()
CHAPTERS = [p for p in PAGES if p.startswith("notebooks/")]
TOTALS: dict[str, int] = {}


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
    if not (ASSETS / "mathjax" / "es5" / "tex-mml-chtml.js").is_file():
        return "the local CDN assets are missing (make browser-assets, which needs npm)"
    return None


_REASON = _why_not()
if _REASON and os.environ.get("PTHEORY_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"PTHEORY_REQUIRE_BROWSER=1 but the browser test cannot run: {_REASON}")
pytestmark = [
    pytest.mark.book,
    pytest.mark.skipif(_REASON is not None, reason=f"browser test skipped: {_REASON}"),
]


# ----------------------------------------------------------------------------- serving
_NPM_CDNS = {"cdn.jsdelivr.net": "/npm/", "unpkg.com": "/"}  # host: prefix of a package path
_PACKAGE_PATH = re.compile(r"^((?:@[^/@]+/)?[^/@]+)(?:@[^/]*)?/(.+)$")  # name[@version]/file


def local_asset(url: str) -> Path | None:
    """The local copy of a CDN URL the book loads, or None if there is none."""
    parts = urlsplit(url)
    if parts.netloc == "cdnjs.cloudflare.com" and parts.path.startswith("/ajax/libs/require.js/"):
        return ASSETS / "requirejs" / "require.js"
    prefix = _NPM_CDNS.get(parts.netloc)
    if prefix and parts.path.startswith(prefix):
        if match := _PACKAGE_PATH.match(parts.path[len(prefix) :]):
            local = ASSETS / match.group(1) / match.group(2)
            return local if local.is_file() else None
    return None


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(built_book: str) -> Iterator[str]:
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
        chromium = pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        yield chromium
        chromium.close()


# ----------------------------------------------------------------------------- reading
@dataclass
class PageReport:
    status: int = 0
    errors: list[str] = field(default_factory=list)  # console errors, page errors
    offline: list[str] = field(default_factory=list)  # requests with no local answer


_JS_STATE = """() => {
  const copy = document.body.cloneNode(true);  // the navigation too: titles hold math
  copy.querySelectorAll('pre, code, script, style, mjx-container, .highlight')
      .forEach(e => e.remove());
  return {
    text: copy.textContent,
    mathjax: document.querySelectorAll('mjx-container').length,
    images: Array.from(document.images).map(i => [i.getAttribute('src'), i.naturalWidth]),
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


def read_page(browser: object, base: str, page_file: str) -> tuple[PageReport, dict, object]:
    """Open one page, wait for MathJax and the images, and return what it shows."""
    report = PageReport()
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def route(r: object) -> None:
        url = r.request.url
        if url.startswith(base):
            r.continue_()
        elif (local := local_asset(url)) is not None:
            r.fulfill(path=str(local))
        else:
            report.offline.append(url)
            r.abort()

    context.route("**/*", route)
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
        assert not report.offline, f"{page_file}: requests with no local copy: {report.offline}"
        raw = [tex for tex in ("\\(", "\\[", "$$", "\\begin{") if tex in state["text"]]
        assert not raw, f"{page_file}: untypeset TeX {raw} left in the text"
        assert state["mathjax"] >= math_in_source, (
            f"{page_file}: {math_in_source} equations in the page, "
            f"{state['mathjax']} typeset by MathJax"
        )
        unloaded = [src for src, width in state["images"] if width == 0]
        assert not unloaded, f"{page_file}: images that did not load: {unloaded}"
        broken = broken_links(server, state["links"])
        assert not broken, f"{page_file}: broken internal links: {broken}"
        for kind, count in source_boxes(page_file).items():
            assert state["boxes"][kind] == count, (
                f"{page_file}: {count} {kind} boxes in the source, {state['boxes'][kind]} shown"
            )
        assert state["cellErrors"] == 0, f"{page_file}: a cell shows an error or a warning"
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


def test_every_chapter_has_a_screenshot(browser: object, server: str) -> None:
    """Runs after the pages (file order): the artifacts a reviewer looks at exist."""
    missing = [c for c in CHAPTERS if not (SHOTS / f"{Path(c).name}.png").is_file()]
    assert not missing, f"no screenshot of {missing}"
