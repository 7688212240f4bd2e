"""``python -m ptheory.bench`` prints its tables and writes its JSON (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from ptheory import bench
from ptheory.efficiency import select_degree

SMALL = ["--sizes", "64", "128", "--runs", "1", "--error-rows", "32"]


def test_main_prints_the_tables_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = [*SMALL, "--bounds", "0.5", "1", "--decode-sizes", "16", "32", "--json", str(out)]
    assert bench.main(argv) == 0
    text = capsys.readouterr().out
    for word in (
        "side by side",
        "median of 1 interleaved rounds",
        "new/former",
        "SDPA",
        "guarantees and errors",
        "adversary",
        "performer",
        "elu+1",
        "nystrom",
        "mean(V)",
        "one decoding step",
        "load average",
    ):
        assert word in text
    data = json.loads(out.read_text())
    rows = data["rows"]
    assert {r["n"] for r in rows} == {64, 128} and data["statistic"].startswith("median")
    assert {r["threads"] for r in rows} == set(data["threads"])
    for r in rows:  # the certified float32 degree, and every measured error within it
        plan = select_degree(
            r["entry_bound"], 1e-3, 8, method="best", dtype=torch.float32, n=r["n"]
        )
        assert (r["degree"], r["method"]) == (plan.degree, plan.method) and r["guaranteed"]
        assert r["legacy_degree"] >= r["degree"]
        if r["affordable"]:
            assert r["errors"]["random"]["poly"]["abs"] <= r["proved_fp32"] <= r["proved"] <= 1e-3
            assert set(r["seconds"]) == {"exact", "poly", "legacy", "performer", "elu", "nystrom"}
            assert r["legacy_ratio"] > 0
        else:
            assert set(r["seconds"]) == {"exact"} and r["speedup"] is None
        assert set(r["mean_v"]) == {"random", "correlated"}
    assert [row["n"] for row in data["decode"]["rows"]] == [16, 32]


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
            "--bounds",
            "0.5",
            "--no-baselines",
            "--no-decode",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "side by side" in done.stdout


def test_interleaved_rounds_vary_the_order_and_time_every_call():
    # every round calls each function once, in another order: no function always follows
    # the same one (a call can leave busy threads or a full cache behind)
    from ptheory.efficiency import interleaved_samples

    calls = []
    fns = {name: (lambda name=name: calls.append(name)) for name in "abcd"}
    times = interleaved_samples(fns, runs=12)
    assert all(len(t) == 12 for t in times.values())
    rounds = [calls[4 * (k + 1) : 4 * (k + 2)] for k in range(12)]  # after the warm-up
    assert all(sorted(r) == list("abcd") for r in rounds)
    for name in "abcd":
        before = {r[r.index(name) - 1] for r in rounds if r.index(name) > 0}
        assert len(before) >= 2, (name, before)
    assert len({tuple(r) for r in rounds}) >= 4
    # each time is credited to the function that took it, whatever the order of its round
    import time

    slow = {"fast": lambda: None, "slow": lambda: time.sleep(0.004)}
    times = interleaved_samples(slow, runs=8)
    assert min(times["slow"]) >= 0.004 > max(times["fast"])


def test_benchmark_times_exact_attention_where_no_polynomial_pays():
    # at B = 2 and small n no certified degree is affordable: the rows still time exact
    # attention (the kernels' rounds are empty and skipped)
    from ptheory.efficiency import benchmark_attention

    result = benchmark_attention(
        [64, 256], entry_bounds=[2.0], threads=[1], runs=1, errors=False, baselines=False
    )
    rows = result["rows"]
    assert [r["n"] for r in rows] == [64, 256]
    assert all(not r["affordable"] and set(r["seconds"]) == {"exact"} for r in rows)
    assert all(r["seconds"]["exact"] > 0 for r in rows)
