"""The phase-transition experiments, the timing engine and the figures of the efficiency part.

No timing assertions: timings are only checked for shape and sign.
"""

from __future__ import annotations

import math

import pytest
import torch
from matplotlib.figure import Figure

from ptheory.efficiency import (
    FeasibleBound,
    benchmark_attention,
    best_time,
    crossover_size,
    entry_error_bound,
    interleaved_times,
    largest_feasible_bound,
    nn_gadget,
    planted_mass,
    plot_error_vs_bound,
    plot_feasible_bound,
    plot_gadget,
    plot_planted_mass,
    plot_runtime,
    plot_speedup_map,
    select_degree,
    sign_vectors,
)


def test_sign_vectors_are_signs_and_seeded():
    a = sign_vectors(50, 7, seed=3)
    assert a.shape == (50, 7) and a.dtype == torch.float64
    assert set(a.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(a, sign_vectors(50, 7, seed=3))
    assert not torch.equal(a, sign_vectors(50, 7, seed=4))


def test_planted_mass_jumps_across_sqrt_ln_n():
    n = 1024
    root = math.sqrt(math.log(n))
    ratios = [0.25, 0.5, 1.0, 1.5, 2.0]
    mass = planted_mass(n, [r * root for r in ratios], d=64, trials=8, seed=0)
    assert mass.shape == (5, 8) and ((mass > 0) & (mass <= 1)).all()
    med = mass.median(dim=1).values
    assert (med.diff() > 0).all()
    assert med[1] < 0.05 and med[3] > 0.95  # 0.5 sqrt(ln n) vs 1.5 sqrt(ln n)
    again, lower, upper = planted_mass(
        n, [r * root for r in ratios], d=64, trials=8, with_bounds=True
    )
    assert torch.equal(again, mass)
    assert (lower <= mass * (1 + 1e-12)).all() and (mass <= upper * (1 + 1e-12)).all()
    assert (lower[2:] < upper[2:]).all()
    # B = 0: uniform attention, the planted key gets exactly 1/n
    assert torch.allclose(
        planted_mass(n, [0.0], trials=2), torch.full((1, 2), 1 / n, dtype=torch.float64)
    )


def test_nn_gadget_exact_attention_retrieves_and_low_rank_cannot():
    n = 512
    root = math.sqrt(math.log(n))
    res = nn_gadget(n, [0.3 * root, 2.0 * root], d=64, queries=32, seed=1)
    low, high = res
    assert low.accuracy == 0.5 and low.retrieved == 0.0  # averaging: nothing found
    assert high.accuracy == 1.0 and high.retrieved == 1.0  # nearest-neighbour retrieval
    assert high.poly_rank <= n / 5 and high.poly_rank == math.comb(
        64 + high.poly_degree, high.poly_degree
    )
    assert high.poly_accuracy <= 0.75  # what a rank <= n/5 polynomial reads off: near chance
    assert math.isnan(nn_gadget(n, [1.0], poly=False)[0].poly_accuracy)


def test_largest_feasible_bound_measured_at_least_proved():
    results = [largest_feasible_bound(n, d=6, target=1e-2, seed=0) for n in (64, 256, 1024)]
    for r in results:
        assert isinstance(r, FeasibleBound)
        assert math.comb(r.d + r.max_degree, r.max_degree) == r.max_rank <= 0.2 * r.n
        # the proved bound holds for every input, so the measurement cannot do worse
        assert r.measured >= r.proved > 0
        assert entry_error_bound(r.max_degree, r.proved**2, "chebyshev") < 1
    assert [r.max_degree for r in results] == sorted(r.max_degree for r in results)
    none = largest_feasible_bound(4, d=6)
    assert none.max_degree == -1 and none.measured == 0.0
    proved_only = largest_feasible_bound(256, d=6, target=1e-2, measure=False)
    assert proved_only.proved == results[1].proved and math.isnan(proved_only.measured)
    assert proved_only.max_degree == results[1].max_degree


def test_best_time_and_benchmark_rows():
    calls = []
    t = best_time(lambda: calls.append(1), 3)
    assert t >= 0 and len(calls) == 4  # one warm-up, three timed
    order = []
    times = interleaved_times({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, 2)
    assert set(times) == {"a", "b"} and order == ["a", "b"] * 3  # warm-up, then interleaved
    threads = torch.get_num_threads()
    result = benchmark_attention(
        [64, 256], entry_bounds=[0.5, 2.0], alphas=[], threads=[1], runs=1, error_rows=32
    )
    assert torch.get_num_threads() == threads
    rows = {(r["n"], r["config"]): r for r in result["rows"]}
    assert set(rows) == {(64, "B=0.5"), (64, "B=2"), (256, "B=0.5"), (256, "B=2")}
    for r in rows.values():
        assert r["threads"] == 1 and r["seconds"]["exact"] > 0
        if r["affordable"]:
            assert r["errors"]["random"]["poly"]["abs"] <= r["proved"] <= 1e-3
            assert r["errors"]["correlated"]["poly"]["abs"] <= r["proved"]
            # mean(V) row: the trivial algorithm's error is the output's spread
            assert r["mean_v"]["random"]["rel"] == 1.0
    assert not rows[(64, "B=2")]["affordable"] and rows[(64, "B=2")]["speedup"] is None
    assert rows[(256, "B=0.5")]["degree"] == select_degree(0.5, 1e-3, 8, method="chebyshev").degree


def test_crossover_interpolates_on_log_axes():
    def row(n, s, config="B=1"):
        return {"n": n, "speedup": s, "config": config, "threads": 1}

    rows = [row(100, 0.5), row(400, 2.0), row(1600, None), row(100, 9.0, "B=2")]
    assert crossover_size({"rows": rows}) == pytest.approx(200.0)
    assert crossover_size({"rows": rows}, config="B=2") == 100.0
    assert crossover_size({"rows": [row(8, 3.0)]}) == 8.0
    assert crossover_size({"rows": [row(8, 0.3)]}) is None


def test_figures_are_returned():
    bounds = [0.5, 1.0, 1.5]
    errors = torch.tensor([[1e-4, 1e-3, 1e-2], [1e-6, 1e-5, 1e-3]])
    assert isinstance(
        plot_error_vs_bound(bounds, errors, [2, 4], errors * 3, threshold=1.2), Figure
    )
    result = benchmark_attention([32, 64], threads=[1], runs=1, errors=False, alphas=[])
    assert isinstance(plot_runtime(result), Figure)
    assert isinstance(plot_speedup_map(result, model_line=[(32, 0.5), (64, 0.7)]), Figure)
    masses = torch.rand(2, 3, 4)
    assert isinstance(plot_planted_mass([64, 128], [0.5, 1.0, 1.5], masses), Figure)
    gadget = {64: nn_gadget(64, [1.0, 3.0], queries=4)}
    assert isinstance(plot_gadget(gadget), Figure)
    feas = [largest_feasible_bound(n, d=4, grid=[0.5, 1.0]) for n in (64, 128)]
    assert isinstance(plot_feasible_bound(feas), Figure)
