"""``python -m ptheory.bench`` prints its table and writes its JSON (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ptheory import bench


def test_main_prints_the_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--sizes", "64", "128", "--repeats", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    for word in ("exact (ms)", "poly (ms)", "speed-up", "max error", "fitted slope"):
        assert word in text
    data = json.loads(out.read_text())
    assert [r["n"] for r in data["rows"]] == [64, 128]
    assert data["d"] == 8 and data["degree"] == 2 and data["dtype"] == "float32"
    assert all(r["error"] <= 1e-3 for r in data["rows"])


def test_options(capsys):
    assert (
        bench.main(["--sizes", "32", "--no-error", "--method", "chebyshev", "--degree", "3"]) == 0
    )
    text = capsys.readouterr().out
    assert "degree g = 3 (chebyshev)" in text and "rank r = C(d+g, g) = 165" in text


@pytest.mark.parametrize(
    "argv",
    [
        ["--sizes", "1"],
        ["--repeats", "0"],
        ["--degree", "-1"],
        ["--method", "pade"],
        ["--threads", "0"],
    ],
)
def test_bad_options_exit_with_usage(argv):
    with pytest.raises(SystemExit) as info:
        bench.main(argv)
    assert info.value.code == 2


def test_module_runs_as_a_script():
    done = subprocess.run(
        [sys.executable, "-m", "ptheory.bench", "--sizes", "32", "64", "--repeats", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "speed-up" in done.stdout
