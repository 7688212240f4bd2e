"""``make lab``: a chapter opened in JupyterLab reads as MyST, not as raw text.

JupyterLab (with jupytext, which opens the ``.md`` chapters as notebooks, and
jupyterlab-myst, which renders their MyST) is started on 127.0.0.1 behind the network
guard, and headless Chromium (every non-loopback request blocked) opens one chapter as a
notebook, runs all its cells and takes a screenshot (``_build/screenshots/lab.png``).
Then: every code cell ran, none shows an error, the theorem and lemma boxes are rendered
as boxes, and no raw directive fence is visible in any rendered Markdown cell.

Skipped without Chromium, Playwright or the lab extra (``pip install -e '.[lab]'``, which
``make test`` installs); with ``PTHEORY_REQUIRE_BROWSER=1`` (``.ci/run``) that fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from test_browser import SHOTS, _chromium, block_outside, launch_chromium

from booktools import ROOT

CHAPTER = "prompt_tuning_model.md"


def _why_not() -> str | None:
    try:
        import jupyterlab  # noqa: F401
        import jupyterlab_myst  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError as err:
        return f"{err.name} is not installed (pip install -e '.[lab,test]')"
    if _chromium() is None:
        return "no Chromium found"
    return None


_REASON = _why_not()
if _REASON and os.environ.get("PTHEORY_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"PTHEORY_REQUIRE_BROWSER=1 but the lab test cannot run: {_REASON}")
pytestmark = [
    pytest.mark.book,
    pytest.mark.skipif(_REASON is not None, reason=f"lab test skipped: {_REASON}"),
]

SETTINGS = {
    # .md chapters open as notebooks (as make lab's overrides.json says)
    "@jupyterlab/docmanager-extension/plugin": {
        "defaultViewers": {"markdown": "Notebook", "myst": "Notebook"},
        "autosave": False,  # never write the chapter back
    },
    # every cell in the page, so that the test sees all of them
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    # no "get notified about Jupyter news?" toast over the chapter (make lab: the same)
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("lab")
    for plugin, values in SETTINGS.items():
        path = home / "settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "ptheory-lab-test"
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        # the book's contents manager (book/_ext/lab_contents.py), as make lab uses it
        "PYTHONPATH": os.pathsep.join(
            [os.environ.get("PYTHONPATH", ""), str(ROOT / "book" / "_ext")]
        ),
    }
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1"]
    cmd += [f"--port={port}", f"--IdentityProvider.token={token}", "--expose-app-in-browser"]
    # a copy of the chapter (with the repository's jupytext settings): the test never
    # touches the source, even if something saves
    folder = home / "notebooks"
    folder.mkdir()
    shutil.copy2(ROOT / "notebooks" / CHAPTER, folder / CHAPTER)
    shutil.copy2(ROOT / "jupytext.toml", home / "jupytext.toml")
    cmd += [f"--ServerApp.root_dir={folder}", "--ServerApp.port_retries=0"]
    cmd += ["--ServerApp.contents_manager_class=lab_contents.BookContentsManager"]
    # offline: no extension listing from PyPI, no news; root in containers and CI
    cmd += ["--LabApp.extension_manager=readonly", "--LabApp.news_url=", "--allow-root"]
    log = open(home / "lab.log", "w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if server.poll() is not None:
                pytest.fail("JupyterLab did not start:\n" + (home / "lab.log").read_text())
            time.sleep(0.5)
    yield f"{base}/lab?token={token}"
    server.terminate()
    server.wait(timeout=30)
    log.close()


_STATE = """() => {
  const cells = Array.from(document.querySelectorAll('.jp-Notebook .jp-Cell'));
  const code = cells.filter(c => c.classList.contains('jp-CodeCell'));
  const markdown = cells.filter(c => c.classList.contains('jp-MarkdownCell'));
  return {
    code: code.length,
    ran: code.filter(c => /\\[\\d+\\]/.test(
        (c.querySelector('.jp-InputArea-prompt') || {}).textContent || '')).length,
    busy: code.filter(c => ((c.querySelector('.jp-InputArea-prompt') || {}).textContent || '')
        .includes('*')).length,
    errors: document.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"],' +
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').length,
    rendered: markdown.map(c => {
      const r = c.querySelector('.jp-RenderedMarkdown, .jp-RenderedMySTMarkdown, .myst');
      return r ? r.innerText : null;
    }),
    mathErrors: Array.from(document.querySelectorAll('.jp-MarkdownCell'))
        .filter(c => /Undefined control sequence/.test(c.innerText)).length,
    boxes: Array.from(document.querySelectorAll(
        '.jp-MarkdownCell aside, .jp-MarkdownCell .admonition'))
        .map(b => b.innerText.slice(0, 80)),
  };
}"""


def test_lab_renders_a_chapter_as_myst(lab: str) -> None:
    from playwright.sync_api import sync_playwright

    source = (ROOT / "notebooks" / CHAPTER).read_text()
    before = source
    boxes_in_source = len(
        re.findall(r"^[`:]{3,}\{prf:(?:theorem|lemma|definition)\}", source, re.M)
    )
    assert boxes_in_source >= 1
    blocked: list[str] = []
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        block_outside(context, "http://127.0.0.1", blocked)
        page = context.new_page()
        page.goto(lab, wait_until="load")
        page.wait_for_function("window.jupyterapp && window.jupyterapp.started", timeout=120_000)
        page.evaluate("window.jupyterapp.started")
        page.evaluate(
            "([path]) => window.jupyterapp.commands.execute('docmanager:open', "
            "{path, factory: 'Notebook'})",
            [CHAPTER],
        )
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        kernel = (
            "(() => { const w = window.jupyterapp.shell.currentWidget;"
            " const k = w && w.sessionContext && w.sessionContext.session"
            " && w.sessionContext.session.kernel; return k ? k.status : null; })()"
        )
        page.wait_for_function(f"{kernel} === 'idle'", timeout=120_000)
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        deadline = time.monotonic() + 300
        state = page.evaluate(_STATE)
        while time.monotonic() < deadline:
            state = page.evaluate(_STATE)
            idle = page.evaluate(kernel) == "idle"
            if state["code"] and state["ran"] == state["code"] and not state["busy"] and idle:
                break
            time.sleep(2)
        page.evaluate("window.jupyterapp.commands.execute('notebook:render-all-markdown')")
        time.sleep(2)
        state = page.evaluate(_STATE)
        toasts = page.evaluate(
            "Array.from(document.querySelectorAll('.Toastify__toast')).map(t => t.innerText)"
        )
        page.evaluate("document.querySelector('.jp-WindowedPanel-outer').scrollTop = 0")
        time.sleep(1)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "lab.png"))
        browser.close()
    assert state["code"] > 0 and state["ran"] == state["code"], (
        f"{state['ran']} of {state['code']} code cells ran"
    )
    assert state["errors"] == 0, f"{state['errors']} cells show an error"
    rendered = [text for text in state["rendered"] if text is not None]
    assert len(rendered) == len(state["rendered"]), "a Markdown cell is not rendered"
    raw = [t[:120] for t in rendered if re.search(r"[`:]{3,}\{[\w:-]+\}|\{prf:\w+\}", t)]
    assert not raw, f"raw MyST directives visible: {raw}"
    # citations show keys in lab: the References cell at the end says which works they are
    assert rendered[-1].startswith("References"), rendered[-1][:200]
    assert "hu2025fundamental" in rendered[-1] and "Hu et al., 2025" in rendered[-1]
    assert state["mathErrors"] == 0, f"{state['mathErrors']} formulas fail (undefined macros?)"
    titled = [b for b in state["boxes"] if re.match(r"(Theorem|Lemma|Definition)", b)]
    assert len(titled) >= boxes_in_source, f"boxes rendered: {state['boxes']}"
    assert not blocked, f"requests leaving the machine: {blocked}"
    assert not toasts, f"notifications over the chapter: {toasts}"
    assert (ROOT / "notebooks" / CHAPTER).read_text() == before, "the chapter was modified"


def test_make_lab_uses_the_settings_tested_here() -> None:
    """``make lab``'s overrides.json (written by the Makefile) sets what this test's
    JupyterLab gets, except autosave and windowing, which only the test turns off."""
    makefile = (ROOT / "Makefile").read_text()
    overrides = json.loads(re.search(r"printf '%s\\n' '(\{.*\})' > \$@", makefile).group(1))
    for plugin, values in SETTINGS.items():
        if plugin == "@jupyterlab/notebook-extension/tracker":
            continue
        package, _, name = plugin.rpartition("/")
        lab = overrides.get(f"{package}:{name}")
        assert lab is not None, f"make lab does not set {plugin}"
        expected = {k: v for k, v in values.items() if k != "autosave"}
        assert lab == expected, f"{plugin}: make lab {lab}, the test {expected}"
