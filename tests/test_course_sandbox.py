"""The grading sandbox on small notebooks (no book build): what a student's kernel can see
and do, and how the autograder's execution survives loops, floods and a dead kernel.

Needs bubblewrap (Linux); skipped without it, and a failure with
``PTHEORY_REQUIRE_SANDBOX=1`` (as ``.ci/run`` sets)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from ptheory_grading.sandbox import unavailable_reason

from booktools import ROOT, load_build_book

_REASON = unavailable_reason()
if _REASON and os.environ.get("PTHEORY_REQUIRE_SANDBOX") == "1":
    raise RuntimeError(f"PTHEORY_REQUIRE_SANDBOX=1 but the sandbox cannot run: {_REASON}")
pytestmark = pytest.mark.skipif(_REASON is not None, reason=f"grading sandbox: {_REASON}")


@pytest.fixture(scope="module")
def kernel_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ptheory_grading.sandbox import kernel_environment

    wheel = load_build_book().build_wheel(ROOT)
    return kernel_environment(wheel, tmp_path_factory.mktemp("sandbox") / "env")


def run(
    kernel_python: Path, *sources: str, timeout: int = 30, km: dict | None = None, **settings
) -> list[list[dict]]:
    """Execute cells as the autograder does; each cell's outputs. ``km`` and ``settings``
    configure the kernel manager and the executor."""
    from traitlets.config import Config

    from ptheory_grading.autograde import SandboxedExecute

    config = Config()
    config.SandboxKernelManager.kernel_python = str(kernel_python)
    config.SandboxKernelManager.memory_limit = 3 << 30
    for key, value in (km or {}).items():
        setattr(config.SandboxKernelManager, key, value)
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    executor = SandboxedExecute(config=config, timeout=timeout, interrupt_grace=5, **settings)
    executor.preprocess(nb, {"metadata": {"path": str(ROOT)}})
    return [c.outputs for c in nb.cells]


def text(outputs: list[dict]) -> str:
    return json.dumps(outputs)


def test_the_kernel_sees_nothing_of_the_course(kernel_python: Path) -> None:
    (out,) = run(
        kernel_python,
        f"""
import os, sys, socket, importlib.util, ptheory
print("uid", os.getuid(), "home", os.getcwd())
print("grader", importlib.util.find_spec("ptheory_grading"))
print("ptheory from", ptheory.__file__)
import sysconfig
print("base site", os.listdir(sysconfig.get_paths(vars={{"base": sys.base_prefix}})["purelib"]))
for path in [{str(ROOT)!r}, {str(ROOT / "grading")!r}, "/root", "/work", "/home/student/.."]:
    print(path, os.path.exists(path) and sorted(os.listdir(path)))
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
except OSError as error:
    print("network", error.errno)
open("/home/student/notes.txt", "w").write("mine")
for path in ["/usr/x", "/etc/x", {str(ROOT / "x")!r}]:
    try:
        open(path, "w")
    except OSError as error:
        print("write", path, type(error).__name__)
""",
    )
    shown = out[0]["text"] if out and out[0].get("output_type") == "stream" else text(out)
    assert "uid 65534 home /home/student" in shown or os.geteuid() != 0, shown
    assert "grader None" in shown, shown
    assert f"ptheory from {kernel_python.parent.parent}" in shown, shown
    assert f"{ROOT} False" in shown and f"{ROOT / 'grading'} False" in shown, shown
    assert "/root ['.pyenv']" in shown or "/root False" in shown or "/root []" in shown, shown
    assert "network 101" in shown, shown
    assert "base site []" in shown, shown  # the base Python's own packages are hidden
    assert shown.count("write ") == 3 and "/home/student/.. ['student']" in shown, shown
    assert not (ROOT / "x").exists()


def test_a_loop_is_interrupted_and_the_rest_runs(kernel_python: Path) -> None:
    outs = run(kernel_python, "x = 1", "while True:\n    pass", "print('after', x)", timeout=5)
    assert "KeyboardInterrupt" in text(outs[1])
    assert "after 1" in text(outs[2])


def test_a_deaf_loop_stops_the_kernel_and_the_rest(kernel_python: Path) -> None:
    deaf = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    outs = run(kernel_python, "x = 1", deaf, "print('after', x)", timeout=5)
    assert "time limit of 5 s" in text(outs[1])
    assert "not run" in text(outs[2]) and "after 1" not in text(outs[2])


def test_memory_and_floods_are_bounded(kernel_python: Path) -> None:
    outs = run(
        kernel_python,
        "hog = bytearray(8 * 2**30)",
        "import sys\nfor i in range(200_000):\n    print('x' * 100)",
        "print('still here')",
        timeout=60,
    )
    assert "MemoryError" in text(outs[0])
    assert len(text(outs[1])) < 2 << 20 and "dropped" in text(outs[1])
    assert "still here" in text(outs[2])


def test_the_notebook_has_a_time_and_an_output_budget(kernel_python: Path) -> None:
    """Many cells, each under the cell's limit, cannot stall the grading of the class:
    past the notebook's limit the kernel is stopped and the rest earns nothing. Many cells
    of output, each under the cell's cap, cannot flood the grader."""
    page = "print('y' * 40_000)"
    nap = "import time\ntime.sleep(4)"
    outs = run(kernel_python, page, page, nap, nap, nap, "print('late')", timeout=30,
               notebook_timeout=12, max_notebook_output_bytes=60_000)  # fmt: skip
    assert "y" * 1000 in text(outs[0])
    assert "y" * 1000 not in text(outs[1]) and "dropped" in text(outs[1])
    stopped = [i for i, out in enumerate(outs) if "total time limit of 12 s" in text(out)]
    assert stopped and stopped[0] >= 2, [text(o)[:200] for o in outs]
    assert "late" not in text(outs[-1]) and "not run" in text(outs[-1])


def test_forked_children_share_one_memory_limit(kernel_python: Path) -> None:
    """rlimits hold per process: three children of 400 MiB each under a 3 GiB limit apiece
    would pass them. The watchdog adds up the kernel's processes and stops it."""
    fork = """\
import os, time
for _ in range(3):
    if os.fork() == 0:
        hog = bytearray(b"\\x01") * (400 * 2**20)
        time.sleep(20)
        os._exit(0)
time.sleep(20)
"""
    outs = run(kernel_python, "x = 1", fork, "print('after', x)", timeout=40,
               km={"tree_memory_limit": 1 << 30})  # fmt: skip
    assert "memory of all" not in text(outs[0])
    assert "more than 1 GiB of memory together" in text(outs[1]), text(outs[1])
    assert "not run" in text(outs[2]) and "after 1" not in text(outs[2])


def test_a_kernel_that_cannot_start_fails_loudly(tmp_path: Path) -> None:
    """No student code ran: the grader's fault, reported, never a silent zero."""
    missing = tmp_path / "env" / "bin" / "python"
    with pytest.raises(Exception, match=r"(?i)kernel|died|python"):
        run(missing, "x = 1", timeout=20)


def test_submit_records_in_the_sandbox(kernel_python: Path) -> None:
    from ptheory.exercises.handin import ANSWER_MIME

    (out,) = run(
        kernel_python,
        "from ptheory.exercises.handin import submit\nsubmit('ex-model-repeat', lambda w, k: w)",
    )
    (record,) = [o for o in out if ANSWER_MIME in o.get("data", {})]
    payload = record["data"][ANSWER_MIME]
    assert payload["label"] == "ex-model-repeat" and len(payload["answer"]) == 8
    nbformat.validate(new_notebook(cells=[new_code_cell("x")]))
