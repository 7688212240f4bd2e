"""The phase-transition experiments, the timing engine and the figures of the efficiency part.

No timing assertions: timings are only checked for shape and sign.
"""

from __future__ import annotations

import math

import pytest
import torch
from matplotlib.figure import Figure

from ptheory.efficiency import (
    benchmark_attention,
    crossover_size,
    decode_benchmark,
    degree_profile,
    error_time_curve,
    interleaved_times,
    largest_feasible_bound,
    median_time,
    nn_gadget,
    planted_mass,
    plot_certificate,
    plot_certificate_panels,
    plot_decode,
    plot_error_time,
    plot_error_vs_bound,
    plot_feasible_bound,
    plot_gadget,
    plot_planted_mass,
    plot_speedup,
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
    assert high.poly_rank <= math.sqrt(n) and high.poly_rank == math.comb(
        64 + high.poly_degree, high.poly_degree
    )
    assert high.poly_accuracy <= 0.75  # what a rank <= sqrt(n) polynomial reads off: chance
    assert math.isnan(nn_gadget(n, [1.0], poly=False)[0].poly_accuracy)


def test_largest_feasible_bound_is_sharp_with_a_sub_quadratic_budget():
    # rank <= sqrt(n): time O(n^1.5 d). At B a little above the limit the two-cluster input
    # breaks the target, and no polynomial of the affordable degree can meet it
    results = [largest_feasible_bound(n, d=8, target=1e-2) for n in (2**8, 2**12, 2**16)]
    for f in results:
        assert f.max_rank <= math.sqrt(f.n) < math.comb(8 + f.max_degree + 1, f.max_degree + 1)
        assert 0 < f.proved < math.sqrt(math.log(f.n))
        assert f.attained > f.target and f.lower > f.target
        assert f.ratio == pytest.approx(f.proved / math.sqrt(math.log(f.n)))
    assert [f.proved for f in results] == sorted(f.proved for f in results)
    none = largest_feasible_bound(4, d=6)  # sqrt(4) = 2 < 7 = C(7, 1): degree 0 only
    assert none.max_degree == 0 and none.max_rank == 1
    # in dimension 2 the same budget passes sqrt(ln n) (float64 rounding included)
    low = largest_feasible_bound(2**15, d=2, target=1e-2)
    assert low.proved > math.sqrt(math.log(2**15))


def test_median_time_and_benchmark_rows():
    calls = []
    t = median_time(lambda: calls.append(1), 3)
    assert t >= 0 and len(calls) == 4  # one warm-up, three timed
    order = []
    times = interleaved_times({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, 2)
    assert set(times) == {"a", "b"} and order[:2] == ["a", "b"]  # the warm-up, in order
    assert sorted(order[2:4]) == sorted(order[4:6]) == ["a", "b"]  # then one call a round
    threads = torch.get_num_threads()
    result = benchmark_attention(
        [64, 256], entry_bounds=[0.5, 2.0], threads=[1], runs=1, error_rows=32
    )
    assert torch.get_num_threads() == threads
    rows = {(r["n"], r["config"]): r for r in result["rows"]}
    assert set(rows) == {(64, "B=0.5"), (64, "B=2"), (256, "B=0.5"), (256, "B=2")}
    for r in rows.values():
        assert r["threads"] == 1 and r["seconds"]["exact"] > 0
        if r["affordable"]:
            assert r["guaranteed"]
            assert r["errors"]["random"]["poly"]["abs"] <= r["proved_fp32"] <= r["proved"] <= 1e-3
            assert r["errors"]["correlated"]["poly"]["abs"] <= r["proved"]
            # the two-cluster input reaches almost all of the exact-arithmetic certificate
            assert 0.9 <= r["adversary"]["share"] <= 1.0
            assert r["mean_v"]["random"]["rel"] == 1.0
            assert r["legacy_degree"] >= r["degree"] and r["legacy_ratio"] > 0
            # the same two clusters in float32 stay within the certified float32 bound
            assert r["adversary"]["error"] * 0.99 <= r["adversary"]["error_fp32"] <= r["proved"]
            assert "apriori" not in r["seconds"] and r["apriori_ratio"] is None
    assert not rows[(64, "B=2")]["affordable"] and rows[(64, "B=2")]["speedup"] is None
    plan = select_degree(0.5, 1e-3, 8, method="best", dtype=torch.float32, n=256)
    assert rows[(256, "B=0.5")]["degree"] == plan.degree
    assert rows[(256, "B=0.5")]["method"] == plan.method


def test_benchmark_times_the_apriori_degree_in_the_current_kernel(monkeypatch):
    import ptheory.efficiency.timing as timing

    called = []
    real = timing.poly_attention

    def spy(Q, K, V, degree, method="taylor", **kw):
        called.append((degree, method))
        return real(Q, K, V, degree, method, **kw)

    monkeypatch.setattr(timing, "poly_attention", spy)
    result = benchmark_attention(
        [256],
        entry_bounds=[0.5],
        threads=[1],
        runs=1,
        legacy=False,
        apriori=True,
        errors=False,
        baselines=False,
    )
    (r,) = result["rows"]
    assert set(r["seconds"]) == {"exact", "poly", "apriori"} and r["apriori_ratio"] > 0
    assert r["legacy_ratio"] is None
    # the a-priori degree, with the Chebyshev interpolant, in the current kernel
    assert (r["legacy_degree"], "chebyshev") in called and r["legacy_degree"] > r["degree"]
    assert (r["degree"], r["method"]) in called


def test_decode_benchmark_and_error_time_curve():
    res = decode_benchmark([64, 256], steps=4, runs=1)
    assert [r["n"] for r in res["rows"]] == [64, 256]
    for r in res["rows"]:
        assert r["cache_s"] > 0 and r["state_s"] > 0 and r["error"] <= 1e-3
        assert r["state_numbers"] == math.comb(8 + res["degree"], res["degree"]) * 9
    curve = error_time_curve(256, 1.0, degrees=(1, 3), ranks=(16,), runs=1, error_rows=64)
    assert [e["size"] for e in curve["curves"]["poly"]] == [1, 3]
    for e in curve["curves"]["poly"]:
        assert e["error"] <= e["certified"] + 1e-6  # float32 rounding on top of the bound
    assert curve["curves"]["poly"][1]["error"] < curve["curves"]["poly"][0]["error"]
    assert {"performer", "elu", "nystrom"} <= set(curve["curves"])


def test_crossover_interpolates_on_log_axes():
    def row(n, s, config="B=1"):
        return {"n": n, "speedup": s, "config": config, "threads": 1}

    rows = [row(100, 0.5), row(400, 2.0), row(1600, None), row(100, 9.0, "B=2")]
    assert crossover_size({"rows": rows}) == pytest.approx(200.0)
    # faster at 400 but slower again at 1600: it does not pay from 400 on
    back = [row(100, 0.5), row(400, 2.0), row(1600, 0.8)]
    assert crossover_size({"rows": back}) is None
    dip = [row(100, 2.0), row(400, 0.5), row(1600, 2.0)]
    assert crossover_size({"rows": dip}) == pytest.approx(800.0)
    assert crossover_size({"rows": rows}, config="B=2") == 100.0
    assert crossover_size({"rows": [row(8, 3.0)]}) == 8.0
    assert crossover_size({"rows": [row(8, 0.3)]}) is None


def test_figures_are_returned():
    bounds = [0.5, 1.0, 1.5]
    errors = torch.tensor([[1e-4, 1e-3, 1e-2], [1e-6, 1e-5, 1e-3]])
    assert isinstance(
        plot_error_vs_bound(bounds, errors, [2, 4], errors * 3, threshold=1.2), Figure
    )
    result = benchmark_attention([128, 256], threads=[1], runs=1, errors=False)
    assert isinstance(plot_speedup(result), Figure)
    assert isinstance(plot_certificate(degree_profile(1.0, [1, 2, 3], n=256), 1e-3), Figure)
    profiles = {B: degree_profile(B, [1, 2, 3], n=256) for B in (0.5, 1.0)}
    fig = plot_certificate_panels(profiles, 1e-3)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["entry bound B = 0.5", "entry bound B = 1"]
    assert all(ax.get_legend() is None for ax in axes)
    (legend,) = fig.legends  # one legend for both panels, each label once
    labels = [t.get_text() for t in legend.get_texts()]
    assert len(labels) == len(set(labels)) and "target 0.001" in labels
    assert isinstance(plot_decode(decode_benchmark([32, 64], steps=2, runs=1)), Figure)
    curve = error_time_curve(128, 0.5, degrees=(1, 2), ranks=(8,), runs=1, error_rows=16)
    assert isinstance(plot_error_time(curve, 1e-3), Figure)
    masses = torch.rand(2, 3, 4)
    assert isinstance(plot_planted_mass([64, 128], [0.5, 1.0, 1.5], masses), Figure)
    gadget = {64: nn_gadget(64, [1.0, 3.0], queries=4)}
    assert isinstance(plot_gadget(gadget), Figure)
    feas = {4: [largest_feasible_bound(n, d=4) for n in (64, 128)]}
    assert isinstance(plot_feasible_bound(feas), Figure)
