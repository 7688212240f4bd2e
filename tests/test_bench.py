"""``python -m ptheory.bench`` prints its tables and writes its JSON (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ptheory import bench
from ptheory.efficiency import select_degree

SMALL = ["--sizes", "64", "128", "--runs", "1", "--error-rows", "32", "--no-memory"]


def test_main_prints_the_tables_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = [*SMALL, "--bounds", "0.5", "1", "--alphas", "0.25", "--json", str(out)]
    assert bench.main(argv) == 0
    text = capsys.readouterr().out
    for word in (
        "median of 1 interleaved runs",
        "performer",
        "elu+1",
        "mean(V)",
        "speed-up map",
        "GFLOP/s",
        "plain matmul",
        "load average",
    ):
        assert word in text
    assert "conservative" not in text
    data = json.loads(out.read_text())
    rows = data["rows"]
    assert {r["n"] for r in rows} == {64, 128} and data["statistic"] == "median"
    assert {r["threads"] for r in rows} == set(data["threads"])
    for r in rows:  # the guaranteed degree, and every measured error within eps
        assert r["degree"] == select_degree(r["entry_bound"], 1e-3, 8, method="chebyshev").degree
        if r["affordable"]:
            assert r["errors"]["random"]["poly"]["abs"] <= r["proved"] <= 1e-3
            assert r["errors"]["random"]["poly"]["abs"] <= r["proved_fp"]  # covers fp32
            assert set(r["seconds"]) == {"exact", "poly", "performer", "elu"}
        else:
            assert set(r["seconds"]) == {"exact"} and r["speedup"] is None
        assert set(r["mean_v"]) == {"random", "correlated"}
    assert data["roofline"][0]["matmul"]["gflops"] > 0


@pytest.mark.parametrize(
    "argv",
    [
        ["--sizes", "1"],
        ["--runs", "0"],
        ["--eps", "0"],
        ["--d", "0"],
        ["--threads", "0"],
    ],
)
def test_bad_options_exit_with_usage(argv):
    with pytest.raises(SystemExit) as info:
        bench.main(argv)
    assert info.value.code == 2


def test_module_runs_as_a_script():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ptheory.bench",
            *SMALL,
            "--alphas",
            "--bounds",
            "0.5",
            "--no-baselines",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "speed-up" in done.stdout
