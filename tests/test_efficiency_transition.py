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
    largest_feasible_bound,
    nn_gadget,
    planted_mass,
    plot_error_vs_bound,
    plot_feasible_bound,
    plot_gadget,
    plot_planted_mass,
    plot_runtime,
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
    assert t >= 0 and len(calls) >= 4
    threads = torch.get_num_threads()
    result = benchmark_attention([64, 128, 256], repeats=1, exact_up_to=128, poly_threads=1)
    assert torch.get_num_threads() == threads and result["poly_threads"] == 1
    rows = result["rows"]
    assert [r["n"] for r in rows] == [64, 128, 256]
    assert rows[2]["exact_s"] is None and rows[2]["speedup"] is None
    assert all(r["poly_s"] > 0 for r in rows)
    assert all(r["error"] <= r["bound"] for r in rows)
    assert all(r["error"] < 1e-3 for r in rows)
    assert result["rank"] == math.comb(8 + 2, 2) and result["slope_poly"] is not None


def test_crossover_interpolates_on_log_axes():
    rows = [
        {"n": 100, "speedup": 0.5},
        {"n": 400, "speedup": 2.0},
        {"n": 1600, "speedup": None},
    ]
    assert crossover_size({"rows": rows}) == pytest.approx(200.0)
    assert crossover_size({"rows": [{"n": 8, "speedup": 3.0}]}) == 8.0
    assert crossover_size({"rows": [{"n": 8, "speedup": 0.3}]}) is None


def test_figures_are_returned():
    bounds = [0.5, 1.0, 1.5]
    errors = torch.tensor([[1e-4, 1e-3, 1e-2], [1e-6, 1e-5, 1e-3]])
    assert isinstance(
        plot_error_vs_bound(bounds, errors, [2, 4], errors * 3, threshold=1.2), Figure
    )
    result = benchmark_attention([32, 64], repeats=1, error=False)
    assert isinstance(plot_runtime(result), Figure)
    masses = torch.rand(2, 3, 4)
    assert isinstance(plot_planted_mass([64, 128], [0.5, 1.0, 1.5], masses), Figure)
    gadget = {64: nn_gadget(64, [1.0, 3.0], queries=4)}
    assert isinstance(plot_gadget(gadget), Figure)
    feas = [largest_feasible_bound(n, d=4, grid=[0.5, 1.0]) for n in (64, 128)]
    assert isinstance(plot_feasible_bound(feas), Figure)
