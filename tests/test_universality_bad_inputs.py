"""Bad-input sweep of ptheory.universality: every public callable names what it refuses."""

from __future__ import annotations

import functools

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

import ptheory.universality as U

from badinput import Case, case_params, check_case, public_callables

F64 = torch.float64


@functools.cache
def small():
    return U.construct(1, 1, 0.5)


def t(*shape, fill=0.5):
    return torch.full(shape, fill, dtype=F64)


CASES = [
    Case("construct", "d zero", lambda: U.construct(0, 1, 0.5), ValueError, "d"),
    Case("cached_construct", "d zero", lambda: U.cached_construct(0, 1, 0.5), ValueError, "d"),
    Case("construct", "L float", lambda: U.construct(1, 1.0, 0.5), TypeError, "L"),
    Case("construct", "delta not 1/n", lambda: U.construct(1, 1, 0.3), ValueError, "delta"),
    Case("construct", "delta too big", lambda: U.construct(1, 1, 0.75), ValueError, "delta"),
    Case("construct", "delta string", lambda: U.construct(1, 1, "1/2"), TypeError, "delta"),
    Case(
        "construct",
        "min_separation",
        lambda: U.construct(1, 1, 0.5, min_separation=-1),
        ValueError,
        "min_separation",
    ),
    Case(
        "construct",
        "value_map",
        lambda: U.construct(1, 1, 0.5, value_map="x"),
        ValueError,
        "value_map",
    ),
    Case(
        "construct",
        "depth zero",
        lambda: U.construct(1, 1, 0.5, value_map="deep", depth=0),
        ValueError,
        "depth",
    ),
    Case("construct", "rank", lambda: U.construct(1, 1, 0.5, rank="two"), ValueError, "rank"),
    Case(
        "construct",
        "beta negative",
        lambda: U.construct(1, 1, 0.5, beta=-1.0),
        ValueError,
        "beta",
    ),
    Case(
        "construct",
        "beta too small",
        lambda: U.construct(1, 1, 0.5, beta=0.0),
        ValueError,
        "beta",
    ),
    Case("construct", "eta too big", lambda: U.construct(1, 1, 0.5, eta=0.5), ValueError, "eta"),
    Case("construct", "too large", lambda: U.construct(2, 2, 0.5), ValueError, "delta"),
    Case(
        "UniversalModel",
        "forward P shape",
        lambda: small().forward(t(1, 3), t(2, 1, 1)),
        ValueError,
        "P",
    ),
    Case(
        "UniversalModel",
        "forward P 4-d",
        lambda: small().forward(t(1, 1, 1, 2), t(2, 1, 1)),
        ValueError,
        "P",
    ),
    Case(
        "UniversalModel",
        "forward X shape",
        lambda: small().forward(t(1, 2), t(2, 2, 1)),
        ValueError,
        "X",
    ),
    Case(
        "UniversalModel",
        "forward X list",
        lambda: small().forward(t(1, 2), [[0.5]]),
        TypeError,
        "X",
    ),
    Case(
        "UniversalModel",
        "forward X nan",
        lambda: small().forward(t(1, 2), t(1, 1, 1) / 0 * 0),
        ValueError,
        "X",
    ),
    Case(
        "UniversalModel",
        "prompt_for not callable",
        lambda: small().prompt_for(3),
        TypeError,
        "target",
    ),
    Case(
        "UniversalModel",
        "prompt_for out of range",
        lambda: small().prompt_for(lambda X: X + 2),
        ValueError,
        r"target\(X\)",
    ),
    Case(
        "UniversalModel",
        "prompt_for wrong shape",
        lambda: small().prompt_for(lambda X: X[..., :0]),
        ValueError,
        r"target\(X\)",
    ),
    Case(
        "UniversalModel",
        "error_bound negative",
        lambda: small().error_bound(-1.0),
        ValueError,
        "lipschitz",
    ),
    Case("UniversalModel", "tuned P shape", lambda: small().tuned(t(2, 2)), ValueError, "P"),
    Case("dimensions", "d bool", lambda: U.dimensions(True, 1, 0.5), TypeError, "d"),
    Case(
        "dimensions",
        "value_map",
        lambda: U.dimensions(1, 1, 0.5, value_map="tall"),
        ValueError,
        "value_map",
    ),
    Case("dimensions", "rank", lambda: U.dimensions(1, 1, 0.5, rank=1), ValueError, "rank"),
    Case(
        "dimensions",
        "depth too big",
        lambda: U.dimensions(1, 1, 0.5, value_map="deep", depth=10**6),
        ValueError,
        "depth",
    ),
    Case("default_beta", "rho zero", lambda: U.default_beta(1, 1, 0.5, rho=0.0), ValueError, "rho"),
    Case("default_beta", "delta zero", lambda: U.default_beta(1, 1, 0.0), ValueError, "delta"),
    Case(
        "check_enumerable",
        "too many",
        lambda: U.check_enumerable(U.dimensions(2, 2, 0.5)),
        ValueError,
        "delta",
    ),
    Case(
        "context_codes",
        "not a front",
        lambda: U.context_codes(small().model, 1, 1, 0.5),
        TypeError,
        "front",
    ),
    Case(
        "context_codes",
        "too many",
        lambda: U.context_codes(small().model, 2, 2, 0.5),
        ValueError,
        "delta",
    ),
    Case("all_prompts", "too many", lambda: U.all_prompts(2, 2, 0.5), ValueError, "delta"),
    Case("all_prompts", "L zero", lambda: U.all_prompts(1, 0, 0.5), ValueError, "L"),
    Case(
        "contextual_codes",
        "front",
        lambda: U.contextual_codes(3, t(1, 1, 2), t(2, 1, 1)),
        TypeError,
        "front",
    ),
    Case(
        "contextual_codes",
        "prompts 2-d",
        lambda: U.contextual_codes(small().model, t(1, 2), t(2, 1, 1)),
        ValueError,
        "prompts",
    ),
    Case(
        "contextual_separation",
        "beta negative",
        lambda: U.contextual_separation(1, 1, 0.5, -1.0),
        ValueError,
        "beta",
    ),
    Case(
        "contextual_separation",
        "rank",
        lambda: U.contextual_separation(1, 1, 0.5, 1.0, rank="low"),
        ValueError,
        "rank",
    ),
    Case(
        "contextual_separation",
        "tol",
        lambda: U.contextual_separation(1, 1, 0.5, 1.0, tol=-1),
        ValueError,
        "tol",
    ),
    Case(
        "Separation",
        "injective tol",
        lambda: U.Separation(1.0, 1.0, 1.0, 2, 0).injective(-1.0),
        ValueError,
        "tol",
    ),
    Case(
        "error_sweep", "targets empty", lambda: U.error_sweep({}, 1, 1, [0.5]), TypeError, "targets"
    ),
    Case(
        "error_sweep",
        "p zero",
        lambda: U.error_sweep({"a": (None, 1.0)}, 1, 1, [0.5], p=0),
        ValueError,
        "p",
    ),
    Case("cost_rows", "d zero", lambda: U.cost_rows(0, 1, [0.5]), ValueError, "d"),
    Case("cost_rows", "delta", lambda: U.cost_rows(1, 1, [0.7]), ValueError, "delta"),
    Case("class_size", "d zero", lambda: U.class_size(0, 1, 0.5), ValueError, "d"),
    Case("log10_class_size", "delta", lambda: U.log10_class_size(1, 1, 0.4), ValueError, "delta"),
    Case("grid_sequences", "L negative", lambda: U.grid_sequences(1, -1, 0.5), ValueError, "L"),
    Case("levels", "delta nan", lambda: U.levels(float("nan")), ValueError, "delta"),
    Case("quantize", "X list", lambda: U.quantize([0.5], 0.5), TypeError, "X"),
    Case("quantize", "X inf", lambda: U.quantize(t(2) / 0, 0.5), ValueError, "X"),
    Case(
        "quantization_bound",
        "p inf",
        lambda: U.quantization_bound(1.0, 1, 1, 0.5, float("inf")),
        ValueError,
        "p",
    ),
    Case(
        "quantization_bound",
        "lipschitz",
        lambda: U.quantization_bound("1", 1, 1, 0.5),
        TypeError,
        "lipschitz",
    ),
    Case(
        "quantized_target",
        "target",
        lambda: U.quantized_target(None, 1, 1, 0.5),
        TypeError,
        "target",
    ),
    Case(
        "quantized_target",
        "X shape",
        lambda: U.quantized_target(lambda X: X * 0, 1, 1, 0.5)(t(2, 1, 3)),
        ValueError,
        "X",
    ),
    Case(
        "target_table",
        "nan values",
        lambda: U.target_table(lambda X: X * float("nan"), 1, 1, 0.5),
        ValueError,
        r"target\(X\)",
    ),
    Case(
        "plot_error_vs_delta",
        "deltas",
        lambda: U.plot_error_vs_delta([], {"a": []}, {}),
        ValueError,
        "deltas",
    ),
    Case(
        "plot_error_vs_delta",
        "errors length",
        lambda: U.plot_error_vs_delta([0.5], {"a": [1, 2]}, {}),
        ValueError,
        r"errors\[",
    ),
    Case(
        "plot_error_vs_delta",
        "quantized deltas",
        lambda: U.plot_error_vs_delta([0.5], {"a": [1]}, {}, quantized=([], {"a": []})),
        ValueError,
        "quantized deltas",
    ),
    Case(
        "plot_width_depth",
        "lengths",
        lambda: U.plot_width_depth([1, 2], [1], [1]),
        ValueError,
        "depths",
    ),
    Case(
        "plot_class_size", "ax", lambda: U.plot_class_size([2], {"a": [1]}, ax=3), TypeError, "ax"
    ),
    Case("plot_class_size", "sizes", lambda: U.plot_class_size([2], {}), TypeError, "digits"),
    Case(
        "plot_precision", "n_codes", lambda: U.plot_precision([], {"a": []}), ValueError, "n_codes"
    ),
    Case(
        "plot_precision",
        "separations",
        lambda: U.plot_precision([8], {"a": [1, 2]}),
        ValueError,
        r"separations\[",
    ),
    Case(
        "plot_pipeline",
        "d = 2",
        lambda: U.plot_pipeline(U.construct(2, 1, 0.5)),
        ValueError,
        "model",
    ),
    Case("plot_pipeline", "not a model", lambda: U.plot_pipeline(3), ValueError, "model"),
    Case("Agreement", "passes tol", lambda: U.Agreement(0.0, 1, 1).passes(-1.0), ValueError, "tol"),
    Case("on_ramp", "eta zero", lambda: U.on_ramp(t(2, 1, 1), 0.5, 0.0), ValueError, "eta"),
    Case("on_ramp", "X list", lambda: U.on_ramp([[0.5]], 0.5, 1e-7), TypeError, "X"),
    Case("on_ramp", "X scalar", lambda: U.on_ramp(torch.tensor(0.5), 0.5, 1e-7), ValueError, "X"),
    Case(
        "off_ramp_agreement",
        "model",
        lambda: U.off_ramp_agreement(3, t(1, 2), lambda X: X),
        TypeError,
        "model",
    ),
    Case(
        "off_ramp_agreement",
        "target",
        lambda: U.off_ramp_agreement(small(), t(1, 2), 3),
        TypeError,
        "target",
    ),
    Case(
        "off_ramp_agreement",
        "n_samples",
        lambda: U.off_ramp_agreement(small(), t(1, 2), lambda X: X, n_samples=0),
        ValueError,
        "n_samples",
    ),
    Case(
        "off_ramp_agreement",
        "P shape",
        lambda: U.off_ramp_agreement(small(), t(1, 3), lambda X: X),
        ValueError,
        "P",
    ),
    Case("front_model", "dims", lambda: U.front_model(3), TypeError, "dims"),
    Case(
        "front_model",
        "rank",
        lambda: U.front_model(U.dimensions(1, 1, 0.5), rank="x"),
        ValueError,
        "rank",
    ),
    Case("grid_codes", "rank", lambda: U.grid_codes(1, 1, 0.5, rank="x"), ValueError, "rank"),
    Case("grid_codes", "beta", lambda: U.grid_codes(1, 1, 0.5, beta=-1.0), ValueError, "beta"),
    Case("ff2_table", "delta", lambda: U.ff2_table(1, 1, 0.3), ValueError, "delta"),
    Case("exact_codes", "d zero", lambda: U.exact_codes(0, 1, 0.5), ValueError, "d"),
    Case("exact_codes", "too many", lambda: U.exact_codes(1, 1, 1 / 8), ValueError, "delta"),
    Case("poly_codes", "degree", lambda: U.poly_codes(1, 1, 0.5, -1), ValueError, "degree"),
    Case("exact_codes", "beta", lambda: U.exact_codes(1, 1, 0.5, beta=-2.0), ValueError, "beta"),
    Case("exact_codes", "beta list", lambda: U.exact_codes(1, 1, 0.5, beta=[1]), TypeError, "beta"),
    Case("taylor_order", "delta", lambda: U.taylor_order(1, 1, 0.3), ValueError, "delta"),
    Case(
        "taylor_order",
        "max_order",
        lambda: U.taylor_order(1, 1, 0.5, max_order=0),
        ValueError,
        "max_order",
    ),
    Case(
        "small_scale_slope",
        "factors order",
        lambda: U.small_scale_slope(1, 1, 0.5, (1e-3, 1e-4)),
        ValueError,
        "factors",
    ),
    Case(
        "small_scale_slope",
        "factors zero",
        lambda: U.small_scale_slope(1, 1, 0.5, (0.0, 1e-4)),
        ValueError,
        "factors",
    ),
    Case(
        "collision_sweep",
        "one factor",
        lambda: U.collision_sweep(1, 1, 0.5, [1.0]),
        TypeError,
        "factors",
    ),
    Case(
        "collision_sweep",
        "factors down",
        lambda: U.collision_sweep(1, 1, 0.5, [2.0, 1.0]),
        ValueError,
        "factors",
    ),
    Case(
        "nearest_collisions",
        "window",
        lambda: U.nearest_collisions(1, 1, 0.5, window=0.9),
        ValueError,
        "window",
    ),
    Case(
        "nearest_collisions",
        "digits",
        lambda: U.nearest_collisions(1, 1, 0.5, digits=3),
        ValueError,
        "digits",
    ),
    Case("slope_bound", "delta", lambda: U.slope_bound(1, 1, 0.3), ValueError, "delta"),
    Case("slope_bound", "d", lambda: U.slope_bound(0, 1, 0.5), ValueError, "d"),
    Case("model_code_error", "L", lambda: U.model_code_error(1, 0, 0.5), ValueError, "L"),
    Case(
        "model_code_error",
        "too large",
        lambda: U.model_code_error(1, 1, 1 / 8),
        ValueError,
        "delta",
    ),
    Case(
        "plot_scale_sweep", "not a sweep", lambda: U.plot_scale_sweep({"a": 1}), TypeError, "sweep"
    ),
    Case(
        "separation_by_precision",
        "L float",
        lambda: U.separation_by_precision(1, 1.5, 0.5),
        TypeError,
        "L",
    ),
    Case(
        "PrecisionRow",
        "reliable which",
        lambda: U.PrecisionRow(1, 1, 0.5, 8, 3, 0.1, 0.1, 0.1, True, True).reliable("fp16"),
        ValueError,
        "which",
    ),
    Case("triangle_wave", "C zero", lambda: U.triangle_wave(0.0), ValueError, "lipschitz"),
    Case("sine_wave", "C string", lambda: U.sine_wave("1"), TypeError, "lipschitz"),
    Case(
        "quantized_sweep",
        "targets",
        lambda: U.quantized_sweep({}, 1, 1, [0.5]),
        TypeError,
        "targets",
    ),
    Case("resolution_for", "eps zero", lambda: U.resolution_for(0, 1.0, 1, 1), ValueError, "eps"),
    Case(
        "resolution_for",
        "lipschitz negative",
        lambda: U.resolution_for(0.1, -1.0, 1, 1),
        ValueError,
        "lipschitz",
    ),
    Case("resolution_for", "p", lambda: U.resolution_for(0.1, 1.0, 1, 1, p=0.5), ValueError, "p"),
    Case("construction_size", "d", lambda: U.construction_size(0.1, 1.0, 0, 1), ValueError, "d"),
    Case(
        "construction_size", "eps str", lambda: U.construction_size("a", 1, 1, 1), TypeError, "eps"
    ),
    Case("sphere_polynomial_dim", "n", lambda: U.sphere_polynomial_dim(-1, 2), ValueError, "n"),
    Case("sphere_polynomial_dim", "m", lambda: U.sphere_polynomial_dim(2, 0), ValueError, "m"),
    Case(
        "sphere_polynomial_dim", "m float", lambda: U.sphere_polynomial_dim(2, 1.5), TypeError, "m"
    ),
    Case(
        "jackson_count", "lipschitz", lambda: U.jackson_count(0.1, 0.0, 2), ValueError, "lipschitz"
    ),
    Case("jackson_count", "eps", lambda: U.jackson_count(-0.1, 1.0, 2), ValueError, "eps"),
    Case(
        "max_loglog_slope", "short", lambda: U.max_loglog_slope([2], [1.0]), ValueError, "inv_eps"
    ),
    Case(
        "max_loglog_slope",
        "decreasing",
        lambda: U.max_loglog_slope([4, 2], [1.0, 2.0]),
        ValueError,
        "inv_eps",
    ),
    Case("max_loglog_slope", "str", lambda: U.max_loglog_slope("ab", [1.0]), TypeError, "inv_eps"),
    Case(
        "size_comparison", "inv_eps", lambda: U.size_comparison([], [(1, 1)]), TypeError, "inv_eps"
    ),
    Case("size_comparison", "shapes", lambda: U.size_comparison([2], [1]), TypeError, "shapes"),
    Case("size_comparison", "eps", lambda: U.size_comparison([-2], [(1, 1)]), ValueError, "eps"),
    Case(
        "plot_size_comparison",
        "book empty",
        lambda: U.plot_size_comparison([2, 4], {}, {"p": [1, 2]}, {"j": [1, 2]}),
        TypeError,
        "codes",
    ),
    Case(
        "plot_size_comparison",
        "jackson length",
        lambda: U.plot_size_comparison([2, 4], {"b": [1, 2]}, {"p": [1, 2]}, {"j": [1]}),
        ValueError,
        "jackson",
    ),
]


@pytest.mark.parametrize("case", case_params(CASES))
def test_bad_input(case: Case) -> None:
    check_case(case)


def test_sweep_covers_every_public_callable():
    missing = public_callables(U) - {c.target for c in CASES}
    assert not missing, f"no bad-input case for {sorted(missing)}"


def test_case_ids_are_unique():
    ids = [(c.target, c.desc) for c in CASES]
    assert len(ids) == len(set(ids))
